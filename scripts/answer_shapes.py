"""Shapes of the answers in `langlock compare` evaluations: the detector loopholes a policy can learn.

Per run, task and language, from each run's eval/confusion/generations.jsonl:

- Title Case (default): the answers with at least `--min-words` Latin words of more than 3 letters of which at
  least `--share` start with a capital (shorter answers are left out of the count). The published script
  detector judges a word that starts with a Latin capital as English-neutral (spec §2.3), so an English answer
  With Every Word Capitalised has no confusion point; TLPO under that rule learned exactly this on the Japanese
  head-to-head (docs/subjects.md §3).
- `--first-words K`: how many answers open with an ASCII letter and the K most common first words. A word the
  detector cannot place ("In": `skip`) postpones the confusion point; TLPO with the capital rule off learned to
  open with it on the same subject (docs/subjects.md §3).
- `--opens-with TEXT`: how many answers open with TEXT (after leading white space). TLPO at the Korean
  head-to-head's seed 2 opened almost every answer with a bracketed Hangul tag, "[답변]" ("[answer]"), and looped on
  it (`--opens-with "["`; docs/subjects.md §3).
- `--repetitive`: per language (both tasks), the answers whose zlib-compressed size is below `--ratio` (default
  0.25) of their UTF-8 size, over answers of at least 60 bytes (`langlock.score.degeneracy`; `langlock compare`
  reports the same share as its `repetitive_*` columns). A pass rate cannot tell Korean from Hangul noise:
  "새로운 새로운 새로운 …" passes both detectors (docs/tlpo.md).

    python scripts/answer_shapes.py results/h2h-gemma-it1200-ja [more compare dirs]
    python scripts/answer_shapes.py results/h2h-gemma-it1200-ja --first-words 3
    python scripts/answer_shapes.py results/h2h-gemma-it1200-ko --opens-with "["
    python scripts/answer_shapes.py runs/compare-smollm2-ko-tlpo-lcb --repetitive
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

from langlock.compare import load_answers
from langlock.errors import InputError
from langlock.score.degeneracy import DEFAULT_RATIO, is_repetitive

WORD = re.compile(r"[A-Za-z][A-Za-z']*")


def capital_share(text: str, min_words: int = 5) -> float | None:
    """Share of the Latin words of more than 3 letters that start with a capital; None below `min_words` words."""
    words = [w for w in WORD.findall(text) if len(w) > 3]
    return sum(w[0].isupper() for w in words) / len(words) if len(words) >= min_words else None


def first_words(texts: list[str], k: int) -> tuple[int, list[tuple[str, int]]]:
    """How many of `texts` open with an ASCII letter, and their `k` most common first words (whitespace-split,
    at most 12 characters)."""
    opens = [t.strip() for t in texts]
    latin = sum(bool(t) and t[0].isascii() and t[0].isalpha() for t in opens)
    # a language written without spaces has no first word: its first 12 characters stand in
    return latin, Counter(t.split()[0][:12] for t in opens if t).most_common(k)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--share", type=float, default=0.6)
    ap.add_argument("--min-words", type=int, default=5)
    ap.add_argument("--first-words", type=int, default=0, metavar="K",
                    help="report the openings (K most common first words) instead of Title Case")
    ap.add_argument("--opens-with", metavar="TEXT", help="report how many answers open with TEXT instead")
    ap.add_argument("--repetitive", action="store_true", help="report the repetitive answers per language instead")
    ap.add_argument("--ratio", type=float, default=DEFAULT_RATIO, help="--repetitive: the compression ratio below "
                    "which an answer is repetitive")
    args = ap.parse_args(argv)
    if args.repetitive:
        print("| run | method | seed | language | answers | repetitive |")
        print("|---|---|---:|---|---:|---:|")
    elif args.opens_with:
        print(f"| run | method | seed | task | language | answers | open with {json.dumps(args.opens_with)} |")
        print("|---|---|---:|---|---|---:|---:|")
    elif args.first_words:
        print("| run | method | seed | task | language | answers | open with a Latin letter | most common first words |")
        print("|---|---|---:|---|---|---:|---:|---|")
    else:
        print("| run | method | seed | task | language | answers counted | Title Case |")
        print("|---|---|---:|---|---|---:|---:|")
    try:
        runs = [(d, *run) for d in args.dirs for run in load_answers(d)]
    except InputError as e:
        print(e, file=sys.stderr)
        return 2
    for d, method, seed, rows in runs:
        if args.repetitive:
            for lang in sorted({r["language"] for r in rows}):
                sub = [r for r in rows if r["language"] == lang]
                n = sum(is_repetitive(r["completion"], args.ratio) for r in sub)
                print(f"| {d.name} | {method} | {seed} | {lang} | {len(sub)} | {100 * n / len(sub):.1f} % |")
            continue
        for task, lang in sorted({(r["task"], r["language"]) for r in rows}):
            texts = [r["completion"] for r in rows if r["task"] == task and r["language"] == lang]
            head = f"| {d.name} | {method} | {seed} | {task} | {lang} |"
            if args.opens_with:
                print(f"{head} {len(texts)} | {sum(t.lstrip().startswith(args.opens_with) for t in texts)} |")
                continue
            if args.first_words:
                latin, common = first_words(texts, args.first_words)
                words = ", ".join(f"{json.dumps(w, ensure_ascii=False)} {n}" for w, n in common)
                print(f"{head} {len(texts)} | {latin} | {words} |")
                continue
            shares = [x for x in (capital_share(t, args.min_words) for t in texts) if x is not None]
            n = sum(x >= args.share for x in shares)
            print(f"{head} {len(shares)} | {n} ({100 * n / max(len(shares), 1):.1f} %) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
