"""Mean-field predictions against closed forms and against measured networks."""

import math

import numpy as np
import pytest
import torch

import vgcourse
from vgcourse import theory


def test_gaussian_expectation_is_exact_for_moments_and_kinks():
    assert theory.gaussian_expectation(lambda u: u**2, 2.5) == pytest.approx(2.5, rel=1e-12)
    assert theory.gaussian_expectation(lambda u: u**4, 1.0) == pytest.approx(3.0, rel=1e-12)
    # the kink of ReLU at 0: E[1(z > 0)] = 1/2 exactly, which odd Gauss–Hermite gets wrong
    step = theory.gaussian_expectation(lambda u: (u > 0).double(), 1.0)
    assert step == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize("sigma_w", [0.5, 1.0, math.sqrt(2), 2.0])
def test_chi_closed_forms_agree_with_quadrature(sigma_w):
    relu = vgcourse.get_activation("relu")
    quadrature = sigma_w**2 * theory.gaussian_expectation(lambda u: relu.derivative(u) ** 2, 1.3)
    assert theory.chi("relu", sigma_w) == pytest.approx(sigma_w**2 / 2, rel=1e-12)
    assert quadrature == pytest.approx(sigma_w**2 / 2, rel=1e-10)
    assert theory.chi("identity", sigma_w) == pytest.approx(sigma_w**2, rel=1e-12)
    assert theory.chi("leaky_relu", sigma_w) == pytest.approx(sigma_w**2 * (1 + 0.01**2) / 2)


def test_tanh_fixed_point_and_chi_match_the_literature():
    # Poole et al. (2016): tanh, sigma_w^2 = 2, sigma_b = 0 -> q* ≈ 0.618, χ ≈ 1.1055
    assert theory.q_star("tanh", math.sqrt(2)) == pytest.approx(0.618, abs=1e-3)
    assert theory.chi("tanh", math.sqrt(2)) == pytest.approx(1.1055, abs=1e-3)
    # ordered phase: q* = 0 and χ = σ_w² φ'(0)²
    assert theory.q_star("tanh", 0.8) == 0.0
    assert theory.chi("tanh", 0.8) == pytest.approx(0.64, rel=1e-12)


def test_q_star_is_a_fixed_point_of_the_variance_map():
    for name, sigma_w, sigma_b in [("tanh", 1.5, 0.1), ("selu", 1.0, 0.0), ("sigmoid", 2.0, 0.3)]:
        q = theory.q_star(name, sigma_w, sigma_b)
        assert theory.variance_map(name, q, sigma_w, sigma_b) == pytest.approx(q, rel=1e-9)


def test_selu_fixed_point_is_one():
    # Klambauer et al. (2017): SELU with LeCun weights (σ_w = 1) keeps unit variance
    assert theory.q_star("selu", 1.0) == pytest.approx(1.0, abs=1e-9)


def test_relu_above_he_has_no_fixed_point():
    with pytest.raises(ValueError, match="diverges"):
        theory.q_star("relu", 2.0)


def test_sigmoid_chain_bound_and_deep_linear_law():
    assert theory.sigmoid_chain_bound(20) == 4.0**-20
    assert theory.sigmoid_chain_bound(3, weight=2.0) == pytest.approx(0.125)
    assert theory.deep_linear_gradients(0.5, 3, top=2.0) == [0.5, 1.0, 2.0]


def _measured_log_rate(activation, sigma_w, depth, width, seeds):
    rates = []
    for seed in seeds:
        model = vgcourse.mlp(depth, width, activation=activation, init="lecun", gain=sigma_w,
                             seed=seed, dtype=torch.float64)
        x, y = vgcourse.data.gaussian_batch(batch=32, features=width, seed=seed)
        flow = vgcourse.gradient_flow(model, x, y)
        rates.append(np.mean(np.log(flow.layer_ratios())))
    return float(np.mean(rates))


@pytest.mark.parametrize(
    "activation, sigma_w2", [("tanh", 0.5), ("tanh", 1.0), ("tanh", 2.0), ("relu", 2.0),
                             ("relu", 1.0)])
def test_measured_decay_rate_matches_mean_field(activation, sigma_w2):
    """ln(‖δ_{l-1}‖/‖δ_l‖) per layer, measured, against the layer-by-layer recursion.

    Tolerance 0.02 per layer: at width 256 each layer's squared-norm ratio fluctuates by about
    sqrt(2/n) ≈ 9 %, i.e. ±0.045 in ln of the norm; averaging 14 layers and 3 seeds brings that
    to ≈ 0.007, and the finite-width (Jensen) bias of a mean log is ≈ 1/n ≈ 0.004. The cases
    differ by far more (ln √χ = −0.35, −0.05, +0.05, 0, −0.35).
    """
    depth, width, sigma_w = 15, 256, math.sqrt(sigma_w2)
    predicted = theory.predicted_gradient_norms(activation, sigma_w, depth=depth)
    predicted_rate = float(np.mean(np.diff(np.log(predicted))) * -1)
    measured = _measured_log_rate(activation, sigma_w, depth, width, seeds=range(3))
    assert measured == pytest.approx(predicted_rate, abs=0.02)


def test_predicted_decay_is_sqrt_chi_per_layer():
    decay = theory.predicted_decay("relu", 1.0, depth=5)
    assert decay == pytest.approx([0.5**2, 0.5**1.5, 0.5, 0.5**0.5, 1.0])


def test_bad_arguments():
    with pytest.raises(ValueError, match="sigma_w=0"):
        theory.chi("tanh", 0)
    with pytest.raises(ValueError, match="sigma_b=-1"):
        theory.chi("tanh", 1.0, -1)
    with pytest.raises(ValueError, match="activation='cos'"):
        theory.chi("cos", 1.0)
    with pytest.raises(ValueError, match="depth=0"):
        theory.predicted_decay("tanh", 1.0, depth=0)
    with pytest.raises(ValueError, match="q=-1"):
        theory.gaussian_expectation(lambda u: u, -1)
