"""The head-to-head's table for the docs (docs/subjects.md §3): one row per method, every column the mean over the
seeds found ± the half-width of its 95 % Student-t interval (n seeds in the last column); multiple-choice accuracy
and the English NLL drift as the change against the base paired by seed; then which method has the highest
cross-lingual CPR and whether its interval and the base's overlap (with both widths), as issue 14 asks, and by how
much it leads the second (`margin_line`, paired by seed); then the issue's targets for one method (``--targets``,
TLPO by default), each reported met or not (`target_lines`).

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
from langlock.demo import relative_nll_drift, retention_likelihood
from langlock.suites.retention_stats import paired_difference

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
    """The Markdown table and, per method, its evaluations by seed (for the interval and margin checks)."""
    cfg = CompareConfig.from_yaml(main / "config.json", output_dir=str(main))
    target = cfg.language
    base = load_evaluations(main, "base", target)
    head = ["method"] + [t for t, _, _ in MAIN] + ["MC en change", "NLL drift en %"]
    head += ([t for t, _, _ in HELDOUT] if heldout else []) + [t for t, _ in COSTS] + ["seeds"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    evals = {}
    for method in ORDER:
        runs = load_evaluations(main, method, target)
        if not runs:
            continue
        seeds = sorted(runs)
        evals[method] = runs
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
    return "\n".join(lines), evals


def _ranked(evals: dict) -> list[str]:
    """The methods other than the base, highest mean cross-lingual CPR first."""
    def mean(m: str) -> float:
        return sum(r["cpr_cross"] for r in evals[m].values()) / len(evals[m])
    return sorted((m for m in evals if m != "base"), key=mean, reverse=True)


def interval_check(evals: dict) -> str:
    """Whether the best method's cross-lingual CPR interval and the base's overlap (widths in points)."""
    cpr = {m: [runs[s]["cpr_cross"] for s in sorted(runs)] for m, runs in evals.items()}
    if "base" not in cpr or len(cpr) < 2:
        return "no base or no other method evaluated"
    best = _ranked(evals)[0]
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


def in_points(deltas: dict, key: str) -> tuple:
    """(mean, low, high) of a `paired_deltas` entry in points (low, high None without an interval; all None
    when the key is missing)."""
    mean, half = (deltas[key]["mean"], deltas[key]["ci95"]) if key in deltas else (None, None)
    mean = None if mean is None else 100 * mean
    return (mean, None, None) if half is None else (mean, mean - 100 * half, mean + 100 * half)


def margin_line(evals: dict) -> str:
    """By how much the best method leads the second on cross-lingual CPR, and their VR difference: best − second
    paired by seed, with the 95 % interval; "apart" when the CPR interval excludes 0, "within noise" otherwise."""
    ranked = _ranked(evals)
    if len(ranked) < 2:
        return "no second method to compare the best with"
    best, second = ranked[:2]
    d = paired_deltas(evals[second], evals[best], keys=("cpr_cross", "vr_cross"))
    if "cpr_cross" not in d:
        return f"{best} and {second} share no seed"
    parts = []
    for key, name in (("cpr_cross", "cross CPR"), ("vr_cross", "cross VR")):
        if key in d:
            mean, low, high = in_points(d, key)
            parts.append(f"{name} {mean:+.1f}" + ("" if low is None else f" [{low:+.1f}, {high:+.1f}]"))
    _, low, high = in_points(d, "cpr_cross")
    said = "no interval" if low is None else ("apart" if low > 0 or high < 0 else "within noise")
    return (f"margin: {best} − {second} (paired by seed, seeds {','.join(map(str, d['cpr_cross']['seeds']))}): "
            + ", ".join(parts) + f" points: {said}.")


def mc_items(eval_dir: Path, lang: str = "en") -> dict[str, tuple[bool, bool]]:
    """item id -> (correct, base correct) of an evaluation's `lang` multiple-choice items ({} when not scored)."""
    mc = retention_likelihood(eval_dir).get("mc") or {}
    return {i["id"]: (bool(i["correct"]), bool(i["base_correct"])) for i in mc.get("items", [])
            if i["id"].split("-")[0] == lang}


