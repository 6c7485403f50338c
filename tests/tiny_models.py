"""Tiny models for tests: a byte-level tokenizer with a ChatML chat template, a 2-layer Llama built from
config, saved as an HF directory, and the same model written as a GGUF file (F32) with `gguf`'s writer.

Everything is built in-process in well under a second; nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = [("h", "e"), ("l", "l")]


def byte_tokens() -> list[str]:
    """The 256 GPT-2 byte-level symbols, in byte order."""
    from tokenizers.pre_tokenizers import ByteLevel

    return sorted(ByteLevel.alphabet(), key=lambda ch: _byte_of(ch))


def _byte_of(ch: str) -> int:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip((chr(c) for c in cs), bs))[ch]


def all_tokens() -> list[str]:
    return SPECIALS + byte_tokens() + [a + b for a, b in MERGES]


def make_tokenizer():
    """A byte-level BPE tokenizer: every UTF-8 byte is a token, two merges, plus ChatML specials."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(all_tokens())}
    tk = Tokenizer(models.BPE(vocab=vocab, merges=list(MERGES)))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    tok.add_special_tokens({"additional_special_tokens": SPECIALS})
    tok.chat_template = CHAT_TEMPLATE
    return tok


def make_config(vocab_size: int = 261, hidden: int = 32, layers: int = 2):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=True,
        bos_token_id=1, eos_token_id=2, pad_token_id=0, rms_norm_eps=1e-5,
    )


def make_model_dir(path: Path, seed: int = 0) -> Path:
    """Save a tiny random Llama chat model (tokenizer + template) into `path`."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    tok = make_tokenizer()
    model = LlamaForCausalLM(make_config(vocab_size=len(tok)))
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def write_gguf(path: Path, arch: str = "llama", seed: int = 0, tensors: bool = True) -> Path:
    """Write a tiny F32 Llama GGUF with a byte-level gpt2 tokenizer and a chat template.

    `arch` other than "llama" gives a file whose architecture transformers does not support.
    """
    import numpy as np
    from gguf import GGUFWriter

    cfg = make_config()
    tokens = all_tokens()
    rng = np.random.default_rng(seed)
    writer = GGUFWriter(str(path), arch)
    writer.add_name("tiny-test-llama")
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([3] * len(SPECIALS) + [1] * (len(tokens) - len(SPECIALS)))
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_merges([f"{a} {b}" for a, b in MERGES])
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_pad_token_id(0)
    writer.add_chat_template(CHAT_TEMPLATE)
    if tensors:
        h, f, kv = cfg.hidden_size, cfg.intermediate_size, cfg.hidden_size // 2

        def t(*shape):
            return (rng.standard_normal(shape) * 0.05).astype(np.float32)

        writer.add_tensor("token_embd.weight", t(len(tokens), h))
        writer.add_tensor("output_norm.weight", np.ones(h, dtype=np.float32))
        for i in range(cfg.num_hidden_layers):
            p = f"blk.{i}."
            writer.add_tensor(p + "attn_norm.weight", np.ones(h, dtype=np.float32))
            writer.add_tensor(p + "ffn_norm.weight", np.ones(h, dtype=np.float32))
            writer.add_tensor(p + "attn_q.weight", t(h, h))
            writer.add_tensor(p + "attn_k.weight", t(kv, h))
            writer.add_tensor(p + "attn_v.weight", t(kv, h))
            writer.add_tensor(p + "attn_output.weight", t(h, h))
            writer.add_tensor(p + "ffn_gate.weight", t(f, h))
            writer.add_tensor(p + "ffn_up.weight", t(f, h))
            writer.add_tensor(p + "ffn_down.weight", t(h, f))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def make_adapter_dir(base: Path, path: Path, seed: int = 0):
    """Save a random (non-zero) LoRA adapter for the tiny model in `base` into `path`; returns the PEFT model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                                LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                           init_lora_weights=False))
    peft_model.save_pretrained(path)
    return peft_model
