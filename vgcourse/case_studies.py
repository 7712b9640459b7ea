"""Chapter 9's case studies: the fixes of chapters 2–7 on real data, with their evidence.

:func:`digits_network` builds the four image classifiers the chapter compares, and
:func:`run_case` trains one and records, at chosen steps, its test accuracy, the doctor's
verdict and the first layer's gradient evidence.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import torch
from torch import nn

from ._validation import check_choice, check_int
from .doctor import diagnose
from .losses import as_batch, check_loss_inputs, forward
from .models import mlp
from .training import History, train

#: The image classifiers of the case study: ``mlp`` arguments, in the order of the fixes.
DIGIT_NETWORKS = {
    "sigmoid": dict(activation="sigmoid", init="default"),
    "relu + he": dict(activation="relu", init="he"),
    "+ batch norm": dict(activation="relu", init="he", norm="batch"),
    "+ residual": dict(activation="relu", init="he", norm="batch", residual=True),
}


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``x`` whose largest output is the label ``y``, in evaluation mode.

    The model's train/eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            dtype = next(model.parameters()).dtype
            return float((model(x.to(dtype)).argmax(dim=-1) == y).double().mean())
    finally:
        model.train(was_training)


def conv_gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """‖∂L/∂W‖ of every convolution of ``model``, input side first, for the cross-entropy L.

    One forward and one backward pass on ``(x, y)`` in the model's current mode; the model's
    ``.grad`` fields are left as they were (the gradients are taken with ``autograd.grad``).

    Parameters
    ----------
    model : nn.Module
        A classifier with ``nn.Conv2d`` layers, e.g. from :func:`vgcourse.models.conv_net`.
    x : torch.Tensor
        Images, shape ``(n, C, H, W)``.
    y : torch.Tensor
        Integer labels, shape ``(n,)``.

    Returns
    -------
    list of float
        One norm per ``nn.Conv2d``, in the order of ``model.modules()``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model is a {type(model).__name__}; expected a torch.nn.Module.")
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not weights:
        raise ValueError(f"model={type(model).__name__} has no nn.Conv2d layer to measure.")
    x, y = as_batch(x, y, "cross_entropy")
    dtype = weights[0].dtype
    with torch.enable_grad():
        output = forward(model, x.to(dtype))
        check_loss_inputs(output, y, "cross_entropy")
        loss = nn.functional.cross_entropy(output, y)
        grads = torch.autograd.grad(loss, weights, allow_unused=True)
    return [0.0 if g is None else float(g.norm()) for g in grads]

def digits_network(name: str, depth: int = 10, width: int = 32, seed: int = 0,
                   dtype: torch.dtype = torch.float32) -> nn.Module:
    """One of the :data:`DIGIT_NETWORKS`, for 64 inputs and 10 classes.

    ``depth`` counts hidden weight layers: the residual network gets ``depth // 2`` blocks of
    two layers each (plus its input projection), so all four have the same number of
    trainable weight matrices give or take one.
    """
    check_choice("name", name, DIGIT_NETWORKS)
    check_int("depth", depth, minimum=2)
    kwargs = dict(DIGIT_NETWORKS[name])
    if kwargs.get("residual"):
        depth = depth // 2
    return mlp(depth, width, in_features=64, out_features=10, seed=seed, dtype=dtype, **kwargs)


@dataclass
class Checkpoint:
    """The evidence of a :func:`run_case` run at one step.

    ``first_grad`` and ``first_update`` are the median, over the last ``window`` steps, of the
    first layer's weight-gradient norm and update-to-data ratio ‖ΔW₁‖/‖W₁‖.
    """

    step: int
    accuracy: float
    verdict: str
    first_grad: float
    first_update: float


