"""Weight initialisation schemes, applied to every Linear layer of a model.

Every named scheme zeroes the biases, as the papers do; ``"default"`` keeps PyTorch's own
initialisation (weights and biases uniform with bound 1/sqrt(fan_in)).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._validation import check_choice, check_int, check_positive

SCHEMES = ("default", "normal", "lecun", "xavier", "he", "orthogonal", "constant")


def initialize(
    model: nn.Module,
    scheme: str,
    gain: float | None = None,
    std: float | None = None,
    generator: torch.Generator | None = None,
    bias_std: float | None = None,
) -> nn.Module:
    """Initialise the weights of every ``nn.Linear`` in ``model`` in place.

    Parameters
    ----------
    model : nn.Module
        Any module; its ``nn.Linear`` submodules are initialised.
    scheme : {"default", "normal", "lecun", "xavier", "he", "orthogonal", "constant"}
        ``default``: PyTorch's ``reset_parameters`` (n·Var(W) = 1/3).
        ``normal``: W ~ N(0, std²), ``std`` required.
        ``lecun``: W ~ N(0, 1/fan_in) (LeCun et al. 1998).
        ``xavier``: W ~ N(0, 2/(fan_in + fan_out)) (Glorot & Bengio 2010).
        ``he``: W ~ N(0, 2/fan_in) (He et al. 2015).
        ``orthogonal``: W = Q with orthonormal rows or columns (Saxe et al. 2014).
        ``constant``: every weight 1/fan_in, so each unit averages its inputs; all units of a
        layer are identical and stay so under gradient descent (the symmetry problem).
    gain : float, optional
        Multiplies every weight after the scheme draws it, so ``orthogonal`` with gain ``a``
        gives ``a·Q`` and ``lecun`` with gain σ_w gives the mean-field W ~ N(0, σ_w²/fan_in).
        Defaults to 1.
    std : float, optional
        Standard deviation for ``scheme="normal"``; not allowed for other schemes.
    generator : torch.Generator, optional
        Source of randomness, for reproducible draws.
    bias_std : float, optional
        Draw every bias from N(0, bias_std²) instead of zeroing it: the σ_b of mean-field
        theory (Poole et al. 2016). Not allowed with ``scheme="default"``, which draws its own.

    Returns
    -------
    nn.Module
        ``model`` itself, for chaining.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model is a {type(model).__name__}; expected a torch.nn.Module.")
    check_choice("scheme", scheme, SCHEMES)
    if gain is not None:
        check_positive("gain", gain, allow_zero=True)
    if scheme == "normal":
        if std is None:
            raise ValueError("std=None is not allowed with scheme='normal'; pass std > 0.")
        check_positive("std", std, allow_zero=True)
    elif std is not None:
        raise ValueError(f"std={std!r} is only used with scheme='normal', not scheme={scheme!r}.")
    if bias_std is not None:
        check_positive("bias_std", bias_std, allow_zero=True)
        if scheme == "default":
            raise ValueError(f"bias_std={bias_std!r} is not allowed with scheme='default', "
                             "which draws its biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in)).")
    scale = 1.0 if gain is None else float(gain)
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, nn.Linear):
                _init_linear(layer, scheme, std, generator)
                layer.weight.mul_(scale)
                if bias_std is not None and layer.bias is not None:
                    layer.bias.normal_(0.0, bias_std, generator=generator)
    return model


def _init_linear(layer: nn.Linear, scheme: str, std, generator) -> None:
    weight = layer.weight
    fan_out, fan_in = weight.shape
    if weight.numel() == 0:  # a zero-width layer: no weight to draw, and 1/fan_in is undefined
        if layer.bias is not None:
            layer.bias.zero_()
        return
    if scheme == "default":
        bound = 1 / math.sqrt(fan_in)
        weight.uniform_(-bound, bound, generator=generator)
        if layer.bias is not None:
            layer.bias.uniform_(-bound, bound, generator=generator)
        return
    if scheme == "orthogonal":
        _orthogonal_(weight, generator)
    elif scheme == "constant":
        weight.fill_(1 / fan_in)
    else:
        sigma = {
            "normal": std,
            "lecun": 1 / math.sqrt(fan_in),
            "xavier": math.sqrt(2 / (fan_in + fan_out)),
            "he": math.sqrt(2 / fan_in),
        }[scheme]
        weight.normal_(0.0, sigma, generator=generator)
    if layer.bias is not None:
        layer.bias.zero_()


def haar_orthogonal(rows: int, cols: int | None = None,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """A Haar-random ``rows × cols`` matrix with orthonormal columns (or rows), in float64.

    The QR factors of a Gaussian matrix, with the signs of R's diagonal moved into Q so that Q
    is distributed uniformly (Haar) rather than biased by the QR convention (Mezzadri 2007).
    A square matrix is orthogonal; a tall one has orthonormal columns, a wide one orthonormal
    rows. Every orthogonal draw in the course (the ``orthogonal`` init, the recurrent matrices
    of chapters 4 and 7) comes from here.

    Parameters
    ----------
    rows : int
    cols : int, optional
        Default ``rows`` (a square orthogonal matrix).
    generator : torch.Generator, optional
        Seeds the Gaussian draw.

    Examples
    --------
    >>> q = haar_orthogonal(3, generator=torch.Generator().manual_seed(0))
    >>> torch.allclose(q @ q.T, torch.eye(3, dtype=torch.float64))
    True
    """
    check_int("rows", rows)
    cols = rows if cols is None else cols
    check_int("cols", cols)
    a = torch.randn(max(rows, cols), min(rows, cols), generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r))
    return q if rows >= cols else q.T


def _orthogonal_(weight: torch.Tensor, generator) -> None:
    weight.copy_(haar_orthogonal(*weight.shape, generator=generator))
