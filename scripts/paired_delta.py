"""Change of a method against the base, paired by seed, from `langlock compare` evaluations.

Each seed decodes the same prompts with the same decoding seed for the base and the method, so the
per-seed difference removes most of the prompt-sampling noise that the unpaired intervals carry. Prints one
Markdown row per metric: mean difference ± 95 % t-interval over seeds, then the per-seed differences.
Rates are in points, the KL in nats/token.

    python scripts/paired_delta.py runs/compare-smollm2-ja-tlpo-lcb                      # tlpo vs base there
    python scripts/paired_delta.py runs/compare-smollm2-ko-tlpo-lcb --method-dir runs/compare-smollm2-ko-tlpo-lcb-step10
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from langlock.compare import METRICS, mean_ci

KEYS = ("lcb_lpr_cross", "lcb_lpr_mono", "lcb_wpr", "rpr_ief", "en_lpr", "retention_acc", "kl_en",
        "repetitive_target", "repetitive_en")


def load(compare_dir: Path, method: str) -> dict[int, dict]:
    """seed -> metrics.json of `method` in a compare output folder."""
    out = {}
    for f in sorted(compare_dir.glob(f"runs/{method}/seed*/metrics.json")):
        out[int(f.parent.name.removeprefix("seed"))] = json.loads(f.read_text(encoding="utf-8"))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base_dir", type=Path, help="compare folder holding the base evaluations")
    ap.add_argument("--method", default="tlpo")
    ap.add_argument("--base-method", default="base")
    ap.add_argument("--method-dir", type=Path, help="compare folder of the method (default: base_dir)")
    args = ap.parse_args(argv)
    base = load(args.base_dir, args.base_method)
    other = load(args.method_dir or args.base_dir, args.method)
    seeds = sorted(set(base) & set(other))
    if not seeds:
        print(f"no seed evaluated for both {args.base_method} and {args.method}", file=sys.stderr)
        return 2
    print(f"| {args.method} − {args.base_method}, seeds {', '.join(map(str, seeds))} | paired change | per seed |")
    print("|---|---:|---|")
    for key in KEYS:
        diffs = [other[s].get(key) - base[s].get(key) for s in seeds
                 if other[s].get(key) is not None and base[s].get(key) is not None]
        if not diffs:
            continue
        scale, digits = (1, 3) if key == "kl_en" else (100, 1)
        mean, half = mean_ci(diffs)
        cell = f"{mean * scale:+.{digits}f}" + ("" if half is None else f" ± {half * scale:.{digits}f}")
        each = " / ".join(f"{d * scale:+.{digits}f}" for d in diffs)
        print(f"| {METRICS[key][0]} | {cell} | {each} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
