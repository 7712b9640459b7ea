"""Self-checks for chapter 5, batch normalisation."""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from ._registry import Wrong, as_number, close, matches, register, unseal

_close = partial(close, rel=1e-3)  # the answers here are read off figures or rounded


def _smallest_batch(total: float = 2.0, layers: int = 30) -> int:
    """Smallest B with ((B − 2)/(B − 3))^layers <= total."""
    return next(b for b in range(4, 10_000) if ((b - 2) / (b - 3)) ** layers <= total)


# The reference answers as fingerprints, and an explanation sealed with one (_registry.py).
_BATCH = "976ca892468a72ee1208e9d30860fa5a"
_SCALE = "97804c122220b61e2b280495d3b4c48d"
_SCALE_WHY = (
    "1038a2f9a701e17f691f4c411ef1aa38854c8c5778496ab13227db490c96d1b47207bdbf3fa01b5a1a0288cf991d"
    "ae302d784380005819beab1686126462e02b51a287d3a84f4e29c0b249ee7dee06e6bb72dd5b0fdbdcd9e6ebda62"
    "9896b01da44bd5ec6b4c0c46bc7c0ea862484248acf2a6523860f33d03498fde929090c267f8bc9aaf8df506c370"
    "50a8a58bb3974505d4200877e839b6dc207761a5571cb0f8c23f"
)


@register("05-linear-growth")
def _linear_growth(answer) -> str:
    """Smallest batch for which 30 linear BN layers grow ‖∂L/∂h‖² by at most 2."""
    value = as_number(answer)
    if matches("05-linear-growth", value, _BATCH):
        return (f"B = {value:.0f}: (1 + 1/(B − 3))^30 <= 2 first holds there, and at "
                f"B = {value - 1:.0f} the 30 factors multiply to just over 2.")
    if matches("05-linear-growth", value - 1, _BATCH):
        raise Wrong("close, but one too many: check whether the next smaller batch already "
                    "satisfies the condition (ln(1 + x) ≈ x overestimates what you need).")
    if matches("05-linear-growth", value + 1, _BATCH):
        raise Wrong("one too few: at that batch the 30 factors multiply to just over 2.")
    if value == _smallest_batch(total=4.0):
        raise Wrong("that keeps the growth of the norm below 2; the question bounds the squared "
                    "norm, whose factor per layer is (B − 2)/(B − 3) itself.")
    if value == _smallest_batch(layers=1):
        raise Wrong("that bounds a single layer; the 30 factors multiply.")
    if value != int(value) or value < 4:
        raise Wrong("the answer is a batch size, an integer of at least 4.")
    raise Wrong("not the smallest such batch; write the condition ((B − 2)/(B − 3))^30 <= 2 and "
                "solve it for B.")


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
    """Factor by which ‖W‖ changes after one SGD step with ‖η∂L/∂W‖ = ‖W‖ (within 0.1 %)."""
    value = as_number(answer)
    key = matches("05-scale-gradient", value, _SCALE, rel=1e-3)
    if key:
        return unseal("05-scale-gradient", key, _SCALE_WHY)
    if value > 0 and matches("05-scale-gradient", math.sqrt(value), _SCALE, rel=1e-3):
        raise Wrong("that is the factor on the squared norm; the question asks about ‖W‖.")
    if _close(value, 1.0):
        raise Wrong("a step as long as W itself does change its length; find the angle between "
                    "W and ∂L/∂W first.")
    if _close(value, 0.0):
        raise Wrong("that would need the gradient to point along W; differentiate "
                    "L(aW) = L(W) with respect to a to see where it points.")
    if _close(value, 0.25) or _close(value, 4.0) or _close(value, 0.5):
        raise Wrong("the 1/a law is for rescaling W; here W moves by a step, so work out the new "
                    "norm from the angle between W and its gradient.")
    raise Wrong("not the factor; find the angle between W and ∂L/∂W, then add the step to W.")


@register("05-group-norm")
def _group_norm(answer) -> str:
    """A function normalising each example's groups of consecutive channels of (N, C, H, W)."""
    g = torch.Generator().manual_seed(7)
    x = 1.0 + 2.0 * torch.randn(3, 6, 4, 5, generator=g, dtype=torch.float64)
    out = answer(x, 3)
    if not isinstance(out, torch.Tensor):
        raise Wrong(f"return a tensor, not {type(out).__name__}.")
    if out.shape != x.shape:
        raise Wrong(f"the result has shape {tuple(out.shape)}; it should match x, "
                    f"{tuple(x.shape)}.")

    def like(module) -> bool:
        return torch.allclose(out, module.double()(x), rtol=1e-6, atol=1e-8)

    if like(nn.GroupNorm(3, 6, affine=False)):
        return ("each example's group of consecutive channels is standardised over its channels "
                "and positions, as nn.GroupNorm does.")
    if like(nn.BatchNorm2d(6, affine=False)):
        raise Wrong("that normalises each channel over the batch (batch norm); group norm never "
                    "mixes examples.")
    if like(nn.GroupNorm(1, 6, affine=False)):
        raise Wrong("that pools all channels of an example (layer norm, one group); split the "
                    "channels into `groups` groups.")
    if like(nn.InstanceNorm2d(6)):
        raise Wrong("that normalises every channel on its own (instance norm, one channel per "
                    "group); a group holds C // groups channels.")
    interleaved = x.reshape(3, 2, 3, 4, 5).transpose(1, 2)  # channel c in group c % 3
    mean = interleaved.mean(dim=(2, 3, 4), keepdim=True)
    var = interleaved.var(dim=(2, 3, 4), unbiased=False, keepdim=True)
    strided = ((interleaved - mean) / torch.sqrt(var + 1e-5)).transpose(1, 2).reshape(x.shape)
    if torch.allclose(out, strided, rtol=1e-6, atol=1e-8):
        raise Wrong("your groups take every third channel; a group is a run of consecutive "
                    "channels (reshape the channel axis as (groups, C // groups)).")
    grouped = x.reshape(3, 3, -1)
    unbiased = ((grouped - grouped.mean(2, keepdim=True))
                / torch.sqrt(grouped.var(2, unbiased=True, keepdim=True) + 1e-5)).reshape(x.shape)
    if torch.allclose(out, unbiased, rtol=1e-6, atol=1e-8):
        raise Wrong("divide by the biased variance (unbiased=False), as nn.GroupNorm does.")
    per_position = x.reshape(3, 3, 2, 20)
    spatial = ((per_position - per_position.mean(2, keepdim=True))
               / torch.sqrt(per_position.var(2, unbiased=False, keepdim=True) + 1e-5))
    if torch.allclose(out, spatial.reshape(x.shape), rtol=1e-6, atol=1e-8):
        raise Wrong("the statistics must include every position H×W of the group's channels, "
                    "not one position at a time.")
    raise Wrong("not group normalisation; compare your output's mean and std over one "
                "example's group of channels.")
