"""Change of a method against the base, paired by seed, from `langlock compare` evaluations (a thin wrapper:
the statistics are `langlock.compare.paired_deltas`, which `langlock compare` also writes into compare.md).

Useful across two compare folders (e.g. the same base against a method evaluated at another checkpoint).
Prints one Markdown row per metric: mean difference ± 95 % t-interval over seeds, then the per-seed
differences. Rates are in points, the KL in nats/token.

    python scripts/paired_delta.py runs/compare-smollm2-ja-tlpo-lcb                      # tlpo vs base there
    python scripts/paired_delta.py runs/compare-smollm2-ko-tlpo-lcb --method-dir runs/compare-smollm2-ko-tlpo-lcb-step10
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from langlock.compare import load_evaluations, paired_deltas
from langlock.compare.report import paired_lines


def _target(compare_dir: Path) -> str | None:
    """The compare run's target language (from its config.json; None when the folder has none)."""
    cfg = compare_dir / "config.json"
    return json.loads(cfg.read_text(encoding="utf-8"))["language"] if cfg.is_file() else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base_dir", type=Path, help="compare folder holding the base evaluations")
    ap.add_argument("--method", default="tlpo")
    ap.add_argument("--base-method", default="base")
    ap.add_argument("--method-dir", type=Path, help="compare folder of the method (default: base_dir)")
    args = ap.parse_args(argv)
    target = _target(args.base_dir)
    base = load_evaluations(args.base_dir, args.base_method, target)
    other = load_evaluations(args.method_dir or args.base_dir, args.method, target)
    deltas = paired_deltas(base, other)
    if not deltas:
        print(f"no seed evaluated for both {args.base_method} and {args.method}", file=sys.stderr)
        return 2
    print("\n".join(paired_lines(args.method, args.base_method, deltas)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
