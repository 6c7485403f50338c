"""`LanguageLock`: a transformers logits processor that keeps generation in the target language's script.

Why: the LCB paper finds that confusion happens at uncertain steps (at confusion points the nucleus holds
~3.6 tokens and the entropy is ~1.23 nats, versus ~1.6 tokens and ~0.36 nats elsewhere). So at steps whose
entropy exceeds a threshold (or at every step, `entropy_threshold=None`) the lock removes (`mode="suppress"`,
logit -inf) or lowers (`mode="penalize"`, logit minus `penalty`) every token whose script is wrong for the
target (`langlock.inference.vocab`: digits, punctuation, whitespace, code and special tokens are never
touched). No training, any transformers model.

Per step it costs one log-softmax over the vocabulary (the entropy, only when gated) and one masked fill: the
off-target mask is a boolean tensor computed once per tokenizer and kept on the scores' device.

Place it first in the processor list, so that it sees the model's raw logits (the entropy is measured at
temperature 1) and sampling or top-p work on the locked distribution:
`model.generate(..., logits_processor=LogitsProcessorList([LanguageLock(tokenizer, "ko")]))`.
"""

from __future__ import annotations

from transformers import LogitsProcessor

from ..errors import UsageError
from .lock_args import MODES
from .stats import entropy
from .vocab import off_target_mask


class LanguageLock(LogitsProcessor):
    """Suppress or penalise off-target-script tokens at uncertain steps (see the module docstring).

    Args:
        tokenizer: the model's tokenizer (fast tokenizers: byte-level BPE or SentencePiece with byte fallback).
        language: target language code (ko zh ja ar hi ru, or a Latin-script one: en es de fr id it pt).
        mode: "suppress" (logit -> -inf) or "penalize" (logit -> logit - penalty).
        penalty: amount subtracted in "penalize" mode (logits are log-probabilities up to a constant, so 5
            makes a token e^5 ≈ 150 times less likely).
        entropy_threshold: act only at steps whose entropy (nats) exceeds this; None = every step.
        allow_latin: for non-Latin targets, leave ASCII/Latin letters alone (the detector's
            `ignore_english=True`) and block only other scripts.
    """

    def __init__(self, tokenizer, language: str, *, mode: str = "suppress", penalty: float = 5.0,
                 entropy_threshold: float | None = None, allow_latin: bool = False):
        if mode not in MODES:
            raise UsageError(f"unknown lock mode {mode!r}; choose one of {', '.join(MODES)}")
        if penalty < 0:
            raise UsageError(f"lock penalty must be >= 0, got {penalty}")
        if entropy_threshold is not None and entropy_threshold < 0:
            raise UsageError(f"lock entropy threshold must be >= 0 nats, got {entropy_threshold}")
        import torch

        self.language = language
        self.mode = mode
        self.penalty = float(penalty)
        self.entropy_threshold = entropy_threshold
        self.allow_latin = allow_latin
        self.mask = torch.from_numpy(off_target_mask(tokenizer, language, allow_latin=allow_latin).copy())
        self._device_masks: dict[tuple, object] = {}
        #: Steps seen and steps where the lock acted (summed over rows), for reports.
        self.steps = 0
        self.active_steps = 0

    @property
    def n_blocked(self) -> int:
        return int(self.mask.sum())

    def describe(self) -> dict:
        return {"language": self.language, "mode": self.mode, "penalty": self.penalty,
                "entropy_threshold": self.entropy_threshold, "allow_latin": self.allow_latin,
                "blocked_tokens": self.n_blocked, "vocab": int(self.mask.numel())}

    def _mask_for(self, scores):
        """The mask as a [vocab] bool tensor on the scores' device, fitted to the scores' width (`fit_mask`)."""
        key = (scores.device, scores.shape[-1])
        mask = self._device_masks.get(key)
        if mask is None:
            mask = self._device_masks[key] = fit_mask(self.mask, scores.shape[-1]).to(scores.device)
        return mask

    def __call__(self, input_ids, scores):
        self.steps += scores.shape[0]
        out, hit = lock_logits(scores, self._mask_for(scores).unsqueeze(0), mode=self.mode, penalty=self.penalty,
                               entropy_threshold=self.entropy_threshold)
        self.active_steps += hit
        return out


def fit_mask(mask, size: int):
    """A [vocab] bool mask (torch) fitted to a model's output width `size`: padded with False when the output
    layer is larger than the tokenizer (padding rows are never blocked), cut when it is smaller."""
    import torch

    out = torch.zeros(size, dtype=torch.bool)
    n = min(size, mask.numel())
    out[:n] = mask[:n]
    return out


def lock_logits(scores, rows, *, mode: str = "suppress", penalty: float = 5.0,
                entropy_threshold: float | None = None):
    """The lock's one core (the `transformers` processor above and the vLLM one, `inference.vllm_lock`).

    `scores` [B, V] raw logits; `rows` a bool mask broadcastable to them ([1, V] one language, [B, V] one per
    row; an all-False row is untouched). Returns (new scores, number of rows acted on): with an entropy
    threshold only rows above it act. "penalize" subtracts `penalty` from masked logits; "suppress" sets them
    to -inf, except in a row whose every finite logit is off-target, which stays as it was (never leave a row
    with nothing to choose). Returns `scores` itself when no row acts."""
    import torch

    if entropy_threshold is not None:
        gate = entropy(scores) > entropy_threshold  # [B]
        hit = int(gate.sum())
        if hit == 0:
            return scores, 0
        rows = rows & gate.unsqueeze(1)  # [B, V]
    else:
        hit = scores.shape[0]
    if mode == "penalize":
        return scores - rows.to(scores.dtype) * penalty, hit
    locked = scores.masked_fill(rows, float("-inf"))
    ok = torch.isfinite(locked.amax(dim=-1, keepdim=True))
    return torch.where(ok, locked, scores), hit


def make_lock(tokenizer, spec: str | None, **options) -> LanguageLock | None:
    """A `LanguageLock` from a CLI value: None/"" -> None, "ko" -> lock for ko (options as keywords)."""
    if not spec:
        return None
    from ..languages import check_language

    return LanguageLock(tokenizer, check_language(spec), **options)


class LockFactory:
    """`language -> [LanguageLock]` for the generation core's per-row processors
    (`generate.hf.DecodeOptions.processors`): one lock per language, built on first use and reused, so rows
    of one language share a call. `None` (a row without a language) gets no lock.

    `languages` (``{"ko": {"mode": "suppress"}, ...}``) restricts the locks to those languages, each with its own
    options over the shared ``options``; every other language decodes unchanged. Without it every language
    with a row is locked to itself (the decoding sweep's lock cell)."""

    def __init__(self, tokenizer, languages: dict[str, dict] | None = None, **options):
        self.tokenizer = tokenizer
        self.options = options
        self.languages = None if languages is None else {k: dict(v or {}) for k, v in languages.items()}
        self.locks: dict[str, LanguageLock] = {}

    def __call__(self, language: str | None) -> list:
        if language is None or (self.languages is not None and language not in self.languages):
            return []
        if language not in self.locks:
            own = self.languages.get(language, {}) if self.languages is not None else {}
            opts = {**self.options, **{k: v for k, v in own.items() if k != "language"}}
            self.locks[language] = LanguageLock(self.tokenizer, language, **opts)
        return [self.locks[language]]
