"""The validity guard of TLPO training (`TLPOConfig.validity_guard`): a branch scores −1 when it is confused
*or* when taking it leaves an invalid answer.

TLPO scores each branch at a confusion point with the detector alone, so a policy can reach the right script by
looping, echoing the prompt or emitting syllable noise (docs/tlpo.md). With the guard, the branch's text is
judged in context — the response before the confusion point followed by the branch — with the cheap signals of
`signals` (echo against the prompt, loops, near-empty), no model. `invalid_branch(before, prompt)` returns the
predicate; the trainer combines it with the detector's in `tlpo_ops.score_branches`.
"""

from __future__ import annotations

from collections.abc import Callable

from .signals import DEFAULT_THRESHOLDS, Thresholds
from .verdict import judge_answer


def invalid_branch(before: str, prompt: str | None, th: Thresholds = DEFAULT_THRESHOLDS) -> Callable[[str], bool]:
    """Predicate: does the answer `before + snippet` fail a cheap validity signal (echo of `prompt`, a loop,
    near-empty)? An empty `before + snippet` is not judged here (the branch is too short to tell)."""

    def invalid(snippet: str) -> bool:
        text = before + snippet
        if not text.strip():
            return False
        return judge_answer(text, prompt, th=th).valid is False

    return invalid


def guarded_predicate(is_confused: Callable[[str], bool], before: str, prompt: str | None,
                      th: Thresholds = DEFAULT_THRESHOLDS) -> Callable[[str], bool]:
    """`is_confused` OR `invalid_branch(before, prompt)`: the guarded branch scoring's −1 condition."""
    invalid = invalid_branch(before, prompt, th)
    return lambda snippet: is_confused(snippet) or invalid(snippet)
