"""Detector throughput on the benchmark's released outputs, one core.

Scores all completions of `command-r-plus.csv` (6,586) with the `lcb` profile and with the `tlpo` profile
(English-neutral and English-as-confusion), and — in the same run, on the same completions — with the plain
per-character reference implementation of the TLPO rules (`tests/_script_detector_reference.py`), checking that
every verdict (confusion point and 6-tuple) is identical. Languages the TLPO rules do not cover (tr, vi) are
judged by neither TLPO implementation and counted in neither rate.

Two figures per `ignore_english` setting:

- combined (the old headline, kept): one fast `detect()` pass over all judged completions (both verdicts at
  once, detectors warmed on 300 completions) against the reference's `get_confusion_point` and
  `check_response` run one after the other. The old script timed the reference cold (lingua's models, jieba's
  dictionary and MeCab loaded inside the timing); the reference is now warmed first, and its one-off load time
  is printed on its own (`reference_load_s`).
- per function (fair): `get_confusion_point` and `check_response` each timed on their own, fast against
  reference, on the same completions, after the same short warm-up (one completion per language and the
  first 20 in file order: every lazy loader has run, the fast side's memos are nearly empty). Each fast timing starts from a fresh detector and an empty lingua memo, so no timing profits
  from a cache that an earlier timing filled. Speed-ups are ratios of CPU time (`time.process_time`, far less
  disturbed by other processes than wall time); wall rates are printed too.

Usage: .venv/bin/python benchmarks/bench_score.py [--lcb-dir ../shared/lcb] [--reference-every N]
Targets (issue 2): lcb >= 2,000 completions/s; tlpo >= 1,500 completions/s and >= 10x the reference.
Last line: RESULT lcb_per_s=… tlpo_per_s=… tlpo_speedup=… cp_speedup=… counts_speedup=… reference_load_s=… …
(old keys first: wall-clock rates and the combined speed-up; then the per-function CPU-time speed-ups, the
minimum over both `ignore_english` settings).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test oracles

from langlock.detect import get_detector  # noqa: E402
from langlock.detect import script as tlpo_fast  # noqa: E402
from langlock.languages import TLPO_LANGUAGES  # noqa: E402
from langlock.score.records import read_records  # noqa: E402

import _script_detector_reference as tlpo_reference  # noqa: E402


def _time(fn, items) -> tuple[float, list]:
    t0 = time.perf_counter()
    out = [fn(x) for x in items]
    return time.perf_counter() - t0, out


def _timed(fn, items) -> tuple[float, float, list]:
    """(wall s, CPU s, outputs) of `fn` over `items`."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = [fn(x) for x in items]
    return time.perf_counter() - w0, time.process_time() - c0, out


def _warmup_items(items: list, n: int = 300) -> list:
    """One item per language (so every lazy loader runs) and the first `n` in file order."""
    first = {}
    for r in items:
        first.setdefault(r.language, r)
    return list(first.values()) + items[:n]


def _fresh_fast(langs, ie: bool) -> dict:
    """New fast detectors (empty word memo) and an empty lingua memo: a cold pass like the reference's."""
    tlpo_fast._LINGUA_CACHE.clear()
    return {lang: tlpo_fast.ScriptDetector(lang, ignore_english=ie) for lang in langs}


