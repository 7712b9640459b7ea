"""Tests written against mutants that survived ``make mutation`` (tools/mutation.py): each pins a
behaviour the other unit tests left free. The mutant each one kills is named in its docstring."""

import math

import pytest
import torch
from torch import nn

import vgcourse
from vgcourse.exploring import MAX_FRAMES, Explorer
from vgcourse.normalization import BatchNorm, fit_gradient_growth


# -- activations ----------------------------------------------------------------------------------
def test_leaky_relu_gain_is_pytorchs():
    """Kills ``2 / (1 + a²)`` → ``2 · (1 + a²)``, ``3 / (1 + a²)``, ``2 / (1 − a²)`` and
    ``2 / (2 + a²)`` in the registry: the gain is PyTorch's calculate_gain("leaky_relu", a)."""
    act = vgcourse.get_activation("leaky_relu")
    slope = float(act.derivative(torch.tensor([-1.0], dtype=torch.float64)))
    assert act.gain == pytest.approx(nn.init.calculate_gain("leaky_relu", slope), rel=1e-12, abs=0)


@pytest.mark.parametrize("name", list(vgcourse.ACTIVATIONS))
def test_derivative_at_zero_is_autograds(name):
    """At the kink x = 0 the registry takes the side autograd takes (ReLU′(0) = 0, SELU′(0) =
    λα): kills ``x > 0`` → ``x >= 0`` in ReLU's derivative and ``h > 0`` → ``h >= 0`` in SELU's
    derivative from the output."""
    act = vgcourse.get_activation(name)
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(act.function(x).sum(), x)
    assert torch.equal(act.derivative(x.detach()), grad)
    if act.derivative_from_output is not None:
        assert torch.equal(act.derivative_from_output(act.function(x.detach())), grad)


# -- init -----------------------------------------------------------------------------------------
def test_orthogonal_init_is_haar_not_lapacks_sign_convention():
    """Without the sign fix q·sign(diag r), Householder QR makes W[0, 0] = −|a₁₁|/‖a₁‖ ≤ 0 on every
    draw; Haar-distributed, it is positive half the time. 400 draws: the share is 0.5 ± 0.025
    (one binomial standard deviation), so [0.4, 0.6] is four of them. Kills the dropped factor."""
    positive = 0
    for seed in range(400):
        lin = nn.Linear(4, 4).double()
        vgcourse.initialize(lin, "orthogonal", generator=torch.Generator().manual_seed(seed))
        positive += bool(lin.weight[0, 0] > 0)
    assert 0.4 <= positive / 400 <= 0.6


def test_one_by_one_layer_is_initialised():
    """Kills ``weight.numel() == 0`` → ``== 1`` (a 1×1 layer skipped as if it were empty)."""
    lin = vgcourse.initialize(nn.Linear(1, 1).double(), "constant")
    assert lin.weight.item() == 1.0 and lin.bias.item() == 0.0


def test_bias_std_draws_biases_around_zero():
    """Kills ``bias.normal_(0.0, …)`` → ``normal_(1.0, …)``: the mean of 300 biases of std 0.3
    is within 4 · 0.3/√300 ≈ 0.07 of zero."""
    lin = vgcourse.initialize(nn.Linear(10, 300).double(), "he", bias_std=0.3,
                              generator=torch.Generator().manual_seed(0))
    bias = lin.bias
    assert abs(bias.mean().item()) < 4 * 0.3 / math.sqrt(300)


# -- exploring ------------------------------------------------------------------------------------
def test_full_product_up_to_max_frames_and_not_beyond():
    """A grid of exactly MAX_FRAMES (60) settings is swept as a full product, 61 is not: kills
    ``count = 1`` → ``2``, ``<=`` → ``<`` and MAX_FRAMES 60 → 61."""
    assert MAX_FRAMES == 60

    def fn(a, b):
        raise AssertionError("not drawn")

    assert Explorer(fn, {"a": list(range(6)), "b": list(range(10))}).full_product
    assert not Explorer(fn, {"a": list(range(61)), "b": [0]}).full_product


# -- normalization --------------------------------------------------------------------------------
def test_batch_norm_accepts_momentum_one():
    """momentum = 1 (running statistics = the last batch's) is allowed, as in PyTorch: kills
    ``momentum <= 1`` → ``< 1``."""
    bn = BatchNorm(3, momentum=1.0).double()
    x = torch.randn(8, 3, dtype=torch.float64)
    bn(x)
    assert torch.allclose(bn.running_mean, x.mean(0), rtol=0, atol=1e-12)


def test_fit_gradient_growth_without_skipping():
    """Exact geometric norms, nothing skipped: ‖g_l‖² = 1.2^−l, so the fitted per-layer factor
    is 1.2. Kills ``arange(1, len + 1)`` → ``arange(1, len − 1)`` (only the default
    skips hid the shorter layer axis)."""
    norms = [1.2 ** (-k / 2) for k in range(8)]
    assert fit_gradient_growth(norms, skip_first=0, skip_last=0) == pytest.approx(1.2, rel=1e-12)


# -- doctor ---------------------------------------------------------------------------------------
def test_doctor_activation_moments_are_the_layer_outputs():
    """The doctor's activation mean and std of each hidden layer are those of the layer's output
    (tanh(W h + b)) over every unit-example, the std with Bessel's correction, to float64
    round-off. Kills ``count / (count − 1)`` → ``count · (count − 1)`` and ``count + 1``."""
    model = vgcourse.mlp(3, 16, activation="tanh", init="xavier", dtype=torch.float64)
    x, y = vgcourse.data.gaussian_batch(batch=32, features=16, seed=0)
    report = vgcourse.diagnose(model, x, y)
    h = x
    for layer, row in zip(model.hidden, report.layers):
        h = layer(h).detach()
        assert row.activation_mean == pytest.approx(h.mean().item(), rel=0, abs=1e-12)
        assert row.activation_std == pytest.approx(h.std().item(), rel=1e-12, abs=0)
