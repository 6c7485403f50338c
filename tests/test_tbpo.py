"""TBPO maths: generator closed forms, packing/pairing against a plain loop, weights, and the reduction to
TRL's own DPO loss and gradients on a tiny model."""

from __future__ import annotations

import copy
import math

import pytest

torch = pytest.importorskip("torch")

from langlock.baselines.tbpo import (  # noqa: E402
    Generator,
    baseline_log_weights,
    generator_h,
    k3_data_token,
    kl_per_position,
    loss_derivative,
    loss_value,
    make_baseline_head,
    pack,
    pack_order,
    paired_mask,
    tbpo_loss,
)

from _baseline_fixtures import fast_args, preference_rows, tiny_model  # noqa: E402

GENS = [
    Generator("logistic"),
    Generator("kliep"),
    Generator("lsif"),
    Generator("ba", lam=0.5),
    Generator("ba", lam=-0.5),
    Generator("sba", lam=0.0, scale=4.0),
    Generator("sba", lam=0.3, scale=2.0),
]


def _bregman_ell(z: torch.Tensor, gen: Generator) -> torch.Tensor:
    """ℓ_h(R) = h'(R) R − h(R) − h'(1/R), with h' from autograd on the generator h itself."""
    out = []
    for zi in z:
        r = torch.exp(zi).clone().requires_grad_(True)
        (hp,) = torch.autograd.grad(generator_h(r, gen), r)
        rinv = torch.exp(-zi).clone().requires_grad_(True)
        (hp_inv,) = torch.autograd.grad(generator_h(rinv, gen), rinv)
        out.append(hp * r.detach() - generator_h(r.detach(), gen) - hp_inv)
    return torch.stack(out)


@pytest.mark.parametrize("gen", GENS, ids=lambda g: f"{g.name}-{g.lam}-{g.scale}")
def test_generator_value_is_bregman_form_up_to_constant(gen):
    z = torch.linspace(-3, 3, 13, dtype=torch.float64)
    ours = loss_value(z, gen)
    ref = _bregman_ell(z, gen)
    diff = ours - ref
    assert torch.allclose(diff, diff[0].expand_as(diff), atol=1e-9), (ours, ref)


