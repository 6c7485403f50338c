"""Unit tests of TLPO's pure maths (spec §1.5, §1.7, §1.9; acceptance checks 8, 10, 12)."""

from __future__ import annotations

import math

import pytest
import torch

from langlock.train import tlpo_ops as ops

from _tlpo_fixtures import smollm2_tokenizer

# ---------------------------------------------------------------- advantage (check 8)


def test_advantage_worked_example_1():
    a = ops.branch_advantage(torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64), [-1, 1, 1])
    assert torch.allclose(a, torch.tensor([-0.5, 0.3, 0.2], dtype=torch.float64), atol=1e-15)


def test_advantage_worked_example_2():
    a = ops.branch_advantage(torch.tensor([0.6, 0.2, 0.1, 0.1], dtype=torch.float64), [1, -1, 1, -1])
    expected = torch.tensor([0.36, -0.28, 0.06, -0.14], dtype=torch.float64) / 0.84
    assert torch.allclose(a, expected, atol=1e-12)
    assert a.tolist() == pytest.approx([0.428571, -0.333333, 0.071429, -0.166667], abs=1e-6)


def test_advantage_properties_random():
    g = torch.Generator().manual_seed(0)
    p = torch.rand(50, 16, generator=g, dtype=torch.float64)
    s = torch.where(torch.rand(50, 16, generator=g) < 0.5, -1.0, 1.0).double()
    s[0] = 1.0  # all equal -> zero
    s[1] = -1.0
    a = ops.branch_advantage(p, s)
    assert torch.all(a[:2] == 0)
    mixed = (s != s[:, :1]).any(-1)
    assert torch.allclose(a.sum(-1), torch.zeros(50, dtype=torch.float64), atol=1e-14)
    assert torch.allclose(a[mixed].abs().sum(-1), torch.ones(int(mixed.sum()), dtype=torch.float64), atol=1e-14)
    # invariance to rescaling p (the reference does not renormalise the top-16 probabilities)
    assert torch.allclose(ops.branch_advantage(p * 0.137, s), a, atol=1e-14)
    # a row whose scores are all +1 still sums to zero with unequal probabilities
    assert torch.all(ops.branch_advantage(torch.tensor([0.9, 0.1]), [1.0, 1.0]) == 0)


def test_advantage_sign_follows_score():
    a = ops.branch_advantage(torch.tensor([0.7, 0.2, 0.1]), [-1, 1, -1])
    assert a[0] < 0 and a[1] > 0 and a[2] < 0


# ---------------------------------------------------------------- loss (checks 10)


def _cp_setup(seed=0, v=50, k=6):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(v, generator=g, dtype=torch.float64)
    cand = torch.topk(z, k).indices
    adv = ops.branch_advantage(torch.softmax(z, -1)[cand], torch.tensor([1, -1, 1, -1, -1, 1.0]))
    return z, cand, adv


def test_kl_and_its_gradient_are_zero_at_reference():
    z, cand, adv = _cp_setup()
    z = z.clone().requires_grad_(True)
    lp = torch.log_softmax(z, -1)[cand]
    ref = lp.detach().clone()
    kl = ops.k3_kl(lp, ref)
    assert torch.all(kl == 0)
    (g,) = torch.autograd.grad(kl.sum(), z)
    assert torch.all(g == 0)
    parts = ops.clipped_token_loss(lp, ref, torch.zeros_like(adv), beta=0.04)
    assert parts.loss.item() == 0.0 and parts.kl_mean.item() == 0.0


def test_kl_positive_away_from_reference():
    lp = torch.tensor([-1.0, -2.0], dtype=torch.float64)
    ref = torch.tensor([-1.5, -1.0], dtype=torch.float64)
    assert torch.all(ops.k3_kl(lp, ref) > 0)


@pytest.mark.parametrize("beta", [0.0, 0.04, 0.5])
def test_logit_gradient_matches_closed_form(beta):
    z, cand, adv = _cp_setup(seed=3)
    ref = torch.log_softmax(z + 0.3 * torch.randn(z.shape, generator=torch.Generator().manual_seed(1), dtype=z.dtype), -1)[cand]
    n_rows = 16  # the CP's rows are part of a bigger step
    z = z.clone().requires_grad_(True)
    lp = torch.log_softmax(z, -1)[cand]
    loss = ops.clipped_token_loss(lp, ref, adv, beta=beta, num_rows=n_rows).loss
    (g,) = torch.autograd.grad(loss, z)
    closed = ops.logit_gradient_closed_form(z.detach(), cand, adv, ref, beta=beta, num_rows=n_rows)
    assert torch.allclose(g, closed, atol=1e-15, rtol=1e-12)


