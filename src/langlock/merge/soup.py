"""Model soup (Wortsman et al., 2022): θ = Σ_k w_k θ^k / Σ_k w_k, tensor by tensor."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..errors import UsageError


def normalized(weights: Sequence[float]) -> list[float]:
    """Weights divided by their sum; negative weights or a zero sum are refused."""
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise UsageError(f"weights must be non-negative with a positive sum, got {list(weights)}")
    total = float(sum(weights))
    return [float(w) / total for w in weights]


def weighted_sum(read: Callable[[int], np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """Σ_k w_k · read(k), holding at most two arrays at a time (the accumulator and one input).

    `read(k)` must return a fresh array the function may modify in place.  Inputs with weight 0 are not read.
    """
    acc = None
    for k, w in enumerate(weights):
        if w == 0:
            continue
        x = read(k)
        if w != 1:
            x *= x.dtype.type(w)
        if acc is None:
            acc = x
        else:
            acc += x
        del x
    if acc is None:
        raise UsageError("every weight is zero")
    return acc
