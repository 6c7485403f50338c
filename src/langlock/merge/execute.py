"""Run a `MergePlan`: stream tensors from the inputs into sharded output, or print the plan (`--dry-run`).

Memory stays bounded by the tensors of one output tensor's computation: each input tensor is `pread` into
a fresh buffer, combined, written straight into its pre-laid-out shard and dropped.  The output directory
is built under a temporary name and renamed into place only after everything (shards, index, config,
tokenizer, `langlock_merge.yaml`, `swap_plan.json`, model card) is written.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from ..io_utils import write_json_atomic
from . import soup, ties
from .io import (
    FLOAT_CODES,
    OutEntry,
    ShardedWriter,
    from_compute,
    parse_size,
    read_raw,
    staged_output_dir,
    to_compute,
)
from .plan import MergePlan, TensorPlan, estimate_peak_bytes

logger = logging.getLogger(__name__)

COPY_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
              "vocab.json", "merges.txt", "vocab.txt", "added_tokens.json", "chat_template.jinja",
              "chat_template.json", "generation_config.json")
_CODE_TO_TORCH = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64"}


def _compute_dtype(plan: MergePlan, t: TensorPlan) -> np.dtype:
    codes = {plan.models[m].tensors[t.name].dtype for m, _ in t.sources}
    return np.dtype(np.float64) if "F64" in codes else np.dtype(np.float32)


def _read(plan: MergePlan, model: int, name: str, compute: np.dtype) -> np.ndarray:
    info = plan.models[model].tensors[name]
    return to_compute(read_raw(info), info.dtype, compute)


class TiesState:
    """Global quantities of paper-exact TIES: per-expert trimming thresholds and the majority sign."""

    def __init__(self, plan: MergePlan):
        self.plan = plan
        self.n_experts = len(plan.models) - 1
        self.thresholds: list[float] = [0.0] * self.n_experts
        self.majority_sign = 1.0

    def _float_tensors(self):
        return [t for t in self.plan.tensors if t.op == "ties"]

    def _deltas(self, t: TensorPlan):
        c = _compute_dtype(self.plan, t)
        base = _read(self.plan, 0, t.name, c)
        for k in range(1, self.n_experts + 1):
            delta = _read(self.plan, k, t.name, c)
            delta -= base
            yield k - 1, delta

    def prepare(self) -> None:
        tensors = self._float_tensors()
        d = sum(int(np.prod(t.shape)) for t in tensors)
        rank = ties.paper_kth(d, self.plan.options["density"])
        selectors = [ties.MagnitudeThreshold(rank) for _ in range(self.n_experts)]
        if rank:
            for t in tensors:  # pass 1: high 16 bits of |τ|
                for k, delta in self._deltas(t):
                    selectors[k].add_pass1(delta)
            for s in selectors:
                s.end_pass1()
            for t in tensors:  # pass 2: low 16 bits inside the bucket holding the threshold
                for k, delta in self._deltas(t):
                    selectors[k].add_pass2(delta)
        self.thresholds = [s.end_pass2() for s in selectors]
        total = 0.0
        for t in tensors:  # pass 3: model-wide majority of the elected signs
            trimmed = [ties.trim_threshold(delta, self.thresholds[k]) for k, delta in self._deltas(t)]
            total += float(ties.elect_sum_signs(trimmed).sum())
        self.majority_sign = float(np.sign(total))
        logger.info("TIES (paper): d=%d, kept rank %d, thresholds %s, majority sign %+d", d, rank,
                    [f"{x:.3g}" for x in self.thresholds], int(self.majority_sign))

    def merge(self, t: TensorPlan) -> np.ndarray:
        c = _compute_dtype(self.plan, t)
        base = _read(self.plan, 0, t.name, c)
        trimmed = []
        for k in range(self.n_experts):
            delta = _read(self.plan, k + 1, t.name, c)
            delta -= base
            trimmed.append(ties.trim_threshold(delta, self.thresholds[k]))
        signs = ties.elect_sum_signs(trimmed)
        merged = ties.paper_disjoint_merge(trimmed, signs, self.majority_sign)
        del trimmed, signs
        lam = self.plan.options["lambda"]
        if lam != 1:
            merged *= c.type(lam)
        base += merged
        return base


def _mergekit_ties(plan: MergePlan, t: TensorPlan) -> np.ndarray:
    c = _compute_dtype(plan, t)
    base = _read(plan, 0, t.name, c)
    deltas = []
    for m, _ in t.sources[1:]:
        delta = _read(plan, m, t.name, c)
        delta -= base
        deltas.append(ties.magnitude_trim(delta, plan.options["density"]))
    return ties.mergekit_ties(base, deltas, [w for _, w in t.sources[1:]], plan.options["lambda"],
                              plan.options["normalize"], plan.options["majority"])


def compute_tensor(plan: MergePlan, t: TensorPlan, ties_state: TiesState | None = None) -> np.ndarray:
    """The output tensor `t`, already in its output storage dtype."""
    if t.op == "copy":
        (m, _), = t.sources
        info = plan.models[m].tensors[t.name]
        raw = read_raw(info)
        if info.dtype == t.dtype or info.dtype not in FLOAT_CODES:
            return raw
        return from_compute(to_compute(raw, info.dtype, np.dtype(np.float32)), t.dtype)
    if t.op == "linear":
        c = _compute_dtype(plan, t)
        models = [m for m, _ in t.sources]
        acc = soup.weighted_sum(lambda k: _read(plan, models[k], t.name, c), [w for _, w in t.sources])
        return from_compute(acc, t.dtype)
    if t.op == "ties":
        if plan.options["trim"] == "paper":
            return from_compute(ties_state.merge(t), t.dtype)
        return from_compute(_mergekit_ties(plan, t), t.dtype)
    raise ValueError(f"unknown op {t.op!r}")


def _fmt_bytes(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n < 2**30 else f"{n / 2**30:.2f} GiB"


def print_plan(plan: MergePlan, max_shard_size: str | int, out: TextIO | None = None) -> None:
    """The per-tensor source plan and the estimated peak memory; reads headers only, writes nothing."""
    out = out or sys.stdout
    print(f"# merge plan: {plan.method}", file=out)
    for label in plan.labels:
        print(f"#   {label}", file=out)
    print("tensor\tshape\tdtype\tzone\tsources", file=out)
    for t in plan.tensors:
        src = " + ".join(f"{w:g}*{plan.roles[m]}" for m, w in t.sources)
        if t.op == "ties":
            src = f"ties(base={plan.roles[0]}; " + ", ".join(f"{w:g}*{plan.roles[m]}" for m, w in t.sources[1:]) + ")"
        print(f"{t.name}\t{'x'.join(map(str, t.shape))}\t{t.dtype}\t{t.zone}\t{src}", file=out)
    entries = [OutEntry(t.name, t.dtype, t.shape) for t in plan.tensors]
    writer = ShardedWriter(Path("."), entries, parse_size(max_shard_size))
    total = sum(e.nbytes for e in entries)
    largest_in = max(m.largest_shard_bytes for m in plan.models)
    peak = estimate_peak_bytes(plan)
    print(f"# output: {len(plan.tensors)} tensors, {_fmt_bytes(total)} in {len(writer.layout)} shard(s) "
          f"(largest {_fmt_bytes(writer.largest_shard_bytes)})", file=out)
    print(f"# estimated peak memory of tensor buffers: {_fmt_bytes(peak)} (largest input shard "
          f"{_fmt_bytes(largest_in)}; a load-everything merge would hold about "
          f"{_fmt_bytes(sum(sum(p.stat().st_size for p in m.shards) for m in plan.models) + total)})", file=out)
    if plan.method == "ties" and plan.options.get("trim") == "paper":
        print("# paper TIES reads the inputs 4 times (2 passes for the global thresholds, 1 for the "
              "majority sign, 1 to write)", file=out)


def _model_card(plan: MergePlan) -> str:
    lines = [f"# Merged model ({plan.method})", "", "Made with `langlock merge`.", "", "## Inputs", ""]
    lines += [f"- {label}" for label in plan.labels]
    lines += ["", "## Options", "", "```json", json.dumps(plan.options, indent=2), "```", "",
              "The per-tensor sources are in `swap_plan.json`; the resolved config in `langlock_merge.yaml`.", ""]
    return "\n".join(lines)


def run_plan(plan: MergePlan, out_dir: str | Path, resolved_config: dict, max_shard_size: str | int = "2GB",
             overwrite: bool = False, mergekit_yaml: str | None = None) -> Path:
    """Execute `plan` into `out_dir` (atomically) and return its path."""
    import yaml

    out_dir = Path(out_dir)
    entries = [OutEntry(t.name, t.dtype, t.shape) for t in plan.tensors]
    ties_state = None
    if plan.method == "ties" and plan.options["trim"] == "paper":
        ties_state = TiesState(plan)
    with staged_output_dir(out_dir, overwrite) as tmp:
        if ties_state is not None:
            ties_state.prepare()
            plan.options["paper_thresholds"] = ties_state.thresholds
            plan.options["paper_majority_sign"] = ties_state.majority_sign
        writer = ShardedWriter(tmp, entries, parse_size(max_shard_size), {"merged_by": "langlock"})
        try:
            from tqdm import tqdm

            for t in tqdm(plan.tensors, desc=f"merge {plan.method}", unit="tensor", disable=None, leave=False):
                arr = compute_tensor(plan, t, ties_state)
                writer.write(t.name, arr)
                del arr
            writer.close()
        finally:
            writer.abort()
        src = plan.models[plan.config_source]
        config = dict(src.config)
        out_codes = {t.dtype for t in plan.tensors if t.dtype in FLOAT_CODES}
        if len(out_codes) == 1:
            name = _CODE_TO_TORCH[out_codes.pop()]
            for key in ("torch_dtype", "dtype"):
                if key in config or key == "dtype":
                    config[key] = name
        write_json_atomic(tmp / "config.json", config)
        for fname in COPY_FILES:
            if (src.path / fname).is_file():
                shutil.copyfile(src.path / fname, tmp / fname)
        (tmp / "langlock_merge.yaml").write_text(yaml.safe_dump(resolved_config, sort_keys=False), encoding="utf-8")
        write_json_atomic(tmp / "swap_plan.json", plan.to_json())
        (tmp / "README.md").write_text(_model_card(plan), encoding="utf-8")
        if mergekit_yaml is not None:
            (tmp / "mergekit.yaml").write_text(mergekit_yaml, encoding="utf-8")
    logger.info("wrote %s (%d tensors, %d shard(s))", out_dir, len(entries), len(writer.layout))
    return out_dir
