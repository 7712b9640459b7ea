"""Recurrent networks with every piece addressable, hand-written cells, and gradients in time.

``sequence_model(cell)`` builds a tanh RNN, an LSTM or a GRU whose recurrent layer is PyTorch's
own (fast, for training) and whose parameters the hand-written cells below read, so the same
weights can be run step by step and probed. ``gradient_through_time`` measures how much of a
gradient at the last step reaches each earlier step.

Conventions are PyTorch's: gate blocks are stacked in the order (i, f, g, o) for the LSTM and
(r, z, n) for the GRU, and the GRU keeps the fraction ``z`` of its old state,
h_t = z_t ⊙ h_{t−1} + (1 − z_t) ⊙ n_t, as in Cho et al. (2014, eq. 7); Chung et al. (2014)
write z and 1 − z the other way round. PyTorch applies the reset gate after the recurrent
matrix, r ⊙ (W_hn h_{t−1} + b_hn), where Cho et al. apply it before, U(r ⊙ h_{t−1}).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ._validation import check_choice, check_dtype, check_int, check_positive, check_seed
from .init import haar_orthogonal

CELLS = ("rnn", "lstm", "gru")
NONLINEARITIES = ("tanh", "relu", "identity")
OUTPUTS = ("last", "all")
_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


# -- the cells, written out -------------------------------------------------------------------
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity="tanh"):
    """One step of an Elman RNN: h_t = φ(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh).

    Parameters
    ----------
    x : Tensor (batch, input_size)
    h : Tensor (batch, hidden_size)
    weight_ih, weight_hh, bias_ih, bias_hh : Tensor
        As in ``nn.RNN`` (``weight_ih_l0`` …).
    nonlinearity : {"tanh", "relu", "identity"}, default "tanh"

    Returns
    -------
    Tensor (batch, hidden_size)
    """
    u = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
    return {"tanh": torch.tanh, "relu": torch.relu, "identity": lambda v: v}[nonlinearity](u)


def lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh, gates=None):
    """One step of an LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al.
    2000), in PyTorch's convention.

    i, f, o = σ(·) and g = tanh(·) of W_ih x_t + b_ih + W_hh h_{t−1} + b_hh, split in four;
    c_t = f ⊙ c_{t−1} + i ⊙ g and h_t = o ⊙ tanh(c_t).

    Parameters
    ----------
    x : Tensor (batch, input_size)
    h, c : Tensor (batch, hidden_size)
    weight_ih, weight_hh, bias_ih, bias_hh : Tensor
        As in ``nn.LSTM``: four blocks stacked in the order (i, f, g, o).
    gates : dict, optional
        If given, filled with the gate values ``i``, ``f``, ``g``, ``o`` of this step.

    Returns
    -------
    (h, c) : tuple of Tensor (batch, hidden_size)
    """
    i, f, g, o = (x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g  # the constant error carousel: c passes on multiplied only by f
    if gates is not None:
        gates.update(i=i, f=f, g=g, o=o)
    return o * torch.tanh(c), c


def gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh, gates=None):
    """One step of a GRU (Cho et al. 2014) in PyTorch's convention.

    r, z = σ(·) of the input and recurrent terms; n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn));
    h_t = z ⊙ h_{t−1} + (1 − z) ⊙ n: ``z`` is the fraction of the old state kept, as in Cho et
    al.'s eq. 7 (Chung et al. 2014 write z and 1 − z the other way round). The reset gate acts
    after the recurrent matrix, as in ``nn.GRU`` and cuDNN; Cho et al.'s candidate applies it
    before, tanh(W x + U(r ⊙ h_{t−1})), a different cell unless every unit's r is the same.

    Parameters
    ----------
    x : Tensor (batch, input_size)
    h : Tensor (batch, hidden_size)
    weight_ih, weight_hh, bias_ih, bias_hh : Tensor
        As in ``nn.GRU``: three blocks stacked in the order (r, z, n).
    gates : dict, optional
        If given, filled with the gate values ``r``, ``z``, ``n`` of this step.

    Returns
    -------
    Tensor (batch, hidden_size)
    """
    xr, xz, xn = (x @ weight_ih.T + bias_ih).chunk(3, dim=-1)
    hr, hz, hn = (h @ weight_hh.T + bias_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    if gates is not None:
        gates.update(r=r, z=z, n=n)
    return z * h + (1 - z) * n  # z keeps the old state (Cho et al. 2014, eq. 7; PyTorch)


# -- the model ----------------------------------------------------------------------------------
class SequenceModel(nn.Module):
    """A one-layer recurrent network and a linear read-out.

    Build it with :func:`vgcourse.sequence_model`.

    Attributes
    ----------
    cell : {"rnn", "lstm", "gru"}
    nonlinearity : str
        The RNN's φ ("tanh", "relu" or "identity"); "tanh" for the gated cells.
    recurrent : nn.RNN, nn.LSTM or nn.GRU
        PyTorch's layer (``batch_first=True``) holding the recurrent parameters.
    readout : nn.Linear
        Maps h_t to the output.
    output : {"last", "all"}
        Read out h_T only (shape (batch, out)) or every h_t (shape (batch, T, out)).
    """

    def __init__(self, cell, recurrent, readout, nonlinearity="tanh", output="last"):
        super().__init__()
        self.cell = cell
        self.nonlinearity = nonlinearity
        self.recurrent = recurrent
        self.readout = readout
        self.output = output

    @property
    def hidden_size(self) -> int:
        """Number of hidden units H."""
        return self.recurrent.hidden_size

    @property
    def weight_hh(self) -> torch.Tensor:
        """The recurrent weights, (gates·H, H), gate blocks stacked in PyTorch's order."""
        return self.recurrent.weight_hh_l0

    def cell_weights(self) -> dict:
        """``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``: the arguments of the cells."""
        r = self.recurrent
        return {"weight_ih": r.weight_ih_l0, "weight_hh": r.weight_hh_l0,
                "bias_ih": r.bias_ih_l0, "bias_hh": r.bias_hh_l0}

    def initial_state(self, batch: int) -> tuple:
        """Zero state: ``(h,)`` for the RNN and GRU, ``(h, c)`` for the LSTM."""
        dtype = self.recurrent.weight_hh_l0.dtype
        h = torch.zeros(batch, self.hidden_size, dtype=dtype)
        return (h, torch.zeros_like(h)) if self.cell == "lstm" else (h,)

    def step(self, x_t: torch.Tensor, state: tuple, gates: dict | None = None) -> tuple:
        """One time step with the hand-written cell; ``state`` as :meth:`initial_state`."""
        w = self.cell_weights()
        if self.cell == "lstm":
            return lstm_cell(x_t, *state, **w, gates=gates)
        if self.cell == "gru":
            return (gru_cell(x_t, state[0], **w, gates=gates),)
        return (rnn_cell(x_t, state[0], **w, nonlinearity=self.nonlinearity),)

    def states(self, x: torch.Tensor, state: tuple | None = None, gates: bool = False):
        """Run the hand-written cell over ``x`` (batch, T, input) step by step.

        Returns
        -------
        list of tuple
            The states at t = 0 (``state``, zeros by default) to T.
        dict of Tensor, only when ``gates=True``
            Each gate stacked over time, shape (batch, T, H).
        """
        state = self.initial_state(x.shape[0]) if state is None else tuple(state)
        trajectory, record = [state], {}
        for t in range(x.shape[1]):
            values = {} if gates else None
            state = self.step(x[:, t], state, gates=values)
            trajectory.append(state)
            for name, value in (values or {}).items():
                record.setdefault(name, []).append(value)
        if gates:
            return trajectory, {k: torch.stack(v, dim=1) for k, v in record.items()}
        return trajectory

    def hidden_states(self, x: torch.Tensor) -> torch.Tensor:
        """h_1 … h_T for ``x`` (batch, T, input), from the zero state: shape (batch, T, H)."""
        if self.cell == "rnn" and self.nonlinearity == "identity":  # PyTorch has no linear RNN
            return torch.stack([s[0] for s in self.states(x)[1:]], dim=1)
        return self.recurrent(x)[0]

    def final_state(self, x: torch.Tensor) -> torch.Tensor:
        """h_T, the state after the last step, shape (batch, H): what ``output="last"`` reads."""
        return self.hidden_states(x)[:, -1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hs = self.hidden_states(x)
        return self.readout(hs[:, -1] if self.output == "last" else hs)


def sequence_model(
    cell: str = "lstm",
    input_size: int = 1,
    hidden_size: int = 32,
    output_size: int = 1,
    nonlinearity: str = "tanh",
    spectral_radius: float | None = None,
    forget_bias: float | None = None,
    output: str = "last",
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    identity: bool = False,
) -> SequenceModel:
    """Build a one-layer RNN, LSTM or GRU with a linear read-out.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}, default "lstm"
    input_size, hidden_size, output_size : int
        Sizes of x_t, h_t and the read-out.
    nonlinearity : {"tanh", "relu", "identity"}, default "tanh"
        The RNN's φ; "identity" gives a linear RNN. Only "tanh" for the gated cells.
    spectral_radius : float, optional
        Set every H×H block of the recurrent weights to ρ·Q with Q a random orthogonal matrix,
        so all singular values of each block equal ρ (0 gives W_hh = 0). Default: PyTorch's
        uniform init, U(−1/√H, 1/√H).
    forget_bias : float, optional
        LSTM: the forget gate's bias (``bias_ih`` block f; ``bias_hh`` block f set to 0).
        GRU: the same for the keep gate z. Not for the RNN. Default: PyTorch's init.
    output : {"last", "all"}, default "last"
        Read out the last state only, or every state (for sequence-to-sequence tasks).
    seed : int, default 0
        Seeds the weight draw.
    dtype : torch.dtype, default torch.float32
    identity : bool, default False
        Set every H×H block of the recurrent weights to ρ·I (ρ = ``spectral_radius``, default
        1) and the recurrent layer's biases to zero: with ``cell="rnn", nonlinearity="relu"``
        this is the IRNN of Le et al. (2015). The input weights keep PyTorch's init.

    Returns
    -------
    SequenceModel
        ``model.recurrent`` is the PyTorch layer, ``model.readout`` the read-out,
        ``model.step``/``model.states`` run the hand-written cells on the same weights.

    Examples
    --------
    >>> model = sequence_model("gru", input_size=2, hidden_size=16)
    >>> model(torch.zeros(4, 10, 2)).shape
    torch.Size([4, 1])
    """
    check_choice("cell", cell, CELLS)
    check_int("input_size", input_size)
    check_int("hidden_size", hidden_size)
    check_int("output_size", output_size)
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES if cell == "rnn" else ("tanh",))
    check_choice("output", output, OUTPUTS)
    check_seed("seed", seed)
    check_dtype("dtype", dtype)
    if spectral_radius is not None:
        check_positive("spectral_radius", spectral_radius, allow_zero=True)
    if not isinstance(identity, bool):
        raise ValueError(f"identity={identity!r} is not allowed; expected True or False.")
    if forget_bias is not None:
        if cell == "rnn":
            raise ValueError(f"forget_bias={forget_bias!r} is not allowed for cell='rnn'; "
                             "expected None (only 'lstm' and 'gru' have a forget/keep gate).")
        if not math.isfinite(forget_bias):
            raise ValueError(f"forget_bias={forget_bias!r} is not allowed; expected a finite "
                             "number.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if cell == "rnn":
            recurrent = nn.RNN(input_size, hidden_size, batch_first=True,
                               nonlinearity="tanh" if nonlinearity == "identity" else nonlinearity)
        else:
            recurrent = (nn.LSTM if cell == "lstm" else nn.GRU)(input_size, hidden_size,
                                                                batch_first=True)
        readout = nn.Linear(hidden_size, output_size)
    model = SequenceModel(cell, recurrent, readout, nonlinearity, output).to(dtype)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        h = hidden_size
        if identity:
            radius = 1.0 if spectral_radius is None else spectral_radius
            for k in range(_GATES[cell]):
                model.weight_hh[k * h:(k + 1) * h] = radius * torch.eye(h, dtype=dtype)
            model.recurrent.bias_ih_l0.zero_()
            model.recurrent.bias_hh_l0.zero_()
        elif spectral_radius is not None:
            for k in range(_GATES[cell]):
                q = haar_orthogonal(h, generator=generator)
                model.weight_hh[k * h:(k + 1) * h] = spectral_radius * q.to(dtype)
        if forget_bias is not None:  # block 1 is f for the LSTM, z for the GRU
            model.recurrent.bias_ih_l0[h:2 * h] = forget_bias
            model.recurrent.bias_hh_l0[h:2 * h] = 0.0
    return model


# -- measuring ------------------------------------------------------------------------------------
@dataclass
class GradientThroughTime:
    """‖∂(v·s_T)/∂s_t‖ by lag T − t, for a state s (h, or the LSTM's c); see
    :func:`vgcourse.gradient_through_time`.

    Attributes
    ----------
    lag : list of int
        0, 1, …, T.
    norm : list of float
        Root-mean-square over the batch of ‖∂(v·s_T)/∂s_{T−lag}‖, by lag.
    gradient : Tensor (T + 1, batch, H)
        The gradients themselves, by lag (``gradient[0]`` is v on every row).
    cell, state : str
        What was measured.
    """

    lag: list[int]
    norm: list[float]
    gradient: torch.Tensor
    cell: str
    state: str

    def plot(self, ax=None, label=None, color=None, **kwargs):
        """Draw the norm against the lag on a log scale; returns the Figure."""
        from .plots import PALETTE, new_axes

        fig, ax = new_axes(ax)
        ax.semilogy(self.lag, self.norm, color=color or PALETTE[0],
                    label=label or f"{self.cell}, {self.state}", **kwargs)
        ax.set_xlabel("lag T − t (time steps)")
        ax.set_ylabel(rf"$\|\partial {self.state}_T/\partial {self.state}_t\|$ (log scale)")
        ax.grid(True, alpha=0.3)
        return fig


def gradient_through_time(
    model: SequenceModel,
    x: torch.Tensor,
    state: str = "h",
    direction: torch.Tensor | None = None,
    seed: int = 0,
    dtype: torch.dtype | None = torch.float64,
) -> GradientThroughTime:
    """Backpropagate from the last state to every earlier one, as BPTT does.

    With a fixed unit vector v, the gradient of v·s_T with respect to s_t is
    vᵀ ∂s_T/∂s_t = vᵀ J_T J_{T−1} ⋯ J_{t+1}, one Jacobian per step. Its norm is at most the
    spectral norm of the product, so Pascanu et al.'s bound (γ σ_max(W_hh))^(T−t) applies; for a
    linear RNN with W_hh = ρQ it equals ρ^(T−t) exactly.

    Parameters
    ----------
    model : SequenceModel
        Built by :func:`vgcourse.sequence_model`; it is copied, not changed.
    x : Tensor (batch, T, input_size)
        The input sequence the states are computed on.
    state : {"h", "c"}, default "h"
        Which state to differentiate; ``"c"``, the LSTM's cell state, holds h fixed as an
        intermediate: the gradient reaches c_t through c_{t+1} and through h_t alike.
    direction : Tensor (H,), optional
        The vector v; default a random unit vector drawn with ``seed``.
    seed : int, default 0
    dtype : torch.dtype or None, default torch.float64
        Precision of the measurement (float32 flushes gradients below ~1e-38 to zero).

    Returns
    -------
    GradientThroughTime

    Examples
    --------
    >>> model = sequence_model("rnn", hidden_size=8, nonlinearity="identity", spectral_radius=0.9)
    >>> g = gradient_through_time(model, torch.zeros(2, 20, 1))
    >>> round(g.norm[20], 6) == round(0.9 ** 20, 6)
    True
    """
    if not isinstance(model, SequenceModel):
        raise ValueError(f"model={type(model).__name__} is not allowed; expected a model built "
                         "by vgcourse.sequence_model.")
    check_choice("state", state, ("h", "c") if model.cell == "lstm" else ("h",))
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        raise ValueError(f"x with shape {getattr(x, 'shape', None)} is not allowed; expected a "
                         "tensor of shape (batch, T, input_size).")
    work = model
    check_seed("seed", seed)
    if dtype is not None:
        check_dtype("dtype", dtype)
    if direction is not None and not isinstance(direction, torch.Tensor):
        raise ValueError(f"direction={direction!r} is not allowed; expected None or a tensor of "
                         "shape (hidden_size,).")
    if dtype is not None and model.weight_hh.dtype != dtype:
        import copy

        work = copy.deepcopy(model).to(dtype)
    dtype = work.weight_hh.dtype
    x = x.to(dtype)
    hidden = work.hidden_size
    if direction is None:
        g = torch.Generator().manual_seed(seed)
        direction = torch.randn(hidden, generator=g, dtype=torch.float64)
    if direction.shape != (hidden,):
        raise ValueError(f"direction has shape {tuple(direction.shape)}; expected ({hidden},).")
    direction = (direction / direction.norm()).to(dtype)
    start = tuple(s.requires_grad_() for s in work.initial_state(x.shape[0]))
    trajectory = work.states(x, start)
    index = 0 if state == "h" else 1
    nodes = [s[index] for s in trajectory]
    grads = torch.autograd.grad((nodes[-1] * direction).sum(), nodes, allow_unused=True)
    grads = [torch.zeros_like(n) if gr is None else gr for n, gr in zip(nodes, grads)]
    stacked = torch.stack(grads[::-1]).detach()  # by lag
    norms = stacked.double().pow(2).sum(-1).mean(-1).sqrt()
    return GradientThroughTime(lag=list(range(len(nodes))), norm=norms.tolist(),
                               gradient=stacked, cell=model.cell, state=state)


def direct_path_through_time(
    model: SequenceModel,
    x: torch.Tensor,
    direction: torch.Tensor | None = None,
    seed: int = 0,
) -> GradientThroughTime:
    """The gated cell's direct path alone: ‖v ⊙ Π_{k=t+1}^{T} g_k‖ by lag T − t.

    The LSTM's cell state passes from c_{k−1} to c_k multiplied by the forget gate f_k, and the
    GRU's state from h_{k−1} to h_k multiplied by the keep gate z_k (PyTorch's and Cho et al.'s
    convention). ∂s_T/∂s_t is that product of diagonal factors plus every path that runs
    through the gates, the candidate and, for the LSTM, h. This function measures the first
    term only, with the gate values of the actual run, so that comparing it with
    :func:`~vgcourse.gradient_through_time` (the same v, the same ``seed``) separates the two. With
    W_hh = 0 the other paths vanish and the two agree to rounding error.

    Parameters
    ----------
    model : SequenceModel
        An LSTM or a GRU built by :func:`vgcourse.sequence_model`; it is not changed.
    x : Tensor (batch, T, input_size)
    direction : Tensor (H,), optional
        The vector v; default the same random unit vector as
        :func:`~vgcourse.gradient_through_time`.
    seed : int, default 0

    Returns
    -------
    GradientThroughTime
        ``state`` is "c" for the LSTM and "h" for the GRU; the measurement is in float64.

    Examples
    --------
    >>> model = sequence_model("lstm", spectral_radius=0.0, forget_bias=2.0)
    >>> g = direct_path_through_time(model, torch.zeros(1, 10, 1))
    >>> gate = torch.sigmoid(torch.tensor(2.0, dtype=torch.float64)).item()
    >>> abs(g.norm[10] / gate**10 - 1) < 1e-12
    True
    """
    if not isinstance(model, SequenceModel) or model.cell not in ("lstm", "gru"):
        raise ValueError(f"model={getattr(model, 'cell', type(model).__name__)!r} is not "
                         "allowed; expected an 'lstm' or 'gru' built by vgcourse.sequence_model.")
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        raise ValueError(f"x with shape {getattr(x, 'shape', None)} is not allowed; expected a "
                         "tensor of shape (batch, T, input_size).")
    import copy

    work = copy.deepcopy(model).to(torch.float64)
    hidden = work.hidden_size
    if direction is None:
        direction = torch.randn(hidden, generator=torch.Generator().manual_seed(seed),
                                dtype=torch.float64)
    if direction.shape != (hidden,):
        raise ValueError(f"direction has shape {tuple(direction.shape)}; expected ({hidden},).")
    direction = (direction / direction.norm()).to(torch.float64)
    with torch.no_grad():
        _, gates = work.states(x.to(torch.float64), gates=True)
    kept = gates["f" if model.cell == "lstm" else "z"]  # (batch, T, H)
    steps = kept.shape[1]
    # suffix products: by lag l, the product of the last l gates
    products = [torch.ones_like(kept[:, 0])]
    for lag in range(1, steps + 1):
        products.append(products[-1] * kept[:, steps - lag])
    stacked = direction * torch.stack(products)  # (T + 1, batch, H), by lag
    norms = stacked.pow(2).sum(-1).mean(-1).sqrt()
    return GradientThroughTime(lag=list(range(steps + 1)), norm=norms.tolist(),
                               gradient=stacked, cell=model.cell,
                               state="c" if model.cell == "lstm" else "h")


def latching_trajectory(w: float, h0: float, steps: int) -> tuple[list[float], list[float]]:
    """Run the one-unit recurrence h_t = tanh(w·h_{t−1}) in float64 and differentiate it.

    Parameters
    ----------
    w : float
        The recurrent weight.
    h0 : float
        Initial state.
    steps : int
        Number of steps T.

    Returns
    -------
    states : list of float
        h_0, …, h_T.
    gradients : list of float
        ∂h_t/∂h_0 for t = 0, …, T (by autograd; ∂h_0/∂h_0 = 1).
    """
    check_int("steps", steps)
    start = torch.tensor(float(h0), dtype=torch.float64, requires_grad=True)
    states = [start]
    for _ in range(steps):
        states.append(torch.tanh(w * states[-1]))
    gradients = [1.0] + [torch.autograd.grad(h, start, retain_graph=True)[0].item()
                         for h in states[1:]]
    return [h.item() for h in states], gradients


def latching_under_noise(w: float, noise: float, steps: int, trials: int = 1000,
                         h0: float = 1.0, seed: int = 0) -> tuple[float, float]:
    """Store one bit in the unit h_t = tanh(w·h_{t−1} + ε_t) and measure two things at once.

    The bit is the sign of ``h0``; every step adds independent noise ε_t ~ N(0, noise²). Over
    ``trials`` independent runs (float64, one seeded draw) it returns how reliably the bit is
    *stored*, the fraction of runs whose final state h_T still has the sign of h_0, and how
    well it can be *learned*, the median over runs of abs(∂h_T/∂h_0) (by autograd along each
    noisy trajectory). Bengio et al. (1994) showed that the two are at odds: the noise is
    forgotten only where abs(∂h_t/∂h_{t−1}) < 1, and there the gradient shrinks geometrically.

    Parameters
    ----------
    w : float
        The recurrent weight (latching needs w > 1).
    noise : float
        Standard deviation of the noise added to the pre-activation at every step, >= 0.
    steps : int
        Number of steps T.
    trials : int, default 1000
    h0 : float, default 1.0
        The initial state, nonzero; its sign is the stored bit.
    seed : int, default 0
        Seeds the noise.

    Returns
    -------
    retained : float
        Fraction of runs with sign(h_T) = sign(h_0).
    gradient : float
        Median over runs of abs(∂h_T/∂h_0).
    """
    check_positive("noise", noise, allow_zero=True)
    check_int("steps", steps)
    check_int("trials", trials)
    check_seed("seed", seed)
    w = float(w)
    if not math.isfinite(w):
        raise ValueError(f"w={w!r} is not allowed; expected a finite number.")
    if not math.isfinite(float(h0)) or h0 == 0:
        raise ValueError(f"h0={h0!r} is not allowed; expected a finite nonzero initial state "
                         "(its sign is the stored bit).")
    generator = torch.Generator().manual_seed(seed)
    eps = noise * torch.randn(steps, trials, generator=generator, dtype=torch.float64)
    start = torch.full((trials,), float(h0), dtype=torch.float64, requires_grad=True)
    h = start
    for t in range(steps):
        h = torch.tanh(w * h + eps[t])
    (grad,) = torch.autograd.grad(h.sum(), start)  # runs are independent: one pass gives all
    retained = float((torch.sign(h.detach()) == math.copysign(1.0, h0)).double().mean())
    return retained, float(grad.abs().median())
