"""PEFT LoRA adapter directories: recognise, validate and merge them into their base.

One place for the rules every loader shares (bench/compare via `load_model_and_tokenizer`, and
`langlock merge apply-adapter`): an adapter directory holds `adapter_config.json` and
`adapter_model.safetensors` (pickled `adapter_model.bin` is never loaded), and a merge that does not fit
its base is one input error naming the first mismatch. `load_adapters` attaches several adapters, unmerged, for
PEFT's mixed-batch inference (`langlock.generate.hf` routes rows to them; `langlock.adapters` holds libraries).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import InputError


def adapter_dir(spec: str | os.PathLike) -> Path | None:
    """`spec` as a PEFT adapter directory (has adapter_config.json, no config.json), else None."""
    path = Path(os.fspath(spec)).expanduser()
    if path.is_dir() and (path / "adapter_config.json").is_file() and not (path / "config.json").is_file():
        return path
    return None


def read_adapter_config(adapter: Path) -> dict:
    """The adapter's adapter_config.json, after checking its weights are safetensors."""
    cfg_path = adapter / "adapter_config.json"
    if not cfg_path.is_file():
        raise InputError(f"{adapter}: no adapter_config.json (a PEFT adapter directory is expected)")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise InputError(f"{cfg_path}: unreadable ({err})") from None
    if not isinstance(cfg, dict):
        raise InputError(f"{cfg_path}: not a JSON object")
    if not (adapter / "adapter_model.safetensors").is_file():
        raise InputError(f"{adapter}: no adapter_model.safetensors (pickled adapters are not loaded)")
    return cfg


def adapter_base(adapter: Path) -> str:
    """The base model an adapter was trained on (`base_model_name_or_path` of its adapter_config.json)."""
    base = read_adapter_config(adapter).get("base_model_name_or_path")
    if not base or not isinstance(base, str):
        raise InputError(f"{adapter / 'adapter_config.json'}: no base_model_name_or_path; "
                         "merge it first with langlock merge apply-adapter")
    return str(base)


def _misfit(adapter: Path, base_label, err: Exception) -> InputError:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()] or [type(err).__name__]
    detail = next((ln for ln in lines if "size mismatch" in ln), lines[0])
    return InputError(f"{adapter}: adapter does not fit its base {base_label} ({detail[:300]})")


def merge_adapter(model, adapter: Path, base_label: str | os.PathLike):
    """`model` with the LoRA `adapter` applied and folded into its weights (a plain transformers model)."""
    from peft import PeftModel

    try:
        peft_model = PeftModel.from_pretrained(model, adapter, is_trainable=False)
    except (RuntimeError, ValueError, KeyError) as err:
        raise _misfit(adapter, base_label, err) from None
    return peft_model.merge_and_unload()


def load_adapters(model, adapters: dict[str, Path], base_label: str | os.PathLike):
    """A `PeftModel` on `model` holding every adapter of `adapters` (name -> directory) under its name, not
    merged: PEFT's mixed-batch inference (`generate(..., adapter_names=[...])`) picks one per row."""
    from peft import PeftModel

    if not adapters:
        raise ValueError("no adapters to load")
    peft_model = None
    for name, path in adapters.items():
        path = Path(path)
        read_adapter_config(path)
        try:
            if peft_model is None:
                peft_model = PeftModel.from_pretrained(model, path, adapter_name=name, is_trainable=False)
            else:
                peft_model.load_adapter(path, adapter_name=name, is_trainable=False)
        except (RuntimeError, ValueError, KeyError) as err:
            raise _misfit(path, base_label, err) from None
    peft_model.eval()
    return peft_model
