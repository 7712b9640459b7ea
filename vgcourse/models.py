"""Models whose hidden layers can be addressed in order: ``model.hidden[l - 1]`` is layer l."""

from __future__ import annotations

import torch
from torch import nn

from ._validation import check_int
from .activations import Activation, get_activation
from .init import initialize


class HiddenLayer(nn.Module):
    """One hidden layer: ``h = phi(W x + b)``.

    The pre-activation ``W x + b`` is the output of ``self.linear``; ``gradient_flow`` reads it
    with a hook to measure saturation and dead units.
    """

    def __init__(self, in_features: int, out_features: int, activation: Activation):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.activation = activation.module()
        self.activation_name = activation.name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.linear(x))


class MLP(nn.Module):
    """A plain deep MLP: ``depth`` hidden layers, then a linear read-out ``output``."""

    def __init__(self, hidden: list[HiddenLayer], output: nn.Linear):
        super().__init__()
        self.hidden = nn.ModuleList(hidden)
        self.output = output

    @property
    def depth(self) -> int:
        """Number of hidden layers."""
        return len(self.hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            x = layer(x)
        return self.output(x)


def mlp(
    depth: int,
    width: int = 64,
    activation: str = "tanh",
    init: str = "default",
    in_features: int | None = None,
    out_features: int | None = None,
    seed: int = 0,
    gain: float | None = None,
    std: float | None = None,
    dtype: torch.dtype = torch.float32,
) -> MLP:
    """Build a deep multilayer perceptron.

    Parameters
    ----------
    depth : int
        Number of hidden layers (Linear then activation), at least 1.
    width : int, default 64
        Units per hidden layer.
    activation : str, default "tanh"
        A key of :data:`vgcourse.activations.ACTIVATIONS`.
    init : str, default "default"
        A scheme of :func:`vgcourse.initialize`.
    in_features, out_features : int, optional
        Input size (default ``width``) and output size (default 1).
    seed : int, default 0
        Seeds the weight draw, so the same arguments give the same model.
    gain : float, optional
        Passed to :func:`vgcourse.initialize` (multiplies every weight).
    std : float, optional
        Weight standard deviation, for ``init="normal"`` only.
    dtype : torch.dtype, default torch.float32
        Parameter dtype.

    Returns
    -------
    MLP
        ``model.hidden[l - 1]`` is hidden layer l; ``model.output`` the read-out.

    Examples
    --------
    >>> model = mlp(depth=10, width=32, activation="relu", init="he")
    >>> model.depth
    10
    """
    check_int("depth", depth)
    check_int("width", width)
    in_features = width if in_features is None else in_features
    out_features = 1 if out_features is None else out_features
    check_int("in_features", in_features)
    check_int("out_features", out_features)
    act = get_activation(activation)
    sizes = [in_features] + [width] * depth
    hidden = [HiddenLayer(a, b, act) for a, b in zip(sizes[:-1], sizes[1:])]
    model = MLP(hidden, nn.Linear(width, out_features)).to(dtype)
    generator = torch.Generator().manual_seed(seed)
    initialize(model, init, gain=gain, std=std, generator=generator)
    return model
