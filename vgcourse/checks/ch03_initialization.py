"""Self-checks for chapter 3, weight initialisation."""

from __future__ import annotations

import math

import torch

from .. import theory
from ._registry import Wrong, as_number, close, register


@register("03-default-tanh-factor")
def _default_tanh_factor(answer) -> str:
    """Per-layer factor on ‖δ‖² deep in a tanh MLP with PyTorch's default init: χ ≈ 1/3.

    The forward signal shrinks to the small bias floor q* = σ_b²/(1 − σ_w²) ≈ 2e-3 (width 256),
    where tanh' ≈ 1, so χ = σ_w² E[tanh'²] = 0.332, within 1 % of σ_w² = 1/3.
    """
    value = as_number(answer)
    sigma_w, sigma_b = theory.init_sigmas("default", 256)
    chi = theory.chi("tanh", sigma_w, sigma_b)
    if close(value, chi, rel=0.03):  # accepts 1/3, 0.33 and the exact 0.332
        return (f"{value:.3g}: n·Var(W) = 1/3, and the signal settles near zero where tanh' ≈ 1, "
                "so each layer multiplies the squared gradient by σ_w² ≈ 1/3.")
    if close(value, chi / 2, rel=0.05):
        raise Wrong("tanh is not ReLU: near zero it passes the gradient of every unit, not of "
                    "half of them.")
    if close(value, math.sqrt(chi), rel=0.05):
        raise Wrong("that is the factor on the norm; the question asks for the squared norm.")
    if close(value, chi**19, rel=0.3) or close(value, chi**20, rel=0.3):
        raise Wrong("that is the whole network's factor; the question asks for one layer's.")
    if value >= 1:
        raise Wrong("a default-initialised layer has n·Var(W) below one: the gradient shrinks.")
    raise Wrong("not the factor; find n·Var(W) of U(−1/√n, 1/√n), then where the forward signal "
                "settles and what tanh' is there.")


@register("03-relu-variances")
def _relu_variances(answer) -> str:
    """A function (q1, sigma_w2, sigma_b2, depth) -> [q_1, ..., q_L] for a ReLU network."""
    cases = [(1.0, 2.0, 0.0, 6), (0.7, 1.0, 0.0, 5), (1.3, 1 / 3, 0.01, 8), (0.5, 3.0, 0.2, 4)]
    for q1, w2, b2, depth in cases:
        out = answer(q1, w2, b2, depth)
        try:
            values = [float(v) for v in out]
        except TypeError:
            raise Wrong(f"return a list of {depth} numbers, not {type(out).__name__}.") from None
        # q_1 is given; the recursion from layer 1 on is theory's, started at q_input with
        # σ_w² q_input + σ_b² = q1.
        target = [q1]
        for _ in range(depth - 1):
            target.append(theory.variance_map("relu", target[-1], math.sqrt(w2), math.sqrt(b2)))
        if len(values) != depth:
            raise Wrong(f"for depth={depth} return {depth} variances q_1..q_{depth}, "
                        f"got {len(values)}.")
        if all(close(v, t, 1e-9) for v, t in zip(values, target)):
            continue
        no_half = [q1]
        for _ in range(depth - 1):
            no_half.append(w2 * no_half[-1] + b2)
        if all(close(v, t, 1e-9) for v, t in zip(values, no_half)):
            raise Wrong("E[relu(u)²] is half of E[u²]: only the positive half of u survives.")
        no_bias = [q1 * (w2 / 2) ** k for k in range(depth)]
        if b2 > 0 and all(close(v, t, 1e-9) for v, t in zip(values, no_bias)):
            raise Wrong("the bias adds its variance σ_b² at every layer.")
        if not close(values[0], q1, 1e-9):
            raise Wrong("the first entry is q_1 itself, the variance you are given.")
        raise Wrong(f"wrong at q1={q1}, sigma_w2={w2}, sigma_b2={b2}: compare q_2 with "
                    "σ_w²·E[relu(u)²] + σ_b² for u ~ N(0, q_1).")
    return "q_{l+1} = σ_w² q_l / 2 + σ_b²: ReLU keeps half the variance, He's σ_w² = 2 restores it."


