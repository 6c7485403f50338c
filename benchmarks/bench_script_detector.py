"""Throughput of the `tlpo` detector profile on one core, in CPU time as well as wall time.

`benchmarks/bench_score.py` is the acceptance benchmark (wall clock, all completions through the reference).
This one is for a shared, busy machine: CPU time (`time.process_time`) is much less disturbed by other
processes than wall time. It scores every judgeable completion of an LCB outputs CSV (tr and vi have no TLPO
rule) with fresh detectors after the same 300-completion warm-up as bench_score ("cold": each new word still
costs a lingua call), then again with the caches full ("warm"), for both `ignore_english` settings; and it
runs the plain per-character reference (`tests/_script_detector_reference.py`) on every Nth completion, checking
identical verdicts.

Usage: .venv/bin/python benchmarks/bench_script_detector.py [--lcb-dir ../shared/lcb] [--model command-r-plus]
       [--reference-every 10]
Last line: RESULT tlpo_cold_per_s=… tlpo_warm_per_s=… reference_per_s=… speedup=…  (CPU-time rates)
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test oracles

from langlock.detect import (
    get_detector,  # noqa: E402
    script_clean,  # noqa: E402
)
from langlock.detect import script as tlpo_fast  # noqa: E402
from langlock.languages import TLPO_LANGUAGES  # noqa: E402

import _script_detector_reference as tlpo_reference  # noqa: E402


def _timed(fn, items):
    w0, c0 = time.perf_counter(), time.process_time()
    out = [fn(x) for x in items]
    return time.perf_counter() - w0, time.process_time() - c0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lcb-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "lcb"))
    ap.add_argument("--model", default="command-r-plus")
    ap.add_argument("--reference-every", type=int, default=10, help="run the reference on every Nth completion")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    with open(Path(args.lcb_dir) / "outputs" / f"{args.model}.csv", encoding="utf-8", newline="") as fh:
        rows = [(r["language"], r["completion"]) for r in csv.DictReader(fh) if r["language"] in TLPO_LANGUAGES]
    print(f"{len(rows)} judgeable completions of {args.model}, one core (load average {os.getloadavg()[0]:.1f})")
    cold_rates, warm_rates, speedups, ref_rates = [], [], [], []
    for ie in (True, False):
        dets = {lang: get_detector("tlpo", lang, ignore_english=ie) for lang in {lang for lang, _ in rows}}
        for lang, text in rows[:300]:
            dets[lang].detect(text)
        wall, cpu, out = _timed(lambda r, d=dets: d[r[0]].detect(r[1]), rows)
        wall_w, cpu_w, _ = _timed(lambda r, d=dets: d[r[0]].detect(r[1]), rows)
        sample = list(range(0, len(rows), args.reference_every))
        ref_wall, ref_cpu, refs = _timed(
            lambda i, ie=ie: (
                tlpo_reference.get_confusion_point(rows[i][1], rows[i][0], ie),
                tuple(tlpo_reference.check_response(rows[i][1], rows[i][0], ie)),
            ),
            sample,
        )
        bad = sum((out[i].first_confusion_char, out[i].counts.as_tuple()) != ref for i, ref in zip(sample, refs))
        n = len(rows)
        cold, warm, ref = n / cpu, n / cpu_w, len(sample) / ref_cpu
        cold_rates.append(cold)
        warm_rates.append(warm)
        ref_rates.append(ref)
        speedups.append(cold / ref)
        print(
            f"ignore_english={ie!s:5}  cold {cold:6.0f}/s cpu ({n / wall:6.0f}/s wall)   warm {warm:6.0f}/s cpu "
            f"({n / wall_w:6.0f}/s wall)   reference {ref:5.1f}/s cpu on {len(sample)}   "
            f"cold speedup {cold / ref:5.1f}x   verdict mismatches {bad}/{len(sample)}"
        )
        if bad:
            raise SystemExit(f"verdicts differ from the reference on {bad} completions")
    words = list(tlpo_fast._LINGUA_CACHE)[:2000]
    lingua = tlpo_fast._lingua()
    _, lingua_cpu, _ = _timed(lingua.compute_language_confidence_values, words)
    print(f"lingua: {len(tlpo_fast._LINGUA_CACHE)} distinct lower-cased words judged; "
          f"{lingua_cpu / len(words) * 1e6:.0f} us cpu per call (2,000 of them timed again)")
    texts = [text for _, text in rows[:1000]]
    published = tlpo_reference.unit_word_regex()
    _, pub_cpu, pub_out = _timed(lambda t: published.sub("", t), texts)
    _, trie_cpu, trie_out = _timed(lambda t: script_clean._UNIT_RE.sub("", t), texts)
    print(f"unit-word regex: published form {pub_cpu / len(texts) * 1e6:.0f} us, trie "
          f"{trie_cpu / len(texts) * 1e6:.0f} us per completion (identical output: {pub_out == trie_out})")
    print(
        f"RESULT tlpo_cold_per_s={min(cold_rates):.0f} tlpo_warm_per_s={min(warm_rates):.0f} "
        f"reference_per_s={min(ref_rates):.1f} speedup={min(speedups):.1f}"
    )


if __name__ == "__main__":
    main()
