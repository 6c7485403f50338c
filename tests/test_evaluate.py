"""`langlock.evaluate`: a plan executed from the bench reports (checked against scoring the generations directly),
a LanguageLock as part of the decoding that applies to its language only, caching, and plan validation."""

from __future__ import annotations

import json
import re
import warnings

import pytest

pytest.importorskip("torch")

from langlock.errors import UsageError  # noqa: E402
from langlock.evaluate import Decoding, EvalPlan, EvalResult, Metrics, Runtime, SuiteSpec, evaluate  # noqa: E402
from langlock.generate import GenerationSettings  # noqa: E402

from tiny_models import make_model_dir  # noqa: E402

SETTINGS = GenerationSettings(max_new_tokens=8, temperature=1.0, top_p=1.0, seed=3)
RUNTIME = Runtime(batch_size=4, threads=1)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return str(make_model_dir(tmp_path_factory.mktemp("tiny") / "model"))


def _plan(model, locks=None, retention=True) -> EvalPlan:
    return EvalPlan(target="ko", confusion=SuiteSpec(suite="builtin-confusion", langs="ko,en", limit=2),
                    decoding=Decoding(SETTINGS, locks or {}),
                    retention=SuiteSpec(suite="builtin-retention", langs="en,ko", limit=1) if retention else None,
                    reference_model=model if retention else None)


def _generations(out) -> list[dict]:
    path = out / "confusion" / "generations.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _direct(rows, language, profile, **opts) -> dict:
    """Oracle: score the `language` completions alone, judged with the cheap validity signals, and
    macro-average the per-task overall rows (what compare computed before it read the bench reports)."""
    from langlock.quality import judge_records
    from langlock.score.metrics import score_records
    from langlock.score.records import Record

    recs = [Record(r["task"], "m", r["source"], r["language"], r["completion"], r["id"], r["prompt"])
            for r in rows if r["language"] == language]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = score_records(recs, profile, verdicts=judge_records(recs), **opts)
    overall = [r.metrics for r in rep.rows if r.level == "overall"]
    out = {}
    for key in overall[0]:
        vals = [m[key] for m in overall if m[key] is not None]
        out[key] = sum(vals) / len(vals) if vals else None
    out["per_task"] = {r.task: r.metrics for r in rep.rows if r.level == "overall"}
    return out


