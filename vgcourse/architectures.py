"""Architectures after the classic fixes (chapter 11): each one keeps a path for the gradient.

- :class:`HighwayMLP`: a gated skip, y = T·H(x) + (1 − T)·x (Srivastava et al. 2015), the
  LSTM's carousel turned sideways into depth; :func:`depth_gradient_norms` measures what
  reaches each layer.
- :class:`CausalTransformer`: a small pre-LN transformer whose attention joins every position
  to every earlier one in one step; :func:`input_gradient_by_distance` measures the gradient
  of a prediction with respect to the characters read before it, for this model and for a
  recurrent :class:`vgcourse.language.CharLM` alike.
- :func:`rezero` and :func:`fixup`: residual networks without normalisation (Bachlechner et
  al. 2021; De & Smith 2020; Zhang et al. 2019), applied to a :func:`vgcourse.mlp`.
- :class:`DiagonalLinearRNN`: a linear recurrence h_t = λ ⊙ h_{t−1} + u_t whose eigenvalues
  λ are set near the unit circle (Orvieto et al. 2023), and :func:`orthogonal_rnn`, a tanh
  RNN whose recurrent matrix stays orthogonal while it trains.
- :func:`parametric_activation`: PReLU with slope a and swish with β as registry
  :class:`~vgcourse.activations.Activation` entries, so :func:`vgcourse.theory.chi` applies.
"""

from __future__ import annotations

import copy
import math
from numbers import Real

import torch
from torch import nn

from ._validation import check_choice, check_dtype, check_int, check_positive, check_seed
from .activations import ACTIVATIONS, Activation, get_activation

__all__ = [
    "CausalTransformer",
    "DiagonalLinearRNN",
    "HighwayMLP",
    "LearnedSwish",
    "activation_parameters",
    "depth_gradient_norms",
    "fixup",
    "input_gradient_by_distance",
    "learn_activation",
    "orthogonal_rnn",
    "parametric_activation",
    "rezero",
]


def _check_finite(name: str, value, limit: float = 1e30) -> float:
    """Raise ``ValueError`` unless ``value`` is a real number of size at most ``limit`` (so it
    fits a float32 parameter and its square a float64); return it as a float."""
    if isinstance(value, bool) or not isinstance(value, Real) or not abs(value) <= limit:
        raise ValueError(f"{name}={value!r} is not allowed; expected a finite number between "
                         f"{-limit:g} and {limit:g}.")
    return float(value)


# -- highway networks ---------------------------------------------------------------------------
class HighwayLayer(nn.Module):
    """One highway layer: y = t ⊙ φ(W_H x + b_H) + (1 − t) ⊙ x, with t = σ(W_T x + b_T).

    Build layers with :class:`HighwayMLP`. ``transform`` is (W_H, b_H), ``gate`` is
    (W_T, b_T); 1 − t is the carry gate.
    """

    def __init__(self, width: int, activation: Activation):
        super().__init__()
        self.transform = nn.Linear(width, width)
        self.gate = nn.Linear(width, width)
        self.activation = activation.module()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = torch.sigmoid(self.gate(x))
        return t * self.activation(self.transform(x)) + (1 - t) * x


