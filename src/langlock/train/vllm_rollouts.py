"""TLPO rollouts on a colocated vLLM engine (`TLPOConfig.use_vllm`), the way TRL's GRPO runs `vllm_mode="colocate"`.

Only step 1 of a TLPO step (sampling `num_generations` rollouts per prompt) moves to vLLM; the confusion
points, the exploration at them (top-k branches and their greedy lookahead) and the update stay in
`transformers` on the trainer's model. The pieces:

- **The engine** is `generate.vllm.VLLMGenerator`'s (`vllm.LLM` on the trainer's model directory, its dtype,
  `enforce_eager` from `TLPOConfig.vllm_enforce_eager`), built in the trainer's own process: langlock sets
  ``VLLM_ENABLE_V1_MULTIPROCESSING=0`` while it builds the engine (vLLM sets it for good for TRL's
  `external_launcher` colocate mode) so that vLLM V1's engine core and its one worker (the `uni` executor)
  live in this process and a weight push hands tensors over without copying them between processes. On CPU the worker replaces `torch.set_num_threads` by a no-op
  (vLLM pins threads in its worker processes); with no worker process that would take the call away from
  the trainer, so it is restored after the engine starts.
- **Weight pushes** (`sync_weights`): the trainer's weights, under their Hugging Face names, go to the
  worker's `reload_weights` (``llm.collective_rpc``), vLLM's in-place reload for RL weight updates: it
  restores each layer to its checkpoint layout, runs the model's own `load_weights` (which maps the names
  onto the fused `qkv_proj` / `gate_up_proj`) and processes the layer again. That last part matters on
  CPU: vLLM repacks every linear weight for oneDNN after loading and drops the original parameter, so
  TRL's direct ``model.load_weights`` (``…driver_worker.model_runner.model``) fails there
  (``'Parameter' object has no attribute 'weight_loader'``). With LoRA each adapted weight is pushed as
  ``W + ΔW`` with PEFT's `get_delta_weight`, computed into a new tensor: the trainer's base weights (TLPO's
  reference policy) are never merged into and unmerged again, so they do not drift by rounding. Like TRL,
  the push happens before a step's rollouts whenever the optimiser has stepped since the last one
  (`rollouts`), so the engine always samples from the current policy.
- **Sampling** is the `transformers` path's: temperature, `top_p` / `top_k` resolved exactly as
  `generate` resolves them (config, then the model's `generation_config`, then transformers' defaults,
  e.g. `top_k=50`), `max_completion_length`, the trainer's EOS ids as stop tokens. Each rollout has its
  own seed, `prompt_seed(seed, step / row / prompt)`, so a step's rollouts do not depend on the batch
  or on what ran before (a resumed run samples the same ones).
- **Token ids** are the engine's: the prompt ids the trainer rendered go in, the sampled ids come back and
  are what the trainer then detects, branches and scores (no decode / re-encode round trip).
- **Stopping at the confusion point**: vLLM cannot run the trainer's `StoppingCriteria`, so a rollout runs
  to EOS or `max_completion_length` and `stop_length` then cuts it where `_StopAtConfusion` would have
  stopped it (the same checks every `confusion_check_every` tokens, the same two-agreeing-checks rule).
  The rollouts the trainer sees are therefore the ones the `transformers` path's rule keeps; only the
  sampling work past the cut is spent in vLLM.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

from ..errors import UsageError
from ..generate.base import prompt_seed

#: vLLM's switch between an engine core in a separate process (default) and in this one (colocated).
_INPROC = "VLLM_ENABLE_V1_MULTIPROCESSING"
#: Sampling options of `transformers.generate` that have no vLLM counterpart here: a rollout config that
#: sets them (directly or through the model's generation_config) is refused rather than sampled differently.
_UNSUPPORTED = {"typical_p": 1.0, "epsilon_cutoff": 0.0, "eta_cutoff": 0.0, "no_repeat_ngram_size": 0}


def vllm_installed() -> bool:
    """Whether the real vLLM package is importable (a namespace folder named ``vllm`` does not count)."""
    spec = importlib.util.find_spec("vllm")
    return spec is not None and spec.origin is not None


def check_available() -> None:
    """`UsageError` (one line) when this environment has no vLLM."""
    if not vllm_installed():
        raise UsageError("use_vllm needs vLLM in this environment: run `make install-vllm` and train with "
                         ".venv-vllm/bin/langlock (docs/vllm.md)")


def stop_length(tokenizer, detector, ids: list[int], every: int) -> int:
    """How many of `ids` (a response) the `transformers` path keeps under `stop_at_confusion`: the length at
    the first check (every `every` tokens) whose confusion point equals the previous check's, else all of
    them. The same rule as `tlpo_trainer._StopAtConfusion`, replayed on a finished rollout."""
    last = None
    for n in range(every, len(ids) + 1, every):
        cp = detector.detect(tokenizer.decode(ids[:n], skip_special_tokens=True)).first_confusion_char
        if cp >= 0 and last == cp:
            return n
        last = cp
    return len(ids)


def sampling_options(model, args) -> dict:
    """The rollouts' sampling settings as `vllm.SamplingParams` keywords, resolved by transformers' own
    `generate` code (`_prepare_generation_config`) from the config's values over the model's
    generation_config over the library defaults, so both backends sample from the same distribution."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    kw = {"do_sample": True, "temperature": args.temperature}
    if args.top_p is not None:
        kw["top_p"] = args.top_p
    if args.top_k is not None:
        kw["top_k"] = args.top_k
    cfg, _ = base._prepare_generation_config(None, **kw)
    for name, neutral in _UNSUPPORTED.items():
        value = getattr(cfg, name, None)
        if value not in (None, neutral):
            raise UsageError(f"use_vllm: the model's generation setting {name}={value} has no vLLM counterpart "
                             "here; unset it or train without use_vllm")
    return {"temperature": float(cfg.temperature), "top_p": float(cfg.top_p if cfg.top_p is not None else 1.0),
            "top_k": int(cfg.top_k or 0), "min_p": float(cfg.min_p or 0.0),
            "repetition_penalty": float(cfg.repetition_penalty or 1.0)}


