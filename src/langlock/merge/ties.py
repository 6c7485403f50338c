"""TIES-merging (Yadav et al., NeurIPS 2023): trim, elect sign, disjoint merge — two trimming scopes.

`paper`: the reference implementation's rules.  Each expert's task vector τ_k = θ_k − θ_B is trimmed over
the **whole flattened model**: with d entries and density K, the threshold is the (d − ⌊dK⌋)-th smallest
|τ_k| (`torch.kthvalue`), and entries with |τ_k| ≥ threshold are kept.  The elected sign is
sign(Σ_k τ̂_k) per coordinate; coordinates where that sum is 0 take the model-wide majority sign
sign(Σ_coords sign(Σ_k τ̂_k)).  The merged vector is the mean of the τ̂_k that agree with the elected sign
(0 if none), and θ = θ_B + λ τ_m.  Streaming needs the global thresholds and the majority sign before any
tensor is written, hence `MagnitudeThreshold` (exact k-th value by a two-pass radix select on float32 bits).

`mergekit`: mergekit's `ties` method.  Trimming is **per tensor**: exactly ⌊density · n⌋ entries of largest
|τ_k| are kept; the trimmed deltas are multiplied by per-model weights; the elected sign per coordinate is
+1 where Σ_k w_k τ̂_k ≥ 0 (`sum`) or Σ_k sign(w_k τ̂_k) ≥ 0 (`count`), else −1; agreeing deltas are summed
and, with `normalize`, divided by the sum of the agreeing models' weights; then scaled by λ.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_HI = 65536


def paper_kth(d: int, density: float) -> int:
    """1-based rank (from the smallest) of the threshold |τ| in the reference code: d − ⌊d·K⌋."""
    if density >= 1:
        return 0  # keep everything
    return max(d - int(d * density), 1)


class MagnitudeThreshold:
    """Exact k-th smallest |x| over a stream of arrays, in two passes and O(65536) memory.

    Non-negative float32 values sort like their bit patterns as uint32, so pass 1 histograms the high 16 bits
    to find the bucket holding rank k, and pass 2 histograms the low 16 bits inside that bucket.
    """

    def __init__(self, k: int):
        self.k = k
        self.hist = np.zeros(_HI, dtype=np.int64)
        self.bucket = -1
        self.rank_in_bucket = 0
        self.value: float | None = 0.0 if k == 0 else None

    @staticmethod
    def _bits(x: np.ndarray) -> np.ndarray:
        return np.abs(np.asarray(x, dtype=np.float32)).ravel().view(np.uint32)

    def add_pass1(self, x: np.ndarray) -> None:
        if self.k:
            self.hist += np.bincount(self._bits(x) >> 16, minlength=_HI)

    def end_pass1(self) -> None:
        if not self.k:
            return
        cum = np.cumsum(self.hist)
        if self.k > cum[-1]:
            raise ValueError(f"rank {self.k} exceeds the {cum[-1]} values seen")
        self.bucket = int(np.searchsorted(cum, self.k))
        self.rank_in_bucket = self.k - (int(cum[self.bucket - 1]) if self.bucket else 0)
        self.hist[:] = 0

    def add_pass2(self, x: np.ndarray) -> None:
        if self.k:
            bits = self._bits(x)
            inside = bits[(bits >> 16) == self.bucket]
            self.hist += np.bincount(inside & 0xFFFF, minlength=_HI)

    def end_pass2(self) -> float:
        if self.k:
            low = int(np.searchsorted(np.cumsum(self.hist), self.rank_in_bucket))
            self.value = float(np.array([(self.bucket << 16) | low], dtype=np.uint32).view(np.float32)[0])
        return self.value


def trim_threshold(tau: np.ndarray, threshold: float) -> np.ndarray:
    """Paper trimming with a precomputed global threshold: keep |τ| ≥ threshold, in place."""
    tau[np.abs(tau) < threshold] = 0
    return tau


def elect_sum_signs(trimmed: Sequence[np.ndarray]) -> np.ndarray:
    """sign(Σ_k τ̂_k) per coordinate (0 where the sum is 0); summed in order, like `Tensor.sum(dim=0)`."""
    total = trimmed[0].copy()
    for t in trimmed[1:]:
        total += t
    return np.sign(total)


def paper_disjoint_merge(trimmed: Sequence[np.ndarray], signs: np.ndarray, majority_sign: float) -> np.ndarray:
    """Mean of the τ̂_k that agree with the elected sign; zero signs take the model-wide majority sign."""
    signs = np.where(signs == 0, signs.dtype.type(majority_sign), signs)
    positive = signs > 0
    total = np.zeros_like(trimmed[0])
    count = np.zeros(trimmed[0].shape, dtype=np.int32)
    for t in trimmed:
        selected = np.where(positive, t > 0, t < 0)
        total += np.where(selected, t, 0)
        count += selected & (t != 0)
    total /= np.maximum(count, 1).astype(total.dtype)
    return total


def magnitude_trim(tau: np.ndarray, density: float) -> np.ndarray:
    """mergekit `magnitude` sparsification: keep exactly ⌊density·n⌋ entries of largest |τ| (in place).

    mergekit refuses ⌊density·n⌋ = 0 with an assertion; here that trims the tensor's task vector to zero.
    """
    if density >= 1:
        return tau
    n = tau.size
    k = int(density * n)
    flat = tau.reshape(-1)
    if k <= 0:
        flat[:] = 0
        return tau
    keep = np.argpartition(np.abs(flat), n - k)[n - k:]
    mask = np.zeros(n, dtype=bool)
    mask[keep] = True
    flat[~mask] = 0
    return tau


def mergekit_ties(base: np.ndarray, deltas: Sequence[np.ndarray], weights: Sequence[float], lam: float = 1.0,
                  normalize: bool = True, method: str = "sum") -> np.ndarray:
    """mergekit's `ties` combination of already trimmed deltas: elect, disjoint weighted sum, normalise, λ."""
    dt = base.dtype.type
    weighted = [d * dt(w) for d, w in zip(deltas, weights)]
    if method == "sum":
        total = weighted[0].copy()
        for w in weighted[1:]:
            total += w
    elif method == "count":
        total = np.sign(weighted[0])
        for w in weighted[1:]:
            total += np.sign(w)
    else:
        raise ValueError(f"unknown majority method {method!r}")
    majority = np.where(total >= 0, dt(1), dt(-1))
    del total
    mixed = np.zeros_like(base)
    divisor = np.zeros_like(base)
    for wd, w in zip(weighted, weights):
        mask = np.sign(wd) == majority
        mixed += np.where(mask, wd, 0)
        divisor += np.where(mask, dt(w), 0)
    if normalize:
        divisor[divisor == 0] = 1
        mixed /= divisor
    if lam != 1:
        mixed *= dt(lam)
    return base + mixed