@dataclass
class CaseRun:
    """A trained case: the model, its :class:`~vgcourse.History` and its checkpoints by step."""

    name: str
    model: nn.Module
    history: History
    checkpoints: dict[int, Checkpoint] = field(default_factory=dict)

    @property
    def final(self) -> Checkpoint:
        """The checkpoint at the last step."""
        return self.checkpoints[max(self.checkpoints)]


def run_case(
    model: nn.Module,
    train_data: tuple[torch.Tensor, torch.Tensor],
    test_data: tuple[torch.Tensor, torch.Tensor],
    steps: int,
    lr: float = 0.05,
    momentum: float = 0.9,
    optimizer: str = "sgd",
    checkpoints: tuple[int, ...] = (),
    window: int = 20,
    name: str = "",
    seed: int = 0,
    show_progress: bool = True,
) -> CaseRun:
    """Train a classifier and record its evidence at chosen steps.

    Parameters
    ----------
    model : nn.Module
        Trained in place.
    train_data, test_data : (x, y)
        Inputs and integer labels.
    steps : int
        Optimiser steps (mini-batches of 64, cross-entropy loss).
    lr, momentum : float
        The learning rate, and SGD's momentum.
    optimizer : {"sgd", "adam"}, default "sgd"
    checkpoints : tuple of int
        Steps at which to record a :class:`Checkpoint`; the last step is always one.
    window : int, default 20
        Steps over which the first layer's gradient norm and update ratio are medianed.
    name : str
    seed : int, default 0
        Seeds the mini-batch draws.
    show_progress : bool, default True

    Returns
    -------
    CaseRun
        Each checkpoint's verdict is :func:`vgcourse.diagnose` on the first 256 test images.
    """
    check_int("steps", steps)
    check_int("window", window)
    marks = sorted({*checkpoints, steps})
    for mark in marks:
        check_int("checkpoints", mark)
        if mark > steps:
            raise ValueError(f"checkpoints={tuple(checkpoints)!r} is not allowed; expected "
                             f"steps between 1 and steps={steps}.")
    x_test, y_test = test_data
    dtype = next(model.parameters()).dtype
    probe = (x_test[:256].to(dtype), y_test[:256])
    found: dict[int, tuple[float, str]] = {}

    def callback(step, net):
        if step in marks:
            found[step] = (accuracy(net, x_test, y_test), diagnose(net, *probe).verdict)

    history = train(model, train_data, steps=steps, lr=lr,
                    momentum=momentum if optimizer == "sgd" else 0.0,  # Adam has no momentum
                    optimizer=optimizer, loss="cross_entropy", batch_size=64, seed=seed,
                    show_progress=show_progress, callback=callback)
    run = CaseRun(name=name, model=model, history=history)
    for step in sorted(found):
        lo = max(0, step - window)
        grads = [g[0] for g in history.layer_grad_norms[lo:step]]
        updates = [u[0] for u in history.update_ratios[lo:step]]
        acc, verdict = found[step]
        run.checkpoints[step] = Checkpoint(step, acc, verdict, statistics.median(grads),
                                           statistics.median(updates))
    return run


def case_table(runs: list[CaseRun], steps: tuple[int, ...] | None = None) -> str:
    """The case-study table as text: one row per run and checkpoint.

    ``steps`` keeps only the checkpoints at those steps (default: all of them).
    """
    width = max([len("network")] + [len(run.name) for run in runs]) + 2
    head = (f"{'network':<{width}}{'steps':>6}{'test acc':>10}{'doctor':>12}"
            f"{'‖∂L/∂W₁‖':>11}{'‖ΔW₁‖/‖W₁‖':>12}")
    rows = [head, "-" * len(head)]
    for run in runs:
        for c in run.checkpoints.values():
            if steps is not None and c.step not in steps:
                continue
            rows.append(f"{run.name:<{width}}{c.step:>6}{100 * c.accuracy:>9.1f}%{c.verdict:>12}"
                        f"{c.first_grad:>11.1e}{c.first_update:>12.1e}")
    return "\n".join(rows)
