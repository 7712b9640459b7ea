"""The gradient doctor: ``diagnose(model, x, y)`` examines any ``nn.Module`` at one batch.

It measures, per parametrised layer, the evidence the literature uses to recognise gradient
problems, and turns it into verdicts with documented thresholds. The model is not changed: the
measurement runs on hooks that are removed afterwards, gradients are taken with
``torch.autograd.grad`` (``.grad`` fields untouched), buffers such as batch-norm running
statistics are restored, and the optimiser step is taken on a copy.
"""

from __future__ import annotations

import copy
import html
import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ._validation import check_positive

# Thresholds, and why:
# - VANISHING / EXPLODING: a layer's gradient-to-weight ratio ‖∂L/∂W‖/‖W‖ sets how fast it
#   learns relative to its size. Healthy networks keep these ratios within about one decade of
#   each other (Glorot & Bengio 2010 show this for normalised initialisation); a layer two
#   decades (100×) below the best-learning layer moves too slowly to learn at a learning rate
#   that is safe for the others. The read-out layer (the last one) is left out of the reference:
#   its ratio is routinely much larger than the hidden layers' even in healthy networks.
RATIO_SPREAD = 100.0
# - An absolute gradient norm above 1e3 (or inf/NaN) is exploding whatever the other layers do.
EXPLODING_NORM = 1e3
# - DEAD: more than half the units of a ReLU layer output exactly 0 for every example of the
#   batch: such units pass no gradient to their weights, so nothing revives them.
DEAD_FRACTION = 0.5
# - SATURATED: more than half the unit-examples of a sigmoid/tanh layer sit where the slope is
#   under 5 % of its maximum (|tanh| > 0.975, sigmoid < 0.052 or > 0.948).
SATURATED_FRACTION = 0.5
# - UPDATE-TO-DATA: Karpathy's rule of thumb for SGD: ‖ΔW‖/‖W‖ near 1e-3 per step; under 1e-5
#   the layer is effectively frozen at this learning rate.
FROZEN_UPDATE = 1e-5

VERDICTS = ("exploding", "dead units", "saturated", "vanishing", "healthy")
_SATURATING = {nn.Sigmoid: (0.052, 0.948), nn.Tanh: (-0.975, 0.975)}
_RECTIFIERS = (nn.ReLU, nn.ReLU6)


@dataclass
class LayerReport:
    """Evidence and verdict for one parametrised layer (see :func:`vgcourse.diagnose`)."""

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
    verdict: str = "healthy"
    reasons: list[str] = field(default_factory=list)


