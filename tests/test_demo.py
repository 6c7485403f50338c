"""`langlock demo` end to end on a tiny model: diagnose → TLPO + LanguageLock → verify → HTML report, resumable.

The real SmolLM2 run is timed from a fresh clone and its table is in the README.
"""

from __future__ import annotations

from langlock.cli.main import main

from tiny_models import make_model_dir

TINY_TLPO = ["max_steps=2", "save_steps=1", "num_generations=2", "per_device_train_batch_size=1",
             "max_completion_length=6", "num_branches=2", "branch_length=1", "max_prompts=4"]


def _demo_args(model, out):
    args = ["demo", "--model", str(model), "--limit", "1", "--langs", "ko,en", "--verify-limit", "1",
            "--max-new-tokens", "6", "--batch-size", "4", "-o", str(out)]
    for kv in TINY_TLPO:
        args += ["--tlpo", kv]
    return args


def test_demo_runs_the_whole_story_and_resumes(tmp_path, capsys):
    model = make_model_dir(tmp_path / "m")
    out = tmp_path / "demo"
    assert main(_demo_args(model, out)) == 0
    text = capsys.readouterr().out
    for stage in ("1/4 diagnose", "2/4 fix ko", "3/4 verify", "4/4 report"):
        assert stage in text
    assert "task          lang" in text and "monolingual   ko" in text
    table = text[text.index("before/after"):]
    for label in ("before (base)", "LanguageLock", "TLPO (LoRA)"):
        assert label in table
    assert (out / "diagnose" / "results.json").exists() and (out / "tlpo" / "model" / "adapter_config.json").exists()
    assert (out / "tlpo" / "checkpoint-2").is_dir()
    assert (out / "verify" / "compare.md").exists()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<img" in html and "data:image/png;base64," in html and "http://" not in html.split("<body", 1)[1]
    # the lock row is the base model with a LanguageLock on Korean requests: English decodes exactly as the
    # base's (same seed), the weights are the base's (KL 0), and retention covers every item
    import json

    saved = json.loads((out / "verify" / "results.json").read_text())
    assert saved["kind"] == "compare"
    rows = {r["method"]: r for r in saved["rows"]}
    assert rows["lock"]["en_lpr"]["values"] == rows["base"]["en_lpr"]["values"] != [None]
    assert abs(rows["lock"]["kl_en"]["mean"]) < 1e-6 and rows["tlpo"]["kl_en"]["mean"] is not None
    assert all(rows[m]["retention_acc"]["mean"] is not None for m in ("base", "lock", "tlpo"))
    assert all(rows[m]["retention_acc_target"]["mean"] is not None for m in ("base", "lock", "tlpo"))
    # the printed table is the summary's numbers
    line = next(ln for ln in table.splitlines() if ln.startswith("TLPO (LoRA)"))
    assert f"{100 * rows['tlpo']['rpr_en_confusion']['mean']:.1f}" == line.split()[2]

    # a rerun trains and evaluates nothing again
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("verify/runs/*/seed*/eval/results.json")}
    assert len(stamps) == 3
    adapter = (out / "tlpo" / "model" / "adapter_model.safetensors").stat().st_mtime_ns
    assert main(_demo_args(model, out)) == 0
    assert "finished run" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert (out / "tlpo" / "model" / "adapter_model.safetensors").stat().st_mtime_ns == adapter


def test_demo_bad_limit_is_a_usage_error(tmp_path, capsys):
    assert main(["demo", "--verify-limit", "0", "-o", str(tmp_path / "d")]) == 2
    assert "--verify-limit" in capsys.readouterr().err and not (tmp_path / "d").exists()


def test_canned_demo_still_scores_the_sample_completions(tmp_path, capsys):
    assert main(["demo", "--canned", "-o", str(tmp_path / "c")]) == 0
    assert "first confusion points" in capsys.readouterr().out
    assert (tmp_path / "c" / "lcb" / "results.json").exists()
