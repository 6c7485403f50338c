"""`langlock serve`: an OpenAI-compatible vLLM server of a langlock model, with LanguageLock on request.

Runs vLLM's OpenAI-compatible server (in the vLLM environment, `.venv-vllm`; docs/vllm.md) with LanguageLock's logits
processor loaded; a request turns the lock on for language L with `"vllm_xargs": {"langlock_lock": "L"}`
(optional `langlock_lock_mode`, `langlock_lock_penalty`, `langlock_lock_entropy`, `langlock_lock_allow_latin`).
Requests without it decode unchanged. Listens on 127.0.0.1 unless told otherwise.

With `--adapters LIB` (an adapter library, `langlock adapters add`) it serves the library's base with every
adapter of the library through vLLM's multi-LoRA: a request names its adapter as the model (`"model": "de"`),
the base under `--name`. `--model` is then optional and must be the library's base (same fingerprint).

Examples:
    .venv-vllm/bin/langlock serve --model smollm2-135m-instruct --port 8000
    langlock bench --backend openai --base-url http://127.0.0.1:8000/v1 --model smollm2-135m-instruct \\
        --suite builtin-confusion --langs ko --lock ko -o runs/served-ko
    .venv-vllm/bin/langlock serve --adapters runs/lib --name base --port 8000
    langlock bench --backend openai --base-url http://127.0.0.1:8000/v1 --model de \\
        --suite builtin-confusion --langs de -o runs/served-de
"""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve a model over an OpenAI-compatible API with vLLM (LanguageLock on request)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="HF model directory, .gguf file or short name (with --adapters: default the "
                                    "library's base, and it must be that base)")
    p.add_argument("--adapters", metavar="LIB", help="adapter library to serve with vLLM's multi-LoRA (a request "
                                                     "names its adapter as the model)")
    p.add_argument("--name", help="model name clients send for the base (default: from --model or the library's "
                                  "base)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16", "auto"))
    p.add_argument("--gpu-memory-utilization", type=float, default=0.4,
                   help="share of memory for the KV cache (default 0.4; vLLM's 0.9 fails on small CPU machines)")
    p.add_argument("--max-model-len", type=int, default=4096)
    p.add_argument("--eager", action="store_true", help="skip vLLM's model compilation (faster start, slower decoding)")
    p.add_argument("--no-lock", dest="lock", action="store_false", help="do not load LanguageLock's processor")
    p.add_argument("--cache-dir", help="converted-model cache (default: $LANGLOCK_CACHE or ~/.cache/langlock/models)")
    p.add_argument("--dry-run", action="store_true", help="print the server command and exit")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..generate.vllm import serve

    return serve(args.model, adapters=args.adapters, cache_dir=args.cache_dir, name=args.name,
                 dry_run=args.dry_run, host=args.host, port=args.port, dtype=args.dtype,
                 gpu_memory_utilization=args.gpu_memory_utilization, max_model_len=args.max_model_len,
                 lock=args.lock, eager=args.eager)
