"""Chapter 3, weight initialisation: every law the chapter states, and its self-checks.

Measured laws are checked against ``vgcourse.theory`` on small float64 networks, averaging seeds
where a single draw is heavy-tailed (Hanin & Rolnick 2018).
"""

import math

import numpy as np
import pytest
import torch

import vgcourse
from vgcourse import theory


def _relu_net(depth, width, scheme, seed, **kwargs):
    return vgcourse.mlp(depth, width, activation="relu", init=scheme, seed=seed,
                        dtype=torch.float64, **kwargs)


# -- the variance recursion, forward ------------------------------------------------------------
@pytest.mark.parametrize("scheme, kwargs", [("he", {}), ("normal", {"std": 0.2}),
                                            ("orthogonal", {})])
def test_relu_forward_variance_follows_the_recursion(scheme, kwargs):
    """E[q_L]/q_1 = (σ_w²/2)^(L−1) for ReLU without biases (He et al. 2015).

    The ratio of one draw is heavy-tailed: at width 128, depth 7 the std of its log is ≈ 0.35
    (measured), so the mean of 30 seeds has a standard error of ≈ 6 % (measured 1.006 and 1.016
    of the prediction with 40 seeds); 25 % is four standard errors. A wrong factor (σ_w²
    instead of σ_w²/2) would be off by 2^6 = 64. ("normal" draws the same Gaussians as "he",
    scaled: it checks the explosive case σ_w² = 10.24.)
    """
    depth, width = 7, 128
    x, _ = vgcourse.data.gaussian_batch(batch=32, features=width, seed=0)
    ratios = []
    for seed in range(30):
        q = vgcourse.preactivation_moments(_relu_net(depth, width, scheme, seed, **kwargs), x)
        ratios.append(q[-1] / q[0])
    sigma_w, _ = theory.init_sigmas(scheme, width, **kwargs)
    predicted = theory.variance_trajectory("relu", sigma_w, depth=depth)
    assert np.mean(ratios) == pytest.approx(predicted[-1] / predicted[0], rel=0.25)


def test_first_layer_variance_is_sigma_w2_times_input():
    """q_1 = σ_w² · mean(x²) + σ_b²: one layer, averaged over 20 draws of W (each ≈ 1/sqrt(n·B)
    relative noise ≈ 1 %, so 3 % is a wide margin), for the default scheme with its biases."""
    width = 256
    x, _ = vgcourse.data.gaussian_batch(batch=64, features=width, seed=1)
    q1 = [vgcourse.preactivation_moments(_relu_net(1, width, "default", s), x)[0]
          for s in range(20)]
    predicted = theory.variance_trajectory("relu", math.sqrt(1 / 3), math.sqrt(1 / (3 * width)),
                                           depth=1, q_input=float((x**2).mean()))[0]
    assert np.mean(q1) == pytest.approx(predicted, rel=0.03)


# -- PyTorch's default: a factor 6 per layer ----------------------------------------------------
def test_pytorch_default_loses_a_factor_six_per_layer():
    """‖δ_{l−1}‖²/‖δ_l‖² = χ = 1/6 for ReLU with nn.Linear's default init.

    Mean of ln(ratio) over 10 layers and 4 seeds at width 256: each layer's ratio fluctuates
    by ≈ sqrt(2/n)·... ≈ 10 % (0.1 in ln), averaging 40 of them gives ≈ 0.02; tolerance 0.08
    in ln (8 %) also covers the Jensen bias ≈ 1/n. ln 6 = 1.79, so ln 3 or ln 12 (forgetting
    ReLU's 1/2, or doubling it) fail.
    """
    depth, width = 12, 256
    x, y = vgcourse.data.gaussian_batch(batch=32, features=width, seed=0)
    logs = []
    for seed in range(4):
        flow = vgcourse.gradient_flow(_relu_net(depth, width, "default", seed), x, y)
        logs += [math.log(r ** 2) for r in flow.layer_ratios()[:-1]]
    assert np.mean(logs) == pytest.approx(math.log(theory.chi("relu", math.sqrt(1 / 3))),
                                          abs=0.08, rel=0)
    assert theory.chi("relu", math.sqrt(1 / 3)) == pytest.approx(1 / 6, rel=1e-12)


