"""`langlock sweep`: language confusion under a grid of decoding settings (the LCB paper's mitigation study).

One factor at a time around the benchmark's setting (T=0.3, top-p 0.75, 1 beam, 0-shot, no lock): every
value of every axis is a cell; cells are resumable (re-run the same command after an interruption). Writes
`sweep.json`, `sweep.md` (mitigation tables, change vs baseline), `plot_<axis>.png` and each cell's scored
files under `cells/`. In-context examples are langlock's own (`langlock.fewshot`) for every LCB language.

Example:
    langlock sweep --model smollm2-135m-instruct --suite builtin-confusion --langs ko,zh --limit 5 \\
        --temperatures 0,0.3,1.0 --top-ps 0.5,0.75,1.0 --beams 1,3 --shots 0,1,5 --locks off,suppress -o runs/sweep
"""

from __future__ import annotations

import argparse

from .analyze_cmd import add_prompt_args, load_model, load_prompts


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
    from ..errors import UsageError
    from ..sweep import make_grid, mitigation_tables, run_sweep

    if args.max_new_tokens < 1:
        raise UsageError("--max-new-tokens must be >= 1")
    cells = make_grid({"temperature": args.temperatures, "top_p": args.top_ps, "beams": args.beams,
                       "shots": args.shots, "lock": args.locks})
    prompts = load_prompts(args)
    if args.profile == "lcb":
        options = {k: v for k, v in (("english_words", args.english_words), ("lid_model", args.lid_model)) if v}
    else:
        options = {"ignore_english": args.ignore_english}
    from ..detect import get_detector

    for lang in dict.fromkeys(p.language for p in prompts):
        get_detector(args.profile, lang, **options)
    model, tok, path = load_model(args)
    meta = {"model": str(args.model), "model_path": str(path), "prompt_set": args.suite or args.lcb_dir,
            "task": args.task, "langs": args.langs, "limit": args.limit, "n_prompts": len(prompts),
            "max_new_tokens": args.max_new_tokens, "seed": args.seed, "lock_entropy": args.lock_entropy}
    data = run_sweep(args.output_dir, model, tok, prompts, cells, model_name=str(args.model),
                     max_new_tokens=args.max_new_tokens, seed=args.seed, batch_size=args.batch_size,
                     max_batch_tokens=args.max_batch_tokens,
                     profile=args.profile, detector_options=options, lock_threshold=args.lock_entropy, meta=meta)
    print(mitigation_tables(data))
    print(f"wrote {args.output_dir}/sweep.json, sweep.md, plot_*.png")
    return 0
