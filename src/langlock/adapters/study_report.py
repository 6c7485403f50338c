"""The adapter study's report (`langlock.adapters.study`): retained gains, the headline table, the interference
curve, and the files — ``results.json`` (`langlock.results` kind ``adapter-study``), ``study.md``, ``study.csv``
and ``study.png`` (`langlock.report.plots.interference_plot`). Pure functions over the finished cells.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..compare.statistics import mean_ci
from ..io_utils import write_text_atomic
from ..results import write_results

#: per-language metrics in the table and the CSV (key -> column label)
COLUMNS = {"lcb_lpr": "LPR", "lcb_lpr_cross": "LPR cross", "cpr_cross": "CPR cross", "cpr_target": "CPR",
           "en_lpr": "English LPR", "mc_acc": "MC acc (en)", "mc_acc_target": "MC acc (lang)",
           "nll_drift_en": "NLL drift (en)", "nll_drift_target": "NLL drift (lang)", "kl_en": "KL (en)"}
#: metrics in nats (shown as numbers, not percentages)
_RAW = ("nll_drift_en", "nll_drift_target", "kl_en")


def retained_gain(value: float | None, base: float | None, alone: float | None, min_gain: float) -> float | None:
    """(value − base) / (alone − base): the share of a fix's own gain kept in a combination; None when a value is
    missing or the fix alone raised the metric by less than `min_gain` (no gain to keep: a fix that lowered its
    language has no gain whose share means anything, since a worse combination would then "retain" more)."""
    if value is None or base is None or alone is None or alone - base < min_gain:
        return None
    return (value - base) / (alone - base)


def gain_table(cells: list[dict], metric: str, min_gain: float) -> dict[str, dict[str, float | None]]:
    """cell name -> language -> retained gain. The reference of a (rank, seed) is the ``routed-oracle`` cell
    with the most languages (each fix answering its own language); the base is the seed's base cell."""
    base = {c["seed"]: c for c in cells if c["variant"] == "base"}
    alone: dict[tuple, dict] = {}
    for c in cells:
        key = (c["rank"], c["seed"])
        if c["variant"] == "routed-oracle" and c["n"] >= alone.get(key, {"n": 0})["n"]:
            alone[key] = c
    out = {}
    for c in cells:
        if c["variant"] == "base":
            continue
        b, a = base.get(c["seed"]), alone.get((c["rank"], c["seed"]))
        out[c["name"]] = {
            lang: retained_gain(m.get(metric), _m(b, lang, metric), _m(a, lang, metric), min_gain)
            for lang, m in c["metrics"].items()}
    return out


def _m(cell: dict | None, lang: str, key: str):
    return ((cell or {}).get("metrics", {}).get(lang) or {}).get(key)


def _mean(values) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def curves(cells: list[dict], gains: dict, curve_seeds: list[int]
           ) -> dict[int, dict[str, tuple[list[int], list[float | None]]]]:
    """rank -> variant -> (N values, mean retained gain over the fixes in the cell and the curve seeds)."""
    seeds_at: dict[tuple, dict] = {}
    for c in cells:
        if c["variant"] != "base" and c["seed"] in curve_seeds:
            seeds_at.setdefault((c["rank"], c["variant"]), {}).setdefault(c["n"], []).append(c)
    out: dict[int, dict] = {}
    for (rank, variant), by_n in sorted(seeds_at.items()):
        ns = sorted(by_n)
        ys = [_mean(g for c in by_n[n] for g in gains[c["name"]].values()) for n in ns]
        out.setdefault(rank, {})[variant] = (ns, ys)
    return out


def flat_rows(cells: list[dict], gains: dict) -> list[dict]:
    """One row per (cell, language): the cell's keys, the language's metrics and its retained gain."""
    rows = []
    for c in sorted(cells, key=lambda c: (c["rank"], c["seed"], c["n"], c["variant"])):
        for lang, m in c["metrics"].items():
            rows.append({"cell": c["name"], "n": c["n"], "variant": c["variant"], "rank": c["rank"],
                         "seed": c["seed"], "language": lang, "params": c["params"],
                         **{k: m.get(k) for k in COLUMNS},
                         "retained_gain": (gains.get(c["name"]) or {}).get(lang)})
    return rows


def _cell(v, key: str) -> str:
    if v is None:
        return "–"
    return f"{v:.4f}" if key in _RAW else f"{100 * v:.1f}"