@register("03-he-init")
def _he_init(answer) -> str:
    """A function filling a weight tensor of shape (fan_out, fan_in) in place, Var = 2/fan_in."""
    fan_out, fan_in = 300, 600
    weight = torch.full((fan_out, fan_in), float("nan"), dtype=torch.float64)
    state = torch.random.get_rng_state()
    torch.manual_seed(3)
    try:
        result = answer(weight)
    finally:
        torch.random.set_rng_state(state)
    if result is not None and isinstance(result, torch.Tensor) and result is not weight:
        weight = result
    if not torch.isfinite(weight).all():
        raise Wrong("the weight still holds uninitialised values; fill it in place, e.g. with "
                    "weight.normal_(...) under torch.no_grad().")
    var = float(weight.var())
    mean = float(weight.mean())
    # 180,000 draws: the sample variance has relative standard error sqrt(2/N) ≈ 0.33 %, and
    # the sample mean a standard error of sqrt(var/N) ≈ 1.4e-4 for var = 2/600.
    if abs(mean) > 5 * math.sqrt(2 / fan_in / weight.numel()) + 1e-12:
        raise Wrong(f"the weights have mean {mean:.3g}; they should be centred on zero.")
    if close(var, 2 / fan_in, rel=0.03):
        return "Var(W) = 2/fan_in, and fan_in is weight.shape[1] in PyTorch's (out, in) layout."
    if close(var, 2 / fan_out, rel=0.03):
        raise Wrong("that uses fan_out: nn.Linear stores W as (out_features, in_features), so "
                    "fan_in is weight.shape[1].")
    if close(var, 2 / (fan_in + fan_out), rel=0.03):
        raise Wrong("that is Xavier's variance; He's keeps only fan_in and doubles it for ReLU.")
    if close(var, 1 / fan_in, rel=0.03):
        raise Wrong("that is LeCun's variance; ReLU zeroes half the units, so double it.")
    if close(var, (2 / fan_in) ** 2, rel=0.03):
        raise Wrong("the standard deviation is the square root of the variance.")
    raise Wrong(f"Var(W) is {var:.3g}; compare it with He's rule, Var(W) = 2/fan_in.")


@register("03-conv-fans")
def _conv_fans(answer) -> str:
    """A function weight -> (fan_in, fan_out) for linear and convolution weights.

    The reference is :func:`vgcourse.init.fan_in_and_fan_out`, which equals PyTorch's
    ``torch.nn.init._calculate_fan_in_and_fan_out``: C_in·k_1⋯k_d and C_out·k_1⋯k_d.
    """
    from ..init import fan_in_and_fan_out

    if not callable(answer):
        raise Wrong(f"pass the function conv_fans itself, not a {type(answer).__name__}.")
    for shape in [(7, 5), (32, 16, 3, 3), (8, 4, 5), (6, 2, 3, 4, 5), (1, 1, 1, 1)]:
        weight = torch.empty(shape)
        out = answer(weight)
        try:
            fan_in, fan_out = (int(v) for v in out)
        except (TypeError, ValueError):
            raise Wrong(f"return a pair (fan_in, fan_out), not {out!r}.") from None
        expected = fan_in_and_fan_out(weight)
        if (fan_in, fan_out) == expected:
            continue
        receptive = math.prod(shape[2:])
        if (fan_out, fan_in) == expected:
            raise Wrong("fan_in and fan_out are swapped: PyTorch's weight is (C_out, C_in, k, k), "
                        "so the inputs are counted by the second dimension.")
        if receptive > 1 and (fan_in, fan_out) == (shape[1], shape[0]):
            raise Wrong("a convolution's output sums C_in channels at every position of its "
                        "kernel: multiply the channels by the kernel's size.")
        if receptive > 1 and fan_out == expected[1] // receptive * 1 and fan_in == expected[0]:
            raise Wrong("fan_out counts the kernel's positions too, like fan_in.")
        if len(shape) > 4 or len(shape) == 3:
            raise Wrong(f"wrong for a weight of shape {shape}: the kernel may have one, two or "
                        "three dimensions; multiply all of them.")
        raise Wrong(f"wrong for a weight of shape {shape}: fan_in counts every input one output "
                    "sums over.")
    return "Right: k²·C_in inputs per output for a k × k kernel, as PyTorch counts them."