def test_nn_linear_default_has_n_var_one_third():
    """PyTorch's own reset_parameters: U(±1/√n) has variance 1/(3n).

    90,000 draws: the sample variance has relative standard error sqrt(0.8/N) ≈ 0.3 % for a
    uniform distribution (kurtosis 1.8), so 2 % is six standard errors.
    """
    torch.manual_seed(0)
    layer = torch.nn.Linear(300, 300)
    assert 300 * layer.weight.var().item() == pytest.approx(1 / 3, rel=0.02)
    assert theory.init_variance("default", 300) == pytest.approx(1 / 900)


# -- the edge of chaos ----------------------------------------------------------------------
@pytest.mark.parametrize("sigma_w2, sigma_b2", [(0.5, 0.0), (1.5, 0.3), (1.76, 0.05),
                                                (3.0, 0.1)])
def test_tanh_gradient_factor_matches_chi(sigma_w2, sigma_b2):
    """Per-layer factor on ‖δ‖², measured between layers 6 and 20 (after q has settled at q*),
    against χ at q*. Width 256, 2 seeds: ln of each layer's ratio fluctuates by ≈ 0.1, the
    mean over 28 ratios by ≈ 0.02; tolerance 0.06 in ln (6 %). The four points' χ differ by
    much more (0.50, 0.74, 1.00, 1.18)."""
    depth, width, low = 20, 256, 6
    x, y = vgcourse.data.gaussian_batch(batch=32, features=width, seed=0)
    logs = []
    for seed in range(2):
        net = vgcourse.mlp(depth, width, activation="tanh", seed=seed, dtype=torch.float64)
        vgcourse.initialize(net, "lecun", gain=math.sqrt(sigma_w2), bias_std=math.sqrt(sigma_b2),
                            generator=torch.Generator().manual_seed(seed))
        g = vgcourse.gradient_flow(net, x, y).activation_grad_norms
        logs.append(2 * math.log(g[low - 1] / g[-1]) / (depth - low))
    chi = theory.chi("tanh", math.sqrt(sigma_w2), math.sqrt(sigma_b2))
    assert np.mean(logs) == pytest.approx(math.log(chi), abs=0.06, rel=0)


# -- dynamical isometry -----------------------------------------------------------------------
def _spread(activation, init, sigma_w, depth, width, seed):
    net = vgcourse.mlp(depth, width, activation=activation, init=init, gain=sigma_w, seed=seed,
                       dtype=torch.float64)
    x = torch.randn(width, generator=torch.Generator().manual_seed(100 + seed),
                    dtype=torch.float64)
    lam = vgcourse.jacobian_spectrum(net, x) ** 2
    return float(lam.var(unbiased=False) / lam.mean() ** 2)


@pytest.mark.parametrize("activation, init, sigma_w", [
    ("identity", "lecun", 1.0), ("relu", "lecun", math.sqrt(2)), ("relu", "orthogonal",
                                                                  math.sqrt(2))])
def test_jacobian_spread_grows_as_predicted(activation, init, sigma_w):
    """Var(λ)/E[λ]² of JJᵀ against Pennington et al. (2017): L, 2L and L at depth 4.

    At width 192 and L = 4 the finite-width correction is O(L/n) ≈ 2 % and one draw's
    estimate fluctuates by ≈ 15 %; the mean of 4 seeds is within 20 % (measured 3–10 % off).
    The three predictions differ by factors of 2, and the orthogonal linear case is 0.
    """
    depth, width = 4, 192
    weights = "gaussian" if init == "lecun" else "orthogonal"
    measured = np.mean([_spread(activation, init, sigma_w, depth, width, s) for s in range(4)])
    predicted = theory.jacobian_spectrum_variance(activation, sigma_w, depth=depth,
                                                  weights=weights)
    assert measured == pytest.approx(predicted, rel=0.2)


def test_linear_orthogonal_network_is_exactly_isometric():
    net = vgcourse.mlp(12, 32, activation="identity", init="orthogonal", dtype=torch.float64)
    s = vgcourse.jacobian_spectrum(net, torch.randn(32, dtype=torch.float64))
    # float64 round-off of 12 orthogonal products and an SVD (~1e-14), absolute
    assert torch.allclose(s, torch.ones(32, dtype=torch.float64), rtol=0, atol=1e-12)
    scaled = vgcourse.mlp(5, 16, activation="identity", init="orthogonal", gain=0.7)
    s = vgcourse.jacobian_spectrum(scaled, torch.randn(16))
    assert torch.allclose(s, torch.full((16,), 0.7**5, dtype=torch.float64), rtol=1e-5)


