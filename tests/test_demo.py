"""`langlock demo` end to end on a tiny model (the real SmolLM2 run is measured in docs/bench.md)."""

from __future__ import annotations

from langlock.cli.main import main

from tiny_models import make_model_dir


def test_demo_diagnoses_a_model_and_writes_the_report(tmp_path, capsys):
    model = make_model_dir(tmp_path / "m")
    out = tmp_path / "demo"
    assert main(["demo", "--model", str(model), "--limit", "1", "--langs", "ko,de,en", "--max-new-tokens", "8", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "task          lang" in text and "first confusion points" in text
    for lang in ("ko", "de", "en"):
        assert f"monolingual   {lang}" in text
    assert (out / "report.md").exists() and (out / "results.json").exists()
    assert (out / "plots" / "lpr_wpr_monolingual.png").exists()


def test_canned_demo_still_scores_the_sample_completions(tmp_path, capsys):
    assert main(["demo", "--canned", "-o", str(tmp_path / "c")]) == 0
    assert "first confusion points" in capsys.readouterr().out
    assert (tmp_path / "c" / "lcb" / "results.json").exists()
