"""Gradients in low precision: float16 and bfloat16 on the CPU, and loss scaling.

Everything here runs in the real formats: PyTorch computes float16 and bfloat16 matrix
products, activations and their backward passes on the CPU, with IEEE rounding. Nothing is
emulated; only the bookkeeping (unscaling, norms, comparisons) is done in float64.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from ._validation import check_choice, check_int, check_positive, check_seed
from .losses import get_loss, prepare_target

LOW_PRECISION = {"float16": torch.float16, "bfloat16": torch.bfloat16,
                 "float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class FormatLimits:
    """The range of a floating-point format.

    Attributes
    ----------
    max : float
        Largest finite number; anything that rounds above it becomes inf.
    smallest_normal : float
        Smallest number with full precision.
    smallest_subnormal : float
        Smallest positive number at all; below half of it a value rounds to exactly 0.
    eps : float
        Spacing of numbers just above 1 (relative precision is eps/2).
    """

    max: float
    smallest_normal: float
    smallest_subnormal: float
    eps: float


def format_limits(dtype: torch.dtype | str) -> FormatLimits:
    """Range and precision of a floating-point format, from ``torch.finfo``.

    The smallest subnormal is smallest_normal · eps: the subnormals extend the range down by
    one mantissa's worth of bits (2⁻²⁴ ≈ 6e-8 for float16, ≈ 9e-41 for bfloat16).
    """
    dtype = _dtype(dtype)
    info = torch.finfo(dtype)
    return FormatLimits(max=float(info.max), smallest_normal=float(info.tiny),
                        smallest_subnormal=float(info.tiny) * float(info.eps),
                        eps=float(info.eps))


def gradients_in_precision(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    dtype: torch.dtype | str = torch.float16,
    loss_scale: float = 1.0,
    loss: str = "mse",
) -> list[torch.Tensor]:
    """Weight gradients of each ``nn.Linear`` of ``model``, computed entirely in ``dtype``.

    The model is copied and cast; forward pass, loss and backward pass run in ``dtype`` on the
    CPU, except the loss itself, which is computed and scaled in float32 from the model's
    output, as ``torch.autocast`` does. With loss scaling (Micikevicius et al. 2018) the loss is
    multiplied by ``loss_scale`` before the backward pass, and each gradient is divided by it
    afterwards, in float64, as a mixed-precision optimiser does with its float32 master copy.

    Parameters
    ----------
    model : nn.Module
        Left untouched.
    x, y : Tensor
        Inputs and targets.
    dtype : torch.dtype or {"float16", "bfloat16", "float32", "float64"}, default float16
    loss_scale : float, default 1
        The factor S; a power of two keeps the scaling itself exact.
    loss : {"mse", "cross_entropy"}, default "mse"

    Returns
    -------
    list of Tensor
        One float64 tensor per Linear layer (input first): the unscaled gradient. Entries the
        format flushed to zero are exactly 0; entries that overflowed are inf or NaN.
    """
    dtype = _dtype(dtype)
    check_positive("loss_scale", loss_scale)
    loss_fn = get_loss(loss)
    work = copy.deepcopy(model).to(dtype)
    for p in work.parameters():
        p.grad = None
    wide = torch.float64 if dtype == torch.float64 else torch.float32
    value = loss_fn(work(x.to(dtype)).to(wide), prepare_target(y, loss, wide))
    scaled = value * loss_scale
    weights = [m.weight for m in work.modules() if isinstance(m, nn.Linear)]
    grads = torch.autograd.grad(scaled, weights, allow_unused=True)
    return [torch.zeros_like(w, dtype=torch.float64) if g is None else g.double() / loss_scale
            for w, g in zip(weights, grads)]


def underflow_fraction(reference: torch.Tensor, low: torch.Tensor) -> float:
    """Share of the entries that are nonzero in ``reference`` but exactly zero in ``low``."""
    if reference.shape != low.shape:
        raise ValueError(
            f"reference has shape {tuple(reference.shape)} but low has {tuple(low.shape)}; "
            "they must match."
        )
    nonzero = reference != 0
    count = int(nonzero.sum())
    return float(((low == 0) & nonzero).sum()) / count if count else 0.0


def overflow_fraction(low: torch.Tensor) -> float:
    """Share of the entries of ``low`` that are inf or NaN."""
    return float((~torch.isfinite(low)).double().mean()) if low.numel() else 0.0


def relu_gates(model: nn.Module, x: torch.Tensor,
               dtype: torch.dtype | str = torch.float64) -> list[torch.Tensor]:
    """The on/off pattern of every ``nn.ReLU`` of ``model`` on ``x``, computed in ``dtype``.

    A ReLU passes its gradient where its input is positive and blocks it elsewhere, so this
    pattern decides which gradient entries can be nonzero. Rounding in a low-precision format
    can push an input that is slightly positive in float64 to zero or below and flip its gate.

    Parameters
    ----------
    model : nn.Module
        Left untouched (a copy is cast to ``dtype``).
    x : Tensor
    dtype : torch.dtype or str, default torch.float64

    Returns
    -------
    list of bool Tensor
        One per ``nn.ReLU`` module, in the order they run: True where the input was > 0.
    """
    dtype = _dtype(dtype)
    work = copy.deepcopy(model).to(dtype)
    gates = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: gates.append(inp[0] > 0))
             for m in work.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            work(x.to(dtype))
    finally:
        for h in hooks:
            h.remove()
    return gates


def gradients_with_gates(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    gates: list[torch.Tensor],
    loss: str = "mse",
) -> list[torch.Tensor]:
    """Float64 weight gradients of each ``nn.Linear`` with every ReLU's on/off pattern forced.

    Each ``nn.ReLU`` computes z·gate instead of max(z, 0), with ``gates`` from
    :func:`relu_gates` (e.g. of a bfloat16 forward pass); all arithmetic is float64. Gradients
    that are exactly zero here but not in plain float64 were zeroed by the gates alone, not by
    any rounding of the gradient itself.

    Returns
    -------
    list of Tensor
        One float64 tensor per Linear layer (input first), like :func:`gradients_in_precision`.
    """
    work = copy.deepcopy(model).to(torch.float64)
    relus = [m for m in work.modules() if isinstance(m, nn.ReLU)]
    if len(relus) != len(gates):
        raise ValueError(f"gates has {len(gates)} patterns but the model has {len(relus)} ReLUs.")
    hooks = [m.register_forward_hook(lambda mod, inp, out, g=g: inp[0] * g.to(inp[0].dtype))
             for m, g in zip(relus, gates)]
    try:
        loss_fn = get_loss(loss)
        value = loss_fn(work(x.to(torch.float64)), prepare_target(y, loss, torch.float64))
        weights = [m.weight for m in work.modules() if isinstance(m, nn.Linear)]
        grads = torch.autograd.grad(value, weights, allow_unused=True)
    finally:
        for h in hooks:
            h.remove()
    return [torch.zeros_like(w) if g is None else g.detach() for w, g in zip(weights, grads)]


def amp_clipped_norms(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    tau: float,
    scale: float = 2.0**16,
    unscale_first: bool = True,
    dtype: torch.dtype | str = torch.float16,
) -> tuple[float, float]:
    """One mixed-precision backward pass with ``torch.amp.GradScaler``, then ``clip_grad_norm_``.

    The forward pass runs under ``torch.autocast("cpu", dtype)``, the scaler multiplies the
    loss by ``scale`` before the backward pass, and ``clip_grad_norm_(params, tau)`` is called
    either after ``scaler.unscale_(optimizer)`` (the documented order) or before it, on the
    scaled gradient. The model is copied; nothing is updated.

    Parameters
    ----------
    model : nn.Module
        A float32 model (left untouched).
    x, y : Tensor
    tau : float
        The clipping threshold.
    scale : float, default 2**16
        The scaler's loss scale S (GradScaler's default initial scale).
    unscale_first : bool, default True
        Call ``scaler.unscale_`` before clipping (right) or after it (the pitfall).
    dtype : {"float16", "bfloat16"} or torch.dtype, default float16
        The autocast type.

    Returns
    -------
    grad_norm : float
        Norm of the true gradient, ‖g‖ (unscaled, before clipping).
    applied_norm : float
        Norm of the gradient the optimiser would use (unscaled, after clipping):
        min(‖g‖, τ) in the right order, τ/S whenever S‖g‖ > τ in the wrong one.
    """
    check_positive("tau", tau)
    check_positive("scale", scale)
    dtype = _dtype(dtype)
    work = copy.deepcopy(model).float()
    params = [p for p in work.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.0)
    scaler = torch.amp.GradScaler("cpu", init_scale=scale)
    with torch.autocast("cpu", dtype=dtype):
        out = work(x.float())
    value = nn.functional.mse_loss(out.float(), y.float())
    scaler.scale(value).backward()
    if unscale_first:
        scaler.unscale_(opt)
        grad_norm = _norm(params)
        nn.utils.clip_grad_norm_(params, tau)
    else:
        grad_norm = _norm(params) / scale
        nn.utils.clip_grad_norm_(params, tau)
        scaler.unscale_(opt)
    return grad_norm, _norm(params)


def _norm(params) -> float:
    return float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params
                                if p.grad is not None)))


def _dtype(dtype) -> torch.dtype:
    if isinstance(dtype, str):
        check_choice("dtype", dtype, LOW_PRECISION)
        return LOW_PRECISION[dtype]
    check_choice("dtype", dtype, LOW_PRECISION.values())
    return dtype


#: The modes of :func:`train_mixed_precision`: the autocast type and whether a scaler runs.
MIXED_MODES = {"float32": (None, False), "float16": (torch.float16, False),
               "float16+scaling": (torch.float16, True), "bfloat16": (torch.bfloat16, False)}


@dataclass
class MixedPrecisionRun:
    """The record of one :func:`train_mixed_precision` run.

    Attributes
    ----------
    mode : str
    losses : list of float
        The unscaled training loss of every step (float32, as the forward pass computed it).
    scales : list of float
        The loss scale S used at every step (1 without a scaler).
    skipped : list of int
        Steps the scaler skipped because a gradient was inf or NaN.
    lost : list of list of float
        At every step, per weight matrix (input first): the share of its gradient entries that
        are nonzero in float32 at the same weights but exactly zero in the run's gradient.
    """

    mode: str
    losses: list[float]
    scales: list[float]
    skipped: list[int]
    lost: list[list[float]]


def train_mixed_precision(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    mode: str = "float16+scaling",
    steps: int = 100,
    lr: float = 1e-3,
    batch_size: int = 64,
    init_scale: float = 2.0**16,
    growth_interval: int = 50,
    seed: int = 0,
) -> MixedPrecisionRun:
    """Train a float32 ``model`` in place with Adam under CPU mixed precision, as on a GPU.

    The loop is PyTorch's documented one: the forward pass under ``torch.autocast("cpu",
    dtype)`` (matrix products, and so the activations and their gradients, in the 16-bit
    type), the cross-entropy loss in float32, weights and the optimiser state in float32. With
    ``"float16+scaling"`` a ``torch.amp.GradScaler`` scales the loss by S before the backward
    pass and unscales the gradients before the step: dynamic loss scaling (Micikevicius et
    al. 2018), which halves S and skips the step when a gradient overflows and doubles S after
    ``growth_interval`` clean steps. At every step the float32 gradient at the same weights is
    computed too, to count the entries the run's gradient lost to zero.

    Parameters
    ----------
    model : nn.Module
        A float32 classifier; changed in place.
    x, y : Tensor
        Inputs and integer class labels.
    mode : {"float32", "float16", "float16+scaling", "bfloat16"}, default "float16+scaling"
    steps : int, default 100
    lr : float, default 1e-3
        Adam's learning rate.
    batch_size : int, default 64
        Minibatches are drawn with replacement from a generator seeded by ``seed``.
    init_scale : float, default 2**16
        The scaler's first S (GradScaler's default).
    growth_interval : int, default 50
        Clean steps before the scaler doubles S (GradScaler's default is 2000).
    seed : int, default 0

    Returns
    -------
    MixedPrecisionRun
    """
    check_choice("mode", mode, MIXED_MODES)
    check_int("steps", steps)
    check_positive("lr", lr)
    check_int("batch_size", batch_size)
    check_positive("init_scale", init_scale)
    check_int("growth_interval", growth_interval)
    check_seed("seed", seed)
    dtype, scaling = MIXED_MODES[mode]
    params = [p for p in model.parameters() if p.requires_grad]
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
    opt = torch.optim.Adam(params, lr=lr)
    scaler = torch.amp.GradScaler("cpu", init_scale=init_scale,
                                  growth_interval=growth_interval, enabled=scaling)
    gen = torch.Generator().manual_seed(seed)
    run = MixedPrecisionRun(mode=mode, losses=[], scales=[], skipped=[], lost=[])
    for step in range(steps):
        index = torch.randint(0, len(x), (batch_size,), generator=gen)
        xb, yb = x[index].float(), y[index]
        reference = torch.autograd.grad(
            nn.functional.cross_entropy(model(xb), yb), weights)
        with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            out = model(xb)
        value = nn.functional.cross_entropy(out.float(), yb)
        opt.zero_grad(set_to_none=True)
        scale = float(scaler.get_scale()) if scaling else 1.0
        scaler.scale(value).backward()
        run.lost.append([underflow_fraction(r, w.grad) for r, w in zip(reference, weights)])
        run.losses.append(float(value.detach()))
        run.scales.append(scale)
        scaler.step(opt)
        scaler.update()
        if scaling and float(scaler.get_scale()) < scale:
            run.skipped.append(step)
    return run
