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


def as_batch(x, y, loss) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` as tensors of one non-empty batch, or a ``ValueError``/``TypeError`` naming
    the argument at fault. NumPy arrays (anything ``torch.as_tensor`` takes) are converted."""
    x, y = _as_tensor("x", x), _as_tensor("y", y)
    if x.dim() == 0:
        raise ValueError("x is a scalar (shape ()); expected a batch, shape (batch, features).")
    if y.dim() == 0:
        raise ValueError(f"y is a scalar (shape ()); expected one target per example of x, "
                         f"{len(x)} of them.")
    if len(x) == 0:
        raise ValueError(f"x has 0 examples (shape {tuple(x.shape)}); expected at least one.")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)}; they must match.")
    if not x.is_floating_point():
        raise ValueError(f"x has dtype {x.dtype}; expected floating-point inputs.")
    if loss == "mse" and not y.is_floating_point():
        raise ValueError(f"y has dtype {y.dtype}; loss='mse' expects floating-point targets.")
    if loss == "cross_entropy" and (y.is_floating_point() or y.is_complex()):
        raise ValueError(f"y has dtype {y.dtype}; loss='cross_entropy' expects integer class "
                         "indices.")
    return x, y


def _as_tensor(name: str, value) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if hasattr(value, "__array__"):
        return torch.as_tensor(value)
    raise ValueError(f"x and y must be tensors (or NumPy arrays); {name} is a "
                     f"{type(value).__name__}.")


def check_loss_inputs(output: torch.Tensor, target: torch.Tensor, loss) -> None:
    """Raise ``ValueError`` where ``loss`` would silently broadcast or index out of range.

    ``"mse"`` needs the target's shape to equal the output's: a target of shape (N,) against an
    output of shape (N, 1) would broadcast to (N, N) and give a wrong loss without an error.
    ``"cross_entropy"`` needs class indices in [0, classes).
    """
    if loss == "mse" and output.shape != target.shape:
        hint = (" (y.unsqueeze(1) gives that shape)" if target.dim() == 1 and output.dim() == 2
                and output.shape == (len(target), 1) else "")
        raise ValueError(f"y has shape {tuple(target.shape)} but the model's output has shape "
                         f"{tuple(output.shape)}; loss='mse' needs y of the output's "
                         f"shape{hint}.")
    if loss == "cross_entropy" and output.dim() == 2 and target.dim() == 1 and len(target):
        low, high = int(target.min()), int(target.max())
        if low < 0 or high >= output.shape[1]:
            raise ValueError(f"y holds class indices from {low} to {high}, but the model has "
                             f"{output.shape[1]} outputs; expected indices in "
                             f"[0, {output.shape[1] - 1}].")


def check_loss_value(value, loss, argument: str = "loss") -> torch.Tensor:
    """The loss as a differentiable 0-d tensor, or a ``ValueError`` naming ``argument``."""
    shown = f"{argument}={getattr(loss, '__name__', loss)!r}"
    if not isinstance(value, torch.Tensor) or value.dim() != 0:
        shape = (f"a tensor of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor)
                 else f"a {type(value).__name__}")
        raise ValueError(f"{shown} returned {shape}; it must return a scalar: a 0-d tensor "
                         "computed from the output (reduce with .mean()).")
    if not value.requires_grad:
        raise ValueError(f"{shown} returned a tensor that does not depend on the model's "
                         "output; expected a loss computed from it.")
    return value


def forward(model, x: torch.Tensor) -> torch.Tensor:
    """``model(x)``, with an input that does not fit the model reported as a ``ValueError``
    naming ``x`` rather than a ``RuntimeError`` from inside torch."""
    try:
        return model(x)
    except RuntimeError as error:
        if "shape" not in str(error) and "size" not in str(error):
            raise
        raise ValueError(f"x of shape {tuple(x.shape)} does not fit "
                         f"model={type(model).__name__}: {error}") from error
