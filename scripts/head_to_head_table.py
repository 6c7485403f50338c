"""The head-to-head's table for the docs (docs/subjects.md §3): one row per method, every column the mean over the
seeds found ± the half-width of its 95 % Student-t interval (n seeds in the last column); multiple-choice accuracy
and the English NLL drift as the change against the base paired by seed; then which method has the highest
cross-lingual CPR and whether its interval and the base's overlap (with both widths), as issue 14 asks.

Reads finished evaluations only (`langlock.compare.load_evaluations`), so it works on results/ without weights:

    python scripts/head_to_head_table.py results/h2h-gemma-it1200-ja results/h2h-gemma-it1200-ja-heldout

Rates in %, KL in nats/token, NLL drift relative to the base's English NLL per byte (%), seconds of wall time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from langlock.compare import load_evaluations, paired_deltas
from langlock.compare.config import CompareConfig
from langlock.compare.methods import run_cost
from langlock.compare.statistics import mean_ci
from langlock.demo import relative_nll_drift

ORDER = ["base", "fewshot", "lock", "site", "sft", "dpo", "orpo", "grpo", "tbpo-q", "tlpo"]
#: (column title, metric key, scale) of the main folder's evaluations
MAIN = [("cross CPR", "cpr_cross", 100), ("cross VR", "vr_cross", 100), ("cross LPR", "lcb_lpr_cross", 100),
        ("mono CPR", "cpr_mono", 100), ("English LPR", "en_lpr", 100), ("English VR", "vr_en", 100),
        ("KL en", "kl_en", 1), ("3rd language", "third_lang_cross", 100),
        ("repetitive (target)", "repetitive_target", 100)]
HELDOUT = [("held-out cross CPR", "cpr_cross", 100), ("held-out cross VR", "vr_cross", 100)]
COSTS = [("train s", "train_seconds"), ("eval s", "eval_seconds")]


def cell(values: list, scale: float, digits: int = 1, signed: bool = False) -> str:
    """``mean ± half`` over the values that are there ("–" when none; no ± for a single value)."""
    mean, half = mean_ci([v * scale for v in values if v is not None])
    if mean is None:
        return "–"
    text = f"{mean:+.{digits}f}" if signed else f"{mean:.{digits}f}"
    return text if half is None else f"{text} ± {half:.{digits}f}"


def table(main: Path, heldout: Path | None) -> tuple[str, dict]:
    """The Markdown table and, per method, its seeds' cross-lingual CPR (for the interval check)."""
    cfg = CompareConfig.from_yaml(main / "config.json", output_dir=str(main))
    target = cfg.language
    base = load_evaluations(main, "base", target)
    head = ["method"] + [t for t, _, _ in MAIN] + ["MC en change", "NLL drift en %"]
    head += ([t for t, _, _ in HELDOUT] if heldout else []) + [t for t, _ in COSTS] + ["seeds"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    cpr = {}
    for method in ORDER:
        runs = load_evaluations(main, method, target)
        if not runs:
            continue
        seeds = sorted(runs)
        cpr[method] = [runs[s]["cpr_cross"] for s in seeds]
        row = [method] + [cell([runs[s].get(k) for s in seeds], sc, 2 if sc == 1 else 1) for _, k, sc in MAIN]
        mc = paired_deltas(base, runs, keys=("mc_acc",)).get("mc_acc", {"values": []})
        row.append("–" if method == "base" else cell(mc["values"], 100, signed=True))
        drift = [relative_nll_drift(main / "runs" / method / f"seed{s}" / "eval") for s in seeds]
        row.append("–" if method == "base" else cell(drift, 100, signed=True))
        if heldout:
            held = load_evaluations(heldout, method, target)
            row += [cell([held[s].get(k) for s in sorted(held)], sc) for _, k, sc in HELDOUT]
        costs = {s: {**runs[s], **run_cost(cfg, method, s)} for s in seeds}  # train / fit seconds from the run
        row += [cell([costs[s].get(k) for s in seeds], 1, 0) for _, k in COSTS]
        row.append(",".join(map(str, seeds)))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines), cpr


def interval_check(cpr: dict) -> str:
    """Whether the best method's cross-lingual CPR interval and the base's overlap (widths in points)."""
    if "base" not in cpr or len(cpr) < 2:
        return "no base or no other method evaluated"
    best = max((m for m in cpr if m != "base"), key=lambda m: sum(cpr[m]) / len(cpr[m]))
    parts = []
    bounds = {}
    for m in ("base", best):
        mean, half = mean_ci([100 * v for v in cpr[m]])
        bounds[m] = (mean - (half or 0.0), mean + (half or 0.0))
        parts.append(f"{m} {mean:.1f} ± {'–' if half is None else f'{half:.1f}'} (width "
                     f"{'–' if half is None else f'{2 * half:.1f}'}, {len(cpr[m])} seeds)")
    if min(len(cpr["base"]), len(cpr[best])) < 2:
        return f"best cross-lingual CPR: {best}. " + "; ".join(parts) + ". No interval before 2 seeds."
    apart = bounds[best][0] > bounds["base"][1] or bounds["base"][0] > bounds[best][1]
    return (f"best cross-lingual CPR: {best}. " + "; ".join(parts)
            + f". Intervals {'do not overlap' if apart else 'overlap'}.")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("main", type=Path, help="the compare folder evaluated on the benchmark")
    ap.add_argument("heldout", type=Path, nargs="?", help="the same methods' held-out compare folder")
    args = ap.parse_args(argv)
    cfg = args.main / "config.json"
    if not cfg.is_file():
        print(f"head_to_head_table: {args.main} is not a compare folder (no config.json)", file=sys.stderr)
        return 2
    text, cpr = table(args.main, args.heldout)
    print(text)
    print()
    print(interval_check(cpr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
