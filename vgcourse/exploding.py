"""Small systems whose gradients explode: a one-unit recurrence with a cliff, a tanh RNN.

Chapter 4 uses them; the recurrent models of chapter 7 live in their own module. Everything
here is CPU-sized and seeded.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._validation import check_int, check_positive
from .init import haar_orthogonal
from .probe import cosine, flat_gradient  # noqa: F401  (defined once, in probe; used here too)
from .recurrent import SequenceModel, sequence_model


def cliff(
    w: torch.Tensor | float,
    steps: int = 50,
    bias: float = -2.5,
    target: float = 0.7,
    x0: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss and its derivative for the one-unit recurrence x_t = w·σ(x_{t−1}) + b.

    The loss is (x_T − target)², after ``steps`` = T applications (Pascanu et al. 2013 use
    this system to show a "cliff": a narrow range of w where the loss jumps and its derivative
    is enormous).

    Parameters
    ----------
    w : tensor or float
        One or many values of the recurrent weight; evaluated elementwise in float64.
    steps : int, default 50
        Number of recurrence steps T.
    bias : float, default -2.5
        The constant b added at every step.
    target : float, default 0.7
        The value x_T should reach.
    x0 : float, default 0.5
        The starting state.

    Returns
    -------
    loss, dloss_dw : tensors of the shape of ``w``
        dloss_dw is computed by autograd; :func:`vgcourse.theory.cliff_gradient` computes the
        same derivative by forward sensitivity.
    """
    check_int("steps", steps)
    w = torch.as_tensor(w, dtype=torch.float64).detach().clone().requires_grad_(True)
    x = torch.full_like(w, float(x0))
    for _ in range(steps):
        x = w * torch.sigmoid(x) + bias
    loss = (x - target) ** 2
    (grad,) = torch.autograd.grad(loss.sum(), w)
    return loss.detach(), grad


