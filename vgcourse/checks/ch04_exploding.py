"""Self-checks for chapter 4, exploding gradients and clipping."""

from __future__ import annotations

import math

import torch

from ._registry import Wrong, as_number, matches, register, unseal

# The reference answers as fingerprints, and an explanation sealed with one (_registry.py).
_COSINE = "b1c07a0abd1ddc8306667db1f42b16f4"
_COSINE_WHY = (
    "819e66544e4e7d72a8f82a81f9d3ad6fba68e8b772eceefd1c3d9d194095672edb61918e8149837b6eca0d0d9940"
    "53f6c1498d1f080550a0bcf7aa259256e1e7281cae75d54ea977ae53b38177892ed32a70c68bf9b79afa151b51bd"
    "170e40524ec2c444bf72a6c0924ea7"
)
_EXPONENT = "6fcdb65736273aa26ba92a5059860f58"


@register("04-value-clip-cosine")
def _value_clip_cosine(answer) -> str:
    """Cosine between g = (30, 40) and its clip by value at τ = 1 (within 0.01 %)."""
    value = as_number(answer)
    key = matches("04-value-clip-cosine", value, _COSINE, rel=1e-4)
    if key:
        return f"{value:.4f}: {unseal('04-value-clip-cosine', key, _COSINE_WHY)}"
    if math.isclose(value, 1.0, rel_tol=1e-6):
        raise Wrong("a cosine of 1 means the direction is kept; that is true of norm clipping. "
                    "Clip each entry of (30, 40) to [-1, 1] and look again.")
    for cosine in (math.cos(math.radians(value)), math.cos(value)):
        if matches("04-value-clip-cosine", cosine, _COSINE, rel=1e-4):
            raise Wrong("that is the angle; the exercise asks for its cosine.")
    if math.isclose(value, math.sqrt(2), rel_tol=1e-4) or math.isclose(value, 50.0, rel_tol=1e-4):
        raise Wrong("that is a norm, not a cosine; divide the dot product by both norms.")
    if math.isclose(value, 70.0, rel_tol=1e-4):
        raise Wrong("that is the dot product; divide it by the two norms.")
    if not -1 <= value <= 1:
        raise Wrong("a cosine lies between -1 and 1.")
    raise Wrong("not the cosine; write down the clipped vector first, then cos = a·b/(‖a‖‖b‖).")


@register("04-clip-by-norm")
def _clip_by_norm(answer) -> str:
    """A function returning g · min(1, τ/‖g‖)."""
    g = torch.tensor([3.0, -4.0, 12.0], dtype=torch.float64)  # norm 13
    cases = [(g, 1.0), (g, 13.0), (g, 100.0), (g * 1e-3, 0.5), (-g, 2.6)]
    for vector, tau in cases:
        out = answer(vector.clone(), tau)
        if not isinstance(out, torch.Tensor):
            raise Wrong(f"return a tensor, not {type(out).__name__}.")
        if out.shape != vector.shape:
            raise Wrong(f"the result has shape {tuple(out.shape)}; it should keep g's shape "
                        f"{tuple(vector.shape)}.")
        norm = float(vector.norm())
        expected = vector * min(1.0, tau / norm)
        if torch.allclose(out.double(), expected, rtol=1e-5, atol=0):
            continue
        if torch.allclose(out.double(), vector.clamp(-tau, tau), rtol=1e-5):
            raise Wrong("that clamps each entry (clipping by value); rescale the whole vector.")
        if torch.allclose(out.double(), vector * tau / norm, rtol=1e-5):
            raise Wrong(f"a gradient of norm {norm:g} with τ = {tau:g} came back with norm τ: "
                        "short gradients must stay unchanged (think of the min).")
        if math.isclose(float(out.double().norm()), min(norm, tau), rel_tol=1e-5):
            raise Wrong("the norm is right but the direction is not; multiply g by one "
                        "positive number.")
        raise Wrong(f"for ‖g‖ = {norm:g} and τ = {tau:g} the result should have norm "
                    f"{min(norm, tau):g} and point along g.")
    return "the direction is kept and the norm is capped at τ, as in Pascanu et al. (2013)."


@register("04-loss-scale-exponent")
def _loss_scale_exponent(answer) -> str:
    """Smallest k with float16(1e-9 · 2^k) != 0."""
    value = as_number(answer)
    if value != int(value):
        raise Wrong("give the exponent k, a whole number, not the scale 2^k or a fraction.")
    k = int(value)

    def survives(e: int) -> bool:
        return bool(torch.tensor(1e-9 * 2.0**e, dtype=torch.float64).to(torch.float16) != 0)

    if matches("04-loss-scale-exponent", k, _EXPONENT):
        return (f"k = {k}: 1e-9 · 2^{k} = {1e-9 * 2.0**k:.2e} is just above half the smallest "
                "float16 subnormal (2^-25 ≈ 2.98e-8), so it rounds up to 2^-24 instead of 0.")
    if value > 0 and math.log2(value).is_integer() and \
            matches("04-loss-scale-exponent", int(math.log2(value)), _EXPONENT):
        raise Wrong("that is the scale S = 2^k; give the exponent k.")
    if k >= 64 or survives(k):
        raise Wrong(f"2^{k} works, but a smaller exponent does too; find the smallest.")
    if matches("04-loss-scale-exponent", k + 1, _EXPONENT):
        raise Wrong("close: at that scale the value is just below half the smallest subnormal "
                    "and rounds to 0. Half of the smallest subnormal is the threshold, not the "
                    "smallest normal number.")
    raise Wrong("too small: the scaled value must exceed half the smallest float16 subnormal, "
                "2^-25 ≈ 2.98e-8.")
