"""Chapter 6: the residual variance law, paths, zero-initialised blocks, shattered gradients."""

import math

import pytest
import torch

import vgcourse
from vgcourse import check, theory
from vgcourse.residual import (
    autocorrelation,
    freeze_batch_statistics,
    input_gradients,
    path_gradient_norms,
)


def residual(depth, width, alpha, seed=0, **kwargs):
    return vgcourse.mlp(depth, width, activation="relu", init="he", residual=True,
                        branch_scale=alpha, seed=seed, dtype=torch.float64, **kwargs)


def test_residual_variance_law_forward_and_backward():
    # E||x_L||^2 = (1 + 2 alpha^2)^L ||x_0||^2, and the same factor per block on ||delta||^2.
    # The squared norm of a random ReLU network is heavy-tailed: means over 20 networks of
    # width 64 were measured within 10 % of the law (4 batches of 20 seeds); 20 % tolerance still
    # rejects the law without W2's doubling, (1 + alpha^2)^L, which is 6x smaller here.
    depth, width, alpha, seeds = 10, 64, 0.5, 20
    x0, y = vgcourse.data.gaussian_batch(batch=16, features=width, seed=0)
    forward = backward = 0.0
    for seed in range(seeds):
        model = residual(depth, width, alpha, seed=seed)
        h = x0
        with torch.no_grad():
            for block in model.hidden:
                h = block(h)
        forward += (h.pow(2).sum() / x0.pow(2).sum()).item() / seeds
        g = vgcourse.gradient_flow(model, x0, y).activation_grad_norms
        backward += (g[0] / g[-1]) ** 2 / seeds
    assert forward == pytest.approx(theory.residual_norm_growth(alpha, depth)[-1], rel=0.2)
    assert backward == pytest.approx(theory.residual_norm_growth(alpha, depth - 1)[-1], rel=0.2)


def test_residual_variance_law_with_lecun_weights():
    # The exercise's law: with LeCun weights (n Var(W) = 1) each block multiplies E||x||^2 by
    # 1 + alpha^2 / 2 (theory.residual_norm_growth with fan_gain=1). Means over 20 networks of
    # width 64; 20 % tolerance rejects the He law (1 + 2 alpha^2)^L, 18x larger here.
    depth, width, alpha, seeds = 10, 64, 0.5, 20
    x0, _ = vgcourse.data.gaussian_batch(batch=16, features=width, seed=0)
    forward = 0.0
    for seed in range(seeds):
        model = vgcourse.mlp(depth, width, activation="relu", init="lecun", residual=True,
                             branch_scale=alpha, seed=seed, dtype=torch.float64)
        h = x0
        with torch.no_grad():
            for block in model.hidden:
                h = block(h)
        forward += (h.pow(2).sum() / x0.pow(2).sum()).item() / seeds
    law = theory.residual_norm_growth(alpha, depth, fan_gain=1.0)[-1]
    assert law == pytest.approx((1 + alpha**2 / 2) ** depth)
    assert forward == pytest.approx(law, rel=0.2)


def test_zero_branch_gives_identity_jacobian():
    # alpha = 0 (or zero-initialised W2): every block is the identity, so the gradient reaches
    # every block with exactly the same norm.
    x, y = vgcourse.data.gaussian_batch(batch=8, features=16, seed=0)
    for model in (residual(12, 16, 0.0), residual(12, 16, 1.0, zero_init=True)):
        g = vgcourse.gradient_flow(model, x, y).activation_grad_norms
        assert max(g) / min(g) == pytest.approx(1.0, abs=1e-12, rel=0)


def test_path_counts_are_binomial():
    for depth in (1, 5, 30):
        counts = theory.path_length_counts(depth)
        assert sum(counts) == 2**depth
        assert counts == [math.comb(depth, k) for k in range(depth + 1)]
    assert theory.residual_norm_growth(0.5, 3) == pytest.approx([1, 1.5, 2.25, 3.375])


def test_path_gradients_shrink_by_sqrt2_alpha_per_branch():
    # Each branch multiplies the gradient by about sqrt(2)·alpha (He weights). Fitted over path
    # lengths 0..20 of a 20-block, width-64 network the rate came out within 3 % of it; 10 %
    # distinguishes sqrt(2)·alpha from alpha itself (a 41 % difference).
    depth, alpha = 20, 0.5
    x, y = vgcourse.data.gaussian_batch(batch=32, features=64, seed=0)
    norms = path_gradient_norms(residual(depth, 64, alpha), x, y, samples=6)
    ks = torch.arange(depth + 1, dtype=torch.float64)
    logs = torch.log(torch.tensor([norms[k] for k in range(depth + 1)], dtype=torch.float64))
    kc = ks - ks.mean()
    rate = math.exp(float((kc * (logs - logs.mean())).sum() / (kc * kc).sum()))
    assert rate == pytest.approx(math.sqrt(2) * alpha, rel=0.1)


