"""Self-checks for chapter 9, the case studies."""

from __future__ import annotations

import math

import torch

from ._registry import Wrong, as_number, matches, register, unseal

_EXERCISE = "09-total-change"

START_RATIO = 1e-6  # the exercise's r_0
HALVING_STEPS = 1000  # the ratio halves every this many steps


def _number(answer) -> float:
    value = as_number(answer)
    if not math.isfinite(value):
        raise Wrong(f"expected a finite number, got {value}: does the sum of the ratios "
                    "really grow without limit when they keep halving?")
    return value


# The reference answer as a fingerprint, and the explanation sealed with it (_registry.py).
_TOTAL = "57125014ce03a93b22f84be627371a72"
_TOTAL_WHY = (
    "c3a5f9680226d695fc6960773a6877efd801da1ee7d097b9862ab6c21fd0aad866bc8dfa20532615c42dd2c4cffa"
    "d4e3113f970a8c593646a76a82dc178fad4ca082e627cfc929c1a6f86d8865b7b07d88d8e2badf19a47e0b10f591"
    "d51e4aa368781504b6f55023539bab0dbfcbe9b95402a637cbc19f3c02"
)


@register("09-total-change")
def _total_change(answer) -> str:
    """The largest total relative change when r starts at 1e-6 and halves every 1000 steps
    (within 2 %)."""
    value = _number(answer)
    first_block = HALVING_STEPS * START_RATIO  # what the first 1000 steps can add
    key = matches("09-total-change", value, _TOTAL, rel=0.02)
    if key:
        return f"at most {value:.0e} of the weights' size: {unseal(_EXERCISE, key, _TOTAL_WHY)}"
    if math.isclose(value, first_block, rel_tol=0.02):
        raise Wrong("that is only the first 1000 steps; the later blocks add half as much, then "
                    "a quarter, and so on.")
    if math.isclose(value, START_RATIO, rel_tol=0.02) or math.isclose(value, 2 * START_RATIO,
                                                                      rel_tol=0.02):
        raise Wrong("each of the first 1000 steps adds r_0; count the steps in every block.")
    if value >= 0.1:
        raise Wrong("the ratios keep halving, so their sum stays finite and small; add up the "
                    "blocks of 1000 steps.")
    raise Wrong("add the per-step ratios block by block: 1000 steps at r_0, 1000 at r_0/2, ...")


def _reference_columns(images: torch.Tensor) -> torch.Tensor:
    return images.reshape(-1, 8, 8).transpose(1, 2).reshape(-1, 64, 1)


@register("09-column-sequences")
def _columns(answer) -> str:
    """A function (n, 64) row-major images -> (n, 64, 1) sequences read column by column."""
    g = torch.Generator().manual_seed(9)
    images = torch.rand(5, 64, generator=g, dtype=torch.float64)
    out = answer(images.clone())
    if not isinstance(out, torch.Tensor):
        raise Wrong(f"return a tensor, not {type(out).__name__}.")
    target = _reference_columns(images)
    if out.shape != target.shape:
        if out.numel() == target.numel():
            raise Wrong(f"the shape is {tuple(out.shape)}; a sequence model wants "
                        "(batch, 64 steps, 1 feature).")
        raise Wrong(f"the shape is {tuple(out.shape)}; expected (batch, 64, 1), one pixel "
                    "per step.")
    if torch.allclose(out.double(), target):
        return ("column by column: step t reads row t % 8 of column t // 8, so the network "
                "sees the left edge first and the right edge last.")
    if torch.allclose(out.double(), images.reshape(-1, 64, 1)):
        raise Wrong("that is the row-by-row order of sequential_digits; swap rows and columns "
                    "before flattening.")
    if torch.allclose(out.double(), images.reshape(-1, 64, 1).flip(1)):
        raise Wrong("that reads the rows backwards; read down each column instead.")
    if torch.allclose(out.double(), target.flip(1)):
        raise Wrong("the columns are right but the order is reversed: start at the top left.")
    if torch.allclose(out.double().sort(dim=1).values, target.sort(dim=1).values):
        raise Wrong("the pixels are all there but in the wrong order: pixel t of the sequence "
                    "must be row t % 8, column t // 8.")
    raise Wrong("the values are not the image's pixels; reshape to (n, 8, 8) first.")
