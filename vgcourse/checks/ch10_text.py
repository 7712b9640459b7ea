"""Self-checks for chapter 10, the case study on long-range dependencies in real text."""

from __future__ import annotations

import math

import torch

from ._registry import Wrong, as_number, close, matches, register, unseal

# The reference answer as a fingerprint, and the explanation sealed with it (_registry.py).
_HORIZON = "289fa879c2e749fa15825a7017427ec5"
_HORIZON_WHY = (
    "d9413c82004b5fba5cc07ef2c140278294f380e7e68af3ec3e827e59f8bc997681a9e387a8d695ea55dc9951b3ed"
    "556b726af8752d59f75252d7335b56c471a97cb2ad6df542a58d60ab39ff2a16430e858dc3282ff28902b2d1312c"
    "9572a045bccfd329efcee9cb4fbd339cdf6e011ddbf085af9e1aa0a01b95a20ac1db93ef9a5fefe28193cbd49d0d"
    "de158d5f86cd39237ea8c34b8ac1f4f7cfba18081aefeaf26b69d6598d1e384fbcc779022b78ca3c23a16e188bc6"
    "c5f870b3a256cf468fb1be83c5a02e9d2992b89830f3a59d3d5fee11eddfe3e40662ee85b4db"
)


@register("10-bptt-horizon")
def _bptt_horizon(answer) -> str:
    """The longest opener-to-closer distance a window of seq_len = 64 inputs can train."""
    value = as_number(answer)
    key = matches("10-bptt-horizon", value, _HORIZON)
    if key:
        return f"{value:.0f}: {unseal('10-bptt-horizon', key, _HORIZON_WHY)}"
    if matches("10-bptt-horizon", value + 1, _HORIZON):
        raise Wrong("that is the number of recurrent steps the gradient crosses; the closer is "
                    "a target, one position after the last input.")
    if value == 65:
        raise Wrong("the window holds 65 characters, but the first one is never a target and "
                    "the last one never an input: count the distance between them.")
    if value > 65:
        raise Wrong("the state is carried between windows only at evaluation; in training "
                    "each window starts from zero and the gradient stops at its edge.")
    raise Wrong("not the horizon; where in a window can the opener and the closer sit?")


def _reference_distances(text: str) -> list[int]:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack, out = [], []
    for i, ch in enumerate(text):
        if ch in "([{":
            stack.append(i)
        elif ch in pairs:
            out.append(i - stack.pop())
    return out


_BRACKET_CASES = ["x = f(a[1])", "f(x)", "(a[b]c)", "{[()()]}", "g(h(i), [j, k])\nl = {m: (n)}",
                  "((((x))))", "x[0](y)", "([]{})[(){}]"]


@register("10-bracket-distances")
def _bracket_distances(answer) -> str:
    """A function text -> list of int: for each closer, the distance back to its opener."""
    for text in _BRACKET_CASES:
        got = answer(text)
        want = _reference_distances(text)
        if not isinstance(got, (list, tuple)):
            raise Wrong(f"return a list of integers; got {type(got).__name__}.")
        got = [int(v) for v in got]
        if got == want:
            continue
        if len(got) != len(want):
            raise Wrong(f"on {text!r} there are {len(want)} closers and you returned "
                        f"{len(got)} distances: one per closer, in the order they appear.")
        positions = [i for i, ch in enumerate(text) if ch in ")]}"]
        if got == positions:
            raise Wrong("those are the positions of the closers; return the distances back "
                        "to their openers.")
        if got == [positions[k] - want[k] for k in range(len(want))]:
            raise Wrong("those are the positions of the openers; subtract them from the "
                        "closers' positions.")
        if got == [d + 1 for d in want] or got == [d - 1 for d in want]:
            raise Wrong(f"off by one on {text!r}: the distance is (closer position) − "
                        "(opener position), so 'f(x)' gives [2].")
        raise Wrong(f"wrong on {text!r}: expected one distance per closer; a closer matches "
                    "the most recent opener still open (a stack), not the first one, nor the "
                    "nearest of its kind.")
    return "right on every test string: a stack of opener positions, popped at each closer."


@register("10-decay-rate")
def _decay_rate(answer) -> str:
    """A function norms -> float: the per-step factor ρ of a least-squares fit of
    log(norm) against the lag, over lags 1 to the end."""
    g = torch.Generator().manual_seed(10)
    lags = torch.arange(41, dtype=torch.float64)
    noise = 0.3 * torch.randn(41, generator=g, dtype=torch.float64)
    norms = (3.0 * 0.8**lags * torch.exp(noise)).tolist()
    norms[0] = 1.0  # lag 0 is the unit start and is not part of the fit
    x, y = lags[1:], torch.log(torch.tensor(norms[1:], dtype=torch.float64))
    slope = float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())
    target = math.exp(slope)
    value = as_number(answer(norms))
    if close(value, target):
        return (f"ρ = {value:.4f} on a test curve made as 0.8^lag with noise: the slope of "
                "log‖g‖ against the lag, exponentiated.")
    if close(value, slope):
        raise Wrong("that is the slope of log‖g‖ per step; ρ is its exponential.")
    if close(value, 1 / target):
        raise Wrong("that is 1/ρ: the gradient shrinks as the lag grows, so ρ < 1.")
    if close(value, norms[2] / norms[1]) or \
            close(value, (norms[-1] / norms[1]) ** (1 / 39)):
        raise Wrong("that uses two points of the curve only; fit a line to log‖g‖ over all "
                    "lags from 1 to the end.")
    x0, y0 = lags, torch.log(torch.tensor(norms, dtype=torch.float64))
    slope0 = float(((x0 - x0.mean()) * (y0 - y0.mean())).sum() / ((x0 - x0.mean()) ** 2).sum())
    if close(value, math.exp(slope0)):
        raise Wrong("leave out lag 0: it is the unit start vector, not a measured decay.")
    if close(value, 10**slope) or close(value, 10**slope0):
        raise Wrong("torch.log and math.log are natural logarithms: invert with exp, not 10^.")
    raise Wrong("not the fitted factor: a least-squares line through (lag, log norm) for "
                "lags ≥ 1, then ρ = exp(slope).")
