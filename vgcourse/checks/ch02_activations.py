"""Self-checks for chapter 2, the role of activation functions."""

from __future__ import annotations

import math

import torch

from ._registry import Wrong, as_number, register

# SELU's constants (Klambauer et al. 2017), as in vgcourse.activations.
_LAMBDA, _ALPHA = 1.0507009873554805, 1.6732632423543772


def _phi(x: float) -> float:
    """The standard normal CDF."""
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


@register("02-selu-steep")
def _selu_steep(answer) -> str:
    """The share of N(0, 1) pre-activations where SELU's slope exceeds 1: Φ(ln λα)."""
    value = as_number(answer, "a number (a fraction between 0 and 1)")
    edge = math.log(_LAMBDA * _ALPHA)  # λα e^u > 1  ⇔  u > −ln(λα)
    target = _phi(edge)
    if abs(value - target) < 0.01:
        return (f"{target:.4f}: every positive u (slope λ ≈ 1.05) and the negative u above "
                f"−ln(λα) ≈ −{edge:.3f}, where λα e^u is still above 1.")
    if not 0 <= value <= 1:
        raise Wrong("a fraction of the pre-activations lies between 0 and 1.")
    if abs(value - 0.5) < 0.01:
        raise Wrong("the positive side counts (its slope λ is above 1), but so does part of the "
                    "negative side: λα e^u is above 1 just left of 0.")
    if abs(value - (1 - target)) < 0.01:
        raise Wrong("that is the share where the slope is *below* one; you want the other side "
                    "of the edge.")
    if abs(value - (target - 0.5)) < 0.01:
        raise Wrong("that is only the steep sliver left of 0; add the positive side, where "
                    "φ'(u) = λ > 1 too.")
    if abs(value - _phi(math.log(_ALPHA))) < 0.01:
        raise Wrong("close: on the negative side the slope is λα e^u, not α e^u (λ multiplies "
                    "both sides).")
    raise Wrong("find the u < 0 where λα e^u = 1, then the probability that a standard normal "
                "lies above it.")


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
    value = as_number(out, "one number (a fraction)")
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
