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
    assert step == pytest.approx(0.5, abs=1e-12, rel=0)


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
    assert theory.q_star("tanh", math.sqrt(2)) == pytest.approx(0.618, abs=1e-3, rel=0)
    assert theory.chi("tanh", math.sqrt(2)) == pytest.approx(1.1055, abs=1e-3, rel=0)
    # ordered phase: q* = 0 and χ = σ_w² φ'(0)²
    assert theory.q_star("tanh", 0.8) == 0.0
    assert theory.chi("tanh", 0.8) == pytest.approx(0.64, rel=1e-12)


def test_q_star_is_a_fixed_point_of_the_variance_map():
    for name, sigma_w, sigma_b in [("tanh", 1.5, 0.1), ("selu", 1.0, 0.0), ("sigmoid", 2.0, 0.3)]:
        q = theory.q_star(name, sigma_w, sigma_b)
        assert theory.variance_map(name, q, sigma_w, sigma_b) == pytest.approx(q, rel=1e-9)


def test_selu_fixed_point_is_one():
    # Klambauer et al. (2017): SELU with LeCun weights (σ_w = 1) keeps unit variance
    assert theory.q_star("selu", 1.0) == pytest.approx(1.0, abs=1e-9, rel=0)


def test_relu_above_he_has_no_fixed_point():
    with pytest.raises(ValueError, match="diverges"):
        theory.q_star("relu", 2.0)


def test_sigmoid_chain_bound_and_deep_linear_law():
    assert theory.sigmoid_chain_bound(20) == 4.0**-20
    assert theory.sigmoid_chain_bound(3, weight=2.0) == pytest.approx(0.125)
    assert theory.deep_linear_gradients(0.5, 3, top=2.0) == [0.5, 1.0, 2.0]


def _measured_log_ratios(activation, sigma_w, depth, width, seeds):
    """ln(‖δ_l‖/‖δ_{l+1}‖) for l = 1..L−1, one row per seed."""
    rows = []
    for seed in seeds:
        model = vgcourse.mlp(depth, width, activation=activation, init="lecun", gain=sigma_w,
                             seed=seed, dtype=torch.float64)
        x, y = vgcourse.data.gaussian_batch(batch=32, features=width, seed=seed)
        flow = vgcourse.gradient_flow(model, x, y)
        rows.append(np.log(flow.layer_ratios()))
    return np.array(rows)


@pytest.mark.parametrize(
    "activation, sigma_w2", [("tanh", 0.5), ("tanh", 1.0), ("tanh", 2.0), ("relu", 2.0),
                             ("relu", 1.0)])
def test_measured_decay_rate_matches_mean_field(activation, sigma_w2):
    """ln(‖δ_{l-1}‖/‖δ_l‖) per layer, measured, against the layer-by-layer recursion.

    Two checks, with tolerances from the measured spread (width n = 256, batch 32, depth 15;
    12 seeds were run to measure it):

    - the first three layers one by one, where q_l is still far from q* and each layer's factor
      is its own: the ln of one layer's norm ratio spreads by at most 0.045 between seeds
      (≈ √(2/n)/2 for n = 256; 0.015–0.045 measured), so 6 seeds leave a standard error of
      0.045/√6 ≈ 0.018 and four of them, 0.074, is the tolerance. The right recursion was within
      0.012 of the measurement; reading the previous layer's q (an off-by-one) moves the first
      layer's prediction by 0.135–0.158 for these tanh cases, and fails. (ReLU's slope does not
      depend on q, so there the two agree, and only the mean below matters.)
    - the mean over all 14 layers: per-seed means spread by ≤ 0.0095, so 6 seeds give a
      standard error of 0.004; four of them plus the finite-width (Jensen) bias of a mean log,
      ≈ 1/n ≈ 0.004, is 0.02. The cases differ by far more (ln √χ = −0.35, −0.05, +0.05, 0,
      −0.35).
    """
    depth, width, sigma_w = 15, 256, math.sqrt(sigma_w2)
    predicted = -np.diff(np.log(theory.predicted_gradient_norms(activation, sigma_w,
                                                                depth=depth)))
    measured = _measured_log_ratios(activation, sigma_w, depth, width, seeds=range(6))
    assert measured.shape == (6, depth - 1)
    first = measured[:, :3].mean(axis=0)
    assert first == pytest.approx(predicted[:3], abs=4 * 0.045 / math.sqrt(6), rel=0)
    assert measured.mean() == pytest.approx(predicted.mean(), abs=0.02, rel=0)


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


