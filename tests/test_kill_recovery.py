"""Kill-anywhere recovery: SIGKILL `bench`, `data sample`, `score -o`, `merge layer-swap`, `train tlpo` and `compare` at
random points (before any work, after some or most of it, inside a log write or a checkpoint save), rerun the
same command, and check that the final outputs equal an uninterrupted run's with the same seed, with no
temporaries or locks left behind.

The default suite tries a few points per command (`FAST`); the slow variant (`-m slow`) tries
``LANGLOCK_KILL_POINTS`` (default 8) per command. Set ``LANGLOCK_KILL_REPORT=FILE`` to collect the figures.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path

import pytest

from _killharness import (
    TORN,
    KillPoint,
    Outcome,
    kill_at,
    kill_points,
    langlock,
    leftovers,
    report,
    tree_bytes,
)

from tiny_models import make_config, make_model_dir, make_tokenizer

FAST = {"bench": 1, "data-sample": 2, "score": 2, "merge-layer-swap": 2, "train-tlpo": 1, "compare": 1}
COMMANDS = ["bench", "data-sample", "score", "merge-layer-swap", "compare"]  # train-tlpo: exercise_train
SLOW_POINTS = int(os.environ.get("LANGLOCK_KILL_POINTS", "8"))


@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("kill-assets")
    tiny = make_model_dir(root / "tiny")
    experts = []
    for seed in (1, 2):  # two 4-layer models of one architecture, for layer swapping
        import torch
        from transformers import LlamaForCausalLM

        torch.manual_seed(seed)
        tok = make_tokenizer()
        model = LlamaForCausalLM(make_config(vocab_size=len(tok), layers=4))
        path = root / f"expert{seed}"
        model.save_pretrained(path)
        tok.save_pretrained(path)
        experts.append(path)
    prompts = root / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"p{i}", "prompt": text, "language": "ko"}, ensure_ascii=False) + "\n"
                               for i, text in enumerate(["한국어로 인사해 주세요.", "서울은 어떤 도시인가요?",
                                                         "좋아하는 음식을 알려 주세요.", "오늘 날씨는 어때요?"])),
                       encoding="utf-8")
    records = root / "records.jsonl"
    rng = random.Random(0)
    words = ["hello", "안녕하세요", "world", "세계", "Guten", "Tag", "你好", "merci"]
    records.write_text("".join(json.dumps({"language": rng.choice(["ko", "en", "de"]), "source": f"s{i % 3}",
                                           "completion": " ".join(rng.choice(words) for _ in range(30))},
                                          ensure_ascii=False) + "\n" for i in range(400)), encoding="utf-8")
    from tiny_models import make_adapter_dir

    adapter_dir = root / "adapter"
    make_adapter_dir(tiny, adapter_dir)
    compare_cfg = root / "compare.yaml"
    compare_cfg.write_text(json.dumps({  # JSON is YAML
        "model": str(tiny), "language": "ko", "output_dir": str(root / "unused"), "methods": ["base", "lock", "tlpo"],
        "seeds": [0, 1], "checkpoints": {"tlpo": str(adapter_dir)}, "eval_suite": "builtin-confusion",
        "eval_limit": 2, "eval_max_new_tokens": 8, "retention": False, "batch_size": 1}), encoding="utf-8")
    return {"root": root, "tiny": tiny, "experts": experts, "prompts": prompts, "records": records,
            "compare": compare_cfg}


def gen_log(path: Path) -> dict:
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return {r["key"]: r["completion"] for r in rows}


def without_run(obj):
    """JSON without its "run" blocks (the run's timings, command line and generator description)."""
    if isinstance(obj, dict):
        return {k: without_run(v) for k, v in obj.items() if k != "run"}
    if isinstance(obj, list):
        return [without_run(v) for v in obj]
    return obj


def scored(folder: Path) -> dict:
    """A profile's scored files, the JSON ones parsed and without their "run" blocks."""
    return {name: without_run(json.loads(data)) if name.endswith(".json") else data
            for name, data in tree_bytes(folder).items()}


# Each command: (argv for an output path, the output path inside a work dir, the watched log, a snapshot of the
# final outputs). Snapshots leave out what legitimately differs between runs (timings, the command line).
def command(name: str, a: dict):
    if name == "bench":
        def argv(out):
            return ["bench", "--model", str(a["tiny"]), "--suite", "builtin-confusion", "--langs", "ko,de",
                    "--limit", "2", "--batch-size", "1", "--max-new-tokens", "12", "--temperature", "0.7",
                    "--top-p", "0.9", "--seed", "11", "--no-progress", "-o", str(out)]

        def snap(out):
            res = json.loads((out / "results.json").read_text(encoding="utf-8"))
            return {"log": gen_log(out / "generations.jsonl"), "profiles": res["profiles"],
                    "metrics": (out / "metrics.csv").read_text(encoding="utf-8"),
                    **{prof: scored(out / prof) for prof in ("lcb", "tlpo")}}
        return argv, "run", "run/generations.jsonl", snap
    if name == "data-sample":
        def argv(out):
            return ["data", "sample", "--prompts", str(a["prompts"]), "--model", str(a["tiny"]), "-n", "2",
                    "--max-new-tokens", "8", "--seed", "3", "-o", str(out)]

        def snap(out):
            return {"samples": out.read_bytes(), "meta": out.with_name(out.name + ".meta.json").read_bytes()}
        return argv, "samples.jsonl", "samples.jsonl", snap
    if name == "score":
        def argv(out):
            return ["score", str(a["records"]), "--profile", "tlpo", "--format", "tsv", "-o", str(out)]
        return argv, "scored", None, tree_bytes
    if name == "merge-layer-swap":
        def argv(out):
            return ["merge", "layer-swap", "--task-expert", str(a["experts"][0]), "--lang-expert",
                    str(a["experts"][1]), "-b", "1", "-u", "1", "--tb", "1", str(out)]
        def snap(out):
            import yaml

            files = tree_bytes(out)
            resolved = yaml.safe_load(files.pop("langlock_merge.yaml"))
            resolved.pop("output")  # the output path itself, which differs between the runs compared
            return {**files, "langlock_merge.yaml": resolved}
        return argv, "merged", None, snap
    if name == "compare":  # evaluations of base, lock and a given adapter over two seeds (no training)
        def argv(out):
            return ["compare", "--config", str(a["compare"]), "-o", str(out)]

        def snap(out):
            gens = {str(p.relative_to(out)): gen_log(p) for p in sorted(out.rglob("generations.jsonl"))}
            return {"generations": gens, "compare.csv": without_timings_csv(out / "compare.csv"),
                    "compare.md": without_timings_md(out / "compare.md")}
        return argv, "cmp", None, snap
    raise KeyError(name)


TIMING_METRICS = ("train_seconds", "eval_seconds")


def without_timings_csv(path: Path) -> list[str]:
    """compare.csv without its wall-clock rows (train / fit and evaluation seconds differ between any two runs)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [ln for ln in lines if ln.split(",")[1:2] not in ([m] for m in TIMING_METRICS)]


def without_timings_md(path: Path) -> list[str]:
    """compare.md with the wall-clock columns of its tables removed (the header names them "seconds")."""
    out, drop = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            out.append(line)
            drop = None
            continue
        cells = line.split("|")
        if drop is None:
            drop = {i for i, c in enumerate(cells) if "seconds" in c}
        out.append("|".join(c for i, c in enumerate(cells) if i not in drop))
    return out


def progress_of(name: str, out: Path):
    """Finished work units of a run in progress, for kill points of kind "lines" (None: time points only)."""
    if name == "compare":
        return lambda: sum(p.read_bytes().count(b"\n") for p in out.rglob("generations.jsonl"))
    return None


def differing(got, want, prefix="") -> list[str]:
    if isinstance(got, dict) and isinstance(want, dict):
        out = []
        for k in sorted(set(got) | set(want), key=str):
            if got.get(k) != want.get(k):
                out += differing(got.get(k), want.get(k), f"{prefix}{k}/")
        return out
    return [prefix.rstrip("/")]


def exercise(name: str, assets: dict, tmp_path: Path, n_points: int, seed: int) -> list[Outcome]:
    argv, rel, watch_rel, snap = command(name, assets)
    ref_dir = tmp_path / "reference"
    ref_dir.mkdir()
    t0 = time.time()
    langlock(argv(ref_dir / rel), cwd=ref_dir)
    wall = time.time() - t0
    want = snap(ref_dir / rel)
    total = len(gen_log(ref_dir / watch_rel)) if name == "bench" else (
        (ref_dir / watch_rel).read_bytes().count(b"\n") if watch_rel else None)
    if progress_of(name, ref_dir / rel):
        total = progress_of(name, ref_dir / rel)()
    outcomes = []
    for i, point in enumerate(kill_points(random.Random(f"{name}:{seed}"), n_points, wall, total)):
        work = tmp_path / f"k{i}"
        work.mkdir()
        out = work / rel
        killed = kill_at(argv(out), work, point, work / watch_rel if watch_rel else None,
                         progress=progress_of(name, out))
        logs = sorted(out.rglob("generations.jsonl"), key=lambda p: p.stat().st_mtime) if out.is_dir() else []
        if name == "compare" and point.torn and killed and logs:  # a kill inside the latest log's write
            with open(logs[-1], "ab") as fh:
                fh.write(TORN)
        if name == "merge-layer-swap" and out.exists():  # atomic: absent, or complete and equal
            assert snap(out) == want, f"a killed merge left a different {out}"
        langlock(argv(out), cwd=work)  # resume (or redo) with the same command
        got = snap(out)
        left = leftovers(out.parent)
        exact = got == want and not left
        detail = "" if exact else (f"left over: {left}" if left else f"outputs differ: {differing(got, want)}")
        outcome = Outcome(name, point, killed, exact, detail)
        report(outcome)
        outcomes.append(outcome)
        shutil.rmtree(work)
    return outcomes


@pytest.mark.parametrize("name", COMMANDS)
def test_killed_runs_recover_exactly(name, assets, tmp_path):
    outcomes = exercise(name, assets, tmp_path, FAST[name], seed=0)
    bad = [o for o in outcomes if not o.exact]
    assert not bad, bad


@pytest.mark.slow
@pytest.mark.parametrize("name", COMMANDS)
def test_killed_runs_recover_exactly_many_points(name, assets, tmp_path):
    outcomes = exercise(name, assets, tmp_path, SLOW_POINTS, seed=1)
    bad = [o for o in outcomes if not o.exact]
    assert not bad, bad


def test_partial_log_line_is_dropped_not_parsed(tmp_path):
    """The generation log: a torn last line is never data, and appending resumes where the complete lines end."""
    from _killharness import TORN
    from langlock.bench.log import GenerationLog, read_log

    log = tmp_path / "generations.jsonl"
    full = b'{"key": "a", "completion": "x"}\n{"key": "b", "completion": "y"}\n'
    log.write_bytes(full + TORN)
    entries, good = read_log(log)
    assert sorted(entries) == ["a", "b"] and good == len(full)
    glog = GenerationLog(log)
    glog.append({"key": "c", "completion": "z"})
    glog.close()
    assert log.read_bytes() == full + b'{"key": "c", "completion": "z"}\n'


def test_rerunning_a_finished_merge_is_a_no_op_and_other_settings_are_refused(assets, tmp_path, capsys):
    from langlock.cli.main import main

    out = tmp_path / "merged"
    base = ["merge", "layer-swap", "--task-expert", str(assets["experts"][0]), "--lang-expert",
            str(assets["experts"][1]), "-u", "1"]
    assert main([*base, "-b", "1", str(out)]) == 0
    before = tree_bytes(out)
    capsys.readouterr()
    assert main([*base, "-b", "1", str(out)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert tree_bytes(out) == before
    assert main([*base, "-b", "2", str(out)]) == 2  # another merge into the same folder: refused, untouched
    assert "already exists" in capsys.readouterr().err
    assert tree_bytes(out) == before


# ---- train tlpo: checkpoints -----------------------------------------------------------------------------

TRAIN_CONFIG = dict(target_language="ko", ignore_english=False, use_cpu=True, max_steps=4, save_strategy="steps",
                    save_steps=1, seed=5, num_generations=2, per_device_train_batch_size=2,
                    max_completion_length=12, confusion_check_every=4, num_branches=4, branch_length=2,
                    learning_rate=0.01, warmup_steps=0, max_prompts=4, lora_r=2, lora_alpha=4,
                    lora_target_modules=["q_proj"], disable_tqdm=True, report_to="none")


def adapter(out: Path) -> dict:
    from safetensors.torch import load_file

    return {k: v.numpy().tobytes() for k, v in load_file(out / "model" / "adapter_model.safetensors").items()}


def finished_checkpoints(out: Path) -> int:
    from langlock.train.checkpoints import is_complete_checkpoint

    return sum(1 for p in out.glob("checkpoint-*") if is_complete_checkpoint(p)) if out.is_dir() else 0


def exercise_train(assets: dict, tmp_path: Path, n_points: int, seed: int) -> list[Outcome]:
    """Kill `train tlpo` (after 0..3 of its 4 checkpoints, or at a random moment; `torn`: a half-written next
    checkpoint is left, as a kill inside a save leaves it), resume with resume_from_checkpoint=true, compare
    the final adapter with an uninterrupted run's."""
    import yaml

    def config(work: Path) -> Path:
        path = work / "c.yaml"
        path.write_text(yaml.safe_dump({**TRAIN_CONFIG, "model": str(assets["tiny"]), "output_dir": str(work / "out")}),
                        encoding="utf-8")
        return path

    ref = tmp_path / "reference"
    ref.mkdir()
    t0 = time.time()
    langlock(["train", "tlpo", "--config", str(config(ref))], cwd=ref)
    wall = time.time() - t0
    want = adapter(ref / "out")
    rng = random.Random(f"train:{seed}")
    outcomes = []
    for i in range(n_points):
        point = (KillPoint("lines", rng.randrange(0, 4), torn=rng.random() < 0.5) if i % 2 == 0
                 else KillPoint("time", round(rng.uniform(0, wall), 3), torn=rng.random() < 0.5))
        work = tmp_path / f"k{i}"
        work.mkdir()
        out = work / "out"
        argv = ["train", "tlpo", "--config", str(config(work))]
        killed = kill_at(argv, work, point, None, progress=lambda out=out: finished_checkpoints(out))
        if point.torn and killed:
            steps = [int(p.name.split("-")[1]) for p in out.glob("checkpoint-*")] if out.is_dir() else []
            partial = out / f"checkpoint-{max(steps, default=0) + 1}"
            partial.mkdir(parents=True, exist_ok=True)
            (partial / "adapter_config.json").write_text("{}", encoding="utf-8")
            (partial / "trainer_state.json").write_bytes(b'{"global_step": ')  # cut inside the last write
        langlock([*argv, "resume_from_checkpoint=true"], cwd=work)
        got = adapter(out)
        outcome = Outcome("train-tlpo", point, killed, got == want, "" if got == want else "adapter differs")
        report(outcome)
        outcomes.append(outcome)
        shutil.rmtree(work)
    return outcomes


def test_killed_training_resumes_to_the_same_adapter(assets, tmp_path):
    outcomes = exercise_train(assets, tmp_path, FAST["train-tlpo"], seed=0)
    assert not [o for o in outcomes if not o.exact], outcomes


@pytest.mark.slow
def test_killed_training_resumes_to_the_same_adapter_many_points(assets, tmp_path):
    outcomes = exercise_train(assets, tmp_path, SLOW_POINTS, seed=1)
    assert not [o for o in outcomes if not o.exact], outcomes


def test_resume_takes_the_last_complete_checkpoint(tmp_path):
    from langlock.train.checkpoints import last_complete_checkpoint, resolve_resume

    assert last_complete_checkpoint(tmp_path / "none") is None
    for step, state in ((1, '{"global_step": 1}'), (2, '{"global_step": 2}'), (10, '{"global_st')):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(state)
    (tmp_path / "checkpoint-11").mkdir()  # no state at all
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-2")  # 2 < 10 numerically, 10 is torn
    assert resolve_resume(True, tmp_path) == resolve_resume("auto", tmp_path) == str(tmp_path / "checkpoint-2")
    assert resolve_resume(str(tmp_path / "checkpoint-1"), tmp_path) == str(tmp_path / "checkpoint-1")
    assert resolve_resume(None, tmp_path) == str(tmp_path / "checkpoint-2")  # unset: resume by default
    assert resolve_resume(False, tmp_path) is None and resolve_resume(True, tmp_path / "none") is None
