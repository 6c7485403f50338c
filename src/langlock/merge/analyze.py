"""Where did each expert change its base?  Per-layer, per-module relative change and top-change shares.

For every expert E and tensor:  relative change r = ‖θ_E − θ_B‖ / ‖θ_B‖ (Frobenius norms; a module's or a
layer's r pools the squared norms of its tensors).  The *top share* of a layer is the fraction of E's
top-`top_fraction` largest |θ_E − θ_B| entries (over the whole model, threshold chosen exactly like TIES'
paper trimming) that lie in that layer; dividing by the layer's share of parameters gives its *enrichment*
(1 = as many large changes as its size predicts).  With two experts the overlap (Jaccard index) of their
top-change masks is reported per layer.

Suggested (b, u) — the rule: a layer "favours the language expert" when the language expert's enrichment
there exceeds the task expert's (with one expert: exceeds 1).  b is the number of consecutive favouring
layers counted up from layer 0, u the number counted down from the top layer; if b + u would leave no
layer for the task expert, the larger of the two is reduced until one layer is left.  A one-layer
transition zone on each side (tb = tu = 1) is suggested when at least one middle layer remains after it.

Streaming: three passes over base and experts, one tensor of each in memory (pass 1: norms and the
high-bit histogram of |Δ|; pass 2: the exact threshold; pass 3: counts above it).
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UsageError
from .io import FLOAT_CODES, Checkpoint, staged_output_dir
from .plan import LAYER_RE, check_compatible, count_layers, layer_index
from .ties import MagnitudeThreshold, paper_kth

logger = logging.getLogger(__name__)


def module_name(name: str) -> str:
    """'model.layers.3.self_attn.q_proj.weight' -> 'self_attn.q_proj'; non-layer tensors keep their name."""
    m = LAYER_RE.search(name)
    return (name if m is None else name[m.end():]).removesuffix(".weight")


@dataclass
class Analysis:
    base: str
    experts: list[str]
    num_layers: int
    top_fraction: float
    modules: list[str] = field(default_factory=list)
    #: rel[e][(layer, module)] = relative change; layer is -1 for non-layer tensors
    rel: list[dict] = field(default_factory=list)
    layer_rel: list[list[float]] = field(default_factory=list)
    top_share: list[list[float]] = field(default_factory=list)
    param_fraction: list[float] = field(default_factory=list)
    nonlayer_top_share: list[float] = field(default_factory=list)
    jaccard: list[float] | None = None
    lang_index: int = 0
    suggestion: dict = field(default_factory=dict)

    def tag(self, e: int) -> str:
        """'lang' for the language expert, 'task' for the other of two, else 'e<k>'."""
        if e == self.lang_index:
            return "lang"
        return "task" if len(self.experts) == 2 else f"e{e}"

    def enrichment(self, e: int) -> list[float]:
        return [s / p if p else 0.0 for s, p in zip(self.top_share[e], self.param_fraction)]


def suggest_swap(lang_enrichment: list[float], task_enrichment: list[float] | None) -> dict:
    """(b, u, tb, tu) from per-layer enrichments by the rule in the module docstring."""
    n = len(lang_enrichment)
    favours = [le > (task_enrichment[i] if task_enrichment is not None else 1.0)
               for i, le in enumerate(lang_enrichment)]
    b = next((i for i, f in enumerate(favours) if not f), n)
    u = next((i for i, f in enumerate(reversed(favours)) if not f), n)
    while b + u > n - 1 and (b or u):
        if b >= u:
            b -= 1
        else:
            u -= 1
    tb = 1 if b > 0 and n - b - u - 1 >= 1 else 0
    tu = 1 if u > 0 and n - b - u - tb - 1 >= 1 else 0
    return {"bottom": b, "top": u, "transition_bottom": tb, "transition_top": tu,
            "favours_language": favours,
            "rule": "b/u = consecutive layers from the bottom/top where the language expert's top-change "
                    "enrichment exceeds the task expert's (one expert: exceeds 1); at least one task layer kept"}


def analyze(base_path: str | Path, expert_paths: list[str | Path], top_fraction: float = 0.05,
            lang_index: int = 0) -> Analysis:
    """Stream base and experts once per pass and return the per-layer/per-module statistics."""
    if not expert_paths:
        raise UsageError("analyze needs at least one expert besides the base")
    if not 0 < top_fraction < 1:
        raise UsageError(f"--top-fraction must be in (0, 1), got {top_fraction}")
    if not 0 <= lang_index < len(expert_paths):
        raise UsageError(f"--lang-index must name one of the {len(expert_paths)} experts (0-based)")
    base = Checkpoint(base_path, "base")
    experts = [Checkpoint(p, f"expert{k}") for k, p in enumerate(expert_paths)]
    check_compatible([base, *experts])
    n = count_layers(base)
    names = [nm for nm, info in base.tensors.items() if info.dtype in FLOAT_CODES]
    d = sum(base.tensors[nm].numel for nm in names)
    E = len(experts)
    sel = [MagnitudeThreshold(paper_kth(d, top_fraction)) for _ in range(E)]
    diff_sq = [defaultdict(float) for _ in range(E)]
    base_sq: dict = defaultdict(float)
    layer_params = [0] * n

    def deltas(nm):
        b = base.read(nm)
        for k, ex in enumerate(experts):
            x = ex.read(nm)
            x -= b
            yield k, x, b

    for nm in names:  # pass 1
        key = (layer_index(nm) if layer_index(nm) is not None else -1, module_name(nm))
        if key[0] >= 0:
            layer_params[key[0]] += base.tensors[nm].numel
        first = True
        for k, delta, b in deltas(nm):
            if first:
                base_sq[key] += float(np.dot(b.ravel().astype(np.float64), b.ravel()))
                first = False
            diff_sq[k][key] += float(np.dot(delta.ravel().astype(np.float64), delta.ravel()))
            sel[k].add_pass1(delta)
    for s in sel:
        s.end_pass1()
    for nm in names:  # pass 2
        for k, delta, _ in deltas(nm):
            sel[k].add_pass2(delta)
    thresholds = [s.end_pass2() for s in sel]
    counts = [[0] * n for _ in range(E)]
    nonlayer_counts = [0] * E
    inter, union = [0] * n, [0] * n
    for nm in names:  # pass 3
        i = layer_index(nm)
        masks = []
        for k, delta, _ in deltas(nm):
            mask = np.abs(delta) >= thresholds[k]
            c = int(mask.sum())
            if i is None:
                nonlayer_counts[k] += c
            else:
                counts[k][i] += c
            if E >= 2 and k < 2 and i is not None:
                masks.append(mask)
        if len(masks) == 2:
            inter[i] += int((masks[0] & masks[1]).sum())
            union[i] += int((masks[0] | masks[1]).sum())

    res = Analysis(str(base.path), [str(e.path) for e in experts], n, top_fraction, lang_index=lang_index)
    res.modules = list(dict.fromkeys(k[1] for k in base_sq if k[0] >= 0))
    for k in range(E):
        res.rel.append({key: math.sqrt(diff_sq[k][key]) / math.sqrt(v) if v > 0 else float("nan")
                        for key, v in base_sq.items()})
        layer_rel = []
        for i in range(n):
            num = sum(v for key, v in diff_sq[k].items() if key[0] == i)
            den = sum(v for key, v in base_sq.items() if key[0] == i)
            layer_rel.append(math.sqrt(num) / math.sqrt(den) if den > 0 else float("nan"))
        res.layer_rel.append(layer_rel)
        total = sum(counts[k]) + nonlayer_counts[k]
        res.top_share.append([c / total if total else 0.0 for c in counts[k]])
        res.nonlayer_top_share.append(nonlayer_counts[k] / total if total else 0.0)
    res.param_fraction = [p / d for p in layer_params]
    if E >= 2:
        res.jaccard = [inter[i] / union[i] if union[i] else 0.0 for i in range(n)]
    task = None
    if E >= 2:
        task = res.enrichment(1 if lang_index == 0 else 0)
    res.suggestion = suggest_swap(res.enrichment(lang_index), task)
    res.suggestion["thresholds"] = thresholds
    return res


def format_table(res: Analysis) -> str:
    """Per-layer table: relative change (%) and top-change share (%) for each expert, and the suggestion."""
    s = res.suggestion
    head = ["layer"]
    for k in range(len(res.experts)):
        tag = res.tag(k)
        head += [f"rel_{tag}%", f"top_{tag}%"]
    if res.jaccard is not None:
        head.append("jaccard")
    head.append("suggest")
    rows = [head]
    for i in range(res.num_layers):
        zone = ("L" if i < s["bottom"] or i >= res.num_layers - s["top"] else
                "~" if i < s["bottom"] + s["transition_bottom"]
                or i >= res.num_layers - s["top"] - s["transition_top"] else "T")
        row = [str(i)]
        for k in range(len(res.experts)):
            row += [f"{100 * res.layer_rel[k][i]:.3f}", f"{100 * res.top_share[k][i]:.2f}"]
        if res.jaccard is not None:
            row.append(f"{res.jaccard[i]:.3f}")
        row.append(zone)
        rows.append(row)
    row = ["non-layer"]
    for k in range(len(res.experts)):
        row += ["", f"{100 * res.nonlayer_top_share[k]:.2f}"]
    rows.append(row + ([""] if res.jaccard is not None else []) + [""])
    widths = [max(len(r[c]) for r in rows) for c in range(len(head))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(r, widths)) for r in rows]
    lines.append(f"suggested: --bottom {s['bottom']} --top {s['top']} --transition-bottom "
                 f"{s['transition_bottom']} --transition-top {s['transition_top']}  (L = language expert, "
                 f"~ = transition, T = task expert; top share = share of each expert's largest "
                 f"{100 * res.top_fraction:g}% changes)")
    return "\n".join(lines)


def write_outputs(res: Analysis, out_dir: str | Path, overwrite: bool = False) -> Path:
    """analysis_layers.csv, analysis_modules.csv (tidy), analysis.json (suggestion) and analysis.png
    (`langlock.report.plots.layer_change_heatmap`)."""
    from ..report.plots import layer_change_heatmap, write_png

    with staged_output_dir(out_dir, overwrite) as tmp:
        with open(tmp / "analysis_layers.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["expert", "layer", "rel_change", "top_share", "param_fraction", "enrichment", "jaccard"])
            for k, path in enumerate(res.experts):
                enr = res.enrichment(k)
                for i in range(res.num_layers):
                    jac = "" if res.jaccard is None else f"{res.jaccard[i]:.6g}"
                    w.writerow([path, i, f"{res.layer_rel[k][i]:.6g}", f"{res.top_share[k][i]:.6g}",
                                f"{res.param_fraction[i]:.6g}", f"{enr[i]:.6g}", jac])
        with open(tmp / "analysis_modules.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["expert", "layer", "module", "rel_change"])
            for k, path in enumerate(res.experts):
                for (i, m), v in res.rel[k].items():
                    w.writerow([path, "" if i < 0 else i, m, f"{v:.6g}"])
        summary = {"schema_version": 1, "base": res.base, "experts": res.experts, "num_layers": res.num_layers,
                   "top_fraction": res.top_fraction, "lang_index": res.lang_index, "suggestion": res.suggestion}
        (tmp / "analysis.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        write_png(layer_change_heatmap(res), tmp / "analysis.png", dpi=120, tight=False)
    return Path(out_dir)