def test_evaluate_reads_the_bench_reports_and_caches(model, tmp_path, monkeypatch):
    out = tmp_path / "ev"
    res = evaluate(model, _plan(model), out, RUNTIME)
    m = res.metrics
    rows = _generations(out)
    tl, tn, lcb = (_direct(rows, "ko", "tlpo", ignore_english=False), _direct(rows, "ko", "tlpo", ignore_english=True),
                   _direct(rows, "ko", "lcb"))
    assert m.rpr_en_confusion == pytest.approx(tl["rpr"]) and m.wpr_en_confusion == pytest.approx(tl["wpr"])
    assert m.rpr_en_neutral == pytest.approx(tn["rpr"]) and m.wpr_en_neutral == pytest.approx(tn["wpr"])
    assert m.lcb_lpr == pytest.approx(lcb["lpr"]) and m.lcb_lcpr == pytest.approx(lcb["lcpr"])
    assert m.lcb_lpr_mono == pytest.approx(lcb["per_task"]["monolingual"]["lpr"])
    assert m.lcb_lpr_cross == pytest.approx(lcb["per_task"]["crosslingual"]["lpr"])
    en = _direct(rows, "en", "lcb")
    assert m.en_lpr == pytest.approx(en["lpr"]) and m.vr_en == pytest.approx(en["vr"])
    assert m.vr_target == pytest.approx(lcb["vr"]) and m.cpr_target == pytest.approx(lcb["cpr"])
    assert m.cpr_mono == pytest.approx(lcb["per_task"]["monolingual"]["cpr"])
    assert m.cpr_cross == pytest.approx(lcb["per_task"]["crosslingual"]["cpr"])
    # 2 per task and language: ko has both tasks, English (the prompts' source language) only monolingual
    assert (m.n_target, m.n_english) == (4, 2)
    assert m.mean_chars_target == pytest.approx(sum(len(r["completion"]) for r in rows if r["language"] == "ko") / 4)
    assert m.kl_en == pytest.approx(0.0, abs=1e-6)  # the reference is the model itself
    assert m.retention_acc is not None and m.retention_acc_target is not None
    assert m.mc_acc in (0.0, 1.0) and m.mc_acc_target in (0.0, 1.0)  # --limit 1: one item per language
    assert m.mc_delta == 0 and m.nll_drift_en == pytest.approx(0, abs=1e-6)  # the base is the model itself
    assert m.nll_drift_target == pytest.approx(0, abs=1e-6)
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert (saved["schema"], saved["schema_version"], saved["kind"]) == ("langlock.results", 2, "evaluation")
    assert saved["reports"] == {"confusion": "confusion", "retention": "retention"}

    def boom(*a, **k):
        raise AssertionError("ran a finished evaluation again")

    monkeypatch.setattr("langlock.bench.runner.run_bench", boom)
    monkeypatch.setattr("langlock.bench.runner.build_generator", boom)
    assert evaluate(model, _plan(model), out, RUNTIME) == res
    # killed after both suites finished but before results.json: rebuilt from the bench reports, nothing rerun
    (out / "results.json").unlink()
    assert evaluate(model, _plan(model), out, RUNTIME).metrics == m
    with pytest.raises(UsageError, match="another plan"):
        evaluate(model, _plan(model, locks={"ko": {"mode": "suppress"}}), out, RUNTIME)


def test_answers_in_bfloat16_scores_in_float32_and_no_evaluation_mixes_dtypes(model, tmp_path):
    out = tmp_path / "half"
    half = Runtime(batch_size=4, threads=1, dtype="bfloat16", retention_dtype="float32")
    res = evaluate(model, _plan(model), out, half)
    bench = {name: json.loads((out / name / "results.json").read_text(encoding="utf-8"))
             for name in ("confusion", "retention")}
    assert bench["confusion"]["generator"]["dtype"] == "bfloat16"
    assert bench["retention"]["generator"]["dtype"] == "float32"
    # the retention scores compare the model with itself in float32: no drift at all, not bfloat16's rounding
    assert res.metrics.nll_drift_en == pytest.approx(0, abs=1e-6) and res.metrics.kl_en == pytest.approx(0, abs=1e-6)
    assert json.loads((out / "confusion" / "run.json").read_text(encoding="utf-8"))["identity"]["dtype"] == "bfloat16"
    assert evaluate(model, _plan(model), out, half) == res
    with pytest.raises(UsageError, match="made in"):  # a cached evaluation is not read for another dtype
        evaluate(model, _plan(model), out, RUNTIME)
    (out / "results.json").unlink()
    with pytest.raises(UsageError, match="other settings"):  # nor are its answers resumed in another dtype
        evaluate(model, _plan(model), out, RUNTIME)


def test_a_lock_is_decoding_for_its_language_only(model, tmp_path):
    plain_out, locked_out = tmp_path / "plain", tmp_path / "locked"
    plain = evaluate(model, _plan(model, retention=False), plain_out, RUNTIME)
    locked = evaluate(model, _plan(model, locks={"ko": {"mode": "suppress"}}, retention=False), locked_out, RUNTIME)
    p = {r["key"]: r for r in _generations(plain_out)}
    q = {r["key"]: r for r in _generations(locked_out)}
    assert p.keys() == q.keys()
    en = [k for k in p if p[k]["language"] == "en"]
    ko = [k for k in p if p[k]["language"] == "ko"]
    # English requests decode unchanged (same seeded sampling, no processor), so their metric is the same
    assert [p[k]["completion"] for k in en] == [q[k]["completion"] for k in en]
    assert locked.metrics.en_lpr == plain.metrics.en_lpr
    # Korean requests decode under the lock: the random model's Latin letters are gone
    assert any(re.search("[A-Za-z]", p[k]["completion"]) for k in ko)
    assert not any(re.search("[A-Za-z]", q[k]["completion"]) for k in ko)
    bench = json.loads((locked_out / "confusion" / "results.json").read_text(encoding="utf-8"))
    assert bench["kind"] == "bench" and bench["locks"] == {"ko": {"mode": "suppress"}}