def test_jacobian_spectrum_matches_the_product_of_layer_jacobians():
    net = vgcourse.mlp(4, 10, activation="tanh", init="xavier", in_features=6, seed=3,
                       dtype=torch.float64)
    x = torch.randn(6, dtype=torch.float64)
    jac, h = torch.eye(6, dtype=torch.float64), x
    for layer in net.hidden:
        u = layer.linear(h)
        jac = torch.diag(1 - torch.tanh(u) ** 2) @ layer.linear.weight @ jac
        h = torch.tanh(u)
    expected = torch.linalg.svdvals(jac.detach())
    measured = vgcourse.jacobian_spectrum(net, x)
    assert measured.dtype == torch.float64
    assert torch.allclose(measured, expected, rtol=1e-10)
    assert torch.allclose(vgcourse.jacobian_spectrum(net, x[None]), expected, rtol=1e-10)


@pytest.mark.parametrize("activation, init", [("tanh", "xavier"), ("relu", "he"),
                                              ("identity", "lecun")])
def test_jacobian_log_spectrum_agrees_with_an_svd_where_that_resolves(activation, init):
    """Shallow networks, where the explicit Jacobian's SVD is exact: every layer's singular
    values agree, and a ReLU layer's exact zeros (inactive units) are -inf, not round-off."""
    net = vgcourse.mlp(5, 12, activation=activation, init=init, seed=2, dtype=torch.float64)
    x = torch.randn(12, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    logs = vgcourse.probe.jacobian_log_spectrum(net, x)
    assert logs.shape == (5, 12) and logs.dtype == torch.float64
    for depth in range(1, 6):
        prefix = vgcourse.mlp(depth, 12, activation=activation, seed=0, dtype=torch.float64)
        for mine, theirs in zip(prefix.hidden, net.hidden):
            mine.load_state_dict(theirs.state_dict())
        s = vgcourse.jacobian_spectrum(prefix, x)
        finite = torch.isfinite(logs[depth - 1])
        assert torch.allclose(logs[depth - 1][finite].exp(), s[finite], rtol=1e-9)
        assert torch.all(s[~finite] < 1e-14 * s[0])  # zeros up to the SVD's round-off
    if activation == "relu":
        assert not torch.isfinite(logs[-1]).all()


def test_jacobian_log_spectrum_resolves_what_an_svd_of_the_jacobian_cannot():
    """Known answer: W_l = U_l D U_{l-1}ᵀ in a linear network telescopes to U_L D^l U_0ᵀ, so
    the singular values of J_l are d_i^l, down to 1e-120 at depth 40, where an SVD of J stops
    at about 1e-16 of the largest."""
    g = torch.Generator().manual_seed(0)
    n, depth = 6, 40
    d = torch.tensor([2.0, 1.0, 0.3, 0.1, 1e-2, 1e-3], dtype=torch.float64)
    us = [torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))[0]
          for _ in range(depth + 1)]
    net = vgcourse.mlp(depth, n, activation="identity", init="lecun", dtype=torch.float64)
    with torch.no_grad():
        for k, layer in enumerate(net.hidden):
            layer.linear.weight.copy_(us[k + 1] @ torch.diag(d) @ us[k].T)
    logs = vgcourse.probe.jacobian_log_spectrum(net, torch.ones(n, dtype=torch.float64))
    exact = torch.arange(1, depth + 1, dtype=torch.float64)[:, None] * d.log()
    assert torch.allclose(logs, exact, rtol=1e-10, atol=1e-9)
    naive = vgcourse.jacobian_spectrum(net, torch.ones(n, dtype=torch.float64))
    assert naive[-1].log() > exact[-1, -1] + 100


def test_jacobian_log_spectrum_rejects_bad_input():
    with pytest.raises(ValueError, match="x has shape"):
        vgcourse.probe.jacobian_log_spectrum(vgcourse.mlp(2, 8), torch.randn(3, 8))
    with pytest.raises(ValueError, match="x must be a tensor"):
        vgcourse.probe.jacobian_log_spectrum(vgcourse.mlp(2, 8), [0.0] * 8)
    with pytest.raises(ValueError, match="plain layers"):
        vgcourse.probe.jacobian_log_spectrum(vgcourse.mlp(2, 8, norm="layer"), torch.randn(8))


