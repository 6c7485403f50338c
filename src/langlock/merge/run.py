"""`langlock merge layer-swap|soup|ties` as one library call: a resolved config (`merge.config.resolve`) becomes a
plan (`merge.plan`), which is printed (dry run), exported as mergekit YAML, or executed (`merge.execute`).

A rerun on an output that already holds the same merge (same settings) does nothing, so a merge killed after
it finished, or simply run twice, is not an error.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError


def build_plan(cfg: dict):
    """Resolved config -> `MergePlan` (validates inputs; reads headers only)."""
    from . import plan as P
    from .io import Checkpoint

    m = cfg["method"]
    if m == "layer-swap":
        w = cfg["weights"]
        if w is not None and len(w) != 2:
            raise UsageError(f"--weights for layer-swap is w_task,w_lang (two numbers), got {w}")
        return P.plan_layer_swap(Checkpoint(cfg["task_expert"], "task"), Checkpoint(cfg["lang_expert"], "lang"),
                                 cfg["bottom"], cfg["top"], cfg["transition_bottom"], cfg["transition_top"],
                                 tuple(w) if w else None, cfg["non_layer"], cfg["dtype"])
    if m == "soup":
        return P.plan_soup([Checkpoint(p) for p in cfg["models"]], cfg["weights"], cfg["dtype"])
    return P.plan_ties(Checkpoint(cfg["base"], "base"), [Checkpoint(p) for p in cfg["models"]], cfg["density"],
                       cfg["lambda"], cfg["trim"], cfg["weights"], cfg["majority"], cfg["normalize"], cfg["dtype"])


def run_merge(method: str, config_file: str | None, values: dict, *, overwrite: bool = False,
              dry_run: bool = False, emit_mergekit: str | None = None) -> str:
    """Merge as `method` with the settings of `config_file` overridden by `values` (the CLI's flags); returns
    what was done, one line. ``emit_mergekit`` "-" returns the YAML itself."""
    from ..io_utils import write_text_atomic
    from .config import load_config_file, resolve
    from .execute import print_plan, run_plan
    from .io import check_output_dir, finished_merge
    from .mergekit_export import to_mergekit_yaml

    cfg = resolve(method, load_config_file(config_file) if config_file else None, values)
    out = cfg["output"]
    if out is None and not (dry_run or emit_mergekit):
        raise UsageError("missing OUT (the output directory), or use --dry-run / --emit-mergekit")
    if out is not None and not dry_run and not emit_mergekit:
        if not overwrite and finished_merge(out, cfg):
            return f"{out} already holds this merge (same settings); nothing to do"
        check_output_dir(out, overwrite)  # fail before reading anything
    plan = build_plan(cfg)
    if dry_run:
        print_plan(plan, cfg["max_shard_size"])
        return "# dry run: nothing written"
    if emit_mergekit:
        text = to_mergekit_yaml(plan)
        if emit_mergekit == "-":
            return text.rstrip("\n")
        write_text_atomic(Path(emit_mergekit), text)
        return f"wrote {emit_mergekit}"
    run_plan(plan, out, cfg, cfg["max_shard_size"], overwrite, to_mergekit_yaml(plan))
    return f"wrote {out}"
