"""The mergekit YAML equivalent to a langlock merge plan (emitted as text; mergekit is never imported).

mergekit semantics used (methods-spec §3.4): `slices` are consecutive output layers; inside a `linear` slice
each source's `weight` may be a list of `{filter, value}` conditions (substring test on the tensor name,
first match wins, an entry without `filter` matches everything); pre-weights (embeddings) are planned from
the first slice and post-weights (final norm, lm_head) from the last slice.  Layer swapping becomes one
slice per run of layers with equal weights; non-layer tensors get filter conditions on the first and last
slices when their weights differ from those slices' layer weights.  A hard swap whose first and last slices
already give the non-layer source becomes a `passthrough` config.
"""

from __future__ import annotations

from itertools import groupby

from .io import FLOAT_CODES
from .plan import EMBED_RE, MergePlan

_TORCH = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64"}


def _dtype(plan: MergePlan) -> str:
    codes = [t.dtype for t in plan.tensors if t.dtype in FLOAT_CODES]
    return _TORCH[codes[0]] if codes else "float32"


def _path(plan: MergePlan, k: int) -> str:
    return str(plan.models[k].path.resolve())


def _weight(default: float, conditions: list[tuple[str, float]]):
    conds = [(f, v) for f, v in conditions if v != default]
    if not conds:
        return default
    return [{"filter": f, "value": v} for f, v in conds] + [{"value": default}]


def layer_swap_config(plan: MergePlan) -> dict:
    opts = plan.options
    alphas = opts["language_weights"]
    non_layer = [t for t in plan.tensors if t.layer is None]
    pre = [t for t in non_layer if EMBED_RE.search(t.name)]
    post = [t for t in non_layer if not EMBED_RE.search(t.name)]

    def nl_lang_weight(t) -> float:  # language weight of a non-layer tensor in the plan
        return sum(w for m, w in t.sources if m == 1)

    runs, start = [], 0
    for alpha, group in groupby(alphas):
        n = len(list(group))
        runs.append((start, start + n, alpha))
        start += n
    hard = all(a in (0.0, 1.0) for a in alphas)
    first_ok = all(nl_lang_weight(t) == runs[0][2] for t in pre)
    last_ok = all(nl_lang_weight(t) == runs[-1][2] for t in post)
    cfg: dict = {"dtype": _dtype(plan)}
    if hard and first_ok and last_ok:
        cfg["merge_method"] = "passthrough"
        cfg["slices"] = [{"sources": [{"model": _path(plan, 1 if a == 1.0 else 0), "layer_range": [s, e]}]}
                         for s, e, a in runs]
        return cfg
    cfg["merge_method"] = "linear"
    cfg["parameters"] = {"normalize": True}
    slices = []
    for idx, (s, e, a) in enumerate(runs):
        conds_lang, conds_task = [], []
        edge = ([*pre] if idx == 0 else []) + ([*post] if idx == len(runs) - 1 else [])
        for t in edge:
            lw = nl_lang_weight(t)
            conds_lang.append((t.name, lw))
            conds_task.append((t.name, 1.0 - lw))
        slices.append({"sources": [
            {"model": _path(plan, 1), "layer_range": [s, e], "parameters": {"weight": _weight(a, conds_lang)}},
            {"model": _path(plan, 0), "layer_range": [s, e], "parameters": {"weight": _weight(1.0 - a, conds_task)}},
        ]})
    cfg["slices"] = slices
    return cfg


def soup_config(plan: MergePlan) -> dict:
    weights = plan.options["weights"]
    return {"merge_method": "linear", "dtype": _dtype(plan), "parameters": {"normalize": True},
            "models": [{"model": _path(plan, k), "parameters": {"weight": float(w)}} for k, w in enumerate(weights)]}


def ties_config(plan: MergePlan) -> dict:
    o = plan.options
    return {"merge_method": "ties", "dtype": _dtype(plan), "base_model": _path(plan, 0),
            "parameters": {"normalize": bool(o["normalize"]), "lambda": float(o["lambda"])},
            "models": [{"model": _path(plan, k + 1), "parameters": {"weight": float(w), "density": float(o["density"])}}
                       for k, w in enumerate(o["weights"])]}


def to_mergekit_yaml(plan: MergePlan) -> str:
    """YAML text with a header saying how exact the equivalence is."""
    import yaml

    notes = []
    if plan.method == "layer-swap":
        cfg = layer_swap_config(plan)
        notes.append("tensor-for-tensor equivalent to the langlock layer-swap plan")
    elif plan.method == "soup":
        cfg = soup_config(plan)
        notes.append("tensor-for-tensor equivalent to the langlock soup")
    else:
        cfg = ties_config(plan)
        if plan.options["trim"] == "paper":
            notes.append("NOT equivalent: mergekit trims each tensor separately; langlock --trim paper trims "
                         "the whole model (use --trim mergekit for an equivalent merge)")
        if plan.options["majority"] == "count":
            notes.append("NOT equivalent: mergekit's ties elects signs by weighted sum; --majority count differs")
        if not notes:
            notes.append("equivalent to langlock ties --trim mergekit")
    header = "# mergekit config emitted by `langlock merge --emit-mergekit`\n" + "".join(f"# {n}\n" for n in notes)
    return header + yaml.safe_dump(cfg, sort_keys=False)