class HighwayMLP(nn.Module):
    """A stack of ``depth`` highway layers of ``width`` units (Srivastava et al. 2015).

    Parameters
    ----------
    depth : int
        Number of highway layers L.
    width : int, default 64
    gate_bias : float, default -2.0
        b_T of every layer. Srivastava et al. start it negative (−1 to −3), so that every
        layer starts by mostly carrying its input.
    activation : str, default "relu"
        A key of :data:`vgcourse.activations.ACTIVATIONS`, the transform's φ.
    gate_std : float, default 0.0
        Standard deviation of the gate weights W_T. At 0 every gate starts at exactly
        t = σ(b_T) whatever the input, the case :func:`vgcourse.theory.highway_gradient_decay`
        describes.
    seed : int, default 0
    dtype : torch.dtype, default torch.float64

    Attributes
    ----------
    layers : nn.ModuleList of HighwayLayer
        W_H has He weights (variance 2/n) scaled by the activation's gain over √2, b_H = 0.
    """

    def __init__(self, depth: int, width: int = 64, gate_bias: float = -2.0,
                 activation: str = "relu", gate_std: float = 0.0, seed: int = 0,
                 dtype: torch.dtype = torch.float64):
        super().__init__()
        check_int("depth", depth)
        check_int("width", width)
        check_positive("gate_std", gate_std, allow_zero=True, maximum=1e100)
        check_seed("seed", seed)
        check_dtype("dtype", dtype)
        gate_bias = _check_finite("gate_bias", gate_bias)
        act = get_activation(activation)
        generator = torch.Generator().manual_seed(seed)
        self.layers = nn.ModuleList(HighwayLayer(width, act) for _ in range(depth))
        with torch.no_grad():
            for layer in self.layers:
                std = act.gain / math.sqrt(width)
                layer.transform.weight.copy_(torch.randn(width, width, generator=generator) * std)
                layer.transform.bias.zero_()
                layer.gate.weight.copy_(
                    torch.randn(width, width, generator=generator) * gate_std / math.sqrt(width))
                layer.gate.bias.fill_(gate_bias)
        self.to(dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


def depth_gradient_norms(layers, x: torch.Tensor, seed: int = 0) -> list[float]:
    """‖∂(v·x_L)/∂x_l‖ for l = 0..L through a stack of layers, by backpropagation.

    Parameters
    ----------
    layers : iterable of nn.Module
        Applied in order, x_l = layers[l − 1](x_{l−1}); e.g. ``HighwayMLP(...).layers`` or the
        ``blocks`` of a residual :func:`vgcourse.mlp`.
    x : Tensor (batch, width)
        The input x_0.
    seed : int, default 0
        Seeds the random unit vector v (one for the whole batch).

    Returns
    -------
    list of float
        Root-mean-square over the batch of the gradient's norm at each x_l, l = 0..L; the
        last entry is 1 (the unit vector v itself).
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or not x.is_floating_point():
        raise ValueError(f"x with shape {getattr(x, 'shape', None)} is not allowed; expected a "
                         "floating-point tensor of shape (batch, width).")
    check_seed("seed", seed)
    try:
        layers = list(layers)
    except TypeError:
        raise ValueError(f"layers={layers!r} is not allowed; expected an iterable of "
                         "modules.") from None
    if not layers or not all(isinstance(m, nn.Module) for m in layers):
        raise ValueError(f"layers={layers!r} is not allowed; expected at least one module, "
                         "and modules only.")
    states = [x.detach().clone().requires_grad_()]
    try:
        for layer in layers:
            states.append(layer(states[-1]))
    except RuntimeError as error:
        raise ValueError(f"x with shape {tuple(x.shape)} and dtype {x.dtype} is not allowed "
                         f"for these layers: {str(error).splitlines()[0]}") from None
    v = torch.randn(x.shape[1], generator=torch.Generator().manual_seed(seed),
                    dtype=torch.float64).to(x.dtype)
    v = v / v.norm()
    grads = torch.autograd.grad((states[-1] * v).sum(), states)
    return [float(g.double().pow(2).sum(-1).mean().sqrt()) for g in grads]


# -- attention -------------------------------------------------------------------------------
class PreLNBlock(nn.Module):
    """x ← x + Attention(LN(x)); x ← x + MLP(LN(x)), causal (Xiong et al. 2020's pre-LN).

    Both branches sit beside an identity skip, as in chapter 6's pre-norm residual block.
    """

    def __init__(self, d_model: int, heads: int, hidden: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attention = nn.MultiheadAttention(d_model, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, hidden), nn.GELU(),
                                 nn.Linear(hidden, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        mask = torch.ones(n, n, dtype=torch.bool, device=x.device).triu(1)  # True: hidden
        h = self.norm1(x)
        x = x + self.attention(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class CausalTransformer(nn.Module):
    """A character-level pre-LN transformer, a drop-in for :class:`vgcourse.language.CharLM`.

    Embedding plus learned positions → ``layers`` :class:`PreLNBlock` → LayerNorm → linear
    read-out over the vocabulary. Position p attends to positions 0..p only, so it predicts
    the character at p + 1 from what it has read.

    Parameters
    ----------
    vocab_size : int
    d_model : int, default 32
    heads : int, default 2
        Attention heads; must divide ``d_model``.
    layers : int, default 2
    context : int, default 64
        Longest input it reads (the number of learned positions).
    seed : int, default 0

    Notes
    -----
    ``forward(ids, state=None)`` returns ``(logits, None)`` like ``CharLM``, so
    :func:`vgcourse.language.train_char_lm` (``model=``), :func:`~vgcourse.language.predictions`
    with ``context`` at most half of this ``context``, and
    :func:`~vgcourse.language.bracket_accuracy` take it unchanged.
    """

    def __init__(self, vocab_size: int, d_model: int = 32, heads: int = 2, layers: int = 2,
                 context: int = 64, seed: int = 0):
        super().__init__()
        check_int("vocab_size", vocab_size, minimum=2)
        check_int("d_model", d_model)
        check_int("heads", heads)
        check_int("layers", layers)
        check_int("context", context)
        check_seed("seed", seed)
        if d_model % heads:
            raise ValueError(f"heads={heads!r} is not allowed; expected a divisor of "
                             f"d_model={d_model}.")
        self.context = context
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.embed = nn.Embedding(vocab_size, d_model)
            self.position = nn.Embedding(context, d_model)
            self.blocks = nn.ModuleList(PreLNBlock(d_model, heads, 4 * d_model)
                                        for _ in range(layers))
            self.norm = nn.LayerNorm(d_model)
            self.readout = nn.Linear(d_model, vocab_size)

    def embedded(self, ids: torch.Tensor) -> torch.Tensor:
        """Token plus position embeddings, (batch, T, d_model): what the blocks read."""
        if ids.shape[-1] > self.context:
            raise ValueError(f"ids of length {ids.shape[-1]} is not allowed; expected at most "
                             f"context={self.context}.")
        positions = torch.arange(ids.shape[-1], device=ids.device)
        return self.embed(ids) + self.position(positions)

    def from_embedded(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (batch, T, V) from the embeddings of :meth:`embedded`."""
        for block in self.blocks:
            x = block(x)
        return self.readout(self.norm(x))

    def forward(self, ids: torch.Tensor, state=None):
        """Logits (batch, T, V) and ``None`` (there is no state to carry)."""
        return self.from_embedded(self.embedded(ids)), None


def input_gradient_by_distance(model: nn.Module, inputs: torch.Tensor,
                               seed: int = 0) -> tuple[list[int], list[float]]:
    """‖∂(v·z_T)/∂x_{T−d}‖ by distance d: how much the last output feels each earlier input.

    Measured in float64 on a copy of the model, with v a random unit vector over the outputs.

    - A language model (``inputs`` are character ids, (batch, T)): z_T are the logits at the
      last position and x_t the embedded input at position t (for the transformer, token
      plus position embedding).
    - A sequence-to-one model (``inputs`` are floats, (batch, T, input_size)): z_T is the
      model's output and x_t the input itself.

    Parameters
    ----------
    model : CausalTransformer, vgcourse.language.CharLM, SequenceModel or DiagonalLinearRNN
    inputs : Tensor
        int64 ids (batch, T) for the language models, floats (batch, T, input_size) else.
    seed : int, default 0
        Seeds v.

    Returns
    -------
    distances : list of int
        0, 1, …, T − 1.
    norms : list of float
        Root-mean-square over the batch of the gradient's norm at each distance.
    """
    from .language import CharLM
    from .recurrent import SequenceModel

    check_seed("seed", seed)
    language = isinstance(model, (CausalTransformer, CharLM))
    if not language and not isinstance(model, (SequenceModel, DiagonalLinearRNN)):
        raise ValueError(f"model={type(model).__name__} is not allowed; expected a "
                         "CausalTransformer, CharLM, SequenceModel or DiagonalLinearRNN.")
    shape = (2 if language else 3)
    if not isinstance(inputs, torch.Tensor) or inputs.dim() != shape:
        expected = "(batch, T) of ids" if language else "(batch, T, input_size)"
        raise ValueError(f"inputs with shape {getattr(inputs, 'shape', None)} is not allowed; "
                         f"expected a tensor of shape {expected}.")
    if language:
        vocab = model.embed.num_embeddings
        if inputs.is_floating_point() or inputs.is_complex() or inputs.numel() == 0 or \
                int(inputs.min()) < 0 or int(inputs.max()) >= vocab:
            raise ValueError(f"inputs of dtype {inputs.dtype} is not allowed; expected "
                             f"character ids, integers from 0 to {vocab - 1}.")
    elif not inputs.is_floating_point() or inputs.numel() == 0:
        raise ValueError(f"inputs of dtype {inputs.dtype} is not allowed; expected a "
                         "non-empty floating-point tensor.")
    work = _float64_copy(model)
    with torch.no_grad():
        if isinstance(work, CausalTransformer):
            x = work.embedded(inputs)
        elif isinstance(work, CharLM):
            x = work.embed(inputs)
        else:
            x = inputs.to(torch.float64)
    x = x.clone().requires_grad_()
    if isinstance(work, CausalTransformer):
        out = work.from_embedded(x)[:, -1]
    elif isinstance(work, CharLM):
        out = work.core.readout(work.core.recurrent(x)[0])[:, -1]
    else:
        out = work(x)
    v = torch.randn(out.shape[-1], generator=torch.Generator().manual_seed(seed),
                    dtype=torch.float64)
    (grad,) = torch.autograd.grad((out * (v / v.norm())).sum(), x)
    norms = grad.pow(2).sum(-1).mean(0).sqrt().flip(0)  # by distance back from T
    return list(range(x.shape[1])), norms.tolist()


def _float64_copy(model: nn.Module) -> nn.Module:
    """A float64 copy in eval mode. A parametrised recurrent layer (:func:`orthogonal_rnn`)
    caches its weights as computed tensors after a forward pass, which ``deepcopy`` refuses:
    recompute them outside autograd first."""
    for module in model.modules():
        if isinstance(module, nn.RNNBase) and nn.utils.parametrize.is_parametrized(module):
            with torch.no_grad():
                module._init_flat_weights()
    return copy.deepcopy(model).to(torch.float64).eval()


# -- normalisation-free residual networks ----------------------------------------------------
def _submodules(model, kind: type, expected: str) -> list:
    """The modules of type ``kind`` inside ``model``, or a ValueError naming what was expected."""
    found = [m for m in model.modules() if isinstance(m, kind)] \
        if isinstance(model, nn.Module) else []
    if not found:
        raise ValueError(f"model={type(model).__name__} is not allowed; expected {expected}.")
    return found


def _blocks(model: nn.Module) -> list:
    from .models import ResidualBlock

    blocks = _submodules(model, ResidualBlock,
                         "a residual network built by vgcourse.mlp(..., residual=True)")
    if any(b.normalised for b in blocks):
        raise ValueError("model with normalisation layers is not allowed; expected "
                         "vgcourse.mlp(..., residual=True, norm=None).")
    return blocks


def rezero(model: nn.Module) -> nn.Module:
    """Turn every residual block's α into a learned scalar that starts at 0 (ReZero).

    x ← x + α·F(x) with α an ``nn.Parameter`` initialised at zero (Bachlechner et al. 2021;
    SkipInit, De & Smith 2020, is the same idea): at initialisation the network is the
    identity and E‖x_L‖² = ‖x_0‖² at any depth; training then grows each α as far as the
    loss asks. Changes ``model`` in place and returns it.

    Parameters
    ----------
    model : MLP
        Built by ``vgcourse.mlp(depth, ..., residual=True)`` without normalisation.
    """
    for block in _blocks(model):
        weight = next(block.parameters())
        block.branch_scale = nn.Parameter(torch.zeros((), dtype=weight.dtype,
                                                      device=weight.device))
    return model


def fixup(model: nn.Module) -> nn.Module:
    """Fixup's rescaling of a residual MLP whose branches have m = 2 layers (Zhang et al. 2019).

    The last layer of each branch (W₂ and its bias) starts at zero, and the layer inside the
    branch (W₁) is multiplied by L^(−1/(2m−2)) = L^(−1/2) for L blocks, so that once W₂ has
    grown each block's contribution to E‖x_L‖² stays of order 1/L. (Fixup also adds scalar
    biases and multipliers; they change nothing at initialisation and are left out.) Changes
    ``model`` in place and returns it.

    Parameters
    ----------
    model : MLP
        Built by ``vgcourse.mlp(depth, ..., residual=True)`` without normalisation.
    """
    blocks = _blocks(model)
    scale = len(blocks) ** -0.5
    with torch.no_grad():
        for block in blocks:
            block.linear.weight.mul_(scale)
            block.linear2.weight.zero_()
            block.linear2.bias.zero_()
    return model


# -- linear recurrences ----------------------------------------------------------------------
class DiagonalLinearRNN(nn.Module):
    """A diagonal linear recurrence with a nonlinear per-step encoder and a linear read-out.

    u_t = W₂ tanh(W₁ x_t + b₁) + b₂ (the same small network at every step),
    h_t = λ ⊙ h_{t−1} + u_t, y = W_out (γ ⊙ h_T) + b_out with γ = √(1 − λ²), which keeps the
    variance of γ ⊙ h_T that of u for any λ (Orvieto et al.'s normalisation). So
    ∂h_T/∂h_t = diag(λ)^(T−t) exactly: the
    ρ^T law of chapter 7 with every ρ chosen. λ = exp(−exp(ν)) stays in (0, 1) while ν
    trains; it starts uniform in [``r_min``, ``r_max``], as in the LRU of Orvieto et al.
    (2023) (whose λ are complex; real ones suffice for the adding problem).

    Parameters
    ----------
    input_size : int, default 2
    hidden_size : int, default 32
    output_size : int, default 1
    r_min, r_max : float, default 0.9 and 0.999
        Range of the initial eigenvalues, 0 < r_min ≤ r_max < 1.
    encoder_size : int, default 32
        Hidden units of the per-step encoder.
    seed : int, default 0
    dtype : torch.dtype, default torch.float32
    """

    def __init__(self, input_size: int = 2, hidden_size: int = 32, output_size: int = 1,
                 r_min: float = 0.9, r_max: float = 0.999, encoder_size: int = 32,
                 seed: int = 0, dtype: torch.dtype = torch.float32):
        super().__init__()
        for name, value in [("input_size", input_size), ("hidden_size", hidden_size),
                            ("output_size", output_size), ("encoder_size", encoder_size)]:
            check_int(name, value)
        check_seed("seed", seed)
        _check_finite("r_min", r_min)
        _check_finite("r_max", r_max)
        check_dtype("dtype", dtype)
        if not 0 < r_min <= r_max < 1:
            raise ValueError(f"r_min={r_min!r}, r_max={r_max!r} is not allowed; expected "
                             "0 < r_min <= r_max < 1.")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.encoder = nn.Sequential(nn.Linear(input_size, 2 * encoder_size),
                                         nn.GLU(dim=-1), nn.Linear(encoder_size, hidden_size))
            self.readout = nn.Linear(hidden_size, output_size)
            radius = r_min + (r_max - r_min) * torch.rand(hidden_size, dtype=torch.float64)
        self.nu = nn.Parameter(torch.log(-torch.log(radius)))
        self.to(dtype)

    @property
    def eigenvalues(self) -> torch.Tensor:
        """λ = exp(−exp(ν)), shape (hidden_size,)."""
        return torch.exp(-torch.exp(self.nu))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Read-out of h_T for x of shape (batch, T, input_size), h_0 = 0.

        h_T = Σ_t λ^(T−t) u_t is computed as one weighted sum over t (no loop).
        """
        u = self.encoder(x)  # (batch, T, H)
        steps = x.shape[1]
        lags = torch.arange(steps - 1, -1, -1, dtype=u.dtype, device=u.device)
        lam = self.eigenvalues
        weights = torch.exp(lags[:, None] * torch.log(lam)[None, :])  # (T, H)
        return self.readout((u * weights).sum(1) * torch.sqrt(1 - lam**2))


def orthogonal_rnn(input_size: int = 2, hidden_size: int = 32, output_size: int = 1,
                   seed: int = 0, dtype: torch.dtype = torch.float32):
    """A tanh RNN whose recurrent matrix stays orthogonal while it trains.

    A :func:`vgcourse.sequence_model` ("rnn", tanh) with W_hh parametrised as an orthogonal
    matrix by ``torch.nn.utils.parametrizations.orthogonal`` (the matrix exponential of a
    skew-symmetric one, as in Lezcano-Casado & Martínez-Rubio 2019): every singular value of
    W_hh is 1 at every step, so only tanh' < 1 can shrink the gradient through time
    (Arjovsky et al. 2016 built the same guarantee with unitary matrices).

    Returns
    -------
    SequenceModel
    """
    from .recurrent import sequence_model

    check_int("hidden_size", hidden_size)
    model = sequence_model("rnn", input_size=input_size, hidden_size=hidden_size,
                           output_size=output_size, spectral_radius=1.0, seed=seed, dtype=dtype)
    nn.utils.parametrizations.orthogonal(model.recurrent, "weight_hh_l0")
    return model


# -- custom activations ----------------------------------------------------------------------
PARAMETRIC = ("prelu", "swish")


def parametric_activation(name: str, value: float) -> Activation:
    """A member of a family of activations with a parameter, as a registry entry.

    - ``"prelu"``: φ(x) = max(0, x) + a·min(0, x) with slope a = ``value`` (He et al. 2015);
      at a = 0.25, torch's initial slope, it is ``ACTIVATIONS["prelu"]``.
    - ``"swish"``: φ(x) = x·σ(βx) with β = ``value`` (Ramachandran et al. 2017); β = 1 is
      ``ACTIVATIONS["silu"]``, β → ∞ tends to ReLU and β = 0 is x/2.

    The entry describes φ at that parameter, so :func:`vgcourse.theory.chi` gives χ for it.

    Parameters
    ----------
    name : {"prelu", "swish"}
    value : float
        a (any finite number) or β (≥ 0).
    """
    check_choice("name", name, PARAMETRIC)
    value = _check_finite("value", value)
    if name == "prelu":
        def slopes(x):
            return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, value))

        return Activation(f"prelu(a={value:g})", f"PReLU a = {value:g}",
                          lambda x: torch.where(x > 0, x, value * x), slopes,
                          lambda: nn.PReLU(init=value), math.sqrt(2 / (1 + value**2)),
                          derivative_from_output=slopes, piecewise_linear=True)
    check_positive("value", value, allow_zero=True)

    def swish(x):
        return x * torch.sigmoid(value * x)

    def derivative(x):
        s = torch.sigmoid(value * x)
        return torch.where(torch.isinf(x), s, s * (1 + value * x * (1 - s)))

    silu = ACTIVATIONS["silu"]
    return Activation(f"swish(beta={value:g})", f"swish β = {value:g}", swish, derivative,
                      silu.module if value == 1.0 else (lambda: _Swish(value)), silu.gain)


class _Swish(nn.Module):
    """x·σ(βx) with a fixed β (``nn.SiLU`` is β = 1)."""

    def __init__(self, beta: float):
        super().__init__()
        self.beta = beta

    def forward(self, x):
        return x * torch.sigmoid(self.beta * x)


class LearnedSwish(nn.Module):
    """x·σ(βx) with β an ``nn.Parameter`` (Ramachandran et al. 2017's swish with learned β)."""

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = nn.Parameter(torch.tensor(float(beta)))

    def forward(self, x):
        return x * torch.sigmoid(self.beta * x)


def learn_activation(model: nn.Module, name: str, value: float | None = None) -> nn.Module:
    """Give every hidden layer of a plain :func:`vgcourse.mlp` its own learned activation.

    Each layer's activation module becomes ``nn.PReLU(init=a)`` (``name="prelu"``, a = 0.25
    by default, one slope per layer) or :class:`LearnedSwish` (``name="swish"``, β = 1 by
    default). Changes ``model`` in place and returns it; :func:`activation_parameters` reads
    the values back.

    Parameters
    ----------
    model : MLP
        A plain (not residual) MLP built by :func:`vgcourse.mlp`.
    name : {"prelu", "swish"}
    value : float, optional
        The starting a or β.
    """
    from .models import HiddenLayer

    check_choice("name", name, PARAMETRIC)
    layers = _submodules(model, HiddenLayer, "a plain MLP built by vgcourse.mlp")
    start = (0.25 if name == "prelu" else 1.0) if value is None else _check_finite("value", value)
    weight = layers[0].linear.weight
    for layer in layers:
        module = nn.PReLU(init=start) if name == "prelu" else LearnedSwish(start)
        layer.activation = module.to(dtype=weight.dtype, device=weight.device)
        layer.activation_name = name
    return model


def activation_parameters(model: nn.Module) -> list[float]:
    """The current a (PReLU) or β (swish) of every hidden layer, from the input up."""
    from .models import HiddenLayer

    if not isinstance(model, nn.Module):
        raise ValueError(f"model={type(model).__name__} is not allowed; expected an MLP "
                         "changed by learn_activation.")
    out = []
    for layer in (m for m in model.modules() if isinstance(m, HiddenLayer)):
        act = layer.activation
        if isinstance(act, nn.PReLU):
            out.append(act.weight.mean().item())
        elif isinstance(act, LearnedSwish):
            out.append(act.beta.item())
    if not out:
        raise ValueError(f"model={type(model).__name__} is not allowed; expected an MLP "
                         "changed by learn_activation.")
    return out
