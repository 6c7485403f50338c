"""Where a model's attention heads are, and the fingerprint a fitted steering file is checked against.

`attention_layers(model)` returns each decoder layer's attention module (in layer order) for the supported
families; `head_shape(attn)` reads (heads, head_dim) from the module itself: `attn.head_dim` and the input
width of its output projection `o_proj` (Gemma 3's heads x head_dim is not its hidden size, so never derive
them from the hidden size). Any other architecture is a `UsageError`.

`model_fingerprint(model)` = the structure (model type, layers, heads, head_dim, hidden size, vocabulary) and
a small deterministic sample of weights (evenly spaced entries of the embedding and of the first and last
output projections, as float32). `check_fingerprint` refuses a file whose structure differs, or whose
weight sample differs by more than `WEIGHT_RTOL` in relative L2 norm (a different model of the same shape);
the tolerance lets a float32 fit run on the same model loaded in bfloat16.
"""

from __future__ import annotations

from ..errors import UsageError

#: model_type values whose decoder layers are `model.model.layers[i].self_attn` with an `o_proj`.
SUPPORTED = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "gemma3")
WEIGHT_RTOL = 1e-2
SAMPLES_PER_TENSOR = 16


def _decoder_layers(model):
    mtype = getattr(model.config, "model_type", None)
    if mtype not in SUPPORTED:
        raise UsageError(f"SITE steering supports {', '.join(SUPPORTED)} models, not {mtype!r}")
    inner = getattr(model, "model", model)
    if mtype == "gemma3" and hasattr(inner, "language_model"):  # the multimodal wrapper
        inner = inner.language_model
    layers = getattr(inner, "layers", None)
    if layers is None:
        raise UsageError(f"cannot find the decoder layers of this {mtype!r} model")
    return layers


def attention_layers(model) -> list:
    """Each decoder layer's attention module, in order (each has `o_proj` and `head_dim`)."""
    attns = [layer.self_attn for layer in _decoder_layers(model)]
    for a in attns:
        if not hasattr(a, "o_proj") or not hasattr(a, "head_dim"):
            raise UsageError(f"attention module {type(a).__name__} has no o_proj/head_dim")
    return attns


def head_shape(attn) -> tuple[int, int]:
    """(heads, head_dim) of one attention module, from the module itself."""
    d = int(attn.head_dim)
    width = attn.o_proj.in_features
    if width % d:
        raise UsageError(f"o_proj input width {width} is not a multiple of head_dim {d}")
    return width // d, d


def model_shape(model) -> tuple[int, int, int]:
    """(layers, heads, head_dim); every layer must have the same head shape."""
    attns = attention_layers(model)
    shapes = {head_shape(a) for a in attns}
    if len(shapes) != 1:
        raise UsageError(f"layers differ in head shape {sorted(shapes)}; not supported")
    h, d = shapes.pop()
    return len(attns), h, d


def _sample(t) -> list[float]:
    flat = t.detach().reshape(-1)
    n, k = flat.numel(), SAMPLES_PER_TENSOR
    idx = [i * (n - 1) // (k - 1) for i in range(k)]  # exact integers (a float linspace overruns large tensors)
    return [float(flat[i].float()) for i in idx]


def model_fingerprint(model) -> dict:
    """Structure + weight sample of `model` (JSON data)."""
    layers, heads, head_dim = model_shape(model)
    attns = attention_layers(model)
    weights = (_sample(model.get_input_embeddings().weight) + _sample(attns[0].o_proj.weight)
               + _sample(attns[-1].o_proj.weight))
    return {"model_type": model.config.model_type, "layers": layers, "heads": heads, "head_dim": head_dim,
            "hidden_size": int(model.get_input_embeddings().weight.shape[1]),
            "vocab_size": int(model.get_input_embeddings().weight.shape[0]),
            "weights": [round(w, 7) for w in weights]}


def fingerprint_mismatch(expected: dict, actual: dict) -> str | None:
    """Why `actual` is not the model of `expected` (None when it is)."""
    for key in ("model_type", "layers", "heads", "head_dim", "hidden_size", "vocab_size"):
        if expected.get(key) != actual.get(key):
            return f"{key} {expected.get(key)!r} in the file, {actual.get(key)!r} in the model"
    a, b = expected.get("weights") or [], actual.get("weights") or []
    if len(a) != len(b):
        return "the weight samples differ in length"
    num = sum((x - y) ** 2 for x, y in zip(a, b)) ** 0.5
    den = sum(x * x for x in a) ** 0.5 or 1.0
    if num / den > WEIGHT_RTOL:
        return f"its weights differ (relative difference {num / den:.3g} of the sampled weights)"
    return None