@pytest.mark.parametrize("gen", GENS, ids=lambda g: f"{g.name}-{g.lam}-{g.scale}")
def test_generator_derivative_matches_closed_form(gen):
    z = torch.linspace(-3, 3, 13, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(loss_value(z, gen).sum(), z)
    assert torch.allclose(g, loss_derivative(z.detach(), gen), atol=1e-10)


def test_named_closed_forms():
    z = torch.tensor([-1.0, 0.0, 0.7], dtype=torch.float64)
    e = torch.exp
    assert torch.allclose(loss_value(z, Generator("logistic")), torch.log1p(e(z)))
    assert torch.allclose(loss_value(z, Generator("lsif")), e(2 * z) - 2 * e(-z))  # not the released e^{2z} − 2e^{z}
    assert torch.allclose(loss_value(z, Generator("sba", 0.0, 4.0)), loss_value(z, Generator("kliep")) / 4)
    # SBA(λ=0, s=4) has DPO's gradient scale at initialisation: dℓ/dz(0) = σ(0) = 0.5
    assert float(loss_derivative(torch.zeros(()), Generator("sba", 0.0, 4.0))) == pytest.approx(0.5)
    # the SBA derivative is continuous in λ at 0
    near = loss_derivative(z, Generator("sba", 1e-7, 4.0))
    assert torch.allclose(near, loss_derivative(z, Generator("sba", 0.0, 4.0)), atol=1e-6)


def test_bad_generators_rejected():
    with pytest.raises(ValueError):
        Generator("hinge")
    with pytest.raises(ValueError):
        Generator("ba", lam=0.0)
    with pytest.raises(ValueError):
        Generator("sba", lam=-1.0)


def _naive_token_loss(logp, ref, masks, beta, gen, log_w=None):
    """Per pair: list the response tokens of each side in order, pair them by index, average ℓ."""
    n = logp.size(0) // 2
    losses = []
    for i in range(n):
        w = [float(logp[i, j] - ref[i, j]) for j in range(logp.size(1)) if masks[i, j]]
        l_ = [float(logp[n + i, j] - ref[n + i, j]) for j in range(logp.size(1)) if masks[n + i, j]]
        T = min(len(w), len(l_))
        if T == 0:
            losses.append(0.0)
            continue
        terms = []
        for t in range(T):
            lw = 0.0 if log_w is None else log_w[i][t]
            terms.append(float(loss_value(torch.tensor(beta * (l_[t] - w[t] + lw), dtype=torch.float64), gen)))
        losses.append(sum(terms) / T)
    return sum(losses) / n


def test_token_loss_matches_plain_loop_with_ragged_responses():
    g = torch.Generator().manual_seed(0)
    logp = torch.randn(6, 9, generator=g, dtype=torch.float64)
    ref = torch.randn(6, 9, generator=g, dtype=torch.float64)
    mask = torch.zeros(6, 9, dtype=torch.bool)
    spans = [(2, 7), (1, 4), (3, 9), (4, 6), (0, 9), (5, 5)]  # (start, end) of each response; the last is empty
    for row, (a, b) in enumerate(spans):
        mask[row, a:b] = True
    gen = Generator("sba", 0.0, 4.0)
    r = (logp - ref) * mask
    order = pack_order(mask)
    rp = pack(r, order)
    lengths = mask.sum(1)
    m = paired_mask(lengths[:3], lengths[3:], 9)
    out = tbpo_loss(rp[:3], rp[3:], m, None, beta=0.3, gen=gen)
    assert float(out.loss) == pytest.approx(_naive_token_loss(logp, ref, mask, 0.3, gen), rel=1e-10)
    assert m.sum(1).tolist() == [2, 3, 0]


def test_shared_prefix_positions_carry_no_policy_gradient_and_can_be_masked():
    tok_w = torch.tensor([[5, 6, 7, 8]])
    tok_l = torch.tensor([[5, 6, 9, 9]])
    m_all = paired_mask(torch.tensor([4]), torch.tensor([4]), 4)
    m_cut = paired_mask(torch.tensor([4]), torch.tensor([4]), 4, tok_w, tok_l)
    assert m_cut.tolist() == [[False, False, True, True]]
    # identical log-ratios at the shared positions → z = 0 there whatever θ is: its gradient wrt r cancels
    r_shared = torch.tensor([0.4, -0.2], requires_grad=True)
    r_w = torch.cat([r_shared, torch.tensor([0.1, 0.3])]).unsqueeze(0)
    r_l = torch.cat([r_shared, torch.tensor([-0.5, 0.2])]).unsqueeze(0)
    out = tbpo_loss(r_w, r_l, m_all, None, beta=0.1, gen=Generator("sba"))
    (grad,) = torch.autograd.grad(out.loss, r_shared)
    assert torch.allclose(grad, torch.zeros(2))


def test_baseline_weights_centred_clamped_and_only_head_gets_gradient():
    torch.manual_seed(0)
    backbone = torch.nn.Linear(4, 8)
    head = make_baseline_head(8, mlp_dim=16)
    x = torch.randn(4, 5, 4)
    h = backbone(x)
    b = head(h.detach())
    m = paired_mask(torch.tensor([5, 3]), torch.tensor([4, 5]), 5)
    lw = baseline_log_weights(b[:2], b[2:], m, center=True, clip=10.0)
    assert torch.allclose((lw * m).sum(1), torch.zeros(2), atol=1e-6)
    big = baseline_log_weights(torch.zeros(1, 3), torch.tensor([[100.0, -100.0, 0.0]]), torch.ones(1, 3, dtype=torch.bool),
                               center=False, clip=10.0)
    assert big.tolist() == [[10.0, -10.0, 0.0]]
    r = torch.randn(2, 5)
    out = tbpo_loss(r, -r, m, lw, beta=0.5, gen=Generator("sba"))
    out.loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
    assert all(p.grad is None for p in backbone.parameters())


def test_kl_estimators():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 3, 7, generator=g, dtype=torch.float64)
    assert torch.allclose(kl_per_position(logits, logits), torch.zeros(2, 3, dtype=torch.float32), atol=1e-6)
    ref = torch.randn(2, 3, 7, generator=g, dtype=torch.float64)
    p, q = ref.softmax(-1), logits.softmax(-1)
    expected = (p * (p.log() - q.log())).sum(-1).float()
    assert torch.allclose(kl_per_position(logits, ref), expected, atol=1e-6)
    lp, lr = torch.tensor([-1.0, -2.0]), torch.tensor([-1.5, -2.0])
    rho = math.exp(0.5)
    assert k3_data_token(lp, lr).tolist() == pytest.approx([(rho - 1) - 0.5, 0.0])


# --------------------------------------------------------------------------------- reduction to TRL's DPO


