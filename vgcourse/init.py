"""Weight initialisation schemes, applied to every Linear layer of a model.

Every named scheme zeroes the biases, as the papers do; ``"default"`` keeps PyTorch's own
initialisation (weights and biases uniform with bound 1/sqrt(fan_in)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ._validation import check_choice, check_int, check_positive


@dataclass(frozen=True)
class InitScheme:
    """One initialisation scheme: the law its weights are drawn from and that law's scale.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"he"``.
    law : {"normal", "uniform", "orthogonal", "constant"}
        How a weight matrix is drawn: N(0, a²); U(−a, a); a Haar-orthogonal matrix
        (:func:`haar_orthogonal`), whose entries have root mean square a; every entry equal
        to a.
    scale : callable
        ``scale(fan_in, fan_out, std)``: the number a of ``law`` for a layer with these fans
        (``std`` is the argument of ``scheme="normal"``, None for the others).
    source : str
        Where the scheme comes from.
    needs_std : bool
        Whether the scheme is set by ``std`` (``"normal"``); the others refuse one.
    draws_biases : bool
        Whether the biases are drawn from the weights' law too (PyTorch's default); every
        other scheme zeroes them, as the papers do.
    """

    name: str
    law: str
    scale: Callable[[int, int, float | None], float]
    source: str
    needs_std: bool = False
    draws_biases: bool = False

    def variance(self, fan_in: int, fan_out: int, std: float | None = None) -> float:
        """Var(W_ij) of one weight entry, before any gain: a² (normal, orthogonal), a²/3
        (uniform), 0 (constant)."""
        a = self.scale(fan_in, fan_out, std)
        return {"normal": a * a, "orthogonal": a * a, "uniform": a * a / 3,
                "constant": 0.0}[self.law]


#: Every initialisation scheme of :func:`vgcourse.initialize` by name, with its law and scale:
#: the one table that :func:`vgcourse.initialize` draws from and
#: :func:`vgcourse.theory.init_variance` reads.
SCHEME_TABLE: dict[str, InitScheme] = {
    s.name: s
    for s in [
        InitScheme("default", "uniform", lambda fan_in, fan_out, std: 1 / math.sqrt(fan_in),
                   "PyTorch's nn.Linear.reset_parameters", draws_biases=True),
        InitScheme("normal", "normal", lambda fan_in, fan_out, std: std,
                   "a given standard deviation", needs_std=True),
        InitScheme("lecun", "normal", lambda fan_in, fan_out, std: 1 / math.sqrt(fan_in),
                   "LeCun et al. 1998"),
        InitScheme("xavier", "normal",
                   lambda fan_in, fan_out, std: math.sqrt(2 / (fan_in + fan_out)),
                   "Glorot & Bengio 2010"),
        InitScheme("he", "normal", lambda fan_in, fan_out, std: math.sqrt(2 / fan_in),
                   "He et al. 2015"),
        InitScheme("orthogonal", "orthogonal",
                   lambda fan_in, fan_out, std: 1 / math.sqrt(max(fan_in, fan_out)),
                   "Saxe et al. 2014"),
        InitScheme("constant", "constant", lambda fan_in, fan_out, std: 1 / fan_in,
                   "the symmetry problem: every unit averages its inputs"),
    ]
}
SCHEMES = tuple(SCHEME_TABLE)

# Largest std a scheme takes: its square must stay within float64's range, ~1.8e308.
_LARGEST_STD = 1e100


def get_scheme(scheme: str, std: float | None = None) -> InitScheme:
    """The entry of :data:`SCHEME_TABLE` for ``scheme``, after checking that ``std`` goes with it.

    Parameters
    ----------
    scheme : str
        A key of :data:`SCHEME_TABLE`.
    std : float, optional
        Required by ``"normal"`` (finite, >= 0), refused by every other scheme.

    Raises
    ------
    ValueError
        Naming ``scheme`` or ``std``, its value and what is allowed.

    Examples
    --------
    >>> get_scheme("he").variance(fan_in=8, fan_out=4)
    0.25
    """
    check_choice("scheme", scheme, SCHEMES)
    entry = SCHEME_TABLE[scheme]
    if entry.needs_std:
        if std is None:
            raise ValueError(f"std=None is not allowed with scheme={scheme!r}; pass std > 0.")
        check_positive("std", std, allow_zero=True, maximum=_LARGEST_STD)
    elif std is not None:
        raise ValueError(f"std={std!r} is only used with scheme='normal', not scheme={scheme!r}.")
    return entry


def initialize(
    model: nn.Module,
    scheme: str,
    gain: float | None = None,
    std: float | None = None,
    generator: torch.Generator | None = None,
    bias_std: float | None = None,
) -> nn.Module:
    """Initialise the weights of every ``nn.Linear`` in ``model`` in place.

    Parameters
    ----------
    model : nn.Module
        Any module; its ``nn.Linear`` submodules are initialised.
    scheme : {"default", "normal", "lecun", "xavier", "he", "orthogonal", "constant"}
        ``default``: PyTorch's ``reset_parameters`` (n·Var(W) = 1/3).
        ``normal``: W ~ N(0, std²), ``std`` required.
        ``lecun``: W ~ N(0, 1/fan_in) (LeCun et al. 1998).
        ``xavier``: W ~ N(0, 2/(fan_in + fan_out)) (Glorot & Bengio 2010).
        ``he``: W ~ N(0, 2/fan_in) (He et al. 2015).
        ``orthogonal``: W = Q with orthonormal rows or columns (Saxe et al. 2014).
        ``constant``: every weight 1/fan_in, so each unit averages its inputs; all units of a
        layer are identical and stay so under gradient descent (the symmetry problem).
        Each scheme's law and scale are its entry in :data:`vgcourse.init.SCHEME_TABLE`.
    gain : float, optional
        Multiplies every weight after the scheme draws it, so ``orthogonal`` with gain ``a``
        gives ``a·Q`` and ``lecun`` with gain σ_w gives the mean-field W ~ N(0, σ_w²/fan_in).
        Defaults to 1.
    std : float, optional
        Standard deviation for ``scheme="normal"``; not allowed for other schemes.
    generator : torch.Generator, optional
        Source of randomness, for reproducible draws.
    bias_std : float, optional
        Draw every bias from N(0, bias_std²) instead of zeroing it: the σ_b of mean-field
        theory (Poole et al. 2016). Not allowed with ``scheme="default"``, which draws its own.

    Returns
    -------
    nn.Module
        ``model`` itself, for chaining.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model is a {type(model).__name__}; expected a torch.nn.Module.")
    entry = get_scheme(scheme, std)
    if gain is not None:
        check_positive("gain", gain, allow_zero=True)
    if bias_std is not None:
        check_positive("bias_std", bias_std, allow_zero=True)
        if entry.draws_biases:
            raise ValueError(f"bias_std={bias_std!r} is not allowed with scheme={scheme!r}, "
                             "which draws its biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in)).")
    scale = 1.0 if gain is None else float(gain)
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, nn.Linear):
                _init_linear(layer, entry, std, generator)
                layer.weight.mul_(scale)
                if bias_std is not None and layer.bias is not None:
                    layer.bias.normal_(0.0, bias_std, generator=generator)
    return model


