"""Inference-time fixes and measurements: the `LanguageLock` logits processor, the off-target vocabulary
mask it uses, and per-step entropy / nucleus-size statistics.

Importing this package is cheap: torch and transformers load only when a lock is built
(`from langlock.inference.lock import LanguageLock`).
"""

from __future__ import annotations

__all__ = ["LanguageLock", "off_target_mask"]


def __getattr__(name):
    if name == "LanguageLock":
        from .lock import LanguageLock

        return LanguageLock
    if name == "off_target_mask":
        from .vocab import off_target_mask

        return off_target_mask
    raise AttributeError(name)
