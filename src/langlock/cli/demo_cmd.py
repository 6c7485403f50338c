"""`langlock demo` (`make demo`): the whole story on SmolLM2-135M-Instruct, on CPU, offline.

Diagnose the model's language confusion on `builtin-confusion` (ten languages), fix Korean with a short TLPO
run (LoRA, pre-set budget) and with a `LanguageLock`, verify both against the base on held-out prompts plus
`builtin-retention` and KL, write one HTML report and print the before/after table (`langlock.demo`). A rerun
resumes where a killed one stopped. `--canned` only scores the project's own sample completions (seconds).
"""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("demo", help="diagnose, fix and verify SmolLM2-135M-Instruct's Korean (the embedded default)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output-dir", default="runs/demo", help="where to write results (default: runs/demo)")
    p.add_argument("--model", default="smollm2-135m-instruct", help="model (default: %(default)s)")
    p.add_argument("--limit", type=int, default=3,
                   help="diagnose: prompts per task and language from builtin-confusion (default 3 of 30)")
    p.add_argument("--langs", help="diagnose: comma-separated languages (default: the suite's ten)")
    p.add_argument("--verify-limit", type=int, default=10,
                   help="verify: held-out prompts per task for ko and en (default 10 of 30)")
    p.add_argument("--tlpo", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key of the demo's TLPO recipe (repeatable), e.g. --tlpo max_steps=20")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    p.add_argument("--cache-dir", help="converted-model cache (default: $LANGLOCK_CACHE or ~/.cache/langlock/models)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-new-tokens", type=int, default=100, help="default 100, the benchmark's")
    p.add_argument("--canned", action="store_true",
                   help="only score the project's canned sample completions (no model)")
    p.set_defaults(func=run, run_dir="output_dir")


def run(args) -> int:
    from ..demo import DemoSettings, run_canned, run_demo

    if args.canned:
        return run_canned(args.output_dir)
    from ..errors import UsageError

    if args.limit < 1 or args.verify_limit < 1:
        raise UsageError("--limit and --verify-limit must be >= 1")
    return run_demo(DemoSettings(output_dir=args.output_dir, model=args.model, limit=args.limit, langs=args.langs,
                                 verify_limit=args.verify_limit, tlpo_overrides=args.tlpo,
                                 batch_size=args.batch_size, threads=args.threads, cache_dir=args.cache_dir,
                                 seed=args.seed, max_new_tokens=args.max_new_tokens))