def _pair_of_trainers(tmp_path, tbpo_kwargs):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from langlock.baselines.tbpo_trainer import TBPOConfig, TBPOTrainer

    path = tiny_model(tmp_path)
    tok = AutoTokenizer.from_pretrained(path)
    ref = AutoModelForCausalLM.from_pretrained(path)
    policy = AutoModelForCausalLM.from_pretrained(path)
    torch.manual_seed(1)
    with torch.no_grad():  # move the policy away from the reference so the log-ratios are not all zero
        for p in policy.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ds = Dataset.from_list(preference_rows())
    base = fast_args(tmp_path, beta=0.3, max_length=64)
    dpo = DPOTrainer(model=copy.deepcopy(policy), ref_model=copy.deepcopy(ref), args=DPOConfig(**base),
                     train_dataset=ds, processing_class=tok)
    tbpo = TBPOTrainer(model=copy.deepcopy(policy), ref_model=copy.deepcopy(ref),
                       args=TBPOConfig(**base, **tbpo_kwargs), train_dataset=ds, processing_class=tok)
    return dpo, tbpo


def _loss_and_grads(trainer, batch):
    model = trainer.model
    model.train()
    model.zero_grad()
    loss = trainer._compute_loss(model, batch, return_outputs=False)
    loss.backward()
    return loss.detach(), {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}


def test_logistic_unit_sequence_tbpo_equals_trl_dpo_loss_and_gradients(tmp_path):
    dpo, tbpo = _pair_of_trainers(tmp_path, dict(tbpo_variant="unit", tbpo_level="sequence", generator="logistic"))
    batch = next(iter(dpo.get_train_dataloader()))
    l_dpo, g_dpo = _loss_and_grads(dpo, batch)
    l_tbpo, g_tbpo = _loss_and_grads(tbpo, batch)
    assert abs(float(l_dpo) - math.log(2)) > 1e-3  # the policy differs from the reference
    assert float(l_tbpo) == pytest.approx(float(l_dpo), abs=1e-5)
    assert g_dpo.keys() == g_tbpo.keys() and len(g_dpo) > 5
    for k in g_dpo:
        assert torch.allclose(g_tbpo[k], g_dpo[k], atol=1e-5, rtol=1e-4), k


def test_single_token_responses_make_token_level_equal_dpo(tmp_path):
    """With one-token responses T = 1, so token-level TBPO (logistic, unit weights) is DPO per pair."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from langlock.baselines.tbpo_trainer import TBPOConfig, TBPOTrainer

    path = tiny_model(tmp_path)
    tok = AutoTokenizer.from_pretrained(path)
    policy = AutoModelForCausalLM.from_pretrained(path)
    torch.manual_seed(2)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ds = Dataset.from_list([{"prompt": "ab", "chosen": "x", "rejected": "y"}, {"prompt": "cd", "chosen": "z", "rejected": "q"}])
    base = fast_args(tmp_path, beta=0.5, max_length=3)  # 2 prompt tokens + 1 completion token (EOS cut off)
    ref = AutoModelForCausalLM.from_pretrained(path)
    dpo = DPOTrainer(model=copy.deepcopy(policy), ref_model=copy.deepcopy(ref), args=DPOConfig(**base),
                     train_dataset=ds, processing_class=tok)
    tbpo = TBPOTrainer(model=copy.deepcopy(policy), ref_model=copy.deepcopy(ref),
                       args=TBPOConfig(**base, tbpo_variant="unit", generator="logistic"), train_dataset=ds,
                       processing_class=tok)
    batch = next(iter(dpo.get_train_dataloader()))
    assert batch["completion_mask"].sum(1).tolist() == [1, 1, 1, 1]
    l_dpo, g_dpo = _loss_and_grads(dpo, batch)
    l_tbpo, g_tbpo = _loss_and_grads(tbpo, batch)
    assert float(l_tbpo) == pytest.approx(float(l_dpo), abs=1e-5)
    for k in g_dpo:
        assert torch.allclose(g_tbpo[k], g_dpo[k], atol=1e-5, rtol=1e-4), k


def test_tbpo_q_head_is_optimised_with_its_own_learning_rate(tmp_path):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from langlock.baselines.tbpo_trainer import TBPOConfig, TBPOTrainer

    path = tiny_model(tmp_path)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    args = TBPOConfig(**fast_args(tmp_path, max_steps=1, max_length=64, learning_rate=1e-3), tbpo_variant="q",
                      baseline_mlp_dim=8, baseline_lr=0.05)
    trainer = TBPOTrainer(model=model, ref_model=AutoModelForCausalLM.from_pretrained(path), args=args,
                          train_dataset=Dataset.from_list(preference_rows()), processing_class=tok)
    before = [p.detach().clone() for p in trainer.baseline_head.parameters()]
    trainer.train()
    head_group = [g for g in trainer.optimizer.param_groups if g["params"][0] is next(trainer.baseline_head.parameters())]
    assert len(head_group) == 1 and head_group[0]["weight_decay"] == 0.0
    after = list(trainer.baseline_head.parameters())
    assert any(not torch.equal(b, a) for b, a in zip(before, after))
