"""Tiny multi-shard causal LMs built from a config (no Hub), for the merge tests (test code: not installed).

`save_tiny_lm` writes a randomly initialised Llama/Qwen2 with a few layers, sharded into many small
safetensors files, plus a tiny word-level `tokenizer.json`.  Passing `base=` derives an "expert" from an
existing tiny model by adding Gaussian noise of a chosen scale per layer, so analyses have a known answer.
Imports torch/transformers inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def save_tokenizer(path: Path, vocab_size: int, variant: int = 0) -> None:
    """A word-level tokenizer over tokens 'w0'..'w{n-1}' (`variant` shifts the ids: a different vocabulary)."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    words = [f"w{(i + variant) % vocab_size}" for i in range(vocab_size - 1)]
    vocab = {"<unk>": 0, **{w: i + 1 for i, w in enumerate(words)}}
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = Whitespace()
    tok.save(str(Path(path) / "tokenizer.json"))


def tiny_config(arch: str = "llama", layers: int = 6, hidden: int = 32, intermediate: int = 64, vocab: int = 128,
                tie: bool = False):
    from transformers import LlamaConfig, Qwen2Config

    cls = {"llama": LlamaConfig, "qwen2": Qwen2Config}[arch]
    return cls(hidden_size=hidden, intermediate_size=intermediate, num_hidden_layers=layers, num_attention_heads=4,
               num_key_value_heads=2, vocab_size=vocab, tie_word_embeddings=tie, max_position_embeddings=64)


def save_tiny_lm(path: str | Path, seed: int = 0, arch: str = "llama", layers: int = 6, hidden: int = 32,
                 intermediate: int = 64, vocab: int = 128, tie: bool = False, shard: str = "50KB",
                 base: str | Path | None = None, layer_noise: Mapping[int, float] | None = None,
                 other_noise: float = 0.0, tokenizer_variant: int | None = 0) -> Path:
    """Save a tiny causal LM to `path` (sharded); with `base`, perturb that model's weights instead."""
    import torch
    from transformers import AutoModelForCausalLM

    from langlock.merge.plan import layer_index

    path = Path(path)
    torch.manual_seed(seed)
    if base is not None:
        model = AutoModelForCausalLM.from_pretrained(base)
        noise = dict(layer_noise or {})
        with torch.no_grad():
            for name, p in model.named_parameters():
                i = layer_index(name)
                scale = other_noise if i is None else noise.get(i, other_noise)
                if scale:
                    p.add_(torch.randn_like(p) * scale)
    else:
        model = AutoModelForCausalLM.from_config(tiny_config(arch, layers, hidden, intermediate, vocab, tie))
    model.save_pretrained(path, max_shard_size=shard)
    if tokenizer_variant is not None:
        save_tokenizer(path, model.config.vocab_size, tokenizer_variant)
    return path