# -- chapter 3: initialisation --------------------------------------------------------------
@pytest.mark.parametrize("scheme, kwargs, expected", [
    ("default", {}, 1 / 1200), ("lecun", {}, 1 / 400), ("xavier", {}, 2 / 700),
    ("he", {}, 2 / 400), ("orthogonal", {}, 1 / 400), ("constant", {}, 0.0),
    ("normal", {"std": 0.1}, 0.01)])
def test_init_variance_formulas(scheme, kwargs, expected):
    assert theory.init_variance(scheme, 400, 300, **kwargs) == pytest.approx(expected, rel=1e-12)
    assert theory.init_variance(scheme, 400, 300, gain=3.0, **kwargs) == pytest.approx(
        9 * expected, rel=1e-12)


@pytest.mark.parametrize("name, w2, b2", [("tanh", 2.0, 0.0), ("tanh", 0.5, 0.0),
                                         ("tanh", 1.5, 0.05), ("tanh", 3.0, 0.3),
                                         ("tanh", 1.0, 0.5), ("sigmoid", 2.0, 0.1),
                                         ("selu", 1.0, 0.0), ("relu", 1.3, 0.2),
                                         ("identity", 0.7, 0.0)])
def test_chi_map_agrees_with_chi(name, w2, b2):
    # both solve the same fixed point to ~1e-10 relative; χ inherits that accuracy
    assert float(theory.chi_map(name, w2, b2)) == pytest.approx(
        theory.chi(name, math.sqrt(w2), math.sqrt(b2)), rel=1e-8)
    act = vgcourse.get_activation(name)
    if act.piecewise_linear:
        # Here chi and chi_map share one closed form, so agreeing proves nothing: check it
        # against the quadrature of φ'² itself (any variance will do: φ'² is piecewise
        # constant, and the quadrature is exact to ~1e-13 on each half-line).
        quadrature = w2 * theory.gaussian_expectation(lambda u: act.derivative(u) ** 2, 0.7)
        assert float(theory.chi_map(name, w2, b2)) == pytest.approx(quadrature, rel=1e-10)


def test_chi_map_closed_forms_and_shape():
    w2, b2 = np.meshgrid(np.linspace(0.5, 4, 5), np.linspace(0, 1, 3))
    assert theory.chi_map("relu", w2, b2) == pytest.approx(w2 / 2, rel=1e-12)
    assert theory.chi_map("identity", w2, b2) == pytest.approx(w2, rel=1e-12)
    tanh = theory.chi_map("tanh", w2, b2)
    assert tanh.shape == (3, 5)
    # ordered phase without bias: q* = 0 and χ = σ_w² exactly
    assert float(theory.chi_map("tanh", 0.8, 0.0)) == pytest.approx(0.8, rel=1e-12)
    # at fixed σ_w², more bias variance means more saturation, so smaller χ
    assert np.all(np.diff(tanh, axis=0) < 0)
    with pytest.raises(ValueError, match="sigma_w2"):
        theory.chi_map("tanh", [1.0, -1.0], 0.0)
    with pytest.raises(ValueError, match="sigma_b2"):
        theory.chi_map("tanh", 1.0, -0.1)


