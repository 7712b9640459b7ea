"""Measurements of gradient flow through a model at one point of its parameter space."""

from __future__ import annotations

import copy
from dataclasses import dataclass

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
        measures in the model's own dtype. It runs on the model's device; ``x`` and ``y`` are
        moved there.

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
    # A normalised layer's activation input is its norm's output: `pre_activation` names it.
    hooks = [getattr(layer, "pre_activation", layer.linear).register_forward_hook(
        lambda m, i, o: pre.append(o)) for layer in layers if _needs_pre_activation(layer)]
    hooks += [layer.register_forward_hook(lambda m, i, o: post.append(o)) for layer in layers]
    try:
        # The measurement runs where the model is: the batch follows it to its device.
        device = next(work.parameters()).device
        value = loss_fn(work(x.to(device=device, dtype=dtype)),
                        prepare_target(y, loss, dtype).to(device))
    finally:
        for hook in hooks:
            hook.remove()
    linears = [m for m in work.modules() if isinstance(m, nn.Linear)]
    grads = torch.autograd.grad(value, post + [m.weight for m in linears])
    act_grads, weight_grads = grads[: len(post)], grads[len(post) :]
    with torch.no_grad():
        grad_norms = _norms(act_grads)
        weight_grad_norms, weight_norms = _norms(weight_grads), _norms([m.weight for m in linears])
        means, stds, saturated, dead = _layer_statistics(layers, pre, post)
    return GradientFlow(
        activation_grad_norms=grad_norms,
        weight_grad_norms=weight_grad_norms,
        weight_norms=weight_norms,
        activation_mean=means,
        activation_std=stds,
        saturated_fraction=saturated,
        dead_fraction=dead,
        loss=float(value.detach()),
        activation=getattr(layers[0], "activation_name", ""),
    )


