"""`langlock analyze`: per-step entropy and nucleus size, confusion points, and the LCB paper's Table 7.

Generates each prompt (the benchmark's decoding by default: nucleus p=0.75, T=0.3, <= 100 new tokens,
seeded per prompt), keeps the raw logits of every step, marks the first confusion with the detector
(`--profile tlpo`, English counted as confusion unless `--ignore-english`) and writes results.json,
steps.jsonl and distributions.png into the output folder. Prints Table 7 and whether "confusion points sit
at high-entropy steps" holds for the model.

Example:
    langlock analyze --model smollm2-135m-instruct --suite builtin-confusion --langs ko,zh --limit 10 -o runs/cp
"""

from __future__ import annotations

import argparse

from ..generate.base import BENCHMARK_DEFAULTS as D


def add_prompt_args(p) -> None:
    """Prompt-set flags shared by `analyze` and `sweep`."""
    p.add_argument("--model", required=True, help="HF model directory, .gguf file or short name "
                   "(smollm2-135m-instruct)")
    p.add_argument("--suite", choices=("builtin-confusion",), help="a built-in prompt suite")
    p.add_argument("--lcb-dir", metavar="DIR", help="the benchmark's test_sets folder")
    p.add_argument("--task", default="all", choices=("monolingual", "crosslingual", "all"))
    p.add_argument("--langs", help="comma-separated language codes (default: all)")
    p.add_argument("--limit", type=int, metavar="N", help="first N prompts per source and language")
    p.add_argument("-o", "--output-dir", required=True)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-batch-tokens", type=int, default=4096,
                   help="at most this many padded prompt tokens per batch (sweep: divided by the beam count)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    p.add_argument("--device", default="cpu")


def study_args(args) -> dict:
    """The `decoding.StudyConfig` fields of the shared flags."""
    return {"model": str(args.model), "output_dir": args.output_dir, "suite": args.suite, "lcb_dir": args.lcb_dir,
            "task": args.task, "langs": args.langs, "limit": args.limit, "batch_size": args.batch_size,
            "max_batch_tokens": args.max_batch_tokens, "threads": args.threads, "device": args.device}


def register(subparsers) -> None:
    p = subparsers.add_parser("analyze", help="entropy / nucleus size at confusion points (LCB Table 7)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_prompt_args(p)
    p.add_argument("--profile", default="tlpo", choices=("tlpo", "lcb"), help="detector marking the CPs")
    p.add_argument("--ignore-english", action="store_true", help="tlpo: English words are not confusion")
    p.add_argument("--max-new-tokens", type=int, default=D.max_new_tokens)
    p.add_argument("--temperature", type=float, default=D.temperature)
    p.add_argument("--top-p", type=float, default=D.top_p, help="sampling nucleus")
    p.add_argument("--seed", type=int, default=D.seed)
    p.add_argument("--stat-top-p", type=float, default=0.75, help="p of the reported nucleus size (0.75)")
    p.add_argument("--lock", metavar="LANG", help="decode with a LanguageLock for LANG (analysis of the fix)")
    p.set_defaults(func=run, run_dir="output_dir")


def run(args) -> int:
    from ..decoding.analyze import AnalyzeConfig, analyze, table7_text

    data = analyze(AnalyzeConfig(**study_args(args), profile=args.profile, ignore_english=args.ignore_english,
                                 max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p,
                                 seed=args.seed, stat_top_p=args.stat_top_p, lock=args.lock))
    print(table7_text(data))
    print(f"wrote {args.output_dir}/results.json, steps.jsonl, distributions.png")
    return 0
