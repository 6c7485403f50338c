"""Scoring throughput with 1 and 2 worker processes, in the same run (`langlock score --workers N`).

Scores the benchmark's released outputs (all models' CSVs under --lcb-dir/outputs, repeated --repeat times)
with the `lcb` profile through `score_records(..., workers=N)` (no bootstrap), checks that both runs give the
same report, and prints completions/s. Worker start-up (spawn, detector loading) is inside the timing, as a
user pays it. The speed-up depends on free cores: on a machine whose cores are busy it is small.

Usage: .venv/bin/python benchmarks/bench_score_workers.py [--lcb-dir ../shared/lcb] [--repeat 1] [--profile lcb]
Last line: RESULT workers1_per_s=… workers2_per_s=… speedup=… n=…
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from langlock.score.metrics import score_records
from langlock.score.records import read_records
from langlock.score.writers import report_to_dict


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lcb-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "lcb")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--profile", default="lcb", choices=("lcb", "tlpo"))
    args = ap.parse_args(argv)
    files = sorted((args.lcb_dir / "outputs").glob("*.csv"))
    if not files:
        print(f"no outputs/*.csv under {args.lcb_dir}", file=sys.stderr)
        return 2
    records = read_records(files) * args.repeat
    opts = {"english_words": str(args.lcb_dir / "words")} if args.profile == "lcb" else {}
    rates, reports = {}, {}
    for n in (1, 2):
        t0 = time.perf_counter()
        report = score_records(records, args.profile, n_boot=0, workers=n, **opts)
        dt = time.perf_counter() - t0
        rates[n] = len(records) / dt
        reports[n] = report_to_dict(report, {})
        print(f"workers={n}: {len(records)} completions in {dt:.1f} s ({rates[n]:.0f}/s)", file=sys.stderr)
    if reports[1] != reports[2]:
        print("MISMATCH: 2 workers gave another report than 1", file=sys.stderr)
        return 1
    print(f"cpus={os.cpu_count()} load1={os.getloadavg()[0]:.1f}", file=sys.stderr)
    print(f"RESULT workers1_per_s={rates[1]:.0f} workers2_per_s={rates[2]:.0f} "
          f"speedup={rates[2] / rates[1]:.2f} n={len(records)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
