"""Answer-validity throughput (langlock.quality) on the benchmark's released outputs.

cheap: the model-free signals (echo against the joined prompt, zlib loop, repeated n-grams, near-empty) on
every completion of `--model`'s outputs CSV (6,586 for command-r), prompts joined from the test sets by id.
judge: the full verdict with the fluency judge model (default gemma3-270m, per-byte NLL of the first 32
tokens, torch threads = `--threads`) on a seeded sample of `--judge-n` completions of ko/ja/zh/de/es/fr;
model loading is outside the timing. Target (issue 13): cheap >= 1,000 answers/s.

Usage: .venv/bin/python benchmarks/bench_judge.py [--lcb-dir ../shared/lcb] [--judge-n 64] [--threads 2]
Last line: RESULT judge_per_s=… cheap_per_s=…
"""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

from langlock.quality import judge_records
from langlock.quality.fluency import DEFAULT_JUDGE, FluencyJudge
from langlock.quality.join import attach_prompts
from langlock.score.records import read_records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lcb-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "lcb"))
    ap.add_argument("--model", default="command-r")
    ap.add_argument("--judge-model", default=DEFAULT_JUDGE)
    ap.add_argument("--judge-n", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    lcb = Path(args.lcb_dir)
    recs = read_records([lcb / "outputs" / f"{args.model}.csv"])
    prompts = attach_prompts(recs, lcb / "test_sets")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{len(recs)} completions of {args.model}; load average {load:.1f} on {os.cpu_count()} CPUs")

    t0 = time.perf_counter()
    cheap = judge_records(recs, prompts)
    dt = time.perf_counter() - t0
    cheap_rate = len(recs) / dt
    invalid = sum(v.valid is False for v in cheap)
    print(f"cheap signals : {dt:7.2f} s  {cheap_rate:8.0f} answers/s  ({invalid} judged invalid)")

    import torch

    torch.set_num_threads(args.threads)
    judge = FluencyJudge.load(args.judge_model)
    idx = [i for i, r in enumerate(recs) if r.language in ("ko", "ja", "zh", "de", "es", "fr")]
    idx = random.Random(0).sample(idx, min(args.judge_n, len(idx)))
    sample, sample_prompts = [recs[i] for i in idx], [prompts[i] for i in idx]
    judge_records(sample[:4], sample_prompts[:4], judge)  # warm-up
    t0 = time.perf_counter()
    full = judge_records(sample, sample_prompts, judge)
    dt = time.perf_counter() - t0
    judge_rate = len(sample) / dt
    print(f"with judge    : {dt:7.2f} s  {judge_rate:8.2f} answers/s  ({sum(v.valid is False for v in full)} of "
          f"{len(sample)} invalid, {args.threads} threads, max {judge.max_tokens} tokens)")
    print(f"RESULT judge_per_s={judge_rate:.2f} cheap_per_s={cheap_rate:.0f}")


if __name__ == "__main__":
    main()
