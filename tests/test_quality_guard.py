"""The validity guard of TLPO's branch scoring (pure): a branch that reaches the right script by looping or
echoing the prompt scores −1, a genuine continuation +1, a confused one −1 as before."""

from __future__ import annotations

from langlock.quality.guard import guarded_predicate, invalid_branch
from langlock.train.tlpo_ops import score_branches

PROMPT = "밤에 더 빨리 잠들려면 어떻게 해야 하나요?"


def never(_):
    return False


def test_a_loop_or_an_echo_scores_minus_one_a_genuine_continuation_plus_one():
    loop = guarded_predicate(never, "동안" * 20, PROMPT)
    genuine = guarded_predicate(never, "잠들기 한 시간 전에는 휴대폰을 멀리 두고 ", PROMPT)
    echo = guarded_predicate(never, PROMPT + " ", PROMPT)
    assert score_branches(["동안동안", "따뜻한 우유를"], loop) == [-1.0, -1.0]  # the context is a loop already
    assert score_branches(["따뜻한 우유를 마셔 보세요.", "조용한 음악을 들으세요."], genuine) == [1.0, 1.0]
    assert score_branches([PROMPT], echo) == [-1.0]  # restating the prompt twice
    assert score_branches(["동안" * 30], genuine) == [-1.0]  # the branch itself starts a loop


def test_the_detector_still_decides_confusion_and_short_text_is_not_judged():
    confused = guarded_predicate(lambda s: "the" in s, "잠들기 전에 ", PROMPT)
    assert score_branches(["the best", "물을 마시고"], confused) == [-1.0, 1.0]
    assert invalid_branch("", None)("") is False
    assert invalid_branch("", PROMPT)("따뜻한") is False  # no prompt copy, no loop: valid
