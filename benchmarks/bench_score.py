"""Detector throughput on the benchmark's released outputs, one core.

Scores all completions of `command-r-plus.csv` (6,586) with the `lcb` profile and with the `tlpo` profile
(English-neutral and English-as-confusion), and — in the same run, on the same completions — with the plain
per-character reference implementation of the TLPO rules (`tests/_tlpo_detector_reference.py`), checking that
every verdict (confusion point and 6-tuple) is identical. Languages the TLPO rules do not cover (tr, vi) are
judged by neither TLPO implementation and counted in neither rate.

Usage: .venv/bin/python benchmarks/bench_score.py [--lcb-dir ../shared/lcb] [--reference-limit N]
Targets (issue 2): lcb >= 2,000 completions/s; tlpo >= 1,500 completions/s and >= 10x the reference.
Last line: RESULT lcb_per_s=… tlpo_per_s=… tlpo_speedup=…
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test oracles

from langlock.detect import get_detector  # noqa: E402
from langlock.languages import TLPO_LANGUAGES  # noqa: E402
from langlock.score.records import read_records  # noqa: E402

import _tlpo_detector_reference as tlpo_reference  # noqa: E402


def _time(fn, items) -> tuple[float, list]:
    t0 = time.perf_counter()
    out = [fn(x) for x in items]
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lcb-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "lcb"))
    ap.add_argument("--model", default="command-r-plus")
    ap.add_argument("--reference-limit", type=int, default=0,
                    help="time the slow reference on only the first N judged completions (0: all)")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    recs = read_records([Path(args.lcb_dir) / "outputs" / f"{args.model}.csv"])
    print(f"{len(recs)} completions of {args.model}, one core")

    # lcb profile: build detectors and warm the lazy loaders (fastText, jieba, MeCab) outside the timing
    lcb = {lang: get_detector("lcb", lang) for lang in {r.language for r in recs}}
    for r in recs[:300]:
        lcb[r.language].detect(r.completion)
    dt, _ = _time(lambda r: lcb[r.language].detect(r.completion), recs)
    lcb_rate = len(recs) / dt
    print(f"lcb profile      : {dt:7.2f} s  {lcb_rate:8.0f} completions/s")

    judged = [r for r in recs if r.language in TLPO_LANGUAGES]
    tlpo_rates, speedups = [], []
    for ie in (True, False):
        fast = {lang: get_detector("tlpo", lang, ignore_english=ie) for lang in {r.language for r in judged}}
        for r in judged[:300]:
            fast[r.language].detect(r.completion)
        dt_fast, dets = _time(lambda r, f=fast: f[r.language].detect(r.completion), judged)
        ref_items = judged if args.reference_limit <= 0 else judged[: args.reference_limit]

        def reference(r, ie=ie):
            return (tlpo_reference.get_confusion_point(r.completion, r.language, ie),
                    tuple(tlpo_reference.check_response(r.completion, r.language, ie)))

        dt_ref, refs = _time(reference, ref_items)
        mismatches = sum(
            (d.first_confusion_char, d.counts.as_tuple()) != ref for d, ref in zip(dets, refs, strict=False)
        )
        rate, ref_rate = len(judged) / dt_fast, len(ref_items) / dt_ref
        tlpo_rates.append(rate)
        speedups.append(rate / ref_rate)
        print(f"tlpo ie={ie!s:5}   : {dt_fast:7.2f} s  {rate:8.0f} completions/s   reference "
              f"{ref_rate:6.0f}/s  speedup {rate / ref_rate:5.1f}x  verdict mismatches {mismatches}/{len(refs)}")
        if mismatches:
            raise SystemExit(f"tlpo verdicts differ from the reference on {mismatches} completions")
    tlpo_rate, speedup = min(tlpo_rates), min(speedups)
    print(f"RESULT lcb_per_s={lcb_rate:.0f} tlpo_per_s={tlpo_rate:.0f} tlpo_speedup={speedup:.1f}")


if __name__ == "__main__":
    main()
