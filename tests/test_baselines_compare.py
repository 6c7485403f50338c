"""`langlock compare` end to end on a tiny model: data reuse, training, evaluation, table + plot, resume."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

pytest.importorskip("torch")

from langlock.compare import CompareConfig, mean_ci, report_only, run_compare  # noqa: E402
from langlock.errors import UsageError  # noqa: E402

from _baseline_fixtures import tiny_model  # noqa: E402

SAMPLES = [
    ("안녕하세요?", ["네, 안녕하세요.", "Hello, nice to meet you."]),
    ("오늘 날씨 어때요?", ["맑고 따뜻해요.", "It is sunny today."]),
    ("좋아하는 음식은?", ["김치찌개를 좋아해요.", "I like kimchi stew."]),
    ("주말 계획은?", ["집에서 쉬어요.", "I will rest at home."]),
]


def _seed_data(out, model: str):
    """Pre-write the data stage (a random tiny model samples no clean Korean), as a resumed run would see it."""
    from langlock.databuild.prompts import prompt_id
    from langlock.databuild.sample import SampleSettings, meta_path

    data = out / "data"
    data.mkdir(parents=True)
    prompts, samples = [], []
    for q, comps in SAMPLES:
        pid = prompt_id(q)
        prompts.append({"id": pid, "prompt": q, "language": "ko"})
        samples.append({"id": pid, "prompt": q, "language": "ko", "completions": comps})
    (data / "prompts.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in prompts))
    (data / "samples.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in samples))
    settings = SampleSettings(model=model, n=2, temperature=0.7, max_new_tokens=16, seed=0)
    meta_path(data / "samples.jsonl").write_text(json.dumps(asdict(settings)))


def _config(tmp_path, methods) -> CompareConfig:
    model = str(tiny_model(tmp_path))
    out = tmp_path / "cmp"
    _seed_data(out, model)
    return CompareConfig(
        model=model, language="ko", output_dir=str(out), methods=methods, seeds=[0, 1],
        samples_per_prompt=2, sample_max_new_tokens=16,
        train={"max_steps": 1, "per_device_train_batch_size": 2, "lora": True, "lora_r": 4, "learning_rate": 1e-2,
               "max_length": 64},
        method_args={"tlpo": {"num_generations": 2, "max_completion_length": 8, "num_branches": 2,
                              "branch_length": 1, "confusion_check_every": 4}},
        eval_limit=1, eval_max_new_tokens=6, retention_limit=1, batch_size=4,
    )


def test_compare_end_to_end_and_resume(tmp_path, monkeypatch):
    cfg = _config(tmp_path, ["base", "lock", "dpo"])
    out = tmp_path / "cmp"
    summary = run_compare(cfg)
    rows = {r["method"]: r for r in summary["rows"]}
    for m in ("base", "lock", "dpo"):
        assert rows[m]["seeds"] == [0, 1]
        for key in ("rpr_en_confusion", "rpr_en_neutral", "lcb_lpr", "lcb_lpr_mono", "lcb_lpr_cross", "en_lpr",
                    "retention_acc", "kl_en", "repetitive_target", "repetitive_en"):
            vals = rows[m][key]["values"]
            assert len(vals) == 2 and all(v is not None for v in vals), (m, key, vals)
    assert all(abs(v) < 1e-6 for v in rows["base"]["kl_en"]["values"])
    assert any(v > 0 for v in rows["dpo"]["kl_en"]["values"])  # training moved the model away from the base
    # the lock is the base model with a decoding that locks Korean requests: English decodes unchanged
    assert rows["lock"]["en_lpr"]["values"] == rows["base"]["en_lpr"]["values"]
    assert all(abs(v) < 1e-6 for v in rows["lock"]["kl_en"]["values"])
    base_gen = (out / "runs/base/seed0/eval/confusion/generations.jsonl").read_text(encoding="utf-8")
    lock_gen = (out / "runs/lock/seed0/eval/confusion/generations.jsonl").read_text(encoding="utf-8")
    by_key = lambda text: {r["key"]: r["completion"] for r in map(json.loads, text.splitlines())}  # noqa: E731
    b, k = by_key(base_gen), by_key(lock_gen)
    assert all(b[key] == k[key] for key in b if "/en/" in key)
    # paired by seed against the base: the per-seed differences of the per-run values
    paired = summary["paired"]["dpo"]["rpr_en_confusion"]
    want = [d - b for d, b in zip(rows["dpo"]["rpr_en_confusion"]["values"], rows["base"]["rpr_en_confusion"]["values"])]
    assert paired["seeds"] == [0, 1] and paired["values"] == pytest.approx(want)
    assert paired["mean"] == pytest.approx(sum(want) / 2)
    assert summary["paired"]["lock"]["en_lpr"]["values"] == [0.0, 0.0]
    for name in ("compare.md", "compare.csv", "results.json", "compare.png"):
        assert (out / name).stat().st_size > 0
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert (saved["schema"], saved["kind"]) == ("langlock.results", "compare")
    md = (out / "compare.md").read_text(encoding="utf-8")
    assert "| dpo |" in md and "±" in md and "| dpo − base, seeds 0, 1 | paired change | per seed |" in md
    # resume: nothing is retrained or re-evaluated
    logs = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/seed*/results.json")}
    evals = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/seed*/eval/results.json")}
    assert len(logs) == 2 and len(evals) == 6

    def boom(*a, **k):
        raise AssertionError("retrained or re-evaluated a finished run")

    monkeypatch.setattr("langlock.train.run", boom)
    monkeypatch.setattr("langlock.bench.runner.run_bench", boom)
    again = run_compare(cfg)
    assert {p: p.stat().st_mtime_ns for p in logs} == logs
    assert {p: p.stat().st_mtime_ns for p in evals} == evals
    assert again["rows"] == summary["rows"] and again["paired"] == summary["paired"]
    assert report_only(cfg)["rows"] == summary["rows"]
    # a compare folder kept without its weights and its data (results/README.md: kept in git across sessions)
    # reports and resumes from its files alone: nothing trained, no data built, the adapter's size from its manifest
    import shutil

    for d in out.glob("runs/*/seed*/model"):
        shutil.rmtree(d)
    shutil.rmtree(out / "data")
    monkeypatch.setattr("langlock.compare.run.build_data", boom)
    kept = run_compare(cfg)
    assert kept["rows"] == summary["rows"] and kept["paired"] == summary["paired"]
    dpo = {r["method"]: r for r in kept["rows"]}["dpo"]
    assert dpo["trainable_params"]["values"][0] > 0
    # an evaluation stopped before its end, its weights since gone: retrained, and its half of the answers dropped
    monkeypatch.undo()
    run1 = out / "runs" / "dpo" / "seed1"
    (run1 / "eval" / "results.json").unlink()
    (run1 / "eval" / "confusion" / "results.json").unlink()
    answers = run1 / "eval" / "confusion" / "generations.jsonl"
    old_answers = answers.stat().st_mtime_ns
    _seed_data(out, cfg.model)
    again = {r["method"]: r for r in run_compare(cfg)["rows"]}["dpo"]
    assert (run1 / "model" / "adapter_config.json").is_file() and (run1 / "eval" / "results.json").is_file()
    assert answers.stat().st_mtime_ns != old_answers  # answered again by the retrained model, not resumed
    assert again["rpr_en_confusion"]["values"][0] == dpo["rpr_en_confusion"]["values"][0]  # seed 0 not rerun
    # an evaluation cached by an older langlock (runs/M/seedN/metrics.json, old keys, no repetitiveness columns)
    # is migrated when read: renamed keys, repetitiveness from its generations, nothing rerun
    run0 = out / "runs" / "base" / "seed0"
    new = json.loads((run0 / "eval" / "results.json").read_text(encoding="utf-8"))["metrics"]
    old = {{"rpr_en_confusion": "rpr_ief", "wpr_en_confusion": "wpr_ief", "rpr_en_neutral": "rpr_iet",
            "wpr_en_neutral": "wpr_iet"}.get(k, k): v for k, v in new.items()
           if k not in ("repetitive_target", "repetitive_en")}
    old["rpr_ief"] = 0.123  # a value this run did not produce: read from the old file, not recomputed
    (run0 / "metrics.json").write_text(json.dumps(old), encoding="utf-8")
    (run0 / "eval" / "results.json").unlink()
    migrated = {r["method"]: r for r in run_compare(cfg)["rows"]}["base"]
    assert migrated["rpr_en_confusion"]["values"][0] == 0.123
    assert migrated["repetitive_target"]["values"] == rows["base"]["repetitive_target"]["values"]
    assert migrated["lcb_lpr"]["values"] == rows["base"]["lcb_lpr"]["values"]
    assert not (run0 / "eval" / "results.json").exists()


@pytest.mark.slow
def test_compare_every_method(tmp_path):
    """All eight methods, TLPO included, through one compare run (slow: about a minute of CPU)."""
    from langlock.compare import METHODS

    cfg = _config(tmp_path, list(METHODS))
    cfg.method_args.update(grpo={"num_generations": 2, "max_completion_length": 8, "per_device_train_batch_size": 1},
                           sft={}, orpo={}, **{"tbpo-q": {"baseline_mlp_dim": 8}})
    summary = run_compare(cfg)
    for row in summary["rows"]:
        assert "unavailable" not in row, row
        assert row["seeds"] == [0, 1] and all(v is not None for v in row["rpr_en_confusion"]["values"])


def test_mean_ci_and_config_errors(tmp_path):
    mean, half = mean_ci([0.5, 0.7, 0.6])
    assert mean == pytest.approx(0.6)
    assert half == pytest.approx(4.303 * 0.1 / 3 ** 0.5)
    assert mean_ci([0.4]) == (0.4, None)
    with pytest.raises(UsageError, match="unknown method"):
        CompareConfig(model="m", language="ko", output_dir="o", methods=["ppo"])
    with pytest.raises(UsageError, match="exactly one"):
        CompareConfig(model="m", language="ko", output_dir="o", eval_suite=None)
    bad = tmp_path / "c.yaml"
    bad.write_text("model: m\nlanguage: ko\noutput_dir: o\nepochs: 3\n")
    from langlock.cli.main import main

    assert main(["compare", "--config", str(bad)]) == 2
    bad.write_text(f"model: m\nlanguage: ko\noutput_dir: {tmp_path / 'empty'}\n")
    assert main(["compare", "--config", str(bad), "--report-only"]) == 2
    assert main(["compare", "--config", str(bad), "--checkpoint", "tlpo"]) == 2  # not METHOD=DIR
    assert main(["compare", "--config", str(bad), "--checkpoint", "ppo=x"]) == 2  # unknown method


def test_compare_evaluates_checkpoints_trained_elsewhere(tmp_path):
    """`checkpoints: {tlpo: DIR/seed{seed}/model}` evaluates those adapters per seed; no data is built."""
    from tiny_models import make_adapter_dir

    model = str(tiny_model(tmp_path))
    for seed in (0, 1):
        make_adapter_dir(model, tmp_path / "tlpo" / f"seed{seed}" / "model", seed=seed)
    out = tmp_path / "cmp"
    cfg = CompareConfig(model=model, language="ko", output_dir=str(out), methods=["base", "tlpo"], seeds=[0, 1],
                        checkpoints={"tlpo": str(tmp_path / "tlpo" / "seed{seed}" / "model")},
                        eval_limit=1, eval_max_new_tokens=6, retention_limit=1, batch_size=4)
    assert not cfg.needs_data()
    summary = run_compare(cfg)
    rows = {r["method"]: r for r in summary["rows"]}
    assert rows["tlpo"]["seeds"] == [0, 1]
    assert all(v > 0 for v in rows["tlpo"]["kl_en"]["values"])  # the adapters were applied
    assert not (out / "data").exists() and not (out / "runs" / "tlpo" / "seed0" / "results.json").exists()
    assert summary["paired"]["tlpo"]["kl_en"]["values"] == pytest.approx(rows["tlpo"]["kl_en"]["values"], abs=1e-6)
    with pytest.raises(UsageError, match="checkpoints for unknown"):
        CompareConfig(model="m", language="ko", output_dir="o", checkpoints={"ppo": "x"})
    from langlock.errors import InputError

    cfg.checkpoints = {"tlpo": str(tmp_path / "missing{seed}")}
    cfg.seeds = [5]
    with pytest.raises(InputError, match="not a model or adapter directory"):
        run_compare(cfg)


def test_pool_task_and_eval_task(tmp_path):
    from langlock.compare.evaluate import plan_for

    base = dict(model="m", language="de", output_dir=str(tmp_path / "c"))
    for bad in ({"pool_task": "both"}, {"pool_task": "crosslingual", "pool": "pool.jsonl"}):
        with pytest.raises(UsageError, match="pool_task"):
            CompareConfig(**base, **bad)
    cfg = CompareConfig(**base, pool_task="crosslingual", eval_task="crosslingual", eval_limit=20)
    spec = plan_for(cfg, "sft", 0).confusion
    assert (spec.task, spec.langs, spec.limit) == ("crosslingual", "de,en", 20)
    assert plan_for(CompareConfig(**base), "base", 0).confusion.task == "all"  # cached plans keep their form
