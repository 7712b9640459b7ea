"""Analytic predictions the chapters draw over their measurements, each with its source.

Grouped by topic, not by chapter (a law serves every chapter that measures it): signal
propagation, initialisation, recurrence, step size and clipping, normalisation and residual
connections, optimisation time, memory and meta-gradients, gates and linear recurrences.

Conventions (Poole et al. 2016): weights W ~ N(0, σ_w²/n), biases ~ N(0, σ_b²), width n, depth L.
``q`` is the variance of a pre-activation unit; hidden layer l computes h_l = φ(u_l) with
u_l = W_l h_{l-1} + b_l.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from ._validation import check_choice, check_int, check_positive
from .activations import Activation, get_activation
from .init import get_scheme
from .probe import SATURATION_THRESHOLD

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


# -- signal propagation: Gaussian averages, mean-field recursions, χ, Jacobians, saturation ------
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


def gaussian_lyapunov_exponents(width: int, sigma_w: float = 1.0) -> list[float]:
    """Growth rates λ_1 ≥ … ≥ λ_n of log σ_i(W_L ⋯ W_1) per layer, W entries iid N(0, σ_w²/n).

    In the QR accumulation of the product (see :func:`vgcourse.probe.product_log_singular_values`)
    each layer adds log abs(R_ii), and for Gaussian matrices R_ii² is σ_w²/n times a χ² variable
    with n − i + 1 degrees of freedom, independent of the past layers. Hence (Newman 1986)

        λ_i = log σ_w + ½ [ψ((n − i + 1)/2) + log(2/n)],    ψ the digamma function,

    and log σ_i of an L-layer product is L·λ_i up to fluctuations of order √L (see
    :func:`gaussian_lyapunov_spread`) and a correction of order one. The largest exponent is
    slightly below log σ_w, the smallest far below: ψ(1/2) = −γ − 2 log 2.

    Parameters
    ----------
    width : int
        n, the size of the square matrices.
    sigma_w : float, default 1.0
        σ_w: the entries have variance σ_w²/n.

    Returns
    -------
    list of float
        λ_1..λ_n in natural log per layer, largest first.
    """
    check_int("width", width)
    check_positive("sigma_w", sigma_w)
    dof = torch.arange(width, 0, -1, dtype=torch.float64) / 2
    rates = math.log(sigma_w) + 0.5 * (torch.special.digamma(dof) + math.log(2 / width))
    return rates.tolist()


def gaussian_lyapunov_spread(width: int) -> list[float]:
    """Per-layer standard deviation of each log stretch of :func:`gaussian_lyapunov_exponents`.

    ½ log of a χ² variable with k = n − i + 1 degrees of freedom has variance ψ′(k/2)/4 (ψ′ the
    trigamma function), so after L layers the QR estimate of log σ_i spreads by √L times this.
    The smallest direction fluctuates most: ψ′(1/2)/4 = π²/8.

    Parameters
    ----------
    width : int
        n, the size of the square matrices (σ_w only shifts the exponents).

    Returns
    -------
    list of float
        One standard deviation per direction, largest direction first.
    """
    check_int("width", width)
    dof = torch.arange(width, 0, -1, dtype=torch.float64) / 2
    return (torch.special.polygamma(1, dof) / 4).sqrt().tolist()


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
    if act.piecewise_linear:
        # φ'² is piecewise constant, so the expectation does not depend on q*.
        slopes = act.derivative(torch.tensor([-1.0, 1.0], dtype=torch.float64)) ** 2
        return sigma_w**2 * float(slopes.mean())
    return sigma_w**2 * _mean_square_slope(act, q_star(act, sigma_w, sigma_b))


def rectifier_chi(sigma_w: float, slope: float) -> float:
    """χ of a rectifier with left slope ``slope``: σ_w² (1 + a²)/2 at any q and σ_b.

    φ(u) = max(0, u) + a·min(0, u) has φ'² = 1 on u > 0 and a² on u < 0, each with probability
    1/2 for a symmetric pre-activation, so the expectation in :func:`chi` does not depend on
    q*: χ = σ_w²(1 + a²)/2. ReLU is a = 0, leaky ReLU a = 0.01, PReLU a learned a (initialised
    at 0.25); χ = 1 needs σ_w² = 2/(1 + a²), the initialisation He et al. (2015) derived for
    PReLU. Unlike :func:`chi` with a registry entry, ``slope`` may be any value a PReLU has
    learned, negative ones included.

    Parameters
    ----------
    sigma_w : float
        σ_w, > 0.
    slope : float
        The left slope a, finite.

    Examples
    --------
    >>> rectifier_chi(2.0, 0.0)  # ReLU at σ_w² = 4: twice the edge of chaos
    2.0
    >>> rectifier_chi(2.0, 0.5)  # 4 · (1 + 1/4) / 2
    2.5
    """
    check_positive("sigma_w", sigma_w, maximum=_LARGEST_SCALE)
    if not math.isfinite(slope) or abs(slope) > _LARGEST_SCALE:
        raise ValueError(f"slope={slope!r} is not allowed; expected a finite number.")
    return sigma_w**2 * (1 + slope**2) / 2


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


# Largest σ, gain or scale the closed forms take: their squares (and products of a few) must
# stay within float64's range, ~1.8e308.
_LARGEST_SCALE = 1e100


def _check_sigmas(sigma_w: float, sigma_b: float) -> None:
    check_positive("sigma_w", sigma_w, maximum=_LARGEST_SCALE)
    check_positive("sigma_b", sigma_b, allow_zero=True, maximum=_LARGEST_SCALE)


def sigmoid_tanh_scale_ratio(q_tanh: float) -> float:
    """σ_w(sigmoid) / σ_w(tanh) at which both saturate the same share of units (chapter 2).

    σ(u) = 1/2 + tanh(u/2)/2, so σ'(u) = tanh'(u/2)/4: a sigmoid unit is saturated at twice
    tanh's edge, and matches a tanh unit's saturated share when its pre-activation variance is
    four times as large, q_sig = 4 q_tanh. At the fixed points, with m = E[tanh(√q_tanh z)²],
    q_tanh = σ_t² m and q_sig = σ_s² E[σ(u)²] = σ_s² (1 + m)/4, because the sigmoid's constant
    half passes on a mean: it adds σ_s²/4 to every pre-activation variance. Hence
    σ_s/σ_t = 4 sqrt(m/(1 + m)), below 2√2 for every q (m < 1), never the 4 that the rescaling
    u → u/2 alone would suggest.

    Parameters
    ----------
    q_tanh : float
        The tanh network's fixed-point pre-activation variance q*, > 0.
    """
    check_positive("q_tanh", q_tanh)
    m = gaussian_expectation(lambda u: torch.tanh(u) ** 2, q_tanh)
    return 4 * math.sqrt(m / (1 + m))


# saturation: the share of units past the edge where φ' is small, at initialisation
def saturation_edge(activation: str | Activation, threshold: float = SATURATION_THRESHOLD) -> float:
    """The pre-activation u_c > 0 beyond which a saturating unit counts as saturated.

    Solves φ'(u_c) = ``threshold``·sup abs(φ') by bisection, for activations whose derivative is
    even and decreasing in abs(u) (tanh: u_c = atanh(sqrt(0.95)) ≈ 2.18 at 5 %; the sigmoid,
    σ'(u) = tanh'(u/2)/4, twice that, ≈ 4.36).
    """
    act = get_activation(activation)
    if not act.saturates:
        raise ValueError(f"activation={act.name!r} does not saturate; expected 'sigmoid' or "
                         "'tanh'.")
    check_positive("threshold", threshold)
    return _edge(act, float(threshold))


@functools.lru_cache(maxsize=64)
def _edge(act: Activation, threshold: float) -> float:
    # Activation is a frozen dataclass, so the solved edge can be cached: the mean-field
    # predictions call this once per layer and weight scale.
    target = threshold * act.derivative_sup
    lo, hi = 0.0, 60.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        value = float(act.derivative(torch.tensor(mid, dtype=torch.float64)))
        lo, hi = (mid, hi) if value >= target else (lo, mid)
    return 0.5 * (lo + hi)


def predicted_saturated_fraction(
    activation: str | Activation,
    sigma_w: float,
    sigma_b: float = 0.0,
    depth: int = 10,
    q_input: float = 1.0,
    threshold: float = SATURATION_THRESHOLD,
) -> list[float]:
    """Mean-field prediction of the saturated fraction of hidden layers 1..L at initialisation.

    With W ~ N(0, σ_w²/n) each pre-activation of layer l is N(0, q_l), q_l from
    :func:`variance_trajectory` (Poole et al. 2016), so the share of units past
    the edge u_c of :func:`saturation_edge` is P(abs(u) > u_c) = erfc(u_c / sqrt(2 q_l)).
    Non-saturating activations give zeros, as :func:`vgcourse.gradient_flow` reports; the
    measured share is :func:`vgcourse.saturation.saturated_fraction`.
    """
    act = get_activation(activation)
    q = variance_trajectory(act, sigma_w, sigma_b, depth, q_input)
    if not act.saturates:
        return [0.0] * depth
    edge = saturation_edge(act, threshold)
    return [math.erfc(edge / math.sqrt(2 * ql)) if ql > 0 else 0.0 for ql in q]


def scale_for_saturated_fraction(
    activation: str | Activation,
    fraction: float,
    depth: int = 10,
    sigma_b: float = 0.0,
    q_input: float = 1.0,
    threshold: float = SATURATION_THRESHOLD,
) -> float:
    """The weight scale σ_w at which layer ``depth`` is predicted to have ``fraction`` saturated.

    Inverts :func:`predicted_saturated_fraction` (which grows with σ_w) by bisection on
    log σ_w in [0.01, 1000]. Comparing two activations at the same ``fraction`` says how much
    larger one's weights must be to saturate as much as the other's.

    Parameters
    ----------
    activation : {"sigmoid", "tanh"} or Activation
    fraction : float
        Target saturated share, strictly between 0 and the share reached at σ_w = 1000.
    depth, sigma_b, q_input, threshold
        As in :func:`predicted_saturated_fraction`.

    Returns
    -------
    float
        σ_w, to a relative precision of about 1e-14.

    Examples
    --------
    >>> round(scale_for_saturated_fraction("tanh", 0.5), 2)
    3.7
    """
    act = get_activation(activation)
    if not act.saturates:
        raise ValueError(f"activation={act.name!r} does not saturate; expected 'sigmoid' or "
                         "'tanh'.")
    check_int("depth", depth)

    def share(sigma_w):
        return predicted_saturated_fraction(act, sigma_w, sigma_b, depth, q_input,
                                            threshold)[-1]

    lo, hi = math.log(0.01), math.log(1000.0)
    if not share(math.exp(lo)) < fraction < share(math.exp(hi)):
        raise ValueError(f"fraction={fraction!r} is not reachable; expected a share between "
                         f"{share(math.exp(lo)):.3g} and {share(math.exp(hi)):.3g} for "
                         f"{act.name} at depth {depth}.")
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if share(math.exp(mid)) < fraction else (lo, mid)
    return math.exp(0.5 * (lo + hi))


# -- initialisation and the edge of chaos: scheme variances, fan modes, LSUV, χ maps ----------

def init_variance(
    scheme: str, fan_in: int, fan_out: int | None = None, gain: float = 1.0,
    std: float | None = None,
) -> float:
    """Variance of one weight entry under an initialisation scheme of :func:`vgcourse.initialize`.

    Read from the scheme's law and scale in :data:`vgcourse.init.SCHEME_TABLE`, the table that
    :func:`vgcourse.initialize` draws from.

    Parameters
    ----------
    scheme : {"default", "normal", "lecun", "xavier", "he", "orthogonal", "constant"}
        ``default``: PyTorch's U(−1/√fan_in, 1/√fan_in), variance 1/(3·fan_in);
        ``lecun`` 1/fan_in (LeCun et al. 1998); ``xavier`` 2/(fan_in + fan_out) (Glorot &
        Bengio 2010); ``he`` 2/fan_in (He et al. 2015); ``orthogonal``: entries of a Haar
        orthogonal matrix have variance 1/max(fan_in, fan_out) (Saxe et al. 2014);
        ``normal``: ``std``²; ``constant``: 0 (every entry is the same number).
    fan_in : int
        Inputs of the layer.
    fan_out : int, optional
        Outputs of the layer; defaults to ``fan_in`` (a square layer).
    gain : float, default 1
        Multiplies every weight, so the variance by gain².
    std : float, optional
        Standard deviation for ``scheme="normal"``.

    Returns
    -------
    float
        Var(W_ij). The mean-field σ_w² of the layer is ``fan_in * init_variance(...)``.
    """
    check_int("fan_in", fan_in)
    fan_out = fan_in if fan_out is None else fan_out
    check_int("fan_out", fan_out)
    check_positive("gain", gain, allow_zero=True, maximum=_LARGEST_SCALE)
    # the schemes, their laws and scales are written once, in vgcourse.init.SCHEME_TABLE
    return gain**2 * get_scheme(scheme, std).variance(fan_in, fan_out, std)


def init_sigmas(
    scheme: str, fan_in: int, fan_out: int | None = None, gain: float = 1.0,
    std: float | None = None,
) -> tuple[float, float]:
    """The mean-field (σ_w, σ_b) of a layer drawn by :func:`vgcourse.initialize`.

    σ_w² = fan_in · Var(W) (:func:`init_variance`); σ_b is 0 for every named scheme, which
    zeroes the biases, and 1/√(3·fan_in) for ``"default"``, whose biases PyTorch draws from
    U(−1/√fan_in, 1/√fan_in) (variance 1/(3·fan_in)).

    Parameters
    ----------
    scheme, fan_in, fan_out, gain, std
        As for :func:`init_variance`; ``gain`` multiplies the weights only.

    Returns
    -------
    (float, float)
        σ_w and σ_b, the arguments of :func:`chi`, :func:`variance_trajectory` and
        :func:`predicted_gradient_norms`.

    Examples
    --------
    >>> init_sigmas("he", 256)
    (1.4142135623730951, 0.0)
    >>> round(init_sigmas("default", 256)[1] ** 2 * 3 * 256, 12)
    1.0
    """
    sigma_w = math.sqrt(fan_in * init_variance(scheme, fan_in, fan_out, gain=gain, std=std))
    entry = get_scheme(scheme, std)  # the gain multiplies the weights, not the biases
    fan_out = fan_in if fan_out is None else fan_out
    sigma_b = math.sqrt(entry.variance(fan_in, fan_out, std)) if entry.draws_biases else 0.0
    return sigma_w, sigma_b


def uniform_bound(
    scheme: str, fan_in: int, fan_out: int | None = None, gain: float = 1.0,
    std: float | None = None,
) -> float:
    """Bound a of the uniform law U(−a, a) with the variance of ``scheme``: a = √(3·Var(W)).

    U(−a, a) has variance a²/3, so a uniform draw matches a normal one of variance v at
    a = √(3v). For Xavier this is Glorot & Bengio's (2010) √(6/(fan_in + fan_out))
    (``torch.nn.init.xavier_uniform_``), for He √(6/fan_in) (``kaiming_uniform_``), and for
    ``"default"`` PyTorch's own 1/√fan_in. Mean-field theory sees only the variance, so the
    uniform and the normal draw of a scheme give the same χ.

    Parameters
    ----------
    scheme, fan_in, fan_out, gain, std
        As for :func:`init_variance`.

    Examples
    --------
    >>> round(uniform_bound("xavier", 100, 200) ** 2, 12)  # 6/300
    0.02
    """
    return math.sqrt(3 * init_variance(scheme, fan_in, fan_out, gain=gain, std=std))


def lsuv_sigma_w(activation: str | Activation, q: float = 1.0) -> float:
    """The σ_w at which every layer's pre-activation variance is exactly ``q``.

    LSUV (Mishkin & Matas 2016) rescales each layer's weights until its output variance on a
    batch is 1; in a wide network with zero biases that is the fixed point q* = q of the
    variance map, reached when σ_w² E[φ(√q z)²] = q. So σ_w = √(q / E[φ(√q z)²]), and the
    gradient factor at that scale is :func:`chi` (``activation``, this σ_w): LSUV fixes the
    forward variance, not χ. ReLU lands on the edge (σ_w² = 2, χ = 1); tanh above it.

    Parameters
    ----------
    activation : str or Activation
    q : float, default 1.0
        The target variance, > 0.

    Examples
    --------
    >>> round(lsuv_sigma_w("relu") ** 2, 12)
    2.0
    """
    act = get_activation(activation)
    check_positive("q", q, maximum=_LARGEST_SCALE)
    second = gaussian_expectation(lambda u: act.function(u) ** 2, q)
    return math.sqrt(q / second)


def fan_mode_profile(widths, mode: str = "fan_in") -> tuple[list[float], list[float]]:
    """Forward and backward variances per layer of a bias-free ReLU net with He weights.

    Layer l maps n_{l−1} units to n_l with W ~ N(0, 2/fan), fan = n_{l−1} (``"fan_in"``) or
    n_l (``"fan_out"``), the two modes of He et al. (2015) and of
    ``torch.nn.init.kaiming_normal_``. A pre-activation of layer l has variance
    q_l = n_{l−1} Var(W_l) q_{l−1}/2 (l ≥ 2), and a gradient entry at layer l's input has
    variance g_{l−1} = n_l Var(W_l) g_l/2, the 1/2 being E[relu'(u_l)²]. Fan-in keeps
    q constant and multiplies g by n_l/n_{l−1} per layer; fan-out keeps g constant and
    multiplies q by n_{l−1}/n_l. Both products telescope, so the total drift is the ratio of the
    first and last widths whatever the depth: either mode is safe for any network whose widths
    stay within a small factor of each other.

    Parameters
    ----------
    widths : sequence of int
        n_0 (the input), n_1, …, n_L: at least two.
    mode : {"fan_in", "fan_out"}

    Returns
    -------
    forward : list of float
        q_l / q_1 for l = 1..L (the input of layer 1 is raw data, not a ReLU output).
    backward : list of float
        Var(∂L/∂h_{l−1}) / Var(∂L/∂h_{L−1}) per entry, for l = 1..L: the gradient at each
        layer's input relative to the last layer's input.

    Examples
    --------
    >>> fan_mode_profile([10, 20, 40], "fan_in")  # g_0 = 20 · (2/10) / 2 · g_1
    ([1.0, 1.0], [2.0, 1.0])
    """
    check_choice("mode", mode, ("fan_in", "fan_out"))
    widths = list(widths)
    if len(widths) < 2:
        raise ValueError(f"widths={widths!r} is not allowed; expected the input width and at "
                         "least one layer width.")
    for n in widths:
        check_int("widths", n)
    pairs = list(zip(widths[:-1], widths[1:]))
    variance = [2 / (n_in if mode == "fan_in" else n_out) for n_in, n_out in pairs]
    forward = [1.0]
    for (n_in, _), v in zip(pairs[1:], variance[1:]):
        forward.append(forward[-1] * n_in * v / 2)
    backward = [1.0]  # from the last layer's input down
    for (_, n_out), v in zip(pairs[-2::-1], variance[-2::-1]):
        backward.append(backward[-1] * n_out * v / 2)
    return forward, backward[::-1]


def chi_map(activation: str | Activation, sigma_w2, sigma_b2, max_iter: int = 4000,
            tol: float = 1e-10) -> np.ndarray:
    """χ over a grid of (σ_w², σ_b²), all grid points iterated to q* at once.

    Parameters
    ----------
    activation : str or Activation
        A registered activation.
    sigma_w2, sigma_b2 : array_like
        Weight and bias variances (σ_w², σ_b², not σ_w, σ_b), broadcast against each other;
        ``np.meshgrid`` output gives a map.
    max_iter : int, default 4000
        Most steps toward q*: Newton steps on q = F(q) where they reduce the residual,
        plain iterations q ← F(q) otherwise. Newton converges in tens of steps even beside
        the critical point (σ_w² = 1, σ_b² = 0 for tanh), where plain iteration is a slow
        power law.
    tol : float, default 1e-10
        Relative change of q below which a grid point counts as converged.

    Returns
    -------
    numpy.ndarray
        χ = σ_w² E[φ'(√q* z)²] with the broadcast shape; equals :func:`chi` pointwise. ReLU,
        leaky ReLU and linear units use their closed forms; points where an unbounded smooth
        activation (ELU, GELU, ...) has no finite q* are NaN.
    """
    act = get_activation(activation)
    w2, b2 = np.broadcast_arrays(np.asarray(sigma_w2, dtype=float), np.asarray(sigma_b2,
                                                                                 dtype=float))
    if np.any(~np.isfinite(w2)) or np.any(w2 <= 0):
        raise ValueError(f"sigma_w2 has entries {w2[(w2 <= 0) | ~np.isfinite(w2)][:3]}; "
                         "expected finite numbers > 0.")
    if np.any(~np.isfinite(b2)) or np.any(b2 < 0):
        raise ValueError(f"sigma_b2 has entries {b2[(b2 < 0) | ~np.isfinite(b2)][:3]}; "
                         "expected finite numbers >= 0.")
    check_int("max_iter", max_iter)
    shape = w2.shape
    sw2 = torch.tensor(w2.ravel(), dtype=torch.float64)
    sb2 = torch.tensor(b2.ravel(), dtype=torch.float64)
    if act.piecewise_linear:
        slopes = act.derivative(torch.tensor([-1.0, 1.0], dtype=torch.float64)) ** 2
        return (sw2 * slopes.mean()).numpy().reshape(shape)
    zero = torch.zeros(1, dtype=torch.float64)
    odd_zero = act.saturates and float(act.function(zero)) == 0
    slope0 = float(act.derivative(zero)) ** 2
    # σ_b = 0 in the ordered phase: q* = 0 exactly (as in q_star), so χ = σ_w² φ'(0)².
    exact_zero = (sb2 == 0) & (sw2 * slope0 <= 1) if odd_zero else torch.zeros_like(sb2, dtype=bool)
    # Newton's method on g(q) = F(q) − q, F the variance map, with
    # F'(q) = σ_w² E[φ(√q z) φ'(√q z) z] / √q: a few steps where plain iteration of F crawls
    # near the critical line. A Newton step is kept only where it lowers abs(g); elsewhere
    # the plain step q ← F(q) is taken.
    q = torch.ones_like(sw2)
    active = ~exact_zero
    for _ in range(max_iter):
        if not bool(active.any()):
            break
        idx = active.nonzero().squeeze(1)
        qi = q[idx]
        root = torch.sqrt(qi).unsqueeze(1)
        u = root * _Z
        phi = act.function(u)
        f = sw2[idx] * (phi**2 @ _W) + sb2[idx]
        g = f - qi
        slope = sw2[idx] * ((phi * act.derivative(u) * _Z) @ _W) / root.squeeze(1)
        newton = qi - g / (slope - 1)
        ok = torch.isfinite(newton) & (newton > 0)
        un = torch.sqrt(torch.where(ok, newton, qi)).unsqueeze(1) * _Z
        gn = sw2[idx] * (act.function(un) ** 2 @ _W) + sb2[idx] - torch.where(ok, newton, qi)
        ok = ok & (gn.abs() < g.abs())
        new = torch.where(ok, newton, f)
        diverged = ~torch.isfinite(new) | (new > 1e12)
        new[diverged] = float("nan")
        done = diverged | ((new - qi).abs() <= tol * torch.clamp(qi, min=1e-300))
        q[idx] = new
        active[idx[done]] = False
    q[exact_zero] = 0.0
    u = torch.sqrt(q).unsqueeze(1) * _Z
    chi_values = sw2 * (act.derivative(u) ** 2 @ _W)
    return chi_values.numpy().reshape(shape)


def jacobian_spectrum_variance(
    activation: str | Activation, sigma_w: float, sigma_b: float = 0.0, depth: int = 10,
    weights: str = "gaussian",
) -> float:
    """Normalised variance Var(λ)/E[λ]² of the eigenvalues λ of JJᵀ for a wide deep network.

    J is the input–output Jacobian of ``depth`` layers at the fixed point q*. In the wide limit
    each layer's factor D_l W_l is free of the others, and normalised variances of free
    mean-normalised factors add (Pennington et al. 2017): per layer the weights contribute 1 if
    Gaussian (Marchenko–Pastur) and 0 if orthogonal, and D_l² contributes μ₂/μ₁² − 1 with
    μ_k = E[φ'(√q* z)^{2k}]. Hence ``depth·μ₂/μ₁²`` (Gaussian) and ``depth·(μ₂/μ₁² − 1)``
    (orthogonal): a deep linear orthogonal network is exactly isometric (0), a linear Gaussian
    one has variance L, ReLU has 2L and L. Independent of σ_w for ReLU and linear units.

    Parameters
    ----------
    activation : str or Activation
    sigma_w, sigma_b : float
        Weight and bias scales (σ_w, σ_b); set q*.
    depth : int
        Number of layers L.
    weights : {"gaussian", "orthogonal"}
    """
    _check_sigmas(sigma_w, sigma_b)
    check_int("depth", depth)
    if weights not in ("gaussian", "orthogonal"):
        raise ValueError(f"weights={weights!r} is not supported; expected 'gaussian' or "
                         "'orthogonal'.")
    act = get_activation(activation)
    if act.piecewise_linear:
        q = 1.0  # φ'² is piecewise constant: μ_k does not depend on q
    else:
        q = q_star(act, sigma_w, sigma_b)
    mu1 = gaussian_expectation(lambda u: act.derivative(u) ** 2, q)
    mu2 = gaussian_expectation(lambda u: act.derivative(u) ** 4, q)
    per_layer = mu2 / mu1**2 - (0.0 if weights == "gaussian" else 1.0)
    return depth * per_layer


def critical_sigma_w(activation: str | Activation, sigma_b: float = 0.0, lo: float = 0.1,
                     hi: float = 4.0, tol: float = 1e-10) -> float:
    """The σ_w at which χ(σ_w, σ_b) = 1: the edge of chaos at bias scale σ_b, by bisection.

    ReLU: √2 (He et al. 2015) for every σ_b; tanh with σ_b = 0: 1; larger σ_b moves the edge
    of a saturating activation to larger σ_w (Poole et al. 2016; Schoenholz et al. 2017).

    Parameters
    ----------
    activation : str or Activation
    sigma_b : float, default 0
        Bias scale σ_b (σ_b² is the bias variance).
    lo, hi : float
        A bracket of σ_w values with χ(lo) < 1 < χ(hi).
    tol : float
        Width of the final bracket.
    """
    check_positive("sigma_b", sigma_b, allow_zero=True)
    check_positive("lo", lo)
    check_positive("hi", hi)
    act = get_activation(activation)

    def chi(sigma_w):  # chi_map's Newton solve for q* is fast even next to the edge
        return float(chi_map(act, sigma_w**2, sigma_b**2))

    if not chi(lo) < 1 < chi(hi):
        raise ValueError(f"lo={lo}, hi={hi} do not bracket χ = 1 for activation={act.name!r}, "
                         f"sigma_b={sigma_b}; expected χ(lo) < 1 < χ(hi).")
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if chi(mid) < 1:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


# -- recurrence: gradients through time, latching, task baselines ----------------------------------
def rnn_gradient_bound(sigma_max: float, lag: int, gamma: float = 1.0) -> float:
    """Pascanu et al. (2013): ‖∂h_T/∂h_t‖ ≤ (γ·σ_max(W_hh))^(T−t) for h_t = φ(W_hh h_{t−1} + …).

    Each step's Jacobian is diag(φ'(·)) W_hh, of norm at most γ·σ_max with γ = sup abs(φ')
    (1 for tanh). Below 1/γ the gradient must vanish; above, it may explode but need not. For a
    linear RNN with W_hh = ρQ (Q orthogonal) the bound is attained: every lag gives ρ^(T−t).

    Parameters
    ----------
    sigma_max : float
        Largest singular value of W_hh, >= 0.
    lag : int
        T − t, >= 0.
    gamma : float, default 1.0
        sup abs(φ'): 1 for tanh and identity, 1/4 for the sigmoid.
    """
    check_positive("sigma_max", sigma_max, allow_zero=True)
    check_int("lag", lag, minimum=0)
    check_positive("gamma", gamma)
    return (gamma * sigma_max) ** lag


def latching_fixed_point(w: float) -> float:
    """The stable fixed point h* >= 0 of the one-unit recurrence h ← tanh(w·h).

    For 0 <= w <= 1 it is 0; for w > 1 the origin becomes unstable and the unit latches onto
    the positive root of h = tanh(w·h) (Bengio et al. 1994), found here by Newton's method.
    """
    check_positive("w", w, allow_zero=True)
    if w <= 1:
        return 0.0
    h = 1.0  # tanh(w·h) − h is concave on h > 0, so Newton from the right converges monotonically
    for _ in range(100):
        t = math.tanh(w * h)
        step = (t - h) / (w * (1 - t * t) - 1)
        h -= step
        if abs(step) < 1e-15:
            break
    return h


def latching_contraction(w: float) -> float:
    """λ = w(1 − h*²): the factor by which h ← tanh(w·h) multiplies a perturbation at h*.

    For w > 1, λ < 1: the latched state is stable, and so ∂h_T/∂h_0 → λ^T: the unit remembers a
    bit robustly precisely because it forgets the gradient (Bengio et al. 1994).
    """
    h = latching_fixed_point(w)
    return w * (1 - h * h)


def adding_baseline() -> float:
    """MSE of always answering 1 on the adding problem: Var(u₁ + u₂) = 2/12 = 1/6."""
    return 1.0 / 6.0


def copy_baseline(delay: int, memory: int = 10, symbols: int = 8) -> float:
    """Cross-entropy of a memoryless model on the copy task: memory·ln(symbols)/(delay + 2·memory).

    It outputs blank wherever the target is blank and guesses uniformly among the symbols in the
    last ``memory`` steps (Arjovsky et al. 2016): 10·ln 8/(T + 20) for the usual sizes.
    """
    check_int("delay", delay)
    check_int("memory", memory)
    check_int("symbols", symbols, minimum=2)
    return memory * math.log(symbols) / (delay + 2 * memory)


# -- step size, curvature and clipping -------------------------------------------------------------
def clipped_norm(grad_norm: float, tau: float, eps: float = 1e-6) -> float:
    """Norm of a gradient after norm clipping at threshold τ (Pascanu et al. 2013).

    The rule is g ← g · min(1, τ/‖g‖), which keeps the direction and caps the norm at τ.
    ``torch.nn.utils.clip_grad_norm_`` computes the factor as τ/(‖g‖ + eps) with eps = 1e-6,
    so a clipped gradient has norm τ·‖g‖/(‖g‖ + 1e-6), a hair below τ; pass ``eps=0`` for the
    textbook rule.

    Parameters
    ----------
    grad_norm : float
        ‖g‖ before clipping, >= 0.
    tau : float
        The threshold, > 0.
    eps : float, default 1e-6
        The guard torch adds to the denominator.
    """
    check_positive("grad_norm", grad_norm, allow_zero=True)
    check_positive("tau", tau)
    check_positive("eps", eps, allow_zero=True)
    return grad_norm * min(1.0, tau / (grad_norm + eps))


def cliff_gradient(w: float, steps: int = 50, bias: float = -2.5, target: float = 0.7,
                   x0: float = 0.5) -> float:
    """dL/dw for x_t = w·σ(x_{t−1}) + b, L = (x_T − target)², by forward sensitivity.

    s_t = ∂x_t/∂w obeys s_t = σ(x_{t−1}) + w·σ'(x_{t−1})·s_{t−1} with s_0 = 0, and
    dL/dw = 2(x_T − target)·s_T. Near the w where the unit switches between its two stable
    states, w·σ'(x) stays close to 1 for many steps and s_T is huge: the cliff of Pascanu et al.
    (2013). :func:`vgcourse.exploding.cliff` computes the same number by autograd.
    """
    check_int("steps", steps)
    x, s = float(x0), 0.0
    for _ in range(steps):
        sig = 1.0 / (1.0 + math.exp(-x))
        x, s = w * sig + bias, sig + w * sig * (1.0 - sig) * s
    return 2.0 * (x - target) * s


def gd_step_factor(lr: float, curvature: float) -> float:
    """The factor ``|1 − lr·λ|`` by which one gradient-descent step multiplies the error along
    a direction of curvature λ of a quadratic loss (LeCun et al. 1998).

    Below 1 the error shrinks; it exceeds 1, and the error and the gradient grow geometrically,
    exactly when lr > 2/λ. This instability needs no depth and no product of Jacobians: it is
    the step size measured against the loss's curvature.
    """
    check_positive("lr", lr)
    check_positive("curvature", curvature, allow_zero=True)
    return abs(1.0 - lr * curvature)


def readout_curvature_bound(hidden: int) -> float:
    """2·(hidden + 1): the largest possible curvature of a linear read-out's mean squared error
    when its inputs are bounded by 1 in size, as tanh states are.

    The Hessian with respect to (w, c) is (2/n) Σ [h; 1][h; 1]ᵀ; its top eigenvalue is at most
    its trace, 2·mean(‖h‖² + 1) ≤ 2·(hidden + 1), with equality when every unit is saturated
    and every example has the same sign pattern up to an overall sign.
    """
    check_int("hidden", hidden)
    return 2.0 * (hidden + 1)


# -- normalisation and residual connections --------------------------------------------------------


def batchnorm_gradient_growth(activation: str | Activation = "identity",
                              batch: int | None = None) -> float:
    """Per-layer growth of ‖∂L/∂h_l‖² toward the input in a deep batch-normalised MLP.

    At initialisation, without skip connections, batch normalisation makes the squared gradient
    norm grow by a fixed factor per layer toward the input, whatever the weight scale
    (Yang et al. 2019). For linear layers (``"identity"``) the factor is (B − 2)/(B − 3) at batch
    size B ≥ 4. For ReLU the closed form known is the large-batch limit π/(π − 1) ≈ 1.467
    (``batch=None``); at finite B the factor is larger (about 1.6 at B = 16).

    Parameters
    ----------
    activation : {"identity", "relu"}, default "identity"
    batch : int, optional
        Batch size B >= 4; required for ``"identity"``, must be None for ``"relu"``.
    """
    act = get_activation(activation)
    if act.name == "identity":
        if batch is None:
            raise ValueError("batch=None is not allowed for activation='identity'; "
                             "pass the batch size, an integer >= 4.")
        check_int("batch", batch, minimum=4)
        return (batch - 2) / (batch - 3)
    if act.name == "relu":
        if batch is not None:
            raise ValueError(f"batch={batch!r} is not allowed for activation='relu': only the "
                             "large-batch limit is known in closed form; pass batch=None.")
        return math.pi / (math.pi - 1)
    raise ValueError(f"activation={act.name!r} is not supported; expected 'identity' or 'relu'.")


def normalized_chi(activation: str | Activation, norm: str = "batch", scale: float = 1.0) -> float:
    """Per-layer growth of ‖∂L/∂h_l‖² toward the input when every pre-activation is normalised.

    In a layer ``h = φ(γ·N(W x))`` the normalisation ``N`` (batch or layer norm) gives each
    unit unit variance, so φ sees z ~ N(0, γ²) whatever the weight scale; on the way back the
    gradient is divided by the standard deviation that ``N`` removed, the one of ``W h``. In a
    wide network (and, for batch norm, a large batch) each layer therefore multiplies the
    squared gradient norm by

    - layer norm: χ_N = γ² E[φ'(γz)²] / E[φ(γz)²];
    - batch norm: χ_N = γ² E[φ'(γz)²] / Var φ(γz): the batch mean is subtracted, so the part
      of φ's output that is the same for every example (the sigmoid's offset ½) does not count.

    For batch norm this is the large-batch limit of the mean-field theory of Yang et al. (2019,
    "A mean field theory of batch normalization"), which for ReLU gives their π/(π − 1); the
    layer-norm case follows from the same argument. By the Gaussian Poincaré inequality
    Var φ(γz) ≤ γ² E[φ'(γz)²] (Chernoff 1981), the batch-norm factor is at least 1 for every
    activation and equals 1 only for a linear one: no choice of φ or of the weight scale removes
    the growth, a more linear φ (small γ for tanh) only reduces it. Values at γ = 1: tanh 1.178
    (both), ReLU π/(π − 1) (batch) and 1 (layer), sigmoid 1.034 (batch) and 0.153 (layer).
    Finite batches add to the batch-norm growth; for linear layers the whole factor is
    (B − 2)/(B − 3), see :func:`batchnorm_gradient_growth`.

    Parameters
    ----------
    activation : str or Activation
    norm : {"batch", "layer"}, default "batch"
    scale : float, default 1.0
        γ > 0, the scale the normalisation's affine map applies before φ.

    Examples
    --------
    >>> round(normalized_chi("relu", "batch"), 4), round(normalized_chi("relu", "layer"), 4)
    (1.4669, 1.0)
    """
    check_choice("norm", norm, ("batch", "layer"))
    check_positive("scale", scale)
    act = get_activation(activation)
    q = scale**2
    slope = q * _mean_square_slope(act, q)
    second = gaussian_expectation(lambda u: act.function(u) ** 2, q)
    if norm == "batch":
        second -= gaussian_expectation(act.function, q) ** 2
    return slope / second


def residual_norm_growth(branch_scale: float, depth: int, fan_gain: float = 2.0) -> list[float]:
    """E‖x_l‖² / ‖x_0‖² for l = 0..L in a residual ReLU MLP x ← x + α·W₂ relu(W₁x).

    With He weights (variance 2/n) and zero biases each block adds an uncorrelated branch
    whose expected squared norm is 2α²‖x‖² (relu keeps half of the variance W₁ doubles, and W₂
    doubles it again), so E‖x_l‖² = (1 + 2α²)^l ‖x_0‖² (He et al. 2016; the same factor
    multiplies ‖∂L/∂x_l‖² on the way down). ``fan_gain`` is n·Var(W) of both layers; the
    general per-block factor is 1 + α²·fan_gain²/2.

    Parameters
    ----------
    branch_scale : float
        α >= 0.
    depth : int
        Number of blocks L >= 1.
    fan_gain : float, default 2.0
        n·Var(W): 2 for He weights, 1 for LeCun weights.
    """
    check_positive("branch_scale", branch_scale, allow_zero=True, maximum=_LARGEST_SCALE)
    check_int("depth", depth)
    check_positive("fan_gain", fan_gain, maximum=_LARGEST_SCALE)
    factor = 1 + branch_scale**2 * fan_gain**2 / 2
    # past float64's range the growth is inf, as NumPy would say, not an OverflowError
    return [factor**layer if layer * math.log(factor) < 709 else math.inf
            for layer in range(depth + 1)]


def path_length_counts(depth: int) -> list[int]:
    """Number of paths of each length k = 0..L through L residual blocks: C(L, k).

    Each block is passed either through its branch or along its skip, so a residual network is
    a collection of 2^L paths, most of them of length near L/2 (Veit et al. 2016).
    """
    check_int("depth", depth)
    return [math.comb(depth, k) for k in range(depth + 1)]


# -- optimisation time: what more steps can and cannot do ------------------------------------------
def steps_to_change(update_ratio: float, fraction: float = 0.1) -> float:
    """Fewest optimiser steps before a layer's weights can have changed by ``fraction``.

    After K steps the triangle inequality gives ‖W_K − W_0‖ ≤ Σ_k ‖ΔW_k‖ = Σ_k r_k ‖W_k‖, with
    r_k = ‖ΔW_k‖/‖W_k‖ the update-to-data ratio (Karpathy's diagnostic). While the weights have
    changed by less than ``fraction``, ‖W_k‖ ≤ (1 + fraction)‖W_0‖, so with a steady ratio r a
    relative change of ``fraction`` needs at least K ≥ fraction / (r (1 + fraction)) steps; this
    returns that bound. The count grows only as 1/r, while r itself shrinks exponentially with
    depth (chapter 1): more steps, that is faster hardware, buy back a linear factor of an
    exponential deficit.

    Examples
    --------
    >>> round(steps_to_change(1e-3))
    91
    """
    check_positive("update_ratio", update_ratio)
    check_positive("fraction", fraction)
    return fraction / (update_ratio * (1 + fraction))


# -- memory of backpropagation through time, and meta-gradients ------------------------------------
def checkpoint_peak_states(steps: int, segment: int | None = None) -> int:
    """Peak hidden states kept for backpropagation through ``steps`` steps, checkpointing every
    ``segment`` steps (Chen et al. 2016); ``None`` keeps all ``steps`` of them.

    With n = ⌈T/k⌉ segments, the forward pass keeps the n − 1 states where segments 2 … n
    start (and the last state). The backward pass recomputes one segment at a time, from the
    last: while segment j is recomputed, the j − 1 starting states below it and its own k
    states are alive. The peak is max over j of (j − 1 + k_j), k_j the length of segment j:
    n − 1 + k_n or n − 2 + k, about T/k + k, which is smallest, about 2√T, at k ≈ √T.

    Examples
    --------
    >>> checkpoint_peak_states(64), checkpoint_peak_states(64, 8)
    (64, 15)
    """
    check_int("steps", steps)
    if segment is None:
        return steps
    check_int("segment", segment)
    segment = min(segment, steps)
    n = -(-steps // segment)
    last = steps - (n - 1) * segment
    return max(n - 1 + last, n - 2 + segment if n > 1 else 0)


def checkpoint_best_segment(steps: int) -> int:
    """The segment length k that minimises :func:`checkpoint_peak_states` (the smallest such k);
    close to √T (Chen et al. 2016)."""
    check_int("steps", steps)
    return min(range(1, steps + 1), key=lambda k: (checkpoint_peak_states(steps, k), k))


def inner_loop_factors(curvatures, lr: float, steps: int) -> list[float]:
    """abs(1 − α·λ)^K for each curvature λ: how MAML's meta-gradient is scaled along each
    eigenvector of a quadratic inner loss after K inner gradient steps (Finn et al. 2017).

    On L_in(θ) = ½ (θ − a)ᵀ H (θ − a) each inner step multiplies θ − a by (I − αH), so
    ∂θ_K/∂θ₀ = (I − αH)^K and, along the eigenvector with eigenvalue λ, the meta-gradient is
    multiplied by (1 − αλ)^K: it vanishes geometrically when 0 < αλ < 2 (fastest at αλ = 1,
    where it is exactly 0) and explodes when αλ > 2 or λ < 0, like ρ^T through time.

    Examples
    --------
    >>> inner_loop_factors([1.0, 3.0], lr=1.0, steps=3)
    [0.0, 8.0]
    """
    check_positive("lr", lr)
    check_int("steps", steps, minimum=0)
    return [abs(1 - lr * float(lam)) ** steps for lam in curvatures]


def maml_quadratic_metagradient(hessian: torch.Tensor, theta0: torch.Tensor, a: torch.Tensor,
                                b: torch.Tensor, lr: float, steps: int) -> torch.Tensor:
    """The exact MAML meta-gradient on a quadratic task (Finn et al. 2017).

    Inner loss ½ (θ − a)ᵀ H (θ − a) with symmetric H, K steps of gradient descent with rate α
    from θ₀, outer loss ½ ‖θ_K − b‖². With M = I − αH: θ_K = a + M^K (θ₀ − a) and
    ∂L_out/∂θ₀ = (M^K)ᵀ (θ_K − b) = M^K (θ_K − b).

    Parameters
    ----------
    hessian : Tensor (n, n)
        Symmetric H.
    theta0, a, b : Tensor (n,)
    lr : float
        α > 0.
    steps : int
        K >= 0.

    Returns
    -------
    Tensor (n,)
    """
    check_positive("lr", lr)
    check_int("steps", steps, minimum=0)
    n = theta0.shape[0]
    if hessian.shape != (n, n) or a.shape != (n,) or b.shape != (n,):
        raise ValueError(f"hessian has shape {tuple(hessian.shape)}, theta0 {tuple(theta0.shape)}, "
                         f"a {tuple(a.shape)}, b {tuple(b.shape)}; expected (n, n) and (n,).")
    if not torch.allclose(hessian, hessian.T):
        raise ValueError("hessian is not symmetric; expected H = Hᵀ.")
    power = torch.linalg.matrix_power(torch.eye(n, dtype=hessian.dtype) - lr * hessian, steps)
    theta_k = a + power @ (theta0 - a)
    return power @ (theta_k - b)


# -- gates and linear recurrences: highway layers, eigenvalues for a horizon -----------------------
def highway_gradient_decay(gate_bias: float, depth: int, chi_transform: float = 1.0) -> list[float]:
    """Predicted ‖∂(v·x_L)/∂x_l‖ for l = 0..L in a highway network, relative to l = L.

    A highway layer computes x ← t ⊙ φ(W_H x) + (1 − t) ⊙ x (Srivastava et al. 2015). With
    gate weights at zero every gate is t = σ(b_T), and the layer's Jacobian is
    (1 − t)·I + t·diag(φ') W_H. Its two terms are uncorrelated for random W_H, so each layer
    multiplies E‖gradient‖² by (1 − t)² + t²·χ, with χ = σ_w² E[φ'²] the transform's own
    factor (1 for ReLU with He weights). The carry gate 1 − t plays the part of the LSTM's
    forget gate (chapter 7), and t → 0 leaves the gradient untouched at any depth.

    Parameters
    ----------
    gate_bias : float
        b_T, finite.
    depth : int
        Number of layers L >= 1.
    chi_transform : float, default 1.0
        χ of the transform, >= 0 (see :func:`chi`).

    Examples
    --------
    >>> highway_gradient_decay(0.0, 2)  # t = 1/2: each layer keeps (1/4 + 1/4) of ‖g‖²
    [0.5000000000000001, 0.7071067811865476, 1.0]
    """
    if isinstance(gate_bias, bool) or not isinstance(gate_bias, (int, float)) \
            or not math.isfinite(gate_bias):
        raise ValueError(f"gate_bias={gate_bias!r} is not allowed; expected a finite number.")
    check_int("depth", depth)
    check_positive("chi_transform", chi_transform, allow_zero=True, maximum=_LARGEST_SCALE)
    t = 1 / (1 + math.exp(-gate_bias)) if gate_bias > -700 else 0.0
    factor = math.sqrt((1 - t) ** 2 + t**2 * chi_transform)
    return [factor ** (depth - layer) for layer in range(depth + 1)]


def eigenvalue_for_horizon(horizon: int, keep: float = 0.1) -> float:
    """The smallest eigenvalue λ with λ^T ≥ ``keep`` over T = ``horizon`` steps: keep^(1/T).

    In a diagonal linear recurrence h_t = λ ⊙ h_{t−1} + u_t the gradient ∂h_T/∂h_t is exactly
    λ^(T−t) (chapter 7's ρ^T law with nothing else in the product), so a unit that must carry
    a fraction ``keep`` of its gradient across ``horizon`` steps needs λ ≥ keep^(1/T) ≈
    1 − ln(1/keep)/T: eigenvalues within about 1/T of the unit circle (Orvieto et al. 2023).

    Examples
    --------
    >>> round(eigenvalue_for_horizon(100, keep=0.5) ** 100, 12)
    0.5
    """
    check_int("horizon", horizon)
    check_positive("keep", keep)
    if not keep < 1:
        raise ValueError(f"keep={keep!r} is not allowed; expected 0 < keep < 1.")
    return keep ** (1 / horizon)


def gradient_x_input_share(z: float) -> float:
    """The share of f(x) − f(0) that gradient × input attributes for a sigmoid unit.

    For f(x) = σ(w·x) and z = w·x, gradient × input sums to z σ'(z), while f(x) − f(0) =
    σ(z) − ½; their ratio z σ'(z) / (σ(z) − ½) is 1 at z → 0 and falls like 2|z| e^(−|z|) as
    the unit saturates, although f(x) − f(0) tends to ½. Integrated gradients attribute the
    whole difference at every z (Sundararajan et al. 2017).

    Examples
    --------
    >>> round(gradient_x_input_share(1e-6), 6)
    1.0
    """
    if isinstance(z, bool) or not isinstance(z, (int, float)) or not math.isfinite(z):
        raise ValueError(f"z={z!r} is not allowed; expected a finite number.")
    if abs(z) < 1e-4:  # z σ'(z) / (σ(z) − ½) = z / sinh z = 1 − z²/6 + O(z⁴)
        return 1 - z * z / 6
    s = 1 / (1 + math.exp(-abs(z)))
    return abs(z) * s * (1 - s) / (s - 0.5)
