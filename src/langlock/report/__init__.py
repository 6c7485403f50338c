"""`langlock report`: one self-contained HTML page comparing any langlock runs (scored runs, benchmark runs,
sweeps, confusion-point analyses, training runs).

`build_report(run_dirs, out_path)` reads the runs (`runs.load_runs`), renders them (`html.render`) and writes
the page atomically. matplotlib is imported only when a page is rendered.
"""

from __future__ import annotations

from pathlib import Path

from ..io_utils import write_text_atomic


def build_report(run_dirs, out_path, title: str = "langlock report", examples: int = 6,
                 names: list[str] | None = None) -> Path:
    """Write the report of `run_dirs` (optionally named by `names`) to `out_path`; return the path."""
    from .html import render
    from .runs import load_runs

    runs = load_runs(run_dirs, names=names)
    page = render(runs, title=title, examples=examples)
    write_text_atomic(out_path, page)
    return Path(out_path)


__all__ = ["build_report"]
