"""Kill-anywhere recovery: SIGKILL `bench`, `data sample`, `score -o` and `merge layer-swap` at random points
(before any work, after some or most of it, inside a log write), rerun the same command, and check that the
final outputs equal an uninterrupted run's with the same seed, with no temporaries or locks left behind.

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

from _killharness import Outcome, kill_at, kill_points, langlock, leftovers, report, tree_bytes

from tiny_models import make_config, make_model_dir, make_tokenizer

FAST = {"bench": 1, "data-sample": 2, "score": 2, "merge-layer-swap": 2}
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
    return {"root": root, "tiny": tiny, "experts": experts, "prompts": prompts, "records": records}


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
    raise KeyError(name)


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
    outcomes = []
    for i, point in enumerate(kill_points(random.Random(f"{name}:{seed}"), n_points, wall, total)):
        work = tmp_path / f"k{i}"
        work.mkdir()
        out = work / rel
        killed = kill_at(argv(out), work, point, work / watch_rel if watch_rel else None)
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


@pytest.mark.parametrize("name", list(FAST))
def test_killed_runs_recover_exactly(name, assets, tmp_path):
    outcomes = exercise(name, assets, tmp_path, FAST[name], seed=0)
    bad = [o for o in outcomes if not o.exact]
    assert not bad, bad


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FAST))
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
