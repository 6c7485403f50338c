"""`langlock sweep`: language confusion under a grid of decoding settings (the LCB paper's mitigation study).

One factor at a time around the benchmark's setting (T=0.3, top-p 0.75, 1 beam, 0-shot, no lock): every
value of every axis is a cell; cells are resumable (re-run the same command after an interruption). Writes
`results.json`, `sweep.md` (mitigation tables, change vs baseline), `plot_<axis>.png` and each cell's scored
files under `cells/`. In-context examples are langlock's own (`langlock.fewshot`) for every LCB language.

Example:
    langlock sweep --model smollm2-135m-instruct --suite builtin-confusion --langs ko,zh --limit 5 \\
        --temperatures 0,0.3,1.0 --top-ps 0.5,0.75,1.0 --beams 1,3 --shots 0,1,5 --locks off,suppress -o runs/sweep
"""

from __future__ import annotations

import argparse

from .analyze_cmd import add_prompt_args, study_args


def _floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _words(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def register(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="confusion under a grid of decoding settings (resumable)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_prompt_args(p)
    g = p.add_argument_group("grid (one factor at a time around T=0.3, top-p=0.75, 1 beam, 0-shot, no lock)")
    g.add_argument("--temperatures", type=_floats, default=[0.0, 0.3, 0.7, 1.0])
    g.add_argument("--top-ps", type=_floats, default=[0.5, 0.75, 0.9, 1.0])
    g.add_argument("--beams", type=_ints, default=[1, 4])
    g.add_argument("--shots", type=_ints, default=[0, 1, 5])
    g.add_argument("--locks", type=_words, default=["off"], help="off, suppress, penalize (LanguageLock)")
    g.add_argument("--lock-entropy", type=float, default=None,
                   help="lock only at steps with entropy above this (nats; default: every step)")
    p.add_argument("--max-new-tokens", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    s = p.add_argument_group("scoring")
    s.add_argument("--profile", default="lcb", choices=("lcb", "tlpo"))
    s.add_argument("--english-words", metavar="PATH", help="lcb: English word list for WPR")
    s.add_argument("--lid-model", metavar="PATH", help="lcb: fastText language-ID model")
    s.add_argument("--ignore-english", action="store_true", help="tlpo: English words are not confusion")
    p.set_defaults(func=run, run_dir="output_dir")


def run(args) -> int:
    from ..decoding.sweep import SweepConfig, mitigation_tables, sweep

    data = sweep(SweepConfig(**study_args(args), temperatures=args.temperatures, top_ps=args.top_ps,
                             beams=args.beams, shots=args.shots, locks=args.locks, lock_entropy=args.lock_entropy,
                             max_new_tokens=args.max_new_tokens, seed=args.seed, profile=args.profile,
                             english_words=args.english_words, lid_model=args.lid_model,
                             ignore_english=args.ignore_english))
    print(mitigation_tables(data))
    print(f"wrote {args.output_dir}/results.json, sweep.md, plot_*.png")
    return 0
