"""Self-checks for chapter 12: memory, precision, transfer and meta-learning."""

from __future__ import annotations

import math

import torch

from ._registry import Wrong, as_float64, as_number, close, matches, register, unseal

# The predict-then-run answer as a fingerprint, and its explanation sealed with it
# (_registry.py); the wrong answers the hints name are kept as plain numbers.
_MAML_FACTOR = "d05db2e265ab4b9ec39143ef5a8f07f3"
_MAML_FACTOR_WHY = (
    "82d382210441046b2de7fc13e4fe384e5a68f1985ab939e14b0b40f8b181f99e780a1ea173ca057277aaa41e6bad"
    "8811a5956d11d4e7c3e113f2a4521162aef14fcbd7a1b45373631e49205707b0f232e7278c0df5f04c0ff93a637d"
    "afb18169f1f14e8ac67f18c90e896acf8b38e2262463caf0cc6b8ccca099e41b58dde694b527ac7594f49a61b7c5"
    "8159fa0cd30750206b"
)


@register("12-maml-factor")
def _maml_factor(answer) -> str:
    """The factor on the stiff component after 10 inner steps at α = 0.3, λ = 8 (within 0.1 %)."""
    value = as_number(answer)
    key = matches("12-maml-factor", value, _MAML_FACTOR, rel=1e-3)
    if key:
        return f"{value:.4g}: {unseal('12-maml-factor', key, _MAML_FACTOR_WHY)}"
    if matches("12-maml-factor", -value, _MAML_FACTOR, rel=1e-3):
        raise Wrong("an even number of negative factors: the sign of the product is positive.")
    if close(value, 0.7**10, rel=1e-3):
        raise Wrong("that is the soft direction (curvature 1); the question asks about the "
                    "stiff one.")
    if close(value, 2.4**10, rel=1e-3):
        raise Wrong("each inner step multiplies by I − αH, not by αH: subtract αλ from 1.")
    if close(value, 1.4, rel=1e-3):
        raise Wrong("that is one inner step's factor; there are ten of them.")
    if close(value, 1.4**9, rel=1e-3) or close(value, 1.4**11, rel=1e-3):
        raise Wrong("count the factors again: one per inner step, ten steps.")
    if value < 1:
        raise Wrong("αλ = 2.4 is above 2, so the factor per step is larger than 1 in size: "
                    "the stiff component grows.")
    raise Wrong("work out 1 − αλ for the stiff direction, then raise its size to the number "
                "of inner steps.")


def _reference(hessian, theta0, a, b, lr, steps, power_of=None):
    n = theta0.shape[0]
    m = torch.eye(n, dtype=torch.float64) - lr * hessian
    theta_k = a + torch.linalg.matrix_power(m, steps) @ (theta0 - a)
    power = steps if power_of is None else power_of
    return torch.linalg.matrix_power(m, power) @ (theta_k - b), theta_k


@register("12-meta-gradient")
def _meta_gradient(answer) -> str:
    """A function (hessian, theta0, a, b, lr, steps) → the MAML meta-gradient on a quadratic."""
    f64 = torch.float64
    hessian = torch.tensor([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]], dtype=f64)
    theta0 = torch.tensor([1.0, -2.0, 0.5], dtype=f64)
    a = torch.tensor([0.5, 0.0, -1.0], dtype=f64)
    b = torch.tensor([-1.0, 1.0, 2.0], dtype=f64)
    lr, steps = 0.2, 4
    out = answer(hessian.clone(), theta0.clone(), a.clone(), b.clone(), lr, steps)
    if not isinstance(out, torch.Tensor):
        raise Wrong(f"return a tensor shaped like theta0, not {type(out).__name__}.")
    if out.shape != theta0.shape:
        raise Wrong(f"the result has shape {tuple(out.shape)}; it should be shaped like "
                    f"theta0, {tuple(theta0.shape)}.")
    out, rtol = as_float64(out.detach())
    target, theta_k = _reference(hessian, theta0, a, b, lr, steps)
    if torch.allclose(out, target, rtol=max(rtol, 1e-9), atol=1e-12):
        zero = answer(hessian.clone(), theta0.clone(), a.clone(), b.clone(), lr, 0)
        zero, _ = as_float64(zero.detach())
        if not torch.allclose(zero, theta0 - b, rtol=max(rtol, 1e-9), atol=1e-12):
            raise Wrong("with steps = 0 the meta-gradient is θ₀ − b itself; handle an empty "
                        "inner loop.")
        return ("the meta-gradient is (I − αH)^K (θ_K − b): one factor per inner step, as in "
                "backpropagation through time.")
    if torch.allclose(out, theta_k - b, rtol=1e-6):
        raise Wrong("that is first-order MAML, θ_K − b: the inner gradients were treated as "
                    "constants. Keep their graph (create_graph=True) so that every step "
                    "contributes its factor I − αH.")
    for power in (steps - 1, steps + 1):
        if torch.allclose(out, _reference(hessian, theta0, a, b, lr, steps, power)[0], rtol=1e-6):
            raise Wrong("one factor I − αH too many or too few: count the inner steps.")
    if torch.allclose(out, -target, rtol=1e-6):
        raise Wrong("the sign is flipped: the outer loss is ½‖θ_K − b‖², its gradient θ_K − b.")
    plus, _ = _reference(-hessian, theta0, a, b, lr, steps)
    if torch.allclose(out, plus, rtol=1e-6):
        raise Wrong("gradient descent subtracts: θ ← θ − α∇L, so each factor is I − αH.")
    if not math.isfinite(float(out.abs().max())):
        raise Wrong("the result is not finite; check the inner update.")
    raise Wrong("not the meta-gradient; compare with steps = 1, where it is "
                "(I − αH)(θ_1 − b).")
