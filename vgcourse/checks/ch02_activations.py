"""Self-checks for chapter 2, the role of activation functions."""

from __future__ import annotations

import math

import torch

from ._registry import Wrong, as_number, matches, register, unseal

# SELU's constants (Klambauer et al. 2017), as in vgcourse.activations.
_LAMBDA, _ALPHA = 1.0507009873554805, 1.6732632423543772


def _phi(x: float) -> float:
    """The standard normal CDF."""
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


# The reference answer as a fingerprint, and the explanation sealed with it (_registry.py).
_SELU_STEEP = "b2744b49e8bdfda87e2c4cb72e6b4489"
_SELU_STEEP_WHY = (
    "ca1a15920c1f6420e0683f25f32e23229c24a461603eac21278352805ac20f0e91a0828185ba94bce7d5d54be4df"
    "e7d61274113de7739a7a0bc4df87d558a19b1142cd977170acc6b5de850d7f8886a395a557e335b9508ee7dc937b"
    "901d6ed8c5369123c5620ad4af526f55aafcaca7a2547163aaa40dcd"
)


@register("02-selu-steep")
def _selu_steep(answer) -> str:
    """The share of N(0, 1) pre-activations where SELU's slope exceeds 1 (within 1 %)."""
    value = as_number(answer, "a number (a fraction between 0 and 1)")

    def near(x: float) -> bool:
        return matches("02-selu-steep", x, _SELU_STEEP, rel=0.01) is not None

    key = matches("02-selu-steep", value, _SELU_STEEP, rel=0.01)
    if key:
        return f"{value:.4f}: {unseal('02-selu-steep', key, _SELU_STEEP_WHY)}"
    if not 0 <= value <= 1:
        raise Wrong("a fraction of the pre-activations lies between 0 and 1.")
    if abs(value - 0.5) < 0.01:
        raise Wrong("the positive side counts (its slope λ is above 1), but so does part of the "
                    "negative side: λα e^u is above 1 just left of 0.")
    if near(1 - value):
        raise Wrong("that is the share where the slope is *below* one; you want the other side "
                    "of the edge.")
    if near(value + 0.5):
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
