"""Layer swapping (Bandarkar et al., ICLR 2025): which expert each decoder layer comes from, and how much.

Algorithm 1, with the conjunction its middle-zone test needs (the seed's line 5 reads `or`, which would make
every layer "middle"; the intended test is `b + t_b <= i and i < N - u - t_u`):

    bottom        i < b                         θ_i = θ_i^lang
    transition_b  b <= i < b + t_b              θ_i = α_i θ_i^lang + (1 - α_i) θ_i^task
    middle        b + t_b <= i < N - u - t_u    θ_i = θ_i^task
    transition_u  N - u - t_u <= i < N - u      θ_i = α_i θ_i^lang + (1 - α_i) θ_i^task
    top           i >= N - u                    θ_i = θ_i^lang

Default α in a transition zone of width k is a linear ramp away from the swapped block:
α_j = 1 − (j + 1)/(k + 1) for the j-th layer counted from the swapped block (0.5 for a one-layer zone).
A fixed pair of weights (w_task, w_lang) can replace the ramp.
"""

from __future__ import annotations

from ..errors import UsageError

ZONES = ("bottom", "transition_bottom", "middle", "transition_top", "top")


def check_swap(n_layers: int, bottom: int, top: int, transition_bottom: int, transition_top: int) -> None:
    """Refuse negative widths and zones that do not fit: b + t_b + t_u + u must be at most N."""
    for name, v in (("bottom", bottom), ("top", top), ("transition-bottom", transition_bottom),
                    ("transition-top", transition_top)):
        if not isinstance(v, int) or v < 0:
            raise UsageError(f"--{name} must be a non-negative integer, got {v!r}")
    total = bottom + transition_bottom + transition_top + top
    if total > n_layers:
        raise UsageError(f"b + tb + tu + u = {bottom} + {transition_bottom} + {transition_top} + {top} = {total} "
                         f"exceeds the model's {n_layers} layers")


def zone_of(i: int, n_layers: int, bottom: int, top: int, transition_bottom: int, transition_top: int) -> str:
    """The zone of layer `i` (Algorithm 1 with `and` in the middle-zone test)."""
    if i < bottom:
        return "bottom"
    if i < bottom + transition_bottom:
        return "transition_bottom"
    if bottom + transition_bottom <= i and i < n_layers - top - transition_top:
        return "middle"
    if i < n_layers - top:
        return "transition_top"
    return "top"


def language_weights(n_layers: int, bottom: int, top: int, transition_bottom: int = 0, transition_top: int = 0,
                     transition: tuple[float, float] | None = None) -> list[float]:
    """α_i, the language expert's weight for every layer (the task expert gets 1 − α_i).

    `transition=(w_task, w_lang)` sets a constant (normalised) weight in both transition zones instead of
    the default ramp.
    """
    check_swap(n_layers, bottom, top, transition_bottom, transition_top)
    fixed = None
    if transition is not None:
        w_task, w_lang = transition
        if w_task < 0 or w_lang < 0 or w_task + w_lang <= 0:
            raise UsageError(f"--weights must be two non-negative numbers with a positive sum, got {transition}")
        fixed = w_lang / (w_task + w_lang)
    alphas = []
    for i in range(n_layers):
        zone = zone_of(i, n_layers, bottom, top, transition_bottom, transition_top)
        if zone in ("bottom", "top"):
            alphas.append(1.0)
        elif zone == "middle":
            alphas.append(0.0)
        elif fixed is not None:
            alphas.append(fixed)
        elif zone == "transition_bottom":
            j = i - bottom
            alphas.append(1.0 - (j + 1) / (transition_bottom + 1))
        else:  # transition_top, mirrored: j counts down from the top block
            j = (n_layers - top - 1) - i
            alphas.append(1.0 - (j + 1) / (transition_top + 1))
    return alphas
