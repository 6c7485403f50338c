"""`langlock analyze`: per-step entropy and nucleus size, confusion points, and the LCB paper's Table 7.

Generates each prompt (the benchmark's decoding by default: nucleus p=0.75, T=0.3, <= 100 new tokens,
seeded per prompt), keeps the raw logits of every step, marks the first confusion with the detector
(`--profile tlpo`, English counted as confusion unless `--ignore-english`) and writes analysis.json,
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


def load_prompts(args):
    from ..bench.runner import BenchConfig, collect_prompts

    if args.batch_size < 1:
        from ..errors import UsageError

        raise UsageError("--batch-size must be >= 1")
    if args.max_batch_tokens < 1:
        from ..errors import UsageError

        raise UsageError("--max-batch-tokens must be >= 1")
    return collect_prompts(BenchConfig(output_dir=args.output_dir, suite=args.suite, lcb_dir=args.lcb_dir,
                                       task=args.task, langs=args.langs, limit=args.limit))


def load_model(args):
    from ..models import load_model_and_tokenizer

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    model, tok, path = load_model_and_tokenizer(args.model, device=args.device)
    return model, tok, path


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
    from ..analyze import check_top_p, mark_confusion, trace, write_analysis
    from ..generate import GenerationSettings

    check_top_p(args.stat_top_p)
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                                  top_p=args.top_p, seed=args.seed)
    prompts = load_prompts(args)
    options = {"ignore_english": args.ignore_english} if args.profile == "tlpo" else {}
    from ..detect import get_detector

    for lang in dict.fromkeys(p.language for p in prompts):  # an unsupported language fails before loading
        get_detector(args.profile, lang, **options)
    model, tok, path = load_model(args)
    procs = []
    if args.lock:
        from ..inference.lock import make_lock

        procs.append(make_lock(tok, args.lock))
    traces = trace(model, tok, prompts, lambda p: p.language, settings=settings, batch_size=args.batch_size,
                   max_batch_tokens=args.max_batch_tokens,
                   top_p_stat=args.stat_top_p, processors=procs)
    mark_confusion(traces, tok, args.profile, **options)
    meta = {"model": str(args.model), "model_path": str(path), "profile": args.profile, **options,
            "prompt_set": args.suite or args.lcb_dir, "task": args.task, "langs": args.langs, "limit": args.limit,
            "top_p_stat": args.stat_top_p, "lock": args.lock, **settings.to_dict()}
    data = write_analysis(args.output_dir, traces, meta)
    print(f"{'steps':30s} {'n':>6s} {'nucleus':>8s} {'entropy':>8s}")
    for name, row in data["table7"].items():
        nuc = "–" if row["nucleus"] is None else f"{row['nucleus']:.2f}"
        ent = "–" if row["entropy"] is None else f"{row['entropy']:.3f}"
        print(f"{name:30s} {row['n']:6d} {nuc:>8s} {ent:>8s}")
    print(f"responses with CP: {data['responses_with_cp']}, without: {data['responses_without_cp']}")
    print(data["finding"])
    print(f"wrote {args.output_dir}/analysis.json, steps.jsonl, distributions.png")
    return 0