def test_logit_gradient_without_kl_is_minus_advantage_over_rows():
    z, cand, adv = _cp_setup(seed=3)
    n_rows = 16
    z = z.clone().requires_grad_(True)
    lp = torch.log_softmax(z, -1)[cand]
    loss = ops.clipped_token_loss(lp, lp.detach() - 0.5, adv, beta=0.0, num_rows=n_rows).loss
    (g,) = torch.autograd.grad(loss, z)
    expected = torch.zeros_like(z)
    expected[cand] = -adv / n_rows
    assert adv.abs().min() > 0 and torch.allclose(g, expected, atol=1e-16)


def test_ratio_is_one_by_default_so_clipping_never_fires():
    z, cand, adv = _cp_setup()
    lp = torch.log_softmax(z, -1)[cand]
    parts = ops.clipped_token_loss(lp, lp - 1.0, adv, beta=0.04)
    assert parts.clip_low.item() == 0 and parts.clip_high.item() == 0


def test_clipping_zeroes_gradient_outside_the_trust_region():
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
    old = torch.zeros(4, dtype=torch.float64)
    # ratios: 1.5 (A>0: clipped), 0.5 (A<0: clipped), 1.1 and 0.9 (inside)
    lp = torch.log(torch.tensor([1.5, 0.5, 1.1, 0.9], dtype=torch.float64)).requires_grad_(True)
    parts = ops.clipped_token_loss(lp, lp.detach(), adv, beta=0.0, old_logp=old, epsilon_low=0.2, epsilon_high=0.2)
    (g,) = torch.autograd.grad(parts.loss, lp)
    assert g[0] == 0 and g[1] == 0 and g[2] != 0 and g[3] != 0
    assert parts.clip_low.item() == pytest.approx(0.25) and parts.clip_high.item() == pytest.approx(0.25)


def test_loss_normalises_by_step_rows_and_weights():
    # advantages that do not sum to zero and a reference away from the policy, so each row's objective
    # (A_i - beta * k3_i) is non-zero and the denominator shows in the loss
    lp = torch.tensor([[-1.0, -2.0], [-0.5, -3.0]], dtype=torch.float64)
    ref = torch.tensor([[-1.5, -2.0], [-0.5, -2.0]], dtype=torch.float64)
    adv = torch.tensor([[0.5, 0.3], [0.2, -0.6]], dtype=torch.float64)
    beta = 0.1
    k3 = [[math.exp(-0.5) + 0.5 - 1, 0.0], [0.0, math.exp(1.0) - 1.0 - 1]]
    obj = [[0.5 - beta * k3[0][0], 0.3], [0.2, -0.6 - beta * k3[1][1]]]
    row_sum = [sum(r) for r in obj]

    full = ops.clipped_token_loss(lp, ref, adv, beta=beta)  # default: the mean over the 4 rows here
    assert full.num_rows == 4 and full.loss.item() == pytest.approx(-(row_sum[0] + row_sum[1]) / 4, rel=1e-14)
    step = ops.clipped_token_loss(lp, ref, adv, beta=beta, num_rows=16)  # rows of the whole optimiser step
    assert step.num_rows == 16 and step.loss.item() == pytest.approx(-(row_sum[0] + row_sum[1]) / 16, rel=1e-14)
    w = torch.tensor([[1, 1], [0, 0]])  # padding rows: weight 0, not counted
    half = ops.clipped_token_loss(lp, ref, adv, beta=beta, row_weight=w)
    assert half.num_rows == 2 and half.loss.item() == pytest.approx(-row_sum[0] / 2, rel=1e-14)
    assert half.kl_mean.item() == pytest.approx(k3[0][0] / 2, rel=1e-14)
    assert abs(row_sum[0]) > 0.1 and abs(row_sum[1]) > 0.1  # so every normalisation above shows in the value


def test_score_branches():
    assert ops.score_branches(["가나", "abc", "日本"], lambda t: any(ord(c) > 0x4E00 and ord(c) < 0xA000 for c in t)) == [
        1.0,
        1.0,
        -1.0,
    ]


# ---------------------------------------------------------------- CP mapping (check 12)


class _ByteTok:
    """A toy byte-level tokenizer: one token per UTF-8 byte; ids 0 and 1 are special (skipped)."""

    def decode(self, ids, skip_special_tokens=True):
        data = bytes(i - 2 for i in ids if i >= 2)
        return data.decode("utf-8", errors="replace")

    def encode(self, text):
        return [b + 2 for b in text.encode("utf-8")]


