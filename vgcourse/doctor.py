"""The gradient doctor: ``diagnose(model, x, y)`` examines any ``nn.Module`` at one batch.

What it examines
----------------
- Every trainable parameter, grouped by the module that owns it whatever the parameter's name:
  linear, conv, embedding, recurrent (``nn.RNN``/``nn.LSTM``/``nn.GRU``: one group per layer and
  direction, ``weight_ih_l{k}``/``weight_hh_l{k}`` and their biases), attention
  (``nn.MultiheadAttention``'s ``in_proj_weight`` and its ``out_proj``), normalisation (γ and β
  of batch, layer, group, instance and RMS norms, judged only against each other) and anything
  custom (a module holding its own parameters, ``weight_norm`` and ``spectral_norm`` layers
  under the module they belong to).
- Recurrent modules also through time: the gradient reaching each time step of the sequence
  that enters the recurrent module, and its per-step factor.
- Activation statistics per call of every activation module of the registry
  (:mod:`vgcourse.activations`): a module used twice is measured twice, and each result goes to
  the parametrised layer whose output that call consumed.

What it cannot judge
--------------------
Activations applied as functions (``F.relu`` inside ``forward``, the gates inside ``nn.LSTM``)
are not seen, so they get no saturated or dead fraction; packed sequences get no through-time
view and bidirectional recurrent modules no through-time verdict (their profile is reported);
with a loss on every time step the direct terms can hide a vanishing long-range gradient;
whether the step size suits the network (the doctor judges whether the gradient reaches every
layer at comparable strength, not the learning rate); and anything that only shows over many
steps of training.

The model is not changed: the measurement runs on hooks that are removed afterwards, gradients
are taken with ``torch.autograd.grad`` (``.grad`` fields untouched), buffers such as batch-norm
running statistics are restored, the random number generators are forked (dropout draws the
same masks on every call and the global RNG state is as before), and the update-to-data ratio
is the plain SGD step computed by hand, ``lr·‖∂L/∂θ‖/‖θ‖``, without copying the model or
touching ``torch.optim``.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ._validation import check_positive
from .activations import activation_for_module, get_activation, is_activation_module
from .losses import LOSSES, check_loss_inputs, check_loss_value
from .probe import DEAD_THRESHOLD, SATURATION_THRESHOLD

# Thresholds, and where they come from. Every one is a ratio, so none depends on the loss's
# scale or reduction (a loss summed over the batch, or multiplied by 1000, gives the same report).
#
# - RATIO_SPREAD: a layer's gradient-to-weight ratio ‖∂L/∂W‖/‖W‖ sets how fast it learns
#   relative to its size (one SGD step changes it by lr times this ratio). Healthy networks keep
#   these ratios within about one decade of each other (Glorot & Bengio 2010, figure 7, show it
#   for normalised initialisation); a layer two decades (100×) below the best hidden layer moves
#   too slowly to learn at a learning rate that is safe for the others: *vanishing*. The read-out
#   layer is left out of that reference, its ratio is routinely larger than the hidden layers'.
#   Mirror image, *exploding*: a hidden layer whose ratio is more than RATIO_SPREAD× the read-out
#   layer's own. In healthy networks the hidden layers sit at or below the read-out (the
#   gradient is largest where the loss is); 100× above it the gradient has grown on its way
#   down (Pascanu et al. 2013, section 3). Through time the same factor applies to the gradient
#   reaching the first time step against the last (Bengio et al. 1994; Pascanu et al. 2013).
RATIO_SPREAD = 100.0
# - DEAD_FRACTION: more than half the units of a layer are dead, abs(φ') at most the probe's
#   DEAD_THRESHOLD of its supremum on every example of the batch (zero for ReLU; the definition
#   of :func:`vgcourse.gradient_flow` and vgcourse.saturation): such units pass no gradient
#   to their weights, so nothing revives them (Lu et al. 2020, "Dying ReLU").
DEAD_FRACTION = 0.5
# - SATURATED_FRACTION: more than half the unit-examples of a saturating activation sit where
#   φ' is under SATURATION_THRESHOLD (5 %) of sup|φ'| (the probe's definition: |tanh| > 0.975,
#   sigmoid < 0.052 or > 0.948; Glorot & Bengio 2010, section 3, on saturated sigmoid units).
SATURATED_FRACTION = 0.5

#: Every verdict, most severe first; a layer's ``verdict`` is the first of its ``findings``.
VERDICTS = ("exploding", "exploding through time", "dead units", "saturated", "vanishing",
            "vanishing through time", "healthy")
#: The loss names ``loss_fn`` accepts: the same as :func:`vgcourse.train`'s ``loss``.
LOSS_NAMES = tuple(LOSSES)

_MATRIX_FAMILIES = ("linear", "conv", "embedding", "recurrent", "attention", "custom")
_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm,
          *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()))
_RNN_SUFFIX = re.compile(r"_l(\d+)(_reverse)?$")


@dataclass
class LayerReport:
    """Evidence and findings for one group of parameters (see :func:`vgcourse.diagnose`).

    ``kind`` is the owning module's class name, ``family`` one of linear, conv, embedding,
    recurrent, attention, norm, custom. ``grad_norm`` and ``weight_norm`` are over the group's
    weight matrices (all its parameters where it has none, e.g. γ and β); for an embedding
    ``weight_norm`` is over the rows the batch used. ``update_to_data`` is ``lr ×
    grad_to_weight``, the ratio one plain SGD step gives. Activation statistics come from the
    activation calls that consumed this layer's output (``activation_calls`` of them; the worst
    call's fractions; NaN where none was seen). ``findings`` lists every verdict that applies,
    most severe first, ``verdict`` is the first (``"healthy"`` when there is none) and ``reasons``
    gives the evidence for each.
    """

    name: str
    kind: str
    grad_norm: float
    weight_norm: float
    grad_to_weight: float
    update_to_data: float
    activation_mean: float
    activation_std: float
    saturated_fraction: float
    dead_fraction: float
    family: str = "custom"
    parameters: list[str] = field(default_factory=list)
    activation_calls: int = 0
    verdict: str = "healthy"
    findings: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


@dataclass
class TimeReport:
    """The through-time view of one recurrent module at the batch examined.

    ``grad_norms[t]`` is ‖∂L/∂x_t‖ over the batch for the sequence entering the module (step 0
    first); ``per_step_factor`` is (g_0 / g_{T-1})^{1/(T-1)}, the geometric mean factor the
    gradient is multiplied by per step back in time; ``verdict`` is "vanishing through time",
    "exploding through time", "healthy" or "not judged" (bidirectional modules).
    """

    name: str
    grad_norms: list[float]
    per_step_factor: float
    first_to_last: float
    verdict: str
    reason: str = ""


@dataclass
class Report:
    """The doctor's findings: one :class:`LayerReport` per parameter group, input first.

    ``verdict`` is the most severe finding (``"healthy"`` when there is none) and ``findings``
    lists every distinct finding present, most severe first; ``summary`` names the layers of
    each. ``through_time`` holds one :class:`vgcourse.doctor.TimeReport` per recurrent
    module. Displays as an HTML table with a figure in notebooks and as text in a terminal;
    :meth:`to_dict` gives plain data for programs (its keys are the dataclass fields and are kept
    stable).
    """

    layers: list[LayerReport]
    verdict: str
    summary: str
    loss: float
    lr: float
    findings: list[str] = field(default_factory=list)
    through_time: list[TimeReport] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The report as plain Python data (lists, floats, strings)."""
        return asdict(self)

    def __str__(self) -> str:
        head = (f"{'layer':<24}{'kind':<10}{'‖grad‖':>11}{'grad/W':>11}{'update/W':>11}"
                f"{'act std':>9}{'sat %':>7}{'dead %':>7}  verdict")
        rows = [head, "-" * len(head)]
        for r in self.layers:
            rows.append(
                f"{r.name[:23]:<24}{r.kind[:9]:<10}{r.grad_norm:>11.2e}{r.grad_to_weight:>11.2e}"
                f"{r.update_to_data:>11.2e}{_fmt(r.activation_std, '9.3f')}"
                f"{_fmt(100 * r.saturated_fraction, '7.1f')}{_fmt(100 * r.dead_fraction, '7.1f')}"
                f"  {', '.join(r.findings) or r.verdict}")
        for t in self.through_time:
            rows.append(f"through time, {t.name}: {t.verdict} (per-step factor "
                        f"{t.per_step_factor:.3g}, first/last step {t.first_to_last:.2e})")
        return "\n".join(rows + ["", f"Overall: {self.verdict}. {self.summary}"])

    def _repr_html_(self) -> str:
        from .plots import figure_to_html

        cells = "".join(
            f"<tr><td>{html.escape(r.name)}</td><td>{r.kind}</td><td>{r.grad_norm:.2e}</td>"
            f"<td>{r.grad_to_weight:.2e}</td><td>{r.update_to_data:.2e}</td>"
            f"<td>{_fmt(r.activation_std, '.3f')}</td>"
            f"<td>{_fmt(100 * r.saturated_fraction, '.1f')}</td>"
            f"<td>{_fmt(100 * r.dead_fraction, '.1f')}</td>"
            f"<td title='{html.escape('; '.join(r.reasons))}'>"
            f"<b>{html.escape(', '.join(r.findings) or r.verdict)}</b></td></tr>"
            for r in self.layers)
        table = ("<table style='font-size:0.8em;white-space:nowrap'><thead><tr><th>layer</th>"
                 "<th>kind</th><th>‖∂L/∂W‖</th><th>‖∂L/∂W‖/‖W‖</th>"
                 "<th>‖ΔW‖/‖W‖</th><th>activation std</th><th>saturated %</th><th>dead %</th>"
                 f"<th>verdict</th></tr></thead><tbody>{cells}</tbody></table>")
        return (f"<div class='vg-report'><p><b>Overall: {self.verdict}.</b> "
                f"{html.escape(self.summary)}</p>{table}{figure_to_html(self.plot())}</div>")

    def plot(self):
        """Gradient-to-weight and update-to-data ratios per layer, on a log scale."""
        from .plots import plot_report

        return plot_report(self)


