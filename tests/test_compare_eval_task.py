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


def test_data_stage_options_are_checked(tmp_path, monkeypatch):
    """sample_shots and sample_in_language are validated; in-language sampling needs the cross-lingual
    builtin-train pool and a language the project wrote the requests in; its prompt rows carry them."""
    import json

    from langlock.compare.data import build_data

    with pytest.raises(UsageError, match="sample_shots"):
        CompareConfig(model="m", language="ko", output_dir="o", sample_shots=-1)
    with pytest.raises(UsageError, match="sample_in_language"):
        CompareConfig(model="m", language="ko", output_dir="o", sample_in_language=True)
    de = CompareConfig(model="m", language="de", output_dir=str(tmp_path / "de"), pool_task="crosslingual",
                       sample_in_language=True, pool_rules={"banned_substrings": []})
    with pytest.raises(UsageError, match="no de version"):
        build_data(de)

    class Stop(Exception):
        pass

    import langlock.databuild.sample as sample

    def no_model(*a, **k):  # the prompts stage runs; sampling would need a model: stop there
        raise Stop

    ko = CompareConfig(model="m", language="ko", output_dir=str(tmp_path / "ko"), pool_task="crosslingual",
                       sample_in_language=True, pool_rules={"banned_substrings": []}, pool_limit=5)
    monkeypatch.setattr(sample, "sample_completions", no_model)
    with pytest.raises(Stop):
        build_data(ko)
    rows = [json.loads(x) for x in (tmp_path / "ko" / "data" / "prompts-inlang.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and rows[0]["sample_prompt"] == "맛있는 커피 한 주전자를 내리는 방법을 알려 주세요."
    assert "Korean" in rows[0]["prompt"]


def test_in_language_subject_config_loads():
    cfg = CompareConfig.from_yaml(ROOT / "configs/subjects/gemma-it-ko-inlang.yaml")
    assert cfg.sample_in_language and cfg.pool_task == "crosslingual" and cfg.language == "ko"
    assert cfg.methods == ["base", "sft"] and cfg.eval_quality == "full" and cfg.pair_validity == "full"


def test_in_language_replay_subject_config_loads():
    cfg = CompareConfig.from_yaml(ROOT / "configs/subjects/gemma-it-ko-inlang-replay.yaml")
    assert cfg.sample_in_language and cfg.replay_english == 24 and cfg.seeds == [0, 1, 2]
    assert cfg.train["max_steps"] == 12
