"""Every matplotlib figure of langlock: the HTML report's, and the PNG files that `sweep`, `analyze`,
`compare` (`compare.png`), `adapters study` (`study.png`), `merge analyze` (`analysis.png`) and `bench` (`plots/lpr_wpr_<task>.png`) write.

Every builder returns a `matplotlib.figure.Figure` built with the Agg backend (no display needed) from plain
values its caller computed; `png_bytes`, `write_png` and `data_uri` render one (and close it) into bytes, an
atomically written file or a base64 `data:` URI for embedding in HTML. No module outside `langlock.report`
imports matplotlib.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..io_utils import atomic_open

if TYPE_CHECKING:
    from ..merge.analyze import Analysis

_COLORS = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C"]


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def png_bytes(fig, dpi: int = 90, tight: bool = True) -> bytes:
    """`fig` as PNG bytes at `dpi` (cropped to its content when `tight`); the figure is closed."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    finally:
        _plt().close(fig)
    return buf.getvalue()


def write_png(fig, path: str | os.PathLike, dpi: int = 90, tight: bool = True) -> Path:
    """Render `fig` (`png_bytes`) and write it to `path` atomically, creating its folder; return the path."""
    data = png_bytes(fig, dpi=dpi, tight=tight)
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


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


def interference_plot(panels: dict[str, dict[str, tuple[list, list]]], title: str, ylabel: str):
    """One panel per key (e.g. a LoRA rank), one line per series: x = number of languages combined, y = the
    fixes' mean retained gain (None values left out); 1 = every fix keeps its own gain, 0 = none of it."""
    plt = _plt()
    n = max(1, len(panels))
    fig, axes = plt.subplots(1, n, figsize=(4.4 * n, 3.4), squeeze=False, sharey=True)
    for ax, (name, series) in zip(axes[0], panels.items() or [("no curve", {})]):
        for k, (label, (xs, ys)) in enumerate(series.items()):
            pts = [(x, y) for x, y in zip(xs, ys) if y is not None]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=label, color=_COLORS[k % len(_COLORS)])
        ax.axhline(1.0, color="#888888", lw=0.8, ls="--")
        ax.axhline(0.0, color="#888888", lw=0.8)
        ax.set_title(name)
        ax.set_xlabel("languages combined (N)")
        ax.grid(alpha=0.3)
        if any(y is not None for xs, ys in series.values() for y in ys):
            ax.legend(fontsize=7)
    axes[0][0].set_ylabel(ylabel)
    fig.suptitle(title, fontsize=9)
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


def scatter_panels(panels: list[tuple[str, str, list[tuple]]], ylabel: str, title: str):
    """Side-by-side panels of labelled points with error bars (`compare.png`).

    `panels`: (panel title, x label, points) with points (label, x, y, x half-width, y half-width)."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.5), squeeze=False)
    for ax, (panel, xlabel, points) in zip(axes[0], panels):
        for label, x, y, xerr, yerr in points:
            ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="o", capsize=3, label=label)
            ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.set_title(panel)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def pass_rate_bars(langs: list[str], lpr: list[float], wpr: list[float], title: str):
    """LPR and WPR (in %) per language as paired bars (`bench`'s `plots/lpr_wpr_<task>.png`)."""
    plt = _plt()
    x = range(len(langs))
    fig, ax = plt.subplots(figsize=(max(4, 0.7 * len(langs) + 1.5), 3.2))
    ax.bar([i - 0.2 for i in x], lpr, width=0.4, label="LPR")
    ax.bar([i + 0.2 for i in x], wpr, width=0.4, label="WPR (non-Latin only)")
    ax.set_xticks(list(x), langs)
    ax.set_ylim(0, 100)
    ax.set_ylabel("%")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def layer_change_heatmap(res: Analysis):
    """`merge analyze`'s `analysis.png`: one module x layer heat-map of the relative change per expert, then a
    panel of each expert's per-layer top-change share against the parameter share, the suggested
    language-expert layers shaded."""
    import numpy as np

    plt = _plt()
    E = len(res.experts)
    fig, axes = plt.subplots(E + 1, 1, figsize=(max(6, 0.45 * res.num_layers + 3),
                                                2.2 * E + 2.8 + 0.25 * E * len(res.modules)), squeeze=False)
    for k in range(E):
        ax = axes[k][0]
        grid = np.array([[res.rel[k].get((i, m), np.nan) for i in range(res.num_layers)] for m in res.modules])
        im = ax.imshow(100 * grid, aspect="auto", cmap="viridis")
        ax.set_yticks(range(len(res.modules)), res.modules, fontsize=7)
        ax.set_xticks(range(res.num_layers))
        ax.set_title(f"{res.tag(k)} expert: ‖θE − θB‖ / ‖θB‖ (%) — {Path(res.experts[k]).name}", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.03)
    ax = axes[E][0]
    x = np.arange(res.num_layers)
    for k in range(E):
        ax.plot(x, 100 * np.array(res.top_share[k]), marker="o", label=f"{res.tag(k)} expert")
    ax.plot(x, 100 * np.array(res.param_fraction), "k--", label="parameter share")
    s = res.suggestion
    for i in range(res.num_layers):
        if i < s["bottom"] or i >= res.num_layers - s["top"]:
            ax.axvspan(i - 0.5, i + 0.5, color="tab:orange", alpha=0.15)
    ax.set_xlabel("layer (shaded: suggested language-expert layers)")
    ax.set_ylabel(f"share of top {100 * res.top_fraction:g}% |Δ| (%)")
    ax.set_xticks(x)
    ax.legend(fontsize=7)
    fig.tight_layout()
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