def headline(cells: list[dict], gains: dict, k: int, languages: list[str], metric: str) -> list[str]:
    """Markdown rows: N = k, per variant and rank, each language's `metric` (mean ± 95 % interval over seeds),
    the mean retained gain, English MC accuracy, NLL drift and the adapter parameters."""
    groups: dict[tuple, list[dict]] = {}
    for c in cells:
        if c["n"] == k or c["variant"] == "base":
            groups.setdefault((c["variant"], c["rank"]), []).append(c)
    head = ("| variant | rank | seeds | " + " | ".join(f"{lang} {COLUMNS.get(metric, metric)}" for lang in languages)
            + " | retained gain | MC acc (en) | NLL drift (en) | params |")
    lines = [head, "|" + "---|" * (8 + len(languages) - 1)]
    for (variant, rank), cs in sorted(groups.items(), key=lambda kv: (kv[0][0] != "base", kv[0][1], kv[0][0])):
        seeds = sorted(c["seed"] for c in cs)
        per_lang = []
        for lang in languages:
            mean, half = mean_ci([_m(c, lang, metric) for c in cs])
            per_lang.append(_pm(mean, half, metric))
        gain = _mean(g for c in cs for g in (gains.get(c["name"]) or {}).values())
        mc = mean_ci([_mean(_m(c, lang, "mc_acc") for lang in c["metrics"]) for c in cs])
        nll = mean_ci([_mean(_m(c, lang, "nll_drift_en") for lang in c["metrics"]) for c in cs])
        lines.append(f"| {variant} | {rank or '–'} | {', '.join(map(str, seeds))} | " + " | ".join(per_lang)
                     + f" | {'–' if gain is None else f'{gain:.2f}'} | {_pm(*mc, 'mc_acc')} | "
                     + f"{_pm(*nll, 'nll_drift_en')} | {cs[0]['params']:,} |")
    return lines


def _pm(mean, half, key: str) -> str:
    s = _cell(mean, key)
    return s if half is None or mean is None else f"{s} ± {_cell(half, key)}"


def render_markdown(cfg, cells: list[dict], gains: dict, curve: dict) -> str:
    k, metric = cfg.k, cfg.gain_metric
    lines = [f"# langlock adapters study: {cfg.model}, {', '.join(cfg.languages)}, ranks {cfg.ranks}", "",
             f"{len(cells)} cells; fixes: {cfg.method}; curve seeds {cfg.curve_seeds}, headline seeds {cfg.seeds}; "
             f"retained gain on {COLUMNS.get(metric, metric)} (undefined where the fix alone raised it by less "
             f"than {100 * cfg.min_gain:.0f} points). Rates in %.", "",
             f"## Headline: all {k} languages", "", *headline(cells, gains, k, cfg.languages, metric), "",
             "## Interference: mean retained gain as N grows", ""]
    ns = list(range(1, k + 1))
    lines += ["| rank | variant | " + " | ".join(f"N={n}" for n in ns) + " |", "|" + "---|" * (2 + k)]
    for rank, series in curve.items():
        for variant, (xs, ys) in series.items():
            by = dict(zip(xs, ys, strict=True))
            lines.append(f"| {rank} | {variant} | "
                         + " | ".join("–" if by.get(n) is None else f"{by[n]:.2f}" for n in ns) + " |")
    routed = [c for c in cells if c.get("routing")]
    if routed:
        lines += ["", "## Routing: which adapter answered each prompt", "",
                  "| cell | route | prompts | adapter accuracy | language accuracy | language read wrong (true -> read) |",
                  "|---|---|---|---|---|---|"]
        for c in routed:
            r = c["routing"]
            wrong = ", ".join(f"{k} ×{v}" for k, v in sorted(r.get("misrouted", {}).items())) or "none"
            acc = ["–" if r.get(k) is None else f"{100 * r[k]:.1f}" for k in ("adapter_accuracy", "language_accuracy")]
            lines.append(f"| {c['name']} | {r.get('route')} | {r.get('n')} | {acc[0]} | {acc[1]} | {wrong} |")
    lines += ["", "## Every cell", "",
              "| cell | language | params | " + " | ".join(COLUMNS.values()) + " | retained gain |",
              "|" + "---|" * (4 + len(COLUMNS))]
    for r in flat_rows(cells, gains):
        g = r["retained_gain"]
        lines.append(f"| {r['cell']} | {r['language']} | {r['params']:,} | "
                     + " | ".join(_cell(r[key], key) for key in COLUMNS) + f" | {'–' if g is None else f'{g:.2f}'} |")
    return "\n".join(lines) + "\n"


def write_study(cfg, cells: list[dict]) -> dict:
    """Write results.json, study.md, study.csv and study.png into the study's folder; return the results."""
    from dataclasses import asdict

    from ..report.plots import interference_plot, write_png

    out = Path(cfg.output_dir)
    gains = gain_table(cells, cfg.gain_metric, cfg.min_gain)
    curve = curves(cells, gains, cfg.curve_seeds)
    rows = flat_rows(cells, gains)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["cell"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(out / "study.csv", buf.getvalue())
    write_text_atomic(out / "study.md", render_markdown(cfg, cells, gains, curve))
    fig = interference_plot({f"rank {r}": s for r, s in curve.items()},
                            f"{Path(str(cfg.model)).name}: retained gain of each fix as N languages are combined",
                            f"retained gain ({COLUMNS.get(cfg.gain_metric, cfg.gain_metric)})")
    write_png(fig, out / "study.png", dpi=110)
    payload = {"config": asdict(cfg), "cells": cells, "retained_gain": gains,
               "curves": {str(r): {v: {"n": xs, "retained_gain": ys} for v, (xs, ys) in s.items()}
                          for r, s in curve.items()}}
    return write_results(out / "results.json", "adapter-study", payload)
