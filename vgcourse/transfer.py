"""Transfer learning on the digits: pretrain a trunk on some classes, reuse it for others.

A trunk (the hidden layers of an MLP) is trained on one set of digit classes; a new read-out
is then trained for other classes from a few examples each, with the trunk frozen, fine-tuned
at the read-out's learning rate, or fine-tuned with discriminative learning rates (Howard &
Ruder 2018): each layer's rate is the rate of the layer above divided by a constant factor, so
the lowest, most general layers change least.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ._validation import check_choice, check_int, check_positive, check_seed
from .data import digits
from .models import mlp

#: The ways of reusing a pretrained trunk that :func:`reuse_trunk` knows.
STRATEGIES = ("scratch", "frozen", "fine-tune", "discriminative")
#: Howard & Ruder's (2018) factor between the learning rates of consecutive layers.
ULMFIT_DECAY = 2.6


def digit_classes(classes, split: str = "train", per_class: int | None = None, seed: int = 0,
                  dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """The digits of ``classes`` from :func:`vgcourse.data.digits`, labels renumbered 0, 1, ….

    Parameters
    ----------
    classes : sequence of int
        Digits to keep, each in 0–9; label ``classes[i]`` becomes ``i``.
    split : {"train", "test"}, default "train"
    per_class : int, optional
        Keep only this many examples of each class, chosen by a generator seeded by ``seed``.
    seed : int, default 0
    dtype : torch.dtype, default torch.float32
    """
    classes = list(classes)
    if not classes or any(c not in range(10) for c in classes) or len(set(classes)) != len(classes):
        raise ValueError(f"classes={classes!r} is not allowed; expected distinct digits 0-9.")
    if per_class is not None:
        check_int("per_class", per_class)
    check_seed("seed", seed)
    x, y = digits(split, dtype=dtype)
    gen = torch.Generator().manual_seed(seed)
    keep = []
    for c in classes:
        index = torch.nonzero(y == c).flatten()
        if per_class is not None:
            index = index[torch.randperm(len(index), generator=gen)[:per_class]]
        keep.append(index)
    keep = torch.cat(keep)
    relabel = torch.full((10,), -1, dtype=torch.int64)
    relabel[torch.tensor(classes)] = torch.arange(len(classes))
    return x[keep], relabel[y[keep]]


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, groups, steps: int) -> list[float]:
    """Full-batch Adam on cross-entropy for ``steps`` steps with parameter ``groups``.

    ``groups`` is a list of ``{"params": ..., "lr": ...}`` dicts as ``torch.optim.Adam`` takes
    them (:func:`discriminative_groups` builds one). Returns the loss before every step.
    """
    check_int("steps", steps)
    opt = torch.optim.Adam(groups)
    losses = []
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        value = nn.functional.cross_entropy(model(x), y)
        value.backward()
        opt.step()
        losses.append(float(value.detach()))
    return losses


def discriminative_groups(model: nn.Module, lr: float, decay: float = ULMFIT_DECAY) -> list[dict]:
    """Adam parameter groups for a :func:`vgcourse.mlp`: read-out at ``lr``, hidden layer l of
    L at ``lr / decay**(L + 1 - l)`` (layer 1 next to the input gets the smallest rate).

    ``decay = 1`` gives one rate for all; Howard & Ruder (2018) use 2.6.
    """
    check_positive("lr", lr)
    check_positive("decay", decay)
    hidden = list(model.hidden)
    groups = [{"params": list(layer.parameters()), "lr": lr / decay ** (len(hidden) - i)}
              for i, layer in enumerate(hidden)]
    return groups + [{"params": list(model.output.parameters()), "lr": lr}]


def pretrained_trunk(classes=(0, 1, 2, 3, 4), depth: int = 3, width: int = 64,
                     steps: int = 100, lr: float = 3e-3, seed: int = 0) -> nn.Module:
    """A ReLU MLP (He initialisation) trained full-batch with Adam on the digits of ``classes``.

    Returns the whole network; :func:`reuse_trunk` keeps its hidden layers (the trunk) and
    gives it a new read-out.
    """
    check_seed("seed", seed)
    x, y = digit_classes(classes)
    model = mlp(depth, width, activation="relu", init="he", in_features=64,
                out_features=len(classes), seed=seed)
    fit(model, x, y, [{"params": model.parameters(), "lr": lr}], steps)
    return model


def reuse_trunk(pretrained: nn.Module, x: torch.Tensor, y: torch.Tensor, strategy: str,
                classes: int, steps: int = 60, lr: float = 3e-3, decay: float = ULMFIT_DECAY,
                seed: int = 0) -> nn.Module:
    """A copy of ``pretrained`` with a new read-out for ``classes`` classes, trained on (x, y).

    Parameters
    ----------
    pretrained : MLP
        A :func:`vgcourse.mlp` (left untouched).
    x, y : Tensor
        The new task's training examples and labels 0 … classes − 1.
    strategy : {"scratch", "frozen", "fine-tune", "discriminative"}
        ``"scratch"``: a fresh network of the same shape, every layer trained at ``lr``.
        ``"frozen"``: the trunk's parameters get ``requires_grad=False``, only the read-out
        trains. ``"fine-tune"``: every layer at ``lr``. ``"discriminative"``: the rates of
        :func:`discriminative_groups`.
    classes : int
        Outputs of the new read-out.
    steps : int, default 60
    lr : float, default 3e-3
        The read-out's rate (Adam).
    decay : float, default 2.6
        The factor between consecutive layers' rates for ``"discriminative"``.
    seed : int, default 0
        Seeds the new read-out (and the fresh network for ``"scratch"``).

    Returns
    -------
    MLP
        The trained network.
    """
    check_choice("strategy", strategy, STRATEGIES)
    check_int("classes", classes, minimum=2)
    check_positive("lr", lr)
    check_seed("seed", seed)
    model = new_head(pretrained, classes, seed=seed, fresh=strategy == "scratch")
    if strategy == "frozen":
        for p in model.hidden.parameters():
            p.requires_grad_(False)
        groups = [{"params": list(model.output.parameters()), "lr": lr}]
    elif strategy == "discriminative":
        groups = discriminative_groups(model, lr, decay)
    else:
        groups = [{"params": list(model.parameters()), "lr": lr}]
    fit(model, x, y, groups, steps)
    return model


def new_head(pretrained: nn.Module, classes: int, seed: int = 0, fresh: bool = False
             ) -> nn.Module:
    """A copy of the :func:`vgcourse.mlp` ``pretrained`` with a new random read-out for
    ``classes`` outputs (PyTorch's default initialisation, seeded by ``seed``); with
    ``fresh=True`` the hidden layers are re-drawn too (He initialisation)."""
    check_int("classes", classes, minimum=2)
    check_seed("seed", seed)
    model = copy.deepcopy(pretrained)
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        if fresh:
            depth, width = len(model.hidden), model.output.in_features
            in_features = model.hidden[0].linear.in_features
            dtype = model.output.weight.dtype
            model = mlp(depth, width, activation="relu", init="he", in_features=in_features,
                        out_features=classes, seed=seed, dtype=dtype)
        else:
            old = model.output
            model.output = nn.Linear(old.in_features, classes, dtype=old.weight.dtype)
    finally:
        torch.random.set_rng_state(gen_state)
    return model