def test_jacobian_spectrum_and_moments_reject_bad_input():
    net = vgcourse.mlp(2, 8)
    with pytest.raises(ValueError, match="x has shape"):
        vgcourse.jacobian_spectrum(net, torch.randn(3, 8))
    with pytest.raises(ValueError, match="x must be a tensor"):
        vgcourse.jacobian_spectrum(net, [0.0] * 8)
    with pytest.raises(ValueError, match="hidden"):
        vgcourse.jacobian_spectrum(torch.nn.Linear(8, 8), torch.randn(8))
    with pytest.raises(ValueError, match="x must be a tensor"):
        vgcourse.preactivation_moments(net, None)


def test_preactivation_moments_are_mean_squares_of_pre_activations():
    net = vgcourse.mlp(3, 8, activation="tanh", init="he", dtype=torch.float64)
    x = torch.randn(5, 8, dtype=torch.float64)
    h, expected = x, []
    for layer in net.hidden:
        u = layer.linear(h)
        expected.append(float((u.detach() ** 2).mean()))
        h = torch.tanh(u)
    assert vgcourse.preactivation_moments(net, x) == pytest.approx(expected, rel=1e-12)


# -- constant initialisation ------------------------------------------------------------------
def test_constant_init_units_stay_identical_under_training():
    """Symmetry is never broken: identical rows get identical gradients, exactly."""
    x, y = vgcourse.data.spirals(n=120, classes=3, seed=0)
    net = vgcourse.mlp(2, 16, activation="tanh", init="constant", in_features=2, out_features=3)
    history = vgcourse.train(net, (x, y), steps=15, lr=0.01, optimizer="adam",
                             loss="cross_entropy", batch_size=None, show_progress=False)
    assert history.loss[-1] < history.loss[0]  # it did train ...
    for layer in net.hidden:  # ... yet every unit of a layer is the same unit
        w = layer.linear.weight.detach()
        assert torch.equal(w, w[:1].expand_as(w))
        assert not torch.allclose(w, torch.full_like(w, 1 / w.shape[1]))


# -- He et al. (2015) -------------------------------------------------------------------------
def test_he_first_layer_gradient_dwarfs_xavier_at_depth_30():
    """Xavier's σ_w² = 1 gives χ = 1/2 against He's 1: the first-layer gradient is smaller by
    √2^(L−1) ≈ 2^14.5 ≈ 2.3e4 (30 layers). Single draws are heavy-tailed (std of ln ≈ 1 at
    width 128, depth 30), so the test asks for a ratio between 10³ and 10⁶ with 3 seeds'
    geometric mean; without the factor (ratio ≈ 1) or with it squared (≈ 5e8) it fails."""
    x, y = vgcourse.data.gaussian_clusters(n=256, features=64, classes=10, seed=0)
    logs = []
    for seed in range(3):
        g = {}
        for init in ["he", "xavier"]:
            net = vgcourse.mlp(30, 128, activation="relu", init=init, in_features=64,
                               out_features=10, seed=seed)
            g[init] = vgcourse.gradient_flow(net, x, y, loss="cross_entropy").weight_grad_norms[0]
        logs.append(math.log10(g["he"] / g["xavier"]))
    assert 3 < np.mean(logs) < 6


# -- the self-checks' answers, measured (their hints are tested in tests/test_checks.py) -------
def test_default_tanh_factor_answer_is_the_measured_factor():
    """The answer is χ of tanh at the default's (σ_w², σ_b²) = (1/3, 1/768), within 1 % of 1/3;
    the measured per-layer factor deep in such a network agrees (as in the edge-of-chaos test)."""
    sigma_w, sigma_b = theory.init_sigmas("default", 256)
    assert theory.chi("tanh", sigma_w, sigma_b) == pytest.approx(1 / 3, rel=0.01)
    depth, width, low = 20, 256, 8
    x, y = vgcourse.data.gaussian_batch(batch=32, features=width, seed=0)
    logs = []
    for seed in range(2):
        net = vgcourse.mlp(depth, width, activation="tanh", init="default", seed=seed,
                           dtype=torch.float64)
        g = vgcourse.gradient_flow(net, x, y).activation_grad_norms
        logs.append(2 * math.log(g[low - 1] / g[-1]) / (depth - low))
    assert math.exp(np.mean(logs)) == pytest.approx(theory.chi("tanh", sigma_w, sigma_b),
                                                    rel=0.06)
