"""`SteerFile`: one fitted SITE steering for one model and one language, stored as one safetensors file.

Tensors: ``embedding`` [L, H, head_dim] (the task embedding, float32) and ``logits`` [L, H] (the soft head
selection before the sigmoid, float32). The header's metadata holds one JSON document under ``langlock_steer``:
``language``, ``fingerprint`` (`steer.arch.model_fingerprint` of the model it was fitted on), ``prompt_format``
(the renderer's: "chat" or "qa"), ``settings`` (shots, prompts, steps, loss tokens, lr, seed, examples), ``fit``
(the loss curve and before/after losses, seconds) and ``langlock_version``. Saving and loading are bit-exact
(safetensors stores the raw tensor bytes); the file is written atomically. No pickle anywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, UsageError

META_KEY = "langlock_steer"
FORMAT_VERSION = 1


@dataclass
class SteerFile:
    embedding: object  # torch.Tensor [L, H, d]
    logits: object  # torch.Tensor [L, H]
    meta: dict = field(default_factory=dict)

    @property
    def language(self) -> str:
        return self.meta["language"]

    @property
    def alpha(self):
        return self.logits.sigmoid()

    def check_model(self, model, path: str = "") -> None:
        """Refuse a model other than the one this file was fitted on (`UsageError`, one line)."""
        from .arch import fingerprint_mismatch, model_fingerprint

        why = fingerprint_mismatch(self.meta.get("fingerprint", {}), model_fingerprint(model))
        if why:
            raise UsageError(f"steering file {path or self.language!s} was fitted for another model: {why}")

    def save(self, path: str | Path) -> Path:
        from safetensors.torch import save

        from ..io_utils import atomic_open

        meta = {**self.meta, "format_version": FORMAT_VERSION}
        data = save({"embedding": self.embedding.detach().float().contiguous().cpu(),
                     "logits": self.logits.detach().float().contiguous().cpu()},
                    metadata={META_KEY: json.dumps(meta, sort_keys=True)})
        path = Path(path)
        with atomic_open(path, "wb") as fh:
            fh.write(data)
        return path


def load_steer_file(path: str | Path) -> SteerFile:
    """Read a file written by `SteerFile.save` (`InputError` when it is missing or not one)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise InputError(f"steering file {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = (fh.metadata() or {}).get(META_KEY)
            keys = set(fh.keys())
            tensors = {k: fh.get_tensor(k) for k in keys & {"embedding", "logits"}}
    except (SafetensorError, OSError, ValueError) as err:
        raise InputError(f"{path} is not a safetensors file: {err}") from None
    if raw is None or set(tensors) != {"embedding", "logits"}:
        raise InputError(f"{path} is not a langlock steering file (no {META_KEY} metadata / tensors)")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: unreadable steering metadata: {err}") from None
    emb, logits = tensors["embedding"], tensors["logits"]
    if emb.dim() != 3 or tuple(logits.shape) != tuple(emb.shape[:2]) or "language" not in meta:
        raise InputError(f"{path}: embedding {tuple(emb.shape)} and logits {tuple(logits.shape)} do not match")
    return SteerFile(emb, logits, meta)