def _init_linear(layer: nn.Linear, entry: InitScheme, std, generator) -> None:
    weight = layer.weight
    fan_out, fan_in = weight.shape
    if weight.numel() == 0:  # a zero-width layer: no weight to draw, and 1/fan_in is undefined
        if layer.bias is not None:
            layer.bias.zero_()
        return
    a = entry.scale(fan_in, fan_out, std)
    if entry.law == "orthogonal":
        _orthogonal_(weight, generator)
    else:
        _draw(weight, entry.law, a, generator)
    if layer.bias is not None:
        if entry.draws_biases:
            _draw(layer.bias, entry.law, a, generator)
        else:
            layer.bias.zero_()


def _draw(tensor: torch.Tensor, law: str, a: float, generator) -> None:
    if law == "uniform":
        tensor.uniform_(-a, a, generator=generator)
    elif law == "constant":
        tensor.fill_(a)
    else:
        tensor.normal_(0.0, a, generator=generator)


def haar_orthogonal(rows: int, cols: int | None = None,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """A Haar-random ``rows × cols`` matrix with orthonormal columns (or rows), in float64.

    The QR factors of a Gaussian matrix, with the signs of R's diagonal moved into Q so that Q
    is distributed uniformly (Haar) rather than biased by the QR convention (Mezzadri 2007).
    A square matrix is orthogonal; a tall one has orthonormal columns, a wide one orthonormal
    rows. Every orthogonal draw in the course (the ``orthogonal`` init, the recurrent matrices
    of chapters 4 and 7) comes from here.

    Parameters
    ----------
    rows : int
    cols : int, optional
        Default ``rows`` (a square orthogonal matrix).
    generator : torch.Generator, optional
        Seeds the Gaussian draw.

    Examples
    --------
    >>> q = haar_orthogonal(3, generator=torch.Generator().manual_seed(0))
    >>> torch.allclose(q @ q.T, torch.eye(3, dtype=torch.float64))
    True
    """
    check_int("rows", rows)
    cols = rows if cols is None else cols
    check_int("cols", cols)
    a = torch.randn(max(rows, cols), min(rows, cols), generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r))
    return q if rows >= cols else q.T


