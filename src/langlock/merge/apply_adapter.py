"""Fold a PEFT LoRA adapter into its base model (`merge_and_unload`) and save a plain safetensors model.

This is the one merge step that loads a whole model: PEFT merges the low-rank update into each wrapped
weight in memory.  Its output is an ordinary model directory, so it can then be layer-swapped, souped or
TIES-merged by the streaming commands.  Only safetensors adapters are accepted (no pickle loading).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from ..errors import InputError
from ..models.adapter import merge_adapter, read_adapter_config
from .io import DTYPE_NAMES, check_output_dir, staged_output_dir

logger = logging.getLogger(__name__)

_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
                    "vocab.json", "merges.txt", "added_tokens.json", "chat_template.jinja", "generation_config.json")
_TORCH = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64"}


def apply_adapter(base: str | Path, adapter: str | Path, out: str | Path, dtype: str = "auto",
                  overwrite: bool = False, max_shard_size: str = "2GB") -> Path:
    """Load `base`, apply the LoRA `adapter`, merge it into the weights and save to `out` (atomically)."""
    base, adapter = Path(base), Path(adapter)
    check_output_dir(out, overwrite)
    if not (base / "config.json").is_file():
        raise InputError(f"{base}: no config.json (a Hugging Face model directory is expected)")
    adapter_cfg = read_adapter_config(adapter)
    if dtype != "auto" and dtype not in DTYPE_NAMES:
        raise InputError(f"unknown --dtype {dtype!r}")

    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # keep stderr to our own lines (errors are one line)
    torch_dtype = "auto" if dtype == "auto" else getattr(torch, _TORCH[DTYPE_NAMES[dtype]])
    try:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch_dtype, use_safetensors=True,
                                                     trust_remote_code=False)
    except (OSError, ValueError) as err:
        raise InputError(f"{base}: cannot load base model ({str(err).splitlines()[0]})") from err
    merged = merge_adapter(model, adapter, base)
    with staged_output_dir(out, overwrite) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True, max_shard_size=max_shard_size)
        for fname in _TOKENIZER_FILES:
            src = adapter / fname if (adapter / fname).is_file() else base / fname
            if src.is_file():
                shutil.copyfile(src, tmp / fname)
        import yaml

        (tmp / "langlock_merge.yaml").write_text(yaml.safe_dump({
            "method": "apply-adapter", "base": str(base), "adapter": str(adapter), "dtype": dtype,
            "adapter_type": adapter_cfg.get("peft_type"), "r": adapter_cfg.get("r"),
            "lora_alpha": adapter_cfg.get("lora_alpha"), "target_modules": adapter_cfg.get("target_modules"),
        }, sort_keys=False), encoding="utf-8")
    logger.info("merged adapter %s into %s -> %s", adapter, base, out)
    return Path(out)
