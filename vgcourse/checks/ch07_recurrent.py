"""Self-checks for chapter 7, recurrent networks through time, LSTM and GRU."""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from ..theory import latching_contraction, latching_fixed_point
from ._registry import Wrong, as_number, close, matches, register, unseal

_close = partial(close, rel=1e-3)  # the answers here are read off figures or rounded


# The reference answer as a fingerprint, and the explanation sealed with it (_registry.py).
_BIAS = "db34e195e3332a8dd1694a4c0dd14a50"
_BIAS_WHY = (
    "5271bfb0b53da799132f9c60cf6c3bf18d26fdc23970b224538d00af3adac1549b2f639193b41c93cdeddae080e6"
    "0c03e6f42de06538eba555a84d96d81948b761aafa07324f43e297d8514980b2221fc9db3b"
)


def _logit(p: float) -> float:
    return math.log(p / (1 - p)) if 0 < p < 1 else math.nan


@register("07-forget-bias")
def _forget_bias(answer) -> str:
    """The forget bias b with which an LSTM with W_hh = 0 and zero input keeps half of ∂c/∂c
    over 100 steps (within 0.01 %)."""
    value = as_number(answer)

    def near(x):
        return math.isfinite(x) and matches("07-forget-bias", x, _BIAS, rel=1e-4) is not None

    key = matches("07-forget-bias", value, _BIAS, rel=1e-4)
    if key:
        return f"b = {value:.3f}: {unseal('07-forget-bias', key, _BIAS_WHY)}"
    if near(_logit(value)):
        raise Wrong("that is the forget gate's value σ(b); the question asks for the bias b, "
                    "so invert the sigmoid.")
    if close(value, 0.0, rel=1e-4):
        raise Wrong("σ(0) = 1/2 halves the gradient in one step; the half must last 100 steps.")
    if value != 0 and near(_logit(1 - math.exp(-abs(value)))):  # ±ln(1 − σ(b))
        raise Wrong("the inverse of the sigmoid is ln(s / (1 − s)): both terms count.")
    approximate = 1 - math.log(2) / 100
    if close(value, math.log(approximate / (1 - approximate)), rel=1e-4):
        raise Wrong("close, but 1 − ln 2/100 only approximates 2^(−1/100); use the exact "
                    "hundredth root.")
    gate = 1 / (1 + math.exp(-value)) if abs(value) < 700 else math.nan
    for steps in (99, 101):  # solved for the wrong number of steps
        if near(_logit(gate ** (steps / 100))):
            raise Wrong("count the factors again: one forget gate per step, 100 in all.")
    if close(value, math.log(2) / 100, rel=1e-4) or close(value, 100 * math.log(2), rel=1e-4):
        raise Wrong("the product of 100 equal gates is σ(b)^100: solve σ(b)^100 = 1/2 for σ(b) "
                    "first, then invert the sigmoid.")
    raise Wrong("not yet; with W_hh = 0 and x = 0 every forget gate is σ(b): solve "
                "σ(b)^100 = 1/2.")


@register("07-lstm-cell")
def _lstm_cell(answer) -> str:
    """A function (x, h, c, weight_ih, weight_hh, bias_ih, bias_hh) -> (h, c), as nn.LSTMCell."""
    g = torch.Generator().manual_seed(7)
    cell = nn.LSTMCell(3, 5).double()
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
    x = torch.randn(4, 3, generator=g, dtype=torch.float64)
    h = torch.randn(4, 5, generator=g, dtype=torch.float64)
    c = torch.randn(4, 5, generator=g, dtype=torch.float64)
    w = dict(weight_ih=cell.weight_ih, weight_hh=cell.weight_hh, bias_ih=cell.bias_ih,
             bias_hh=cell.bias_hh)
    out = answer(x, h, c, **w)
    if not isinstance(out, tuple) or len(out) != 2:
        raise Wrong(f"return the pair (h, c); got {type(out).__name__}.")
    new_h, new_c = out
    if not all(isinstance(t, torch.Tensor) for t in out):
        raise Wrong("h and c should be tensors.")
    if new_h.shape != h.shape or new_c.shape != c.shape:
        raise Wrong(f"h and c should have shape {tuple(h.shape)}; got {tuple(new_h.shape)} and "
                    f"{tuple(new_c.shape)}.")
    with torch.no_grad():
        ref_h, ref_c = cell(x, (h, c))
        if torch.allclose(new_h, ref_h, atol=1e-10) and torch.allclose(new_c, ref_c, atol=1e-10):
            return "matches nn.LSTMCell: c_t = f ⊙ c_{t−1} + i ⊙ g, h_t = o ⊙ tanh(c_t)."
        if torch.allclose(new_h, ref_c, atol=1e-10) and torch.allclose(new_c, ref_h, atol=1e-10):
            raise Wrong("h and c are swapped in what you return: return (h, c).")
        u = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
        i, f, gg, o = u.chunk(4, dim=-1)
        s = torch.sigmoid
        if torch.allclose(new_c, s(i) * c + s(f) * torch.tanh(gg), atol=1e-10):
            raise Wrong("the gate blocks are in the order (i, f, g, o): you swapped i and f.")
        if torch.allclose(new_c, s(f) * c + s(i) * s(gg), atol=1e-10):
            raise Wrong("the candidate g uses tanh, not the sigmoid: it must be able to "
                        "subtract from c.")
        if torch.allclose(new_c, s(f) * c + torch.tanh(gg), atol=1e-10):
            raise Wrong("the candidate is written through the input gate: i ⊙ g.")
        if torch.allclose(new_c, c + s(i) * torch.tanh(gg), atol=1e-10):
            raise Wrong("that is the 1997 LSTM without a forget gate; multiply c by f.")
        if torch.allclose(new_c, ref_c, atol=1e-10):
            if torch.allclose(new_h, s(o) * new_c, atol=1e-10):
                raise Wrong("c is right; h squashes it first: h = o ⊙ tanh(c).")
            raise Wrong("c is right; h = o ⊙ tanh(c), with o the fourth block.")
    raise Wrong("c_t is not f ⊙ c_{t−1} + i ⊙ g; check the four blocks and their activations.")


@register("07-latching-contraction")
def _latching(answer) -> str:
    """λ = w(1 − h*²) for h ← tanh(w h) at w = 2."""
    value = as_number(answer)
    h = latching_fixed_point(2.0)
    target = latching_contraction(2.0)
    if _close(value, target, rel=1e-4):
        return (f"λ = 2(1 − h*²) = {value:.4f} with h* = {h:.4f}: each step keeps only "
                f"{100 * value:.0f} % of a perturbation, so after 20 steps λ^20 ≈ "
                f"{target**20:.1e}.")
    if _close(value, 1 - h * h, rel=1e-4):
        raise Wrong("that is tanh'(w h*) alone; the chain rule also multiplies by w.")
    if _close(value, 2 * (1 - h), rel=1e-4):
        raise Wrong("tanh'(u) = 1 − tanh(u)², and tanh(w h*) = h*: square h*.")
    if _close(value, 2.0, rel=1e-4):
        raise Wrong("w is the slope at h = 0, the unstable fixed point; evaluate at h*.")
    if _close(value, h, rel=1e-4):
        raise Wrong("that is the fixed point h*; the contraction is the derivative there.")
    raise Wrong("not λ; find h* = tanh(2h*) first (iterate from h = 1), then differentiate.")
