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

from ._validation import check_choice, check_groups, check_int, check_positive, check_seed


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


#: The four normalisations of a convolutional feature map (N, C, H, W), by what they average over.
FEATURE_MAP_NORMS = ("batch", "layer", "instance", "group")


def statistic_index(shape, kind: str, groups: int | None = None) -> torch.Tensor:
    """Which statistic each element of a feature map is normalised with.

    For a feature map of shape ``(N, C, H, W)``, returns an integer tensor of the same shape:
    elements with the same number share one mean and one variance. Every normalisation of
    :func:`feature_map_norm` reduces over H and W; they differ in what else they pool:

    - ``"batch"`` (Ioffe & Szegedy 2015): one statistic per channel, over the batch N and H, W;
    - ``"layer"`` (Ba et al. 2016): one per example, over all channels C and H, W;
    - ``"instance"`` (Ulyanov et al. 2016): one per example and channel, over H, W only;
    - ``"group"`` (Wu & He 2018): one per example and group of ``C // groups`` consecutive
      channels, over those channels and H, W. ``groups=1`` is layer norm, ``groups=C``
      instance norm.

    Parameters
    ----------
    shape : sequence of 4 int
        ``(N, C, H, W)``.
    kind : {"batch", "layer", "instance", "group"}
    groups : int, optional
        Number of channel groups; required for ``"group"`` and must divide C.

    Returns
    -------
    torch.Tensor of int64, shape ``shape``
        Statistic numbers 0, 1, ..., in order of first appearance along (N, C).
    """
    check_choice("kind", kind, FEATURE_MAP_NORMS)
    shape = tuple(shape)
    if len(shape) != 4:
        raise ValueError(f"shape={shape!r} is not allowed; expected 4 sizes (N, C, H, W).")
    for size in shape:
        check_int("shape", size)
    n, c = shape[0], shape[1]
    example = torch.arange(n).view(n, 1, 1, 1)
    channel = torch.arange(c).view(1, c, 1, 1)
    check_groups(groups, c, "kind", kind)
    if kind == "batch":
        index = channel + 0 * example
    elif kind == "layer":
        index = example + 0 * channel
    elif kind == "instance":
        index = example * c + channel
    else:
        index = example * groups + channel // (c // groups)
    return index.expand(shape).contiguous()


def feature_map_norm(x: torch.Tensor, kind: str, groups: int | None = None,
                     eps: float = 1e-5) -> torch.Tensor:
    """Normalise a feature map ``(N, C, H, W)`` with the statistics :func:`statistic_index` names.

    Each element has the mean subtracted and is divided by ``sqrt(var + eps)`` of the elements
    that share its statistic (biased variance); no learned scale and shift. It equals, in
    training mode, ``nn.BatchNorm2d(C, affine=False)`` for ``"batch"``,
    ``nn.GroupNorm(1, C)`` for ``"layer"``, ``nn.InstanceNorm2d(C)`` for ``"instance"`` and
    ``nn.GroupNorm(groups, C)`` for ``"group"`` (the last three with unit scale and zero
    shift).

    Parameters
    ----------
    x : torch.Tensor
        Shape ``(N, C, H, W)``.
    kind : {"batch", "layer", "instance", "group"}
    groups : int, optional
        For ``"group"``: the number of channel groups, a divisor of C.
    eps : float, default 1e-5

    Returns
    -------
    torch.Tensor
        Same shape as ``x``.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x has shape {shape}; expected a 4-D feature map (N, C, H, W).")
    check_positive("eps", eps)
    index = statistic_index(x.shape, kind, groups).to(x.device).flatten()
    if kind == "batch" and x.shape[0] * x.shape[2] * x.shape[3] < 2:
        raise ValueError(f"x has shape {tuple(x.shape)}; batch norm needs at least 2 values "
                         "per channel (N·H·W >= 2).")
    flat = x.flatten()
    count = torch.bincount(index).to(x.dtype)
    mean = torch.zeros(len(count), dtype=x.dtype, device=x.device).index_add(0, index, flat)
    mean = mean / count
    centred = flat - mean[index]
    var = torch.zeros_like(mean).index_add(0, index, centred * centred) / count
    return (centred / torch.sqrt(var[index] + eps)).view_as(x)


def companion_sensitivity(model: nn.Module, example: torch.Tensor, batch: int,
                          seed: int = 0) -> float:
    """How much one example's gradient depends on the other examples of its batch.

    ``example`` (one input, without the batch axis) is put first in two batches of size
    ``batch`` whose other ``batch − 1`` inputs are drawn independently from a standard normal
    (seeded). In each, the model (in training mode) is differentiated on the loss of the first
    example alone, ``½‖f(x)₀‖²``; returns ``‖g_a − g_b‖ / ‖g_a‖`` for the two gradients with
    respect to all parameters. Zero (to rounding) for a model whose output for one example
    depends on that example only; positive for batch normalisation in training mode.

    Parameters
    ----------
    model : nn.Module
        Put in training mode for the measurement and restored afterwards; its buffers (batch
        norm's running statistics) are restored too.
    example : torch.Tensor
        One input, e.g. shape ``(C, H, W)`` for a convolutional network.
    batch : int
        Batch size, at least 2.
    seed : int, default 0
        Seeds the two draws of companions.

    Returns
    -------
    float
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model is a {type(model).__name__}; expected a torch.nn.Module.")
    if not isinstance(example, torch.Tensor):
        raise TypeError(f"example is a {type(example).__name__}; expected a tensor.")
    check_int("batch", batch, minimum=2)
    check_seed("seed", seed)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"model={type(model).__name__} has no trainable parameters.")
    dtype = params[0].dtype
    example = example.to(dtype)
    generator = torch.Generator().manual_seed(seed)
    saved = [(b, b.clone()) for b in model.buffers()]
    was_training = model.training
    model.train()
    grads = []
    try:
        with torch.enable_grad():
            for _ in range(2):
                others = torch.randn(batch - 1, *example.shape, generator=generator,
                                     dtype=dtype)
                out = model(torch.cat([example[None], others]))
                loss = 0.5 * out[0].pow(2).sum()
                grads.append(torch.cat([g.flatten() for g in torch.autograd.grad(loss, params)]))
    finally:
        model.train(was_training)
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)
    return float((grads[0] - grads[1]).norm() / grads[0].norm())
