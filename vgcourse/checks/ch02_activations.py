"""Self-checks for chapter 2, the role of activation functions."""

from __future__ import annotations

import torch

from ..activations import ACTIVATIONS
from ..check import Wrong, register

_EIGHT = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "silu")


def _normalise(name: str) -> str:
    return str(name).strip().lower().replace(" ", "_").replace("-", "_")


@register("02-largest-slope")
def _largest_slope(answer) -> str:
    """The name of the activation among the eight with the largest sup abs(φ')."""
    if not isinstance(answer, str):
        raise Wrong(f"answer with the activation's name as a string, not {type(answer).__name__}.")
    name = {"leaky": "leaky_relu", "swish": "silu", "logistic": "sigmoid"}.get(
        _normalise(answer), _normalise(answer))
    if name not in _EIGHT:
        raise Wrong(f"{answer!r} is not one of the eight: {', '.join(_EIGHT)}.")
    sups = {n: ACTIVATIONS[n].derivative_sup for n in _EIGHT}
    best = max(sups, key=sups.get)
    if name == best:
        return (f"{ACTIVATIONS[best].label}: its positive side has slope λ ≈ 1.0507 and its "
                f"negative side reaches λα just left of 0, sup abs(φ') = {sups[best]:.4f}.")
    if name in ("gelu", "silu"):
        raise Wrong("close: it does overshoot 1 a little, but another activation's derivative "
                    "jumps higher, right next to 0.")
    if name in ("relu", "leaky_relu", "elu"):
        raise Wrong("its slope is at most 1; look for an activation that multiplies its "
                    "output by a constant above 1.")
    raise Wrong("a saturating activation has sup abs(φ') at most 1 (the sigmoid only 1/4).")


def _reference_dead(pre: torch.Tensor) -> float:
    return float((pre <= 0).all(dim=0).double().mean())


@register("02-dead-fraction")
def _dead_fraction(answer) -> str:
    """A function: ReLU pre-activations (batch, units) -> share of units dead on every example."""
    g = torch.Generator().manual_seed(2)
    pre = torch.randn(40, 50, generator=g, dtype=torch.float64)
    pre[:, :10] = -pre[:, :10].abs()  # ten units negative on every example
    pre[:, 10:15] = -pre[:, 10:15].abs()
    pre[3, 10:15] = 0.0  # five more: zero on one example, negative on the rest (still dead)
    pre[:, 15:20] = -pre[:, 15:20].abs()
    pre[7, 15:20] = 0.5  # five that fire on exactly one example: alive
    target = _reference_dead(pre)
    out = answer(pre)
    try:
        value = float(out)
    except (TypeError, ValueError):
        raise Wrong(f"return one number (a fraction), not {type(out).__name__}.") from None
    if abs(value - target) < 1e-9:
        return (f"{value:.2f}: a ReLU unit is dead on a batch when its pre-activation is ≤ 0 on "
                "every example, so it passes no gradient at all.")
    if abs(value - target * pre.shape[1]) < 1e-9:
        raise Wrong("that is a count of units; return the fraction of units.")
    if abs(value - float((pre <= 0).double().mean())) < 1e-9:
        raise Wrong("that counts unit-examples; a unit is dead only if it is off on *every* "
                    "example of the batch (reduce over the batch dimension first).")
    if abs(value - float((pre <= 0).any(dim=0).double().mean())) < 1e-9:
        raise Wrong("a unit that is off on just one example is still alive; it must be off on "
                    "all of them.")
    if abs(value - float((pre < 0).all(dim=0).double().mean())) < 1e-9:
        raise Wrong("relu'(0) = 0 here (the registry's convention, and PyTorch's), so a "
                    "pre-activation of exactly 0 passes no gradient either: use <= 0.")
    if abs(value - float((pre <= 0).all(dim=1).double().mean())) < 1e-9:
        raise Wrong("wrong axis: rows are examples and columns are units; reduce over dim 0.")
    raise Wrong("not the dead fraction; try your function on a 2×2 tensor you can count by hand.")
