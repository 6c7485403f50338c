"""Stage 4 of `langlock compare`, report: ``compare.md`` (the table, then each method's change against the base
paired by seed), ``compare.csv``, ``compare.png`` and ``results.json`` (`langlock.results`, kind ``compare``)."""

from __future__ import annotations

from pathlib import Path

from ..evaluate import METRICS
from ..io_utils import atomic_open
from ..results import write_results
from .statistics import COLUMNS

#: metric -> (scale, digits): rates in %, one decimal; KL and NLL drift (nats) with four decimals; lengths with one;
#: parameter counts and seconds whole
FORMAT = {"kl_en": (1, 4), "nll_drift_en": (1, 4), "nll_drift_target": (1, 4), "mean_chars_target": (1, 1),
          "trainable_params": (1, 0), "train_seconds": (1, 0), "eval_seconds": (1, 0)}


def format_cell(cell: dict, key: str, signed: bool = False) -> str:
    """``mean ± half-width`` of a summary or paired cell in the metric's unit; "–" when there is no value."""
    if cell.get("mean") is None:
        return "–"
    scale, digits = FORMAT.get(key, (100, 1))
    s = f"{cell['mean'] * scale:{'+' if signed else ''}.{digits}f}"
    if cell.get("ci95") is not None:
        s += f" ± {cell['ci95'] * scale:.{digits}f}"
    return s


def _num(v) -> str:
    return "" if v is None else f"{v:.6f}"


def paired_lines(method: str, base: str, deltas: dict) -> list[str]:
    """Markdown rows: one per metric, the paired change ± 95 % interval, then the per-seed changes."""
    if not deltas:
        return []
    seeds = next(iter(deltas.values()))["seeds"]
    lines = [f"| {method} − {base}, seeds {', '.join(map(str, seeds))} | paired change | per seed |", "|---|---:|---|"]
    for key, cell in deltas.items():
        scale, digits = FORMAT.get(key, (100, 1))
        each = " / ".join(f"{d * scale:+.{digits}f}" for d in cell["values"])
        lines.append(f"| {METRICS[key][0]} | {format_cell(cell, key, signed=True)} | {each} |")
    return lines


def write_report(cfg, summary: dict) -> None:
    out = Path(cfg.output_dir)
    keys = list(COLUMNS)
    head = "| method | " + " | ".join(COLUMNS[k][0] for k in keys) + " |"
    lines = [f"# langlock compare: {cfg.model}, target {cfg.language}, seeds {cfg.seeds}", "",
             "Mean ± 95% t-interval over seeds; rates in %, KL in nats per token, lengths in characters; trainable "
             "parameters (LoRA: the adapter; SITE: its head selection; base, lock, fewshot: 0) and wall-clock "
             "seconds of training / fitting and of the evaluation.", "", head,
             "|---|" + "---:|" * len(keys)]
    with atomic_open(out / "compare.csv") as fh:
        fh.write("method,metric,mean,ci95," + ",".join(f"seed{s}" for s in cfg.seeds) + "\n")
        for row in summary["rows"]:
            if "unavailable" in row:
                lines.append(f"| {row['method']} | " + " | ".join("n/a" for _ in keys) + " |")
                continue
            lines.append(f"| {row['method']} | " + " | ".join(format_cell(row[k], k) for k in keys) + " |")
            for k in keys:
                c = row[k]
                by_seed = dict(zip(row["seeds"], c["values"]))
                vals = ",".join(_num(by_seed.get(s)) for s in cfg.seeds)
                fh.write(f"{row['method']},{k},{_num(c['mean'])},{_num(c['ci95'])},{vals}\n")
    notes = [f"- {r['method']}: not run — {r['unavailable']}" for r in summary["rows"] if "unavailable" in r]
    if notes:
        lines += ["", *notes]
    if summary.get("paired"):
        lines += ["", f"## Change against {summary['paired_base']}, paired by seed", "",
                  "Mean of the per-seed differences ± 95% t-interval; points for rates, nats for the KL.", ""]
        for method, deltas in summary["paired"].items():
            lines += [*paired_lines(method, summary["paired_base"], deltas), ""]
    with atomic_open(out / "compare.md") as fh:
        fh.write("\n".join(lines).rstrip() + "\n")
    write_results(out, "compare", summary)
    plot(cfg, summary, out / "compare.png")


def plot(cfg, summary: dict, path: Path) -> None:
    """``compare.png``: each method's target-language RPR against retention accuracy and against English LPR
    (mean ± 95 % interval over seeds, in %), drawn by `langlock.report.plots.scatter_panels`."""
    from ..report.plots import scatter_panels, write_png

    y_key = "rpr_en_confusion"
    panels = []
    for xkey, title in (("retention_acc", "confusion fixed vs abilities kept"),
                        ("en_lpr", "confusion fixed vs English kept")):
        points = []
        for row in summary["rows"]:
            if "unavailable" in row:
                continue
            x, y = row[xkey], row[y_key]
            if x["mean"] is None or y["mean"] is None:
                continue
            points.append((row["method"], 100 * x["mean"], 100 * y["mean"], 100 * (x["ci95"] or 0),
                           100 * (y["ci95"] or 0)))
        panels.append((title, f"{METRICS[xkey][0]} (%)", points))
    fig = scatter_panels(panels, f"{cfg.language} {METRICS[y_key][0]} (%)",
                         f"{Path(str(cfg.model)).name}, {cfg.language}, mean ± 95% CI over {len(cfg.seeds)} seed(s)")
    write_png(fig, path, dpi=120, tight=False)
