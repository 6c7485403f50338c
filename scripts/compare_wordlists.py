"""How far the default English word list moves WPR against the benchmark's own `words` file.

Usage: .venv/bin/python scripts/compare_wordlists.py ../shared/lcb
Prints one Markdown row per (model, task): overall WPR with the benchmark list and with the default list,
and the number of completions whose verdict differs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from langlock.score.metrics import score_records
from langlock.score.records import read_records


def main(lcb_dir: str) -> None:
    lcb = Path(lcb_dir)
    print("| model | task | WPR, benchmark list | WPR, default list | verdicts that differ |")
    print("|---|---|---|---|---|")
    for csv_path in sorted((lcb / "outputs").glob("*.csv")):
        recs = read_records([csv_path])
        bench = score_records(recs, "lcb", english_words=str(lcb / "words"))
        default = score_records(recs, "lcb")
        flips = sum(x.status != y.status for (_, x), (_, y) in zip(bench.samples, default.samples, strict=True))
        model = recs[0].model
        for task in ("monolingual", "crosslingual"):
            a, b = bench.overall(task, model).metrics["wpr"], default.overall(task, model).metrics["wpr"]
            print(f"| {model} | {task} | {100 * a:.2f} | {100 * b:.2f} | {flips} of {len(recs)} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/lcb")
