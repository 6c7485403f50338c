"""Generation backends behind one interface (`Generator`): `hf`, `openai`, `file`, `vllm`.

`make_generator(backend, **options)` builds one. `hf` is also langlock's one generation core for local models
(`generate.hf`: bench, sweep, analyze, the data sampler, the merge experiment script), with one prompt
renderer (`generate.render`), one seed rule (`prompt_seed`) and one batcher (`base.length_batches`).
Importing this package imports neither torch nor transformers (each backend imports what it needs when it
is built).
"""

from __future__ import annotations

from ..errors import UsageError
from .base import (
    BENCHMARK_DEFAULTS,
    Completion,
    GenerationError,
    GenerationSettings,
    Generator,
    PromptItem,
    prompt_seed,
)

BACKENDS = ("hf", "openai", "file", "vllm")


def make_generator(backend: str, **options) -> Generator:
    """Build backend `backend`; options are the backend class's keyword arguments."""
    if backend == "hf":
        from .hf import HFGenerator

        return HFGenerator(**options)
    if backend == "openai":
        from .openai import OpenAIGenerator

        return OpenAIGenerator(**options)
    if backend == "file":
        from .file import FileGenerator

        return FileGenerator(**options)
    if backend == "vllm":
        from .vllm import VLLMGenerator

        return VLLMGenerator(**options)
    raise UsageError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "BENCHMARK_DEFAULTS", "Completion", "GenerationError", "GenerationSettings", "Generator",
           "PromptItem", "make_generator", "prompt_seed"]
