"""`langlock compare --config FILE`: base, LanguageLock, TLPO, SFT, DPO, ORPO, GRPO, TBPO-Q, TBPO-A head to head.

Trains every selected method on the same model, prompts and budget (or takes models trained elsewhere from
`checkpoints`, e.g. `langlock train tlpo` runs per seed), evaluates each with the same settings,
and writes compare.md / compare.csv / results.json / compare.png (mean and 95% interval over seeds, and each
method's change against the base paired by seed) into the config's output_dir. Rerun the same command after an interruption: finished data, trainings and evaluations
are reused. See configs/compare/*.yaml and docs/baselines.md.

Example:
    langlock compare --config configs/compare/smollm2-ko.yaml
    langlock compare --config configs/compare/smollm2-ko-tlpo-lcb.yaml   # evaluates runs/tlpo-*/seed{seed}/model
"""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("compare", help="train and evaluate every method head to head", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="YAML config (see configs/compare/)")
    p.add_argument("-o", "--output-dir", help="override the config's output_dir")
    p.add_argument("--methods", help="comma-separated subset of the config's methods")
    p.add_argument("--seeds", help="comma-separated seeds (override)")
    p.add_argument("--checkpoint", action="append", default=[], metavar="METHOD=DIR",
                   help="evaluate DIR (model or LoRA adapter; '{seed}' is filled in) as METHOD instead of training "
                        "it; repeatable; overrides the config's checkpoints for METHOD")
    p.add_argument("--report-only", action="store_true",
                   help="only write the table and plot from the evaluations already finished")
    p.set_defaults(func=run, run_dir="output_dir|config.output_dir")


def _ints(text: str | None):
    if text is None:
        return None
    from ..errors import UsageError

    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--seeds must be comma-separated integers, got {text!r}") from None


def run(args) -> int:
    from pathlib import Path

    from ..compare import CompareConfig, report_only, run_compare
    from ..errors import UsageError

    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    checkpoints = None
    if args.checkpoint:
        checkpoints = {}
        for item in args.checkpoint:
            method, sep, path = item.partition("=")
            if not sep or not method.strip() or not path.strip():
                raise UsageError(f"--checkpoint expects METHOD=DIR, got {item!r}")
            checkpoints[method.strip()] = path.strip()
    cfg = CompareConfig.from_yaml(args.config, output_dir=args.output_dir, methods=methods, seeds=_ints(args.seeds),
                                  checkpoints=checkpoints)
    if args.report_only:
        report_only(cfg)
    else:
        run_compare(cfg)
    print((Path(cfg.output_dir) / "compare.md").read_text(encoding="utf-8"))
    return 0
