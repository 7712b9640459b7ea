"""The registry of activation functions: the function, its derivative, and what follows from it.

Every entry carries a closed-form derivative (tested against autograd), the supremum of its
absolute value (computed on a dense grid, not typed in) and the initialisation gain usually
recommended for it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import torch
from torch import nn

from ._validation import check_choice

Tensor = torch.Tensor

_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805
_LEAKY_SLOPE = 0.01
_PRELU_INIT = 0.25  # torch.nn.PReLU's default initial slope, the value He et al. (2015) used


@dataclass(frozen=True)
class Activation:
    """One activation function and the facts the course needs about it.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"tanh"``.
    label : str
        Name for figure legends.
    function : callable
        Elementwise ``phi(x)`` on tensors.
    derivative : callable
        Elementwise ``phi'(x)`` in closed form.
    module : callable
        Zero-argument factory returning the matching ``torch.nn`` module.
    gain : float
        Recommended initialisation gain (``torch.nn.init.calculate_gain`` where defined; the
        ReLU gain sqrt(2) for the smooth rectifiers; 1 for SELU with LeCun-normal weights as in
        Klambauer et al. 2017).
    saturates : bool
        Whether the derivative tends to zero on both sides (sigmoid, tanh).
    derivative_from_output : callable or None
        ``phi'`` written in terms of the output ``h = phi(x)`` where that is possible, so that
        a measurement that already holds ``h`` need not recompute ``phi`` (GELU and SiLU are
        not monotone and have none).
    piecewise_linear : bool
        Whether φ is linear on each side of 0 (identity, ReLU, leaky ReLU, PReLU), so φ' takes
        one value for u < 0 and one for u > 0 and Gaussian averages of it do not depend on the
        variance: the closed forms of :mod:`vgcourse.theory` branch on this.
    learned : bool
        Whether the module has parameters of its own that training changes (PReLU's slope).
        ``function``, ``derivative`` and ``gain`` then describe φ at initialisation; the
        module's parameters tell what it has become.
    """

    name: str
    label: str
    function: Callable[[Tensor], Tensor]
    derivative: Callable[[Tensor], Tensor]
    module: Callable[[], nn.Module]
    gain: float
    saturates: bool = False
    derivative_from_output: Callable[[Tensor], Tensor] | None = None
    piecewise_linear: bool = False
    learned: bool = False

    @cached_property
    def derivative_sup(self) -> float:
        """Supremum of ``|phi'(x)|``, measured on a grid of step 1e-4 over [-20, 20] (and 0)."""
        x = torch.linspace(-20.0, 20.0, 400_001, dtype=torch.float64)
        return float(self.derivative(x).abs().max())

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


def _sigmoid_derivative(x: Tensor) -> Tensor:
    s = torch.sigmoid(x)
    return s * (1 - s)


def _gelu_derivative(x: Tensor) -> Tensor:
    # d/dx [x Phi(x)] = Phi(x) + x phi(x), with the exact (erf) GELU that nn.GELU uses.
    cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2)))
    pdf = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return cdf + _finite_or_zero(x, x * pdf)  # x·pdf → 0 as x → ±inf (not inf·0 = NaN)


def _silu_derivative(x: Tensor) -> Tensor:
    s = torch.sigmoid(x)
    # the limits are 1 at +inf and 0 at -inf, not the NaN of inf·0
    return torch.where(torch.isinf(x), s, s * (1 + x * (1 - s)))


def _prelu_at_init(x: Tensor) -> Tensor:
    return torch.where(x > 0, x, _PRELU_INIT * x)


def _two_slopes(x: Tensor, negative: float) -> Tensor:
    """1 where ``x > 0``, ``negative`` elsewhere: φ' of a rectifier with that left slope."""
    return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, negative))


def _finite_or_zero(x: Tensor, value: Tensor) -> Tensor:
    """``value`` where ``x`` is finite, 0 where it is ±inf."""
    return torch.where(torch.isinf(x), torch.zeros_like(value), value)


