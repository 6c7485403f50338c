"""SITE steering: the hooks' own cost per forward pass (prefill and decode) against the forward itself, and
the seconds of a head-selection fit, on a SmolLM2-135M-shaped Llama (random weights built from config, so
nothing is downloaded; `--model` loads a real one instead).

End-to-end tokens/s cannot resolve 5 % on a shared CPU, so the hooks time themselves: every call of the
steering hooks (the model-level phase hook and each layer's `o_proj` pre-hook) adds its wall time to a
counter, and the overhead is that time divided by the wall time of the same steered forward passes (same
batch, same run). Prefill injects at the last prompt token of every row; decode steps run the hooks in
their default prefill-only mode (they return at once) and, separately, with `decode_scale > 0` (injection at
every generated token).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_steer.py [--batch 4] [--prompt-len 128] [--repeats 5]

Last line: RESULT overhead=<max(prefill, decode) hook share> fit_s=<seconds for --fit-steps steps> params=<L*H>
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def smollm2_shaped(seed: int = 0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                      num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=2048,
                      tie_word_embeddings=True)
    return LlamaForCausalLM(cfg).eval()


class TimedHooks:
    """`SteerHooks` whose hook calls add their own wall time to `self.seconds`."""

    def __new__(cls, model):
        from langlock.steer.hooks import SteerHooks

        class _Timed(SteerHooks):
            seconds = 0.0

            def _phase(self, module, args, kwargs):
                t = time.perf_counter()
                r = super()._phase(module, args, kwargs)
                self.seconds += time.perf_counter() - t
                return r

            def _make_hook(self, layer):
                inner = super()._make_hook(layer)

                def hook(module, args):
                    t = time.perf_counter()
                    r = inner(module, args)
                    self.seconds += time.perf_counter() - t
                    return r

                return hook

        return _Timed(model)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a real model (spec for langlock.models); default: SmolLM2-135M-shaped random")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--decode-steps", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--fit-steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()

    import torch
    from transformers import DynamicCache

    from langlock.steer.arch import model_shape
    from langlock.steer.fit import FitExample, fit_selection

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model:
        from langlock.models import load_model_and_tokenizer

        model = load_model_and_tokenizer(args.model)[0]
    else:
        model = smollm2_shaped()
    L, H, d = model_shape(model)
    vocab = model.get_input_embeddings().weight.shape[0]
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(10, vocab, (args.batch, args.prompt_len), generator=g)
    alpha = torch.rand(args.batch, L, H, generator=g)
    vectors = torch.randn(args.batch, L, H, d, generator=g)

    def run(decode_scale: float):
        hooks = TimedHooks(model)
        with torch.inference_mode(), hooks:
            hooks.set_injection(list(range(args.batch)), alpha, vectors, decode_scale=decode_scale)
            hooks.seconds = 0.0
            t = time.perf_counter()
            out = model(input_ids=ids, past_key_values=DynamicCache(config=model.config), use_cache=True)
            pre_wall, pre_hook = time.perf_counter() - t, hooks.seconds
            cache, nxt = out.past_key_values, out.logits[:, -1:].argmax(-1)
            hooks.seconds = 0.0
            t = time.perf_counter()
            for _ in range(args.decode_steps):
                out = model(input_ids=nxt, past_key_values=cache, use_cache=True)
                cache, nxt = out.past_key_values, out.logits[:, -1:].argmax(-1)
            dec_wall, dec_hook = time.perf_counter() - t, hooks.seconds
        return pre_hook / pre_wall, dec_hook / dec_wall, pre_wall, dec_wall / args.decode_steps

    run(0.0)  # warm-up
    rows = {"prefill-only": [run(0.0) for _ in range(args.repeats)],
            "every-token": [run(0.5) for _ in range(args.repeats)]}
    for name, rs in rows.items():
        pre = statistics.median(r[0] for r in rs)
        dec = statistics.median(r[1] for r in rs)
        print(f"{name:13s} prefill hook share {pre:.4f} (forward {statistics.median(r[2] for r in rs) * 1e3:.1f} ms)"
              f"  decode hook share {dec:.4f} (step {statistics.median(r[3] for r in rs) * 1e3:.1f} ms)")
    pre0 = statistics.median(r[0] for r in rows["prefill-only"])
    dec0 = statistics.median(r[1] for r in rows["prefill-only"])

    examples = [FitExample(ids[i % args.batch, :32].tolist(), ids[(i + 1) % args.batch, 32:34].tolist())
                for i in range(4)]
    t = time.perf_counter()
    fit_selection(model, vectors[0], examples, steps=args.fit_steps)
    fit_s = time.perf_counter() - t
    print(f"fit: {args.fit_steps} steps on {len(examples[0].prompt_ids)}-token prompts in {fit_s:.2f} s "
          f"({fit_s / args.fit_steps:.3f} s/step); batch {args.batch} x {args.prompt_len} tokens, "
          f"{L} layers x {H} heads x {d}; torch threads {torch.get_num_threads()}")
    print(f"RESULT overhead={max(pre0, dec0):.4f} prefill_overhead={pre0:.4f} decode_overhead={dec0:.4f} "
          f"fit_s={fit_s:.2f} params={L * H}")


if __name__ == "__main__":
    main()