def jacobian_spectrum(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Singular values of the input–output Jacobian of a model's hidden stack, in float64.

    J = ∂h_L/∂x at one input ``x``, where h_L is what enters the read-out ``model.output``
    (the last hidden layer). Its singular values say how the network stretches every input
    direction: all equal to 1 is *dynamical isometry* (Saxe et al. 2014; Pennington et al. 2017).

    Parameters
    ----------
    model : nn.Module
        A model with a ``hidden`` ModuleList and an ``output`` layer, such as one built by
        :func:`vgcourse.mlp`. Copied and cast to float64; left untouched.
    x : torch.Tensor
        One input, shape ``(in_features,)`` (or ``(1, in_features)``).

    Returns
    -------
    torch.Tensor
        The singular values, float64, largest first (min(in_features, width) of them).

    Examples
    --------
    >>> import torch, vgcourse
    >>> net = vgcourse.mlp(4, 16, activation="identity", init="orthogonal")
    >>> s = vgcourse.jacobian_spectrum(net, torch.randn(16))
    >>> bool(torch.allclose(s, torch.ones(16, dtype=torch.float64)))
    True
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a tensor, got {type(x).__name__}.")
    if x.dim() == 2 and x.shape[0] == 1:
        x = x[0]
    if x.dim() != 1:
        raise ValueError(f"x has shape {tuple(x.shape)}; expected one input, shape "
                         "(in_features,).")
    hidden_layers(model)
    readout = getattr(model, "output", None)
    if not isinstance(readout, nn.Module):
        raise ValueError(f"model={type(model).__name__} has no `output` layer; "
                         "jacobian_spectrum measures the map up to the read-out's input.")
    work = copy.deepcopy(model).to(torch.float64).eval()
    captured = []
    hook = work.output.register_forward_pre_hook(lambda m, args: captured.append(args[0]))

    def features(inp):
        captured.clear()
        work(inp.unsqueeze(0))
        return captured[0][0]

    try:
        jac = torch.autograd.functional.jacobian(features, x.detach().to(
            device=next(work.parameters()).device, dtype=torch.float64),
                                                 vectorize=True)
    finally:
        hook.remove()
    return torch.linalg.svdvals(jac)


def preactivation_moments(model: nn.Module, x: torch.Tensor) -> list[float]:
    """Measured q_l: the mean square of every hidden layer's pre-activation over a batch.

    The mean over units and examples of u_l², with u_l the input of layer l's activation: the
    quantity the mean-field recursion :func:`vgcourse.theory.variance_trajectory` predicts.
    Measured in float64 on a copy of the model.

    Parameters
    ----------
    model : nn.Module
        A model with a ``hidden`` ModuleList, such as one built by :func:`vgcourse.mlp`.
    x : torch.Tensor
        Input batch, shape ``(batch, in_features)``.

    Returns
    -------
    list of float
        q_1..q_L, input side first.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a tensor, got {type(x).__name__}.")
    hidden_layers(model)
    work = copy.deepcopy(model).to(torch.float64)
    pre = []
    hooks = [getattr(layer, "pre_activation", layer.linear).register_forward_hook(
        lambda m, i, o: pre.append(float((o.detach() ** 2).mean()))) for layer in work.hidden]
    try:
        with torch.no_grad():
            work(x.to(device=next(work.parameters()).device, dtype=torch.float64))
    finally:
        for hook in hooks:
            hook.remove()
    return pre


def _needs_pre_activation(layer: nn.Module) -> bool:
    """Whether φ' of this layer must be computed from its input rather than its output."""
    name = getattr(layer, "activation_name", None)
    return name is not None and get_activation(name).derivative_from_output is None


def _layer_statistics(layers, pre, post) -> tuple[list[float], ...]:
    """Per hidden layer: activation mean and std, saturated and dead fractions.

    Layers of one shape and one activation (every plain MLP) are measured as one stacked tensor:
    a handful of large operations instead of a dozen small ones per layer, which is most of what
    keeps gradient_flow close to the cost of a bare forward and backward pass.
    """
    names = {getattr(layer, "activation_name", None) for layer in layers}
    if len(names) == 1 and None not in names and len({h.shape for h in post}) == 1:
        act = get_activation(names.pop())
        h = torch.stack(post).flatten(2).double()
        count = h[0].numel()
        # mean and mean square in two passes: torch.var_mean over two dims is 4x slower here
        mean, mean_square = h.mean(dim=(1, 2)), (h * h).mean(dim=(1, 2))
        var = ((mean_square - mean**2) * count / (count - 1)).clamp(min=0)
        # every registered φ' is >= 0, so no abs(); from h where φ' is a function of it
        slope = (act.derivative_from_output(h) if act.derivative_from_output is not None
                 else act.derivative(torch.stack(pre).flatten(2).double()))
        dead = (slope.amax(dim=1) == 0).double().mean(dim=1)  # φ' = 0 on every example
        saturated = ((slope < SATURATION_THRESHOLD * act.derivative_sup).sum(dim=(1, 2)) / count
                     if act.saturates else torch.zeros_like(dead))
        return tuple(torch.stack([mean, var.sqrt(), saturated.double(), dead]).tolist())
    rows, pre_iter = [], iter(pre)
    for layer, h in zip(layers, post):
        u = next(pre_iter) if _needs_pre_activation(layer) else None
        std, mean = torch.std_mean(h.double())
        rows.append(torch.stack([mean, std, *_unit_statistics(layer, u, h)]))
    return tuple(torch.stack(rows).T.tolist())


def _unit_statistics(layer: nn.Module, pre, post: torch.Tensor):
    """Saturated and dead fractions of one layer, as 0-d float64 tensors (nan: no activation)."""
    name = getattr(layer, "activation_name", None)
    if name is None:
        nan = torch.tensor(float("nan"), dtype=torch.float64, device=post.device)
        return nan, nan
    act = get_activation(name)
    slope = act.derivative(pre) if pre is not None else act.derivative_from_output(post)
    dead = (slope == 0).all(dim=0).double().mean()
    if not act.saturates:
        return torch.zeros_like(dead), dead
    return (slope < SATURATION_THRESHOLD * act.derivative_sup).double().mean(), dead


def _norms(tensors) -> list[float]:
    # In float64: square-summing float32 entries of 1e-23 underflows to 0; the norm must not.
    return torch.stack(torch._foreach_norm([t.detach().double() for t in tensors])).tolist()
