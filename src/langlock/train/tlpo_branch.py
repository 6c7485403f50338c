"""Model-side TLPO computations, written to share the prefix of each confusion point (spec §1.13).

- `explore_branches`: ONE batched prefix forward over all confusion points (CPs) gives the raw next-token
  distribution at T=1; the top-k candidates are read from it; the KV cache is expanded k× and every
  candidate is continued greedily for `branch_length` tokens in the same batch. Nothing is re-prefilled.
- `candidate_logprobs`: one prefix forward per CP (batched over CPs, left padded), the language-model head
  applied only at the update position (`logits_to_keep=1`), and the k candidate log-probs gathered from one
  log-softmax. Used with grad for the policy and once, without grad, for the reference when an item is made.

The naive computations these replace (the reference code's way) live in the test oracle `tests/_tlpo_training_reference.py`; tests prove the
two equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class BranchBatch:
    """The explored candidates of C confusion points (k candidates each, L lookahead tokens)."""

    cand_ids: object  # [C, k] long: top-k next tokens at each CP
    cand_logp: object  # [C, k] float: policy log-probs of the candidates at exploration time (T = 1)
    lookahead: object  # [C, k, L] long: greedy continuation of each candidate (pad after an end token)
    lookahead_mask: object  # [C, k, L] bool: True where the lookahead token is real


def left_pad(prefixes: Sequence[Sequence[int]], pad_id: int, device=None):
    """Left-pad token lists into `input_ids`, `attention_mask` and mask-derived `position_ids` ([C, T])."""
    import torch

    width = max(len(p) for p in prefixes)
    ids = torch.full((len(prefixes), width), int(pad_id), dtype=torch.long)
    mask = torch.zeros((len(prefixes), width), dtype=torch.long)
    for row, p in enumerate(prefixes):
        if len(p):
            ids[row, width - len(p) :] = torch.as_tensor(list(p), dtype=torch.long)
            mask[row, width - len(p) :] = 1
    pos = (mask.cumsum(-1) - 1).clamp_min(0)
    if device is not None:
        ids, mask, pos = ids.to(device), mask.to(device), pos.to(device)
    return ids, mask, pos


def last_position_logits(model, input_ids, attention_mask, position_ids, *, use_cache: bool = False):
    """Logits of the last position only ([C, V]), plus the KV cache when `use_cache`."""
    out = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids,
        use_cache=use_cache,
        logits_to_keep=1,
    )
    return out.logits[:, -1, :], (out.past_key_values if use_cache else None)


def candidate_logprobs(model, prefixes: Sequence[Sequence[int]], cand_ids, *, pad_id: int):
    """Log-probs [C, k] of candidates `cand_ids` [C, k] after each prefix: one forward for all CPs, the head at
    the update position only, one log-softmax (in at least float32) per CP."""
    import torch

    device = cand_ids.device
    ids, mask, pos = left_pad(prefixes, pad_id, device)
    logits, _ = last_position_logits(model, ids, mask, pos)
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    return torch.log_softmax(logits, -1).gather(-1, cand_ids)


def explore_branches(
    model,
    prefixes: Sequence[Sequence[int]],
    *,
    num_branches: int,
    branch_length: int,
    pad_id: int,
    eos_ids: Sequence[int] = (),
    device=None,
) -> BranchBatch:
    """Top-k candidates at each CP and their greedy lookahead, batched across CPs with the prefix computed once.

    Matches the reference (spec §1.6): probabilities from the raw logits at T=1, `torch.topk`, then
    `branch_length` greedy tokens after each candidate; a branch that emits an end token is padded after it
    (as `generate` does); the candidate itself is input, so an end-token candidate is still continued.
    """
    import torch

    k, steps = int(num_branches), int(branch_length)
    with torch.no_grad():
        ids, mask, pos = left_pad(prefixes, pad_id, device)
        logits, cache = last_position_logits(model, ids, mask, pos, use_cache=True)
        logp = torch.log_softmax(logits.float() if logits.dtype != torch.float64 else logits, -1)
        cand_logp, cand_ids = torch.topk(logp, k, dim=-1)  # [C, k]
        n_cp = cand_ids.shape[0]
        cache.batch_repeat_interleave(k)
        mask = mask.repeat_interleave(k, dim=0)
        cur_pos = pos[:, -1:].repeat_interleave(k, dim=0)
        cur = cand_ids.reshape(n_cp * k, 1)
        eos = torch.as_tensor(list(eos_ids) or [-1], dtype=torch.long, device=cur.device)
        finished = torch.zeros(n_cp * k, dtype=torch.bool, device=cur.device)
        tokens, real = [], []
        for _ in range(steps):
            mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=-1)
            cur_pos = cur_pos + 1
            out = model(
                input_ids=cur,
                attention_mask=mask,
                position_ids=cur_pos,
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
            cache = out.past_key_values
            nxt = out.logits[:, -1, :].argmax(-1)
            real.append(~finished)
            nxt = torch.where(finished, torch.full_like(nxt, int(pad_id)), nxt)
            finished = finished | torch.isin(nxt, eos)
            tokens.append(nxt)
            cur = nxt[:, None]
        if steps:
            look = torch.stack(tokens, -1).reshape(n_cp, k, steps)
            look_mask = torch.stack(real, -1).reshape(n_cp, k, steps)
        else:
            look = cand_ids.new_zeros((n_cp, k, 0))
            look_mask = torch.zeros((n_cp, k, 0), dtype=torch.bool, device=cand_ids.device)
    return BranchBatch(cand_ids=cand_ids, cand_logp=cand_logp, lookahead=look, lookahead_mask=look_mask)


def branch_snippets(tokenizer, batch: BranchBatch) -> list[list[str]]:
    """Decode each branch (candidate + its real lookahead tokens) alone, special tokens skipped (§1.6 step 5)."""
    out = []
    for c in range(batch.cand_ids.shape[0]):
        row = []
        for i in range(batch.cand_ids.shape[1]):
            toks = [int(batch.cand_ids[c, i])]
            toks += [int(t) for t, m in zip(batch.lookahead[c, i], batch.lookahead_mask[c, i]) if bool(m)]
            row.append(tokenizer.decode(toks, skip_special_tokens=True))
        out.append(row)
    return out
