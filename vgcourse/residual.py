"""Measurements specific to residual networks: paths (Veit et al. 2016) and shattered
gradients (Balduzzi et al. 2017)."""

from __future__ import annotations

import torch
from torch import nn

from ._validation import check_int
from .losses import get_loss, prepare_target
from .models import ResidualBlock
from .probe import hidden_layers


def _residual_blocks(model: nn.Module) -> list[ResidualBlock]:
    blocks = hidden_layers(model)
    for i, block in enumerate(blocks, start=1):
        if not isinstance(block, ResidualBlock) or not block.skip:
            raise ValueError(f"model.hidden[{i - 1}] is {type(block).__name__}; paths are "
                             "defined for residual blocks x + α·F(x) (build with residual=True).")
        if block.normalised and block.placement == "post":
            raise ValueError("model has norm_position='post': the activation after each sum "
                             "mixes the paths; use norm=None or norm_position='pre'.")
    return blocks


def path_gradient_norms(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    lengths: list[int] | None = None,
    samples: int = 10,
    seed: int = 0,
    loss: str = "mse",
) -> dict[int, float]:
    """Mean norm of the gradient that reaches the first block along paths of each length.

    A residual MLP of L blocks x_l = x_{l-1} + α·F_l(x_{l-1}) has an input–output Jacobian
    that expands into 2^L products, one per path: a path of length k passes through k branches
    (factor α·∂F_l/∂x) and skips the others (factor I). For each length k this function draws
    ``samples`` random sets of k blocks, back-propagates ∂loss/∂x_L through those branches
    only, and averages the norm of what arrives below block 1 (Veit et al. 2016, section 6).

    Parameters
    ----------
    model : nn.Module
        A residual MLP from :func:`vgcourse.mlp` with ``residual=True`` and either no
        normalisation or ``norm_position="pre"``. Measured in its own dtype and mode.
    x, y : torch.Tensor
        Input batch and targets.
    lengths : list of int, optional
        Path lengths k to measure, each in 0..L (default all of them).
    samples : int, default 10
        Random paths per length (length 0 and L have exactly one path each).
    seed : int, default 0
        Seeds the choice of paths.
    loss : {"mse", "cross_entropy"}, default "mse"

    Returns
    -------
    dict
        ``{k: mean gradient norm over the sampled paths of length k}``.
    """
    blocks = _residual_blocks(model)
    depth = len(blocks)
    lengths = list(range(depth + 1)) if lengths is None else list(lengths)
    for k in lengths:
        check_int("lengths[...]", k, minimum=0)
        if k > depth:
            raise ValueError(f"lengths contains {k}; paths through {depth} blocks have length "
                             f"0..{depth}.")
    check_int("samples", samples)
    dtype = next(model.parameters()).dtype
    h = x.to(dtype)
    if "input" in model._modules:
        h = model.input(h)
    inputs, branches = [], []
    for block in blocks:
        leaf = h.detach().requires_grad_(True)
        inputs.append(leaf)
        branches.append(block.branch_scale * block.branch(leaf))
        h = block(h.detach())
    top = h.detach().requires_grad_(True)
    value = get_loss(loss)(model.output(top), prepare_target(y, loss, dtype))
    (delta,) = torch.autograd.grad(value, top)
    generator = torch.Generator().manual_seed(seed)
    result = {}
    for k in lengths:
        norms = []
        for _ in range(samples if 0 < k < depth else 1):
            chosen = set(torch.randperm(depth, generator=generator)[:k].tolist())
            v = delta
            for index in range(depth - 1, -1, -1):
                if index in chosen:
                    (v,) = torch.autograd.grad(branches[index], inputs[index], v,
                                               retain_graph=True)
            norms.append(float(v.double().norm()))
        result[k] = sum(norms) / len(norms)
    return result


def freeze_batch_statistics(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Put ``model`` in evaluation mode with every batch norm holding the statistics of ``x``.

    The running mean and variance of each ``nn.BatchNorm1d`` are set from one training-mode
    pass over ``x`` (the variance unbiased, as PyTorch stores it). Afterwards each example is
    processed on its own, so ∂f(x_i)/∂x_i can be read off one backward pass, while the network
    is the one batch statistics of ``x`` define. Returns ``model``.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = 1.0
    model.train()
    with torch.no_grad():
        model(x.to(next(model.parameters()).dtype))
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    return model.eval()


def input_gradients(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """df(x_i)/dx_i for each example of a batch of 1-D inputs, shape ``(batch,)``.

    Batch norms are first frozen at the batch's statistics with
    :func:`freeze_batch_statistics`, so examples do not influence each other's gradient. The
    model must have one input and one output; it is left in evaluation mode.
    """
    if x.dim() != 2 or x.shape[1] != 1:
        raise ValueError(f"x has shape {tuple(x.shape)}; expected (batch, 1) inputs.")
    freeze_batch_statistics(model, x)
    dtype = next(model.parameters()).dtype
    leaf = x.to(dtype).detach().requires_grad_(True)
    out = model(leaf)
    if out.shape[1] != 1:
        raise ValueError(f"model has {out.shape[1]} outputs; input_gradients needs exactly one.")
    (grad,) = torch.autograd.grad(out.sum(), leaf)
    return grad.squeeze(1)


def autocorrelation(values: torch.Tensor, lag: int = 1) -> float:
    """Lag-``lag`` autocorrelation of a sequence: 1 for a smooth signal, about 0 for noise.

    Balduzzi et al. (2017) call gradients whose autocorrelation over neighbouring inputs falls
    to zero "shattered".
    """
    check_int("lag", lag)
    v = values.double().flatten()
    if v.numel() <= lag:
        raise ValueError(f"values has {v.numel()} entries; lag={lag} needs more than {lag}.")
    v = v - v.mean()
    return float((v[lag:] * v[:-lag]).sum() / (v * v).sum())
