"""Load a resolved model and its tokenizer with transformers (local files only, no remote code).

A PEFT LoRA adapter directory (`adapter_config.json`, no `config.json`) is accepted wherever a model is: its
base (`base_model_name_or_path`, or `base` when given) is resolved like any model, the adapter applied and
merged, so `langlock bench --model runs/tlpo/model` evaluates a training run's output directly.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UsageError
from .adapter import adapter_base, adapter_dir, merge_adapter
from .resolve import resolve_model

_DTYPES = ("float32", "bfloat16", "float16", "auto")


def load_model_and_tokenizer(
    spec: str | os.PathLike,
    dtype: str = "float32",
    device: str = "cpu",
    cache_dir: str | os.PathLike | None = None,
):
    """Resolve `spec` (see `resolve_model`; or a LoRA adapter directory) and return `(model, tokenizer, path)`.

    The model is in eval mode; an adapter is merged into its base, in float32 when a half-precision `dtype` is
    asked for and only then cast: PEFT adds the delta in the weights' dtype, and a LoRA update smaller than half
    a bfloat16 step of a weight would otherwise round away. The tokenizer (the adapter's own when it saved one)
    gets a pad token (EOS) if it has none; padding side is left to the caller.
    """
    if dtype not in _DTYPES:
        raise UsageError(f"unknown dtype {dtype!r}; choose one of {', '.join(_DTYPES)}")
    tokenizer, path, adapter = _tokenizer(spec, cache_dir)
    import torch
    from transformers import AutoModelForCausalLM

    torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)

    def load(dt):
        return AutoModelForCausalLM.from_pretrained(path, dtype=dt, local_files_only=True, trust_remote_code=False)

    model = load(torch_dtype)
    if adapter and dtype in ("bfloat16", "float16"):
        merged = dict(merge_adapter(load(torch.float32), adapter, path).named_parameters())
        with torch.no_grad():  # the float32 merge rounded once into the model as loaded in `dtype`; its buffers
            for name, param in model.named_parameters():  # (rotary frequencies: float32) and config stay as
                param.copy_(merged[name])  # loaded, exactly as the base's own half-precision load has them
        del merged
    elif adapter:
        model = merge_adapter(model, adapter, path)
    model.to(device)
    model.eval()
    return model, tokenizer, adapter or path


def load_tokenizer(spec: str | os.PathLike, cache_dir: str | os.PathLike | None = None):
    """The tokenizer `load_model_and_tokenizer(spec)` would return, without loading the weights."""
    return _tokenizer(spec, cache_dir)[0]


def _tokenizer(spec, cache_dir):
    """(tokenizer, resolved base directory, adapter directory or None)."""
    adapter = adapter_dir(spec)
    path: Path = resolve_model(adapter_base(adapter) if adapter else spec, cache_dir)
    from transformers import AutoTokenizer

    tok_dir = adapter if adapter and (adapter / "tokenizer_config.json").is_file() else path
    tokenizer = AutoTokenizer.from_pretrained(tok_dir, local_files_only=True, trust_remote_code=False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, path, adapter
