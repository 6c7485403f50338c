"""95 % bootstrap intervals over prompts for pass rates.

`bootstrap_sums(rows, n_boot, seed)` resamples one group's answers (rows of per-answer counts) with
replacement and returns the column sums of every replicate; the caller turns the sums into its rates with
the same formulas as the point estimate (vectorised over replicates), so a rate and its interval cannot
disagree on what is counted. Groups are resampled independently (stratified bootstrap), which keeps the
benchmark's averages over groups meaningful. Deterministic for a given seed and group order.
"""

from __future__ import annotations

import numpy as np

DEFAULT_N_BOOT = 1000
DEFAULT_SEED = 0


def bootstrap_sums(rows, n_boot: int = DEFAULT_N_BOOT, seed: int | list[int] = DEFAULT_SEED) -> np.ndarray:
    """(n_boot, k) column sums of `rows` (n, k) resampled with replacement; (n_boot, k) zeros for no rows."""
    m = np.asarray(rows, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"rows must be a 2-D table, got shape {m.shape}")
    if m.shape[0] == 0:
        return np.zeros((n_boot, m.shape[1]))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, m.shape[0], size=(n_boot, m.shape[0]))
    return m[idx].sum(axis=1)


def percentile_interval(replicates, level: float = 0.95) -> tuple[float, float] | None:
    """Central `level` percentile interval of bootstrap replicates (None when there are none / all NaN)."""
    a = np.asarray(replicates, dtype=float)
    a = a[~np.isnan(a)]
    if a.size == 0:
        return None
    lo, hi = np.quantile(a, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)
