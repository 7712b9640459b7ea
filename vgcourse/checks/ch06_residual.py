"""Self-checks for chapter 6, residual connections."""

from __future__ import annotations

import math
from functools import partial

import torch

from ._registry import Wrong, as_number, close, matches, register, unseal

_close = partial(close, rel=1e-3)  # the answers here are read off figures or rounded


# The reference answer as a fingerprint, and the explanation sealed with it (_registry.py).
_GROWTH = "c4900560f1bdb2de7a57d0019911084c"
_GROWTH_WHY = (
    "0a7f055138af74d034aa376a08de2b1b1524ee53467d452562aa897801d756b25b3ce239a954e8ad31ddfa99a7ce"
    "d913c5f9454bf25b1465ce537209ea9cc934272a69ab9c86ace61a367d3b55d83d389930bf877cc93d0dc1f280ae"
    "cd8db06ceabdf5d6b9d3c4eb22"
)


@register("06-residual-growth")
def _residual_growth(answer) -> str:
    """E‖x_10‖²/‖x_0‖² for 10 ReLU blocks with α = 0.5 and LeCun weights (variance 1/n),
    within 0.1 %."""
    value = as_number(answer)
    key = matches("06-residual-growth", value, _GROWTH, rel=1e-3)
    if key:
        return unseal("06-residual-growth", key, _GROWTH_WHY)
    if _close(value, 1.5**10):
        raise Wrong("that is the He-weight law 1 + 2α² per block; with LeCun weights (variance "
                    "1/n) the linear layers keep the squared norm instead of doubling it.")
    if _close(value, 1.25**10):
        raise Wrong("the ReLU zeroes half of the branch's pre-activations: it halves the "
                    "expected squared norm.")
    if _close(value, 1.0625**10):
        raise Wrong("only the ReLU halves the squared norm; W₂ with variance 1/n keeps it.")
    if _close(value, 2.25):  # ten equal terms added instead of multiplied
        raise Wrong("the blocks compound: each multiplies the squared norm, they do not add.")
    if matches("06-residual-growth", value * value, _GROWTH, rel=1e-3):
        raise Wrong("that is the factor on the norm; the question asks about the squared norm.")
    raise Wrong("not the growth; find the factor one block applies to ‖x‖², then use 10 blocks.")


@register("06-residual-block")
def _residual_block(answer) -> str:
    """A function computing x + α W₂ relu(W₁ x) for a batch of row vectors."""
    g = torch.Generator().manual_seed(6)
    x = torch.randn(5, 4, generator=g, dtype=torch.float64)
    w1 = torch.randn(4, 4, generator=g, dtype=torch.float64)
    w2 = torch.randn(4, 4, generator=g, dtype=torch.float64)
    alpha = 0.3
    out = answer(x, w1, w2, alpha)
    if not isinstance(out, torch.Tensor):
        raise Wrong(f"return a tensor, not {type(out).__name__}.")
    if out.shape != x.shape:
        raise Wrong(f"the result has shape {tuple(out.shape)}; it should match x, "
                    f"{tuple(x.shape)}.")
    branch = torch.relu(x @ w1.T) @ w2.T
    if torch.allclose(out, x + alpha * branch, rtol=1e-6):
        return "x + α·W₂ relu(W₁x): the skip carries x up unchanged."
    if torch.allclose(out, alpha * branch, rtol=1e-6):
        raise Wrong("that is the branch alone; a residual block adds the input x.")
    if torch.allclose(out, x + branch, rtol=1e-6):
        raise Wrong("the branch is scaled by alpha.")
    if torch.allclose(out, torch.relu(x + alpha * branch), rtol=1e-6):
        raise Wrong("no activation after the sum in this block: return x + α·F(x).")
    if torch.allclose(out, x + alpha * torch.relu(x @ w1) @ w2, rtol=1e-6):
        raise Wrong("rows are examples, so W x is x @ W.T; you used x @ W.")
    if torch.allclose(out, x + alpha * torch.relu(x @ w2.T) @ w1.T, rtol=1e-6):
        raise Wrong("W1 acts first, W2 second.")
    raise Wrong("not x + α·W₂ relu(W₁x); check each part on a small example.")


@register("06-path-counts")
def _path_counts(answer) -> str:
    """A function returning [C(L, 0), ..., C(L, L)]."""
    for depth in (1, 4, 10):
        out = answer(depth)
        try:
            values = [int(v) for v in out]
        except (TypeError, ValueError):
            raise Wrong(f"return a list of integers, not {type(out).__name__}.") from None
        target = [math.comb(depth, k) for k in range(depth + 1)]
        if values == target:
            continue
        if len(values) == depth:
            raise Wrong(f"for L = {depth} there are {depth + 1} lengths, 0 to L inclusive.")
        if sum(values) != 2**depth:
            raise Wrong(f"for L = {depth} the counts should add up to 2^L = {2**depth}: each "
                        "block is either passed through or skipped.")
        raise Wrong(f"wrong counts for L = {depth}; how many ways are there to choose k blocks?")
    return "C(L, k) paths of length k, 2^L in all: most are of length about L/2."
