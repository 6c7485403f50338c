"""`SteerHooks`: forward pre-hooks on every attention output projection (`o_proj`) of a model.

The input of `o_proj` is the concatenation of the heads' outputs, [batch, tokens, heads * head_dim]. The hooks
either read it (`capture`: one position per row, for the task embedding) or rewrite it per head at one
position per row (injection)::

    o[l, h] <- (1 - a[l, h]) * o[l, h] + a[l, h] * t[l, h]

then the layer's own `o_proj` runs on the result. Injection happens in prefill only — a forward pass with no
cached keys: the model-level pre-hook tells prefill from decode by the length of `past_key_values` — at the
last prompt token (left padding puts it at the last index of every row) or at positions given per row (a fit
whose input continues past the prompt). Later tokens see the injected position through the KV cache. With
`decode_scale > 0` every decode step is also injected, with `decode_scale * a` in place of `a`.

Each batch row has its own vectors: `set_injection(rows, alpha, vectors)` names the rows to steer (the
others are untouched, bit for bit) with `alpha` [n, L, H] and `vectors` [n, L, H, d]. `alpha` may carry
gradients (the fit). The hooks are installed by `with SteerHooks(model):` and removed on exit.
"""

from __future__ import annotations

from .arch import attention_layers, model_shape


def _cache_length(cache) -> int:
    if cache is None:
        return 0
    if hasattr(cache, "get_seq_length"):
        return int(cache.get_seq_length())
    return int(cache[0][0].shape[-2]) if len(cache) else 0  # legacy tuples


class SteerHooks:
    def __init__(self, model):
        self.model = model
        self.attns = attention_layers(model)
        self.layers, self.heads, self.head_dim = model_shape(model)
        self._handles: list = []
        self.prefill = True
        self.decode_scale = 0.0
        self.rows = None  # LongTensor [n]: rows to inject
        self.alpha = None  # [n, L, H]
        self.vectors = None  # [n, L, H, d]
        self.positions = None  # None (last index) or LongTensor [n]
        self.captured: list | None = None  # capture mode: per layer [B, H, d]
        self.capture_positions = None

    # --- state -------------------------------------------------------------------------------------------
    def set_injection(self, rows, alpha, vectors, positions=None, decode_scale: float = 0.0) -> None:
        import torch

        dev = self.attns[0].o_proj.weight.device
        self.rows = torch.as_tensor(rows, dtype=torch.long, device=dev)
        n = self.rows.numel()
        shape = (n, self.layers, self.heads)
        if tuple(alpha.shape) != shape or tuple(vectors.shape) != (*shape, self.head_dim):
            raise ValueError(f"alpha {tuple(alpha.shape)} / vectors {tuple(vectors.shape)} do not match "
                             f"{n} rows of {self.layers}x{self.heads}x{self.head_dim}")
        self.alpha, self.vectors = alpha.to(dev), vectors.to(dev)
        self.positions = None if positions is None else torch.as_tensor(positions, dtype=torch.long, device=dev)
        self.decode_scale = float(decode_scale)

    def clear(self) -> None:
        self.rows = self.alpha = self.vectors = self.positions = None
        self.captured = self.capture_positions = None

    def start_capture(self, positions=None) -> None:
        """Record, at the next forward, each row's `o_proj` input at `positions` (default: last index)."""
        self.captured = [None] * self.layers
        self.capture_positions = positions

    # --- hooks -------------------------------------------------------------------------------------------
    def __enter__(self):
        self._handles.append(self.model.register_forward_pre_hook(self._phase, with_kwargs=True))
        for layer, attn in enumerate(self.attns):
            self._handles.append(attn.o_proj.register_forward_pre_hook(self._make_hook(layer)))
        return self

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self.clear()
        return False

    def _phase(self, module, args, kwargs):
        self.prefill = _cache_length(kwargs.get("past_key_values")) == 0

    def _make_hook(self, layer: int):
        def hook(module, args):
            x = args[0]
            if self.captured is not None:
                return self._capture(layer, x)
            if self.rows is None:
                return None
            if self.prefill:
                pos, scale = (self.positions if self.positions is not None else x.shape[1] - 1), 1.0
            elif self.decode_scale > 0:
                pos, scale = x.shape[1] - 1, self.decode_scale
            else:
                return None
            n = self.rows.numel()
            o = x[self.rows, pos].reshape(n, self.heads, self.head_dim)
            a = self.alpha[:, layer, :, None].to(x.dtype)
            if scale != 1.0:
                a = a * scale
            t = self.vectors[:, layer].to(x.dtype)
            new = (1 - a) * o + a * t
            x = x.clone()
            x[self.rows, pos] = new.reshape(n, self.heads * self.head_dim)
            return (x,) + tuple(args[1:])

        return hook

    def _capture(self, layer: int, x):
        import torch

        b = x.shape[0]
        pos = self.capture_positions if self.capture_positions is not None else x.shape[1] - 1
        rows = torch.arange(b, device=x.device)
        self.captured[layer] = x[rows, pos].detach().reshape(b, self.heads, self.head_dim).float().cpu()
        return None

    def take_capture(self):
        """The captured activations as one tensor [B, L, H, d] (float32, CPU); ends capture mode."""
        import torch

        if self.captured is None or any(c is None for c in self.captured):
            raise RuntimeError("no complete capture: run one forward pass after start_capture()")
        out = torch.stack(self.captured, dim=1)
        self.captured = self.capture_positions = None
        return out
