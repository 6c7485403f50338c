"""Built-in suites: sizes, the training pool kept apart from every evaluation prompt, retention checks, KL."""

from __future__ import annotations

import csv
import math
import re

import pytest

from langlock.errors import UsageError
from langlock.suites import load_suite
from langlock.suites.confusion import confusion_prompts
from langlock.suites.retention import accuracy_rows, check, kl_divergence, retention_prompts
from langlock.suites.train import chatterbot_user_turns, train_prompts

CONFUSION_LANGS = {"ko", "ja", "zh", "ar", "hi", "ru", "es", "fr", "de", "en"}


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def test_confusion_suite_shape():
    ps = confusion_prompts()
    mono = [p for p in ps if p.task == "monolingual"]
    cross = [p for p in ps if p.task == "crosslingual"]
    assert {p.language for p in mono} == CONFUSION_LANGS
    assert all(sum(p.language == lang for p in mono) == 30 for lang in CONFUSION_LANGS)
    assert {p.language for p in cross} == CONFUSION_LANGS - {"en"}
    names = {"ko": "Korean", "de": "German", "hi": "Hindi"}
    for p in cross:
        if p.language in names:
            assert names[p.language] in p.prompt
    assert len({p.key for p in ps}) == len(ps)
    assert len({norm(p.prompt) for p in mono}) == len(mono)


def test_load_suite_filters_and_errors():
    ps = load_suite("builtin-confusion", task="crosslingual", langs="ko,ja", limit=3)
    assert len(ps) == 6 and {p.task for p in ps} == {"crosslingual"}
    with pytest.raises(UsageError, match="unknown language code 'xx'"):
        load_suite("builtin-confusion", langs="xx")
    with pytest.raises(UsageError, match="unknown suite"):
        load_suite("builtin-nothing")


def test_train_pool_has_both_kinds_and_chatterbot_turns():
    ps = train_prompts()
    assert {p.task for p in ps} == {"monolingual", "crosslingual"}
    for lang in ("ko", "ja", "zh"):
        turns = chatterbot_user_turns({"ko": "korean", "ja": "japanese", "zh": "chinese"}[lang])
        assert len(turns) > 50
        assert sum(p.source == "chatterbot-corpus" and p.language == lang for p in ps) == len(turns)
    assert {p.language for p in ps if p.task == "crosslingual"} == CONFUSION_LANGS - {"en"}


def test_crosslingual_requests_carry_their_in_language_version():
    """ko and ja cross-lingual prompts carry the same request written in the language (index for index, every
    phrasing), and fastText reads each as that language; languages without translations carry none."""
    from langlock.detect.lcb import default_lid_model_path, load_lid_model

    model = load_lid_model(str(default_lid_model_path()))

    def lid(text: str) -> str:
        return model.predict(text, k=1)[0][0].removeprefix("__label__")

    for lang in ("ko", "ja"):
        ps = [p for p in train_prompts([lang]) if p.task == "crosslingual"]
        assert len(ps) == 100 and all(p.meta.get("request_in_language") for p in ps)
        by_request = {}
        for p in ps:
            by_request.setdefault(p.id.split(".")[0], set()).add(p.meta["request_in_language"])
        assert len(by_request) == 20 and all(len(v) == 1 for v in by_request.values())
        assert all(lid(next(iter(v))) == lang for v in by_request.values())
    assert not any(p.meta for p in train_prompts(["de"]) if p.task == "crosslingual")


def _lcb_prompts(lcb_dir):
    out = []
    for path in sorted((lcb_dir / "test_sets").glob("*/*/*.csv")):
        with open(path, encoding="utf-8") as fh:
            out.extend(row["prompt"] for row in csv.DictReader(fh))
    return out


