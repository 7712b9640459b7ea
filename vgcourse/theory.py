"""Analytic predictions the chapters draw over their measurements, each with its source.

Conventions (Poole et al. 2016): weights W ~ N(0, σ_w²/n), biases ~ N(0, σ_b²), width n, depth L.
``q`` is the variance of a pre-activation unit; hidden layer l computes h_l = φ(u_l) with
u_l = W_l h_{l-1} + b_l.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._validation import check_int, check_positive
from .activations import Activation, get_activation

# Every registered activation is smooth except at 0, so Gauss–Legendre on each half-line
# (truncated at 12 standard deviations) is exact to ~1e-13 where Gauss–Hermite with an odd node
# count would put a node on the kink.
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(96)
_HALF = 0.5 * 12.0 * (_NODES + 1.0)
_Z = torch.tensor(np.concatenate([-_HALF[::-1], _HALF]), dtype=torch.float64)
_W = torch.tensor(
    np.concatenate([_WEIGHTS[::-1], _WEIGHTS]) * 6.0 * np.exp(-0.5 * np.concatenate(
        [_HALF[::-1], _HALF]) ** 2) / math.sqrt(2 * math.pi),
    dtype=torch.float64,
)


def gaussian_expectation(f, q: float) -> float:
    """E[f(√q·z)] for z ~ N(0, 1), by Gauss–Legendre quadrature on each half-line.

    Parameters
    ----------
    f : callable
        Elementwise function on float64 tensors.
    q : float
        Variance of the Gaussian argument, >= 0.
    """
    check_positive("q", q, allow_zero=True)
    return float((_W * f(math.sqrt(q) * _Z)).sum())


def sigmoid_chain_bound(depth: int, weight: float = 1.0) -> float:
    """Largest possible size of ∂h_L/∂h_0 in the scalar chain h ← σ(w·h + b): (abs(w)/4)^L.

    Each factor is w·σ'(·) and σ' ≤ 1/4, reached only at zero pre-activation.
    """
    check_int("depth", depth, minimum=0)
    return (abs(weight) / 4) ** depth


def layer_gradient_bound(activation: str | Activation, weight_spectral_norm: float) -> float:
    """Bound on ‖∂L/∂h_{l-1}‖ / ‖∂L/∂h_l‖ for one layer: the supremum of abs(φ') times ‖W_l‖₂."""
    check_positive("weight_spectral_norm", weight_spectral_norm, allow_zero=True)
    return get_activation(activation).derivative_sup * weight_spectral_norm


def deep_linear_gradients(gain: float, depth: int, top: float = 1.0) -> list[float]:
    """‖∂L/∂h_l‖ for l = 1..L in a deep linear network with weights gain·Q (Q orthogonal).

    Each layer multiplies the gradient by Qᵀ/gain⁻¹, which keeps its norm up to the factor
    ``gain``, so ‖∂L/∂h_l‖ = top · gain^(L−l) exactly (Saxe et al. 2014).
    """
    check_positive("gain", gain)
    check_int("depth", depth)
    return [top * gain ** (depth - layer) for layer in range(1, depth + 1)]


def variance_map(activation: str | Activation, q: float, sigma_w: float, sigma_b: float = 0.0):
    """One step of the mean-field variance recursion: σ_w² E[φ(√q z)²] + σ_b²."""
    act = get_activation(activation)
    return sigma_w**2 * gaussian_expectation(lambda u: act.function(u) ** 2, q) + sigma_b**2


def variance_trajectory(
    activation: str | Activation,
    sigma_w: float,
    sigma_b: float = 0.0,
    depth: int = 10,
    q_input: float = 1.0,
) -> list[float]:
    """Pre-activation variances q_1..q_L of hidden layers 1..L for inputs of mean square q_input."""
    _check_sigmas(sigma_w, sigma_b)
    check_int("depth", depth)
    check_positive("q_input", q_input, allow_zero=True)
    q = [sigma_w**2 * q_input + sigma_b**2]
    for _ in range(depth - 1):
        q.append(variance_map(activation, q[-1], sigma_w, sigma_b))
    return q


def q_star(
    activation: str | Activation,
    sigma_w: float,
    sigma_b: float = 0.0,
    q0: float = 1.0,
    tol: float = 1e-12,
    max_iter: int = 20_000,
) -> float:
    """Fixed point q* of q ← σ_w² E[φ(√q z)²] + σ_b², reached by iterating from ``q0``.

    Closed forms: ReLU with σ_b = 0 has q* = 0 below σ_w² = 2 and no finite fixed point above;
    for odd φ with φ'(0) = 1 and σ_b = 0, q* = 0 whenever σ_w ≤ 1 (the approach is a slow power
    law at σ_w = 1, which this function short-cuts). Raises ``ValueError`` if q diverges.
    """
    _check_sigmas(sigma_w, sigma_b)
    act = get_activation(activation)
    zero = torch.zeros(1, dtype=torch.float64)
    if sigma_b == 0 and float(act.function(zero)) == 0:
        slope = float(act.derivative(zero))
        # q = 0 is a fixed point; it attracts when the map's slope there, σ_w²φ'(0)², is <= 1
        # and φ² is below its tangent (true for the registered saturating odd activations).
        if act.saturates and sigma_w**2 * slope**2 <= 1:
            return 0.0
    q = q0
    for _ in range(max_iter):
        new = variance_map(act, q, sigma_w, sigma_b)
        if not math.isfinite(new) or new > 1e12:
            raise ValueError(
                f"q diverges for activation={act.name!r}, sigma_w={sigma_w}, sigma_b={sigma_b}: "
                "no finite fixed point."
            )
        if abs(new - q) <= tol * max(1.0, q):
            return new
        q = new
    return q


def chi(activation: str | Activation, sigma_w: float, sigma_b: float = 0.0) -> float:
    """χ = σ_w² E[φ'(√q* z)²]: the factor by which each layer multiplies ‖gradient‖².

    χ < 1: gradients vanish as χ^(L/2) toward the input; χ > 1: they explode; χ = 1 is the
    edge of chaos (Poole et al. 2016; Schoenholz et al. 2017). Closed forms for ReLU (σ_w²/2),
    leaky ReLU (σ_w²(1 + α²)/2) and linear (σ_w²) units.
    """
    _check_sigmas(sigma_w, sigma_b)
    act = get_activation(activation)
    if act.name in ("relu", "leaky_relu", "identity"):
        # φ'² is piecewise constant, so the expectation does not depend on q*.
        slopes = act.derivative(torch.tensor([-1.0, 1.0], dtype=torch.float64)) ** 2
        return sigma_w**2 * float(slopes.mean())
    return sigma_w**2 * _mean_square_slope(act, q_star(act, sigma_w, sigma_b))


def predicted_gradient_norms(
    activation: str | Activation,
    sigma_w: float,
    sigma_b: float = 0.0,
    depth: int = 10,
    q_input: float = 1.0,
    top: float = 1.0,
) -> list[float]:
    """Mean-field prediction of ‖∂L/∂h_l‖ for l = 1..L, given ‖∂L/∂h_L‖ = top.

    Layer by layer, ‖∂L/∂h_{l-1}‖² = σ_w² E[φ'(u_l)²] ‖∂L/∂h_l‖² with u_l ~ N(0, q_l) from
    :func:`variance_trajectory`; once q_l has reached q* every factor is χ.
    """
    act = get_activation(activation)
    q = variance_trajectory(act, sigma_w, sigma_b, depth, q_input)
    norms = [top]
    for layer in range(depth, 1, -1):  # the factor of layer l takes h_l's gradient to h_{l-1}
        norms.append(norms[-1] * sigma_w * math.sqrt(_mean_square_slope(act, q[layer - 1])))
    return norms[::-1]


def predicted_decay(
    activation: str | Activation, sigma_w: float, sigma_b: float = 0.0, depth: int = 10
) -> list[float]:
    """‖∂L/∂h_l‖ / ‖∂L/∂h_L‖ = √χ^(L−l) for l = 1..L, at the fixed point q*."""
    check_int("depth", depth)
    rate = math.sqrt(chi(activation, sigma_w, sigma_b))
    return [rate ** (depth - layer) for layer in range(1, depth + 1)]


def _mean_square_slope(act: Activation, q: float) -> float:
    return gaussian_expectation(lambda u: act.derivative(u) ** 2, q)


def _check_sigmas(sigma_w: float, sigma_b: float) -> None:
    check_positive("sigma_w", sigma_w)
    check_positive("sigma_b", sigma_b, allow_zero=True)
