"""The fast, prefix-shared TLPO computations equal the reference code's naive ones (spec §7 checks 9 and 11).

Tiny Llama from config in float64: the fast path (one prefix forward per CP, head at the update position
only, candidate log-probs from one log-softmax, batched exploration with the KV cache expanded k×) against
the naive path (every candidate row forwarded over the full padded sequence with its 3-token lookahead, and
exploration one CP at a time with `generate`; the oracle `_tlpo_training_reference`). The tiny model's RMSNorms run in float64 (HF's compute in
float32 whatever the model dtype, which alone limits agreement to ~1e-7; see `_tlpo_fixtures`).
"""

from __future__ import annotations

import pytest
import torch

from langlock.train import tlpo_branch as br
from langlock.train import tlpo_ops as ops

import _tlpo_training_reference as ref_impl
from _tlpo_fixtures import tiny_llama

PAD = 0
K, L = 8, 3


@pytest.fixture(scope="module")
def models():
    policy = tiny_llama(1000, seed=0, dtype=torch.float64)
    reference = tiny_llama(1000, seed=1, dtype=torch.float64)  # differs, so the KL term is not zero
    return policy, reference


@pytest.fixture(scope="module")
def prefixes():
    g = torch.Generator().manual_seed(7)
    return [torch.randint(3, 1000, (n,), generator=g).tolist() for n in (9, 14, 5)]


def _rel(a, b):
    return float((a - b).abs().max().detach() / b.abs().max().detach().clamp_min(1e-300))


def test_batched_exploration_equals_one_cp_at_a_time(models, prefixes):
    policy, _ = models
    fast = br.explore_branches(policy, prefixes, num_branches=K, branch_length=L, pad_id=PAD, eos_ids=[2])
    for c, p in enumerate(prefixes):
        cand, logp, look = ref_impl.explore_one_reference(policy, p, num_branches=K, branch_length=L, pad_id=PAD)
        assert torch.equal(fast.cand_ids[c], cand)
        assert _rel(fast.cand_logp[c], logp) <= 1e-6  # `generate` hands out its raw logits in float32
        assert torch.equal(fast.lookahead[c], look)
        # probabilities are from the raw logits at T = 1 and top-k is torch.topk of the full distribution
        with torch.no_grad():
            full = torch.log_softmax(policy(torch.tensor([p])).logits[0, -1], -1)
        top = torch.topk(full, K)
        assert torch.equal(top.indices, cand)
        assert _rel(fast.cand_logp[c], top.values) <= 1e-10
    assert fast.lookahead.shape == (len(prefixes), K, L)


def test_snippets_decode_candidate_and_lookahead_only(models, prefixes):
    policy, _ = models
    fast = br.explore_branches(policy, prefixes[:1], num_branches=2, branch_length=L, pad_id=PAD)

    class Tok:
        def decode(self, ids, skip_special_tokens=True):
            return ",".join(str(i) for i in ids)

    snip = br.branch_snippets(Tok(), fast)
    assert snip[0][0] == ",".join(str(int(t)) for t in [fast.cand_ids[0, 0], *fast.lookahead[0, 0]])
    assert len(snip[0][0].split(",")) == 1 + L  # tokens [c, c+4) only: no context


def _fast_and_naive(policy, reference, prefixes, beta=0.04):
    fast = br.explore_branches(policy, prefixes, num_branches=K, branch_length=L, pad_id=PAD)
    g = torch.Generator().manual_seed(3)
    scores = torch.where(torch.rand(len(prefixes), K, generator=g) < 0.5, -1.0, 1.0).double()
    adv = ops.branch_advantage(fast.cand_logp.exp(), scores)
    with torch.no_grad():
        ref_fast = br.candidate_logprobs(reference, prefixes, fast.cand_ids, pad_id=PAD)
    # naive rows: left padded to the longest prefix (+2 extra pads, like the reference's dataset-wide padding) and
    # right padded to max_length
    left = max(len(p) for p in prefixes) + 2
    ids, mask, upd, tgt = ref_impl.naive_rows(
        prefixes, fast.cand_ids, fast.lookahead, pad_id=PAD, left_width=left, width=left + 1 + L + 6
    )
    with torch.no_grad():
        ref_naive = ref_impl.naive_row_logprobs(reference, ids, mask, upd, tgt, positions="mask")
    return fast, adv, ref_fast, (ids, mask, upd, tgt), ref_naive


def test_reference_logprobs_computed_once_equal_naive(models, prefixes):
    policy, reference = models
    _, _, ref_fast, _, ref_naive = _fast_and_naive(policy, reference, prefixes)
    assert _rel(ref_fast.flatten(), ref_naive) <= 1e-10


