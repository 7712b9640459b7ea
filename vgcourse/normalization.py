"""Batch and layer normalisation written out in a few lines, to read beside ``torch.nn``.

``batch_norm`` normalises each unit over the examples of a batch (Ioffe & Szegedy 2015);
``layer_norm`` normalises each example over its units (Ba et al. 2016). :class:`BatchNorm`
adds the running statistics that evaluation mode uses, with PyTorch's conventions, so it can
stand in for ``nn.BatchNorm1d``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._validation import check_positive


def _check_2d(name: str, x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} has shape {shape}; expected a 2-D tensor (batch, features).")


def batch_norm(
    x: torch.Tensor,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """Normalise every unit over the batch: ``γ·(x − mean)/sqrt(var + eps) + β``.

    Parameters
    ----------
    x : torch.Tensor
        Shape ``(batch, features)``, at least two examples.
    weight, bias : torch.Tensor, optional
        Per-unit scale γ and shift β, shape ``(features,)`` (default 1 and 0).
    eps : float, default 1e-5
        Added to the variance; the variance is the biased one (divided by the batch size).

    Returns
    -------
    torch.Tensor
        Same shape as ``x``; each column has mean β and standard deviation about γ.
    """
    _check_2d("x", x)
    check_positive("eps", eps)
    if x.shape[0] < 2:
        raise ValueError(f"x has batch size {x.shape[0]}; batch_norm needs at least 2 examples.")
    mean = x.mean(dim=0, keepdim=True)
    var = x.var(dim=0, unbiased=False, keepdim=True)
    out = (x - mean) / torch.sqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def layer_norm(
    x: torch.Tensor,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """Normalise every example over its units: the batch plays no part.

    Parameters
    ----------
    x : torch.Tensor
        Shape ``(batch, features)``.
    weight, bias : torch.Tensor, optional
        Per-unit scale and shift, shape ``(features,)``.
    eps : float, default 1e-5
        Added to the (biased) variance.

    Returns
    -------
    torch.Tensor
        Same shape as ``x``; each row has mean 0 and standard deviation about 1 before the
        affine map.
    """
    _check_2d("x", x)
    check_positive("eps", eps)
    mean = x.mean(dim=1, keepdim=True)
    var = x.var(dim=1, unbiased=False, keepdim=True)
    out = (x - mean) / torch.sqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


class BatchNorm(nn.Module):
    """Batch normalisation with running statistics, from scratch.

    In training mode it normalises with the batch's mean and biased variance and updates
    ``running_mean`` and ``running_var`` (which uses the *unbiased* variance) by
    ``running ← (1 − momentum)·running + momentum·batch``; in evaluation mode it normalises
    with the running statistics, so one example's output no longer depends on the others.
    These are the conventions of ``torch.nn.BatchNorm1d``.

    Parameters
    ----------
    features : int
        Number of units.
    eps : float, default 1e-5
    momentum : float, default 0.1
        Weight of the newest batch in the running statistics, in (0, 1].
    """

    def __init__(self, features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        check_positive("eps", eps)
        if not 0 < momentum <= 1:
            raise ValueError(f"momentum={momentum!r} is not allowed; expected 0 < momentum <= 1.")
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(features))
        self.bias = nn.Parameter(torch.zeros(features))
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return (x - self.running_mean) / torch.sqrt(self.running_var + self.eps) \
                * self.weight + self.bias
        with torch.no_grad():
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(m * x.mean(dim=0))
            self.running_var.mul_(1 - m).add_(m * x.var(dim=0, unbiased=True))
        return batch_norm(x, self.weight, self.bias, self.eps)


def fit_gradient_growth(grad_norms, skip_first: int = 5, skip_last: int = 5) -> float:
    """The per-layer factor by which ‖∂L/∂h_l‖² grows toward the input, fitted in log space.

    A least-squares line through ln ‖∂L/∂h_l‖² against l over the middle layers (the first
    ``skip_first`` and last ``skip_last`` are left out, where the input and the read-out
    disturb the geometric trend); returns exp(−slope), so a value above 1 means the gradient
    grows toward the input.

    Parameters
    ----------
    grad_norms : sequence of float
        ‖∂L/∂h_l‖ for l = 1..L, e.g. ``gradient_flow(...).activation_grad_norms``.
    skip_first, skip_last : int, default 5
    """
    norms = torch.as_tensor(list(grad_norms), dtype=torch.float64)
    layers = torch.arange(1, len(norms) + 1, dtype=torch.float64)
    keep = slice(skip_first, len(norms) - skip_last)
    kept, g = layers[keep], 2 * torch.log(norms[keep])
    if len(kept) < 2:
        raise ValueError(f"grad_norms has {len(norms)} layers; with skip_first={skip_first} and "
                         f"skip_last={skip_last} fewer than 2 remain to fit.")
    lc = kept - kept.mean()
    slope = float((lc * (g - g.mean())).sum() / (lc * lc).sum())
    return math.exp(-slope)
