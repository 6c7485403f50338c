"""Likelihood retention: the statistics (pure), the builtin-mc items and genuine corpus (sizes, no overlap with
training or evaluation prompts), and the scoring on a tiny model against a one-sequence-at-a-time oracle."""

from __future__ import annotations

import math

import pytest

from langlock.quality.signals import normalise
from langlock.suites.retention_mc import mc_items
from langlock.suites.retention_stats import accuracy_se, mcnemar, paired_difference, per_byte_nll

from tiny_models import make_model_dir


def test_accuracy_se_is_the_sample_standard_error():
    acc, se = accuracy_se([True, True, True, False])
    assert acc == 0.75
    sd = math.sqrt(sum((x - 0.75) ** 2 for x in (1, 1, 1, 0)) / 3)
    assert se == pytest.approx(sd / 2)
    assert accuracy_se([]) == (None, None) and accuracy_se([True]) == (1.0, None)


def test_mcnemar_exact_p_values():
    # 5 discordant items all favouring the model: p = 2 * 0.5**5
    r = mcnemar([True] * 5 + [True, False], [False] * 5 + [True, False])
    assert (r["only_model"], r["only_base"]) == (5, 0) and r["p_value"] == pytest.approx(0.0625)
    # 3 vs 1: p = 2 * (1 + 4) / 16
    r = mcnemar([1, 1, 1, 0, 1], [0, 0, 0, 1, 1])
    assert r["p_value"] == pytest.approx(0.625)
    assert mcnemar([1, 0], [1, 0])["p_value"] == 1.0
    with pytest.raises(ValueError):
        mcnemar([1], [1, 0])


def test_paired_difference_uses_the_t_interval():
    d = paired_difference([1.0, 2.0, 3.0], [0.5, 1.0, 2.5])  # diffs 0.5, 1.0, 0.5
    mean = 2 / 3
    sd = math.sqrt(((0.5 - mean) ** 2 * 2 + (1.0 - mean) ** 2) / 2)
    half = 4.303 * sd / math.sqrt(3)
    assert d["mean"] == pytest.approx(mean) and d["ci95"] == pytest.approx([mean - half, mean + half])
    assert paired_difference([1.0], [0.0])["ci95"] is None


def test_per_byte_nll():
    assert per_byte_nll([1.0, 2.0, 3.0], 4) == 1.5
    with pytest.raises(ValueError):
        per_byte_nll([1.0], 0)


def test_items_are_many_well_formed_and_disjoint_from_the_prompts():
    from langlock.suites import load_suite
    from langlock.suites.likelihood import genuine_texts

    items = mc_items()
    en = [it for it in items if it.language == "en"]
    assert len(en) >= 400 and {it.language for it in items} >= {"en", "ko", "ja", "zh", "de", "es", "fr"}
    assert len({it.id for it in items}) == len(items)
    for it in items:
        assert len(set(it.choices)) == len(it.choices) >= 2 and 0 <= it.answer < len(it.choices)
    assert mc_items() == items  # deterministic
    prompts = [normalise(p.prompt) for name in ("builtin-train", "builtin-confusion", "builtin-retention")
               for p in load_suite(name)]
    texts = [normalise(it.question) for it in items] + [normalise(d) for ds in genuine_texts().values() for d in ds]
    joined = "\x00".join(prompts)
    assert not [t for t in texts if t in joined]  # no item or document inside a training/evaluation prompt
    assert not [p for p in prompts if len(p) > 20 and any(p in t for t in texts)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from langlock.models import load_model_and_tokenizer

    d = make_model_dir(tmp_path_factory.mktemp("tiny") / "m")
    other = make_model_dir(tmp_path_factory.mktemp("tiny") / "o", seed=1)
    return load_model_and_tokenizer(str(d))[:2], load_model_and_tokenizer(str(other))[0]


def test_continuation_logliks_match_one_sequence_at_a_time(tiny):
    import torch

    from langlock.suites.likelihood import continuation_logliks

    (model, tok), _ = tiny
    pairs = [("Question: What is 2 plus 2?\nAnswer:", " 4"), ("질문: 무엇?\n답:", " 월요일이다"), ("Q:", " a longer answer here")]
    got = continuation_logliks(model, tok, pairs, batch_size=2)
    for (ctx, cont), g in zip(pairs, got):
        c = tok(ctx)["input_ids"]
        t = tok(cont, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logp = torch.log_softmax(model(input_ids=torch.tensor([c + t])).logits[0].float(), -1)
        want = sum(float(logp[len(c) - 1 + k, t[k]]) for k in range(len(t)))
        assert g == pytest.approx(want, abs=1e-4)


def test_likelihood_retention_pairs_against_the_base(tiny):
    from langlock.suites.likelihood import likelihood_retention

    (model, tok), other = tiny
    same = likelihood_retention(model, tok, model, langs=["ko"], batch_size=64, limit=40)
    assert set(same["mc"]["by_language"]) == {"en", "ko"} and set(same["nll"]["by_language"]) == {"en", "ko"}
    en = same["mc"]["by_language"]["en"]
    assert en["n"] == 40 and same["nll"]["by_language"]["en"]["n"] == 16
    assert en["delta"]["mean"] == 0 and en["mcnemar"]["p_value"] == 1.0
    assert same["nll"]["by_language"]["ko"]["drift"]["mean"] == pytest.approx(0.0, abs=1e-6)
    diff = likelihood_retention(other, tok, model, langs=["ko"], batch_size=64, limit=40)
    ko = diff["nll"]["by_language"]["ko"]
    assert ko["drift"]["mean"] == pytest.approx(ko["nll_per_byte"] - ko["base_nll_per_byte"])
    assert ko["drift"]["ci95"][0] <= ko["drift"]["mean"] <= ko["drift"]["ci95"][1]
    d = diff["mc"]["by_language"]["en"]
    assert d["delta"]["mean"] == pytest.approx(d["accuracy"] - d["base_accuracy"])
    assert [x["correct"] for x in diff["mc"]["items"] if x["id"].startswith("en-")].count(True) == \
        round(d["accuracy"] * d["n"])
