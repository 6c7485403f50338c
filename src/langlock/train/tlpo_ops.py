"""The mathematics of TLPO as small pure functions (spec §1.5–§1.9).

Everything the trainer computes that can be stated without a model lives here, so it can be unit-tested on
hand-made numbers:

- confusion point (CP) character → token: `incremental_offsets` / `char_to_token` (the fixed `original_ids`
  mode: the sampled token ids are kept and their character spans come from incremental detokenisation) and
  `retokenized_confusion_point` (the reference code's behaviour: decode, re-tokenise, map through the fast
  tokenizer's offsets);
- branch scoring with any detector (`score_branches`);
- the probability-weighted, L1-normalised, zero-sum advantage (`branch_advantage`);
- the k3 KL estimator (`k3_kl`) and the clipped single-position surrogate loss (`clipped_token_loss`).

Torch is imported inside the functions that need it, so importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

REPLACEMENT_CHAR = "\ufffd"


# --------------------------------------------------------------------------------------------------------------
# Confusion point: character offset -> token index
# --------------------------------------------------------------------------------------------------------------


def incremental_offsets(
    tokenizer, ids: Sequence[int], *, skip_special_tokens: bool = True, window: int = 6
) -> tuple[str, list[tuple[int, int]]]:
    """Decode `ids` token by token and return `(text, offsets)` with one `(start, end)` span per token.

    `text` equals `tokenizer.decode(ids, skip_special_tokens=...)`. A token's span holds the characters that
    became final when it was appended. A token that ends *inside* a multi-byte character (byte-level BPE
    splits Hangul and CJK characters over several tokens; the decoder shows the unfinished bytes as U+FFFD)
    also covers the character it starts, like the fast tokenizer's own offsets, so the first token holding a
    byte of a character is the one `char_to_token` finds: the model's decision to emit that character.
    Tokens that add nothing (skipped special tokens) get an empty span.

    Decoding is windowed (as in vLLM's incremental detokeniser): each step decodes at most `window` tokens of
    already-final context plus the pending ones, so the cost is linear in the number of tokens. SentencePiece
    decoders that drop a leading space at the start of a string are handled because the context text is
    decoded with the same window and subtracted.
    """
    ids = [int(i) for i in ids]
    offsets: list[tuple[int, int]] = []
    text = ""  # final text so far
    ctx_start = 0  # first token of the decoding window
    read = 0  # tokens [ctx_start, read) end on a character boundary; their text is the tail of `text`
    emitted = 0  # characters already appended to `text` from the tokens after `read`
    for i in range(len(ids)):
        prefix_text = tokenizer.decode(ids[ctx_start:read], skip_special_tokens=skip_special_tokens)
        new_text = tokenizer.decode(ids[ctx_start : i + 1], skip_special_tokens=skip_special_tokens)
        tail = new_text[len(prefix_text) :] if new_text.startswith(prefix_text) else None
        incomplete = tail is None or tail.endswith(REPLACEMENT_CHAR)
        stable = (tail or "").rstrip(REPLACEMENT_CHAR) if incomplete else tail
        start = len(text)
        if len(stable) > emitted:
            text += stable[emitted:]
            emitted = len(stable)
        if incomplete:
            # The token ends inside a multi-byte character: its span also covers the character it starts.
            offsets.append((start, len(text) + 1))
            continue
        offsets.append((start, len(text)))
        read, emitted = i + 1, 0
        ctx_start = max(0, read - window)
    if read < len(ids):  # the sequence ends inside a character: keep what the full decode shows
        full = tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)
        text = full if full.startswith(text) else text
    return text, offsets


def char_to_token(offsets: Sequence[tuple[int, int]], char_index: int) -> int:
    """Index of the first token whose span covers `char_index`, or -1 if none does."""
    for i, (start, end) in enumerate(offsets):
        if start <= char_index < end:
            return i
    return -1


@dataclass(frozen=True)
class RetokenizedCP:
    """The reference code's view of a confused rollout: the re-tokenised context and the CP token in it."""

    context_ids: list[int]  # re-tokenised prompt+response text (template special tokens stripped)
    cp_token: int  # index in `context_ids` of the token that holds the confusion character (-1 if unmapped)
    cp_char: int  # character offset in the decoded full text
    full_text: str


def retokenized_confusion_point(
    tokenizer, prompt_ids: Sequence[int], response_ids: Sequence[int], cp_rel: int
) -> RetokenizedCP:
    """Reproduce spec §1.5: decode prompt+response and the response with special tokens skipped, find the
    response with `rfind`, add the detector's relative CP `cp_rel` (an offset into the decoded response), and
    map the character to a token of the re-tokenised full text (BOS added as `add_special_tokens=True` does).

    Left padding and the pad=BOS masking quirk of the reference are not reproduced (they do not change the
    mapping); a response that is not found (`rfind` = -1) gives the reference's behaviour of `start = -1`.
    """
    full_text = tokenizer.decode(list(prompt_ids) + list(response_ids), skip_special_tokens=True)
    gen_text = tokenizer.decode(list(response_ids), skip_special_tokens=True)
    start = full_text.rfind(gen_text)
    cp_char = start + cp_rel
    enc = tokenizer(full_text, add_special_tokens=True, return_offsets_mapping=False)
    token = enc.char_to_token(cp_char) if cp_char >= 0 else None
    return RetokenizedCP(list(enc["input_ids"]), -1 if token is None else int(token), cp_char, full_text)


# --------------------------------------------------------------------------------------------------------------
# Branch scores and the advantage
# --------------------------------------------------------------------------------------------------------------


def score_branches(snippets: Sequence[str], is_confused: Callable[[str], bool]) -> list[float]:
    """Score each branch snippet +1 (no confusion) or -1 (confusion), as spec §1.6 step 5.

    `is_confused(text)` is any detector predicate, normally
    `lambda t: get_detector("tlpo", lang, ignore_english=ie).detect(t).first_confusion_char >= 0`.
    """
    return [-1.0 if is_confused(s) else 1.0 for s in snippets]


def branch_advantage(probs, scores):
    """Probability-weighted, L1-normalised, zero-sum advantage of spec §1.7, over the last dimension.

    mu = Σ p_i s_i / Σ p_i;  w_i = p_i (s_i − mu);  A_i = w_i / Σ|w_j|  (A ≡ 0 when Σ|w_j| = 0).
    Properties: Σ A = 0, Σ|A| = 1 unless all scores are equal, invariant to rescaling `probs`.
    Accepts tensors (any leading batch shape) or sequences; returns a tensor in the dtype of `probs`.
    """
    import torch

    p = torch.as_tensor(probs)
    if not p.is_floating_point():
        p = p.double()
    s = torch.as_tensor(scores, dtype=p.dtype, device=p.device)
    mu = (p * s).sum(-1, keepdim=True) / p.sum(-1, keepdim=True)
    w = p * (s - mu)
    z = w.abs().sum(-1, keepdim=True)
    return torch.where(z > 0, w / torch.where(z > 0, z, torch.ones_like(z)), torch.zeros_like(w))


# --------------------------------------------------------------------------------------------------------------
# Loss at the confusion position
# --------------------------------------------------------------------------------------------------------------


def k3_kl(logp, ref_logp):
    """The k3 estimator of KL(π‖π_ref) at the sampled token: exp(ref − lp) − (ref − lp) − 1 (≥ 0, = 0 at lp = ref)."""
    import torch

    d = ref_logp - logp
    return torch.exp(d) - d - 1


@dataclass
class LossParts:
    """The loss and the statistics the trainer logs (tensors, detached except `loss`)."""

    loss: object
    kl_mean: object  # mean k3 over the rows
    clip_low: object  # fraction of rows with ratio < 1 − ε and A < 0 (the lower clip is active)
    clip_high: object  # fraction of rows with ratio > 1 + ε_high and A > 0
    num_rows: int


def clipped_token_loss(
    logp,
    ref_logp,
    advantages,
    *,
    beta: float,
    epsilon_low: float = 0.2,
    epsilon_high: float | None = None,
    old_logp=None,
    num_rows: int | None = None,
    row_weight=None,
) -> LossParts:
    """The clipped surrogate with the k3 penalty at the single update position (spec §1.9).

    Inputs have the same shape, e.g. `[num_cps, num_branches]`: `logp` the policy log-probability of each
    candidate token at its CP (with grad), `ref_logp` the reference's, `advantages` from `branch_advantage`.
    `old_logp=None` reproduces the reference code: the "old" log-prob is the current one detached, so the
    ratio is exactly 1 and clipping never fires (REINFORCE on the candidates plus KL).

    obj_i = min(r_i A_i, clip(r_i, 1−ε, 1+ε_high) A_i) − β k3_i;   loss = −Σ_i w_i obj_i / num_rows
    with `num_rows` the number of rows of the optimiser step (default: all rows here, i.e. the mean) and
    `row_weight` an optional 0/1 mask of rows that exist (padding rows get 0).
    """
    import torch

    eps_high = epsilon_low if epsilon_high is None else epsilon_high
    old = logp.detach() if old_logp is None else old_logp
    ratio = torch.exp(logp - old)
    clipped = torch.clamp(ratio, 1 - epsilon_low, 1 + eps_high)
    surrogate = torch.minimum(ratio * advantages, clipped * advantages)
    kl = k3_kl(logp, ref_logp)
    obj = surrogate - beta * kl
    weight = torch.ones_like(obj) if row_weight is None else row_weight.to(obj.dtype)
    rows = int(weight.sum().item()) if num_rows is None else int(num_rows)
    denom = max(rows, 1)
    loss = -(obj * weight).sum() / denom
    with torch.no_grad():
        n = weight.sum().clamp_min(1)
        low = ((ratio < 1 - epsilon_low) & (advantages < 0)).to(obj.dtype)
        high = ((ratio > 1 + eps_high) & (advantages > 0)).to(obj.dtype)
        parts = LossParts(
            loss=loss,
            kl_mean=(kl.detach() * weight).sum() / n,
            clip_low=(low * weight).sum() / n,
            clip_high=(high * weight).sum() / n,
            num_rows=rows,
        )
    return parts


def logit_gradient_closed_form(logits, cand_ids, advantages, ref_logp, *, beta: float, num_rows: int):
    """∂loss/∂z at one CP's logits z, with the ratio ≡ 1 (spec §1.9):

    −(1/N) Σ_i [ A_i e_{t_i} − β (1 − π_ref(t_i)/π(t_i)) (e_{t_i} − π) ]

    `logits` [V], `cand_ids` / `advantages` / `ref_logp` [k]. Used to check the fused implementation.
    """
    import torch

    logp_all = torch.log_softmax(logits, -1)
    pi = logp_all.exp()
    grad = torch.zeros_like(logits)
    for t, a, r in zip(cand_ids.tolist(), advantages, ref_logp):
        e = torch.zeros_like(logits)
        e[t] = 1
        coef = 1 - torch.exp(r - logp_all[t])
        grad += a * e - beta * coef * (e - pi)
    return -grad / num_rows