def _orthogonal_(weight: torch.Tensor, generator) -> None:
    weight.copy_(haar_orthogonal(*weight.shape, generator=generator))


def fan_in_and_fan_out(weight: torch.Tensor) -> tuple[int, int]:
    """The fans of a weight tensor: inputs and outputs that one entry is summed with.

    A linear weight has shape (out, in): fan_in = in, fan_out = out. A convolution's weight has
    shape (C_out, C_in, k_1, …, k_d), and each output is a sum over a receptive field of C_in
    channels times k_1⋯k_d positions, so fan_in = C_in·k_1⋯k_d (k²C for a k × k kernel, He et
    al. 2015) and fan_out = C_out·k_1⋯k_d. The same as PyTorch's
    ``torch.nn.init._calculate_fan_in_and_fan_out``, which the ``kaiming_*`` and ``xavier_*``
    initialisers use.

    Parameters
    ----------
    weight : Tensor
        At least two dimensions.

    Examples
    --------
    >>> fan_in_and_fan_out(torch.empty(32, 16, 3, 3))
    (144, 288)
    """
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight is a {type(weight).__name__}; expected a torch.Tensor.")
    if weight.dim() < 2:
        raise ValueError(f"weight has shape {tuple(weight.shape)}; expected at least two "
                         "dimensions (out, in, *kernel).")
    receptive = math.prod(weight.shape[2:])
    return weight.shape[1] * receptive, weight.shape[0] * receptive


class _Reached(Exception):
    """Raised by :func:`lsuv_`'s hook once the layer being rescaled has produced its output."""


def lsuv_(model: nn.Module, x: torch.Tensor, target: float = 1.0, tol: float = 0.01,
          max_iter: int = 10) -> list[int]:
    """Layer-sequential unit-variance initialisation (Mishkin & Matas 2016), in place.

    Going from the input up, each ``nn.Linear`` and ``nn.Conv*`` layer's weights are divided by
    the standard deviation of its output on the batch ``x`` (the layers below already
    rescaled), until that variance is within ``tol`` of ``target``. The method does not need
    to know the activation: it measures. Start from orthogonal (or any) weights; biases are
    left as they are. In a wide network this lands on σ_w = :func:`vgcourse.theory.lsuv_sigma_w`.

    Parameters
    ----------
    model : nn.Module
        Its layers run in the order ``model.modules()`` lists them, as in an MLP.
    x : Tensor
        A batch of inputs (the LSUV paper uses one mini-batch).
    target : float, default 1.0
        The output variance each layer is brought to.
    tol : float, default 0.01
        Allowed abs(variance − target).
    max_iter : int, default 10
        Most rescalings per layer.

    Returns
    -------
    list of int
        Rescalings done per layer (1 when the first already hit the target).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model is a {type(model).__name__}; expected a torch.nn.Module.")
    check_positive("target", target)
    check_positive("tol", tol)
    check_int("max_iter", max_iter)
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]
    if not layers:
        raise ValueError(f"model={type(model).__name__} has no nn.Linear or convolution layer "
                         "to rescale.")
    x = x.to(next(model.parameters()).dtype)
    counts, seen = [], {}

    def keep(module, inputs, output):
        seen["out"] = output.detach()
        raise _Reached  # the layers above do not matter yet: stop the forward pass here

    for layer in layers:
        hook = layer.register_forward_hook(keep)
        try:
            rescalings = 0
            while rescalings < max_iter:
                rescalings += 1
                with torch.no_grad():
                    try:
                        model(x)
                    except _Reached:
                        pass
                    variance = float(seen["out"].var())
                    if abs(variance - target) <= tol or variance == 0:
                        break
                    layer.weight.mul_(math.sqrt(target / variance))
        finally:
            hook.remove()
        counts.append(rescalings)
    return counts
