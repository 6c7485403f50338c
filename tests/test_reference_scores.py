"""The base reference of the retention checks is scored once per process and reused: a second model paired against
the same reference, and a run of the reference itself, score no reference again — with the same numbers as
scoring everything afresh (`langlock.bench.retention_report.REFERENCE_SCORES`)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from langlock.bench import retention_report  # noqa: E402
from langlock.bench.runner import BenchConfig, run_bench  # noqa: E402
from langlock.generate import GenerationSettings  # noqa: E402
from langlock.suites import likelihood  # noqa: E402

from tiny_models import make_model_dir  # noqa: E402


def _cfg(out, model, ref, **kw):
    return BenchConfig(output_dir=str(out), model=str(model), reference_model=str(ref), suite="builtin-retention",
                       langs="en,de", limit=2, progress=False, batch_size=4, threads=1,
                       settings=GenerationSettings(max_new_tokens=4, temperature=0.0), **kw)


def test_reference_scored_once_and_reused_with_identical_numbers(tmp_path, monkeypatch):
    base = make_model_dir(tmp_path / "base")
    other = make_model_dir(tmp_path / "other", seed=1)
    calls = []
    real = likelihood.likelihood_scores

    def counting(model, tokenizer, inputs, batch_size=32):
        calls.append(model)
        return real(model, tokenizer, inputs, batch_size)

    monkeypatch.setattr(likelihood, "likelihood_scores", counting)
    monkeypatch.setattr(retention_report, "REFERENCE_SCORES", {})
    own = run_bench(_cfg(tmp_path / "b", base, base))  # the reference itself: one scoring, used twice
    assert len(calls) == 1
    trained = run_bench(_cfg(tmp_path / "o", other, base))  # another model: only its own scores
    locked = run_bench(_cfg(tmp_path / "l", base, base, locks={"de": {"mode": "suppress"}}))
    assert len(calls) == 2
    lk = own["retention"]["likelihood"]
    assert lk["mc"]["by_language"]["en"]["delta"]["mean"] == 0
    assert lk["nll"]["by_language"]["de"]["drift"]["mean"] == 0 and own["retention"]["kl"]["kl_mean"] == 0.0
    assert locked["retention"]["likelihood"]["nll"] == lk["nll"]

    # oracle: the same checks computed afresh, reference and model each scored by the library
    from langlock.models import load_model_and_tokenizer

    m_base, tok, _ = load_model_and_tokenizer(str(base))
    m_other, _, _ = load_model_and_tokenizer(str(other))
    fresh = likelihood.likelihood_retention(m_other, tok, m_base, langs=["en", "de"], limit=2)
    got = trained["retention"]["likelihood"]
    for lang in ("en", "de"):
        assert got["nll"]["by_language"][lang]["drift"]["mean"] == pytest.approx(
            fresh["nll"]["by_language"][lang]["drift"]["mean"], abs=1e-6)
        assert got["nll"]["by_language"][lang]["base_nll_per_byte"] == pytest.approx(
            fresh["nll"]["by_language"][lang]["base_nll_per_byte"], abs=1e-6)
    assert got["mc"]["items"] == fresh["mc"]["items"]
    assert trained["retention"]["kl"]["kl_mean"] > 0.0


def test_steered_or_routed_runs_are_not_taken_for_the_reference():
    cfg = BenchConfig(output_dir="x", model="m", reference_model="m", suite="builtin-retention")
    assert retention_report.is_reference_itself(cfg)
    assert not retention_report.is_reference_itself(BenchConfig(output_dir="x", model="n", reference_model="m",
                                                                suite="builtin-retention"))
    cfg.steer = ["s.json"]
    assert not retention_report.is_reference_itself(cfg)
