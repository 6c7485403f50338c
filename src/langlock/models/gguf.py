"""Convert a GGUF file once into a cached safetensors model directory.

transformers can load a GGUF checkpoint (dequantizing it), but a model loaded that way carries GGUF
quantization settings and refuses `save_pretrained`. So we load it once, rebuild the same architecture from
its config without the quantization settings, copy the dequantized weights in, re-tie the embeddings and
save model, generation config and tokenizer (with its chat template) into `<cache>/<stem>-<sha12>/`.
The directory is built under a temporary name and renamed, so an interrupted conversion leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from ..errors import InputError

log = logging.getLogger(__name__)

MARKER = "langlock_conversion.json"

# llama.cpp names that transformers maps to other names before checking support.
_ARCH_ALIASES = {"qwen2moe": "qwen2_moe", "qwen3moe": "qwen3_moe", "gpt-oss": "gpt_oss", "minimax-m2": "minimax_m2"}


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def gguf_architecture(path: Path) -> str:
    """The `general.architecture` of a GGUF file; `InputError` if the file is not a readable GGUF."""
    try:
        from gguf import GGUFReader

        reader = GGUFReader(str(path), "r")
        field = reader.fields["general.architecture"]
        return bytes(field.parts[field.data[0]]).decode("utf-8")
    except KeyError:
        raise InputError(f"{path}: GGUF file has no general.architecture field") from None
    except Exception as err:  # gguf raises ValueError/struct errors on a corrupt or non-GGUF file
        raise InputError(f"{path}: not a readable GGUF file ({type(err).__name__}: {err})") from None


def supported_architectures() -> list[str]:
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    return [a for a in GGUF_SUPPORTED_ARCHITECTURES if a not in ("general", "tokenizer")]


def check_supported(path: Path) -> str:
    """Return the architecture of GGUF `path`, or raise `InputError` if transformers cannot load it."""
    arch = gguf_architecture(path)
    supported = supported_architectures()
    if arch not in supported and _ARCH_ALIASES.get(arch) not in supported:
        raise InputError(
            f"{path}: GGUF architecture {arch!r} is not supported by transformers' GGUF loader "
            f"(supported: {', '.join(sorted(supported))})"
        )
    return arch


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "model"


def converted_dir(path: Path, cache: Path) -> Path:
    """Cache directory for GGUF `path`: keyed by the file's content hash, so an edited file reconverts."""
    return cache / f"{_slug(path.stem)}-{file_sha256(path)[:12]}"


def convert_gguf(path: Path, cache: Path) -> Path:
    """Return the cached HF directory for GGUF `path`, converting it first if needed."""
    path = Path(path).resolve()
    out = converted_dir(path, cache)
    if (out / MARKER).is_file():
        print(f"langlock: using converted model {out}", file=sys.stderr)
        return out
    arch = check_supported(path)
    print(f"langlock: converting {path.name} ({arch}) once into {out}", file=sys.stderr)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=cache))
    try:
        _convert_into(path, tmp, arch)
        if out.exists():  # another process finished first; keep its copy
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _convert_into(path: Path, dest: Path, arch: str) -> None:
    import copy

    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"gguf_file": path.name}
    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, **kwargs)
        quantized = AutoModelForCausalLM.from_pretrained(path.parent, dtype=torch.float32, **kwargs)
    except ValueError as err:
        raise InputError(f"{path}: transformers cannot load this GGUF ({err})") from None
    config = copy.deepcopy(quantized.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.float32
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(quantized.state_dict(), strict=False)
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    if set(missing) - tied or unexpected:
        raise InputError(f"{path}: converted weights do not match the architecture "
                         f"(missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]})")
    model.tie_weights()
    model.generation_config = copy.deepcopy(quantized.generation_config)
    del quantized
    model.save_pretrained(dest, safe_serialization=True)
    tokenizer.save_pretrained(dest)
    info = {
        "source": str(path),
        "sha256": file_sha256(path),
        "architecture": arch,
        "transformers": transformers.__version__,
        "chat_template": bool(getattr(tokenizer, "chat_template", None)),
    }
    (dest / MARKER).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