def tanh_rnn(
    hidden: int = 32,
    spectral_radius: float = 1.5,
    in_features: int = 1,
    out_features: int = 1,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> SequenceModel:
    """Build a tanh RNN whose recurrent matrix is W_hh = spectral_radius · Q, Q orthogonal.

    The course's one tanh RNN, :class:`vgcourse.SequenceModel` with ``cell="rnn"``, read out
    at the last step; only its draw differs from :func:`vgcourse.sequence_model`'s default.
    Every eigenvalue and singular value of W_hh then has size ``spectral_radius``. Input
    weights are standard normal, the read-out N(0, 1/hidden), biases zero.

    Parameters
    ----------
    hidden : int, default 32
        Number of hidden units.
    spectral_radius : float, default 1.5
        Scale ρ of the orthogonal recurrent matrix (ρ > 1 is the exploding side).
    in_features, out_features : int, default 1
    seed : int, default 0
        Seeds the weight draw.
    dtype : torch.dtype, default torch.float32
    device : torch.device or str, optional
        Where the parameters live (default the CPU); the draw does not depend on it.

    Returns
    -------
    SequenceModel
        ``model.final_state(x)`` is h_T, the read-out's input.
    """
    check_int("hidden", hidden)
    check_positive("spectral_radius", spectral_radius, allow_zero=True)
    check_int("in_features", in_features)
    check_int("out_features", out_features)
    model = sequence_model("rnn", in_features, hidden, out_features, seed=seed)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model.weight_hh.copy_(spectral_radius * haar_orthogonal(hidden, generator=g))
        model.recurrent.weight_ih_l0.copy_(torch.randn(hidden, in_features, generator=g))
        model.recurrent.bias_hh_l0.zero_()
        model.recurrent.bias_ih_l0.zero_()
        model.readout.weight.copy_(
            torch.randn(out_features, hidden, generator=g) / math.sqrt(hidden))
        model.readout.bias.zero_()
    return model.to(dtype=dtype, device=device)


def recall_task(
    n: int = 512, length: int = 30, seed: int = 0, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Remember a number for ``length`` steps: the input is v at step 1 and 0 afterwards.

    Parameters
    ----------
    n : int, default 512
        Number of sequences.
    length : int, default 30
        Sequence length T; the target v must be carried through T − 1 blank steps.
    seed : int, default 0
    device : torch.device or str, optional
        Where the tensors are placed (default the CPU); the draw does not depend on it.

    Returns
    -------
    x : Tensor of shape (n, length, 1)
    y : Tensor of shape (n, 1)
        v ~ N(0, 1), so always predicting 0 scores a mean squared error of about 1.
    """
    check_int("n", n)
    check_int("length", length)
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(n, generator=g)
    x = torch.zeros(n, length, 1)
    x[:, 0, 0] = v
    return x.to(device), v[:, None].to(device)


def recurrent_jacobian_norms(
    weight: torch.Tensor,
    steps: int,
    activation: str = "tanh",
    h0: torch.Tensor | None = None,
) -> list[float]:
    """‖∂h_t/∂h_0‖₂ for t = 1..steps of the autonomous recurrence h_t = φ(W h_{t−1}).

    The Jacobian is multiplied out explicitly, J_t = diag(φ'(W h_{t−1})) W, in float64.

    Parameters
    ----------
    weight : Tensor of shape (n, n)
        The recurrent matrix W.
    steps : int
        Number of steps T.
    activation : {"tanh", "identity"}, default "tanh"
    h0 : Tensor of shape (n,), optional
        Starting state; zero by default (where tanh' = 1).

    Returns
    -------
    list of float
        The spectral norm of the accumulated Jacobian after each step.
    """
    if activation not in ("tanh", "identity"):
        raise ValueError(
            f"activation={activation!r} is not supported; expected 'tanh' or 'identity'."
        )
    check_int("steps", steps)
    weight = torch.as_tensor(weight, dtype=torch.float64)
    if weight.ndim != 2 or weight.shape[0] != weight.shape[1]:
        raise ValueError(f"weight has shape {tuple(weight.shape)}; expected a square matrix.")
    n = weight.shape[0]
    h = torch.zeros(n, dtype=torch.float64) if h0 is None else h0.to(torch.float64)
    jac = torch.eye(n, dtype=torch.float64)
    norms = []
    for _ in range(steps):
        u = weight @ h
        if activation == "tanh":
            h = torch.tanh(u)
            slope = 1 - h**2
        else:
            h = u
            slope = torch.ones_like(u)
        jac = (slope[:, None] * weight) @ jac
        norms.append(float(torch.linalg.matrix_norm(jac, ord=2)))
    return norms


def recall_run(
    spectral_radius: float = 1.5,
    lr: float = 0.05,
    clip: float | None = None,
    clip_mode: str = "norm",
    weight_decay: float = 0.0,
    steps: int = 200,
    seed: int = 0,
    hidden: int = 32,
    length: int = 30,
    batch_size: int = 32,
    show_progress: bool = False,
    device: torch.device | str | None = None,
    callback=None,
    record: bool = True,
):
    """Train :func:`tanh_rnn` on :func:`recall_task` with plain SGD; the chapter's test bench.

    Parameters
    ----------
    spectral_radius : float, default 1.5
        ρ of W_hh = ρQ.
    lr, clip, clip_mode, weight_decay, steps, batch_size, show_progress, callback, record
        Passed to :func:`vgcourse.train` (SGD without momentum). ``clip_mode="normalize"``
        is normalised gradient descent with step length lr·clip.
    seed : int, default 0
        Seeds the weights (``seed``), the data (``100 + seed``) and the mini-batches.
    hidden, length : int
        Hidden units and sequence length.
    device : torch.device or str, optional
        Where model and data live (default the CPU).

    Returns
    -------
    history : History
    final_loss : float
        Mean squared error on all 512 training sequences after training (inf when the run
        diverged or its weights are no longer finite). Predicting 0 scores about 1.
    """
    from .training import train

    model = tanh_rnn(hidden=hidden, spectral_radius=spectral_radius, seed=seed, device=device)
    x, y = recall_task(n=512, length=length, seed=100 + seed, device=device)
    history = train(model, (x, y), steps=steps, lr=lr, clip=clip, clip_mode=clip_mode,
                    weight_decay=weight_decay, batch_size=batch_size, seed=seed,
                    show_progress=show_progress, callback=callback, record=record)
    with torch.no_grad():
        final = float(nn.functional.mse_loss(model(x), y))
    if history.diverged or not math.isfinite(final):
        final = math.inf
    return history, final


def readout_curvature(features: torch.Tensor) -> float:
    """Largest eigenvalue of the Hessian of a linear read-out's mean squared error.

    For a read-out ŷ = w·f + c trained on the mean squared error over n examples, the loss is
    quadratic in (w, c) with the constant Hessian H = (2/n) Σ [f; 1][f; 1]ᵀ, whatever produced
    the features f. Gradient descent on the read-out alone diverges when lr > 2/λ_max(H)
    (:func:`vgcourse.theory.gd_step_factor`), and λ_max(H) is a lower bound on the top
    eigenvalue of the whole network's Hessian, which contains H as a block.

    Parameters
    ----------
    features : Tensor of shape (n, k)
        The read-out's inputs, e.g. :meth:`vgcourse.SequenceModel.final_state`, or the data of a linear model.

    Returns
    -------
    float
        λ_max(H), computed in float64.
    """
    features = torch.as_tensor(features).detach().to(torch.float64)
    if features.ndim != 2 or len(features) == 0:
        raise ValueError(f"features has shape {tuple(features.shape)}; expected (n, k), n > 0.")
    f = torch.cat([features, torch.ones(len(features), 1, dtype=torch.float64)], dim=1)
    return float(torch.linalg.eigvalsh(2.0 * f.T @ f / len(f))[-1])


def least_squares_run(
    lr: float,
    steps: int = 40,
    n: int = 256,
    features: int = 16,
    seed: int = 0,
):
    """Full-batch gradient descent on linear least squares: a model with no depth at all.

    The data are x ~ N(0, 1) of shape (n, features) and y = x·w* + noise; the model is one
    ``nn.Linear`` in float64, so there is no product of Jacobians anywhere. The loss is exactly
    quadratic, and gradient descent multiplies the error along the Hessian's top eigenvector
    by 1 − lr·λ_max per step: it diverges when lr > 2/λ_max.

    Parameters
    ----------
    lr : float
        Learning rate.
    steps : int, default 40
    n, features : int
        Number of examples and of input features.
    seed : int, default 0
        Seeds the data and the initial weights.

    Returns
    -------
    history : History
        From :func:`vgcourse.train` (full batch, no clipping).
    curvature : float
        λ_max of the loss's Hessian, :func:`readout_curvature` of x.
    """
    from .training import train

    check_int("n", n)
    check_int("features", features)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g, dtype=torch.float64)
    y = x @ torch.randn(features, 1, generator=g, dtype=torch.float64) \
        + 0.1 * torch.randn(n, 1, generator=g, dtype=torch.float64)
    model = nn.Linear(features, 1).to(torch.float64)
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, features, generator=g, dtype=torch.float64)
                           / math.sqrt(features))
        model.bias.zero_()
    history = train(model, (x, y), steps=steps, lr=lr, batch_size=None, seed=seed,
                    show_progress=False)
    return history, readout_curvature(x)