@dataclass
class Report:
    """The doctor's findings: one :class:`LayerReport` per layer, input first, and a verdict.

    Displays as an HTML table with a figure in notebooks and as text in a terminal;
    :meth:`to_dict` gives plain data for programs.
    """

    layers: list[LayerReport]
    verdict: str
    summary: str
    loss: float
    lr: float

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
                f"  {r.verdict}")
        return "\n".join(rows + ["", f"Overall: {self.verdict}. {self.summary}"])

    def _repr_html_(self) -> str:
        from .plots import figure_to_html

        cells = "".join(
            f"<tr><td>{html.escape(r.name)}</td><td>{r.kind}</td><td>{r.grad_norm:.2e}</td>"
            f"<td>{r.grad_to_weight:.2e}</td><td>{r.update_to_data:.2e}</td>"
            f"<td>{_fmt(r.activation_std, '.3f')}</td>"
            f"<td>{_fmt(100 * r.saturated_fraction, '.1f')}</td>"
            f"<td>{_fmt(100 * r.dead_fraction, '.1f')}</td>"
            f"<td title='{html.escape('; '.join(r.reasons))}'><b>{r.verdict}</b></td></tr>"
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
             lr: float = 1e-2) -> Report:
    """Examine a model's gradient flow at one batch and say what is wrong with it.

    Parameters
    ----------
    model : nn.Module
        Any PyTorch model, on any device. It is not changed (parameters, ``.grad`` fields,
        buffers and train/eval mode are as before).
    x, y : torch.Tensor
        A batch of inputs and targets on the model's device.
    loss_fn : callable, optional
        ``loss_fn(model(x), y)`` → scalar. Defaults to cross-entropy when ``y`` holds integer
        class labels and to mean squared error otherwise.
    lr : float, default 1e-2
        Learning rate of the one SGD step (taken on a copy) that measures update-to-data ratios.

    Returns
    -------
    Report
        Per layer: weight-gradient norm, gradient-to-weight ratio, update-to-data ratio,
        activation mean and std of the layer's output, the saturated and dead fractions of the
        activation module that follows it, and a verdict (exploding, dead units, saturated,
        vanishing or healthy) with reasons. Thresholds are the module constants
        ``RATIO_SPREAD``, ``EXPLODING_NORM``, ``DEAD_FRACTION``, ``SATURATED_FRACTION``,
        documented in the source.

    Raises
    ------
    ValueError
        A model without trainable parameters, inputs on another device than the model, NaN or
        inf in the inputs, or a loss that is not a scalar.

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
    check_positive("lr", lr)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"model={type(model).__name__} has no trainable parameters to diagnose.")
    device = params[0].device
    for name, tensor in (("x", x), ("y", y)):
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"{name} must be a tensor, got {type(tensor).__name__}.")
        if tensor.device != device:
            raise ValueError(f"{name} is on {tensor.device} but the model is on {device}; "
                             f"move it with {name}.to({str(device)!r}).")
    if torch.is_floating_point(x) and not torch.isfinite(x).all():
        raise ValueError("x contains NaN or inf; the doctor needs finite inputs.")
    if loss_fn is None:
        loss_fn = (nn.functional.mse_loss if torch.is_floating_point(y)
                   else nn.functional.cross_entropy)

    layers = [(n, m) for n, m in model.named_modules()
              if isinstance(getattr(m, "weight", None), nn.Parameter) and m.weight.requires_grad]
    acts = _activation_following(model, layers)
    saved_state = copy.deepcopy(model.state_dict())
    was_training = model.training
    outputs, act_outputs, hooks = {}, {}, []
    for name, module in layers:
        hooks.append(module.register_forward_hook(_store(outputs, name)))
    for name, module in acts.items():
        hooks.append(module.register_forward_hook(_store(act_outputs, name)))
    try:
        loss = loss_fn(model(x), y)
        if loss.dim() != 0:
            raise ValueError(f"loss_fn returned a tensor of shape {tuple(loss.shape)}; "
                             "it must return a scalar (reduce with .mean()).")
        weights = [m.weight for _, m in layers]
        grads = torch.autograd.grad(loss, weights, allow_unused=True)
    finally:
        for hook in hooks:
            hook.remove()
        model.load_state_dict(saved_state)  # running statistics advanced by the forward pass
        model.train(was_training)
    updates = _update_ratios(model, x, y, loss_fn, lr, [n for n, _ in layers])

    reports = []
    for (name, module), grad in zip(layers, grads):
        grad_norm = float(grad.double().norm()) if grad is not None else 0.0
        weight_norm = float(module.weight.detach().double().norm())
        act = acts.get(name)
        out = act_outputs.get(name, outputs.get(name))
        sat, dead = _unit_health(act, act_outputs.get(name))
        mean, std = _moments(out)
        reports.append(LayerReport(
            name=name or type(module).__name__, kind=type(module).__name__,
            grad_norm=grad_norm, weight_norm=weight_norm,
            grad_to_weight=grad_norm / weight_norm if weight_norm else float("nan"),
            update_to_data=updates[name], activation_mean=mean, activation_std=std,
            saturated_fraction=sat, dead_fraction=dead))
    _judge(reports)
    verdict, summary = _overall(reports)
    return Report(layers=reports, verdict=verdict, summary=summary, loss=float(loss.detach()),
                  lr=lr)


def _store(target: dict, name: str):
    def hook(module, inputs, output):
        if isinstance(output, torch.Tensor):
            target[name] = output.detach()
    return hook


def _activation_following(model, layers) -> dict:
    """Map each parametrised layer to the activation module registered right after it."""
    order = [(n, m) for n, m in model.named_modules() if not list(m.children())]
    index = {n: i for i, (n, _) in enumerate(order)}
    found = {}
    for name, _ in layers:
        i = index.get(name)
        if i is None:
            continue
        for _, later in order[i + 1:]:
            if isinstance(later, tuple(_SATURATING) + _RECTIFIERS):
                found[name] = later
                break
            if isinstance(getattr(later, "weight", None), nn.Parameter) and not isinstance(
                    later, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)):
                break  # the next weight layer comes first: no activation of ours
    return found


def _unit_health(act, output) -> tuple[float, float]:
    if act is None or output is None:
        return float("nan"), float("nan")
    flat = output.double().transpose(0, 1).reshape(output.shape[1], -1) if output.dim() > 1 \
        else output.double().reshape(1, -1)
    for kind, (low, high) in _SATURATING.items():
        if isinstance(act, kind):
            return float(((flat < low) | (flat > high)).double().mean()), 0.0
    return 0.0, float((flat == 0).all(dim=1).double().mean())


def _moments(output) -> tuple[float, float]:
    if output is None or not torch.is_floating_point(output):
        return float("nan"), float("nan")
    o = output.double()
    return float(o.mean()), float(o.std()) if o.numel() > 1 else 0.0


def _update_ratios(model, x, y, loss_fn, lr, names) -> dict:
    twin = copy.deepcopy(model)
    twin.train(model.training)
    modules = dict(twin.named_modules())
    before = {n: modules[n].weight.detach().clone() for n in names}
    opt = torch.optim.SGD([p for p in twin.parameters() if p.requires_grad], lr=lr)
    opt.zero_grad()
    loss_fn(twin(x), y).backward()
    opt.step()
    ratios = {}
    for n in names:
        base = before[n].double().norm()
        delta = (modules[n].weight.detach() - before[n]).double().norm()
        ratios[n] = float(delta / base) if base > 0 else float("nan")
    return ratios


def _judge(reports: list[LayerReport]) -> None:
    hidden = reports[:-1] if len(reports) > 1 else reports
    finite = [r.grad_to_weight for r in hidden if math.isfinite(r.grad_to_weight)
              and r.grad_to_weight > 0]
    best = max(finite) if finite else float("nan")
    for r in reports:
        found = []
        if not math.isfinite(r.grad_norm) or r.grad_norm > EXPLODING_NORM:
            found.append(("exploding", f"gradient norm {r.grad_norm:.2e} > {EXPLODING_NORM:g}"))
        if r.dead_fraction > DEAD_FRACTION:
            found.append(("dead units", f"{100 * r.dead_fraction:.0f} % of units never fire"))
        if r.saturated_fraction > SATURATED_FRACTION:
            found.append(("saturated", f"{100 * r.saturated_fraction:.0f} % of activations "
                                       "where the slope is < 5 % of its maximum"))
        if r.grad_norm == 0:
            found.append(("vanishing", "no gradient reaches this layer (exactly 0)"))
        elif math.isfinite(best) and best / r.grad_to_weight > RATIO_SPREAD:
            found.append(("vanishing", f"gradient-to-weight ratio {r.grad_to_weight:.1e} is more "
                                       f"than {RATIO_SPREAD:g}× below the best hidden "
                                       f"layer's ({best:.1e})"))
        if found:
            found.sort(key=lambda item: VERDICTS.index(item[0]))
            r.verdict = found[0][0]
            r.reasons = [reason for _, reason in found]


def _overall(reports: list[LayerReport]) -> tuple[str, str]:
    counts = {v: sum(r.verdict == v for r in reports) for v in VERDICTS}
    for verdict in VERDICTS[:-1]:
        if counts[verdict]:
            names = ", ".join(r.name for r in reports if r.verdict == verdict)
            return verdict, f"{counts[verdict]} of {len(reports)} layers: {names}."
    return "healthy", (f"all {len(reports)} layers learn at comparable rates; no dead or "
                       "saturated layers.")


def _fmt(value: float, spec: str) -> str:
    width = spec.split(".")[0]
    return f"{'—':>{width}}" if not math.isfinite(value) else format(value, spec)
