"""`langlock bench`: generate completions with a model and measure its language confusion.

Prompt sets: the benchmark's test sets (`--lcb-dir ../shared/lcb/test_sets`, or `--suite lcb` after
`langlock lcb fetch`), a built-in suite (`--suite builtin-confusion | builtin-retention`) or your own prompts
(`--prompts FILE`: CSV or JSONL with `prompt`, `language` and optional `task`, `source`, `id`). Decoding defaults are the benchmark's (nucleus p=0.75,
T=0.3, at most 100 new tokens). Completions are appended to OUTPUT_DIR/generations.jsonl as they finish: run
the same command again after an interruption and it resumes without regenerating anything. Then both
detector profiles score the run: results.json, metrics.csv, report.md (+ plots), lcb/ and tlpo/ details.

Examples:
    langlock bench --model smollm2-135m-instruct --lcb-dir ../shared/lcb/test_sets --limit 4 -o runs/smol
    langlock bench --model smollm2-135m-instruct --suite builtin-confusion -o runs/smol-builtin
    langlock bench --model smollm2-135m-instruct --suite lcb --langs ko --limit 2 -o runs/smol-ko  (after `langlock lcb fetch`)
    langlock bench --model smollm2-135m-instruct --prompts my_prompts.jsonl -o runs/mine
    langlock bench --backend openai --base-url http://127.0.0.1:8080/v1 --model served-name --suite builtin-confusion -o runs/x
    langlock bench --backend file --completions outputs.csv --lcb-dir ../shared/lcb/test_sets -o runs/scored
    langlock bench --model runs/fixed --reference-model smollm2-135m-instruct --suite builtin-retention -o runs/ret
    langlock bench --model runs/tlpo-smollm2-135m-ko/model --lcb-dir ../shared/lcb/test_sets --langs ko -o runs/after
"""

from __future__ import annotations

import argparse

from ..generate.base import BENCHMARK_DEFAULTS as D


