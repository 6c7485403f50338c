"""`CompareConfig.eval_task`: which LCB tasks a comparison evaluates (the guarded TLPO measurement uses the
cross-lingual prompts only), carried into the evaluation plan; the shipped guard config loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from langlock.compare import CompareConfig
from langlock.compare.evaluate import plan_for
from langlock.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]


def test_eval_task_reaches_the_plan_and_is_checked():
    cfg = CompareConfig(model="m", language="ko", output_dir="o", eval_suite=None, eval_lcb_dir="lcb",
                        eval_task="crosslingual")
    assert plan_for(cfg, "tlpo", 1).confusion.task == "crosslingual"
    default = CompareConfig(model="m", language="ko", output_dir="o")
    assert plan_for(default, "base", 0).confusion.task == "all"
    with pytest.raises(UsageError, match="eval_task"):
        CompareConfig(model="m", language="ko", output_dir="o", eval_task="cross")


def test_guard_config_selects_the_cross_lingual_ko_prompts():
    cfg = CompareConfig.from_yaml(ROOT / "configs/compare/smollm2-ko-tlpo-guard.yaml")
    assert cfg.methods == ["base", "tlpo"] and cfg.eval_task == "crosslingual" and cfg.threads == 1
    assert "guard" in cfg.checkpoints["tlpo"]
    lcb = (ROOT / cfg.eval_lcb_dir)
    if not lcb.is_dir():
        pytest.skip(f"no LCB test sets at {lcb}")
    from langlock.bench.prompts import load_lcb

    spec = plan_for(cfg, "base", 0).confusion
    prompts = load_lcb(lcb, task=spec.task, langs=spec.langs, limit=spec.limit)
    assert len(prompts) == 36 and {p.task for p in prompts} == {"crosslingual"}
    assert {p.language for p in prompts} == {"ko"}
