"""Language-consistency reward for TRL's `GRPOTrainer` (signature `fn(completions, **kwargs) -> list[float]`).

Built on the same detector as the benchmark, so the training signal and the evaluation metric cannot drift
apart. Shaping (all values configurable in `language_consistency_reward`):

- ``1.0``: the detector passes the completion (target language throughout);
- ``partial_credit * (cp / len(text))`` for a confused completion, where ``cp`` is the first confusion
  character: a completion that drifts late earns a little more than one that is wrong from the start, and
  every confused completion earns less than every clean one (``partial_credit < 1``, default 0.5);
- ``skip_reward`` (default 0.0) when the detector finds nothing to judge (e.g. digits only, or an all-English
  answer in the English-neutral setting) and ``empty_reward`` (default 0.0) for a completion shorter than
  ``min_chars``: a model must not learn that saying nothing is the safest way to avoid confusion. TLPO's
  authors saw GRPO answers shrink under a sequence-level consistency reward; a length floor here only removes
  the degenerate optimum of an empty answer, it does not stop shortening.

The target language comes from the dataset's ``language`` column (TRL passes every column but ``prompt`` as a
keyword list) or, if absent, from the factory's ``language`` argument.
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import UsageError


def completion_text(completion) -> str:
    """Text of a completion in TRL's standard (string) or conversational (message list) format."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion if isinstance(m, dict)
                       and m.get("role", "assistant") == "assistant" and isinstance(m.get("content"), str))
    if isinstance(completion, dict):
        return str(completion.get("content", ""))
    raise TypeError(f"unsupported completion type {type(completion).__name__}")


def consistency_score(detection, text: str, *, partial_credit: float = 0.5, skip_reward: float = 0.0) -> float:
    """The shaped reward of one judged completion (see the module docstring)."""
    if detection.first_confusion_char >= 0 or detection.status == "fail":
        cp = max(detection.first_confusion_char, 0)
        return partial_credit * cp / max(len(text), 1)
    if detection.status == "skip":
        return skip_reward
    return 1.0


def language_consistency_reward(
    language: str | None = None,
    *,
    profile: str = "tlpo",
    ignore_english: bool = True,
    capital_rule: bool = True,
    partial_credit: float = 0.5,
    skip_reward: float = 0.0,
    empty_reward: float = 0.0,
    min_chars: int = 1,
) -> Callable[..., list[float]]:
    """Build the reward function; `language` is the default target when the data has no `language` column.

    `ignore_english` and `capital_rule` are the ``tlpo`` detector's options (`detect.script`): with the faithful
    ``capital_rule=True`` a capitalised Latin word is English-neutral, so a policy can earn the full reward by
    answering in Title Case English; False closes that (as `TLPOConfig.capital_rule` does for TLPO)."""
    if not 0 <= partial_credit < 1:
        raise UsageError(f"partial_credit must be in [0, 1), got {partial_credit}")
    from .detect import get_detector

    opts = {"ignore_english": ignore_english, "capital_rule": capital_rule} if profile == "tlpo" else {}
    if language is not None:
        get_detector(profile, language, **opts)  # validate early

    def language_consistency(completions, language=None, **kwargs) -> list[float]:
        langs = language if isinstance(language, list) else [language] * len(completions)
        out = []
        for comp, lang in zip(completions, langs):
            lang = lang or default_language
            if lang is None:
                raise UsageError("language_consistency reward: no target language (add a `language` column)")
            text = completion_text(comp)
            if len(text.strip()) < min_chars:
                out.append(empty_reward)
                continue
            det = get_detector(profile, lang, **opts).detect(text)
            out.append(consistency_score(det, text, partial_credit=partial_credit, skip_reward=skip_reward))
        return out

    default_language = language
    return language_consistency


__all__ = ["completion_text", "consistency_score", "language_consistency_reward"]