def test_critical_sigma_w_is_the_edge_of_chaos():
    assert theory.critical_sigma_w("relu") == pytest.approx(math.sqrt(2), abs=1e-8, rel=0)  # He
    assert theory.critical_sigma_w("relu", sigma_b=0.5) == pytest.approx(math.sqrt(2), abs=1e-8,
                                                                         rel=0)
    # tanh, σ_b = 0: χ = σ_w² up to σ_w = 1 and above 1 beyond; q* → 0 only as a power law
    # near the edge, so the bisection's answer is accurate to ~1e-6, not 1e-10
    assert theory.critical_sigma_w("tanh") == pytest.approx(1.0, abs=1e-5, rel=0)
    edge = theory.critical_sigma_w("tanh", sigma_b=math.sqrt(0.05))
    assert theory.chi("tanh", edge, math.sqrt(0.05)) == pytest.approx(1.0, abs=1e-8, rel=0)
    assert edge > theory.critical_sigma_w("tanh", sigma_b=math.sqrt(0.01)) > 1.0
    with pytest.raises(ValueError, match="do not bracket"):
        theory.critical_sigma_w("tanh", lo=1.5, hi=2.0)


def test_jacobian_spectrum_variance_closed_forms():
    # Pennington et al. (2017): per layer μ₂/μ₁² (Gaussian) or μ₂/μ₁² − 1 (orthogonal)
    assert theory.jacobian_spectrum_variance("identity", 1.0, depth=7) == pytest.approx(7)
    assert theory.jacobian_spectrum_variance("identity", 1.0, depth=7,
                                             weights="orthogonal") == pytest.approx(
                                                 0, abs=1e-9, rel=0)
    assert theory.jacobian_spectrum_variance("relu", 1.4, depth=5) == pytest.approx(10)
    assert theory.jacobian_spectrum_variance("relu", 1.4, depth=5,
                                             weights="orthogonal") == pytest.approx(5)
    # tanh on the edge with a tiny bias: φ'² = sech⁴(u) ≈ 1 − 2u², so μ₂/μ₁² − 1 ≈ Var(2u²)
    # = 8q*² per layer; the next order is O(q*) relative, 2 % at q* ≈ 0.002
    sigma_b = 1e-4
    sigma_w = theory.critical_sigma_w("tanh", sigma_b)
    q = theory.q_star("tanh", sigma_w, sigma_b)
    spread = theory.jacobian_spectrum_variance("tanh", sigma_w, sigma_b, 10, "orthogonal")
    assert spread == pytest.approx(10 * 8 * q**2, rel=0.05)
    with pytest.raises(ValueError, match="weights='uniform'"):
        theory.jacobian_spectrum_variance("tanh", 1.0, weights="uniform")


@pytest.mark.parametrize("name", ["tanh", "relu", "sigmoid", "gelu"])
@pytest.mark.parametrize("norm", ["batch", "layer"])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_normalized_chi_agrees_with_monte_carlo(name, norm, scale):
    # 4·10⁶ draws of z ~ N(0, 1): the ratio of sample means is within ~0.3 % (3σ) of its value.
    act = vgcourse.get_activation(name)
    z = scale * torch.randn(4_000_000, generator=torch.Generator().manual_seed(7),
                            dtype=torch.float64)
    h = act.function(z)
    divisor = h.var(unbiased=False) if norm == "batch" else (h**2).mean()
    monte_carlo = float(scale**2 * (act.derivative(z) ** 2).mean() / divisor)
    assert theory.normalized_chi(name, norm, scale) == pytest.approx(monte_carlo, rel=5e-3)


