"""The reference code's (naive) way of computing TLPO's exploration and update, kept as the yardstick.

These functions do what the published trainer does (spec §1.6, §1.9, §1.12 W5–W10), one CP at a time and
row by row, so that tests can prove the fast path in `tlpo_branch.py` equal and `benchmarks/bench_tlpo.py` can
time both on the same confusion points. They are not used for training.
"""

from __future__ import annotations

from collections.abc import Sequence


def explore_one_reference(model, prefix: Sequence[int], *, num_branches: int, branch_length: int, pad_id: int):
    """One CP: a 1-step `generate` for the raw logits, top-k, then k rows prefix+t_i re-prefilled and extended
    greedily by `branch_length` tokens with `generate`. Returns (cand_ids [k], cand_logp [k], sequences
    [k, branch_length])."""
    import torch

    dev = next(model.parameters()).device
    ids = torch.as_tensor([list(prefix)], dtype=torch.long, device=dev)
    mask = torch.ones_like(ids)
    with torch.no_grad():
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=1,
            do_sample=False,
            output_logits=True,
            return_dict_in_generate=True,
            pad_token_id=pad_id,
        )
        logits = out.logits[0][0]
        logp = torch.log_softmax(logits.float() if logits.dtype != torch.float64 else logits, -1)
        cand_logp, cand_ids = torch.topk(logp, num_branches)
        rows = torch.cat([ids.repeat(num_branches, 1), cand_ids[:, None]], dim=1)
        gen = model.generate(
            input_ids=rows,
            attention_mask=torch.ones_like(rows),
            max_new_tokens=branch_length,
            min_new_tokens=branch_length,
            do_sample=False,
            top_p=None,
            top_k=None,
            temperature=None,
            pad_token_id=pad_id,
        )
    return cand_ids, cand_logp, gen[:, rows.shape[1] :]


def naive_rows(prefixes, cand_ids, lookahead, *, pad_id: int, width: int | None = None, left_width: int | None = None):
    """Build the reference's training rows: for each CP and candidate, `pad… prefix t_i lookahead pad…`, left
    padded to a common prefix start and right padded to `width` (the reference's max_length). Returns
    (input_ids [C·k, M], attention_mask [C·k, M], update_pos [C·k], targets [C·k])."""
    import torch

    n_cp, k = cand_ids.shape
    steps = lookahead.shape[-1]
    left = left_width or max(len(p) for p in prefixes)
    m = width or (left + 1 + steps)
    ids = torch.full((n_cp * k, m), int(pad_id), dtype=torch.long)
    upd = torch.zeros(n_cp * k, dtype=torch.long)
    tgt = torch.zeros(n_cp * k, dtype=torch.long)
    for c, p in enumerate(prefixes):
        off = left - len(p)
        for i in range(k):
            r = c * k + i
            ids[r, off : left] = torch.as_tensor(list(p), dtype=torch.long)
            ids[r, left] = cand_ids[c, i]
            ids[r, left + 1 : left + 1 + steps] = lookahead[c, i]
            upd[r] = left - 1
            tgt[r] = cand_ids[c, i]
    mask = (ids != int(pad_id)).long()  # the reference's rule: 0 wherever the id equals the pad id
    return ids, mask, upd, tgt


def naive_row_logprobs(model, ids, mask, update_pos, targets, *, positions: str = "arange"):
    """Full-sequence forward of every row (all positions through the head), then log_softmax at `update_pos`
    and gather the target. Returns [rows].

    `positions="arange"` is the reference's plain forward (positions count the left pads); `"mask"` numbers
    real tokens only, as its `generate` calls do. With RoPE the two differ only by a constant shift, i.e. by
    rounding (the rotary tables are built in float32), so float64 equality tests use `"mask"`.
    """
    import torch

    dev = next(model.parameters()).device
    pos = None if positions == "arange" else (mask.cumsum(-1) - 1).clamp_min(0).to(dev)
    logits = model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=pos).logits  # [R, M, V]
    rows = torch.arange(ids.shape[0], device=dev)
    sel = logits[rows, update_pos.to(dev)]
    if sel.dtype in (torch.float16, torch.bfloat16):
        sel = sel.float()
    return torch.log_softmax(sel, -1).gather(-1, targets.to(dev)[:, None])[:, 0]
