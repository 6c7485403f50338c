"""Matplotlib figures of the report and the PNG files of `langlock sweep` / `langlock analyze`.

Every function returns a `matplotlib.figure.Figure` built with the Agg backend (no display needed);
`png_bytes` and `data_uri` turn one into bytes or a base64 `data:` URI for embedding in HTML.
"""

from __future__ import annotations

import base64
import io

_COLORS = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C"]


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def data_uri(fig) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(fig)).decode("ascii")


def grouped_bars(groups: list[str], series: dict[str, list[float | None]], title: str, ylabel: str,
                 ylim: tuple[float, float] | None = (0, 100)):
    """Bars per group (x) for each series (legend); None values are left out."""
    plt = _plt()
    n = max(1, len(series))
    width = 0.8 / n
    fig, ax = plt.subplots(figsize=(max(5.0, 0.55 * len(groups) * n + 2), 3.4))
    for k, (label, values) in enumerate(series.items()):
        xs = [i + (k - (n - 1) / 2) * width for i, v in enumerate(values) if v is not None]
        ys = [v for v in values if v is not None]
        ax.bar(xs, ys, width=width, label=label, color=_COLORS[k % len(_COLORS)])
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if ylim:
        ax.set_ylim(*ylim)
    ax.grid(axis="y", alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def lines(xs_by_series: dict[str, tuple[list, list]], title: str, xlabel: str, ylabel: str):
    """One line per series: label -> (xs, ys)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    for k, (label, (xs, ys)) in enumerate(xs_by_series.items()):
        ax.plot(xs, ys, marker="o", label=label, color=_COLORS[k % len(_COLORS)])
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if xs_by_series:
        ax.legend(fontsize=8)
    return fig


def distributions(panels: dict[str, dict[str, list[float]]], title: str):
    """Side-by-side histograms: panel name -> {label: values}, densities so groups of any size compare."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.2), squeeze=False)
    for ax, (panel, groups) in zip(axes[0], panels.items()):
        finite = [v for vals in groups.values() for v in vals]
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        hi = hi if hi > lo else lo + 1
        log_x = lo >= 1 and hi / lo > 50  # heavy-tailed counts (nucleus sizes): log-spaced bins
        if log_x:
            import numpy as np

            bins = np.geomspace(lo, hi, 31)
            ax.set_xscale("log")
        else:
            bins = 30
        for k, (label, vals) in enumerate(groups.items()):
            if vals:
                ax.hist(vals, bins=bins, range=None if log_x else (lo, hi), density=True, alpha=0.55,
                        label=f"{label} (n={len(vals)})", color=_COLORS[(3 if k else 0) % len(_COLORS)])
        ax.set_title(panel)
        ax.set_ylabel("density")
        ax.legend(fontsize=8)
    fig.suptitle(title, y=1.04)
    return fig


# ------------------------------------------------------------------------- files of the decoding studies


def sweep_plot_files(data: dict) -> dict[str, bytes]:
    """`langlock sweep`'s `plot_<axis>.png` files: the report's per-axis figures (`html.sweep_figures`)."""
    from .html import sweep_figures

    return {f"plot_{title.split(' vs ')[-1]}.png": png_bytes(fig) for title, fig in sweep_figures(data)}


def analysis_plot_file(distributions: dict) -> bytes:
    """`langlock analyze`'s `distributions.png`: the report's figure (`html.analysis_figure`)."""
    from .html import analysis_figure

    return png_bytes(analysis_figure(distributions))
