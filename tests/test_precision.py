"""float16 / bfloat16 range, rounding and loss scaling, run in the real formats on the CPU."""

import pytest
import torch

import vgcourse
from vgcourse import precision


def test_format_limits():
    f16, bf16 = precision.format_limits("float16"), precision.format_limits(torch.bfloat16)
    assert f16.max == 65504.0
    assert f16.smallest_normal == 2.0**-14 and f16.smallest_subnormal == 2.0**-24
    assert bf16.smallest_subnormal == 2.0**-133 and bf16.eps == 2.0**-7


def test_underflow_and_overflow_of_a_cast():
    # IEEE round-to-nearest-even: below half the smallest subnormal a value becomes 0; from
    # max + half an ulp (65520 for float16) it becomes inf. bfloat16 has float32's range.
    half_tiny = 2.0**-25
    values = torch.tensor([0.99 * half_tiny, half_tiny, 1.01 * half_tiny, 65519.0, 65520.0],
                          dtype=torch.float64)
    cast = values.to(torch.float16).double().tolist()
    assert cast[:3] == [0.0, 0.0, 2.0**-24]
    assert cast[3] == 65504.0 and cast[4] == float("inf")
    assert torch.isfinite(torch.tensor(1e30).to(torch.bfloat16))
    assert torch.tensor(1e-38).to(torch.bfloat16) != 0


def test_power_of_two_scaling_is_exact():
    # Multiplying by 2^k only changes the exponent, so rounding commutes with it while both
    # sides stay in the normal range: equality, not closeness.
    x = torch.logspace(-3, 1, 200, dtype=torch.float64)
    for k in range(1, 11):
        assert torch.equal((x * 2.0**k).to(torch.float16).double(),
                           x.to(torch.float16).double() * 2.0**k)


def _vanishing_net():
    model = vgcourse.mlp(20, 64, activation="tanh", init="lecun", gain=0.5, dtype=torch.float64)
    x, y = vgcourse.data.gaussian_batch(batch=64, features=64, seed=0)
    return model, x, y


def test_float64_path_is_plain_autograd():
    model, x, y = _vanishing_net()
    grads = precision.gradients_in_precision(model, x, y, torch.float64)
    loss = torch.nn.functional.mse_loss(model(x), y)
    weights = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)]
    for ours, ref in zip(grads, torch.autograd.grad(loss, weights)):
        assert torch.allclose(ours, ref, rtol=1e-12, atol=0)


def test_loss_scaling_recovers_underflowed_gradients():
    # The chapter's tanh net, sigma_w^2 = 0.25: entries ~1e-7 straddle float16's floor.
    model, x, y = _vanishing_net()
    ref = precision.gradients_in_precision(model, x, y, torch.float64)

    def lost(dtype, scale):
        low = precision.gradients_in_precision(model, x, y, dtype, loss_scale=scale)
        under = sum(precision.underflow_fraction(r, g) for r, g in zip(ref, low)) / len(ref)
        over = sum(precision.overflow_fraction(g) for g in low) / len(low)
        return under, over

    assert lost("float16", 1.0)[0] > 0.5
    assert lost("float16", 2.0**12) == (pytest.approx(0.0, abs=0.01, rel=0), 0.0)
    assert lost("float16", 2.0**24)[1] > 0.5  # too large a scale overflows instead
    assert lost("bfloat16", 1.0) == (0.0, 0.0)


def _relu_net():
    model = vgcourse.mlp(20, 64, activation="relu", init="lecun", gain=2.0, dtype=torch.float64)
    x, y = vgcourse.data.gaussian_batch(batch=64, features=64, seed=0)
    return model, x, y


def test_float64_gates_reproduce_float64_gradients():
    model, x, y = _relu_net()
    ref = precision.gradients_in_precision(model, x, y, torch.float64)
    forced = precision.gradients_with_gates(model, x, y, precision.relu_gates(model, x))
    assert all(torch.equal(a, b) for a, b in zip(ref, forced))


def test_bfloat16_zeros_are_flipped_relu_gates_not_underflow():
    # The chapter's ReLU net: bfloat16 has float32's range, so entries of size 1e-5..1e3
    # cannot underflow; every entry it returns as 0 is also 0 in a float64 backward pass that
    # uses bfloat16's on/off pattern of the ReLUs.
    model, x, y = _relu_net()
    ref = precision.gradients_in_precision(model, x, y, torch.float64)
    low = precision.gradients_in_precision(model, x, y, torch.bfloat16)
    gates64, gates16 = precision.relu_gates(model, x), precision.relu_gates(model, x, "bfloat16")
    assert any(bool((a != b).any()) for a, b in zip(gates64, gates16))
    forced = precision.gradients_with_gates(model, x, y, gates16)
    lost = 0
    for r, lo, f in zip(ref, low, forced):
        zero = (lo == 0) & (r != 0)
        lost += int(zero.sum())
        assert bool((f[zero] == 0).all())
        if zero.any():
            assert float(r[zero].abs().min()) > 1e20 * precision.format_limits(
                "bfloat16").smallest_normal  # twenty decades above the underflow range
    assert lost > 0
    with pytest.raises(ValueError, match="patterns"):
        precision.gradients_with_gates(model, x, y, gates16[:3])


@pytest.mark.parametrize("scale", [2.0**4, 2.0**8, 2.0**12])
def test_clipping_before_unscale_clips_at_tau_over_scale(scale):
    # GradScaler on the CPU with float16 autocast: clip_grad_norm_ after unscale_ caps the
    # true gradient at tau; before it, the scaled gradient S*g is capped at tau, so the step
    # uses a gradient of norm tau/S (scales small enough that S*g stays finite in float16).
    # torch's factor is tau/(norm + 1e-6): relative 1e-5.
    model = vgcourse.mlp(3, 16, activation="tanh", init="xavier", in_features=64)
    x, y = vgcourse.data.gaussian_batch(batch=64, features=64, seed=0)
    tau = 0.1
    norm, right = precision.amp_clipped_norms(model, x, y, tau, scale=scale)
    norm2, wrong = precision.amp_clipped_norms(model, x, y, tau, scale=scale,
                                               unscale_first=False)
    assert norm > tau and norm2 == pytest.approx(norm, rel=1e-6)
    assert right == pytest.approx(tau, rel=1e-5)
    assert wrong == pytest.approx(tau / scale, rel=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="dtype='float8'"):
        precision.format_limits("float8")
    with pytest.raises(ValueError, match="must match"):
        precision.underflow_fraction(torch.ones(3), torch.ones(2))
    model, x, y = _vanishing_net()
    with pytest.raises(ValueError, match="loss_scale"):
        precision.gradients_in_precision(model, x, y, "float16", loss_scale=0.0)
