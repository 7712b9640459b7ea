"""Self-checks for chapter 9, the case studies."""

from __future__ import annotations

import math

import torch

from ..check import Wrong, register
from ..theory import steps_to_change

RATIO = 1e-11  # the update-to-data ratio the exercise states
FRACTION = 0.1


def _number(answer) -> float:
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise Wrong(f"expected a number, got {type(answer).__name__}.") from None
    if not math.isfinite(value):
        raise Wrong(f"expected a finite number of steps, got {value}.")
    return value


@register("09-steps-to-change")
def _steps(answer) -> str:
    """Fewest steps for a 10 % change at ratio 1e-11 per step: ≈ 0.1/1e-11 (1/1.1 of it)."""
    value = _number(answer)
    bound = steps_to_change(RATIO, FRACTION)  # 0.1 / (1e-11 · 1.1) ≈ 9.1e9
    # both the bound and the rounder 0.1/r = 1e10 (10 % above it) count as right
    if 0.9 * bound <= value <= 1.15 * bound:
        return (f"about {bound:.1e} steps: at a million steps a second that is "
                f"{bound / 1e6 / 3600:.0f} hours, and every extra layer of depth multiplies it "
                "again.")
    if value > 0 and value < 1:
        raise Wrong("a number of steps is at least 1; you multiplied the ratio by the "
                    "fraction instead of dividing.")
    if math.isclose(value, 1 / RATIO, rel_tol=0.15):
        raise Wrong("that many steps changes the weights by 100 %, not 10 %.")
    if math.isclose(value, FRACTION / RATIO**2, rel_tol=0.2) or value > 1e15:
        raise Wrong("far too many: each step changes the weights by r = 1e-11 of their size, "
                    "and those changes add up linearly.")
    if math.isclose(value, 11.0, rel_tol=0.05) or math.isclose(value, 1e2, rel_tol=0.15):
        raise Wrong("divide the fraction by the per-step ratio: steps × 1e-11 must reach 0.1.")
    raise Wrong("each step moves the weights by at most r = 1e-11 of their size; how many such "
                "steps add up to 0.1?")


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
