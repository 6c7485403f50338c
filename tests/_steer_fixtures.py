"""Fixtures for the SITE steering tests: tiny Llama / Qwen2 / Gemma 3 models built from config (Gemma 3 with
heads x head_dim != hidden size), and an independent oracle for the heads' outputs (attention recomputed by
hand from the layer's input, not read by a hook)."""

from __future__ import annotations


def tiny_llama(seed: int = 0, init_range: float = 0.02):
    """The tiny Llama of `tiny_models`; a larger `init_range` makes its outputs depend more on its input (at
    the default the random model is close to uniform whatever the steering)."""
    import torch
    from transformers import LlamaForCausalLM

    from tiny_models import make_config, make_tokenizer

    torch.manual_seed(seed)
    cfg = make_config(vocab_size=len(make_tokenizer()))
    cfg.initializer_range = init_range
    return LlamaForCausalLM(cfg).eval()


def tiny_qwen2(seed: int = 0):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    cfg = Qwen2Config(vocab_size=261, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    return Qwen2ForCausalLM(cfg).eval()


def tiny_gemma3(seed: int = 0):
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(seed)
    cfg = Gemma3TextConfig(vocab_size=261, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=1, head_dim=16,
                           max_position_embeddings=256, sliding_window=8)
    return Gemma3ForCausalLM(cfg).eval()


def manual_head_outputs(model, ids: list[int]):
    """Llama: each layer's per-head attention output at the last token, [L, H, d], recomputed from the
    layer's input hidden state (norm, q/k/v, RoPE, grouped-query causal attention)."""
    import torch
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    x_ids = torch.tensor([ids])
    t = len(ids)
    with torch.no_grad():
        hidden = model(input_ids=x_ids, output_hidden_states=True, use_cache=False).hidden_states
        pos = torch.arange(t)[None]
        out = []
        for layer_idx, layer in enumerate(model.model.layers):
            att = layer.self_attn
            d = att.head_dim
            x = layer.input_layernorm(hidden[layer_idx])
            q = att.q_proj(x).view(1, t, -1, d).transpose(1, 2)
            k = att.k_proj(x).view(1, t, -1, d).transpose(1, 2)
            v = att.v_proj(x).view(1, t, -1, d).transpose(1, 2)
            cos, sin = model.model.rotary_emb(x, pos)
            q, k = apply_rotary_pos_emb(q, k, cos, sin)
            rep = q.shape[1] // k.shape[1]
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
            scores = (q @ k.transpose(-1, -2)) * d ** -0.5
            scores = scores.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
            o = scores.softmax(-1) @ v  # [1, H, t, d]
            out.append(o[0, :, -1])
        return torch.stack(out)
