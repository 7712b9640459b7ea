"""Self-checks for chapter 11, architectures after the classic fixes."""

from __future__ import annotations

import math

from ._registry import Wrong, as_number, close, matches, register, unseal

# The reference eigenvalue as fingerprints (exact, and near enough to be an approximation of
# it), and the explanation sealed with it (see _registry.py).
_EIGENVALUE = "28cac1b5a69575fe1ab639cf32ecaed9"  # rel 2e-5
_EIGENVALUE_TIGHT = "d7af4ecd0f1706e5d637338207b75e85"  # rel 2e-6
_EIGENVALUE_NEAR = "1e5b9716ffefe181e9b9127178cd17d1"  # rel 3e-3
_EIGENVALUE_WHY = (
    "b66ca305a06b27a1e933e77eeee14ffe61388ee06abb95df3df098ed9c8d5a0b48da8c724f2650f9449d91f287"
    "b38979003468d99e489a5664da0cc50fb85343be198079aadc1d66d0c52603913589f55b7e96bb39ddaabd12e7"
    "08dda98dc47a4b31e2268a65ec5bb379290e0d44001cdd00c9a08b56e63e3e8173edb515"
)


@register("11-horizon-eigenvalue")
def _horizon_eigenvalue(answer) -> str:
    """The smallest λ with λ^200 ≥ 1/10."""
    name = "11-horizon-eigenvalue"
    value = as_number(answer, "an eigenvalue between 0 and 1")
    key = matches(name, value, _EIGENVALUE, rel=2e-5)
    if key:
        return f"λ = {value:.4f}: {unseal(name, key, _EIGENVALUE_WHY)}"
    if not 0 < value < 1:
        raise Wrong("a diagonal unit that keeps its gradient without exploding has 0 < λ < 1.")
    if close(value, 1 - 1 / 200):
        raise Wrong("1 − 1/T keeps e^(−1) of the gradient over T steps, not a tenth.")
    if close(value, 0.1**200) or close(value, 0.1 / 200):
        raise Wrong("solve λ^T = k for λ: take the T-th root of k, not a power or a quotient.")
    if matches(name, value ** (199 / 200), _EIGENVALUE_TIGHT, rel=2e-6) or \
            matches(name, value ** (201 / 200), _EIGENVALUE_TIGHT, rel=2e-6):
        raise Wrong("off by one in the number of steps: the gradient crosses T = 200 factors.")
    if matches(name, value, _EIGENVALUE_NEAR, rel=3e-3):
        raise Wrong("close, but not exact: that looks like an approximation or a rounding; "
                    "compute k^(1/T) itself.")
    if value**200 < 0.1:
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
