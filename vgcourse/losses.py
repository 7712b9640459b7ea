"""Loss lookup shared by ``gradient_flow`` and ``train``."""

from __future__ import annotations

from typing import Callable

import torch
from torch.nn import functional as F

from ._validation import check_choice

LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mse": F.mse_loss,
    "cross_entropy": F.cross_entropy,
}


def get_loss(loss: str | Callable) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Return a loss function ``f(output, target) -> scalar`` for a name or a callable."""
    if callable(loss):
        return loss
    check_choice("loss", loss, LOSSES)
    return LOSSES[loss]


def prepare_target(y: torch.Tensor, loss, dtype: torch.dtype) -> torch.Tensor:
    """Cast ``y`` to ``dtype`` unless it holds class labels for cross-entropy."""
    if loss == "cross_entropy" or not torch.is_floating_point(y):
        return y
    return y.to(dtype)
