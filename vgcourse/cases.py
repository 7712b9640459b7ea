"""Training runs with a known ailment, for diagnosis exercises (chapter 8).

Each case trains a 12-layer MLP on ten Gaussian clusters with one thing wrong. The exercise
shows only the evidence; :func:`vgcourse.check` knows the diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._validation import check_choice
from .data import gaussian_clusters
from .models import mlp
from .probe import GradientFlow, gradient_flow
from .train import History, train


@dataclass(frozen=True)
class Case:
    """The hidden configuration of one mystery run."""

    activation: str
    init: str
    lr: float
    std: float | None = None
    bias_shift: float = 0.0


#: The mystery runs by name. Their diagnoses live in ``vgcourse/checks/ch08_diagnosing.py``.
MYSTERIES = {
    "A": Case("sigmoid", "default", lr=0.1),
    "B": Case("relu", "he", lr=0.1),
    "C": Case("relu", "he", lr=0.01, bias_shift=-1.0),
    "D": Case("tanh", "normal", lr=0.01, std=1.0),
}


def run_case(case: Case, steps: int = 300, depth: int = 12, width: int = 64, seed: int = 0,
             show_progress: bool = True) -> tuple[History, GradientFlow]:
    """Train the case's model and measure it afterwards.

    Returns
    -------
    history : History
        The training record (loss, per-layer gradient norms, update-to-data ratios).
    flow : GradientFlow or None
        Activation and gradient statistics of the trained model on the training data; None
        when training diverged.
    """
    x, y = gaussian_clusters(n=2048, features=32, classes=10, seed=seed)
    model = mlp(depth, width, activation=case.activation, init=case.init, std=case.std,
                in_features=32, out_features=10, seed=seed)
    if case.bias_shift:
        with torch.no_grad():
            for layer in model.hidden:
                layer.linear.bias.add_(case.bias_shift)
    history = train(model, (x, y), steps=steps, lr=case.lr, momentum=0.9, loss="cross_entropy",
                    batch_size=64, seed=seed, show_progress=show_progress)
    if history.diverged:
        return history, None  # statistics of a blown-up model say nothing more
    return history, gradient_flow(model, x[:256], y[:256], loss="cross_entropy")


def mystery(name: str, show_progress: bool = True) -> tuple[History, GradientFlow]:
    """Run mystery case ``name`` ("A", "B", "C" or "D") and return its evidence."""
    check_choice("name", name, MYSTERIES)
    return run_case(MYSTERIES[name], show_progress=show_progress)