def pooled_mc_change(per_seed: list[dict[str, tuple[bool, bool]]]) -> dict:
    """Multiple-choice change against the base paired by item, each item's correctness averaged over the seeds
    (the items every seed scored): `paired_difference` of the two, in points."""
    ids = sorted(set.intersection(*(set(d) for d in per_seed))) if per_seed else []
    model = [100 * sum(d[i][0] for d in per_seed) / len(per_seed) for i in ids]
    base = [100 * sum(d[i][1] for d in per_seed) / len(per_seed) for i in ids]
    return paired_difference(model, base)


def verdict(mean: float | None, low: float | None, high: float | None, bound: float, above: bool) -> str:
    """Whether a target ``value >= bound`` (`above`) or ``value <= bound`` is met, by the mean: "met" / "not met",
    qualified "within noise" when the 95 % interval reaches across the bound and "no interval" without one."""
    if mean is None:
        return "not measured"
    said = "met" if (mean >= bound if above else mean <= bound) else "not met"
    if low is None or high is None:
        return f"{said} (no interval)"
    return f"{said}, within noise" if low < bound < high else said


def target_lines(main: Path, method: str) -> list[str]:
    """Issue 14's targets for `method` against the base: cross-lingual CPR +20 points or more (paired by seed), VR
    not lower (cross-lingual, paired by seed), multiple choice within 2 points (paired by item over the seeds) and
    English NLL drift at most 1 % (relative, over the seeds); each with its 95 % interval and a verdict."""
    cfg = CompareConfig.from_yaml(main / "config.json", output_dir=str(main))
    base = load_evaluations(main, "base", cfg.language)
    runs = load_evaluations(main, method, cfg.language)
    if not base or not runs:
        return [f"targets for {method}: {method} or base not evaluated"]
    seeds = sorted(set(base) & set(runs))
    d = paired_deltas(base, runs, keys=("cpr_cross", "vr_cross"))

    def show(mean, low, high, unit=" points") -> str:
        if mean is None:
            return "–"
        return f"{mean:+.1f}{unit}" + ("" if low is None else f" [{low:+.1f}, {high:+.1f}]")

    cpr, vr = in_points(d, "cpr_cross"), in_points(d, "vr_cross")
    mc = pooled_mc_change([mc_items(main / "runs" / method / f"seed{s}" / "eval") for s in seeds])
    mc_t = (mc["mean"], *(mc["ci95"] or (None, None)))
    drift = [v for v in (relative_nll_drift(main / "runs" / method / f"seed{s}" / "eval") for s in seeds)
             if v is not None]
    nll, half = mean_ci([100 * v for v in drift])
    nll_t = (nll, None, None) if half is None else (nll, nll - half, nll + half)
    return [f"targets for {method} (seeds {','.join(map(str, seeds))}; 95 % intervals):",
            f"- cross-lingual CPR +20 points or more: {show(*cpr)} (paired by seed): {verdict(*cpr, 20, True)}",
            f"- VR not lower than the base: cross-lingual VR {show(*vr)} (paired by seed): {verdict(*vr, 0, True)}",
            f"- multiple choice within 2 points: {show(*mc_t)} ({mc['n']} English items paired, averaged over the "
            f"seeds): {verdict(*mc_t, -2, True)}",
            f"- English NLL drift at most 1 %: {show(*nll_t, unit=' %')} (relative, over the seeds): "
            f"{verdict(*nll_t, 1, False)}"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("main", type=Path, help="the compare folder evaluated on the benchmark")
    ap.add_argument("heldout", type=Path, nargs="?", help="the same methods' held-out compare folder")
    ap.add_argument("--targets", default="tlpo", help="the method whose issue-14 targets are checked (default tlpo)")
    args = ap.parse_args(argv)
    cfg = args.main / "config.json"
    if not cfg.is_file():
        print(f"head_to_head_table: {args.main} is not a compare folder (no config.json)", file=sys.stderr)
        return 2
    text, evals = table(args.main, args.heldout)
    print(text)
    print()
    print(interval_check(evals))
    print(margin_line(evals))
    print()
    print("\n".join(target_lines(args.main, args.targets)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
