"""Text renderings of a `ScoreReport`: the official script's TSV and a readable table.

The TSV keeps the official script's columns exactly (followed by `vr cpr` when answers were judged for
validity); the table shows every rate with its 95 % bootstrap interval over prompts."""

from __future__ import annotations

from .metrics import HEADLINE, QUALITY_METRICS, ScoreReport


def pct(x: float | None) -> str:
    """The benchmark's formatting: a percentage with 2 decimals, or N/A."""
    return "N/A" if x is None else f"{x:.2%}"


def to_tsv(report: ScoreReport) -> str:
    """Exactly the columns of the benchmark's `compute_metrics.py`: task model source language lpr wpr
    (then `vr cpr` when the report has validity verdicts)."""
    cols = HEADLINE[report.profile] + (QUALITY_METRICS if report.verdicts is not None else ())
    lines = ["\t".join(["task", "model", "source", "language", *cols])]
    for r in report.rows:
        lines.append("\t".join([r.task, r.model, r.source, r.language, *(pct(r.metrics[c]) for c in cols)]))
    return "\n".join(lines) + "\n"


def cell(value: float | None, ci: tuple[float, float] | None = None) -> str:
    """A rate in percent with 2 decimals, followed by its interval `[lo-hi]` (1 decimal) when known."""
    if value is None:
        return "N/A"
    return f"{100 * value:.2f}" + (f" [{100 * ci[0]:.1f}-{100 * ci[1]:.1f}]" if ci else "")


def to_table(report: ScoreReport, *, levels=("group", "source", "language", "overall")) -> str:
    """An aligned table with every metric of the profile (with its 95 % interval), n, and skipped counts."""
    names = list(report.rows[0].metrics) if report.rows else []
    header = ["task", "model", "source", "language", "n", "skip", *names]
    body = []
    for r in report.rows:
        if r.level not in levels:
            continue
        vals = ["n/a" if not r.applicable else cell(r.metrics[m], r.ci.get(m)) for m in names]
        body.append([r.task, r.model, r.source, r.language, str(r.n), str(r.n_skipped), *vals])
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(header)]
    fmt = lambda row: "  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))  # noqa: E731
    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, body)]) + "\n"
