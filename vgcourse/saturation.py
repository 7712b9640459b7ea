"""What activation functions do to units: saturation, dead units, self-normalisation.

Measurements on any model with a ``hidden`` list of layers (each with a ``.linear``
submodule and an ``activation_name``, as :func:`vgcourse.mlp` builds) and the two training
experiments of chapter 2: the saturation of the top sigmoid layer (Glorot & Bengio 2010) and
dying ReLUs. The mean-field prediction of the saturated fraction is a closed form, in
:mod:`vgcourse.theory` (:func:`vgcourse.theory.predicted_saturated_fraction`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import nn

from ._validation import check_choice, check_int, check_positive
from .activations import Activation, get_activation
from .losses import get_loss, prepare_target
from .probe import DEAD_THRESHOLD, SATURATION_THRESHOLD, hidden_layers


def _activation_of(layer: nn.Module) -> Activation:
    name = getattr(layer, "activation_name", None)
    if name is None:
        raise ValueError(
            f"layer={type(layer).__name__} has no `activation_name`; build the model with "
            "vgcourse.mlp so that every hidden layer names its activation."
        )
    return get_activation(name)


def preactivations(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """What enters each hidden layer's activation on ``x``, in a forward pass of the model.

    For a plain layer that is u_l = W_l h_{l-1} + b_l; for a normalised one the normalisation's
    output (``layer.pre_activation``), and residual blocks see their skip connections: the
    values are read from the model's own forward pass, as :func:`vgcourse.gradient_flow`
    reads them. The pass runs on a copy, so batch-norm running statistics are left alone.

    Parameters
    ----------
    model : nn.Module
        A model with a ``hidden`` list of layers, such as :func:`vgcourse.mlp` builds.
    x : torch.Tensor
        Input batch of shape ``(batch, in_features)``, cast to the model's dtype.

    Returns
    -------
    list of Tensor
        One ``(batch, width)`` tensor per hidden layer, input side first (no gradient).
    """
    hidden_layers(model)
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        raise ValueError(f"x must be a 2-D tensor (batch, features), got {x!r:.60}.")
    work = copy.deepcopy(model)
    dtype = next(work.parameters()).dtype
    out: list[torch.Tensor] = []
    hooks = [getattr(layer, "pre_activation", layer.linear).register_forward_hook(
        lambda module, inputs, output: out.append(output.detach()))
        for layer in hidden_layers(work)]
    try:
        with torch.no_grad():
            work(x.to(dtype))
    finally:
        for hook in hooks:
            hook.remove()
    return out


def layer_statistics(model: nn.Module, x: torch.Tensor) -> tuple[list[float], list[float]]:
    """Mean and variance of every hidden layer's activations h_l over the batch and the units.

    Returns
    -------
    means, variances : list of float
        One entry per hidden layer, input side first.
    """
    means, variances = [], []
    for layer, u in zip(hidden_layers(model), preactivations(model, x)):
        with torch.no_grad():
            h = layer.activation(u).double()
        means.append(float(h.mean()))
        variances.append(float(h.var()))
    return means, variances


def dead_fraction(
    model: nn.Module, x: torch.Tensor, threshold: float = DEAD_THRESHOLD
) -> list[float]:
    """Share of each hidden layer's units that are dead on the whole batch ``x``.

    A unit is dead when abs(φ'(u)) ≤ ``threshold``·sup abs(φ') on every example: no example then
    sends it a usable gradient, so its incoming weights and bias stop learning.

    Parameters
    ----------
    model : nn.Module
        A model built by :func:`vgcourse.mlp` (or with the same layer layout).
    x : torch.Tensor
        The examples to test the units on (the larger, the stricter the test).
    threshold : float, default DEAD_THRESHOLD (1e-3)
        Relative derivative below which an example counts as passing no gradient. ``0`` counts
        exact zeros only.

    Returns
    -------
    list of float
        One fraction in [0, 1] per hidden layer.
    """
    check_positive("threshold", threshold, allow_zero=True)
    out = []
    for layer, u in zip(hidden_layers(model), preactivations(model, x)):
        act = _activation_of(layer)
        # off on every example ⇔ the largest slope over the batch is off (amax is far faster
        # than a boolean all() over the batch dimension)
        dead = act.derivative(u).abs().amax(dim=0) <= threshold * act.derivative_sup
        out.append(float(dead.double().mean()))
    return out


def silent_fraction(model: nn.Module, x: torch.Tensor) -> list[float]:
    """Share of each hidden layer's units whose pre-activation is ≤ 0 on every example of ``x``.

    For ReLU this is the dead fraction; for leaky ReLU, ELU and GELU the same units still receive
    a gradient (small, but not zero), so they can come back.
    """
    return [float((u.amax(dim=0) <= 0).double().mean()) for u in preactivations(model, x)]


def saturated_fraction(
    model: nn.Module, x: torch.Tensor, threshold: float = SATURATION_THRESHOLD
) -> list[float]:
    """Share of unit-examples of each hidden layer with abs(φ'(u)) < ``threshold``·sup abs(φ').

    The same definition as ``GradientFlow.saturated_fraction``, but for every
    activation (for ReLU it counts the negative side, where φ' = 0).
    """
    check_positive("threshold", threshold)
    out = []
    for layer, u in zip(hidden_layers(model), preactivations(model, x)):
        act = _activation_of(layer)
        out.append(float((act.derivative(u).abs() < threshold * act.derivative_sup)
                         .double().mean()))
    return out


def gradient_samples(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: str = "mse",
    kind: str = "activation",
    dtype: torch.dtype = torch.float64,
) -> list[torch.Tensor]:
    """Every entry of one layer's gradient, for each hidden layer: the distribution behind a norm.

    One forward and backward pass on a float64 copy of the model (the model itself is left
    untouched), so entries far below float32's range stay visible.

    Parameters
    ----------
    model : nn.Module
        A model built by :func:`vgcourse.mlp`.
    x, y : torch.Tensor
        Inputs and targets.
    loss : {"mse", "cross_entropy"} or callable, default "mse"
    kind : {"activation", "weight"}, default "activation"
        ``"activation"``: the entries of ∂loss/∂h_l (one per example and unit), whose sum of
        squares is the norm that :func:`vgcourse.gradient_flow` reports and mean-field theory
        predicts. ``"weight"``: the entries of ∂loss/∂W_l.
    dtype : torch.dtype, default torch.float64

    Returns
    -------
    list of Tensor
        One flat float64 tensor of absolute values per hidden layer, input side first.
    """
    import copy

    check_choice("kind", kind, ("activation", "weight"))
    loss_fn = get_loss(loss)
    hidden_layers(model)
    work = copy.deepcopy(model).to(dtype)
    layers = hidden_layers(work)
    outputs = []
    hooks = [layer.register_forward_hook(lambda m, i, o: outputs.append(o)) for layer in layers]
    try:
        value = loss_fn(work(x.to(dtype)), prepare_target(y, loss, dtype))
    finally:
        for hook in hooks:
            hook.remove()
    targets = outputs if kind == "activation" else [layer.linear.weight for layer in layers]
    grads = torch.autograd.grad(value, targets)
    return [g.detach().abs().flatten().double() for g in grads]


# -- chapter 2's training experiments ------------------------------------------------------------


@dataclass
class UnitHistory:
    """Per-layer unit statistics recorded during a training run.

    Attributes
    ----------
    steps : list of int
        The steps at which the statistics were recorded (0 = before training).
    layer_mean : list of list of float
        Mean activation of each hidden layer on the probe batch, per recorded step.
    dead : list of list of float
        :func:`dead_fraction` of each hidden layer, per recorded step.
    silent : list of list of float
        :func:`silent_fraction` of each hidden layer, per recorded step.
    dead_units : list of list of Tensor
        Per recorded step, one boolean tensor per hidden layer: which units were dead.
    loss : list of float
        Training loss of every step's mini-batch.
    diverged_at : int or None
        The first step with an inf/NaN loss; training stopped there.
    """

    steps: list[int] = field(default_factory=list)
    layer_mean: list[list[float]] = field(default_factory=list)
    dead: list[list[float]] = field(default_factory=list)
    silent: list[list[float]] = field(default_factory=list)
    dead_units: list[list[torch.Tensor]] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    diverged_at: int | None = None

    def ever_dead(self) -> list[int]:
        """Per hidden layer, the number of units that were dead at one recorded step or more."""
        return [int(torch.stack(layer).any(dim=0).sum()) for layer in zip(*self.dead_units)]

    def revived(self) -> list[int]:
        """Per hidden layer, the number of units that were dead at a recorded step and alive at a
        later one: units that came back.

        A dead ReLU unit of the first layer receives exactly zero gradient, so under plain SGD it
        cannot come back; a unit of a deeper layer can, when the layers below it change its
        inputs.
        """
        out = []
        for layer in zip(*self.dead_units):
            dead = torch.stack(layer)  # (records, units)
            # dead at record t and alive at some later record: compare with the later records'
            # "alive at any later record" (a reversed cumulative any).
            alive_later = torch.flip(torch.cummax(torch.flip((~dead).int(), [0]), 0).values,
                                     [0]).bool()
            later = torch.zeros_like(dead)
            later[:-1] = alive_later[1:]
            out.append(int((dead & later).any(dim=0).sum()))
        return out


def track_units(
    model: nn.Module,
    data: tuple[torch.Tensor, torch.Tensor],
    steps: int,
    lr: float,
    optimizer: str = "sgd",
    batch_size: int = 64,
    record_every: int = 10,
    probe_size: int = 512,
    seed: int = 0,
) -> UnitHistory:
    """Train ``model`` with cross-entropy and record its units' state every ``record_every`` steps.

    Uses :func:`vgcourse.train` without its per-step norms, so thousands of small steps take
    seconds.

    Parameters
    ----------
    model : nn.Module
        Built by :func:`vgcourse.mlp`; trained in place.
    data : (x, y)
        Inputs and integer class labels.
    steps, lr : int, float
        Number of steps and learning rate.
    optimizer : {"sgd", "adam"}, default "sgd"
    batch_size : int, default 64
        Mini-batches are drawn with replacement from a generator seeded by ``seed``.
    record_every : int, default 10
    probe_size : int, default 512
        The first ``probe_size`` examples are the fixed probe batch the statistics use (pass
        ``len(x)`` to judge a unit dead only when it is off on every training example).

    Returns
    -------
    UnitHistory
    """
    check_int("steps", steps)
    check_positive("lr", lr)
    check_choice("optimizer", optimizer, ("sgd", "adam"))
    check_int("batch_size", batch_size)
    check_int("record_every", record_every)
    check_int("probe_size", probe_size)
    from .training import train

    x, y = data
    probe = x[:probe_size].to(next(model.parameters()).dtype)
    history = UnitHistory()

    def record(step, model):
        if step % record_every == 0:
            # One forward pass for every statistic (the definitions of layer_statistics,
            # dead_fraction and silent_fraction, evaluated on the same pre-activations).
            means, dead, silent, masks = [], [], [], []
            for layer, u in zip(hidden_layers(model), preactivations(model, probe)):
                act = _activation_of(layer)
                with torch.no_grad():
                    means.append(float(layer.activation(u).double().mean()))
                    mask = (act.derivative(u).abs().amax(dim=0)
                            <= DEAD_THRESHOLD * act.derivative_sup)
                masks.append(mask)
                dead.append(float(mask.double().mean()))
                silent.append(float((u.amax(dim=0) <= 0).double().mean()))
            history.steps.append(step)
            history.layer_mean.append(means)
            history.dead.append(dead)
            history.silent.append(silent)
            history.dead_units.append(masks)

    record(0, model)
    run = train(model, (x, y), steps, lr, optimizer=optimizer, loss="cross_entropy",
                batch_size=batch_size, seed=seed, record=False, callback=record,
                show_progress=steps >= 1000)
    history.loss, history.diverged_at = run.loss, run.diverged_at
    return history


def glorot_saturation(
    steps: int = 3000,
    depth: int = 4,
    width: int = 256,
    lr: float = 0.1,
    batch_size: int = 10,
    record_every: int = 50,
    seed: int = 0,
) -> UnitHistory:
    """Glorot & Bengio (2010), section 3, at CPU scale: sigmoid layers saturate from the top.

    ``depth`` sigmoid layers of ``width`` units with the "standard" initialisation
    W, b ~ U[−1/sqrt(n), 1/sqrt(n)] (PyTorch's default), trained by SGD with cross-entropy on a
    10-class Gaussian mixture in 64 dimensions (:func:`vgcourse.data.gaussian_clusters`, 4096
    points). The mean activation of the top hidden layer falls toward 0 while the lower layers
    stay near 0.5.
    """
    from .data import gaussian_clusters
    from .models import mlp

    x, y = gaussian_clusters(n=4096, features=64, classes=10, seed=seed)
    model = mlp(depth, width, activation="sigmoid", init="default", in_features=64,
                out_features=10, seed=seed)
    return track_units(model, (x, y), steps, lr, batch_size=batch_size,
                       record_every=record_every, seed=seed)