def test_train_pool_never_overlaps_the_benchmark_or_evaluation_suites(lcb_dir):
    train = {norm(p.prompt) for p in train_prompts()}
    evaluation = [p.prompt for p in confusion_prompts()] + [p.prompt for p in retention_prompts(per_kind=5)]
    lcb = _lcb_prompts(lcb_dir)
    assert len(lcb) == 6586
    clash_eval = train & {norm(x) for x in evaluation}
    clash_lcb = train & {norm(x) for x in lcb}
    assert not clash_eval, sorted(clash_eval)[:5]
    assert not clash_lcb, sorted(clash_lcb)[:5]
    # The cross-lingual requests themselves (before the language instruction) are not benchmark prompts either.
    from langlock.suites.data import load_json

    lcb_text = "\n".join(norm(x) for x in lcb)
    for request in load_json("train.json")["crosslingual_requests"] + load_json("confusion.json")["crosslingual_requests"]:
        assert norm(request) not in lcb_text, request
    # nor are the project's in-language versions of them (sampling prompts of in-language distillation)
    translated = load_json("train.json")["crosslingual_requests_translated"]
    for lang in ("ko", "ja"):
        for request in translated[lang]:
            assert norm(request) not in lcb_text and norm(request) not in {norm(x) for x in evaluation}, request
    # and the confusion suite's monolingual prompts are not benchmark prompts
    assert not ({norm(p.prompt) for p in confusion_prompts()} & {norm(x) for x in lcb})


def test_retention_tasks_are_seeded_and_checkable():
    a, b = retention_prompts(seed=1), retention_prompts(seed=1)
    assert [p.prompt for p in a] == [p.prompt for p in b]
    assert [p.prompt for p in a] != [p.prompt for p in retention_prompts(seed=2)]
    assert {p.meta["kind"] for p in a} == {"arith", "copy", "count"}
    assert {p.language for p in a} >= {"en", "es", "fr", "de", "ru", "ko", "ja"}
    for p in a:
        ans, kind = p.meta["answer"], p.meta["kind"]
        if kind == "arith":
            good, bad = f"The answer is {ans}.", f"{ans + 1}"
        elif kind == "copy":
            good, bad = f"Sure: {ans}", "Something else entirely."
        else:
            good, bad = ", ".join(map(str, ans)), ", ".join(map(str, ans[:-1]))
        assert check(p, good), (p, good)
        assert not check(p, bad), (p, bad)


def test_retention_count_rejects_counting_past_the_end():
    p = next(p for p in retention_prompts(seed=0) if p.meta["kind"] == "count")
    a, b = p.meta["answer"][0], p.meta["answer"][-1]
    run = ", ".join(str(i) for i in range(a, b + 1))
    assert check(p, f"Sure: {run}.")
    assert not check(p, f"{run}, {b + 1}, {b + 2}")


def test_retention_arith_accepts_number_words_and_operands_are_words():
    from num2words import num2words

    p = next(p for p in retention_prompts(seed=3) if p.meta["kind"] == "arith" and p.language == "de")
    assert not re.search(r"\d", p.prompt)  # operands are written out
    assert check(p, f"Sie hat jetzt {num2words(p.meta['answer'], lang='de')} Äpfel.")


def test_accuracy_rows_macro_average():
    ps = [p for p in retention_prompts(seed=0) if p.language in ("en", "es") and p.meta["kind"] == "copy"]
    pairs = [(p, p.meta["answer"] if p.language == "en" else "nope") for p in ps]
    rows = accuracy_rows(pairs)
    overall = rows[-1]
    assert (overall["kind"], overall["language"]) == ("all", "all")
    assert overall["accuracy"] == pytest.approx(0.5)
    assert {(r["language"], r["accuracy"]) for r in rows if r["kind"] == "copy" and r["language"] != "all"} == {
        ("en", 1.0), ("es", 0.0)}


def test_kl_divergence_values():
    import torch

    p = torch.tensor([[0.0, 0.0]])
    assert float(kl_divergence(p, p)) == 0.0
    q = torch.log(torch.tensor([[0.9, 0.1]]))
    expected = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    assert float(kl_divergence(p, q)) == pytest.approx(expected, rel=1e-6)
    assert float(kl_divergence(q, p)) != pytest.approx(expected)  # not symmetric
