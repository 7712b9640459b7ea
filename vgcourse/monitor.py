"""A training-time monitor for the reader's own loop: per-layer statistics over the steps.

:class:`Monitor` attaches removable hooks to a model (and to its optimiser) and records, every
``every`` steps of an ordinary training loop, the numbers Karpathy's "makemore" lectures watch
by hand:

- per parameter group (the doctor's grouping, :func:`vgcourse.diagnose`): the gradient norm
  ‖∂L/∂W‖, the gradient-to-data ratio ‖∂L/∂W‖/‖W‖ and the update-to-data ratio ‖ΔW‖/‖W‖ of the
  step the optimiser (or the reader's own update) actually took;
- per call of an activation module (a module called twice is measured twice): the mean and
  spread of its output, its saturated and dead fractions (the probe's and the doctor's one
  definition: saturated where φ' < 5 % of sup|φ'|, dead where abs(φ') ≤ 1e-3 of sup abs(φ') on every
  example of the batch), and histograms of its output h and of the gradient ∂L/∂h reaching it.

The monitor only reads: it takes no random numbers and changes no parameter, gradient, buffer
or mode, so a run with the monitor follows the same trajectory as the same run without it.
Its hooks exist only between :meth:`Monitor.start` and :meth:`Monitor.stop` (the ``with``
block).

What it cannot see: activations applied as functions (``F.relu`` inside ``forward``, the gates
inside ``nn.LSTM``) and parameters with ``requires_grad=False``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ._validation import check_int

# One definition of "layer", "saturated" and "dead": the doctor's, imported, not copied.
from .activations import activation_for_module, is_activation_module
from .doctor import _activation_statistics, _check_lazy
from .doctor import _groups as _parameter_groups

#: The update-to-data ratio per SGD step that Karpathy's lectures use as the rule of thumb for
#: a well-set learning rate (about 10^-3; far below, the layer barely learns, far above, it
#: is being rewritten every step). A guide line, not a verdict.
UPDATE_RULE_OF_THUMB = 1e-3


@dataclass
class _Pending:
    """What one recorded step has collected so far."""

    step: int
    before: list | None = None  # per group, the weights before the update
    calls: list = field(default_factory=list)  # (key, registry name, pre, out)
    grads: dict = field(default_factory=dict)  # key -> ∂L/∂h of that activation call


class Monitor:
    """Record per-layer gradient, update and activation statistics of your own training loop.

    Use it as a context manager around an ordinary loop; with an optimiser it counts the steps
    itself (its hooks fire on ``optimizer.step()``):

    >>> import torch, vgcourse
    >>> model = vgcourse.mlp(3, 16, in_features=4, out_features=2, seed=0)
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> x, y = torch.randn(32, 4), torch.arange(32) % 2
    >>> with vgcourse.Monitor(model, optimizer, every=5) as monitor:
    ...     for step in range(20):
    ...         loss = torch.nn.functional.cross_entropy(model(x), y)
    ...         optimizer.zero_grad()
    ...         loss.backward()
    ...         optimizer.step()
    >>> monitor.steps
    [0, 5, 10, 15]
    >>> len(monitor.layers), len(monitor.update_to_data[0])
    (4, 4)

    Without an optimiser (an update written by hand, ``p.data -= lr * p.grad``), call
    :meth:`step` after each update, before the gradients are cleared.

    Parameters
    ----------
    model : nn.Module
        The model being trained. Its trainable parameters are grouped by the module that owns
        them, as :func:`vgcourse.diagnose` groups them (one group per linear, convolutional,
        embedding, normalisation or custom module; recurrent modules per layer and direction;
        attention's queries, keys and values separately). A group's norms are over its weight
        matrices (all its parameters where it has none, e.g. a norm layer's γ and β).
    optimizer : torch.optim.Optimizer, optional
        The optimiser whose ``step()`` ends a training step. Parameters it does not update get
        an update-to-data ratio of exactly 0.
    every : int, default 1
        Record every ``every``-th step (steps 0, every, 2·every, ...). Only recorded steps cost
        anything beyond the hooks' calls.
    bins : int, default 40
        Number of bins of each histogram.

    Attributes
    ----------
    steps : list of int
        The recorded steps, counted from 0 (the first update).
    layers : list of str
        The parameter groups, in the order of ``model.named_parameters()``.
    grad_norm, grad_to_data, update_to_data : list of list of float
        Per recorded step, per group: ‖∂L/∂W‖, ‖∂L/∂W‖/‖W‖ and ‖ΔW‖/‖W‖ (W before the update;
        for plain SGD ‖ΔW‖ = lr·‖∂L/∂W‖, Karpathy's formula).
    activations : list of str
        The activation call sites seen, in the order of their first call: the module's name,
        with ``" (call k)"`` for the k-th call of a module used more than once in a forward.
    activation_kinds : dict of str to str or None
        Registry name of each call site's activation (``vgcourse.ACTIVATIONS``).
    histograms, gradient_histograms : list of dict
        Per recorded step, per call site: ``(edges, density)`` of the output h and of the
        gradient ∂L/∂h (NumPy arrays; ``bins + 1`` edges; density integrates to 1).

    Raises
    ------
    TypeError
        ``model`` is not an ``nn.Module`` or ``optimizer`` is not a ``torch.optim.Optimizer``.
    ValueError
        ``every`` or ``bins`` is not a positive integer (``bins`` at least 2), the model has
        no trainable parameters, or it holds an uninitialised lazy module.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                 every: int = 1, bins: int = 40):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
        if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError("optimizer must be a torch.optim.Optimizer or None, got "
                            f"{type(optimizer).__name__}.")
        check_int("every", every)
        check_int("bins", bins, minimum=2)
        named = list(model.named_modules())
        _check_lazy(named)
        self._groups = _parameter_groups(model, dict(named))
        if not self._groups:
            raise ValueError(f"model={type(model).__name__} has no trainable parameters to "
                             "monitor.")
        self.model, self.optimizer, self.every, self.bins = model, optimizer, every, bins
        self._names = {}
        for name, module in named:  # a module registered twice keeps its first name
            self._names.setdefault(id(module), name or type(module).__name__)
        self._activation_modules = [m for _, m in named if is_activation_module(m)]
        self.layers = [g["name"] for g in self._groups]
        self.steps: list[int] = []
        self.grad_norm: list[list[float]] = []
        self.grad_to_data: list[list[float]] = []
        self.update_to_data: list[list[float]] = []
        self.activations: list[str] = []
        self.activation_kinds: dict[str, str | None] = {}
        self.histograms: list[dict] = []
        self.gradient_histograms: list[dict] = []
        self._stats: list[dict] = []  # per recorded step: key -> (mean, std, saturated, dead)
        self._step = 0
        self._pending: _Pending | None = None
        self._active = False  # inside a grad-mode forward of a recorded step
        self._calls: dict[int, int] = {}
        self._hooks: list = []
        self._call_hooks: list = []  # on the activation modules, during a recorded forward only

    # --- the context manager ----------------------------------------------------------------

    def start(self) -> Monitor:
        """Attach the hooks (``with Monitor(...)`` calls this); returns the monitor."""
        if self._hooks:
            raise RuntimeError("this Monitor is already attached; call stop() first.")
        self._hooks.append(self.model.register_forward_pre_hook(self._before_forward))
        self._hooks.append(self.model.register_forward_hook(self._after_forward))
        if self.optimizer is not None:
            self._hooks.append(self.optimizer.register_step_pre_hook(self._before_step))
            self._hooks.append(self.optimizer.register_step_post_hook(self._after_step))
        return self

    def stop(self) -> None:
        """Remove every hook; a step begun but not finished is dropped."""
        for hook in self._hooks + self._call_hooks:
            hook.remove()
        self._hooks.clear()
        self._call_hooks.clear()
        self._pending, self._active = None, False

    def __enter__(self) -> Monitor:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def step(self) -> None:
        """End a training step whose update was made by hand (no optimiser given).

        Call it after the parameters were updated and before their gradients are cleared.
        """
        if self.optimizer is not None:
            raise RuntimeError("this Monitor counts optimizer.step() itself; call step() only "
                               "when no optimizer was given.")
        self._finish()

    # --- hooks ---------------------------------------------------------------------------------

    def _recording(self) -> bool:
        return self._step % self.every == 0

    def _before_forward(self, module, args):
        if not torch.is_grad_enabled() or not self._recording():
            return
        if self._pending is None:
            self._pending = _Pending(self._step)
        if self.optimizer is None and self._pending.before is None:
            self._pending.before = self._snapshot()
        self._pending.calls.clear()  # the last forward of the step is the one kept
        self._pending.grads.clear()
        self._calls.clear()
        self._active = True
        if not self._call_hooks:  # steps that are not recorded run without them
            self._call_hooks = [m.register_forward_hook(self._after_activation)
                                for m in self._activation_modules]

    def _after_forward(self, module, args, output):
        self._active = False
        for hook in self._call_hooks:
            hook.remove()
        self._call_hooks.clear()

    def _after_activation(self, module, inputs, output):
        if not self._active or self._pending is None:
            return
        pre = inputs[0] if inputs else None
        if not isinstance(pre, torch.Tensor) or not isinstance(output, torch.Tensor):
            return
        count = self._calls.get(id(module), 0)
        self._calls[id(module)] = count + 1
        key = self._names[id(module)] + (f" (call {count + 1})" if count else "")
        if key not in self.activation_kinds:
            self.activations.append(key)
            self.activation_kinds[key] = activation_for_module(module)
        self._pending.calls.append((key, activation_for_module(module), pre.detach(),
                                    output.detach()))
        if output.requires_grad:
            pending = self._pending

            def keep_gradient(grad, key=key):
                pending.grads[key] = grad.detach()

            output.register_hook(keep_gradient)

    def _before_step(self, optimizer, args, kwargs):
        if self._recording():
            if self._pending is None:
                self._pending = _Pending(self._step)
            self._pending.before = self._snapshot()

    def _after_step(self, optimizer, args, kwargs):
        self._finish()

    # --- measurements --------------------------------------------------------------------------

    def _tensors(self, group, grads: bool = False) -> list:
        """The group's weight matrices (all its parameters where it has none), or their
        gradients (None where a parameter has none)."""
        chosen = [(p, rows) for _, p, rows in group["params"] if p.dim() >= 2]
        chosen = chosen or [(p, rows) for _, p, rows in group["params"]]
        out = []
        for p, rows in chosen:
            t = p.grad if grads else p
            if t is not None and rows is not None:
                t = t[rows[0]:rows[1]]
            out.append(None if t is None else t.detach())
        return out

    def _snapshot(self) -> list:
        return [[t.clone() for t in self._tensors(g)] for g in self._groups]

    def _histograms(self, tensors: dict) -> dict:
        """``(edges, density)`` of each tensor over its own finite range, ``bins`` equal bins;
        tensors of one size are binned together in a handful of operations."""
        by_size: dict[int, list] = {}
        for key, tensor in tensors.items():
            by_size.setdefault(tensor.numel(), []).append(key)
        out = {}
        bins = self.bins
        for keys in by_size.values():
            values = torch.stack([tensors[k].detach().reshape(-1) for k in keys]).double()
            lo, hi = values.amin(dim=1), values.amax(dim=1)  # NaN and inf propagate
            every_finite = bool(torch.isfinite(torch.cat([lo, hi])).all())
            if not every_finite:
                finite = torch.isfinite(values)
                lo = torch.where(finite, values, math.inf).amin(dim=1)
                hi = torch.where(finite, values, -math.inf).amax(dim=1)
                lo, hi = torch.nan_to_num(lo, posinf=0.0), torch.nan_to_num(hi, neginf=0.0)
            flat = hi <= lo  # one value (or none): a bin of width 1 around it
            lo, hi = torch.where(flat, lo - 0.5, lo), torch.where(flat, hi + 0.5, hi)
            # values >= lo, so truncation is the floor; the maximum goes to the last bin
            index = ((values - lo[:, None]) * (bins / (hi - lo))[:, None])
            index = index.nan_to_num_(0.0).long().clamp_(0, bins - 1)
            index += torch.arange(len(keys))[:, None] * bins
            index = index.reshape(-1) if every_finite else index[finite]
            counts = torch.bincount(index, minlength=len(keys) * bins)
            counts = counts.reshape(len(keys), bins).double()
            density = counts / (counts.sum(dim=1, keepdim=True) * ((hi - lo) / bins)[:, None])
            edges = lo[:, None] + (hi - lo)[:, None] * torch.arange(bins + 1) / bins
            for k, e, d in zip(keys, edges.numpy(), density.numpy()):
                out[k] = (e, d)
        return out

    def _finish(self) -> None:
        pending, self._pending = self._pending, None
        self._active = False
        step, self._step = self._step, self._step + 1
        if pending is None or step % self.every:
            return
        norms, ratios, updates = [], [], []
        with torch.no_grad():
            weights = [self._tensors(g) for g in self._groups]
            grads = [self._tensors(g, grads=True) for g in self._groups]
            before = pending.before
            flat = [t for ts in (before if before is not None else weights) for t in ts]
            w2 = iter(_squared_norms(flat))
            g2 = iter(_squared_norms([t for ts in grads for t in ts]))
            d2 = iter(_squared_norms([w - b for ws, bs in zip(weights, before)
                                      for w, b in zip(ws, bs)]) if before is not None else ())
            for ws in weights:
                w = math.sqrt(sum(next(w2) for _ in ws))
                g = math.sqrt(sum(next(g2) for _ in ws))
                d = math.sqrt(sum(next(d2) for _ in ws)) if before is not None else math.nan
                norms.append(g)
                ratios.append(g / w if w else math.nan)
                updates.append(d / w if w else math.nan)
            stats = _activation_statistics([(k, name, pre, out) for k, (_, name, pre, out)
                                            in enumerate(pending.calls)])
            row = {key: stats[k][0] for k, (key, _, _, _) in enumerate(pending.calls)}
            hists = self._histograms({key: out for key, _, _, out in pending.calls})
            grad_hists = self._histograms(pending.grads)
        self.steps.append(step)
        self.grad_norm.append(norms)
        self.grad_to_data.append(ratios)
        self.update_to_data.append(updates)
        self._stats.append(row)
        self.histograms.append(hists)
        self.gradient_histograms.append(grad_hists)

    # --- results -------------------------------------------------------------------------------

    def _column(self, index: int) -> list[list[float]]:
        return [[row.get(key, (math.nan,) * 4)[index] for key in self.activations]
                for row in self._stats]

    @property
    def activation_mean(self) -> list[list[float]]:
        """Per recorded step, per activation call site: the mean of its output."""
        return self._column(0)

    @property
    def activation_std(self) -> list[list[float]]:
        """Per recorded step, per activation call site: the standard deviation of its output."""
        return self._column(1)

    @property
    def saturated(self) -> list[list[float]]:
        """Per recorded step, per call site: the share of unit-examples where φ' is under
        ``vgcourse.probe.SATURATION_THRESHOLD`` of sup|φ'| (0 for activations that do not
        saturate)."""
        return self._column(2)

    @property
    def dead(self) -> list[list[float]]:
        """Per recorded step, per call site: the share of dead units (abs(φ') ≤ 1e-3 of its
        supremum on every example of the step's batch)."""
        return self._column(3)

    def histogram_at(self, step: int, gradients: bool = False) -> dict:
        """Per call site, ``(edges, density)`` of the output (or, with ``gradients=True``, of
        ∂L/∂h) at the recorded ``step``.

        Raises
        ------
        ValueError
            ``step`` was not recorded.
        """
        if step not in self.steps:
            shown = self.steps if len(self.steps) <= 8 else [*self.steps[:4], "...",
                                                             *self.steps[-2:]]
            raise ValueError(f"step={step!r} was not recorded; the recorded steps are "
                             f"{shown}.")
        found = self.gradient_histograms if gradients else self.histograms
        return found[self.steps.index(step)]

    def plot(self, steps=None, histograms: str = "activations", title: str = ""):
        """The dashboard, :func:`vgcourse.plots.plot_monitor`."""
        from .plots import plot_monitor

        return plot_monitor(self, steps=steps, histograms=histograms, title=title)

    def __repr__(self) -> str:
        state = "attached" if self._hooks else "detached"
        return (f"Monitor({len(self.layers)} layers, {len(self.activations)} activation calls, "
                f"{len(self.steps)} recorded steps of {self._step}, every={self.every}, "
                f"{state})")


def _squared_norms(tensors: list) -> list[float]:
    """‖t‖² of each tensor, computed in float64 (0 for None), in one conversion to Python."""
    present = [t for t in tensors if t is not None]
    if not present:
        return [0.0] * len(tensors)
    found = iter(torch.stack([torch.linalg.vector_norm(t, dtype=torch.float64)
                              for t in present]).square().tolist())
    return [next(found) if t is not None else 0.0 for t in tensors]