def test_plan_validation_and_metric_migration():
    with pytest.raises(UsageError, match="exactly one"):
        SuiteSpec()
    with pytest.raises(UsageError, match="retention runs"):
        EvalPlan(target="ko", confusion=SuiteSpec(suite="builtin-confusion"),
                 retention=SuiteSpec(suite="builtin-confusion"))
    with pytest.raises(UsageError):
        Decoding(locks={"xx": {}})
    old = {"rpr_ief": 0.5, "wpr_ief": 0.6, "rpr_iet": 0.7, "wpr_iet": 0.8, "lcb_lpr": 0.9, "eval_seconds": 3}
    m = Metrics.from_dict(old)
    assert (m.rpr_en_confusion, m.wpr_en_confusion, m.rpr_en_neutral, m.wpr_en_neutral, m.lcb_lpr) == (
        0.5, 0.6, 0.7, 0.8, 0.9)
    res = EvalResult(model="m", plan={"target": "ko"}, metrics=m, reports={"confusion": "confusion"}, seconds=1.0)
    assert EvalResult.from_dict(json.loads(json.dumps(res.to_dict()))) == res


def test_plan_quality_is_checked_and_older_cached_plans_read_as_cheap(model, tmp_path):
    with pytest.raises(UsageError, match="quality"):
        EvalPlan(target="ko", confusion=SuiteSpec(suite="builtin-confusion"), quality="strict")
    plan = _plan(model, retention=False)
    out = tmp_path / "e"
    first = evaluate(model, plan, out, RUNTIME)
    assert first.plan["quality"] == "cheap"
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    del saved["plan"]["quality"]  # as a langlock before the field wrote it
    (out / "results.json").write_text(json.dumps(saved), encoding="utf-8")
    assert evaluate(model, plan, out, RUNTIME).metrics == first.metrics
    full = EvalPlan(target="ko", confusion=plan.confusion, decoding=plan.decoding, quality="full")
    with pytest.raises(UsageError, match="another plan"):
        evaluate(model, full, out, RUNTIME)


def test_third_language_share_counts_answers_in_neither_the_target_nor_english():
    """`third_lang_cross`: the cross-lingual answers of the target that went to another language (a Korean request
    answered in Chinese is LCB "skip" and judged valid, so neither CPR nor VR shows it)."""
    from langlock.detect.lcb import answer_language
    from langlock.evaluate.result import third_language_share

    zh = "你好！我很高兴能够与你谈谈自己的生活和学习经历。我最近开始使用一些学习软件，以便更好地学习。"
    ko = "산에 갈 때는 물과 간식, 따뜻한 옷, 비옷, 지도와 손전등을 꼭 챙기세요. 편한 등산화도 필요합니다."
    en = "Bring water, snacks, warm clothes, a rain jacket, a map and a torch when you hike in the mountains."
    assert (answer_language(zh), answer_language(ko), answer_language(en), answer_language(" \n")) == (
        "zh", "ko", "en", "unknown")
    rows = [{"language": "ko", "task": "crosslingual", "completion": t} for t in (zh, ko, en, ko)]
    rows.append({"language": "ko", "task": "monolingual", "completion": zh})  # not a cross-lingual answer
    assert third_language_share("ko", rows) == 0.25
    assert third_language_share("ko", rows, identify=lambda t: "ja") == 1.0
    assert third_language_share("ja", rows) is None and third_language_share("en", rows) is None
