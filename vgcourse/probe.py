"""Measurements of gradient flow through a model at one point of its parameter space."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from ._validation import check_dtype
from .activations import get_activation
from .losses import (
    as_batch,
    check_loss_inputs,
    check_loss_value,
    forward,
    get_loss,
    prepare_target,
)

# A unit is saturated where phi'(pre-activation) is below this fraction of sup|phi'|:
# for tanh that is |h| > 0.975, for the sigmoid h < 0.052 or h > 0.948.
SATURATION_THRESHOLD = 0.05
#: A unit is *dead* on a batch when abs(φ'(u)) is at most this fraction of sup abs(φ') on every
#: example: exactly zero for ReLU, for ELU at u < ln(1e-3) ≈ -6.9, for GELU at u < -3.78.
#: Leaky ReLU (slope 0.01 = 1 % of its supremum) can never be dead by this definition. The one
#: definition of the course: gradient_flow, the doctor, the monitor and vgcourse.saturation.
DEAD_THRESHOLD = 1e-3


# The fields of GradientFlow that gradient_flow computes on first access.
_STATISTICS = ("activation_mean", "activation_std", "saturated_fraction", "dead_fraction",
               "weight_grad_norms")


@dataclass
class GradientFlow:
    """Per-layer gradient and activation statistics, ordered from input to output.

    Lists indexed by hidden layer (``[0]`` is layer 1) hold: ``activation_grad_norms``
    ‖∂loss/∂h_l‖ over the batch, ``activation_mean`` and ``activation_std`` of h_l,
    ``saturated_fraction`` (share of unit-examples with φ' below 5 % of its supremum, for
    sigmoid and tanh; 0 for the others) and ``dead_fraction`` (share of units whose φ' is at
    most ``DEAD_THRESHOLD`` of its supremum, zero for ReLU, on every example of the batch).
    ``weight_grad_norms`` has one entry per Linear layer, output layer last, and
    ``weight_norms`` the matching Frobenius norms of the weights.

    :func:`gradient_flow` measures the activation-gradient and weight norms at once, and the
    weight-gradient norms and the four activation statistics on first access (from the gradients
    and activations it kept, so the values do not depend on when they are read): a caller that
    needs only the gradient flow pays little more than a forward and backward pass.
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

    @classmethod
    def _deferred(cls, statistics: _PendingStatistics, **measured) -> GradientFlow:
        """A GradientFlow whose activation statistics ``statistics`` computes on first access."""
        flow = cls.__new__(cls)
        flow.__dict__.update(measured, _pending=statistics)
        return flow

    def __getattr__(self, name):  # reached only for an attribute not set yet
        pending = self.__dict__.get("_pending")
        if name in _STATISTICS and pending is not None:
            self.__dict__.update(zip(_STATISTICS, pending.compute()))
            del self.__dict__["_pending"]
            return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __getstate__(self):  # copies and pickles carry the statistics, not the activations
        for name in _STATISTICS:
            getattr(self, name)
        return dict(self.__dict__)

    def __setstate__(self, state):
        self.__dict__.update(state)

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

    One forward and one backward pass; the model is left untouched: its ``.grad`` fields, its
    ``requires_grad`` flags (a frozen weight's gradient is measured all the same) and its
    buffers (batch normalisation's running statistics) are as before. Works inside
    ``torch.no_grad()``.

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
    x, y = as_batch(x, y, loss)
    if dtype is not None:
        check_dtype("dtype", dtype)
    hidden_layers(model)
    params = list(model.parameters())
    if not params:
        raise ValueError(f"model={type(model).__name__} has no parameters; expected a model "
                         "with weights to measure.")
    work = model
    if dtype is not None and any(p.dtype != dtype for p in params):
        work = copy.deepcopy(model).to(dtype)
        params = list(work.parameters())
    layers = hidden_layers(work)
    modules = list(work.modules())  # one walk of the module tree serves the next three lines
    linears = [m for m in modules if isinstance(m, nn.Linear)]
    frozen = [m.weight for m in linears if not m.weight.requires_grad]
    # e.g. batch norm's running statistics (each module's own dict: one walk of the tree)
    buffers = [(b, b.clone()) for m in modules for b in m._buffers.values() if b is not None]
    with torch.enable_grad():
        for weight in frozen:
            weight.requires_grad_(True)
        try:
            return _measure(work, layers, linears, x, y, loss, loss_fn, params[0])
        finally:
            for weight in frozen:
                weight.requires_grad_(False)
            with torch.no_grad():
                for buffer, saved in buffers:
                    buffer.copy_(saved)


def _measure(work, layers, linears, x, y, loss, loss_fn, first) -> GradientFlow:
    """The forward and backward pass of :func:`gradient_flow`, on the model it measures, in
    the dtype and on the device of its first parameter ``first``."""
    dtype, device = first.dtype, first.device
    pre, post = [], []
    from_input = [_needs_pre_activation(layer) for layer in layers]
    # A normalised layer's activation input is its norm's output: `pre_activation` names it.
    hooks = [getattr(layer, "pre_activation", layer.linear).register_forward_hook(
        lambda m, i, o: pre.append(o)) for layer, u in zip(layers, from_input) if u]
    hooks += [layer.register_forward_hook(lambda m, i, o: post.append(o)) for layer in layers]
    try:
        # The measurement runs where the model is: the batch follows it to its device.
        output = forward(work, x.to(device=device, dtype=dtype))
        target = prepare_target(y, loss, dtype).to(device)
        check_loss_inputs(output, target, loss)
        value = check_loss_value(loss_fn(output, target), loss)
    finally:
        for hook in hooks:
            hook.remove()
    weights = [m.weight for m in linears]
    grads = torch.autograd.grad(value, post + weights)
    depth = len(post)
    with torch.no_grad():
        norms = _norms([*grads[:depth], *weights])
    return GradientFlow._deferred(
        _PendingStatistics(layers, from_input, pre, post, grads[depth:]),
        activation_grad_norms=norms[:depth],
        weight_norms=norms[depth:],
        loss=float(value.detach()),
        activation=getattr(layers[0], "activation_name", ""),
    )


class _PendingStatistics:
    """The activations and weight gradients one :func:`gradient_flow` call kept, and the
    statistics made from them.

    Holds detached tensors (the gradients are autograd's own new tensors) and each layer's
    activation name, not the model: training the model afterwards does not change the
    statistics of the measurement.
    """

    def __init__(self, layers, from_input, pre, post, weight_grads):
        self.names = [getattr(layer, "activation_name", None) for layer in layers]
        self.from_input = from_input
        self.pre = [u.detach() for u in pre]
        self.post = [h.detach() for h in post]
        self.weight_grads = weight_grads

    def compute(self) -> tuple[list[float], ...]:
        """Activation mean, std, saturated and dead fractions per layer, and the weight-gradient
        norms (see GradientFlow), in the order of ``_STATISTICS``."""
        with torch.no_grad():
            return (*_layer_statistics(self.names, self.from_input, self.pre, self.post),
                    _norms(self.weight_grads))


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
    x = _single_input(x)
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
    except RuntimeError as error:  # an input the model does not take: name it
        raise ValueError(f"x of shape {tuple(x.shape)} does not fit "
                         f"model={type(model).__name__}: {error}") from error
    finally:
        hook.remove()
    return torch.linalg.svdvals(jac)


def product_log_singular_values(matrices) -> torch.Tensor:
    """Natural logs of the singular values of every partial product W_l ⋯ W_1, l = 1..L.

    Multiplying the matrices out and calling an SVD loses every singular value below about
    ε·σ_max (ε ≈ 2.2e-16 in float64): the SVD returns round-off of that size instead. Here the
    product is carried as P_l = Q_l T_l, with Q_l orthogonal and T_l = R_l ⋯ R_1 upper
    triangular (Householder QR of W_l Q_{l−1} = Q_l R_l), so P_l and T_l have the same singular
    values. T_l is graded, its rows shrinking roughly as fast as its singular values, and its
    SVD resolves them to near full relative precision (Stewart 1995, graded QR decompositions
    of products). The diagonal of T_l alone gives the QR (Lyapunov) estimate
    Σ log abs(R_ii), which is off by factors of order one; this function returns the singular
    values themselves. T_l is rescaled at each step and the scale kept as a logarithm, so
    products beyond float64's range are fine; singular values more than about 1e-300 below the
    largest of the same product are not resolved.

    Parameters
    ----------
    matrices : sequence of torch.Tensor
        ``[W_1, ..., W_L]``, square and of one size n, the first to act first (input side).
        Computed in float64.

    Returns
    -------
    torch.Tensor
        Shape ``(L, n)``, float64: row l − 1 holds log σ_i(W_l ⋯ W_1), largest first.

    Examples
    --------
    >>> import torch, vgcourse
    >>> W = torch.diag(torch.tensor([2.0, 1e-9], dtype=torch.float64))
    >>> logs = vgcourse.probe.product_log_singular_values([W] * 20)
    >>> [round(v / 20, 6) for v in logs[-1].tolist()]  # log 2 and log 1e-9 per layer
    [0.693147, -20.723266]
    """
    matrices = list(matrices)
    if not matrices:
        raise ValueError("matrices=[] is not allowed; expected [W_1, ..., W_L], at least one.")
    n = None
    for index, w in enumerate(matrices, start=1):
        if not isinstance(w, torch.Tensor) or w.dim() != 2 or w.shape[0] != w.shape[1]:
            shape = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
            raise ValueError(f"matrices[{index - 1}] (W_{index}) is {shape}; expected a square "
                             "2-d tensor.")
        if n is not None and w.shape[0] != n:
            raise ValueError(f"matrices[{index - 1}] (W_{index}) is {tuple(w.shape)}; every "
                             f"matrix must be {n}×{n} like W_1.")
        n = w.shape[0]
    q = torch.eye(n, dtype=torch.float64, device=matrices[0].device)
    t = torch.eye(n, dtype=torch.float64, device=matrices[0].device)
    log_scale = 0.0
    rows = []
    for w in matrices:
        q, r = torch.linalg.qr(w.detach().to(torch.float64) @ q)
        t = r @ t
        scale = float(t.abs().max())
        if scale == 0.0 or not torch.isfinite(t).all():
            raise ValueError("the product is singular or not finite; its log singular values "
                             "are undefined.")
        t = t / scale
        log_scale += math.log(scale)
        rows.append(torch.log(torch.linalg.svdvals(t)) + log_scale)
    return torch.stack(rows)


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
    if x.dim() == 0 or len(x) == 0:
        raise ValueError(f"x has shape {tuple(x.shape)}; expected a non-empty batch, shape "
                         "(batch, in_features).")
    hidden_layers(model)
    work = copy.deepcopy(model).to(torch.float64)
    pre = []
    hooks = [getattr(layer, "pre_activation", layer.linear).register_forward_hook(
        lambda m, i, o: pre.append(float((o.detach() ** 2).mean()))) for layer in work.hidden]
    try:
        with torch.no_grad():
            forward(work, x.to(device=next(work.parameters()).device, dtype=torch.float64))
    finally:
        for hook in hooks:
            hook.remove()
    return pre


def _needs_pre_activation(layer: nn.Module) -> bool:
    """Whether φ' of this layer must be computed from its input rather than its output."""
    name = getattr(layer, "activation_name", None)
    return name is not None and get_activation(name).derivative_from_output is None


def _layer_statistics(names, from_input, pre, post) -> tuple[list[float], ...]:
    """Per hidden layer: activation mean and std, saturated and dead fractions.

    ``names`` holds each layer's activation name (None: no activation), ``from_input`` whether
    its φ' is computed from the pre-activation (one entry of ``pre`` per such layer) rather than
    from its output ``post``. Layers of one shape and one activation (every plain MLP) are
    measured as one stacked tensor: a handful of large operations instead of a dozen small ones
    per layer.
    """
    if len(set(names)) == 1 and None not in names and len({h.shape for h in post}) == 1:
        act = get_activation(names[0])
        h = torch.stack(post).flatten(2).double()
        count = h[0].numel()
        # mean and mean square in two passes: torch.var_mean over two dims is 4x slower here
        mean, mean_square = h.mean(dim=(1, 2)), (h * h).mean(dim=(1, 2))
        var = ((mean_square - mean**2) * count / (count - 1)).clamp(min=0)
        # φ' from h where it is a function of h (no second pass through φ)
        slope = (act.derivative_from_output(h) if act.derivative_from_output is not None
                 else act.derivative(torch.stack(pre).flatten(2).double()))
        # dead: abs(φ') at most DEAD_THRESHOLD of its supremum on every example
        dead = (slope.abs().amax(dim=1) <= DEAD_THRESHOLD * act.derivative_sup
                ).double().mean(dim=1)
        saturated = ((slope < SATURATION_THRESHOLD * act.derivative_sup).sum(dim=(1, 2)) / count
                     if act.saturates else torch.zeros_like(dead))
        return tuple(torch.stack([mean, var.sqrt(), saturated.double(), dead]).tolist())
    rows, pre_iter = [], iter(pre)
    for name, needs_input, h in zip(names, from_input, post):
        u = next(pre_iter) if needs_input else None
        std, mean = torch.std_mean(h.double())
        rows.append(torch.stack([mean, std, *_unit_statistics(name, u, h)]))
    return tuple(torch.stack(rows).T.tolist())


def _unit_statistics(name: str | None, pre, post: torch.Tensor):
    """Saturated and dead fractions of one layer, as 0-d float64 tensors (nan: no activation)."""
    if name is None:
        nan = torch.tensor(float("nan"), dtype=torch.float64, device=post.device)
        return nan, nan
    act = get_activation(name)
    slope = act.derivative(pre) if pre is not None else act.derivative_from_output(post)
    dead = (slope.abs().amax(dim=0) <= DEAD_THRESHOLD * act.derivative_sup).double().mean()
    if not act.saturates:
        return torch.zeros_like(dead), dead
    return (slope < SATURATION_THRESHOLD * act.derivative_sup).double().mean(), dead


def flat_gradient(model) -> torch.Tensor:
    """All parameter gradients concatenated into one float64 vector (zeros where ``.grad`` is
    None).

    ``model`` is an ``nn.Module`` or an iterable of parameters.
    """
    params = model.parameters() if isinstance(model, nn.Module) else model
    return torch.cat([
        (p.grad if p.grad is not None else torch.zeros_like(p)).detach().double().flatten()
        for p in params
    ])


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine of the angle between two vectors (flattened), computed in float64."""
    a, b = a.double().flatten(), b.double().flatten()
    denominator = float(a.norm() * b.norm())
    if denominator == 0:
        raise ValueError("cosine of a zero vector is undefined; both vectors must be nonzero.")
    return float(a @ b) / denominator


def _single_input(x) -> torch.Tensor:
    """One input vector (shape ``(in_features,)`` or ``(1, in_features)``), or a ValueError."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a tensor, got {type(x).__name__}.")
    if x.dim() == 2 and x.shape[0] == 1:
        x = x[0]
    if x.dim() != 1:
        raise ValueError(f"x has shape {tuple(x.shape)}; expected one input, shape "
                         "(in_features,).")
    return x


def _norms(tensors) -> list[float]:
    # In float64: square-summing float32 entries of 1e-23 underflows to 0; the norm must not.
    return torch.stack(torch._foreach_norm([t.detach().double() for t in tensors])).tolist()


def jacobian_log_spectrum(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Log singular values of J_l = ∂h_l/∂x for every hidden layer l, resolved below round-off.

    :func:`~vgcourse.jacobian_spectrum` multiplies the Jacobian out and takes its SVD, which cannot
    see a singular value below about 1e-16 of the largest (float64 round-off): it returns round-off
    of that size instead. Here J_l = D_l W_l ⋯ D_1 W_1, with D_l = diag φ'(u_l) at the input ``x``,
    is carried as Q_l T_l (Q_l with orthonormal columns, T_l triangular-by-blocks and rescaled, its
    scale kept as a logarithm): the same graded QR scheme as :func:`product_log_singular_values`,
    generalised to rectangular factors. Units whose φ' is exactly zero (inactive ReLUs) are removed
    from each factor, so a rank-deficient J_l reports its exact zeros as ``-inf`` instead of
    round-off.

    Parameters
    ----------
    model : nn.Module
        A plain MLP from :func:`vgcourse.mlp` (no normalisation, no residual blocks): each
        hidden layer has ``.linear`` and ``.activation_name``. Read in float64; left untouched.
    x : torch.Tensor
        One input, shape ``(in_features,)`` (or ``(1, in_features)``).

    Returns
    -------
    torch.Tensor
        Shape ``(L, in_features)``, float64: row l − 1 holds log σ_i(J_l), largest first, and
        ``-inf`` for every singular value that is exactly zero (the rank of J_l is the number
        of finite entries). ``torch.exp`` of it gives the singular values.

    Examples
    --------
    >>> import torch, vgcourse
    >>> net = vgcourse.mlp(40, 8, activation="identity", init="orthogonal", gain=1e-3)
    >>> logs = vgcourse.probe.jacobian_log_spectrum(net, torch.randn(8))
    >>> round(float(logs[-1, -1]) / 40 / math.log(1e-3), 6)  # 1e-120, far below round-off
    1.0
    """
    x = _single_input(x)
    layers = hidden_layers(model)
    for index, layer in enumerate(layers, start=1):
        if not isinstance(getattr(layer, "linear", None), nn.Linear) or \
                getattr(layer, "activation_name", None) is None or hasattr(layer, "norm") or \
                hasattr(layer, "branch"):
            raise ValueError(f"hidden layer {index} is a {type(layer).__name__}; "
                             "jacobian_log_spectrum needs plain layers h = φ(W h + b), as "
                             "vgcourse.mlp builds without norm or residual.")
    n_in = layers[0].linear.in_features
    h = x.detach().to(torch.float64).cpu()
    active = torch.arange(n_in)  # rows of the previous factor that are not identically zero
    q = torch.eye(n_in, dtype=torch.float64)
    t = torch.eye(n_in, dtype=torch.float64)
    log_scale = 0.0
    rows = []
    with torch.no_grad():
        for layer in layers:
            w = layer.linear.weight.detach().to(torch.float64).cpu()
            b = layer.linear.bias
            u = w @ h + (0.0 if b is None else b.detach().to(torch.float64).cpu())
            act = get_activation(layer.activation_name)
            slope = act.derivative(u)
            keep = torch.nonzero(slope != 0).flatten()
            row = torch.full((n_in,), -math.inf, dtype=torch.float64)
            if len(keep) and q.shape[1]:
                factor = slope[keep, None] * w[keep][:, active]  # k_l × k_{l-1}
                q, r = torch.linalg.qr(factor @ q)  # reduced: k_l × r_l and r_l × r_{l-1}
                t = r @ t
                scale = float(t.abs().max())
                if scale == 0.0 or not math.isfinite(scale):
                    raise ValueError("the Jacobian is zero or not finite at this input; its log "
                                     "singular values are undefined.")
                t = t / scale
                log_scale += math.log(scale)
                logs = torch.log(torch.linalg.svdvals(t)) + log_scale
                row[: len(logs)] = logs
            else:
                q = torch.zeros(len(keep), 0, dtype=torch.float64)
                t = torch.zeros(0, n_in, dtype=torch.float64)
            rows.append(row)
            active = keep
            h = act.function(u)
    return torch.stack(rows)