def test_offsets_on_byte_tokens_point_at_the_first_byte_of_a_character():
    tok = _ByteTok()
    text = "ab한c"
    ids = [0] + tok.encode(text) + [1]
    decoded, offs = ops.incremental_offsets(tok, ids)
    assert decoded == text
    assert offs[0] == (0, 0) and offs[-1] == (len(text), len(text))  # skipped specials: empty span
    # 한 is 3 bytes: tokens 3, 4, 5 (after the leading special). The first byte's token owns the character.
    assert ops.char_to_token(offs, 2) == 3
    assert ops.char_to_token(offs, 3) == 6
    assert ops.char_to_token(offs, 99) == -1


def test_offsets_truncated_inside_a_character():
    tok = _ByteTok()
    ids = tok.encode("a한")[:-1]
    text, offs = ops.incremental_offsets(tok, ids)
    assert text == tok.decode(ids) and len(offs) == len(ids)
    assert ops.char_to_token(offs, 1) == 1


@pytest.fixture(scope="module")
def smol_tok():
    return smollm2_tokenizer()


CASES = [
    ("안녕하세요, 저는 학생입니다. 日本語 문장", "日"),
    ("서울은 한국의 수도입니다 and Paris는", "P"),
    ("数学は楽しいです。그리고", "그"),
    ("Hello, 世界! 这是 测试 ёлка", "ё"),
    ("이것은 😀 이모지 다음 Привет", "П"),
]


@pytest.mark.parametrize("text,bad", CASES)
def test_original_ids_mapping_on_smollm2(smol_tok, text, bad):
    ids = smol_tok(text, add_special_tokens=False)["input_ids"]
    decoded, offs = ops.incremental_offsets(smol_tok, ids)
    assert decoded == smol_tok.decode(ids, skip_special_tokens=True) == text
    assert len(offs) == len(ids)
    cp = text.index(bad)
    t = ops.char_to_token(offs, cp)
    assert t >= 0
    # the token holds the first UTF-8 byte of that character (byte spans from the byte-level vocabulary)
    start_byte = len(text[:cp].encode("utf-8"))
    spans = _byte_spans(smol_tok, ids)
    assert spans[t][0] <= start_byte < spans[t][1], (spans[t], start_byte)
    # and it is the first token whose offsets cover the character according to the fast tokenizer itself
    enc = smol_tok(text, add_special_tokens=False, return_offsets_mapping=True)
    assert enc.char_to_token(cp) == t


def test_offsets_agree_with_full_prefix_decoding(smol_tok):
    text = "한국어와 English, 中文和日本語が混ざった文章です。\n둘째 줄 ✓ done"
    ids = smol_tok(text, add_special_tokens=False)["input_ids"]
    _, offs = ops.incremental_offsets(smol_tok, ids)
    n_incomplete, prev = 0, 0
    for i, (start, end) in enumerate(offs):  # the O(n^2) definition: decode every prefix in full
        full = smol_tok.decode(ids[: i + 1])
        stable = full.rstrip(ops.REPLACEMENT_CHAR)
        incomplete = full.endswith(ops.REPLACEMENT_CHAR)
        n_incomplete += incomplete
        assert start == prev
        assert end == (len(stable) + 1 if incomplete else len(full))
        prev = len(stable)
    assert n_incomplete > 5  # the text really splits characters across tokens


@pytest.mark.parametrize("text,bad", CASES)
def test_retokenized_mapping_on_smollm2(smol_tok, text, bad):
    msgs = [{"role": "user", "content": "질문"}]
    prompt = smol_tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    prompt_ids = smol_tok(prompt, add_special_tokens=False)["input_ids"]
    resp_ids = smol_tok(text, add_special_tokens=False)["input_ids"] + [smol_tok.convert_tokens_to_ids("<|im_end|>")]
    cp_rel = text.index(bad)
    r = ops.retokenized_confusion_point(smol_tok, prompt_ids, resp_ids, cp_rel)
    assert r.full_text.endswith(text) and "<|im_start|>" not in r.full_text  # template specials stripped
    assert r.full_text[r.cp_char] == bad
    spans = _byte_spans(smol_tok, r.context_ids)
    start_byte = len(r.full_text[: r.cp_char].encode("utf-8"))
    assert spans[r.cp_token][0] <= start_byte < spans[r.cp_token][1]


def _gpt2_byte_decoder() -> dict[str, int]:
    """Inverse of the byte-level BPE alphabet (printable bytes map to themselves, the rest to 256+n)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[chr(b)] = b
        else:
            table[chr(256 + extra)] = b
            extra += 1
    return table


def _byte_spans(tok, ids):
    """Byte span of each token in the concatenated UTF-8 text (special tokens are empty)."""
    dec = _gpt2_byte_decoder()
    spans, pos = [], 0
    special = set(tok.all_special_ids)
    for piece, i in zip(tok.convert_ids_to_tokens(ids), ids):
        n = 0 if i in special else len(piece)
        assert i in special or all(ch in dec for ch in piece)
        spans.append((pos, pos + n))
        pos += n
    return spans
