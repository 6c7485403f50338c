"""Cheap validity signals and verdicts (langlock.quality): echo, loops, near-empty, prompt join."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from langlock.quality import Thresholds, judge_answer, judge_records
from langlock.quality.join import attach_prompts, find_test_sets
from langlock.quality.signals import degenerate_reasons, echo_stats, is_echo, normalise, repeat_share

PROMPT = "밤에 더 빨리 잠들려면 어떻게 해야 하나요?"
GOOD = ("잠들기 전에 스마트폰을 멀리 두고, 매일 같은 시간에 자고 일어나는 습관을 들이세요. "
        "카페인은 오후에는 피하고, 침실은 어둡고 시원하게 유지하는 것이 좋습니다.")


def test_normalise_drops_case_space_punctuation():
    assert normalise("Hello, World!  ＡＢ") == "helloworldab"
    assert normalise("잠들려면 어떻게?") == "잠들려면어떻게"


def test_echo_exact_twice_and_genuine():
    assert echo_stats(PROMPT, PROMPT).share == pytest.approx(1.0)
    twice = echo_stats(PROMPT + " " + PROMPT, PROMPT)
    assert twice.copies == pytest.approx(2.0)
    assert is_echo(PROMPT, PROMPT) is True
    assert is_echo(PROMPT + "\n" + PROMPT + " 네", PROMPT) is True
    assert is_echo(GOOD, PROMPT) is False
    # restating the question once before answering is an answer, not an echo
    assert is_echo(PROMPT + " " + GOOD, PROMPT) is False


def test_echo_not_judged_without_prompt():
    assert is_echo(GOOD, None) is None
    assert is_echo(GOOD, "짧다") is None  # too short to tell


def test_loops_and_empty():
    assert degenerate_reasons("동안동안동안동안동안동안동안") == ["repeated_ngrams"]
    assert "repetitive" in degenerate_reasons("새로운 " * 40)
    assert degenerate_reasons("  ... ") == ["empty"]
    assert degenerate_reasons(GOOD) == []
    assert repeat_share("") == 0.0
    assert repeat_share("abcdefgh") == 0.0


def test_verdict_reasons_and_not_judged():
    v = judge_answer(PROMPT, PROMPT)
    assert v.valid is False and v.invalid_reasons == ("echo",)
    v = judge_answer(GOOD, None)
    assert v.valid is True and v.not_judged == ("echo",)
    v = judge_answer(GOOD, PROMPT, nll_per_byte=2.5, nll_limit=1.2, fluency=True)
    assert v.valid is False and v.invalid_reasons == ("disfluent",)
    v = judge_answer(GOOD, PROMPT, nll_per_byte=0.8, nll_limit=1.2, fluency=True)
    assert v.valid is True and v.scores["nll_per_byte"] == 0.8
    v = judge_answer(GOOD, PROMPT, fluency=True)  # no calibration for this language
    assert v.valid is True and v.not_judged == ("fluency",)
    assert json.dumps(v.to_dict())


def test_thresholds_are_used():
    strict = Thresholds(repeat_share=0.0)
    assert "repeated_ngrams" in degenerate_reasons(GOOD, strict)


def test_judge_records_accepts_objects_dicts_and_prompt_override():
    recs = [SimpleNamespace(completion=PROMPT, language="ko", prompt=PROMPT), {"completion": GOOD, "language": "ko"}]
    out = judge_records(recs)
    assert [v.valid for v in out] == [False, True]
    assert out[1].not_judged == ("echo",)
    out = judge_records(recs, prompts=[None, GOOD])
    assert out[0].not_judged == ("echo",) and out[1].invalid_reasons == ("echo",)
    with pytest.raises(ValueError):
        judge_records(recs, prompts=[None])


class _FakeJudge:
    """Stands in for a judge model: a fixed NLL per text, limit only for ko."""

    def nll_per_byte(self, texts):
        return [3.0 if "뷁" in t else 0.5 for t in texts]

    def limit(self, lang):
        return 1.0 if lang == "ko" else None


def test_judge_records_with_judge():
    recs = [{"completion": GOOD, "language": "ko"}, {"completion": "뷁퓨랗 솨겋 뎌뮤녀 챠틔", "language": "ko"},
            {"completion": GOOD, "language": "ar"}]
    out = judge_records(recs, judge=_FakeJudge())
    assert [v.valid for v in out] == [True, False, True]
    assert out[1].invalid_reasons == ("disfluent",) and out[2].not_judged == ("echo", "fluency")


def _test_sets(root):
    d = root / "lcb" / "test_sets" / "monolingual" / "native"
    d.mkdir(parents=True)
    (d / "ko.csv").write_text(f"prompt,source,language\n{PROMPT},native_prompts,ko\n질문 두 번째입니다,native_prompts,ko\n",
                              encoding="utf-8")
    (root / "lcb" / "outputs").mkdir()
    return root / "lcb"


def test_join_prompts_by_id(tmp_path):
    lcb = _test_sets(tmp_path)
    out_csv = lcb / "outputs" / "m.csv"
    assert find_test_sets([out_csv]) == lcb / "test_sets"
    assert find_test_sets([tmp_path / "x.csv"]) is None
    recs = [SimpleNamespace(task="monolingual", source="native_prompts", language="ko", id="1", prompt=None),
            SimpleNamespace(task="monolingual", source="native_prompts", language="ko", id="7", prompt=None),
            SimpleNamespace(task="monolingual", source="native_prompts", language="ko", id=None, prompt="own"),
            SimpleNamespace(task="monolingual", source="native_prompts", language="ko", id="0", prompt=None)]
    assert attach_prompts(recs, lcb / "test_sets") == ["질문 두 번째입니다", None, "own", PROMPT]
    assert attach_prompts(recs, None) == [None, None, "own", None]


DEMOS = ["Gieße sie, wenn sich die Erde trocken anfühlt, gib ihnen viel Licht und lass nie Wasser im Topf stehen.",
         "Ein täglicher Spaziergang stärkt das Herz, hebt die Stimmung und hilft dir, besser zu schlafen."]


def test_copy_of_an_in_context_example():
    """An answer that restates a demonstration it was shown (verbatim, or reproduced and then continued) is a
    copy; an answer on another topic that shares a few words is not; without examples the signal is silent."""
    prompt = "Explain how options trading works. Please answer in German."
    verbatim = DEMOS[0]
    continued = DEMOS[1] + " Außerdem ist Optionshandel ein Vertrag über das Recht, eine Aktie später zu kaufen."
    genuine = ("Eine Option ist ein Vertrag: Man zahlt eine Prämie und darf eine Aktie später zu einem festen Preis "
               "kaufen. Das hilft dir, Risiken zu begrenzen.")
    assert "copy" in judge_answer(verbatim, prompt, examples=DEMOS).invalid_reasons
    assert "copy" in judge_answer(continued, prompt, examples=DEMOS).invalid_reasons
    assert judge_answer(genuine, prompt, examples=DEMOS).valid is True
    assert judge_answer(verbatim, prompt).valid is True  # no examples shown: nothing to copy
    # judge_records reads each record's examples
    recs = [{"completion": verbatim, "prompt": prompt, "language": "de", "examples": DEMOS},
            {"completion": verbatim, "prompt": prompt, "language": "de"}]
    assert [v.invalid_reasons for v in judge_records(recs)] == [("copy",), ()]
