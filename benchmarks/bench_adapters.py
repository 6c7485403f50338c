"""Routed mixed-batch LoRA generation vs the base model vs one merged adapter, same prompts, same run.

Four rank-16 LoRA adapters on the attention and MLP projections of SmolLM2-135M-Instruct (random B matrices:
the speed of a LoRA does not depend on what it learned) are registered in a throw-away adapter library
(`langlock.adapters`) and merged into one (`linear`, PEFT `add_weighted_adapter`). Then the same 16 prompts
(4 each of de, es, fr, ko from the built-in confusion suite, one batch) are generated greedily by

- base: the base model alone;
- routed: the base with the four adapters attached, each row routed to its language's adapter in one mixed
  batch (`HFGenerator(adapters=...)`, PEFT ``adapter_names``), as `langlock bench --adapters LIB` does;
- merged: the merged adapter folded into the weights, as `langlock bench --model LIB/adapters/merged` serves it.

Rounds alternate the modes so background load affects them alike; tokens/s is generated tokens over wall
time summed over rounds.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_adapters.py [--max-new-tokens 32] [--rounds 2] [--threads 1]

Last line: RESULT routed_ratio=<routed tok/s ÷ base tok/s> merged_ratio=<merged tok/s ÷ base tok/s> …
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

LANGS = ("de", "es", "fr", "ko")
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def make_library(model_spec: str, root: Path, rank: int):
    """A library of one random rank-`rank` LoRA per language plus their linear merge."""
    import torch
    from peft import get_peft_model

    from langlock.adapters import AdapterLibrary
    from langlock.adapters.merge import merge_adapters
    from langlock.models import load_model_and_tokenizer
    from langlock.train.run_config import PeftSettings

    lib = AdapterLibrary(root / "lib")
    for i, lang in enumerate(LANGS):
        base, _, _ = load_model_and_tokenizer(model_spec)
        torch.manual_seed(100 + i)
        peft_model = get_peft_model(base, PeftSettings(r=rank, alpha=2 * rank, target_modules=TARGETS).lora_config())
        with torch.no_grad():
            for name, p in peft_model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.02)
        peft_model.save_pretrained(root / lang)
        lib.add(root / lang, languages=[lang], method="random")
    merge_adapters(lib, list(LANGS), "linear", "merged", weights=[0.25] * 4)
    return lib


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--per-language", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch

    from langlock.generate import GenerationSettings, PromptItem
    from langlock.generate.hf import HFGenerator
    from langlock.suites import load_suite

    torch.set_num_threads(args.threads)
    pool = load_suite("builtin-confusion", task="monolingual", langs=",".join(LANGS))
    picked = [p for lang in LANGS for p in [q for q in pool if q.language == lang][: args.per_language]]
    n = len(picked)
    with tempfile.TemporaryDirectory() as tmp:
        lib = make_library(args.model, Path(tmp), args.rank)
        table = lib.routing_table(list(LANGS))
        gens = {
            "base": (HFGenerator(lib.base_model(), batch_size=n, threads=args.threads), None),
            "routed": (HFGenerator(lib.base_model(), batch_size=n, threads=args.threads,
                                   adapters={a: lib.adapter_path(a) for a in table.values()}), table),
            "merged": (HFGenerator(str(lib.adapter_path("merged")), batch_size=n, threads=args.threads), None),
        }
        settings = GenerationSettings(max_new_tokens=args.max_new_tokens, temperature=0)
        tokens = dict.fromkeys(gens, 0)
        seconds = dict.fromkeys(gens, 0.0)
        for gen, _ in gens.values():  # warm-up
            gen.generate([PromptItem("w", "Hallo")], GenerationSettings(max_new_tokens=2, temperature=0), lambda c: None)
        for _ in range(args.rounds):
            for mode, (gen, routes) in gens.items():
                items = [PromptItem(p.key, p.prompt, language=p.language,
                                    adapter=routes[p.language] if routes else None) for p in picked]
                done = []
                t0 = time.perf_counter()
                gen.generate(items, settings, done.append)
                seconds[mode] += time.perf_counter() - t0
                tokens[mode] += sum(c.n_tokens for c in done)
        rate = {m: tokens[m] / seconds[m] for m in gens}
        params = lib.get(LANGS[0]).n_params
    for m in gens:
        print(f"{m:7s} {tokens[m]:6d} tokens in {seconds[m]:7.2f} s = {rate[m]:7.1f} tok/s")
    print(f"RESULT routed_ratio={rate['routed'] / rate['base']:.3f} merged_ratio={rate['merged'] / rate['base']:.3f} "
          f"base_tok_s={rate['base']:.1f} routed_tok_s={rate['routed']:.1f} merged_tok_s={rate['merged']:.1f} "
          f"prompts={n} languages={len(LANGS)} rank={args.rank} adapter_params={params} threads={args.threads} "
          f"max_new_tokens={args.max_new_tokens} rounds={args.rounds}")


if __name__ == "__main__":
    main()
