"""`langlock.report.plots`: the one place that draws figures and writes PNGs (issue 12: plotting lives in report/)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import langlock
from langlock.bench.report import plot_task
from langlock.report import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _open_figures() -> list[int]:
    import matplotlib.pyplot as plt

    return plt.get_fignums()


def _bars():
    return plots.pass_rate_bars(["ko", "ja"], [50.0, 75.0], [40.0, 0.0], "t")


def test_no_matplotlib_outside_report():
    pkg = Path(langlock.__file__).parent
    offenders = [str(p.relative_to(pkg)) for p in sorted(pkg.rglob("*.py"))
                 if p.relative_to(pkg).parts[0] != "report" and "matplotlib" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_write_png_matches_png_bytes_and_closes(tmp_path):
    before = len(_open_figures())
    path = plots.write_png(_bars(), tmp_path / "sub" / "bars.png", dpi=110, tight=False)
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert data == plots.png_bytes(_bars(), dpi=110, tight=False)
    assert data != plots.png_bytes(_bars(), dpi=60, tight=False)  # dpi reaches savefig
    assert len(_open_figures()) == before
    assert [p.name for p in path.parent.iterdir()] == ["bars.png"]  # no temporary file left


def test_write_png_failure_writes_nothing_and_closes(tmp_path):
    before = len(_open_figures())
    fig = _bars()

    def broken(*args, **kwargs):
        raise RuntimeError("render failed")

    fig.savefig = broken
    with pytest.raises(RuntimeError, match="render failed"):
        plots.write_png(fig, tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []
    assert len(_open_figures()) == before


def test_bench_plot_task_writes_its_png_only_with_language_rows(tmp_path):
    def row(level, task, lang, lpr, wpr):
        return SimpleNamespace(level=level, task=task, language=lang, n=3, metrics={"lpr": lpr, "wpr": wpr})

    report = SimpleNamespace(rows=[row("language", "monolingual", "ko", 0.5, 0.25),
                                   row("language", "monolingual", "fr", 1.0, None),
                                   row("overall", "crosslingual", "all", 0.7, 0.6)])
    png = tmp_path / "plots" / "lpr_wpr_monolingual.png"
    assert plot_task(png, report, "monolingual")
    # LPR 50/100 %, WPR 25 % for ko and 0 for fr (Latin script): the same figure, drawn directly
    assert png.read_bytes() == plots.png_bytes(
        plots.pass_rate_bars(["ko", "fr"], [50.0, 100.0], [25.0, 0],
                             "monolingual: line- and word-level pass rate (lcb profile)"), dpi=110, tight=False)
    assert not plot_task(tmp_path / "plots" / "lpr_wpr_crosslingual.png", report, "crosslingual")
    assert [p.name for p in (tmp_path / "plots").iterdir()] == ["lpr_wpr_monolingual.png"]


def test_atomic_files_get_the_mode_open_would_give(tmp_path):
    import os

    from langlock.io_utils import write_text_atomic

    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
        (tmp_path / "b.txt").write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == (tmp_path / "b.txt").stat().st_mode & 0o777 == 0o644
