"""Share of degenerate (highly repetitive) answers in `langlock compare` evaluations.

A pass rate cannot tell Korean from Hangul noise: "새로운 새로운 새로운 …" passes both detectors. This script
reads each run's eval/confusion/generations.jsonl and counts, per language, the answers whose zlib-compressed
size is below `--ratio` (default 0.25) of their UTF-8 size, over answers of at least 60 bytes
(`langlock.score.degeneracy`; `langlock compare` reports the same share as the `repetitive_*` columns).

    python scripts/repetition_rate.py runs/compare-smollm2-ko-tlpo-lcb [more compare dirs]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from langlock.score.degeneracy import DEFAULT_RATIO, is_repetitive


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--ratio", type=float, default=DEFAULT_RATIO)
    args = ap.parse_args(argv)
    print("| run | method | seed | language | answers | repetitive |")
    print("|---|---|---:|---|---:|---:|")
    for d in args.dirs:
        files = sorted(d.glob("runs/*/seed*/eval/confusion/generations.jsonl"))
        if not files:
            print(f"{d}: no compare evaluations found", file=sys.stderr)
            return 2
        for f in files:
            rows = [json.loads(x) for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
            seed, method = f.parents[2].name, f.parents[3].name
            for lang in sorted({r["language"] for r in rows}):
                sub = [r for r in rows if r["language"] == lang]
                n = sum(is_repetitive(r["completion"], args.ratio) for r in sub)
                print(f"| {d.name} | {method} | {seed.removeprefix('seed')} | {lang} | {len(sub)} | "
                      f"{100 * n / len(sub):.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
