"""SITE steering: an ICL-derived *language* task embedding injected per attention head with a learned soft
head selection (methods-spec §5, Park et al., "Soft head-selection for ICL-derived Task Embeddings").

The "task" is *answer in language L*. Pieces, one module each:

- `steer.arch`: where the heads are (each layer's attention module and its `o_proj`; Llama/SmolLM2, Mistral,
  Qwen2/3, Gemma 1-3), the head shape from the attention module itself (Gemma 3: heads x head_dim differs
  from the hidden size), and the model fingerprint a fitted file is checked against;
- `steer.hooks`: `SteerHooks`, forward pre-hooks on every `o_proj` that read (task embedding) or rewrite
  (injection ``o <- (1 - a) o + a t`` per head) the concatenated head outputs at the last prompt token, in
  prefill only (optionally also at every generated token, scaled); each batch row carries its own vectors;
- `steer.embed`: the task embedding, the mean over M few-shot prompts of those head outputs -> (L, H, d);
- `steer.fit`: the soft selection a = sigmoid(logits), logits (L, H) from 0, Adam, one zero-shot example a
  step, cross-entropy of the first (or first k) answer tokens, the model frozen; `fit_steer` (the library
  function behind `langlock steer fit`);
- `steer.file`: `SteerFile` (embedding, logits, metadata) as one safetensors file, bit-exact round trip;
- `steer.apply`: `Steering`, fitted files by language applied to a model with a per-row language (the `hf`
  generation core applies it through `DecodeOptions.steer`).

Prompts are rendered by the one renderer (`generate.render.PromptRenderer`): chat template for instruct
models, ``Q:/A:`` for base models; embedding, fit and inference use the same rendering (the file records it).
Importing this package imports neither torch nor transformers.
"""

from __future__ import annotations

__all__ = ["SteerFile", "Steering", "SteerFitConfig", "fit_steer", "load_steer_file"]


def __getattr__(name):  # lazy: keep `import langlock.steer` cheap
    if name in ("SteerFile", "load_steer_file"):
        from . import file

        return getattr(file, name)
    if name == "Steering":
        from .apply import Steering

        return Steering
    if name in ("SteerFitConfig", "fit_steer"):
        from . import fit

        return getattr(fit, name)
    raise AttributeError(name)
