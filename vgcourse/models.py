"""Models whose hidden layers can be addressed in order: ``model.hidden[l - 1]`` is layer l.

Three kinds of hidden layer share one interface, so :func:`vgcourse.gradient_flow` measures any
of them: ``.linear`` is the first ``nn.Linear``, ``.pre_activation`` the module whose output
enters the layer's (or the branch's inner) activation, and ``.activation_name`` names it.

- :class:`HiddenLayer`: ``h = φ(W x + b)``.
- :class:`NormLayer`: ``h = φ(N(W x + b))`` with ``N`` batch or layer normalisation (the
  placement of Ioffe & Szegedy 2015).
- :class:`ResidualBlock`: ``x + α·F(x)`` with a two-layer branch ``F`` (He et al. 2016).
"""

from __future__ import annotations

import torch
from torch import nn

from ._validation import (
    check_bool,
    check_choice,
    check_device,
    check_dtype,
    check_groups,
    check_int,
    check_positive,
    check_seed,
)
from .activations import Activation, get_activation
from .init import SCHEMES, initialize

NORMS = (None, "batch", "layer")
NORM_POSITIONS = ("post", "pre")


def _norm_module(norm: str | None, width: int, eps: float) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm1d(width, eps=eps)
    if norm == "layer":
        return nn.LayerNorm(width, eps=eps)
    return nn.Identity()


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

    @property
    def pre_activation(self) -> nn.Module:
        """The module whose output is the input of the activation."""
        return self.linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.linear(x))


class NormLayer(nn.Module):
    """A normalised hidden layer: ``h = phi(N(W x + b))``, ``N`` batch or layer norm.

    ``self.linear`` is the affine map, ``self.norm`` the normalisation (whose output,
    ``pre_activation``, enters the activation).
    """

    def __init__(self, in_features: int, out_features: int, activation: Activation,
                 norm: str, eps: float = 1e-5):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.norm = _norm_module(norm, out_features, eps)
        self.activation = activation.module()
        self.activation_name = activation.name

    @property
    def pre_activation(self) -> nn.Module:
        """The module whose output is the input of the activation: the normalisation."""
        return self.norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.norm(self.linear(x)))