def test_arange_positions_differ_only_by_rope_table_rounding(models, prefixes):
    """The reference's plain forward counts left pads in the positions; RoPE makes that a constant shift,
    so the log-probs agree up to the float32 rounding of the rotary tables."""
    policy, reference = models
    _, _, ref_fast, rows, _ = _fast_and_naive(policy, reference, prefixes)
    with torch.no_grad():
        arange = ref_impl.naive_row_logprobs(reference, *rows, positions="arange")
    assert _rel(ref_fast.flatten(), arange) <= 1e-6


@pytest.mark.parametrize("beta", [0.04, 0.0])
def test_prefix_shared_loss_and_gradients_equal_naive(models, prefixes, beta):
    policy, reference = models
    fast, adv, ref_fast, rows, ref_naive = _fast_and_naive(policy, reference, prefixes, beta)
    n_rows = len(prefixes) * K

    policy.zero_grad(set_to_none=True)
    lp = br.candidate_logprobs(policy, prefixes, fast.cand_ids, pad_id=PAD)
    loss_fast = ops.clipped_token_loss(lp, ref_fast, adv, beta=beta, num_rows=n_rows).loss
    loss_fast.backward()
    g_fast = {n: p.grad.detach().clone() for n, p in policy.named_parameters() if p.grad is not None}

    policy.zero_grad(set_to_none=True)
    lp_rows = ref_impl.naive_row_logprobs(policy, *rows, positions="mask")
    loss_naive = ops.clipped_token_loss(lp_rows, ref_naive, adv.flatten(), beta=beta, num_rows=n_rows).loss
    loss_naive.backward()
    g_naive = {n: p.grad.detach().clone() for n, p in policy.named_parameters() if p.grad is not None}
    policy.zero_grad(set_to_none=True)

    assert _rel(loss_fast, loss_naive) <= 1e-10
    assert _rel(lp.flatten(), lp_rows) <= 1e-10
    assert set(g_fast) == set(g_naive) and len(g_fast) > 10
    flat_fast = torch.cat([g_fast[n].flatten() for n in sorted(g_fast)])
    flat_naive = torch.cat([g_naive[n].flatten() for n in sorted(g_naive)])
    assert flat_naive.abs().max() > 0
    assert _rel(flat_fast, flat_naive) <= 1e-10
    for n in g_fast:  # per tensor, too (relative to the global scale, so small tensors are not over-weighted)
        assert float((g_fast[n] - g_naive[n]).abs().max()) <= 1e-10 * float(flat_naive.abs().max())


def test_fast_logit_gradient_matches_closed_form(models, prefixes):
    """The gradient reaching the CP logits through the fast path is the closed form of spec §1.9."""
    policy, reference = models
    fast, adv, ref_fast, _, _ = _fast_and_naive(policy, reference, prefixes)
    ids, mask, pos = br.left_pad(prefixes, PAD)
    logits, _ = br.last_position_logits(policy, ids, mask, pos)
    logits = logits.detach().requires_grad_(True)
    lp = torch.log_softmax(logits, -1).gather(-1, fast.cand_ids)
    n_rows = len(prefixes) * K
    loss = ops.clipped_token_loss(lp, ref_fast, adv, beta=0.04, num_rows=n_rows).loss
    (g,) = torch.autograd.grad(loss, logits)
    for c in range(len(prefixes)):
        closed = ops.logit_gradient_closed_form(
            logits[c].detach(), fast.cand_ids[c], adv[c], ref_fast[c], beta=0.04, num_rows=n_rows
        )
        assert _rel(g[c], closed) <= 1e-12


def test_kl_gradient_zero_when_policy_is_reference(models, prefixes):
    policy, _ = models
    fast = br.explore_branches(policy, prefixes, num_branches=K, branch_length=L, pad_id=PAD)
    with torch.no_grad():
        ref_lp = br.candidate_logprobs(policy, prefixes, fast.cand_ids, pad_id=PAD)
    policy.zero_grad(set_to_none=True)
    lp = br.candidate_logprobs(policy, prefixes, fast.cand_ids, pad_id=PAD)
    parts = ops.clipped_token_loss(lp, ref_lp, torch.zeros_like(lp), beta=0.04)
    parts.loss.backward()
    assert parts.kl_mean.item() == 0.0
    grads = [p.grad for p in policy.parameters()]
    assert all(g is not None for g in grads)  # every parameter was reached by the backward pass ...
    assert all(torch.all(g == 0) for g in grads)  # ... and got exactly zero
    policy.zero_grad(set_to_none=True)


def test_the_oracles_are_test_code_not_in_the_package():
    import importlib.util
    from pathlib import Path

    import langlock

    assert importlib.util.find_spec("langlock.train.tlpo_reference") is None
    assert sorted(p.name for p in Path(langlock.__file__).parent.rglob("*reference*")) == []
    assert ref_impl.__file__.endswith("tests/_tlpo_training_reference.py")
