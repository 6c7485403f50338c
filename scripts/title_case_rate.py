"""Share of Title Case answers in `langlock compare` evaluations: the detector loophole a policy can learn.

The published script detector judges a word that starts with a Latin capital as English-neutral (spec §2.3), so an
English answer With Every Word Capitalised has no confusion point. TLPO under that rule learned exactly this on the
Japanese head-to-head (docs/subjects.md §3). This script reads each run's eval/confusion/generations.jsonl and
counts, per task and language, the answers with at least `--min-words` Latin words of more than 3 letters of which
at least `--share` start with a capital (shorter answers are left out of the count).

    python scripts/title_case_rate.py results/h2h-gemma-it1200-ja [more compare dirs]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

WORD = re.compile(r"[A-Za-z][A-Za-z']*")


def capital_share(text: str, min_words: int = 5) -> float | None:
    """Share of the Latin words of more than 3 letters that start with a capital; None below `min_words` words."""
    words = [w for w in WORD.findall(text) if len(w) > 3]
    return sum(w[0].isupper() for w in words) / len(words) if len(words) >= min_words else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--share", type=float, default=0.6)
    ap.add_argument("--min-words", type=int, default=5)
    args = ap.parse_args(argv)
    print("| run | method | seed | task | language | answers counted | Title Case |")
    print("|---|---|---:|---|---|---:|---:|")
    for d in args.dirs:
        files = sorted(d.glob("runs/*/seed*/eval/confusion/generations.jsonl"))
        if not files:
            print(f"{d}: no compare evaluations found", file=sys.stderr)
            return 2
        for f in files:
            rows = [json.loads(x) for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
            seed, method = f.parents[2].name, f.parents[3].name
            for task, lang in sorted({(r["task"], r["language"]) for r in rows}):
                shares = [capital_share(r["completion"], args.min_words) for r in rows
                          if r["task"] == task and r["language"] == lang]
                shares = [x for x in shares if x is not None]
                n = sum(x >= args.share for x in shares)
                print(f"| {d.name} | {method} | {seed.removeprefix('seed')} | {task} | {lang} | {len(shares)} | "
                      f"{n} ({100 * n / max(len(shares), 1):.1f} %) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
