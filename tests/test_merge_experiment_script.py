"""`scripts/merge_experiment.py` (a recipe script, not in the package): its evaluation runs on the generation
core and its task data follows the retention template."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "merge_experiment.py"


def _script():
    spec = importlib.util.spec_from_file_location("merge_experiment", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_package_no_longer_holds_the_experiment_or_the_test_models():
    import langlock.merge

    root = Path(langlock.merge.__file__).parent
    assert not (root / "experiment.py").exists() and not (root / "testing.py").exists()


def test_evaluate_is_greedy_on_the_core(tmp_path):
    pytest.importorskip("torch")
    from langlock.generate import GenerationSettings, PromptItem
    from langlock.generate.hf import HFGenerator
    from langlock.suites.retention import retention_prompts

    from tiny_models import make_model_dir

    model = make_model_dir(tmp_path / "m")
    res = _script().evaluate(model, "ko", n_eval=2, max_new_tokens=6)
    prompts = [p for p in retention_prompts(langs=["ko"], seed=0, per_kind=2) if p.meta["kind"] == "arith"]
    assert res["n"] == len(prompts) == len(res["samples"]) > 0
    assert 0 <= res["accuracy"] <= 1 and 0 <= res["lpr"] <= 1
    out = {}
    HFGenerator(str(model)).generate([PromptItem("x", prompts[0].prompt)],
                                     GenerationSettings(max_new_tokens=6, temperature=0.0),
                                     lambda c: out.__setitem__(c.key, c.text))
    assert res["samples"][0]["completion"] == out["x"]


def test_task_rows_are_arithmetic_with_digit_answers():
    pytest.importorskip("num2words")
    rows = _script().task_sft_rows(5, seed=1)
    assert len(rows) == 5
    for r in rows:
        assert r["prompt"][0]["role"] == "user" and r["completion"][0]["content"].isdigit()
