"""`langlock demo` (`make demo`): the whole story on a test subject that can write the language, on CPU, offline.

Diagnose the model's language confusion on `builtin-confusion` (ten languages), fix the target language by SFT on
the model's own valid answers in it (LoRA; a packaged recipe, a compare config: `--recipe ja`, the default,
fixes the Japanese of gemma3-270m-it by in-language distillation, `langlock/data/demo_ja.yaml`; `--recipe ko`
the same for its Korean, `demo_ko.yaml`; `--recipe de` the German of SmolLM2-135M-Instruct, `demo_de.yaml`),
verify base and fix on held-out prompts plus `builtin-retention`, multiple choice, NLL drift and KL, write one
HTML report (the same prompts' answers side by side), print the before/after table and one RESULT line
(`langlock.demo`). A rerun resumes where a killed one stopped. `--canned` only scores the project's own sample
completions (seconds).
"""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("demo", help="diagnose, fix and verify a test subject's confusion (default: gemma3-270m-it's Japanese)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output-dir", default="runs/demo", help="where to write results (default: runs/demo)")
    from ..demo import RECIPES

    p.add_argument("--recipe", choices=list(RECIPES), default=next(iter(RECIPES)),
                   help="the packaged recipe: ja (gemma3-270m-it's Japanese, default), ko (its Korean) or de "
                        "(SmolLM2's German)")
    p.add_argument("--model", help="model (default: the recipe's)")
    p.add_argument("--limit", type=int, default=2,
                   help="diagnose: prompts per task and language from builtin-confusion (default 2 of 30)")
    p.add_argument("--langs", help="diagnose: comma-separated languages (default: the suite's ten)")
    p.add_argument("--verify-limit", type=int,
                   help="verify: held-out prompts (default: the recipe's; ja: all 30 cross-lingual ones)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key of the demo's recipe, a compare config (repeatable), e.g. "
                        "--set 'methods=[base,dpo]' or --set 'train={max_steps: 40, lora: true}'")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (default 0: torch's default, every core; the recipe ja took 12.4 min on 2 "
                        "idle cores. On cores busy with other jobs use 1: there 2 threads generated several times "
                        "slower than 1)")
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

    if args.limit < 1 or (args.verify_limit is not None and args.verify_limit < 1):
        raise UsageError("--limit and --verify-limit must be >= 1")
    return run_demo(DemoSettings(output_dir=args.output_dir, recipe=args.recipe, model=args.model, limit=args.limit,
                                 langs=args.langs,
                                 verify_limit=args.verify_limit, overrides=args.overrides,
                                 batch_size=args.batch_size, threads=args.threads or None, cache_dir=args.cache_dir,
                                 seed=args.seed, max_new_tokens=args.max_new_tokens))
