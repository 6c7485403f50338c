"""TLPO speed: the prefix-shared update and the batched exploration against the reference's naive way.

Same model, same confusion points (CPs), same run:
- exploration: `tlpo_branch.explore_branches` (all CPs in one batch, prefix computed once, KV cache expanded
  k×) vs `explore_one_reference` of the test oracle `tests/_tlpo_training_reference.py` (per CP: a 1-step
  `generate` for the logits, then k rows re-prefilled and extended greedily with `generate`), as the
  reference code does.
- update: one prefix forward per CP (batched), head at the CP only, k log-probs from one log-softmax, plus the
  reference log-probs (cached once per item in training; timed here anyway) against two naive updates, both
  forwarding every candidate row (prefix + candidate + lookahead tokens) over the full sequence by the policy
  (with backward) and by the reference model, one CP (k rows) per micro-batch:
  - "vs the reference code" (`update_speedup`): the rows padded as the reference pads them (left to the
    longest prefix, right to max_length = longest prompt + --max-new). Prefix sharing + no padding waste.
  - "vs naive rows without padding" (`update_speedup_unpadded`): each CP's rows exactly prefix + candidate +
    lookahead, no pad token anywhere. What is left is the prefix sharing (prefix once instead of k times,
    head at one position instead of all), so this number shows that gain on its own;
    `padding_waste` = padded naive time / unpadded naive time.
CPs come from real rollouts of the model on builtin-train cross-lingual prompts for --lang (detector `tlpo`,
English counted as confusion); rollouts without a CP get one at a random response position (counted).

    nice -n 10 .venv/bin/python benchmarks/bench_tlpo.py --cps 2 --max-new 64
Last line: RESULT update_speedup=… exploration_speedup=… update_speedup_unpadded=… padding_waste=…
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test oracles


def _timed(fn, repeats: int, sync):
    times = []
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return min(times)  # the least-disturbed run: the CPU may be shared with other jobs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--lang", default="ko")
    ap.add_argument("--cps", type=int, default=2, help="confusion points")
    ap.add_argument("--branches", type=int, default=16)
    ap.add_argument("--lookahead", type=int, default=3)
    ap.add_argument("--max-new", type=int, default=64, help="rollout length = the naive rows' right padding")
    ap.add_argument("--repeats", type=int, default=2, help="timed runs of each side (the minimum is kept)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--random-init", metavar="DIR", help="build the model from DIR's config.json with random "
                    "weights (timing does not depend on weight values; for machines without the weights)")
    args = ap.parse_args()

    import torch

    from langlock.detect import get_detector
    from langlock.models.load import load_model_and_tokenizer
    from langlock.suites import load_suite
    from langlock.train import tlpo_branch as br
    from langlock.train import tlpo_ops as ops

    import _tlpo_training_reference as ref_impl

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rnd = random.Random(args.seed)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    if args.random_init:
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        path = args.random_init + " (random weights)"
        tok = AutoTokenizer.from_pretrained(args.random_init)
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(args.random_init)).to(args.device).eval()
    else:
        model, tok, path = load_model_and_tokenizer(args.model, dtype="float32", device=args.device)
    reference = copy.deepcopy(model).eval()
    pad = tok.pad_token_id
    det = None if args.random_init else get_detector("tlpo", args.lang, ignore_english=False)
    prompts = [p.prompt for p in load_suite("builtin-train", task="crosslingual", langs=[args.lang])]
    rnd.shuffle(prompts)

    # ---- rollouts -> CPs (original_ids mapping)
    chat = [tok(tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                        tokenize=False), add_special_tokens=False)["input_ids"]
            for p in prompts[: args.cps]]
    ids, mask, _ = br.left_pad(chat, pad, args.device)
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, do_sample=True, temperature=0.6,
                             max_new_tokens=args.max_new, pad_token_id=pad)
    prefixes, real = [], 0
    for p_ids, row in zip(chat, out[:, ids.shape[1] :].tolist()):
        resp = [t for t in row if t != pad]
        text, offs = ops.incremental_offsets(tok, resp)
        cp = -1 if args.random_init else det.detect(text).first_confusion_char  # random weights: random CPs
        t = ops.char_to_token(offs, cp) if cp >= 0 else -1
        if t < 0:
            t = rnd.randrange(1, max(2, len(resp)))
        else:
            real += 1
        prefixes.append(p_ids + resp[:t])
    max_len = max(len(c) for c in chat) + args.max_new  # the reference pads every row to this
    k, steps = args.branches, args.lookahead
    print(f"model {path} on {args.device} ({args.threads} threads), {len(prefixes)} CPs ({real} from the "
          f"detector, {len(prefixes) - real} random), prefix lengths {[len(p) for p in prefixes]}, "
          f"max_length {max_len}, k={k}, lookahead={steps}", flush=True)

    # ---- exploration
    def explore_fast():
        return br.explore_branches(model, prefixes, num_branches=k, branch_length=steps, pad_id=pad,
                                   device=args.device)

    def explore_naive():
        return [ref_impl.explore_one_reference(model, p, num_branches=k, branch_length=steps, pad_id=pad)
                for p in prefixes]

    fast_b = explore_fast()
    naive_b = explore_naive()
    same = all(torch.equal(fast_b.cand_ids[c].cpu(), naive_b[c][0].cpu()) for c in range(len(prefixes)))
    look = all(torch.equal(fast_b.lookahead[c].cpu(), naive_b[c][2].cpu()) for c in range(len(prefixes)))
    print(f"exploration: same top-{k} candidates at every CP: {same}; same lookahead tokens: {look}", flush=True)
    t_explore_fast = _timed(explore_fast, args.repeats, sync)
    t_explore_naive = _timed(explore_naive, args.repeats, sync)
    print(f"exploration: batched {t_explore_fast:.3f} s, one CP at a time {t_explore_naive:.3f} s", flush=True)

    # ---- update
    scores = torch.where(torch.rand(len(prefixes), k) < 0.5, -1.0, 1.0).to(args.device)
    adv = ops.branch_advantage(fast_b.cand_logp.exp(), scores)
    n_rows = len(prefixes) * k

    def update_fast():
        model.zero_grad(set_to_none=True)
        with torch.no_grad():
            ref_lp = br.candidate_logprobs(reference, prefixes, fast_b.cand_ids, pad_id=pad)
        lp = br.candidate_logprobs(model, prefixes, fast_b.cand_ids, pad_id=pad)
        loss = ops.clipped_token_loss(lp, ref_lp, adv, beta=0.04, num_rows=n_rows).loss
        loss.backward()
        return loss.item()

    def update_naive(padded: bool = True):
        """One CP (k rows) per micro-batch, as the reference. `padded`: the reference's padding (left to the
        longest prefix, right to max_length); otherwise each row is exactly prefix + candidate + lookahead."""
        model.zero_grad(set_to_none=True)
        total = 0.0
        longest = max(len(p) for p in prefixes)
        for c in range(len(prefixes)):
            left = longest if padded else len(prefixes[c])
            width = max(max_len, left + 1 + steps) if padded else left + 1 + steps
            rows = ref_impl.naive_rows(prefixes[c : c + 1], fast_b.cand_ids[c : c + 1].cpu(),
                                       fast_b.lookahead[c : c + 1].cpu(), pad_id=pad, left_width=left,
                                       width=width)
            with torch.no_grad():
                ref_lp = ref_impl.naive_row_logprobs(reference, *rows)
            lp = ref_impl.naive_row_logprobs(model, *rows)
            loss = ops.clipped_token_loss(lp, ref_lp, adv[c], beta=0.04, num_rows=n_rows).loss
            loss.backward()
            total += loss.item()
        return total

    def update_unpadded():
        return update_naive(padded=False)

    lf, ln, lu = update_fast(), update_naive(), update_unpadded()
    print(f"update: loss fast {lf:.9f} naive padded {ln:.9f} (|diff| {abs(lf - ln):.2e}) naive unpadded {lu:.9f} "
          f"(|diff| {abs(lf - lu):.2e}), float32", flush=True)
    n_pad_tokens = len(prefixes) * k * max(max_len, max(len(p) for p in prefixes) + 1 + steps)
    n_row_tokens = sum(k * (len(p) + 1 + steps) for p in prefixes)
    print(f"update: naive rows hold {n_pad_tokens} token positions padded, {n_row_tokens} unpadded; the "
          f"prefix-shared forward {sum(len(p) for p in prefixes)}", flush=True)
    t_update_fast = _timed(update_fast, args.repeats, sync)
    t_update_naive = _timed(update_naive, args.repeats, sync)
    t_update_unpadded = _timed(update_unpadded, args.repeats, sync)

    up, ex = t_update_naive / t_update_fast, t_explore_naive / t_explore_fast
    up_unpadded, waste = t_update_unpadded / t_update_fast, t_update_naive / t_update_unpadded
    print(f"exploration: batched {t_explore_fast:.3f} s, one CP at a time {t_explore_naive:.3f} s -> {ex:.1f}x")
    print(f"update:      prefix-shared {t_update_fast:.3f} s, naive rows as the reference code pads them "
          f"{t_update_naive:.3f} s -> {up:.1f}x (vs the reference code)")
    print(f"update:      prefix-shared {t_update_fast:.3f} s, naive rows without padding "
          f"{t_update_unpadded:.3f} s -> {up_unpadded:.1f}x (prefix sharing alone; padding waste {waste:.1f}x)")
    print(f"RESULT update_speedup={up:.1f} exploration_speedup={ex:.1f} update_speedup_unpadded={up_unpadded:.1f} "
          f"padding_waste={waste:.1f}")


if __name__ == "__main__":
    main()
