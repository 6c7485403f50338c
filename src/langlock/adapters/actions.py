"""The `langlock adapters` actions as one library entry point (`run_action`): the CLI parses, this acts."""

from __future__ import annotations

from dataclasses import asdict

from ..errors import UsageError
from .library import AdapterLibrary


def _metric(entry, key: str):
    vals = [m[key] for m in entry.metrics.values() if m.get(key) is not None]
    return vals[0] if vals else None


def list_table(lib: AdapterLibrary) -> str:
    """One line per adapter: name, languages, method, rank, parameters, measured LPR / RPR when known."""
    lines = [f"library {lib.path}: base {lib.base['model']} (fingerprint {lib.base['fingerprint'][:12]})",
             f"{'name':20s} {'languages':14s} {'method':16s} {'rank':>4s} {'params':>9s} {'LCB LPR':>8s} {'RPR':>6s}"]
    for e in lib.entries.values():
        lpr, rpr = _metric(e, "lcb_lpr"), _metric(e, "rpr_en_confusion")
        lines.append(f"{e.name:20s} {','.join(e.languages) or '-':14s} {e.method:16s} {e.rank:4d} {e.n_params:9d} "
                     f"{'-' if lpr is None else f'{lpr:.1%}':>8s} {'-' if rpr is None else f'{rpr:.1%}':>6s}")
    return "\n".join(lines)


def run_action(action: str, opts: dict):
    """`add` | `list` | `show` | `merge` | `study` with the parsed options; returns the text or object to print."""
    if action == "add":
        lib = AdapterLibrary(opts["library"])
        entry = lib.add(opts["adapter"], name=opts.get("name"), languages=opts.get("language"),
                        method=opts.get("method"), base=opts.get("base"), cache_dir=opts.get("cache_dir"))
        return f"added {entry.name} ({','.join(entry.languages) or 'no language'}, r={entry.rank}) to {lib.path}"
    if action == "list":
        return list_table(AdapterLibrary.open(opts["library"]))
    if action == "show":
        lib = AdapterLibrary.open(opts["library"])
        return {"base": lib.base, **asdict(lib.get(opts["name"])), "dir": str(lib.adapter_path(opts["name"]))}
    if action == "merge":
        from .merge import merge_adapters

        entry = merge_adapters(AdapterLibrary.open(opts["library"]), opts["sources"], opts["method"], opts["name"],
                               weights=opts.get("weights"), density=opts.get("density"),
                               majority_sign_method=opts.get("majority_sign_method", "total"),
                               svd_rank=opts.get("svd_rank"))
        return f"merged {', '.join(opts['sources'])} ({opts['method']}) into {entry.name} (r={entry.rank})"
    if action == "study":
        from pathlib import Path

        from .study import StudyConfig, run_study

        cfg = StudyConfig.from_yaml(opts["config"], output_dir=opts.get("output_dir"))
        run_study(cfg, report_only=bool(opts.get("report_only")))
        return (Path(cfg.output_dir) / "study.md").read_text(encoding="utf-8")
    raise UsageError(f"unknown action {action!r}")
