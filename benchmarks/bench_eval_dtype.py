"""bfloat16 vs float32 weights for the evaluation's answers (`hf` backend, CPU), in the same run.

Both passes answer the same LCB prompts with the benchmark's sampling and the same per-prompt seeds, in the same
batches; they are different samples (bfloat16 rounds every matmul), so the speed is compared per answer and per
generated token, and how often the two answers are identical is printed next to it. Rounds alternate the dtypes
so background load affects both alike. On a CPU with AMX / AVX512-BF16, bfloat16 halves the weight bytes each
decoding step reads (the 262k-token output layer dominates a 270M model) and runs the long prompts' prefill on
the bfloat16 units. Whether the *measures* agree is a separate question: docs/subjects.md evaluates the same
models both ways on all 599 prompts.

    .venv/bin/python benchmarks/bench_eval_dtype.py [--model gemma3-270m-it] [--language ja] [--source okapi]
        [--prompts 24] [--batch-size 24] [--rounds 1] [--threads 2]

Last line: RESULT speedup=<float32 s per answer / bfloat16 s per answer> f32_s_per_answer=… bf16_s_per_answer=…
f32_tok_s=… bf16_tok_s=… identical=<answers identical in both dtypes>/<prompts> …
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

LCB = Path(__file__).resolve().parents[2] / "shared" / "lcb" / "test_sets"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gemma3-270m-it")
    ap.add_argument("--lcb-dir", default=str(LCB))
    ap.add_argument("--language", default="ja")
    ap.add_argument("--task", default="crosslingual")
    ap.add_argument("--source", default="okapi", help="LCB source (complex_prompts: the long prompts)")
    ap.add_argument("--prompts", type=int, default=24)
    ap.add_argument("--batch-size", type=int, default=24)
    ap.add_argument("--max-new-tokens", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args()

    from langlock.bench.prompts import load_lcb
    from langlock.generate import GenerationSettings, PromptItem
    from langlock.generate.hf import HFGenerator

    rows = load_lcb(args.lcb_dir, task=args.task, langs=[args.language], sources=[args.source], limit=args.prompts)
    prompts = [PromptItem(p.key, p.prompt, p.language) for p in rows]
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens)  # benchmark sampling: p=0.75, T=0.3
    gens = {dt: HFGenerator(args.model, batch_size=args.batch_size, dtype=dt, threads=args.threads)
            for dt in ("float32", "bfloat16")}
    for gen in gens.values():
        gen.generate(prompts[:2], GenerationSettings(max_new_tokens=4), lambda c: None)  # warm-up
    secs = dict.fromkeys(gens, 0.0)
    tokens = dict.fromkeys(gens, 0)
    answers: dict = {}
    for r in range(args.rounds):
        for dt, gen in gens.items():
            out = {}
            t0 = time.perf_counter()
            gen.generate(prompts, settings, lambda c, out=out: out.__setitem__(c.key, c))
            secs[dt] += time.perf_counter() - t0
            tokens[dt] += sum(c.n_tokens or 0 for c in out.values())
            answers[dt] = {k: c.text for k, c in out.items()}
        print(f"round {r + 1}: " + ", ".join(f"{dt} {s:.1f}s" for dt, s in secs.items()))
    n = len(prompts) * args.rounds
    per = {dt: secs[dt] / n for dt in gens}
    same = sum(answers["float32"][k] == answers["bfloat16"][k] for k in answers["float32"])
    print(f"{len(prompts)} {args.language} {args.task}/{args.source} prompts x {args.rounds} round(s), max "
          f"{args.max_new_tokens} new tokens, batch {args.batch_size}, torch threads "
          f"{gens['float32'].describe()['torch_threads']}")
    for dt in gens:
        print(f"{dt:9s} {secs[dt]:.1f}s, {per[dt]:.2f} s/answer, {tokens[dt] / secs[dt]:.1f} tok/s")
    print(f"RESULT speedup={per['float32'] / per['bfloat16']:.2f} f32_s_per_answer={per['float32']:.2f} "
          f"bf16_s_per_answer={per['bfloat16']:.2f} f32_tok_s={tokens['float32'] / secs['float32']:.1f} "
          f"bf16_tok_s={tokens['bfloat16'] / secs['bfloat16']:.1f} identical={same}/{len(prompts)} "
          f"source={args.source} prompts={len(prompts)}")


if __name__ == "__main__":
    main()
