"""The activation registry: closed-form derivatives and their suprema."""

import math

import pytest
import torch

import vgcourse
from vgcourse.activations import ACTIVATIONS, get_activation

REQUIRED = [
    "identity", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "selu", "gelu", "silu",
]


def test_registry_has_the_required_activations():
    assert set(REQUIRED) <= set(ACTIVATIONS)


@pytest.mark.parametrize("name", REQUIRED)
def test_derivative_matches_autograd(name):
    act = get_activation(name)
    # avoid the kink at 0, where autograd picks one side
    x = torch.linspace(-6, 6, 1201, dtype=torch.float64)
    x = x[x.abs() > 1e-3].requires_grad_(True)
    (grad,) = torch.autograd.grad(act.function(x).sum(), x)
    assert torch.allclose(act.derivative(x.detach()), grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", REQUIRED)
def test_module_matches_function(name):
    act = get_activation(name)
    x = torch.linspace(-5, 5, 101, dtype=torch.float64)
    assert torch.allclose(act.module().to(torch.float64)(x), act.function(x))


def _normal_pdf(x):
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("sigmoid", 0.25),
        ("tanh", 1.0),
        ("relu", 1.0),
        ("leaky_relu", 1.0),
        ("prelu", 1.0),
        ("elu", 1.0),
        ("identity", 1.0),
        ("selu", 1.0507009873554805 * 1.6732632423543772),  # scale·alpha, the left limit at 0
        # GELU' = Φ(x) + x φ(x) peaks where its derivative (2 − x²) φ(x) vanishes: x = √2
        ("gelu", 0.5 * (1 + math.erf(1.0)) + math.sqrt(2) * _normal_pdf(math.sqrt(2))),
    ],
)
def test_derivative_sup_is_computed_right(name, expected):
    # the grid step is 1e-4 and every maximum is at a smooth peak or at 0 (on the grid)
    assert get_activation(name).derivative_sup == pytest.approx(expected, rel=1e-7)


def test_silu_derivative_sup_matches_its_stationary_point():
    # SiLU'' = σ'(x)(2 + x(1 − 2σ(x))) vanishes at x ≈ 2.3994, found here by bisection
    def second(x):
        s = 1 / (1 + math.exp(-x))
        return s * (1 - s) * (2 + x * (1 - 2 * s))

    lo, hi = 2.0, 3.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if second(mid) > 0 else (lo, mid)
    s = 1 / (1 + math.exp(-lo))
    assert get_activation("silu").derivative_sup == pytest.approx(s * (1 + lo * (1 - s)), rel=1e-7)


def test_get_activation_rejects_unknown_names():
    with pytest.raises(ValueError, match="activation='softsign'.*expected one of"):
        get_activation("softsign")


def test_get_activation_passes_entries_through():
    entry = ACTIVATIONS["tanh"]
    assert vgcourse.get_activation(entry) is entry


@pytest.mark.parametrize("name", REQUIRED)
def test_derivative_from_output_agrees_with_the_derivative(name):
    act = get_activation(name)
    if act.derivative_from_output is None:
        assert name in ("gelu", "silu")  # not monotone: h does not determine x
        return
    x = torch.linspace(-6, 6, 1201, dtype=torch.float64)
    assert torch.allclose(act.derivative_from_output(act.function(x)), act.derivative(x),
                          rtol=1e-9, atol=1e-12)


def test_prelu_is_he_et_al_2015s_rectifier_with_a_learned_slope():
    act = get_activation("prelu")
    x = torch.tensor([-4.0, -1.0, 0.0, 2.0, 3.5], dtype=torch.float64)
    # φ(x) = x for x > 0 and 0.25·x otherwise, at PyTorch's initial slope 0.25
    assert act.function(x).tolist() == [-1.0, -0.25, 0.0, 2.0, 3.5]
    assert act.derivative(x).tolist() == [0.25, 0.25, 0.25, 1.0, 1.0]
    # He et al.'s gain sqrt(2/(1 + a²)) = sqrt(32/17) at a = 1/4
    assert act.gain == pytest.approx(math.sqrt(32 / 17), rel=1e-15)
    assert act.piecewise_linear and act.learned and not act.saturates
    module = act.module()
    slopes = [p for p in module.parameters()]
    assert len(slopes) == 1 and slopes[0].requires_grad and slopes[0].item() == 0.25
    # the slope is learned: one gradient step on it changes φ on the negative side only
    out = module(torch.tensor([-2.0, 3.0])).sum()
    out.backward()
    assert slopes[0].grad.item() == -2.0  # ∂φ(x)/∂a = min(0, x)
    assert [a.name for a in ACTIVATIONS.values() if a.learned] == ["prelu"]


@pytest.mark.parametrize("name", sorted(vgcourse.ACTIVATIONS))
def test_each_entry_recognises_its_own_module(name):
    """Issue 13: the doctor and the monitor name activation modules through the registry, so a
    new activation is one entry. A learned slope (PReLU) or the identity is not named."""
    from vgcourse.activations import activation_for_module, is_activation_module

    entry = vgcourse.ACTIVATIONS[name]
    module = entry.module()
    expected = None if entry.learned or isinstance(module, torch.nn.Identity) else name
    assert activation_for_module(module) == expected
    assert is_activation_module(module) == (expected is not None)


def test_a_module_with_other_settings_is_not_given_the_entrys_derivative():
    from vgcourse.activations import activation_for_module, is_activation_module

    assert activation_for_module(torch.nn.LeakyReLU(0.2)) is None
    assert is_activation_module(torch.nn.LeakyReLU(0.2))  # still measured, just not judged
    assert activation_for_module(torch.nn.LeakyReLU(0.0)) == "relu"
    assert activation_for_module(torch.nn.ReLU(inplace=True)) == "relu"
    assert activation_for_module(torch.nn.ELU(alpha=2.0)) is None
    assert not is_activation_module(torch.nn.Linear(2, 2))