def test_normalized_chi_closed_forms_and_the_poincare_bound():
    assert theory.normalized_chi("relu", "batch") == pytest.approx(math.pi / (math.pi - 1))
    assert theory.normalized_chi("relu", "batch") == pytest.approx(
        theory.batchnorm_gradient_growth("relu"), rel=1e-10)
    assert theory.normalized_chi("relu", "layer") == pytest.approx(1.0, rel=1e-10)
    assert theory.normalized_chi("identity", "batch") == pytest.approx(1.0, rel=1e-10)
    assert theory.normalized_chi("tanh", "batch") == pytest.approx(
        theory.normalized_chi("tanh", "layer"), rel=1e-12)  # odd: E[φ] = 0
    assert theory.normalized_chi("tanh") == pytest.approx(1.178, abs=5e-4, rel=0)
    assert theory.normalized_chi("sigmoid", "batch") == pytest.approx(1.034, abs=5e-4, rel=0)
    assert theory.normalized_chi("sigmoid", "layer") == pytest.approx(0.153, abs=5e-4, rel=0)
    # sigmoid(x) = (1 + tanh(x/2))/2: with the offset removed it is tanh at scale 1/2
    assert theory.normalized_chi("sigmoid", "batch") == pytest.approx(
        theory.normalized_chi("tanh", "batch", scale=0.5), rel=1e-10)
    # Gaussian Poincaré inequality: batch norm's factor is >= 1 for every activation, and a
    # more linear regime (smaller scale) brings tanh toward 1
    for name in vgcourse.activations.ACTIVATIONS:
        assert theory.normalized_chi(name, "batch") >= 1 - 1e-9
    factors = [theory.normalized_chi("tanh", scale=s) for s in (2.0, 1.0, 0.5, 0.1)]
    assert factors == sorted(factors, reverse=True)
    assert factors[-1] == pytest.approx(1, abs=1e-3, rel=0)
    with pytest.raises(ValueError, match="norm"):
        theory.normalized_chi("tanh", norm="group")
    with pytest.raises(ValueError, match="scale"):
        theory.normalized_chi("tanh", scale=0.0)


def test_gaussian_lyapunov_exponents_closed_form_and_monte_carlo():
    # n = 1: E log|z| for z ~ N(0, 1) is −(γ + log 2)/2
    exact = -(np.euler_gamma + math.log(2)) / 2
    assert theory.gaussian_lyapunov_exponents(1) == pytest.approx([exact], rel=1e-10)
    assert theory.gaussian_lyapunov_spread(1) == pytest.approx([math.pi / math.sqrt(8)], rel=1e-8)
    # n = 4: the mean and spread of log|R_ii| of Gaussian matrices (entries N(0, σ_w²/n))
    n, draws, sigma_w = 4, 20_000, 1.5
    g = torch.Generator().manual_seed(0)
    w = torch.randn(draws, n, n, generator=g, dtype=torch.float64) * sigma_w / math.sqrt(n)
    logs = torch.linalg.qr(w)[1].diagonal(dim1=-2, dim2=-1).abs().log()
    spread = torch.tensor(theory.gaussian_lyapunov_spread(n), dtype=torch.float64)
    exponents = torch.tensor(theory.gaussian_lyapunov_exponents(n, sigma_w), dtype=torch.float64)
    assert torch.all((logs.mean(0) - exponents).abs() < 5 * spread / math.sqrt(draws))
    assert torch.allclose(logs.std(0), spread, rtol=0.05)
    assert exponents.tolist() == sorted(exponents.tolist(), reverse=True)


def test_product_singular_values_follow_the_lyapunov_exponents():
    n, depth = 16, 60
    g = torch.Generator().manual_seed(2)
    weights = [torch.randn(n, n, generator=g, dtype=torch.float64) / math.sqrt(n)
               for _ in range(depth)]
    logs = vgcourse.probe.product_log_singular_values(weights)[-1]
    rates = torch.tensor(theory.gaussian_lyapunov_exponents(n), dtype=torch.float64)
    spread = torch.tensor(theory.gaussian_lyapunov_spread(n), dtype=torch.float64)
    # within the √L fluctuation (4 standard deviations) plus an order-one correction
    assert torch.all((logs - depth * rates).abs() < 4 * spread * math.sqrt(depth) + 3)


# -- PReLU, uniform bounds, fan modes and LSUV ----------------------------------------------
@pytest.mark.parametrize("name, slope", [("relu", 0.0), ("leaky_relu", 0.01), ("prelu", 0.25)])
def test_rectifier_chi_is_the_registry_chi(name, slope):
    for sigma_w in (0.5, 1.3, 2.0):
        assert theory.rectifier_chi(sigma_w, slope) == pytest.approx(
            theory.chi(name, sigma_w), rel=1e-12)


