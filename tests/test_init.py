"""Initialisation schemes: the variance each one promises, and zero biases."""

import math

import pytest
import torch
from torch import nn

import vgcourse

FAN_IN, FAN_OUT = 400, 300


def layer():
    return nn.Linear(FAN_IN, FAN_OUT).double()


@pytest.mark.parametrize(
    "scheme, variance",
    [
        ("lecun", 1 / FAN_IN),
        ("xavier", 2 / (FAN_IN + FAN_OUT)),
        ("he", 2 / FAN_IN),
        ("default", 1 / (3 * FAN_IN)),  # uniform on ±1/sqrt(fan_in)
    ],
)
def test_weight_variance(scheme, variance):
    lin = vgcourse.initialize(layer(), scheme, generator=torch.Generator().manual_seed(0))
    # 120,000 draws: the sample variance has relative standard error sqrt(2/N) ≈ 0.4 %
    assert lin.weight.var().item() == pytest.approx(variance, rel=0.03)
    # the sample mean's standard error is sqrt(variance / N): four of them, absolute
    assert lin.weight.mean().item() == pytest.approx(
        0.0, abs=4 * math.sqrt(variance / 120_000), rel=0)


def test_normal_uses_std_and_gain_scales():
    lin = vgcourse.initialize(layer(), "normal", std=0.1, gain=3.0)
    assert lin.weight.std().item() == pytest.approx(0.3, rel=0.03)


@pytest.mark.parametrize("scheme", ["normal", "lecun", "xavier", "he", "orthogonal"])
def test_named_schemes_zero_the_biases(scheme):
    lin = vgcourse.initialize(layer(), scheme, std=0.1 if scheme == "normal" else None)
    assert torch.count_nonzero(lin.bias) == 0


def test_default_keeps_pytorch_biases():
    lin = vgcourse.initialize(layer(), "default")
    assert lin.bias.abs().max() <= 1 / math.sqrt(FAN_IN)
    assert torch.count_nonzero(lin.bias) > 0


@pytest.mark.parametrize("shape", [(64, 64), (32, 64), (64, 32)])
def test_orthogonal_with_gain_is_a_times_q(shape):
    lin = nn.Linear(shape[1], shape[0]).double()
    vgcourse.initialize(lin, "orthogonal", gain=0.7)
    w = lin.weight
    gram = w @ w.T if shape[0] <= shape[1] else w.T @ w
    # orthogonal up to float64 round-off of QR (entries O(1), ~1e-15); absolute, since the
    # off-diagonal target is 0 where a relative tolerance means nothing
    assert torch.allclose(gram, 0.49 * torch.eye(min(shape), dtype=torch.float64), rtol=0,
                          atol=1e-12)


def test_initialize_reaches_every_linear_and_returns_the_model():
    model = nn.Sequential(nn.Linear(5, 5), nn.Tanh(), nn.Sequential(nn.Linear(5, 3)))
    assert vgcourse.initialize(model, "he") is model
    assert all(torch.count_nonzero(m.bias) == 0 for m in model.modules()
               if isinstance(m, nn.Linear))


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="scheme='kaiming'.*expected one of"):
        vgcourse.initialize(layer(), "kaiming")
    with pytest.raises(ValueError, match="std=None"):
        vgcourse.initialize(layer(), "normal")
    with pytest.raises(ValueError, match="std=0.1 is only used with scheme='normal'"):
        vgcourse.initialize(layer(), "he", std=0.1)
    with pytest.raises(ValueError, match="gain=-1"):
        vgcourse.initialize(layer(), "he", gain=-1)


def test_initialize_and_theory_check_a_scheme_the_same_way():
    """One check (init.get_scheme) for the scheme and its std, so both give the same errors."""
    calls = [lambda **kw: vgcourse.initialize(layer(), **kw),
             lambda **kw: vgcourse.theory.init_variance(fan_in=4, **kw)]
    for call in calls:
        with pytest.raises(ValueError, match="scheme='kaiming' is not supported; expected one "
                                             "of 'default', 'normal'"):
            call(scheme="kaiming")
        with pytest.raises(ValueError, match="std=None is not allowed with scheme='normal'"):
            call(scheme="normal")
        with pytest.raises(ValueError, match="std=0.1 is only used with scheme='normal', not "
                                             "scheme='he'"):
            call(scheme="he", std=0.1)
        with pytest.raises(ValueError, match=r"std=1e\+200 is not allowed"):
            call(scheme="normal", std=1e200)


def test_constant_scheme_sets_every_weight_to_one_over_fan_in():
    lin = vgcourse.initialize(layer(), "constant", gain=2.0)
    assert torch.all(lin.weight == 2.0 / FAN_IN)
    assert torch.all(lin.bias == 0)


