"""One small training loop for every chapter, recording what gradient problems look like."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ._validation import check_bool, check_choice, check_int, check_positive, check_seed
from .losses import (
    as_batch,
    check_loss_inputs,
    check_loss_value,
    forward,
    get_loss,
    prepare_target,
)
from .probe import flat_gradient
from .progress import progress

OPTIMIZERS = ("sgd", "adam")
CLIP_MODES = ("norm", "value", "normalize")


@dataclass
class History:
    """What happened during :func:`train`, one entry per completed step.

    Attributes
    ----------
    loss : list of float
        Training loss on each step's mini-batch, before the update.
    grad_norm : list of float
        Norm of the whole gradient before clipping.
    layer_grad_norms : list of list of float
        Per step, ‖∂loss/∂W‖ of each Linear layer (input first).
    update_ratios : list of list of float
        Per step, ‖ΔW‖ / ‖W‖ of each Linear layer: Karpathy's update-to-data ratio, healthy
        around 1e-3 per step with SGD.
    diverged_at : int or None
        The first step whose loss or gradient was inf/NaN; training stopped there.
    clipped_grad_norm : list of float
        Norm of the gradient the optimiser used, after clipping (equal to ``grad_norm`` when
        ``clip`` is None).
    clip_cosine : list of float
        Cosine between the gradient before and after clipping: 1 for norm clipping (the
        direction is kept), below 1 when value clipping turned it, 1 without clipping.
    """

    loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    layer_grad_norms: list[list[float]] = field(default_factory=list)
    update_ratios: list[list[float]] = field(default_factory=list)
    diverged_at: int | None = None
    clipped_grad_norm: list[float] = field(default_factory=list)
    clip_cosine: list[float] = field(default_factory=list)

    @property
    def diverged(self) -> bool:
        """True when training stopped at an inf/NaN."""
        return self.diverged_at is not None

    def plot(self, ax=None, label=None, color=None):
        """Loss against step; see :func:`vgcourse.plots.plot_history`."""
        from .plots import plot_history

        return plot_history(self, ax=ax, label=label, color=color)


def train(
    model: nn.Module,
    data: tuple[torch.Tensor, torch.Tensor],
    steps: int,
    lr: float,
    optimizer: str = "sgd",
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    clip: float | None = None,
    clip_mode: str = "norm",
    loss: str = "mse",
    batch_size: int | None = 64,
    seed: int = 0,
    show_progress: bool = True,
    callback=None,
    record: bool = True,
) -> History:
    """Train ``model`` in place on ``data`` and record the gradient evidence of every step.

    Parameters
    ----------
    model : nn.Module
    data : (x, y)
        Inputs and targets (floats for ``"mse"``, class indices for ``"cross_entropy"``).
    steps : int
        Number of optimiser steps.
    lr : float
        Learning rate.
    optimizer : {"sgd", "adam"}, default "sgd"
    momentum, weight_decay : float, default 0
        SGD momentum and L2 weight decay.
    clip : float, optional
        Clipping threshold τ; no clipping when None.
    clip_mode : {"norm", "value", "normalize"}, default "norm"
        ``"norm"`` rescales the whole gradient to norm at most τ, keeping its direction
        (``torch.nn.utils.clip_grad_norm_``); ``"value"`` clamps each entry to [−τ, τ];
        ``"normalize"`` rescales every gradient to norm exactly τ, short ones included
        (normalised gradient descent with step length lr·τ: clipping without the min).
    loss : {"mse", "cross_entropy"} or callable, default "mse"
    batch_size : int or None, default 64
        Mini-batch size, drawn with replacement from a seeded generator; None uses all data.
    seed : int, default 0
        Seeds the mini-batch draws.
    show_progress : bool, default True
        Show a progress bar.
    callback : callable, optional
        ``callback(step, model)`` after every completed step, e.g. to measure dead units.
    record : bool, default True
        Record the per-step gradient evidence (norms, per-layer norms, clipping cosine,
        update-to-data ratios). ``False`` records only the loss, which makes thousands of
        small steps several times faster.

    Returns
    -------
    History
        Stops early, with ``diverged_at`` set, at the first inf/NaN instead of raising.
    """
    check_int("steps", steps)
    check_positive("lr", lr)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_choice("clip_mode", clip_mode, CLIP_MODES)
    if clip is not None:
        check_positive("clip", clip)
    if batch_size is not None:
        check_int("batch_size", batch_size)
    check_positive("momentum", momentum, allow_zero=True)
    check_positive("weight_decay", weight_decay, allow_zero=True)
    if optimizer != "sgd" and momentum != 0:
        raise ValueError(f"momentum={momentum!r} is only used with optimizer='sgd', not "
                         f"optimizer={optimizer!r} (Adam keeps its own moment estimates).")
    check_seed("seed", seed)
    check_bool("show_progress", show_progress)
    check_bool("record", record)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback={callback!r} is not callable; expected callback(step, model).")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model is a {type(model).__name__}; expected a torch.nn.Module.")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError(f"model={type(model).__name__} has no trainable parameters; expected "
                         "a model with weights that require gradients.")
    loss_fn = get_loss(loss)
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(f"data is a {type(data).__name__}; expected a pair (x, y) of inputs "
                         "and targets.")
    try:
        x, y = as_batch(*data, loss)
    except ValueError as error:
        raise ValueError(f"data=(x, y) is not allowed: {error}") from None
    dtype = next(model.parameters()).dtype
    largest = torch.finfo(dtype).max  # the optimiser multiplies in the parameters' dtype
    for name, value in (("lr", lr), ("clip", clip), ("momentum", momentum),
                        ("weight_decay", weight_decay)):
        if value is not None and value > largest:
            raise ValueError(f"{name}={value!r} is not allowed for {dtype} parameters; expected "
                             f"a finite number <= {largest:.3g}.")
    device = next(model.parameters()).device  # the data follow the model, as in gradient_flow
    x, y = x.to(device=device, dtype=dtype), prepare_target(y, loss, dtype).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    weights = [m.weight for m in model.modules()
               if isinstance(m, nn.Linear) and m.weight.requires_grad]  # frozen ones have no grad
    generator = torch.Generator().manual_seed(seed)
    history = History()
    model.train()
    for step in progress(range(1, steps + 1), desc="training", disable=not show_progress):
        if batch_size is None:
            xb, yb = x, y
        else:
            idx = torch.randint(len(x), (batch_size,), generator=generator)
            xb, yb = x[idx], y[idx]
        opt.zero_grad()
        output = forward(model, xb)
        if step == 1:
            check_loss_inputs(output, yb, loss)
        value = check_loss_value(loss_fn(output, yb), loss)
        if not math.isfinite(value.item()):
            history.diverged_at = step
            break
        value.backward()
        if not record:
            history.loss.append(value.item())
            if clip is not None:
                _clip(params, clip, clip_mode)
            opt.step()
        elif not _recorded_step(history, value, params, weights, clip, clip_mode, opt):
            history.diverged_at = step
            break
        if callback is not None:
            callback(step, model)
    return history


def _clip(params, clip: float, clip_mode: str) -> None:
    if clip_mode == "norm":
        nn.utils.clip_grad_norm_(params, clip)
    elif clip_mode == "normalize":
        grads = [p.grad for p in params if p.grad is not None]
        norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads))
        if norm > 0:
            for g in grads:
                g.mul_(float(clip / norm))
    else:
        nn.utils.clip_grad_value_(params, clip)


def _recorded_step(history, value, params, weights, clip, clip_mode, opt) -> bool:
    """One optimiser step that records its evidence; False (and no step) on an inf/NaN grad."""
    grad_norm = float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params
                                     if p.grad is not None)))
    if not math.isfinite(grad_norm):
        return False
    history.loss.append(value.item())
    history.grad_norm.append(grad_norm)
    history.layer_grad_norms.append([float(w.grad.double().norm()) for w in weights])
    if clip is not None:
        raw = flat_gradient(params)
        _clip(params, clip, clip_mode)
        clipped = flat_gradient(params)
        clipped_norm = float(clipped.norm())
        history.clipped_grad_norm.append(clipped_norm)
        history.clip_cosine.append(float(raw @ clipped) / (grad_norm * clipped_norm)
                                   if grad_norm > 0 and clipped_norm > 0 else 1.0)
    else:
        history.clipped_grad_norm.append(grad_norm)
        history.clip_cosine.append(1.0)
    before = [w.detach().clone() for w in weights]
    opt.step()
    history.update_ratios.append(
        [float((w.detach() - b).norm() / (b.norm() + 1e-30)) for w, b in zip(weights, before)])
    return True
