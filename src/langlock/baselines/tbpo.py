"""TokenRatio / TBPO loss maths (methods-spec §1), as pure tensor functions.

TBPO lifts the Bradley–Terry preference of a pair (x, y_w ≻ y_l) to every response position t and matches the
model's density ratio to the data's with a Bregman divergence. Per position the loss depends only on

    z_t = log R_θ^t = β (r_t^l − r_t^w + log w_t),      r_t = log πθ(a_t|s_t) − log πref(a_t|s_t),

through a generator-specific function ℓ(z) (`GENERATORS`), averaged over the first T = min(|y_w|, |y_l|)
response positions (positions paired by *response index*, so a pair is aligned even if the two prompts
tokenise differently), then over pairs. The token weights w_t correct for comparing two different states:

- TBPO-Q: log w_t = b_φ(s_t^l) − b_φ(s_t^w), a small head on the detached final hidden state
  (`BaselineHead`), centred per pair and clamped (`baseline_log_weights`);
- TBPO-A: log w_t = K(s_t^l) − K(s_t^w), K(s) = KL(πref(·|s) ‖ πθ(·|s)) (`kl_per_position`);
- "unit": log w_t = 0 (ablation; with the logistic generator and `level="sequence"` this is exactly DPO).

Closed forms of ℓ (additive constants dropped) — each is ℓ_h(R) = h'(R)·R − h(R) − h'(1/R) for the generator
h named in the docstring of `loss_value`; tests check both the value and the derivative against autograd.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

GENERATORS = ("logistic", "kliep", "lsif", "ba", "sba")


@dataclass(frozen=True)
class Generator:
    """A Bregman generator: `name` in `GENERATORS`, `lam` (λ, BA/SBA) and `scale` (s, SBA)."""

    name: str = "sba"
    lam: float = 0.0
    scale: float = 4.0

    def __post_init__(self):
        if self.name not in GENERATORS:
            raise ValueError(f"unknown TBPO generator {self.name!r}; choose one of {', '.join(GENERATORS)}")
        if self.name in ("ba", "sba") and self.lam <= -1:
            raise ValueError(f"the {self.name} generator needs lambda > -1, got {self.lam}")
        if self.name == "ba" and self.lam == 0:
            raise ValueError("the ba generator needs lambda != 0 (its lambda -> 0 limit is kliep)")
        if self.name == "sba" and self.scale <= 0:
            raise ValueError(f"the sba generator needs scale s > 0, got {self.scale}")


def loss_value(z: torch.Tensor, gen: Generator) -> torch.Tensor:
    """ℓ(z) with z = log R, elementwise.

    - logistic, h(R) = ½[R log R − (1+R) log(1+R)]:   ℓ = softplus(z)           (DPO's −log σ(−z))
    - kliep,    h(R) = R log R − R:                    ℓ = e^z + z
    - lsif,     h(R) = (R − 1)²:                       ℓ = e^{2z} − 2e^{−z}      (not the released code's e^{2z} − 2e^z)
    - ba(λ),    h(R) = (R^{1+λ} − R)/λ:                ℓ = e^{(1+λ)z} − ((1+λ)/λ) e^{−λz}
    - sba(λ,s), h(R) = (R^{1+λ} − R)/(sλ(1+λ)):        ℓ = e^{(1+λ)z}/(s(1+λ)) − e^{−λz}/(sλ);  λ=0: (e^z + z)/s
    """
    name, lam = gen.name, gen.lam
    if name == "logistic":
        return F.softplus(z)
    if name == "kliep":
        return torch.exp(z) + z
    if name == "lsif":
        return torch.exp(2 * z) - 2 * torch.exp(-z)
    if name == "ba":
        return torch.exp((1 + lam) * z) - ((1 + lam) / lam) * torch.exp(-lam * z)
    # sba
    s = gen.scale
    if lam == 0:
        return (torch.exp(z) + z) / s
    return torch.exp((1 + lam) * z) / (s * (1 + lam)) - torch.exp(-lam * z) / (s * lam)


def loss_derivative(z: torch.Tensor, gen: Generator) -> torch.Tensor:
    """dℓ/dz in closed form (used by tests and for logging the mean per-token gradient scale)."""
    name, lam = gen.name, gen.lam
    if name == "logistic":
        return torch.sigmoid(z)
    if name == "kliep":
        return torch.exp(z) + 1
    if name == "lsif":
        return 2 * torch.exp(2 * z) + 2 * torch.exp(-z)
    if name == "ba":
        return (1 + lam) * (torch.exp((1 + lam) * z) + torch.exp(-lam * z))
    return (torch.exp((1 + lam) * z) + torch.exp(-lam * z)) / gen.scale


def generator_h(r: torch.Tensor, gen: Generator) -> torch.Tensor:
    """The convex generator h(R) itself (R > 0); only for checking `loss_value` against ℓ_h = h'(R)R − h(R) − h'(1/R)."""
    name, lam = gen.name, gen.lam
    if name == "logistic":
        return 0.5 * (r * torch.log(r) - (1 + r) * torch.log1p(r))
    if name == "kliep" or (name == "sba" and lam == 0):
        h = r * torch.log(r) - r
        return h / gen.scale if name == "sba" else h
    if name == "lsif":
        return (r - 1) ** 2
    if name == "ba":
        return (r ** (1 + lam) - r) / lam
    return (r ** (1 + lam) - r) / (gen.scale * lam * (1 + lam))


def smoothed_loss(z: torch.Tensor, gen: Generator, label_smoothing: float = 0.0) -> torch.Tensor:
    """(1 − ε) ℓ(z) + ε ℓ(−z): conservative label smoothing (ε = 0 gives ℓ)."""
    if label_smoothing == 0.0:
        return loss_value(z, gen)
    return (1 - label_smoothing) * loss_value(z, gen) + label_smoothing * loss_value(-z, gen)


# ---------------------------------------------------------------------------------------------------- layout


def pack_order(mask: torch.Tensor) -> torch.Tensor:
    """Column order that moves each row's masked positions to the front, keeping their order.

    `values.gather(1, order)` then holds response token k of row i at column k ("pack by response index").
    """
    return torch.argsort((~mask.bool()).to(torch.int8), dim=1, stable=True)


def pack(values: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Gather `values` (N, L) or (N, L, ...) along dim 1 with `order` (N, L); differentiable."""
    if values.dim() == 2:
        return values.gather(1, order)
    idx = order.reshape(*order.shape, *([1] * (values.dim() - 2))).expand(*order.shape, *values.shape[2:])
    return values.gather(1, idx)


def paired_mask(
    len_w: torch.Tensor,
    len_l: torch.Tensor,
    width: int,
    tokens_w: torch.Tensor | None = None,
    tokens_l: torch.Tensor | None = None,
) -> torch.Tensor:
    """m[i, t] = t < min(len_w[i], len_l[i]); with packed token ids given, also drop the shared prefix.

    At a shared-prefix position the two states and actions coincide, so r^w = r^l and the position carries no
    policy gradient but would still count in 1/T; `mask_shared_prefix` removes it from the average.
    """
    t = torch.arange(width, device=len_w.device).unsqueeze(0)
    m = t < torch.minimum(len_w, len_l).unsqueeze(1)
    if tokens_w is not None and tokens_l is not None:
        same = (tokens_w[:, :width] == tokens_l[:, :width]) & m
        shared = torch.cumprod(same.to(torch.int64), dim=1).bool()
        m = m & ~shared
    return m


# ---------------------------------------------------------------------------------------------------- weights


def masked_mean_per_row(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    m = m.to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp(min=1)


def baseline_log_weights(
    b_w: torch.Tensor, b_l: torch.Tensor, m: torch.Tensor, *, center: bool = True, clip: float = 10.0
) -> torch.Tensor:
    """TBPO-Q: log ŵ_t = b(s_t^l) − b(s_t^w), centred over each pair's paired positions, then clamped to ±clip."""
    lw = b_l - b_w
    if center:
        lw = lw - masked_mean_per_row(lw, m).unsqueeze(1)
    if clip:
        lw = lw.clamp(-clip, clip)
    return lw * m.to(lw.dtype)


def kl_per_position(logits: torch.Tensor, ref_logits: torch.Tensor) -> torch.Tensor:
    """Exact K(s) = KL(πref(·|s) ‖ πθ(·|s)) over the vocabulary at every position: (N, L, V) → (N, L)."""
    logp = logits.float().log_softmax(-1)
    ref_logp = ref_logits.float().log_softmax(-1)
    return (ref_logp.exp() * (ref_logp - logp)).sum(-1)


def k3_data_token(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Schulman's K3 at the data token: (ρ − 1) − log ρ with ρ = πθ(a|s)/πref(a|s) (≥ 0, 0 iff ρ = 1)."""
    log_rho = logp - ref_logp
    return torch.expm1(log_rho) - log_rho


# ---------------------------------------------------------------------------------------------------- the loss


@dataclass
class TBPOOutput:
    loss: torch.Tensor
    z: torch.Tensor  # (B, T) clipped log-ratios, zero outside the mask
    mask: torch.Tensor  # (B, T) paired positions
    clipped_fraction: float


def tbpo_loss(
    r_w: torch.Tensor,
    r_l: torch.Tensor,
    m: torch.Tensor,
    log_w: torch.Tensor | None,
    *,
    beta: float,
    gen: Generator,
    clip: float = 30.0,
    label_smoothing: float = 0.0,
    level: str = "token",
    full_w: torch.Tensor | None = None,
    full_l: torch.Tensor | None = None,
) -> TBPOOutput:
    """The TBPO loss from packed per-token log-ratios.

    `r_w`, `r_l`: (B, T) packed r_t (response index t); `m`: (B, T) paired mask; `log_w`: (B, T) or None (unit
    weights). `level="token"` (TBPO): z_t = β(r_l − r_w + log w), loss_i = Σ_t m ℓ(z_t) / Σ_t m, pairs with no
    paired position contribute 0, loss = mean_i. `level="sequence"` (BPO): z_i = β(Σ full_l − Σ full_w + Σ_t m
    log w) over the *whole* responses (`full_w`/`full_l`: per-token log-ratios already masked to each
    response), loss = mean_i ℓ(z_i); with the logistic generator and unit weights this is DPO's sigmoid loss.
    z is clamped to ±`clip` (0 disables), which zeroes the gradient beyond it, as the reference code does.
    """
    mf = m.to(r_w.dtype)
    lw = torch.zeros_like(r_w) if log_w is None else log_w
    if level == "token":
        z = beta * (r_l - r_w + lw)
    elif level == "sequence":
        if full_w is None or full_l is None:
            raise ValueError("level='sequence' needs the full per-token log-ratios full_w and full_l")
        z = beta * (full_l.sum(1) - full_w.sum(1) + (lw * mf).sum(1))
    else:
        raise ValueError(f"unknown TBPO level {level!r}; choose token or sequence")
    zc = z.clamp(-clip, clip) if clip else z
    clipped = float(((z.abs() > clip) if clip else torch.zeros_like(z, dtype=torch.bool)).float().mean())
    per = smoothed_loss(zc, gen, label_smoothing)
    if level == "sequence":
        return TBPOOutput(loss=per.mean(), z=zc.detach(), mask=torch.ones_like(zc, dtype=torch.bool),
                          clipped_fraction=clipped)
    loss_i = (per * mf).sum(1) / mf.sum(1).clamp(min=1)
    return TBPOOutput(loss=loss_i.mean(), z=(zc * mf).detach(), mask=m, clipped_fraction=clipped)


def make_baseline_head(hidden_size: int, mlp_dim: int = 1024, dropout: float = 0.0) -> torch.nn.Module:
    """b_φ: Linear(H→m) → GELU → Dropout → Linear(m→1) (or Linear(H→1) when `mlp_dim` is 0), output (…,)."""

    class BaselineHead(torch.nn.Module):
        def __init__(self):
            super().__init__()
            if mlp_dim > 0:
                self.net = torch.nn.Sequential(
                    torch.nn.Linear(hidden_size, mlp_dim), torch.nn.GELU(), torch.nn.Dropout(dropout),
                    torch.nn.Linear(mlp_dim, 1),
                )
            else:
                self.net = torch.nn.Linear(hidden_size, 1)

        def forward(self, h: torch.Tensor) -> torch.Tensor:
            return self.net(h).squeeze(-1)

    return BaselineHead()


__all__ = [
    "GENERATORS",
    "Generator",
    "TBPOOutput",
    "baseline_log_weights",
    "generator_h",
    "k3_data_token",
    "kl_per_position",
    "loss_derivative",
    "loss_value",
    "make_baseline_head",
    "masked_mean_per_row",
    "pack",
    "pack_order",
    "paired_mask",
    "smoothed_loss",
    "tbpo_loss",
]
