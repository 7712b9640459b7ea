"""Training runs with a known ailment, for diagnosis exercises (chapter 8).

Each case trains a 12-layer MLP on ten Gaussian clusters, with one thing wrong or (a control)
nothing wrong. The exercise shows only the evidence; ``vgcourse.check`` knows the diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._validation import check_choice
from .data import gaussian_clusters
from .models import mlp
from .probe import GradientFlow, gradient_flow
from .training import History, train


@dataclass(frozen=True)
class Case:
    """The hidden configuration of one mystery run."""

    activation: str
    init: str
    lr: float
    std: float | None = None
    bias_shift: float = 0.0


#: The mystery runs by name. Their diagnoses live in ``vgcourse/checks/ch08_diagnosing.py``;
#: two runs share a diagnosis and one of the offered diagnoses fits none, so the exercise cannot
#: be solved by elimination.
MYSTERIES = {
    "A": Case("sigmoid", "default", lr=0.1),
    "B": Case("relu", "he", lr=0.1),
    "C": Case("relu", "he", lr=0.01),
    "D": Case("tanh", "normal", lr=0.01, std=1.0),
    "E": Case("relu", "he", lr=0.01, bias_shift=-1.0),
}

#: The seed of the mystery runs: not the seed 0 of chapter 8's demonstrations, so that the
#: dashboards are new evidence rather than copies of figures the chapter has already shown.
MYSTERY_SEED = 1
#: Training steps of a mystery run: enough for every ailment to show (the exploding runs blow up
#: or collapse within 50 to 150 steps, the healthy control reaches a loss near 0).
MYSTERY_STEPS = 200


def train_case(case: Case, steps: int = 300, depth: int = 12, width: int = 64, seed: int = 0,
               show_progress: bool = True, dtype: torch.dtype = torch.float64
               ) -> tuple[History, GradientFlow]:
    """Train the case's model and measure it afterwards.

    The model is float64 by default: a starved layer's updates (relative size ~1e-12) would be
    rounded away in float32 and its update-to-data ratio would read exactly 0.

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
                in_features=32, out_features=10, seed=seed, dtype=dtype)
    if case.bias_shift:
        with torch.no_grad():
            for layer in model.hidden:
                layer.linear.bias.add_(case.bias_shift)
    history = train(model, (x, y), steps=steps, lr=case.lr, momentum=0.9, loss="cross_entropy",
                    batch_size=64, seed=seed, show_progress=show_progress)
    if history.diverged:
        return history, None  # statistics of a blown-up model say nothing more
    return history, gradient_flow(model, x[:256], y[:256], loss="cross_entropy")


def mystery(name: str, show_progress: bool = True, seed: int = MYSTERY_SEED,
            steps: int = MYSTERY_STEPS) -> tuple[History, GradientFlow]:
    """Run mystery case ``name`` (a key of ``MYSTERIES``, "A" to "E") and return its evidence.

    Returns ``(history, flow)`` as ``train_case`` does, for ``MYSTERY_STEPS`` steps at seed
    ``MYSTERY_SEED`` unless ``steps`` or ``seed`` is given.
    """
    check_choice("name", name, MYSTERIES)
    return train_case(MYSTERIES[name], steps=steps, seed=seed, show_progress=show_progress)