def test_length_zero_path_is_the_skip_path_exactly():
    x, y = vgcourse.data.gaussian_batch(batch=8, features=16, seed=0)
    model = residual(6, 16, 0.7)
    norms = path_gradient_norms(model, x, y, lengths=[0])
    top = vgcourse.gradient_flow(model, x, y).activation_grad_norms[-1]
    assert norms[0] == pytest.approx(top, rel=1e-12)


def test_paths_reject_models_where_paths_are_not_defined():
    x, y = vgcourse.data.gaussian_batch(batch=8, features=16, seed=0)
    with pytest.raises(ValueError, match="residual"):
        path_gradient_norms(vgcourse.mlp(3, 16), x, y)
    with pytest.raises(ValueError, match="norm_position='post'"):
        path_gradient_norms(residual(3, 16, 1.0, norm="batch"), x, y)
    with pytest.raises(ValueError, match="lengths contains 4"):
        path_gradient_norms(residual(3, 16, 1.0), x, y, lengths=[4])


def test_input_gradients_are_per_example_after_freezing_statistics():
    x = torch.linspace(-2, 2, 64, dtype=torch.float64)[:, None]
    model = vgcourse.mlp(4, 16, activation="relu", init="he", norm="batch", in_features=1,
                         dtype=torch.float64)
    grads = input_gradients(model, x)
    assert not model.training
    h = 1e-6  # central differences on the frozen network, example by example
    with torch.no_grad():
        numeric = (model(x + h) - model(x - h))[:, 0] / (2 * h)
    assert torch.allclose(grads, numeric, rtol=1e-5, atol=1e-7)
    freeze_batch_statistics(model, x)
    bn = model.hidden[0].norm
    assert torch.allclose(bn.running_mean, model.hidden[0].linear(x).mean(0).detach())


def test_autocorrelation():
    t = torch.linspace(0, 1, 256, dtype=torch.float64)
    assert autocorrelation(torch.sin(2 * math.pi * t)) > 0.99
    noise = torch.randn(4096, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert abs(autocorrelation(noise)) < 0.05  # 3 standard errors of 1/sqrt(4096)
    with pytest.raises(ValueError, match="lag=3"):
        autocorrelation(torch.ones(3), lag=3)


def test_deep_plain_gradients_shatter_and_residual_ones_do_not():
    # Balduzzi et al. (2017), 16 Linear-BN-ReLU layers of width 64 on 256 inputs: measured
    # autocorrelations were -0.07..0.05 (plain) and 0.63-0.70 (residual, 8 blocks) over 4 seeds; the
    # thresholds 0.25 / 0.3 sit between the two.
    x = torch.linspace(-2, 2, 256, dtype=torch.float64)[:, None]
    common = dict(width=64, activation="relu", init="he", norm="batch", in_features=1,
                  dtype=torch.float64)
    plain = autocorrelation(input_gradients(vgcourse.mlp(16, **common), x))
    res = autocorrelation(input_gradients(vgcourse.mlp(8, residual=True, **common), x))
    shallow = autocorrelation(input_gradients(vgcourse.mlp(2, **common), x))
    assert abs(plain) < 0.25
    assert res > 0.3
    assert shallow > 0.9


def test_random_teacher_is_deterministic_and_balanced_enough():
    x, y = vgcourse.data.random_teacher(n=512, features=8, classes=4, seed=3)
    x2, y2 = vgcourse.data.random_teacher(n=512, features=8, classes=4, seed=3)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert x.shape == (512, 8) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert len(torch.unique(y)) == 4
    with pytest.raises(ValueError, match="classes=1"):
        vgcourse.data.random_teacher(classes=1)


def test_checks_accept_the_reference_and_name_the_slips():
    assert check("06-residual-growth", (1 + 0.5**2 / 2) ** 10)
    assert "LeCun" in check("06-residual-growth", 1.5**10).message
    assert "halves" in check("06-residual-growth", 1.25**10).message
    assert "keeps it" in check("06-residual-growth", 1.0625**10).message
    assert "compound" in check("06-residual-growth", 1 + 10 * 0.125).message
    assert "squared norm" in check("06-residual-growth", 1.125**5).message

    def block(x, w1, w2, alpha):
        return x + alpha * torch.relu(x @ w1.T) @ w2.T

    assert check("06-residual-block", block)
    assert "adds the input" in check("06-residual-block",
                                     lambda x, w1, w2, a: block(x, w1, w2, a) - x).message
    assert "x @ W.T" in check("06-residual-block",
                              lambda x, w1, w2, a: x + a * torch.relu(x @ w1) @ w2).message
    assert check("06-path-counts", lambda L: [math.comb(L, k) for k in range(L + 1)])
    assert "0 to L" in check("06-path-counts",
                             lambda L: [math.comb(L, k) for k in range(L)]).message
    assert not check("06-path-counts", lambda L: [1] * (L + 1))
