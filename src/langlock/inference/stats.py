"""Per-step uncertainty of a next-token distribution: entropy and nucleus size (pure tensor maths).

Shared by `LanguageLock` (entropy gate) and `langlock analyze` (the LCB paper's Table 7: nucleus size at
p=0.75 and entropy, at confusion points versus elsewhere). Both take raw logits of shape [batch, vocab] and
work at temperature 1, the model's own distribution.
"""

from __future__ import annotations


def entropy(logits):
    """Shannon entropy in nats of softmax(logits) per row; -inf logits contribute 0. Shape [batch]."""
    import torch

    logp = torch.log_softmax(logits.float(), dim=-1)
    p = logp.exp()
    return -(p * torch.nan_to_num(logp, neginf=0.0)).sum(dim=-1)


def nucleus_size(logits, top_p: float = 0.75):
    """Number of tokens in the nucleus: the smallest set of most probable tokens whose probability reaches
    `top_p` (the same set transformers' `TopPLogitsWarper` keeps). Shape [batch], integer."""
    import torch

    probs = torch.softmax(logits.float(), dim=-1)
    sorted_p, _ = probs.sort(dim=-1, descending=True)
    before = sorted_p.cumsum(dim=-1) - sorted_p  # mass of the strictly more probable tokens
    return (before < top_p).sum(dim=-1).clamp(min=1)