#: Every registered activation by name: identity, sigmoid, tanh, relu, leaky_relu, prelu, elu,
#: selu, gelu and silu.
ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("identity", "linear", lambda x: x, torch.ones_like, nn.Identity, 1.0,
                   derivative_from_output=torch.ones_like, piecewise_linear=True),
        Activation(
            "sigmoid", "sigmoid", torch.sigmoid, _sigmoid_derivative, nn.Sigmoid, 1.0,
            saturates=True, derivative_from_output=lambda h: h * (1 - h),
        ),
        Activation(
            "tanh", "tanh", torch.tanh, lambda x: 1 - torch.tanh(x) ** 2, nn.Tanh, 5 / 3,
            saturates=True, derivative_from_output=lambda h: 1 - h * h,
        ),
        Activation(
            "relu", "ReLU", torch.relu, lambda x: (x > 0).to(x.dtype), nn.ReLU, math.sqrt(2),
            derivative_from_output=lambda h: (h > 0).to(h.dtype), piecewise_linear=True,
        ),
        Activation(
            "leaky_relu",
            "leaky ReLU",
            lambda x: torch.nn.functional.leaky_relu(x, _LEAKY_SLOPE),
            lambda x: torch.where(x > 0, torch.ones_like(x), torch.full_like(x, _LEAKY_SLOPE)),
            lambda: nn.LeakyReLU(_LEAKY_SLOPE),
            math.sqrt(2 / (1 + _LEAKY_SLOPE**2)),
            derivative_from_output=lambda h: torch.where(
                h > 0, torch.ones_like(h), torch.full_like(h, _LEAKY_SLOPE)),
            piecewise_linear=True,
        ),
        # PReLU (He et al. 2015): φ(x) = max(0, x) + a·min(0, x) with a learned slope a, one
        # nn.Parameter per layer initialised at 0.25 by torch.nn.PReLU. The fields describe φ
        # at that initial slope; the gain is He et al.'s sqrt(2/(1 + a²)).
        Activation(
            "prelu",
            "PReLU",
            _prelu_at_init,
            lambda x: _two_slopes(x, _PRELU_INIT),
            lambda: nn.PReLU(init=_PRELU_INIT),
            math.sqrt(2 / (1 + _PRELU_INIT**2)),
            derivative_from_output=lambda h: _two_slopes(h, _PRELU_INIT),
            piecewise_linear=True,
            learned=True,
        ),
        Activation(
            "elu",
            "ELU",
            torch.nn.functional.elu,
            lambda x: torch.where(x > 0, torch.ones_like(x), torch.exp(x)),
            nn.ELU,
            math.sqrt(2),
            derivative_from_output=lambda h: torch.where(h > 0, torch.ones_like(h), h + 1),
        ),
        Activation(
            "selu",
            "SELU",
            torch.selu,
            lambda x: _SELU_SCALE
            * torch.where(x > 0, torch.ones_like(x), _SELU_ALPHA * torch.exp(x)),
            nn.SELU,
            1.0,
            derivative_from_output=lambda h: torch.where(
                h > 0, torch.full_like(h, _SELU_SCALE), h + _SELU_SCALE * _SELU_ALPHA),
        ),
        Activation(
            "gelu", "GELU", torch.nn.functional.gelu, _gelu_derivative, nn.GELU, math.sqrt(2)
        ),
        Activation(
            "silu", "SiLU (swish)", torch.nn.functional.silu, _silu_derivative, nn.SiLU,
            math.sqrt(2),
        ),
    ]
}


def get_activation(name: str | Activation) -> Activation:
    """Return the registry entry for ``name``.

    Parameters
    ----------
    name : str or Activation
        A key of :data:`vgcourse.activations.ACTIVATIONS` (``"sigmoid"``, ``"tanh"``,
        ``"relu"``, ...). An
        :class:`Activation` is returned unchanged.

    Raises
    ------
    ValueError
        If ``name`` is not registered.
    """
    if isinstance(name, Activation):
        return name
    check_choice("activation", name, ACTIVATIONS)
    return ACTIVATIONS[name]


@functools.cache
def _module_entries() -> dict[type, list[tuple[str, str]]]:
    """Per activation module type, the registry entries that build it, with their settings.

    Learned entries (PReLU) are left out: their φ' is whatever training made of the slope.
    """
    entries: dict[type, list[tuple[str, str]]] = {}
    for name, entry in ACTIVATIONS.items():
        module = entry.module()
        if not entry.learned and not isinstance(module, nn.Identity):
            entries.setdefault(type(module), []).append((name, _settings(module)))
    return entries


def _settings(module: nn.Module) -> str:
    """A module's configuration as it prints, without ``inplace`` (which does not change φ)."""
    return ", ".join(part for part in module.extra_repr().split(", ")
                     if part and not part.startswith("inplace"))


def is_activation_module(module: nn.Module) -> bool:
    """Whether ``module`` is of a type some entry of :data:`ACTIVATIONS` builds (``nn.Tanh``,
    ``nn.ReLU``, ``nn.LeakyReLU`` of any slope, ...): an activation the doctor and the monitor
    measure."""
    return type(module) in _module_entries()


def activation_for_module(module: nn.Module) -> str | None:
    """The name of the registry entry whose φ' ``module`` computes, or ``None``.

    The type and the settings must match the entry's module (``nn.LeakyReLU(0.01)`` is
    ``"leaky_relu"``; a slope of 0.2 matches no entry and gives ``None``, so nothing is called
    dead or saturated by a derivative the module does not have). A leaky ReLU of slope 0 is the
    ReLU.

    Examples
    --------
    >>> activation_for_module(nn.Tanh()), activation_for_module(nn.LeakyReLU(0.2))
    ('tanh', None)
    """
    if isinstance(module, nn.LeakyReLU) and module.negative_slope == 0:
        return "relu"
    settings = _settings(module)
    return next((name for name, expected in _module_entries().get(type(module), [])
                 if expected == settings), None)
