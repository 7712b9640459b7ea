"""Measurements of gradient flow through a model at one point of its parameter space."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import nn

from .activations import get_activation
from .losses import get_loss, prepare_target

# A unit is saturated where phi'(pre-activation) is below this fraction of sup|phi'|:
# for tanh that is |h| > 0.975, for the sigmoid h < 0.052 or h > 0.948.
SATURATION_THRESHOLD = 0.05


@dataclass
class GradientFlow:
    """Per-layer gradient and activation statistics, ordered from input to output.

    Lists indexed by hidden layer (``[0]`` is layer 1) hold: ``activation_grad_norms``
    ‖∂loss/∂h_l‖ over the batch, ``activation_mean`` and ``activation_std`` of h_l,
    ``saturated_fraction`` (share of unit-examples with φ' below 5 % of its supremum, for
    sigmoid and tanh; 0 for the others) and ``dead_fraction`` (share of units whose φ' is zero
    on every example of the batch). ``weight_grad_norms`` has one entry per Linear layer, output
    layer last, and ``weight_norms`` the matching Frobenius norms of the weights.
    """

    activation_grad_norms: list[float]
    weight_grad_norms: list[float]
    weight_norms: list[float]
    activation_mean: list[float]
    activation_std: list[float]
    saturated_fraction: list[float]
    dead_fraction: list[float]
    loss: float
    activation: str = ""
    extras: dict = field(default_factory=dict, repr=False)

    @property
    def depth(self) -> int:
        """Number of hidden layers measured."""
        return len(self.activation_grad_norms)

    def layer_ratios(self) -> list[float]:
        """‖∂loss/∂h_{l-1}‖ / ‖∂loss/∂h_l‖ for l = 2..L: the factor each layer applies."""
        g = self.activation_grad_norms
        return [g[i] / g[i + 1] if g[i + 1] else float("nan") for i in range(len(g) - 1)]

    def plot(self, ax=None, theory=None, label=None, color=None):
        """Draw the per-layer gradient norms; see :func:`vgcourse.plots.plot_gradient_flow`."""
        from .plots import plot_gradient_flow

        return plot_gradient_flow(self, ax=ax, theory=theory, label=label, color=color)


def hidden_layers(model: nn.Module) -> list[nn.Module]:
    """Return ``model.hidden`` as a list, or raise a ``ValueError`` explaining what is needed."""
    layers = getattr(model, "hidden", None)
    if not isinstance(layers, nn.ModuleList) or len(layers) == 0:
        raise ValueError(
            f"model={type(model).__name__} has no `hidden` ModuleList of layers; gradient_flow "
            "needs a model built by vgcourse.mlp (or any model exposing `model.hidden`, each "
            "layer with a `.linear` submodule)."
        )
    return list(layers)


def gradient_flow(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: str = "mse",
    dtype: torch.dtype | None = torch.float64,
) -> GradientFlow:
    """Measure how the gradient of the loss flows back through a model's hidden layers.

    One forward and one backward pass; the model and its ``.grad`` fields are left untouched.

    Parameters
    ----------
    model : nn.Module
        A model with a ``hidden`` ModuleList, such as one built by :func:`vgcourse.mlp`.
    x : torch.Tensor
        Input batch, shape ``(batch, in_features)``.
    y : torch.Tensor
        Targets: floats for ``"mse"``, class indices for ``"cross_entropy"``.
    loss : {"mse", "cross_entropy"} or callable, default "mse"
    dtype : torch.dtype or None, default torch.float64
        Precision of the measurement. The model is copied and cast when its dtype differs
        (float64 keeps gradients of 1e-300 visible where float32 flushes them to zero). ``None``
        measures in the model's own dtype.

    Returns
    -------
    GradientFlow

    Examples
    --------
    >>> import torch, vgcourse
    >>> model = vgcourse.mlp(depth=5, width=16)
    >>> flow = vgcourse.gradient_flow(model, torch.randn(8, 16), torch.randn(8, 1))
    >>> len(flow.activation_grad_norms)
    5
    """
    loss_fn = get_loss(loss)
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise ValueError(f"x and y must be tensors, got {type(x).__name__} and {type(y).__name__}.")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} examples but y has {y.shape[0]}; they must match.")
    hidden_layers(model)
    work = model
    if dtype is not None and any(p.dtype != dtype for p in model.parameters()):
        work = copy.deepcopy(model).to(dtype)
    dtype = next(work.parameters()).dtype
    layers = hidden_layers(work)
    pre, post = [], []
    hooks = [layer.linear.register_forward_hook(lambda m, i, o: pre.append(o)) for layer in layers]
    hooks += [layer.register_forward_hook(lambda m, i, o: post.append(o)) for layer in layers]
    try:
        value = loss_fn(work(x.to(dtype)), prepare_target(y, loss, dtype))
    finally:
        for hook in hooks:
            hook.remove()
    linears = [m for m in work.modules() if isinstance(m, nn.Linear)]
    grads = torch.autograd.grad(value, post + [m.weight for m in linears])
    act_grads, weight_grads = grads[: len(post)], grads[len(post) :]
    stats = [_unit_statistics(layer, u) for layer, u in zip(layers, pre)]
    return GradientFlow(
        activation_grad_norms=[_norm(g) for g in act_grads],
        weight_grad_norms=[_norm(g) for g in weight_grads],
        weight_norms=[_norm(m.weight.detach()) for m in linears],
        activation_mean=[float(h.detach().mean()) for h in post],
        activation_std=[float(h.detach().std()) for h in post],
        saturated_fraction=[s[0] for s in stats],
        dead_fraction=[s[1] for s in stats],
        loss=float(value.detach()),
        activation=getattr(layers[0], "activation_name", ""),
    )


def _unit_statistics(layer: nn.Module, pre: torch.Tensor) -> tuple[float, float]:
    name = getattr(layer, "activation_name", None)
    if name is None:
        return float("nan"), float("nan")
    act = get_activation(name)
    with torch.no_grad():
        slope = act.derivative(pre).abs()
        saturated = (slope < SATURATION_THRESHOLD * act.derivative_sup).double().mean()
        dead = (slope == 0).all(dim=0).double().mean()
    return (float(saturated) if act.saturates else 0.0), float(dead)


def _norm(tensor: torch.Tensor) -> float:
    # Square-summing float32 entries of 1e-23 underflows to 0; the norm itself must not.
    return float(tensor.double().norm())
