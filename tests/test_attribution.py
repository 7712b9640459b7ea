"""vgcourse.attribution against hand-computed references (chapter 13)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from vgcourse import theory
from vgcourse.attribution import (
    gradient_x_input,
    integrated_gradients,
    path_autocorrelation,
    riemann_error_bound,
    saliency,
    smoothgrad,
)
from vgcourse.residual import autocorrelation


def _linear(weight, bias=0.0):
    model = nn.Linear(len(weight), 1).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([weight], dtype=torch.float64))
        model.bias.fill_(bias)
    return model


def _sigmoid_unit(weight):
    unit = nn.Sequential(nn.Linear(len(weight), 1, bias=False), nn.Sigmoid()).double()
    with torch.no_grad():
        unit[0].weight.copy_(torch.tensor([weight], dtype=torch.float64))
    return unit


X = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]], dtype=torch.float64)


def test_saliency_of_a_linear_model_is_its_weight_at_every_input():
    model = _linear([2.0, -1.0, 0.5], bias=7.0)
    expected = torch.tensor([[2.0, -1.0, 0.5]] * 2, dtype=torch.float64)
    assert torch.equal(saliency(model, X), expected)


def test_saliency_of_a_quadratic_by_hand():
    class Square(nn.Module):
        def forward(self, x):  # f(x) = Σ x_i², gradient 2x
            return (x**2).sum(dim=1, keepdim=True)

    assert torch.equal(saliency(Square(), X), 2 * X)


def test_saliency_picks_the_target_column_per_example():
    model = nn.Linear(3, 2, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 2.0, 3.0], [-4.0, 5.0, -6.0]]))
    per_example = saliency(model, X, target=torch.tensor([1, 0]))
    assert torch.equal(per_example[0], torch.tensor([-4.0, 5.0, -6.0], dtype=torch.float64))
    assert torch.equal(per_example[1], torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert torch.equal(saliency(model, X, target=1)[1], per_example[0])


def test_gradient_x_input_of_a_linear_model_is_w_times_x():
    model = _linear([2.0, -1.0, 0.5], bias=7.0)
    expected = torch.tensor([[2.0, 2.0, 0.25], [0.0, -3.0, -0.5]], dtype=torch.float64)
    assert torch.equal(gradient_x_input(model, X), expected)


def test_integrated_gradients_of_a_linear_model_is_exact():
    model = _linear([2.0, -1.0, 0.5], bias=-3.0)
    baseline = torch.tensor([0.5, 0.5, 0.5], dtype=torch.float64)
    got = integrated_gradients(model, X, baseline=baseline, steps=3)
    expected = (X - baseline) * torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)
    assert torch.allclose(got, expected, rtol=0, atol=1e-15)


def test_integrated_gradients_of_a_quadratic_is_exact_under_the_midpoint_rule():
    # f = Σ x_i²: along the path from 0 the gradient 2αx is linear in α, so the midpoint rule
    # is exact at any step count: IG_i = x_i · x_i = x_i² (sums to f(x) − f(0)).
    class Square(nn.Module):
        def forward(self, x):
            return (x**2).sum(dim=1, keepdim=True)

    got = integrated_gradients(Square(), X, steps=1)
    assert torch.allclose(got, X**2, rtol=0, atol=1e-15)


@pytest.mark.parametrize("steps", [4, 16, 64])
def test_completeness_within_the_midpoint_bound_derived_from_the_step_count(steps):
    """Σ IG = f(x) − f(0) up to max|g''|/(24 m²), g'' = s² σ'' with s = w·x, |σ''| ≤ 1/(6√3)."""
    weight = [1.5, -2.0, 3.0]
    unit = _sigmoid_unit(weight)
    x = torch.tensor([[1.0, -0.5, 0.8]], dtype=torch.float64)
    s = float(x[0] @ torch.tensor(weight, dtype=torch.float64))  # 4.9
    tolerance = riemann_error_bound(s**2 / (6 * math.sqrt(3)), steps)
    moved = float(unit(x).detach()) - 0.5
    gap = abs(float(integrated_gradients(unit, x, steps=steps).sum()) - moved)
    assert gap <= tolerance
    # the bound is not vacuous: it is below the quantity being checked
    assert tolerance < moved


def test_completeness_error_falls_as_one_over_m_squared():
    unit = _sigmoid_unit([1.5, -2.0, 3.0])
    x = torch.tensor([[1.0, -0.5, 0.8]], dtype=torch.float64)
    moved = float(unit(x).detach()) - 0.5
    gaps = [abs(float(integrated_gradients(unit, x, steps=m).sum()) - moved) for m in (32, 64)]
    assert 3.5 < gaps[0] / gaps[1] < 4.5


def test_gradient_x_input_share_of_a_sigmoid_unit_matches_the_closed_form():
    weight = [1.0, 2.0, -0.5]
    x = torch.tensor([[2.0, 1.0, 0.0]], dtype=torch.float64)  # z = 4
    for gain in (0.25, 1.0, 3.0):
        unit = _sigmoid_unit([gain * w for w in weight])
        z = 4 * gain
        share = float(gradient_x_input(unit, x).sum()) / (float(unit(x).detach()) - 0.5)
        # by hand: z σ'(z) / (σ(z) − ½)
        sig = 1 / (1 + math.exp(-z))
        assert share == pytest.approx(z * sig * (1 - sig) / (sig - 0.5), rel=1e-12)
        assert theory.gradient_x_input_share(z) == pytest.approx(share, rel=1e-12)


def test_gradient_x_input_share_limits():
    assert theory.gradient_x_input_share(0.0) == 1.0
    assert theory.gradient_x_input_share(-3.0) == theory.gradient_x_input_share(3.0)
    # saturation: 2 z e^(−z) for large z
    assert theory.gradient_x_input_share(30.0) == pytest.approx(60 * math.exp(-30), rel=1e-6)
    with pytest.raises(ValueError, match="z="):
        theory.gradient_x_input_share(float("nan"))


def test_smoothgrad_without_noise_is_the_saliency_and_of_a_linear_model_its_weight():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    assert torch.allclose(smoothgrad(model, X, noise=0.0, samples=3), saliency(model, X))
    linear = _linear([2.0, -1.0, 0.5])
    assert torch.allclose(smoothgrad(linear, X, samples=5), saliency(linear, X))


def test_smoothgrad_averages_the_gradient_over_noise_of_the_stated_size():
    # f = Σ x_i³ has gradient 3x², whose mean under x + ε, ε ~ N(0, σ²), is 3(x² + σ²):
    # σ = 0.5 × the example's range; 20000 samples give the mean to about 1 %.
    class Cube(nn.Module):
        def forward(self, x):
            return (x**3).sum(dim=1, keepdim=True)

    x = torch.tensor([[0.0, 1.0, 2.0]], dtype=torch.float64)
    sigma = 0.5 * 2.0
    got = smoothgrad(Cube(), x, samples=20000, noise=0.5, seed=3)
    assert torch.allclose(got, 3 * (x**2 + sigma**2), rtol=0, atol=0.15)


def test_smoothgrad_is_deterministic_given_its_seed():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)).double()
    assert torch.equal(smoothgrad(model, X, seed=1), smoothgrad(model, X, seed=1))
    assert not torch.equal(smoothgrad(model, X, seed=1), smoothgrad(model, X, seed=2))


def test_path_autocorrelation_reduces_to_chapter_6s_for_one_feature():
    g = torch.Generator().manual_seed(0)
    values = torch.randn(50, generator=g, dtype=torch.float64).cumsum(0)
    assert path_autocorrelation(values[:, None]) == pytest.approx(autocorrelation(values))


def test_path_autocorrelation_by_hand_and_ignores_constant_features():
    # centred [-1, 1, -1, 1] has lag-1 products −1 three times over a sum of squares of 4
    maps = torch.tensor([[0.0, 5.0], [2.0, 5.0], [0.0, 5.0], [2.0, 5.0]])
    assert path_autocorrelation(maps) == pytest.approx(-0.75)
    smooth = torch.linspace(0, 1, 100)[:, None].repeat(1, 3)
    assert path_autocorrelation(smooth) > 0.95


@pytest.mark.parametrize(("call", "argument"), [
    (lambda: saliency(object(), X), "model="),
    (lambda: saliency(_linear([1.0, 1.0, 1.0]), X[0]), "x="),
    (lambda: saliency(_linear([1.0, 1.0, 1.0]), X.long()), "x="),
    (lambda: saliency(_linear([1.0, 1.0, 1.0]), X * float("nan")), "x has"),
    (lambda: saliency(nn.Linear(3, 2).double(), X), "target=None"),
    (lambda: saliency(nn.Linear(3, 2).double(), X, target=2), "target=2"),
    (lambda: saliency(nn.Linear(3, 2).double(), X, target=-1), "target=-1"),
    (lambda: saliency(nn.Linear(3, 2).double(), X, target=torch.tensor([0])), "target has"),
    (lambda: smoothgrad(_linear([1.0, 1.0, 1.0]), X, samples=0), "samples="),
    (lambda: smoothgrad(_linear([1.0, 1.0, 1.0]), X, noise=-0.1), "noise="),
    (lambda: smoothgrad(_linear([1.0, 1.0, 1.0]), X, seed=-1), "seed="),
    (lambda: integrated_gradients(_linear([1.0, 1.0, 1.0]), X, steps=0), "steps="),
    (lambda: integrated_gradients(_linear([1.0, 1.0, 1.0]), X,
                                  baseline=torch.zeros(2)), "baseline="),
    (lambda: integrated_gradients(_linear([1.0, 1.0, 1.0]), X, baseline=[0, 0, 0]),
     "baseline="),
    (lambda: riemann_error_bound(-1.0, 4), "second_derivative_bound="),
    (lambda: path_autocorrelation(torch.zeros(5)), "maps="),
    (lambda: path_autocorrelation(torch.zeros(1, 3)), "maps has"),
    (lambda: path_autocorrelation(torch.ones(4, 3)), "constant"),
])
def test_errors_name_the_argument(call, argument):
    with pytest.raises((ValueError, TypeError), match=argument):
        call()