class ResidualBlock(nn.Module):
    """A residual block ``x ↦ x + α·F(x)`` whose branch has two linear layers.

    With ``norm=None``: ``x + α·W₂ φ(W₁x + b₁) + α·b₂``, the block of the residual variance law
    E‖x_L‖² = (1 + 2α²)^L ‖x_0‖² (He weights, zero biases).

    With a normalisation ``N`` the placement decides where it sits:

    - ``"post"`` (He et al. 2016, the original ResNet): ``φ(x + α·N₂(W₂ φ(N₁(W₁x))))``, the
      activation after the sum;
    - ``"pre"`` (He et al. 2016, identity mappings): ``x + α·W₂ φ(N₂(W₁ φ(N₁(x))))``, nothing
      but the identity on the skip path.

    ``linear`` is W₁ and ``linear2`` is W₂; ``pre_activation`` is the module whose output enters
    the branch's inner activation.
    """

    def __init__(self, width: int, activation: Activation, norm: str | None = None,
                 placement: str = "post", branch_scale: float = 1.0, eps: float = 1e-5,
                 skip: bool = True):
        super().__init__()
        self.placement = placement
        self.branch_scale = float(branch_scale)
        self.skip = skip
        self.linear = nn.Linear(width, width)
        self.linear2 = nn.Linear(width, width)
        self.norm1 = _norm_module(norm, width, eps)
        self.norm2 = _norm_module(norm, width, eps)
        self.normalised = norm is not None
        self.activation = activation.module()
        self.activation_name = activation.name

    @property
    def pre_activation(self) -> nn.Module:
        """The module whose output enters the branch's inner activation."""
        if not self.normalised:
            return self.linear
        return self.norm1 if self.placement == "post" else self.norm2

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """The residual branch F(x), without the scale α."""
        phi = self.activation
        if not self.normalised:
            return self.linear2(phi(self.linear(x)))
        if self.placement == "post":
            return self.norm2(self.linear2(phi(self.norm1(self.linear(x)))))
        return self.linear2(phi(self.norm2(self.linear(phi(self.norm1(x))))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branch_scale * self.branch(x)
        if self.skip:
            out = x + out
        if self.normalised and self.placement == "post":
            out = self.activation(out)
        return out


class MLP(nn.Module):
    """A deep MLP: optional input projection ``input``, ``depth`` hidden layers or blocks
    ``hidden``, then a linear read-out ``output``."""

    def __init__(self, hidden: list[nn.Module], output: nn.Linear, input: nn.Module | None = None):
        super().__init__()
        if input is not None:
            self.input = input  # registered first, so it is the first Linear in .modules()
        self.hidden = nn.ModuleList(hidden)
        self.output = output

    @property
    def depth(self) -> int:
        """Number of hidden layers (of residual blocks, for a residual MLP)."""
        return len(self.hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if "input" in self._modules:
            x = self.input(x)
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
    norm: str | None = None,
    residual: bool = False,
    branch_scale: float = 1.0,
    norm_position: str = "post",
    zero_init: bool = False,
    norm_eps: float = 1e-5,
    device: torch.device | str | None = None,
) -> MLP:
    """Build a deep multilayer perceptron: plain, normalised or residual.

    Parameters
    ----------
    depth : int
        Number of hidden layers, at least 1; for ``residual=True`` the number of residual
        blocks (each holds two linear layers).
    width : int, default 64
        Units per hidden layer.
    activation : str, default "tanh"
        A key of :data:`vgcourse.activations.ACTIVATIONS`.
    init : str, default "default"
        A scheme of :func:`vgcourse.initialize`, applied to every Linear layer.
    in_features, out_features : int, optional
        Input size (default ``width``) and output size (default 1). A residual MLP whose
        ``in_features`` differs from ``width`` gets a linear input projection ``model.input``.
    seed : int, default 0
        Seeds the weight draw, so the same arguments give the same model.
    gain : float, optional
        Passed to :func:`vgcourse.initialize` (multiplies every weight).
    std : float, optional
        Weight standard deviation, for ``init="normal"`` only.
    dtype : torch.dtype, default torch.float32
        Parameter dtype.
    norm : {None, "batch", "layer"}, default None
        Normalisation: none, batch normalisation (Ioffe & Szegedy 2015) or layer normalisation
        (Ba et al. 2016). In a plain MLP each layer is ``φ(N(Wx + b))``.
    residual : bool, default False
        Build residual blocks ``x + α·F(x)`` (see :class:`ResidualBlock`) instead of layers.
    branch_scale : float, default 1.0
        The factor α on each residual branch; residual MLPs only.
    norm_position : {"post", "pre"}, default "post"
        Where a residual block normalises: after the branch's linear layers with the activation
        after the sum (original ResNet), or before them with a clean identity path
        (pre-activation ResNet). Only used with ``residual=True`` and a ``norm``.
    zero_init : bool, default False
        Start every residual branch at zero, so each block is the identity: the last
        normalisation's scale γ is zeroed for ``norm_position="post"`` with a norm (Goyal et al.
        2017), W₂ otherwise (as in Fixup, Zhang et al. 2019). Residual MLPs only.
    norm_eps : float, default 1e-5
        The ε added to the variance by each normalisation layer.
    device : torch.device or str, optional
        Where the parameters go (default the CPU). The weights are drawn on the CPU and then
        moved, so a seed gives the same model on every device.

    Returns
    -------
    MLP
        ``model.hidden[l - 1]`` is hidden layer (or block) l; ``model.output`` the read-out.

    Examples
    --------
    >>> model = mlp(depth=10, width=32, activation="relu", init="he")
    >>> model.depth
    10
    >>> bn = mlp(depth=10, width=32, activation="relu", init="he", norm="batch")
    >>> res = mlp(depth=5, width=32, activation="relu", init="he", residual=True,
    ...           branch_scale=0.5)
    """
    check_int("depth", depth)
    check_int("width", width)
    in_features = width if in_features is None else in_features
    out_features = 1 if out_features is None else out_features
    check_int("in_features", in_features)
    check_int("out_features", out_features)
    check_choice("norm", norm, NORMS)
    check_choice("norm_position", norm_position, NORM_POSITIONS)
    check_bool("residual", residual)
    check_bool("zero_init", zero_init)
    check_seed("seed", seed)
    check_dtype("dtype", dtype)
    check_device("device", device)
    check_choice("init", init, SCHEMES)
    check_positive("branch_scale", branch_scale, allow_zero=True)
    check_positive("norm_eps", norm_eps)
    if not residual and (branch_scale != 1.0 or zero_init):
        raise ValueError(
            f"branch_scale={branch_scale!r}, zero_init={zero_init!r} are only allowed with "
            "residual=True; a plain MLP has no branch."
        )
    act = get_activation(activation)
    # Building the layers would draw PyTorch's default init from the global RNG, which the
    # weights never use (they come from the seeded generator below): keep the global RNG as is.
    with torch.random.fork_rng(devices=[]):
        model = _build(depth, width, act, in_features, out_features, norm, residual,
                       branch_scale, norm_position, norm_eps).to(dtype)
    generator = torch.Generator().manual_seed(seed)
    initialize(model, init, gain=gain, std=std, generator=generator)
    if zero_init:
        with torch.no_grad():
            for block in model.hidden:
                if block.normalised and block.placement == "post":
                    block.norm2.weight.zero_()
                else:
                    block.linear2.weight.zero_()
    return model.to(device)


def _build(depth, width, act, in_features, out_features, norm, residual, branch_scale,
           norm_position, norm_eps) -> MLP:
    projection = None
    if residual:
        if in_features != width:
            projection = nn.Linear(in_features, width)
        hidden = [ResidualBlock(width, act, norm, norm_position, branch_scale, norm_eps)
                  for _ in range(depth)]
    else:
        sizes = [in_features] + [width] * depth
        if norm is None:
            hidden = [HiddenLayer(a, b, act) for a, b in zip(sizes[:-1], sizes[1:])]
        else:
            hidden = [NormLayer(a, b, act, norm, norm_eps) for a, b in zip(sizes[:-1], sizes[1:])]
    return MLP(hidden, nn.Linear(width, out_features), input=projection)


#: Normalisations a convolutional network of :func:`conv_net` can use (see
#: :func:`vgcourse.normalization.statistic_index` for what each averages over).
CONV_NORMS = (None, "batch", "layer", "instance", "group")


def _conv_norm(norm: str | None, channels: int, groups: int | None) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "layer":
        return nn.GroupNorm(1, channels)
    if norm == "instance":
        return nn.GroupNorm(channels, channels)  # = InstanceNorm2d with a learned scale/shift
    if norm == "group":
        return nn.GroupNorm(groups, channels)
    return nn.Identity()


class ConvLayer(nn.Module):
    """One plain convolutional layer: ``h = ReLU(N(conv₃ₓ₃(x)))``, the map size kept.

    ``self.conv`` is the convolution, ``self.norm`` the normalisation (``nn.Identity`` for
    none).
    """

    def __init__(self, channels: int, norm: str | None, groups: int | None):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm = _conv_norm(norm, channels, groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.norm(self.conv(x)))


class ConvResidualBlock(nn.Module):
    """A residual block of two convolutions (He et al. 2016):
    ``h = ReLU(x + N₂(conv₂(ReLU(N₁(conv₁(x))))))``."""

    def __init__(self, channels: int, norm: str | None, groups: int | None):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm1 = _conv_norm(norm, channels, groups)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = _conv_norm(norm, channels, groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.norm2(self.conv2(torch.relu(self.norm1(self.conv1(x)))))
        return torch.relu(x + branch)


class ConvNet(nn.Module):
    """An image classifier: a patch stem ``stem``, the layers or blocks ``hidden``, global
    average pooling and a linear read-out ``output``."""

    def __init__(self, stem: nn.Conv2d, hidden: list[nn.Module], output: nn.Linear):
        super().__init__()
        self.stem = stem
        self.hidden = nn.ModuleList(hidden)
        self.output = output

    @property
    def convolutions(self) -> list[nn.Conv2d]:
        """Every convolution, input side first (the stem included)."""
        return [m for m in self.modules() if isinstance(m, nn.Conv2d)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(x))
        for layer in self.hidden:
            x = layer(x)
        return self.output(x.mean(dim=(2, 3)))


def conv_net(
    depth: int,
    channels: int = 8,
    in_channels: int = 1,
    classes: int = 4,
    patch: int = 4,
    norm: str | None = None,
    groups: int | None = None,
    residual: bool = False,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> ConvNet:
    """Build a deep convolutional classifier: plain, normalised or residual.

    A stem convolution with kernel and stride ``patch`` cuts the image into patches
    (a 32×32 image becomes an 8×8 map at ``patch=4``), ``depth`` 3×3 convolutions of
    ``channels`` channels keep the map's size, and global average pooling feeds a linear
    read-out. Every convolution and the read-out get He weights, N(0, 2/fan_in) with fan-in
    k²·C_in (He et al. 2015), and zero biases; normalisation scales start at 1.

    Parameters
    ----------
    depth : int
        Number of 3×3 convolutions after the stem; with ``residual=True`` it must be even and
        the network has ``depth // 2`` blocks of two.
    channels : int, default 8
    in_channels : int, default 1
    classes : int, default 4
    patch : int, default 4
        Kernel size and stride of the stem.
    norm : {None, "batch", "layer", "instance", "group"}, default None
        The normalisation after every 3×3 convolution (``nn.BatchNorm2d`` or ``nn.GroupNorm``
        with 1, ``channels`` or ``groups`` groups).
    groups : int, optional
        Channel groups for ``norm="group"``, a divisor of ``channels``.
    residual : bool, default False
    seed : int, default 0
        Seeds the weights.
    dtype : torch.dtype, default torch.float32

    Returns
    -------
    ConvNet

    Examples
    --------
    >>> net = conv_net(depth=4, residual=True, norm="group", groups=2)
    >>> net(torch.zeros(2, 1, 32, 32)).shape
    torch.Size([2, 4])
    """
    check_int("depth", depth)
    check_int("channels", channels)
    check_int("in_channels", in_channels)
    check_int("classes", classes)
    check_int("patch", patch)
    check_choice("norm", norm, CONV_NORMS)
    check_bool("residual", residual)
    check_seed("seed", seed)
    check_dtype("dtype", dtype)
    check_groups(groups, channels, "norm", norm)
    if residual and depth % 2:
        raise ValueError(f"depth={depth!r} is not allowed with residual=True; expected an even "
                         "number of convolutions (two per block).")
    with torch.random.fork_rng(devices=[]):  # the weights come from the seeded generator
        stem = nn.Conv2d(in_channels, channels, patch, stride=patch)
        if residual:
            hidden = [ConvResidualBlock(channels, norm, groups) for _ in range(depth // 2)]
        else:
            hidden = [ConvLayer(channels, norm, groups) for _ in range(depth)]
        model = ConvNet(stem, hidden, nn.Linear(channels, classes)).to(dtype)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator,
                                                dtype=torch.float64) * (2 / fan_in) ** 0.5)
                module.bias.zero_()
    return model
