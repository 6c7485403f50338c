"""Batched `hf` generation vs one prompt at a time, on SmolLM2-135M-Instruct (CPU), in the same run.

Both modes complete the same prompts with the same settings and per-prompt seeds (so they produce the same
completions and the same number of tokens); the ratio of generated tokens per second is the speedup. Rounds
alternate batched and sequential passes so background load affects both alike.

    .venv/bin/python benchmarks/bench_generate.py [--prompts 32] [--batch-size 32] [--max-new-tokens 48] [--threads 2]

Last line: RESULT speedup=<batched tok/s ÷ sequential tok/s> batched_tok_s=… sequential_tok_s=… …
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args()

    from langlock.generate import GenerationSettings, PromptItem
    from langlock.generate.hf import HFGenerator
    from langlock.suites import load_suite

    gen = HFGenerator(args.model, batch_size=args.batch_size, threads=args.threads)
    # An even spread of languages, from the built-in confusion suite.
    pool = load_suite("builtin-confusion", task="monolingual")
    prompts = [PromptItem(p.key, p.prompt) for p in pool[:: max(1, len(pool) // args.prompts)][: args.prompts]]
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens)  # benchmark sampling: p=0.75, T=0.3
    gen.generate(prompts[:2], GenerationSettings(max_new_tokens=4), lambda c: None)  # warm-up

    def timed(batch_size: int):
        gen.batch_size = batch_size
        out = {}
        t0 = time.perf_counter()
        gen.generate(prompts, settings, lambda c: out.__setitem__(c.key, c))
        return time.perf_counter() - t0, out

    tb = ts = 0.0
    nb = ns = 0
    same = True
    for r in range(args.rounds):
        dt_b, out_b = timed(args.batch_size)
        dt_s, out_s = timed(1)
        tb, ts = tb + dt_b, ts + dt_s
        nb += sum(c.n_tokens for c in out_b.values())
        ns += sum(c.n_tokens for c in out_s.values())
        same = same and {k: c.text for k, c in out_b.items()} == {k: c.text for k, c in out_s.items()}
        print(f"round {r + 1}: batched {dt_b:.1f}s, sequential {dt_s:.1f}s")
    rate_b, rate_s = nb / tb, ns / ts
    print(f"{len(prompts)} prompts x {args.rounds} round(s), max {args.max_new_tokens} new tokens, "
          f"batch {args.batch_size}, torch threads {gen.describe()['torch_threads']}")
    print(f"batched:    {nb} tokens in {tb:.1f}s = {rate_b:.1f} tok/s")
    print(f"sequential: {ns} tokens in {ts:.1f}s = {rate_s:.1f} tok/s")
    print(f"identical completions in both modes: {same}")
    print(f"RESULT speedup={rate_b / rate_s:.2f} batched_tok_s={rate_b:.1f} sequential_tok_s={rate_s:.1f} "
          f"batch_size={args.batch_size} prompts={len(prompts)} identical={same}")


if __name__ == "__main__":
    main()