def test_bias_std_draws_gaussian_biases():
    lin = vgcourse.initialize(nn.Linear(10, 40_000).double(), "lecun", bias_std=0.3,
                              generator=torch.Generator().manual_seed(0))
    # 40,000 draws: relative standard error of the sample std ≈ sqrt(1/(2N)) ≈ 0.35 %
    assert lin.bias.std().item() == pytest.approx(0.3, rel=0.02)
    with pytest.raises(ValueError, match="bias_std=0.1 is not allowed with scheme='default'"):
        vgcourse.initialize(layer(), "default", bias_std=0.1)
    with pytest.raises(ValueError, match="bias_std=-1"):
        vgcourse.initialize(layer(), "he", bias_std=-1)


@pytest.mark.parametrize("scheme, kwargs", [("default", {}), ("lecun", {}), ("xavier", {}),
                                            ("he", {"gain": 0.5}), ("orthogonal", {}),
                                            ("constant", {}), ("normal", {"std": 0.05})])
def test_init_sigmas_are_what_initialize_draws(scheme, kwargs):
    """theory.init_sigmas: σ_w² = fan_in·Var(W) and σ_b² = Var(b), measured on 120,000 weights
    (the sample variance's relative standard error is sqrt(2/N) ≈ 0.4 % for Gaussian draws,
    less for uniform ones; orthogonal is exact up to the mean; 3 % is seven of them) and 300
    biases (the default's biases: U(±1/√400), relative error of the variance of 300 uniform
    draws ≈ sqrt(0.8/300) ≈ 5 %, so 20 % is four standard errors). Both sides come from
    vgcourse.init.SCHEME_TABLE: this checks each law's variance against what it draws."""
    sigma_w, sigma_b = vgcourse.theory.init_sigmas(scheme, FAN_IN, FAN_OUT, **kwargs)
    std, gain = kwargs.get("std"), kwargs.get("gain")
    lin = vgcourse.initialize(layer(), scheme, gain=gain, std=std,
                              generator=torch.Generator().manual_seed(0))
    assert FAN_IN * lin.weight.var().item() == pytest.approx(sigma_w**2, rel=0.03)
    if scheme == "default":
        assert sigma_b**2 == pytest.approx(1 / (3 * FAN_IN))
        assert lin.bias.var().item() == pytest.approx(sigma_b**2, rel=0.2)
    else:
        assert sigma_b == 0.0 and torch.all(lin.bias == 0)


# -- fans, uniform bounds and LSUV (chapter 3) ---------------------------------------------------
@pytest.mark.parametrize("shape", [(7, 5), (32, 16, 3, 3), (8, 4, 5), (6, 2, 3, 4, 5)])
def test_fans_are_pytorchs(shape):
    weight = torch.empty(shape)
    assert vgcourse.init.fan_in_and_fan_out(weight) == \
        torch.nn.init._calculate_fan_in_and_fan_out(weight)


def test_conv_fan_in_is_k_squared_c_by_hand():
    # a 3×3 kernel over 16 channels sums 16·9 = 144 inputs; 32 output channels: 32·9 = 288
    assert vgcourse.init.fan_in_and_fan_out(torch.nn.Conv2d(16, 32, 3).weight) == (144, 288)
    with pytest.raises(ValueError, match="weight has shape"):
        vgcourse.init.fan_in_and_fan_out(torch.zeros(5))


def test_he_conv_layer_keeps_twice_the_input_variance():
    # W ~ N(0, 2/(k²C)): a linear conv output has variance k²C · Var(W) · E[x²] = 2 E[x²]
    conv = torch.nn.Conv2d(16, 32, 3, bias=False).double()
    fan_in, _ = vgcourse.init.fan_in_and_fan_out(conv.weight)
    with torch.no_grad():
        conv.weight.normal_(0, (2 / fan_in) ** 0.5, generator=torch.Generator().manual_seed(0))
    x = torch.randn(64, 16, 12, 12, generator=torch.Generator().manual_seed(1),
                    dtype=torch.float64)
    assert conv(x).var().item() == pytest.approx(2.0, rel=0.05)


def test_lsuv_brings_every_layer_to_unit_variance_and_lands_on_theory():
    net = vgcourse.mlp(12, 256, activation="tanh", init="orthogonal", dtype=torch.float64)
    x, _ = vgcourse.data.gaussian_batch(batch=256, features=256, seed=0)
    counts = vgcourse.init.lsuv_(net, x, tol=1e-3)
    assert len(counts) == 13 and max(counts) <= 10
    pre = vgcourse.preactivation_moments(net, x)
    assert max(abs(q - 1) for q in pre) < 1e-3 * 1.01
    # tanh: σ_w² E[tanh(z)²] = 1, so n·Var(W) of a deep layer is 1/E[tanh²] ≈ 2.536
    deep = net.hidden[8].linear.weight.detach()
    sigma_w2 = 256 * float((deep**2).mean())
    assert sigma_w2 == pytest.approx(vgcourse.theory.lsuv_sigma_w("tanh") ** 2, rel=0.03)
    assert 2.5 < sigma_w2 < 2.58


def test_lsuv_rejects_a_model_without_layers():
    with pytest.raises(ValueError, match="no nn.Linear"):
        vgcourse.init.lsuv_(torch.nn.Tanh(), torch.zeros(2, 2))
