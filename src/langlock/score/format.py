"""Text renderings of a `ScoreReport`: the official script's TSV and a readable table."""

from __future__ import annotations

from .metrics import HEADLINE, ScoreReport


def pct(x: float | None) -> str:
    """The benchmark's formatting: a percentage with 2 decimals, or N/A."""
    return "N/A" if x is None else f"{x:.2%}"


def to_tsv(report: ScoreReport) -> str:
    """Exactly the columns of the benchmark's `compute_metrics.py`: task model source language lpr wpr."""
    a, b = HEADLINE[report.profile]
    lines = ["\t".join(["task", "model", "source", "language", a, b])]
    for r in report.rows:
        lines.append("\t".join([r.task, r.model, r.source, r.language, pct(r.metrics[a]), pct(r.metrics[b])]))
    return "\n".join(lines) + "\n"


def to_table(report: ScoreReport, *, levels=("group", "source", "language", "overall")) -> str:
    """An aligned table with every metric of the profile, n, and skipped counts."""
    names = list(report.rows[0].metrics) if report.rows else []
    header = ["task", "model", "source", "language", "n", "skip", *names]
    body = []
    for r in report.rows:
        if r.level not in levels:
            continue
        vals = ["n/a" if not r.applicable else ("N/A" if r.metrics[m] is None else f"{100 * r.metrics[m]:.2f}")
                for m in names]
        body.append([r.task, r.model, r.source, r.language, str(r.n), str(r.n_skipped), *vals])
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(header)]
    fmt = lambda row: "  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))  # noqa: E731
    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, body)]) + "\n"