def test_prelu_chi_by_hand():
    # σ_w² = 2 (He's ReLU scale) with a = 1/4: 2 · (1 + 1/16) / 2 = 17/16
    assert theory.chi("prelu", math.sqrt(2)) == pytest.approx(17 / 16, rel=1e-12)
    # PReLU's own gain sqrt(2/(1 + a²)) = sqrt(32/17) puts it on the edge of chaos
    assert theory.chi("prelu", vgcourse.get_activation("prelu").gain) == pytest.approx(1,
                                                                                     rel=1e-12)
    assert theory.rectifier_chi(1.0, -1.0) == pytest.approx(1.0, rel=1e-15)  # |x|: slope ±1
    with pytest.raises(ValueError, match="slope=inf"):
        theory.rectifier_chi(1.0, math.inf)


def test_uniform_bound_by_hand():
    # Glorot & Bengio: sqrt(6/(n_in + n_out)); He: sqrt(6/n_in); PyTorch's default 1/sqrt(n_in)
    assert theory.uniform_bound("xavier", 100, 50) == pytest.approx(math.sqrt(6 / 150), rel=1e-15)
    assert theory.uniform_bound("he", 96) == pytest.approx(0.25, rel=1e-15)
    assert theory.uniform_bound("default", 64) == pytest.approx(1 / 8, rel=1e-15)
    w = torch.empty(300, 200, dtype=torch.float64)
    torch.nn.init.xavier_uniform_(w, generator=torch.Generator().manual_seed(0))
    bound = theory.uniform_bound("xavier", 200, 300)
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.999 * bound


def test_fan_mode_profile_by_hand():
    # widths 8 → 16 → 32 → 16; fan_in: forward flat, and going down from the last layer's input
    # (width 32) the gradient variance picks up n_l/n_{l−1}: 32/16 = 2, then 16/8 = 2
    forward, backward = theory.fan_mode_profile([8, 16, 32, 16], "fan_in")
    assert forward == [1.0, 1.0, 1.0]
    assert backward == [2.0 * 2.0, 2.0, 1.0]
    forward, backward = theory.fan_mode_profile([8, 16, 32, 16], "fan_out")
    assert forward == [1.0, 0.5, 0.5 * 2.0]
    assert backward == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="mode='fan'"):
        theory.fan_mode_profile([8, 16], "fan")
    with pytest.raises(ValueError, match="widths"):
        theory.fan_mode_profile([8])


def test_lsuv_sigma_w_by_hand():
    assert theory.lsuv_sigma_w("relu") == pytest.approx(math.sqrt(2), rel=1e-12)
    assert theory.lsuv_sigma_w("identity", q=3.0) == pytest.approx(1.0, rel=1e-12)
    # SELU maps N(0, 1) to second moment 1 (Klambauer et al.): σ_w = 1
    assert theory.lsuv_sigma_w("selu") == pytest.approx(1.0, rel=1e-9)
    # tanh: 1/E[tanh(z)²] by a 2·10⁶-draw Monte Carlo (3σ ≈ 0.2 %)
    z = torch.randn(2_000_000, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    assert theory.lsuv_sigma_w("tanh") ** 2 == pytest.approx(float(1 / (torch.tanh(z) ** 2).mean()),
                                                            rel=3e-3)


@pytest.mark.parametrize("z", [1e-5, -3e-5, 2e-4, 0.5, 3.0, -7.0])
def test_gradient_x_input_share_is_z_over_sinh_z(z):
    """σ'(z) = ¼ sech²(z/2) and σ(z) − ½ = ½ tanh(z/2), so the share z σ'(z)/(σ(z) − ½) is
    z / sinh z exactly (its series below 1e-4 is 1 − z²/6, not 1 − z²/12)."""
    assert theory.gradient_x_input_share(z) == pytest.approx(z / math.sinh(z), rel=1e-12, abs=0)