def per_function(items: list, warm: list, ie: bool) -> dict:
    """CPU/wall time of each published function, fast and reference, on `items` after warming on `warm`."""
    langs = {r.language for r in items} | {r.language for r in warm}
    funcs = {
        "cp": (lambda d: lambda r: d[r.language].first_confusion(r.completion),
               lambda r: tlpo_reference.get_confusion_point(r.completion, r.language, ie)),
        "counts": (lambda d: lambda r: d[r.language].detect(r.completion).counts.as_tuple(),
                   lambda r: tuple(tlpo_reference.check_response(r.completion, r.language, ie))),
    }
    out = {}
    for name, (make_fast, ref) in funcs.items():
        for r in warm:
            ref(r)
        ref_wall, ref_cpu, ref_out = _timed(ref, items)
        dets = _fresh_fast(langs, ie)
        fast = make_fast(dets)
        for r in warm:
            fast(r)
        fast_wall, fast_cpu, fast_out = _timed(fast, items)
        mismatches = sum(a != b for a, b in zip(fast_out, ref_out, strict=True))
        if mismatches:
            raise SystemExit(f"{name} (ignore_english={ie}): fast and reference differ on {mismatches} completions")
        out[name] = (fast_wall, fast_cpu, ref_wall, ref_cpu)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lcb-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "lcb"))
    ap.add_argument("--model", default="command-r-plus")
    ap.add_argument("--reference-every", type=int, default=1,
                    help="time the slow reference (and the per-function fast timings) on every Nth judged "
                         "completion (1: all)")
    args = ap.parse_args()
    if args.reference_every < 1:
        raise SystemExit("--reference-every must be >= 1")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    recs = read_records([Path(args.lcb_dir) / "outputs" / f"{args.model}.csv"])
    print(f"{len(recs)} completions of {args.model}, one core (load average {os.getloadavg()[0]:.1f})")

    # lcb profile: build detectors and warm the lazy loaders (fastText, jieba, MeCab) outside the timing
    lcb = {lang: get_detector("lcb", lang) for lang in {r.language for r in recs}}
    for r in recs[:300]:
        lcb[r.language].detect(r.completion)
    dt, _ = _time(lambda r: lcb[r.language].detect(r.completion), recs)
    lcb_rate = len(recs) / dt
    print(f"lcb profile      : {dt:7.2f} s  {lcb_rate:8.0f} completions/s")

    judged = [r for r in recs if r.language in TLPO_LANGUAGES]
    ref_items = judged[:: args.reference_every]
    warm = _warmup_items(judged, 20)
    t0 = time.perf_counter()  # the reference's one-off loads (lingua models, jieba, MeCab), outside every timing
    for r in _warmup_items(judged, 0):
        tlpo_reference.get_confusion_point(r.completion, r.language, True)
        tlpo_reference.check_response(r.completion, r.language, True)
    load_s = time.perf_counter() - t0
    print(f"reference one-off load (lingua, jieba, MeCab; inside the old timing): {load_s:.2f} s")
    print(f"tlpo: {len(judged)} judged completions; reference on {len(ref_items)} "
          f"(every {args.reference_every})")
    tlpo_rates, combined, cp_speedups, counts_speedups = [], [], [], []
    for ie in (True, False):
        # combined, the old headline: one fast detect() pass (cached detectors) vs the two reference functions
        fast = {lang: get_detector("tlpo", lang, ignore_english=ie) for lang in {r.language for r in judged}}
        for r in judged[:300]:
            fast[r.language].detect(r.completion)
        dt_fast, _ = _time(lambda r, f=fast: f[r.language].detect(r.completion), judged)
        rate = len(judged) / dt_fast
        tlpo_rates.append(rate)
        t = per_function(ref_items, warm, ie)
        ref_rate = len(ref_items) / (t["cp"][2] + t["counts"][2])  # wall clock, as the old headline
        combined.append(rate / ref_rate)
        print(f"tlpo ie={ie!s:5}   : {dt_fast:7.2f} s  {rate:8.0f} completions/s   reference (both functions) "
              f"{ref_rate:6.1f}/s  combined speedup {rate / ref_rate:5.1f}x (wall)")
        for name, label in (("cp", "get_confusion_point"), ("counts", "check_response")):
            fast_wall, fast_cpu, _, ref_cpu = t[name]
            n = len(ref_items)
            speedup = ref_cpu / fast_cpu
            (cp_speedups if name == "cp" else counts_speedups).append(speedup)
            print(f"  {label:19}: fast {n / fast_cpu:7.0f}/s CPU ({n / fast_wall:7.0f}/s wall, cold)   "
                  f"reference {n / ref_cpu:6.1f}/s CPU   speedup {speedup:5.1f}x   verdicts identical on {n}")
    print(f"RESULT lcb_per_s={lcb_rate:.0f} tlpo_per_s={min(tlpo_rates):.0f} tlpo_speedup={min(combined):.1f} "
          f"cp_speedup={min(cp_speedups):.1f} counts_speedup={min(counts_speedups):.1f} "
          f"reference_load_s={load_s:.2f} reference_every={args.reference_every}")


if __name__ == "__main__":
    main()
