"""The statistics of `langlock compare`: mean and 95 % Student-t interval over seeds per method (`summarize`),
and each method's change against the base paired by seed (`paired_deltas`): every seed decodes the same prompts
with the same decoding seed for the base and the method, so the per-seed difference removes most of the
prompt-sampling noise the unpaired intervals carry. Pure functions over ``{method: {seed: metrics}}``.
"""

from __future__ import annotations

import math

from ..evaluate import METRICS

#: compare's own columns beside the evaluation's metrics: what a method costs (`compare.methods.run_cost`, and the
#: evaluation's wall time); summarised over seeds like the metrics, never paired against the base
COSTS = {
    "trainable_params": ("trainable parameters", False),
    "train_seconds": ("train / fit seconds", False),
    "eval_seconds": ("evaluation seconds", False),
}
COLUMNS = {**METRICS, **COSTS}

#: two-sided 95% Student-t quantiles t_{0.975, df} for df = 1..30 (beyond: 1.96)
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042)


def _clean(values) -> list[float]:
    return [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]


def mean_ci(values: list[float]) -> tuple[float | None, float | None]:
    """Mean and the half-width of its two-sided 95% Student-t interval (None for fewer than 2 values)."""
    vals = _clean(values)
    if not vals:
        return None, None
    mean = sum(vals) / len(vals)
    if len(vals) < 2:
        return mean, None
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
    df = len(vals) - 1
    t = T975[df - 1] if df <= len(T975) else 1.96
    return mean, t * sd / math.sqrt(len(vals))


def summarize_method(runs: dict[int, dict]) -> dict:
    """Per metric: mean, 95 % interval and the per-seed values (in seed order)."""
    row: dict = {"seeds": sorted(runs)}
    for key in COLUMNS:
        mean, half = mean_ci([r.get(key) for r in runs.values()])
        row[key] = {"mean": mean, "ci95": half, "values": [runs[s].get(key) for s in sorted(runs)]}
    return row


def paired_deltas(base: dict[int, dict], other: dict[int, dict], keys=tuple(METRICS)) -> dict:
    """Per metric: `other` − `base` on every seed both have a value for, with mean and 95 % interval
    (``{"seeds", "values", "mean", "ci95"}``; metrics with no such seed are left out)."""
    out = {}
    for key in keys:
        seeds = [s for s in sorted(set(base) & set(other))
                 if _clean([base[s].get(key)]) and _clean([other[s].get(key)])]
        if not seeds:
            continue
        diffs = [other[s][key] - base[s][key] for s in seeds]
        mean, half = mean_ci(diffs)
        out[key] = {"seeds": seeds, "values": diffs, "mean": mean, "ci95": half}
    return out


def summarize(methods: list[str], per_run: dict[str, dict[int, dict]], unavailable: dict[str, str],
              base: str = "base") -> dict:
    """Rows per method (or why it is unavailable) and, when `base` was evaluated, every other method's paired
    change against it."""
    rows = []
    for method in methods:
        if method in unavailable:
            rows.append({"method": method, "unavailable": unavailable[method]})
        else:
            rows.append({"method": method, **summarize_method(per_run.get(method, {}))})
    paired = {}
    if per_run.get(base):
        paired = {m: paired_deltas(per_run[base], per_run[m]) for m in methods
                  if m != base and per_run.get(m)}
    return {"metrics": {k: v[0] for k, v in COLUMNS.items()}, "rows": rows, "paired_base": base, "paired": paired}
