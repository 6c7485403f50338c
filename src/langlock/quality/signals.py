"""Cheap validity signals: pure functions of an answer (and its prompt), no model, no torch.

Each signal measures one way an answer can pass a language check without being an answer:
- echo: the answer restates the prompt. `echo_stats` returns the share of the answer's character n-grams
  that occur in the prompt (`share`) and how many prompts' worth of prompt n-grams the answer holds
  (`copies`); an answer is an echo when `share` is high (it is mostly prompt) or `copies` reaches ~2
  (it restates the prompt twice).
- copy: the answer restates an in-context example's answer (few-shot prompting, few-shot sampled training
  data): `is_copy` against each example; a copy when one stretch reproduces at least `copy_long_run` of an
  example or `copy_share` of the answer comes from one example.
- degenerate: a repetition loop (the zlib check of `langlock.score.degeneracy`, plus the share of repeated
  character n-grams, which also sees loops too short for zlib) or a near-empty answer.
Text is compared after `normalise`: NFKC, case-folded, letters and digits only, so spacing and punctuation
do not hide a copy, and the same code serves Latin, CJK and Hangul text.
Thresholds live in `Thresholds` (values chosen on the LCB outputs and the dev set, docs/quality.md).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ..score.degeneracy import DEFAULT_MIN_BYTES, DEFAULT_RATIO, is_repetitive


@dataclass(frozen=True)
class Thresholds:
    """Cut-offs of the cheap signals (see docs/quality.md for the data they were chosen on)."""

    echo_ngram: int = 8  #: length of a copied stretch (normalised characters) for the echo signal
    ngram: int = 4  #: character n-gram length of the repetition signal (on normalised text)
    echo_share: float = 0.70  #: echo when at least this share of the answer's n-grams occur in the prompt
    echo_copies: float = 1.8  #: echo when copied stretches (each >= echo_long_run prompts) sum to this
    echo_prompt_cov: float = 0.7  #: ... and reproduces at least this share of the prompt
    echo_long_run: float = 0.8  #: a stretch this share of the prompt's length counts as a restatement
    echo_min_prompt: int = 4  #: prompts shorter than this (normalised chars) are too short to judge echo
    copy_share: float = 0.5  #: copy when at least this share of the answer comes from one in-context example
    copy_long_run: float = 0.5  #: ... or one copied stretch reproduces this share of an example
    repeat_share: float = 0.5  #: loop when at least this share of the answer's n-grams are repeats
    repeat_min_chars: int = 12  #: answers shorter than this (normalised chars) are not judged for repeats
    min_chars: int = 2  #: near-empty below this many letters/digits
    zlib_ratio: float = DEFAULT_RATIO
    zlib_min_bytes: int = DEFAULT_MIN_BYTES


DEFAULT_THRESHOLDS = Thresholds()


_NOT_ALNUM = re.compile(r"[\W_]+")  # \w is str.isalnum() plus "_", so this keeps letters and digits only


def normalise(text: str) -> str:
    """NFKC, case-folded, only letters and digits (spaces and punctuation removed)."""
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", text).casefold())


def char_ngrams(norm: str, n: int) -> list[str]:
    """Overlapping character n-grams of normalised text (the whole text when shorter than n)."""
    if not norm:
        return []
    if len(norm) <= n:
        return [norm]
    return [norm[i : i + n] for i in range(len(norm) - n + 1)]


@dataclass(frozen=True)
class EchoStats:
    share: float  #: share of the answer's characters inside a stretch copied from the prompt
    copies: float  #: characters in long copied stretches / prompt length: ~1 restates it once, ~2 twice
    prompt_cov: float | None = 0.0  #: share of the prompt's characters the answer reproduces (None: not needed)


def copied_runs(answer_norm: str, prompt_norm: str, n: int) -> list[int]:
    """Lengths of the maximal stretches of `answer_norm` covered by n-grams that also occur in `prompt_norm`."""
    grams = set(char_ngrams(prompt_norm, n)) if len(prompt_norm) >= n else set()
    runs, start, end = [], -1, -1  # current stretch [start, end)
    for i in range(len(answer_norm) - n + 1):
        if answer_norm[i : i + n] in grams:
            if i > end:
                if end > start:
                    runs.append(end - start)
                start = i
            end = i + n
    if end > start:
        runs.append(end - start)
    return runs


def echo_stats(answer: str, prompt: str, n: int = DEFAULT_THRESHOLDS.echo_ngram,
               long_run: float = DEFAULT_THRESHOLDS.echo_long_run) -> EchoStats:
    """How much of `answer` is copied from `prompt` (both normalised); zeros for an empty side.
    `prompt_cov` is the share of the prompt reproduced somewhere in the answer.

    `share` counts every copied character; `copies` only stretches of at least `long_run` x the prompt's
    length (a restated prompt, not shared topic words), divided by the prompt's length. For a prompt shorter
    than 2n the stretch length drops to half the prompt (at least 3)."""
    return echo_stats_normalised(normalise(answer), normalise(prompt), n, long_run)


def echo_stats_normalised(a: str, p: str, n: int = DEFAULT_THRESHOLDS.echo_ngram,
                          long_run: float = DEFAULT_THRESHOLDS.echo_long_run, cov_from: float = 0.0) -> EchoStats:
    """`echo_stats` of already normalised answer `a` and prompt `p`. `prompt_cov` (a pass over the whole
    prompt, the costly part for long prompts) is computed only when `share` >= `cov_from`, else None."""
    n = min(n, max(3, len(p) // 2))
    if not a or len(p) < n:
        return EchoStats(0.0, 0.0)
    runs = copied_runs(a, p, n)
    long_copied = sum(r for r in runs if r >= long_run * len(p))
    share = sum(runs) / len(a)
    cov = sum(copied_runs(p, a, n)) / len(p) if share >= cov_from else None
    return EchoStats(share, long_copied / len(p), cov)


def is_copy_normalised(a: str, examples: list[str], th: Thresholds = DEFAULT_THRESHOLDS) -> bool:
    """Copy: normalised answer `a` restates one of the normalised in-context example answers `examples` —
    `copy_share` of `a` copied from it, or one stretch covering `copy_long_run` of it (a demonstration
    reproduced, then continued). Examples shorter than `echo_min_prompt` are ignored."""
    if not a:
        return False
    for e in examples:
        if len(e) < th.echo_min_prompt:
            continue
        runs = copied_runs(a, e, min(th.echo_ngram, max(3, len(e) // 2)))
        if runs and (sum(runs) / len(a) >= th.copy_share or max(runs) >= th.copy_long_run * len(e)):
            return True
    return False


def is_copy(answer: str, examples, th: Thresholds = DEFAULT_THRESHOLDS) -> bool:
    """`is_copy_normalised` of raw texts: does `answer` restate one of the in-context `examples`?"""
    return is_copy_normalised(normalise(answer), [normalise(e) for e in examples], th)


def is_echo(answer: str, prompt: str | None, th: Thresholds = DEFAULT_THRESHOLDS) -> bool | None:
    """True/False, or None (not judged) when there is no prompt or it is too short to tell."""
    if prompt is None or len(normalise(prompt)) < th.echo_min_prompt:
        return None
    return echo_rule(echo_stats(answer, prompt, th.echo_ngram, th.echo_long_run), th)


def echo_rule(s: EchoStats, th: Thresholds = DEFAULT_THRESHOLDS) -> bool:
    """Echo: mostly prompt *and* reproducing much of it (quoting a long passage is not an echo), or the
    prompt restated about twice."""
    return (s.share >= th.echo_share and s.prompt_cov is not None and s.prompt_cov >= th.echo_prompt_cov) \
        or s.copies >= th.echo_copies


def repeat_share(answer: str, n: int = DEFAULT_THRESHOLDS.ngram, *, normalised: bool = False) -> float:
    """Share of the answer's character n-grams that repeat an earlier one (0 for an empty answer)."""
    grams = char_ngrams(answer if normalised else normalise(answer), n)
    if not grams:
        return 0.0
    return 1 - len(set(grams)) / len(grams)


def content_chars(answer: str) -> int:
    """Letters and digits in the answer."""
    return len(normalise(answer))


def degenerate_reasons(answer: str, th: Thresholds = DEFAULT_THRESHOLDS, norm: str | None = None) -> list[str]:
    """Reasons `answer` is degenerate: "empty", "repetitive" (zlib), "repeated_ngrams"; [] when none.
    `norm` is `normalise(answer)` when the caller has it already."""
    norm = normalise(answer) if norm is None else norm
    if len(norm) < th.min_chars:
        return ["empty"]
    out = []
    if is_repetitive(answer, th.zlib_ratio, th.zlib_min_bytes):
        out.append("repetitive")
    if len(norm) >= th.repeat_min_chars and repeat_share(norm, th.ngram, normalised=True) >= th.repeat_share:
        out.append("repeated_ngrams")
    return out
