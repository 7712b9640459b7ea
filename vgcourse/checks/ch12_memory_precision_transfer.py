"""Self-checks for chapter 12: memory, precision, transfer and meta-learning."""

from __future__ import annotations

import math

import torch

from ._registry import Wrong, as_float64, as_number, close, register

# The exercise's setting: curvatures 1 and 8, inner learning rate 0.3, 10 inner steps.
_LR, _STIFF, _SOFT, _STEPS = 0.3, 8.0, 1.0, 10


@register("12-maml-factor")
def _maml_factor(answer) -> str:
    """|1 − αλ|^K for α = 0.3, λ = 8, K = 10: 1.4^10 ≈ 28.9."""
    value = as_number(answer)
    target = abs(1 - _LR * _STIFF) ** _STEPS
    if close(value, target, rel=1e-3):
        return (f"{value:.4g}: each step multiplies the stiff component by 1 − αλ = −1.4, so ten "
                "steps by 1.4¹⁰; the soft direction shrinks by 0.7¹⁰ at the same time.")
    if close(value, -target, rel=1e-3):
        raise Wrong("an even number of negative factors: the sign of (−1.4)^10 is positive.")
    if close(value, abs(1 - _LR * _SOFT) ** _STEPS, rel=1e-3):
        raise Wrong("that is the soft direction (curvature 1); the question asks about the "
                    "stiff one.")
    if close(value, (_LR * _STIFF) ** _STEPS, rel=1e-3):
        raise Wrong("each inner step multiplies by I − αH, not by αH: subtract αλ from 1.")
    if close(value, abs(1 - _LR * _STIFF), rel=1e-3):
        raise Wrong("that is one inner step's factor; there are ten of them.")
    if close(value, abs(1 - _LR * _STIFF) ** (_STEPS - 1), rel=1e-3) or close(
            value, abs(1 - _LR * _STIFF) ** (_STEPS + 1), rel=1e-3):
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