def register(sub) -> None:
    p = sub.add_parser("bench", help="generate with a model and measure its language confusion",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    w = p.add_argument_group("what to run")
    w.add_argument("--model", help="HF model directory, LoRA adapter directory (merged into its base), .gguf "
                                   "file, short name (smollm2-135m-instruct, gemma3-270m) or, with --backend openai, the served model name")
    w.add_argument("--lcb-dir", metavar="DIR", help="the benchmark's test_sets folder")
    w.add_argument("--suite", choices=("lcb", "builtin-confusion", "builtin-retention"),
                   help="lcb: the test sets `langlock lcb fetch` cached; or a built-in suite")
    w.add_argument("--prompts", metavar="FILE", help="your own prompts: CSV or JSONL with prompt, language and "
                                                     "optional task, source, id")
    w.add_argument("--task", default="all", choices=("monolingual", "crosslingual", "all"))
    w.add_argument("--langs", help="comma-separated language codes (default: all)")
    w.add_argument("--sources", help="comma-separated LCB sources (folder names or source values)")
    w.add_argument("--limit", type=int, metavar="N", help="first N prompts per source and language (a subset)")
    w.add_argument("-o", "--output-dir", required=True, help="run folder (resumable)")
    w.add_argument("--model-label", help="model name written into the results (default: from --model)")
    g = p.add_argument_group("decoding (defaults: the benchmark's)")
    g.add_argument("--max-new-tokens", type=int, default=D.max_new_tokens)
    g.add_argument("--temperature", type=float, default=D.temperature)
    g.add_argument("--top-p", type=float, default=D.top_p)
    g.add_argument("--seed", type=int, default=D.seed)
    g.add_argument("--system-prompt", default=None, help="optional system turn (default: none)")
    b = p.add_argument_group("backend")
    b.add_argument("--backend", default="hf", choices=("hf", "openai", "file", "vllm"))
    b.add_argument("--batch-size", type=int, default=8, help="hf: prompts per generate call (default 8)")
    b.add_argument("--max-batch-tokens", type=int, default=4096,
                   help="hf: at most this many padded prompt tokens per batch (default 4096)")
    b.add_argument("--device", default="cpu")
    b.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16", "auto"))
    b.add_argument("--threads", type=int, help="hf: torch CPU threads (default: torch's)")
    b.add_argument("--cache-dir", help="converted-model cache (default: $LANGLOCK_CACHE or ~/.cache/langlock/models)")
    b.add_argument("--base-url", help="openai: server URL, e.g. http://127.0.0.1:8080/v1")
    b.add_argument("--api-key-env", default="OPENAI_API_KEY", help="openai: env var holding the API key")
    b.add_argument("--concurrency", type=int, default=4, help="openai: requests in flight (default 4)")
    b.add_argument("--timeout", type=float, default=120.0, help="openai: seconds per request (default 120)")
    b.add_argument("--max-retries", type=int, default=4, help="openai: retries with exponential backoff")
    b.add_argument("--completions", nargs="+", default=[], metavar="FILE",
                   help="file: completions produced elsewhere (LCB outputs CSV, JSONL, lm-eval samples)")
    b.add_argument("--lock", metavar="LANG", help="hf, vllm, openai (a `langlock serve` server): decode LANG's "
                                                  "prompts under a LanguageLock for LANG (off-target scripts); "
                                                  "other languages decode unchanged")
    b.add_argument("--adapters", metavar="LIB", help="hf or vllm: an adapter library (langlock adapters); each prompt is "
                                                     "answered by its routed language's adapter (mixed batches)")
    b.add_argument("--route", default="oracle", choices=("oracle", "requested", "detected"),
                   help="with --adapters: the benchmark's language, the language the prompt asks for, or the "
                        "prompt's detected language (default oracle)")
    b.add_argument("--lock-mode", default="suppress", choices=("suppress", "penalize"))
    b.add_argument("--lock-entropy", type=float, help="lock only at steps above this entropy (nats)")
    b.add_argument("--steer", nargs="+", default=[], metavar="FILE",
                   help="hf: SITE steering files (`langlock steer fit`, one per language); each steers the prompts "
                        "of its language")
    b.add_argument("--steer-decode-scale", type=float, default=0.0, metavar="S",
                   help="hf: also inject at every generated token with S x the selection (default 0: prefill only)")
    s = p.add_argument_group("scoring")
    s.add_argument("--reference-model", help="builtin-retention: measure KL(model || reference)")
    s.add_argument("--english-words", metavar="PATH", help="lcb profile: English word list (e.g. the benchmark's `words`)")
    s.add_argument("--lid-model", metavar="PATH", help="lcb profile: fastText language-ID model")
    s.add_argument("--quality", default="cheap", choices=("cheap", "full"),
                   help="answer validity for VR/CPR: cheap = echo and degenerate signals, no model (default); "
                        "full = also the fluency judge model (docs/quality.md)")
    s.add_argument("--judge-model", help="--quality full: judge model (default gemma3-270m)")
    s.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    s.add_argument("--generate-only", action="store_true",
                   help="only generate and log (e.g. on a GPU machine); the same command without it scores")
    p.set_defaults(func=run, run_dir="output_dir")


def config_from_args(args):
    from ..bench.runner import BenchConfig
    from ..generate import GenerationSettings

    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                                  top_p=args.top_p, seed=args.seed, system_prompt=args.system_prompt)
    return BenchConfig(
        output_dir=args.output_dir, model=args.model, lcb_dir=args.lcb_dir, suite=args.suite, prompts=args.prompts, task=args.task,
        langs=args.langs, sources=args.sources, limit=args.limit, backend=args.backend, settings=settings,
        model_label=args.model_label, cache_dir=args.cache_dir, batch_size=args.batch_size, max_batch_tokens=args.max_batch_tokens,
        device=args.device,
        dtype=args.dtype, threads=args.threads, base_url=args.base_url, api_key_env=args.api_key_env,
        concurrency=args.concurrency, timeout=args.timeout, max_retries=args.max_retries,
        completions=args.completions, reference_model=args.reference_model,
        lcb_options={"english_words": args.english_words, "lid_model": args.lid_model}, progress=args.progress,
        generate_only=args.generate_only, adapters=args.adapters, route=args.route,
        quality=args.quality, judge_model=args.judge_model,
        locks={args.lock: {"mode": args.lock_mode, "entropy_threshold": args.lock_entropy}} if args.lock else {},
        steer=args.steer, steer_decode_scale=args.steer_decode_scale,
    )


def run(args) -> int:
    from ..bench.report import _pct
    from ..bench.runner import run_bench

    summary = run_bench(config_from_args(args))
    if "profiles" in summary:
        rows = [r for r in summary["profiles"]["lcb"]["rows"] if r["level"] in ("language", "overall")]
        print("task          language      n    LPR    WPR   LCPR     VR    CPR")
        for r in rows:
            print(f"{r['task']:13s} {r['language']:8s} {r['n']:5d} {_pct(r['lpr']):>6s} {_pct(r['wpr']):>6s} "
                  f"{_pct(r.get('lcpr')):>6s} {_pct(r.get('vr')):>6s} {_pct(r.get('cpr')):>6s}")
    return 0
