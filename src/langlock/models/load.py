"""Load a resolved model and its tokenizer with transformers (local files only, no remote code)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UsageError
from .resolve import resolve_model

_DTYPES = ("float32", "bfloat16", "float16", "auto")


def load_model_and_tokenizer(
    spec: str | os.PathLike,
    dtype: str = "float32",
    device: str = "cpu",
    cache_dir: str | os.PathLike | None = None,
):
    """Resolve `spec` (see `resolve_model`) and return `(model, tokenizer, path)`, the model in eval mode.

    The tokenizer gets a pad token (EOS) if it has none; padding side is left to the caller.
    """
    if dtype not in _DTYPES:
        raise UsageError(f"unknown dtype {dtype!r}; choose one of {', '.join(_DTYPES)}")
    path: Path = resolve_model(spec, cache_dir)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(
        path, dtype=torch_dtype, local_files_only=True, trust_remote_code=False
    )
    model.to(device)
    model.eval()
    return model, tokenizer, path
