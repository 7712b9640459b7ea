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
        opt = _Sgd(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    else:
        opt = _Adam(params, lr=lr, weight_decay=weight_decay)
    weights = [m.weight for m in model.modules()
               if isinstance(m, nn.Linear) and m.weight.requires_grad]  # frozen ones have no grad
    before = [w.detach().clone() for w in weights]  # W before each step, overwritten in place
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
        loss_value = value.item()
        if not math.isfinite(loss_value):
            history.diverged_at = step
            break
        value.backward()
        if not record:
            history.loss.append(loss_value)
            if clip is not None:
                _clip(params, clip, clip_mode)
            opt.step()
        elif not _recorded_step(history, loss_value, params, weights, before, clip, clip_mode,
                                opt):
            history.diverged_at = step
            break
        if callback is not None:
            callback(step, model)
    return history


class _Optimizer:
    """What :func:`train` needs of a ``torch.optim`` optimiser: ``zero_grad()`` and ``step()``.

    :class:`_Sgd` and :class:`_Adam` perform exactly the updates of ``torch.optim.SGD`` and
    ``torch.optim.Adam`` with their default options (PyTorch's per-tensor path on the CPU):
    the same operations in the same order, so the weights agree bit for bit
    (``tests/test_train.py`` compares them). They leave out ``torch.optim``'s machinery around
    the update (hooks, profiler records, the compiler's guards), which costs more than the
    update itself on the course's small models, and whose first step imports PyTorch's
    compiler stack: about a second per kernel on a small machine. Each operation is applied
    to all tensors at once with ``torch._foreach_*``, which runs the same kernel per tensor.
    Parameters whose ``.grad`` is None are skipped, as ``torch.optim`` does.
    """

    def __init__(self, params):
        self.params = list(params)
        self.state: dict[torch.Tensor, dict] = {}

    def zero_grad(self) -> None:
        """Set every ``.grad`` to None (``torch.optim``'s default, ``set_to_none=True``)."""
        for p in self.params:
            p.grad = None

    def _with_grads(self) -> list[torch.Tensor]:
        return [p for p in self.params if p.grad is not None]


class _Sgd(_Optimizer):
    """``torch.optim.SGD(params, lr, momentum, weight_decay)``: no dampening, no Nesterov."""

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay

    @torch.no_grad()
    def step(self) -> None:
        """One update: g ← ∇ + λW; with momentum μ, b ← μb + g (b = g at first); W ← W − lr·b."""
        params = self._with_grads()
        if not params:
            return
        grads = [p.grad for p in params]
        if self.weight_decay != 0:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        if self.momentum != 0:
            old = [i for i, p in enumerate(params) if p in self.state]
            if old:
                buffers = [self.state[params[i]]["momentum_buffer"] for i in old]
                torch._foreach_mul_(buffers, self.momentum)
                torch._foreach_add_(buffers, [grads[i] for i in old], alpha=1)
            for i, p in enumerate(params):
                if p not in self.state:
                    self.state[p] = {"momentum_buffer": grads[i].detach().clone()}
            grads = [self.state[p]["momentum_buffer"] for p in params]
        torch._foreach_add_(params, grads, alpha=-self.lr)


class _Adam(_Optimizer):
    """``torch.optim.Adam(params, lr, weight_decay)`` with betas (0.9, 0.999) and eps 1e-8."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(params)
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps

    @torch.no_grad()
    def step(self) -> None:
        """One update with bias-corrected moment estimates (Kingma & Ba 2015, Algorithm 1)."""
        groups: dict[int, list[torch.Tensor]] = {}  # parameters by their own step count
        for p in self._with_grads():
            state = self.state.get(p)
            if state is None:
                state = self.state[p] = {
                    "step": 0, "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                    "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
            state["step"] += 1
            groups.setdefault(state["step"], []).append(p)
        beta1, beta2 = self.betas
        for step, params in groups.items():
            grads = [p.grad for p in params]
            if self.weight_decay != 0:
                grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
            exp_avgs = [self.state[p]["exp_avg"] for p in params]
            exp_avg_sqs = [self.state[p]["exp_avg_sq"] for p in params]
            torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
            torch._foreach_mul_(exp_avg_sqs, beta2)
            torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
            # PyTorch counts steps in a float tensor and computes the corrections in Python
            bias_correction1 = 1 - beta1 ** float(step)
            bias_correction2 = 1 - beta2 ** float(step)
            step_size = self.lr / bias_correction1
            denominators = torch._foreach_sqrt(exp_avg_sqs)
            torch._foreach_div_(denominators, bias_correction2 ** 0.5)
            torch._foreach_add_(denominators, self.eps)
            torch._foreach_addcdiv_(params, exp_avgs, denominators, value=-step_size)


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


def _recorded_step(history, loss_value, params, weights, before, clip, clip_mode, opt) -> bool:
    """One optimiser step that records its evidence; False (and no step) on an inf/NaN grad.

    The numbers are those of the plain per-tensor formulas, bit for bit: the gradient's norm
    is the square root of the running float64 sum, in the order of the parameters, of
    ``(g.double() ** 2).sum()`` for each tensor; each layer's ‖∂L/∂W‖ is
    ``w.grad.double().norm()``; each ‖ΔW‖/‖W‖ is ``(w - b).norm() / (b.norm() + 1e-30)`` in
    the weights' dtype (``tests/test_train.py`` compares them). They are computed with fewer,
    larger operations that give the same values: ``_foreach`` calls, and each tensor's sum
    of squares as one row of a stack of the tensors of its shape (a row sum adds the same
    numbers in the same order as the sum of the tensor alone).
    """
    grads = [p.grad for p in params if p.grad is not None]
    total = 0.0  # float64 additions in the order of the parameters, as sum() of 0-d tensors
    for part in _sums_of_squares(grads):
        total += part
    # torch's square root of the float64 sum, as before: math.sqrt differs from it in the last
    # bit for about one number in a hundred
    grad_norm = float(torch.tensor(total, dtype=torch.float64).sqrt())
    if not math.isfinite(grad_norm):
        return False
    history.loss.append(loss_value)
    history.grad_norm.append(grad_norm)
    history.layer_grad_norms.append(
        _as_floats(torch._foreach_norm([w.grad.double() for w in weights]) if weights else []))
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
    if not weights:  # no Linear layer: nothing to compare before and after
        opt.step()
        history.update_ratios.append([])
        return True
    with torch.no_grad():
        torch._foreach_copy_(before, weights)
        opt.step()
        norms = torch._foreach_norm([*torch._foreach_sub(weights, before), *before])
        moved, sizes = norms[:len(weights)], norms[len(weights):]
        ratios = torch._foreach_div(moved, torch._foreach_add(sizes, 1e-30))  # each in its dtype
    history.update_ratios.append(_as_floats(ratios))
    return True


def _sums_of_squares(grads: list[torch.Tensor]) -> list[float]:
    """``float((g.double() ** 2).sum())`` for each tensor, one stack per shape and dtype."""
    groups: dict[tuple, list[int]] = {}
    for i, g in enumerate(grads):
        groups.setdefault((g.shape, g.dtype), []).append(i)
    out = [0.0] * len(grads)
    for (shape, _), members in groups.items():
        block = torch.stack([grads[i] for i in members]).double()
        rows = block.pow_(2).reshape(len(members), shape.numel()).sum(dim=1).tolist()
        for i, value in zip(members, rows):
            out[i] = value
    return out


def _as_floats(tensors: list[torch.Tensor]) -> list[float]:
    """The values of 0-d tensors as Python floats."""
    if not tensors:
        return []
    if len({t.dtype for t in tensors}) == 1:
        return torch.stack(tensors).tolist()
    return [t.item() for t in tensors]

