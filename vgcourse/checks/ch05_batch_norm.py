"""Self-checks for chapter 5, batch normalisation."""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from ..check import Wrong, as_number, close, register

_close = partial(close, rel=1e-3)  # the answers here are read off figures or rounded


@register("05-linear-growth")
def _linear_growth(answer) -> str:
    """Per-layer growth of the squared gradient norm, linear BN network, B = 8: 6/5."""
    value = as_number(answer)
    if _close(value, 6 / 5):
        return "(B − 2)/(B − 3) = 6/5: each layer removes two of the batch's directions."
    if _close(value, math.sqrt(6 / 5)):
        raise Wrong("that is the factor on the norm; the question asks about the squared norm.")
    if _close(value, 5 / 6):
        raise Wrong("the gradient grows toward the input, so the factor is above 1.")
    if _close(value, 1.0):
        raise Wrong("a linear network with orthogonal weights keeps the norm, but batch "
                    "normalisation does not: it projects out directions of the batch.")
    if _close(value, math.pi / (math.pi - 1)):
        raise Wrong("π/(π − 1) is the large-batch limit for ReLU; these layers are linear.")
    raise Wrong("not the factor; it depends only on the batch size B, through B − 2 and B − 3.")


@register("05-batch-norm")
def _batch_norm(answer) -> str:
    """A function normalising each column of a (batch, features) tensor over the batch."""
    g = torch.Generator().manual_seed(5)
    x = 2.0 + 3.0 * torch.randn(12, 5, generator=g, dtype=torch.float64)
    out = answer(x)
    if not isinstance(out, torch.Tensor):
        raise Wrong(f"return a tensor, not {type(out).__name__}.")
    if out.shape != x.shape:
        raise Wrong(f"the result has shape {tuple(out.shape)}; it should match x, "
                    f"{tuple(x.shape)}.")
    reference = nn.BatchNorm1d(5, affine=False, dtype=torch.float64)(x)
    if torch.allclose(out, reference, rtol=1e-6, atol=1e-8):
        return "each feature is standardised over the batch, as nn.BatchNorm1d does in training."
    if torch.allclose(out, nn.LayerNorm(5, elementwise_affine=False, dtype=torch.float64)(x),
                      rtol=1e-6, atol=1e-8):
        raise Wrong("that normalises each example over its features (layer norm); batch norm "
                    "averages over the batch, dim=0.")
    unbiased = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=True) + 1e-5)
    if torch.allclose(out, unbiased, rtol=1e-6, atol=1e-8):
        raise Wrong("batch norm divides by the biased variance (divide by B, unbiased=False).")
    if torch.allclose(out, (x - x.mean(0)) / (x.var(0, unbiased=False) + 1e-5), rtol=1e-6):
        raise Wrong("divide by the standard deviation: take the square root of var + eps.")
    if torch.allclose(out, x - x.mean(0), rtol=1e-6):
        raise Wrong("you centred the features; now divide by their standard deviation.")
    if torch.allclose(out.mean(0), torch.zeros(5, dtype=torch.float64), atol=1e-8):
        raise Wrong("the columns have mean 0 but the wrong spread; check the variance.")
    raise Wrong("not batch normalisation; compare the mean and std of your output's columns.")


@register("05-scale-gradient")
def _scale_gradient(answer) -> str:
    """Weight-gradient norm after W → 4W, relative to before: 1/4."""
    value = as_number(answer)
    if _close(value, 0.25):
        return "∂L/∂(aW) = (1/a)·∂L/∂W: the loss ignores the scale, so the gradient shrinks."
    if _close(value, 4.0):
        raise Wrong("the gradient shrinks as the weights grow; invert your factor.")
    if _close(value, 1.0):
        raise Wrong("the loss is unchanged, but the gradient is not: differentiate "
                    "L(aW) = L(W) with respect to W.")
    if _close(value, 1 / 16):
        raise Wrong("one factor of 1/a, not two.")
    raise Wrong("not the ratio; differentiate the identity L(aW) = L(W).")
