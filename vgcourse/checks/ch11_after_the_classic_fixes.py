"""Self-checks for chapter 11, architectures after the classic fixes."""

from __future__ import annotations

import math

from ._registry import Wrong, as_number, close, register


@register("11-horizon-eigenvalue")
def _horizon_eigenvalue(answer) -> str:
    """The smallest λ with λ^200 ≥ 1/10: 10^(−1/200)."""
    value = as_number(answer, "an eigenvalue between 0 and 1")
    target = 0.1 ** (1 / 200)
    if close(value, target, rel=5e-5):
        return (f"λ = {value:.4f}: λ^200 = {value**200:.3f}, a tenth of the gradient kept; "
                "within about ln(10)/200 of the unit circle.")
    if not 0 < value < 1:
        raise Wrong("a diagonal unit that keeps its gradient without exploding has 0 < λ < 1.")
    if close(value, 1 - 1 / 200, rel=1e-6):
        raise Wrong("1 − 1/T keeps e^(−1) of the gradient over T steps, not a tenth.")
    if close(value, 0.1 ** 200, rel=1e-6) or close(value, 0.1 / 200, rel=1e-6):
        raise Wrong("solve λ^T = k for λ: take the T-th root of k, not a power or a quotient.")
    if close(value, 0.1 ** (1 / 199), rel=1e-6) or close(value, 0.1 ** (1 / 201), rel=1e-6):
        raise Wrong("off by one in the number of steps: the gradient crosses T = 200 factors.")
    if close(value, 1 - math.log(10) / 200, rel=1e-4):
        raise Wrong("that is the first-order approximation 1 − ln(10)/T; compute k^(1/T) "
                    "exactly.")
    if value < target:
        raise Wrong(f"λ^200 = {value**200:.2e} is less than a tenth: λ must be larger.")
    raise Wrong(f"λ^200 = {value**200:.3f} keeps more than a tenth: a smaller λ still does it.")


@register("11-rezero-growth")
def _rezero_growth(answer) -> str:
    """A function alphas -> the product of 1 + 2α² over the blocks."""
    cases = [[0.0, 0.0, 0.0], [1.0], [0.5, -0.5, 0.25], [0.1] * 16, [2.0, 0.0, -1.0, 0.3]]
    for alphas in cases:
        want = math.prod(1 + 2 * a * a for a in alphas)
        got = as_number(answer(list(alphas)), "a number (the growth factor)")
        if close(got, want, rel=1e-5):  # a float32 product is right too
            continue
        if close(got, 1 + sum(2 * a * a for a in alphas)) and len(alphas) > 1:
            raise Wrong(f"on {alphas}: the blocks' factors multiply; you added them.")
        if close(got, math.prod(1 + 2 * abs(a) for a in alphas)) or \
                close(got, math.prod(1 + 2 * a for a in alphas)):
            raise Wrong(f"on {alphas}: the branch adds variance, so α enters squared.")
        if close(got, math.prod(1 + a * a for a in alphas)):
            raise Wrong(f"on {alphas}: a He-initialised ReLU branch returns 2α² of the squared "
                        "norm, not α²: a factor is missing.")
        if close(got, math.sqrt(want)):
            raise Wrong(f"on {alphas}: that is the growth of the norm; return the growth of "
                        "the squared norm E‖x_L‖²/‖x_0‖².")
        raise Wrong(f"wrong on {alphas}: each block multiplies E‖x‖² by its own factor.")
    return "right on every test list: one factor 1 + 2α_l² per block, multiplied."