def engine_source(model) -> str:
    """The directory the engine loads (the architecture; the weights are pushed): the trainer model's
    ``name_or_path``, which `train.run` sets to the resolved model directory."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    path = getattr(base.config, "_name_or_path", "") or ""
    if not path or not (Path(path) / "config.json").is_file():
        raise UsageError(f"use_vllm needs the model loaded from a model directory (config.json), got {path!r}")
    return str(Path(path).resolve())


def merged_weights(model):
    """``(name, tensor)`` of every weight of `model` under its Hugging Face name, for vLLM's `load_weights`.
    A PEFT model's adapted weights are yielded as base + delta (new tensors; the model is left untouched);
    the adapter's own parameters are not yielded."""
    if not hasattr(model, "get_base_model"):
        for name, param in model.named_parameters():
            yield name, param.detach()
        return
    from peft.tuners.lora import LoraLayer

    base = model.get_base_model()
    deltas = {}
    for name, module in base.named_modules():
        if not isinstance(module, LoraLayer) or module.disable_adapters:
            continue
        for adapter in module.active_adapters:
            if adapter not in module.lora_A and adapter not in getattr(module, "lora_embedding_A", {}):
                continue
            if module.use_dora.get(adapter) or module.lora_bias.get(adapter):
                raise UsageError("use_vllm pushes plain LoRA weights; DoRA and lora_bias adapters are not supported")
            delta = module.get_delta_weight(adapter)
            deltas[f"{name}.weight"] = deltas[f"{name}.weight"] + delta if f"{name}.weight" in deltas else delta
    prefix = model.prefix  # "lora_"
    for name, param in base.named_parameters():
        if prefix in name or "original_module" in name:
            continue
        name = name.replace(".base_layer", "").replace("modules_to_save.default.", "")
        tensor = param.detach()
        yield name, (tensor + deltas[name].to(tensor.dtype)) if name in deltas else tensor


class VLLMRollouts:
    """The colocated engine of one `TLPOTrainer` (see the module docstring)."""

    def __init__(self, model, args, tokenizer, detector, eos_ids):
        check_available()
        import torch

        from ..generate.vllm import VLLMGenerator

        self.args, self.tokenizer, self.detector = args, tokenizer, detector
        self.eos_ids = list(eos_ids)
        self.sampling = sampling_options(model, args)
        dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
        set_num_threads, previous = torch.set_num_threads, os.environ.get(_INPROC)
        os.environ[_INPROC] = "0"  # the engine core and its worker in this process (colocate)
        try:
            self.generator = VLLMGenerator(engine_source(model), dtype=dtype, seed=args.seed,
                                           enforce_eager=args.vllm_enforce_eager)
        finally:
            torch.set_num_threads = set_num_threads
            if previous is None:  # child processes started later (a server, a tokenizer pool) get the default
                os.environ.pop(_INPROC)
            else:
                os.environ[_INPROC] = previous
        self.llm = self.generator.llm
        self.loaded_step: int | None = None  # the trainer step whose weights the engine holds

    def sync_weights(self, model) -> None:
        """Push the trainer's current weights into the engine (see the module docstring)."""
        import torch

        with torch.no_grad():
            self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": merged_weights(model),
                                                              "is_checkpoint_format": True})
        self.llm.reset_prefix_cache()

    def generate(self, rows: list[list[int]], seeds: list[int], *, max_tokens: int, greedy: bool = False):
        """The engine's completion token ids for prompt token ids `rows` (one seed each), ending with the stop
        token when one was sampled. `greedy` decodes greedily (for checks), otherwise the rollout sampling."""
        from vllm import SamplingParams

        options = {"temperature": 0.0} if greedy else self.sampling
        params = [SamplingParams(max_tokens=max_tokens, seed=s, stop_token_ids=self.eos_ids, detokenize=False,
                                 **options) for s in seeds]
        outputs = self.llm.generate([{"prompt_token_ids": list(r)} for r in rows], params, use_tqdm=False)
        return [list(out.outputs[0].token_ids) for out in outputs]

    def rollouts(self, model, rows: list[list[int]], prompts: list[str], step: int, metrics=None):
        """TLPO's rollouts for one data batch: push the weights if the optimiser stepped since the last push,
        sample `rows` (prompt ids, `num_generations` consecutive rows per prompt of `prompts`), cut each at
        its confusion point as the `transformers` path would stop it. Returns the response token ids."""
        args = self.args
        if self.loaded_step != step:
            t0 = time.perf_counter()
            self.sync_weights(model)
            self.loaded_step = step
            if metrics is not None:
                metrics["step_time/weight_sync"].append(time.perf_counter() - t0)
        per = args.num_generations
        seeds = [prompt_seed(args.seed, f"tlpo\x1f{step}\x1f{i}\x1f{prompts[i // per]}") for i in range(len(rows))]
        responses = self.generate(rows, seeds, max_tokens=args.max_completion_length)
        if args.stop_at_confusion:
            responses = [r[: stop_length(self.tokenizer, self.detector, r, args.confusion_check_every)]
                         for r in responses]
        return responses
