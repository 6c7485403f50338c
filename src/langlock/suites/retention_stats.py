"""Statistics of the likelihood retention checks, pure functions (no torch):

- `accuracy_se`: accuracy and its standard error (sample standard deviation / sqrt(n), lm-eval's `acc_stderr`);
- `mcnemar`: exact two-sided McNemar test of a model against its base on the same items (the discordant items
  only: those one gets right and the other wrong);
- `paired_difference`: mean of per-unit differences (model − base, paired by item or by document) with its
  95 % Student-t interval (`langlock.compare.statistics.mean_ci`) — what resolves a 2-point change, because the
  items' own difficulty cancels out;
- `per_byte_nll`: summed token NLL (nats) / UTF-8 bytes of the text scored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def per_byte_nll(token_nlls: Sequence[float], n_bytes: int) -> float:
    """Summed NLL of a text's tokens (nats) per UTF-8 byte: comparable across tokenizers within a language."""
    if n_bytes <= 0:
        raise ValueError("per_byte_nll of an empty text")
    return float(sum(token_nlls)) / n_bytes


def accuracy_se(correct: Sequence[bool]) -> tuple[float | None, float | None]:
    """(accuracy, standard error); (None, None) without items, SE None for a single item."""
    n = len(correct)
    if n == 0:
        return None, None
    p = sum(map(bool, correct)) / n
    if n < 2:
        return p, None
    return p, math.sqrt(p * (1 - p) * n / (n - 1) / n)


def mcnemar(model: Sequence[bool], base: Sequence[bool]) -> dict:
    """Exact McNemar test: ``only_model`` (model right, base wrong), ``only_base`` and the two-sided p-value of
    the binomial(only_model + only_base, 1/2) test (1.0 without discordant items)."""
    if len(model) != len(base):
        raise ValueError(f"{len(model)} model results for {len(base)} base results")
    b = sum(1 for m, r in zip(model, base) if m and not r)
    c = sum(1 for m, r in zip(model, base) if r and not m)
    n = b + c
    if n == 0:
        return {"only_model": 0, "only_base": 0, "p_value": 1.0}
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2 ** n
    return {"only_model": b, "only_base": c, "p_value": min(1.0, 2 * tail)}


def paired_difference(model: Sequence[float], base: Sequence[float]) -> dict:
    """Mean of model − base over paired units, with the 95 % t-interval ``ci95`` = [low, high] (None for < 2)."""
    from ..compare.statistics import mean_ci

    if len(model) != len(base):
        raise ValueError(f"{len(model)} model values for {len(base)} base values")
    diffs = [float(m) - float(b) for m, b in zip(model, base)]
    mean, half = mean_ci(diffs)
    ci = None if mean is None or half is None else [mean - half, mean + half]
    return {"mean": mean, "ci95": ci, "n": len(diffs)}