def diagnose(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn=None,
             lr: float = 1e-2, seed: int = 0) -> Report:
    """Examine a model's gradient flow at one batch and say what is wrong with it.

    Parameters
    ----------
    model : nn.Module
        Any PyTorch model, on any device. It is not changed (parameters, ``.grad`` fields,
        buffers, train/eval mode and hooks are as before), and the global random state is
        restored afterwards. Works inside ``torch.no_grad()`` (gradients are enabled for the
        doctor's own pass only).
    x : torch.Tensor
        A non-empty batch of inputs on the model's device. Floating-point inputs of another
        dtype than the model's parameters are cast to the model's dtype (float64 data on a
        float32 model is measured in float32); integer inputs (token ids) are passed as they are.
    y : torch.Tensor
        Targets, one per example of ``x``; finite.
    loss_fn : {"mse", "cross_entropy"} or callable, optional
        A name :func:`vgcourse.train` accepts, or ``loss_fn(model(x), y)`` → scalar. Default:
        cross-entropy when ``y`` holds integer class labels, mean squared error otherwise. With a
        name or the default, ``model(x)`` must return a tensor; a callable may take any output.
    lr : float, default 1e-2
        Learning rate of the plain SGD step whose update-to-data ratios are reported.
    seed : int, default 0
        Seed of the doctor's pass (dropout masks, stochastic depth): the same call gives the same
        report. The caller's random state is restored afterwards.

    Returns
    -------
    Report
        Per parameter group: gradient norm, gradient-to-weight ratio, update-to-data ratio,
        activation statistics and every finding with its reasons; for recurrent modules the
        gradient reaching each time step. Thresholds are the module constants ``RATIO_SPREAD``,
        ``DEAD_FRACTION``, ``SATURATED_FRACTION`` (and the probe's ``SATURATION_THRESHOLD``),
        documented with their sources in the source.

    Raises
    ------
    TypeError
        ``model`` is not an ``nn.Module``, ``x``/``y`` are not tensors, ``loss_fn`` is neither a
        name nor a callable, or ``model(x)`` returns a tuple or dict while ``loss_fn`` is a name.
    ValueError
        No trainable parameters, an uninitialised lazy module, an empty batch, inputs on another
        device, NaN or inf in ``x`` or ``y``, integer targets for a model with one output, an
        unknown loss name, or a loss that is not a scalar.

    Examples
    --------
    A deep sigmoid network at initialisation: its lower layers barely learn.

    >>> import torch, vgcourse
    >>> model = vgcourse.mlp(depth=20, width=32, activation="sigmoid")
    >>> x, y = torch.randn(64, 32), torch.randn(64, 1)
    >>> report = vgcourse.diagnose(model, x, y)
    >>> report.verdict
    'vanishing'
    >>> report.layers[0].verdict, report.layers[-2].verdict
    ('vanishing', 'healthy')

    Any ``nn.Module`` works; ``print(report)`` gives the table as text and ``report.to_dict()``
    plain data.

    >>> cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
    ...                           torch.nn.Linear(4 * 6 * 6, 3))
    >>> vgcourse.diagnose(cnn, torch.randn(8, 1, 8, 8), torch.arange(8) % 3).verdict
    'healthy'
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    check_positive("lr", lr)
    named = list(model.named_modules())
    _check_lazy(named)
    groups = _groups(model, dict(named))
    if not groups:
        raise ValueError(f"model={type(model).__name__} has no trainable parameters to diagnose.")
    first = groups[0]["params"][0][1]
    device, dtype = first.device, first.dtype
    x, y = _check_batch(x, y, device, dtype)
    loss_name = _loss_name(loss_fn)
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.enable_grad():
        # the generators of the devices in use only: torch.manual_seed also seeds every
        # accelerator backend, which costs more than the doctor's pass on a small model
        torch.default_generator.manual_seed(seed)
        if devices:
            torch.cuda.default_generators[devices[0]].manual_seed(seed)
        try:
            loss, grads, calls, acts, seqs = _forward_backward(
                [m for _, m in named], groups, x, y, loss_fn, loss_name)
        finally:
            with torch.no_grad():
                for buffer, saved in buffers:
                    buffer.copy_(saved)
    reports = _layer_reports(groups, grads, calls, acts, lr)
    through_time = [_through_time(name, module, grad_seq)
                    for name, module, grad_seq in seqs]
    _judge(reports, through_time, math.isfinite(loss))
    verdict, findings, summary = _overall(reports)
    return Report(layers=reports, verdict=verdict, summary=summary, loss=loss, lr=lr,
                  findings=findings, through_time=through_time)


# --- checks -------------------------------------------------------------------------------

def _check_lazy(named) -> None:
    from torch.nn.modules.lazy import LazyModuleMixin

    for name, module in named:
        if isinstance(module, LazyModuleMixin) and module.has_uninitialized_params():
            raise ValueError(
                f"model has an uninitialised lazy module ({name or 'model'}: "
                f"{type(module).__name__}); run one forward pass, model(x), to create its "
                "parameters before diagnosing it.")


def _check_batch(x, y, device, dtype):
    for name, tensor in (("x", x), ("y", y)):
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}.")
        if tensor.device != device:
            raise ValueError(f"{name} is on {tensor.device} but the model is on {device}; "
                             f"move it with {name}.to({str(device)!r}).")
    if x.dim() == 0 or len(x) == 0:
        raise ValueError(f"x is an empty batch (shape {tuple(x.shape)}); the doctor needs at "
                         "least one example.")
    if y.dim() == 0 or len(y) == 0:
        raise ValueError(f"y is empty (shape {tuple(y.shape)}); expected one target per "
                         "example of x.")
    for name, tensor in (("x", x), ("y", y)):
        if torch.is_floating_point(tensor) and not torch.isfinite(tensor).all():
            raise ValueError(f"{name} contains NaN or inf; the doctor needs finite inputs "
                             "and targets.")
    if torch.is_floating_point(x) and dtype.is_floating_point and x.dtype != dtype:
        x = x.to(dtype)  # e.g. float64 data on a float32 model: measured in the model's dtype
    return x, y


def _loss_name(loss_fn):
    if loss_fn is None or callable(loss_fn):
        return None if loss_fn is not None else "default"
    if isinstance(loss_fn, str):
        if loss_fn not in LOSSES:
            raise ValueError(f"loss_fn={loss_fn!r} is not allowed; expected one of "
                             f"{', '.join(map(repr, LOSS_NAMES))} or a callable "
                             "loss_fn(output, y) returning a scalar.")
        return loss_fn
    raise TypeError(f"loss_fn must be one of {', '.join(map(repr, LOSS_NAMES))} or a callable, "
                    f"got {type(loss_fn).__name__}.")


def _resolve_loss(loss_fn, loss_name, output, y):
    """The loss callable and the target, with the checks that a name allows."""
    if loss_name is None:
        return loss_fn, y
    if not isinstance(output, torch.Tensor):
        raise TypeError(f"model(x) returned a {type(output).__name__}; with loss_fn="
                        f"{loss_fn!r} the doctor needs a tensor. Pass a callable loss_fn that "
                        "takes the output as it is, e.g. lambda out, y: "
                        "F.cross_entropy(out[0], y).")
    if loss_name == "default":
        loss_name = "mse" if torch.is_floating_point(y) else "cross_entropy"
    if loss_name == "cross_entropy":
        if torch.is_floating_point(y):
            raise ValueError(f"y has dtype {y.dtype}; loss_fn='cross_entropy' expects integer "
                             "class indices.")
        classes = output.shape[1] if output.dim() > 1 else 1
        if classes == 1:
            raise ValueError("y holds integer class labels but the model has 1 output: "
                             "cross-entropy over one class is always 0. Give float targets "
                             "(y.float(), shaped like the output) for loss_fn='mse', or pass "
                             "loss_fn as a callable (e.g. binary_cross_entropy_with_logits).")
    else:
        if not torch.is_floating_point(y):
            y = y.to(output.dtype)
        elif y.dtype != output.dtype:
            y = y.to(output.dtype)
    check_loss_inputs(output, y, loss_name)
    return LOSSES[loss_name], y


# --- grouping ------------------------------------------------------------------------------

def _family(module: nn.Module, parent: nn.Module | None) -> str:
    if isinstance(parent, nn.MultiheadAttention) or isinstance(module, nn.MultiheadAttention):
        return "attention"
    if isinstance(module, nn.RNNBase):
        return "recurrent"
    if isinstance(module, nn.modules.conv._ConvNd):
        return "conv"
    if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
        return "embedding"
    if isinstance(module, _NORMS):
        return "norm"
    if isinstance(module, (nn.Linear, nn.Bilinear)):
        return "linear"
    return "custom"


def _join(owner: str, part: str) -> str:
    return f"{owner}.{part}" if owner else part


def _groups(model: nn.Module, modules: dict) -> list[dict]:
    """Trainable parameters grouped by owning module (and, for RNNs, layer and direction)."""
    groups: dict[str, dict] = {}
    for full, param in model.named_parameters():  # shared parameters appear once
        if not param.requires_grad:
            continue
        parts = full.split(".")
        if "parametrizations" in parts:  # weight_norm / spectral_norm parametrisations
            cut = parts.index("parametrizations")
            owner, local = ".".join(parts[:cut]), parts[cut + 1]
        else:
            owner, local = ".".join(parts[:-1]), parts[-1]
        module = modules[owner]
        parent = modules.get(owner.rpartition(".")[0]) if owner else None
        parts = [(owner, None)]
        if isinstance(module, nn.RNNBase):
            match = _RNN_SUFFIX.search(local)
            if match:
                parts = [(_join(owner, f"l{match.group(1)}{match.group(2) or ''}"), None)]
        elif isinstance(module, nn.MultiheadAttention) and local.startswith("in_proj"):
            # queries, keys and values separately: in a deep stack without residual
            # connections the query and key gradients vanish while the values' do not
            # (rank collapse, Noci et al. 2022)
            third = param.shape[0] // 3
            parts = [(_join(owner, n), (i * third, (i + 1) * third)) for i, n in enumerate("qkv")]
        elif isinstance(module, nn.MultiheadAttention) and local[:1] in "qkv":
            parts = [(_join(owner, local[0]), None)]
        for key, rows in parts:
            group = groups.setdefault(key, dict(
                name=key or type(module).__name__, owner=owner, module=module,
                family=_family(module, parent), params=[]))
            group["params"].append((local, param, rows))
    return list(groups.values())


# --- the pass ------------------------------------------------------------------------------

def _forward_backward(modules, groups, x, y, loss_fn, loss_name):
    owners = {}
    for i, group in enumerate(groups):
        owners.setdefault(id(group["module"]), []).append(i)
    order: list[int] = []  # group indices in the order of their module's first call
    produced: dict[int, int] = {}  # id(output tensor) -> group index of its producer
    keep: list[torch.Tensor] = []  # outputs kept alive so their ids stay unique
    last_called: list[int] = []
    records: list[tuple] = []  # (group index, registry name, pre-activation, output) per call
    seqs: list[tuple[str, nn.Module, torch.Tensor]] = []

    def before_layer(module, args):
        for i in owners[id(module)]:
            if i not in order:
                order.append(i)

    def after_layer(module, inputs, output):
        indices = owners[id(module)]
        last_called[:] = [indices[-1]]
        out = output[0] if isinstance(output, tuple) and output else output
        if isinstance(out, torch.Tensor):
            produced[id(out)] = indices[-1]
            keep.append(out)

    def after_activation(module, inputs, output):
        pre = inputs[0] if inputs else None
        if not isinstance(pre, torch.Tensor) or not isinstance(output, torch.Tensor):
            return
        target = produced.get(id(pre), last_called[0] if last_called else None)
        if target is not None:
            records.append((target, activation_for_module(module), pre.detach(), output.detach()))

    def before_rnn(module, args):
        seq = args[0] if args else None
        if not isinstance(seq, torch.Tensor) or not torch.is_floating_point(seq):
            return None  # packed sequences: no through-time view
        if not seq.requires_grad:
            seq = seq.detach().requires_grad_(True)
        name = next(g["name"] for g in groups if g["module"] is module)
        seqs.append((name, module, seq))
        return (seq, *args[1:])

    hooks = []
    try:
        for module in {id(g["module"]): g["module"] for g in groups}.values():
            hooks.append(module.register_forward_pre_hook(before_layer))
            hooks.append(module.register_forward_hook(after_layer))
            if isinstance(module, nn.RNNBase):
                hooks.append(module.register_forward_pre_hook(before_rnn))
        for module in modules:
            if is_activation_module(module):
                hooks.append(module.register_forward_hook(after_activation))
        try:
            output = modules[0](x)
        except RuntimeError as error:  # a shape or dtype mismatch deep inside torch
            raise ValueError(f"x of shape {tuple(x.shape)} and dtype {x.dtype} does not fit "
                             f"model={type(modules[0]).__name__}: the forward pass failed "
                             f"with: {error}") from error
        fn, target = _resolve_loss(loss_fn, loss_name, output, y)
        loss = check_loss_value(fn(output, target), loss_fn, argument="loss_fn")
    finally:
        for hook in hooks:
            hook.remove()
    params = list({id(p): p for g in groups for _, p, _ in g["params"]}.values())
    inputs = params + [s for _, _, s in seqs]
    grads = torch.autograd.grad(loss, inputs, allow_unused=True)
    by_id = {id(p): g for p, g in zip(params, grads)}
    param_grads = [[by_id[id(p)] for _, p, _ in g["params"]] for g in groups]
    seq_grads = grads[len(params):]
    calls = _place_uncalled(groups, order)
    seqs = [(name, module, g) for (name, module, _), g in zip(seqs, seq_grads)]
    return float(loss.detach()), param_grads, calls, _activation_statistics(records), seqs


def _place_uncalled(groups, order) -> list[int]:
    """Call order, with groups whose module was never called as a module (``out_proj`` of
    ``nn.MultiheadAttention``, applied functionally) right after the last group of their
    nearest called ancestor (after the attention's q, k and v), and the rest at the end."""
    calls = list(order)
    for i, group in enumerate(groups):
        if i in calls:
            continue
        owner, place = group["owner"], None
        while owner and place is None:
            owner = owner.rpartition(".")[0]
            places = [k for k, j in enumerate(calls) if groups[j]["owner"] == owner]
            place = places[-1] if places else None
        if place is None:
            calls.append(i)
        else:
            calls.insert(place + 1, i)
    return calls


def _activation_statistics(records) -> dict[int, list[tuple[float, float, float, float]]]:
    """Per group index, (mean, std, saturated, dead) of every activation call it fed: the
    probe's definitions (:func:`vgcourse.gradient_flow`).

    Saturated: share of unit-examples where φ'(pre) < SATURATION_THRESHOLD · sup|φ'| (for
    activations that saturate); dead: share of units (every coordinate but the batch's) with
    abs(φ') ≤ DEAD_THRESHOLD · sup abs(φ') on every example. Calls of one activation and one
    shape are measured as one stacked tensor: a few large operations rather than many small
    ones per call.
    """
    batches: dict[tuple, list[int]] = {}
    for k, (_, name, pre, out) in enumerate(records):
        batches.setdefault((name, tuple(pre.shape), tuple(out.shape)), []).append(k)
    found: dict[int, tuple] = {}
    with torch.no_grad():
        for (name, shape, _), ks in batches.items():
            pre = torch.stack([records[k][2] for k in ks]).double()
            out = torch.stack([records[k][3] for k in ks]).double().reshape(len(ks), -1)
            count = out.shape[1]
            mean = out.mean(dim=1)
            var = ((out * out).mean(dim=1) - mean ** 2).clamp(min=0) * count / max(count - 1, 1)
            if name is None:
                zeros = torch.zeros_like(mean)
                rows = torch.stack([mean, var.sqrt(), zeros, zeros], dim=1).tolist()
            else:
                act = get_activation(name)
                slope = act.derivative(pre)
                units = slope.reshape(len(ks), shape[0] if len(shape) > 1 else 1, -1)
                dead = (units.abs().amax(dim=1) <= DEAD_THRESHOLD * act.derivative_sup
                        ).double().mean(dim=1)
                saturated = ((slope < SATURATION_THRESHOLD * act.derivative_sup)
                             .reshape(len(ks), -1).double().mean(dim=1)
                             if act.saturates else torch.zeros_like(dead))
                rows = torch.stack([mean, var.sqrt(), saturated, dead], dim=1).tolist()
            for k, row in zip(ks, rows):
                found[k] = tuple(row)
    acts: dict[int, list[tuple]] = {}
    for k, record in enumerate(records):
        acts.setdefault(record[0], []).append(found[k])
    return acts


# --- evidence and verdicts -----------------------------------------------------------------

def _layer_reports(groups, grads, calls, acts, lr) -> list[LayerReport]:
    reports = []
    for i in calls:
        group, gs = groups[i], grads[i]
        pairs = [(p if rows is None else p[rows[0]:rows[1]],
                  g if g is None or rows is None else g[rows[0]:rows[1]])
                 for (_, p, rows), g in zip(group["params"], gs)]
        matrices = [(p, g) for p, g in pairs if p.dim() >= 2]
        chosen = matrices or pairs
        grad_sq, weight_sq = 0.0, 0.0
        for p, g in chosen:
            pd = p.detach().double()
            if g is not None:
                gd = g.detach().double()
                grad_sq += float((gd * gd).sum())
                if group["family"] == "embedding" and pd.dim() == 2:
                    pd = pd[(gd != 0).any(dim=1)]  # the rows this batch used
            elif group["family"] == "embedding":
                pd = pd[:0]
            weight_sq += float((pd * pd).sum())
        grad_norm, weight_norm = math.sqrt(grad_sq), math.sqrt(weight_sq)
        ratio = grad_norm / weight_norm if weight_norm else float("nan")
        stats = acts.get(i, [])
        mean = stats[-1][0] if stats else float("nan")
        std = stats[-1][1] if stats else float("nan")
        sat = max(s[2] for s in stats) if stats else float("nan")
        dead = max(s[3] for s in stats) if stats else float("nan")
        reports.append(LayerReport(
            name=group["name"], kind=type(group["module"]).__name__, family=group["family"],
            parameters=[local if rows is None else f"{local}[{rows[0]}:{rows[1]}]"
                        for local, _, rows in group["params"]],
            grad_norm=grad_norm, weight_norm=weight_norm, grad_to_weight=ratio,
            update_to_data=lr * ratio, activation_mean=mean, activation_std=std,
            saturated_fraction=sat, dead_fraction=dead, activation_calls=len(stats)))
        reports[-1]._used = any(g is not None for g in gs)
    return reports


def _through_time(name, module, grad) -> TimeReport:
    if grad is None:
        return TimeReport(name, [], float("nan"), float("nan"), "not judged",
                          "no gradient reaches the sequence")
    g = grad.detach().double()
    time_dim = 1 if (getattr(module, "batch_first", False) and g.dim() == 3) else 0
    norms = g.transpose(0, time_dim).reshape(g.shape[time_dim], -1).norm(dim=1).tolist()
    steps = len(norms)
    first, last = norms[0], norms[-1]
    ratio = first / last if last else float("nan")
    factor = ratio ** (1 / (steps - 1)) if steps > 1 and ratio == ratio else float("nan")
    if getattr(module, "bidirectional", False) or steps < 2:
        return TimeReport(name, norms, factor, ratio, "not judged",
                          "bidirectional or single-step: no direction to judge")
    if not math.isfinite(first) or (last and ratio > RATIO_SPREAD):
        verdict = "exploding through time"
        reason = (f"the gradient reaching step 0 is {ratio:.1e}× the last step's "
                  f"(> {RATIO_SPREAD:g}×): a factor {factor:.3g} per step")
    elif first == 0 or ratio < 1 / RATIO_SPREAD:
        verdict = "vanishing through time"
        reason = (f"the gradient reaching step 0 is {ratio:.1e} of the last step's "
                  f"(< 1/{RATIO_SPREAD:g}): a factor {factor:.3g} per step")
    else:
        verdict, reason = "healthy", f"per-step factor {factor:.3g}"
    return TimeReport(name, norms, factor, ratio, verdict, reason)


def _peers(r: LayerReport) -> str:
    """Which layers a layer's gradient-to-weight ratio is compared with."""
    if r.family in ("linear", "conv", "recurrent", "attention"):
        return "weights"
    return r.family  # embeddings, normalisation layers, custom parameters: among themselves


def _judge(reports: list[LayerReport], through_time: list[TimeReport], finite: bool) -> None:
    weights = [r for r in reports if _peers(r) == "weights" and r.weight_norm > 0
               and any(p != "bias" for p in r.parameters)]
    readout = weights[-1] if weights else None
    in_weights = {id(r) for r in weights}
    best = {}
    for r in reports:
        if r is readout and len(weights) > 1:
            continue
        if math.isfinite(r.grad_to_weight) and r.weight_norm > 0:
            best[_peers(r)] = max(best.get(_peers(r), 0.0), r.grad_to_weight)
    out_ratio = readout.grad_to_weight if readout is not None else float("nan")
    stds = [r.activation_std for r in reports if math.isfinite(r.activation_std)]
    signal = stds[0] if stds else float("nan")
    for r in reports:
        found = []
        if not finite or not math.isfinite(r.grad_norm):
            found.append(("exploding", "the loss or this layer's gradient is inf/NaN"))
        elif (id(r) in in_weights and r is not readout and math.isfinite(out_ratio)
              and out_ratio > 0
              and r.grad_to_weight > RATIO_SPREAD * out_ratio):
            found.append(("exploding", f"gradient-to-weight ratio {r.grad_to_weight:.1e} is "
                                       f"more than {RATIO_SPREAD:g}× the read-out layer's "
                                       f"({out_ratio:.1e})"))
        if r.dead_fraction > DEAD_FRACTION:
            found.append(("dead units", f"{100 * r.dead_fraction:.0f} % of units have φ' ≈ 0 "
                                        "on every example"))
        if r.saturated_fraction > SATURATED_FRACTION:
            found.append(("saturated", f"{100 * r.saturated_fraction:.0f} % of activations "
                                       f"where φ' < {100 * SATURATION_THRESHOLD:g} % of its "
                                       "maximum"))
        reference = best.get(_peers(r), float("nan"))
        if r.grad_norm == 0 and getattr(r, "_used", True):
            found.append(("vanishing", "no gradient reaches this layer (exactly 0)"))
        elif r.grad_norm == 0:
            found.append(("vanishing", "this layer takes no part in the loss"))
        elif (math.isfinite(reference) and math.isfinite(r.grad_to_weight)
              and reference / r.grad_to_weight > RATIO_SPREAD):
            found.append(("vanishing", f"gradient-to-weight ratio {r.grad_to_weight:.1e} is "
                                       f"more than {RATIO_SPREAD:g}× below the best comparable "
                                       f"layer's ({reference:.1e})"))
        if (signal > 0 and math.isfinite(r.activation_std)
                and r.activation_std * RATIO_SPREAD < signal):
            found.append(("vanishing", f"the signal fades: activation std {r.activation_std:.1e}"
                                       f" is more than {RATIO_SPREAD:g}× below the first "
                                       f"layer's ({signal:.1e})"))
        for t in through_time:
            if t.verdict.endswith("through time") and r.name == t.name:
                found.append((t.verdict, f"{t.name}: {t.reason}"))
        found.sort(key=lambda item: VERDICTS.index(item[0]))
        r.findings = list(dict.fromkeys(v for v, _ in found))
        r.reasons = [reason for _, reason in found]
        r.verdict = r.findings[0] if r.findings else "healthy"
    for r in reports:
        r.__dict__.pop("_used", None)


def _overall(reports: list[LayerReport]) -> tuple[str, list[str], str]:
    findings = [v for v in VERDICTS[:-1] if any(v in r.findings for r in reports)]
    if not findings:
        return "healthy", [], (f"all {len(reports)} layers learn at comparable rates; no dead "
                               "or saturated layers.")
    parts = []
    for v in findings:
        names = [r.name for r in reports if v in r.findings]
        parts.append(f"{v}: {len(names)} of {len(reports)} layers ({', '.join(names)})")
    return findings[0], findings, "; ".join(parts) + "."


def _fmt(value: float, spec: str) -> str:
    width = spec.split(".")[0]
    return f"{'—':>{width}}" if not math.isfinite(value) else format(value, spec)
