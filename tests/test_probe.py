"""gradient_flow measured against laws that hold exactly."""

import copy
import math

import pytest
import torch

import vgcourse
from vgcourse import theory


def batch(width, n=16, seed=0):
    return vgcourse.data.gaussian_batch(batch=n, features=width, seed=seed)


@pytest.mark.parametrize("gain", [0.5, 0.9, 1.3])
def test_deep_linear_network_shrinks_by_exactly_the_gain(gain):
    depth, width = 25, 24
    model = vgcourse.mlp(depth, width, activation="identity", init="orthogonal", gain=gain,
                         dtype=torch.float64)
    flow = vgcourse.gradient_flow(model, *batch(width))
    predicted = theory.deep_linear_gradients(gain, depth, top=flow.activation_grad_norms[-1])
    for measured, law in zip(flow.activation_grad_norms, predicted):
        assert measured == pytest.approx(law, rel=1e-6)
    # hidden weight gradients: forward factor a^(l-1) times backward factor a^(L-l)
    hidden = flow.weight_grad_norms[:depth]
    assert max(hidden) / min(hidden) == pytest.approx(1.0, abs=1e-9, rel=0)


@pytest.mark.parametrize("seed", range(3))
def test_sigmoid_layer_passes_at_most_a_quarter_of_its_spectral_norm(seed):
    depth, width = 12, 32
    model = vgcourse.mlp(depth, width, activation="sigmoid", init="normal", std=0.5, seed=seed,
                         dtype=torch.float64)
    flow = vgcourse.gradient_flow(model, *batch(width, seed=seed))
    for layer, ratio in zip(model.hidden[1:], flow.layer_ratios()):
        bound = theory.layer_gradient_bound("sigmoid", torch.linalg.matrix_norm(
            layer.linear.weight, ord=2).item())
        assert ratio <= bound * (1 + 1e-12)
        assert bound == pytest.approx(0.25 * torch.linalg.matrix_norm(
            layer.linear.weight, ord=2).item())


def test_float32_underflows_where_float64_does_not():
    depth, width = 50, 16
    model = vgcourse.mlp(depth, width, activation="identity", init="orthogonal", gain=0.1,
                         dtype=torch.float64)
    x, y = batch(width)
    f64 = vgcourse.gradient_flow(model, x, y)
    f32 = vgcourse.gradient_flow(model, x, y, dtype=torch.float32)
    assert min(f64.activation_grad_norms) > 0
    assert f32.activation_grad_norms[0] == 0.0
    # where float32 is in its normal range it agrees with float64
    assert f32.activation_grad_norms[-5] == pytest.approx(f64.activation_grad_norms[-5], rel=1e-5)


def test_model_is_left_untouched():
    model = vgcourse.mlp(5, 8, activation="tanh", dtype=torch.float64)
    before = copy.deepcopy(model.state_dict())
    vgcourse.gradient_flow(model, *batch(8))
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    float_model = vgcourse.mlp(3, 8)
    vgcourse.gradient_flow(float_model, *batch(8))
    assert next(float_model.parameters()).dtype == torch.float32


def test_statistics_read_late_are_those_of_the_measurement():
    """The activation statistics are computed on first access, from the activations the
    measurement kept: changing the model in between changes nothing, and copies carry them."""
    import pickle

    x, y = batch(8, n=16)
    model = vgcourse.mlp(4, 8, activation="tanh", init="normal", std=3.0, dtype=torch.float64)
    late = vgcourse.gradient_flow(model, x, y)  # statistics not read yet
    first = model.hidden[0].linear
    h1 = torch.tanh(x.double() @ first.weight.detach().T + first.bias.detach())  # by hand
    with torch.no_grad():  # silence every layer: a recomputation would see no saturation
        for p in model.parameters():
            p.zero_()
    assert late.activation_std[0] == pytest.approx(float(h1.std()), rel=1e-12, abs=0)
    assert late.saturated_fraction[0] == float((1 - h1**2 < 0.05).double().mean())
    assert min(late.saturated_fraction) > 0.3
    again = pickle.loads(pickle.dumps(late))
    assert again == late and again.dead_fraction == late.dead_fraction
    fresh = vgcourse.gradient_flow(model, x, y)
    assert max(fresh.saturated_fraction) == 0.0 and max(fresh.activation_std) == 0.0


def test_dead_and_saturated_fractions():
    width = 16
    x, y = batch(width, n=32)
    dead = vgcourse.mlp(3, width, activation="relu", init="he", dtype=torch.float64)
    with torch.no_grad():
        dead.hidden[1].linear.bias.fill_(-100.0)  # every unit of layer 2 is off for every input
    flow = vgcourse.gradient_flow(dead, x, y)
    assert flow.dead_fraction[1] == 1.0 and flow.dead_fraction[0] < 1.0
    assert flow.saturated_fraction == [0.0, 0.0, 0.0]  # ReLU is not flagged `saturates`: below

    saturated = vgcourse.mlp(3, width, activation="tanh", init="normal", std=20.0,
                             dtype=torch.float64)
    flow = vgcourse.gradient_flow(saturated, x, y)
    assert min(flow.saturated_fraction[1:]) > 0.9
    calm = vgcourse.mlp(3, width, activation="tanh", init="normal", std=0.01, dtype=torch.float64)
    assert max(vgcourse.gradient_flow(calm, x, y).saturated_fraction) == 0.0


@pytest.mark.parametrize("name", list(vgcourse.ACTIVATIONS))
def test_saturates_flag_follows_the_derivative_at_both_tails(name):
    """The probe counts saturated units only for activations flagged ``saturates``, and reports 0
    for the others (ReLU's zero above). The flag must say what the derivative does: φ' falls
    under 5 % of sup|φ'| on *both* tails (sigmoid, tanh), not just one (ReLU, ELU, SiLU, GELU
    keep slope 1 on the right)."""
    act = vgcourse.get_activation(name)
    tails = act.derivative(torch.tensor([-30.0, 30.0], dtype=torch.float64)).abs()
    both = bool((tails < vgcourse.probe.SATURATION_THRESHOLD * act.derivative_sup).all())
    assert act.saturates == both


def test_cross_entropy_and_callable_losses():
    model = vgcourse.mlp(3, 8, out_features=4, dtype=torch.float64)
    x = torch.randn(10, 8, dtype=torch.float64)
    labels = torch.arange(10) % 4
    flow = vgcourse.gradient_flow(model, x, labels, loss="cross_entropy")
    assert flow.depth == 3 and flow.loss > 0
    # the reference is written out here, not torch's cross_entropy: mean over the batch of
    # log Σ_k exp(z_k) − z_label, and its gradient at every hidden layer by autograd
    hs, h = [], x
    for layer in model.hidden:
        h = layer(h)
        hs.append(h)
    logits = model.output(h)
    by_hand = (logits.logsumexp(dim=1) - logits[torch.arange(10), labels]).mean()
    norms = [float(g.norm()) for g in torch.autograd.grad(by_hand, hs)]
    assert flow.loss == pytest.approx(by_hand.item(), rel=1e-12)
    assert flow.activation_grad_norms == pytest.approx(norms, rel=1e-10)
    # a callable loss is used as given: this one is half the cross-entropy, so are the gradients
    half = vgcourse.gradient_flow(model, x, labels, loss=lambda z, t: 0.5 * (
        z.logsumexp(dim=1) - z[torch.arange(len(t)), t]).mean())
    assert half.activation_grad_norms == pytest.approx([n / 2 for n in norms], rel=1e-10)


def test_bad_arguments():
    model = vgcourse.mlp(2, 4)
    x, y = batch(4)
    with pytest.raises(ValueError, match="loss='hinge'"):
        vgcourse.gradient_flow(model, x, y, loss="hinge")
    with pytest.raises(ValueError, match="x has 16 examples but y has 3"):
        vgcourse.gradient_flow(model, x, y[:3])
    with pytest.raises(ValueError, match="must be tensors"):
        vgcourse.gradient_flow(model, x.tolist(), y)
    with pytest.raises(ValueError, match="no `hidden` ModuleList"):
        vgcourse.gradient_flow(torch.nn.Linear(4, 1), x, y)


def test_product_log_singular_values_resolves_what_an_svd_of_the_product_cannot():
    """Known answer: W_l = U_l D U_{l-1}ᵀ telescopes to U_L D^L U_0ᵀ, singular values d_i^l."""
    g = torch.Generator().manual_seed(0)
    n, depth = 6, 40
    d = torch.tensor([3.0, 1.0, 0.3, 0.1, 1e-2, 1e-3], dtype=torch.float64)
    us = [torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))[0]
          for _ in range(depth + 1)]
    weights = [us[k + 1] @ torch.diag(d) @ us[k].T for k in range(depth)]
    logs = vgcourse.probe.product_log_singular_values(weights)
    assert logs.shape == (depth, n)
    exact = torch.arange(1, depth + 1, dtype=torch.float64)[:, None] * d.log()
    assert torch.allclose(logs, exact, rtol=1e-10, atol=1e-9)
    # the explicit product's SVD stops at round-off, about 1e-16 of the largest (3^40)
    naive = torch.linalg.svdvals(torch.linalg.multi_dot(weights[::-1]))
    assert naive[-1].log() > exact[-1, -1] + 100


def test_product_log_singular_values_beyond_float64_range():
    q = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(1),
                                    dtype=torch.float64))[0]
    logs = vgcourse.probe.product_log_singular_values([1e-3 * q] * 200)  # 1e-600
    exact = torch.arange(1, 201, dtype=torch.float64)[:, None] * math.log(1e-3)
    assert torch.allclose(logs, exact.expand(200, 4), rtol=1e-12)


def test_product_log_singular_values_match_high_precision_arithmetic():
    mpmath = pytest.importorskip("mpmath")
    g = torch.Generator().manual_seed(3)
    n, depth = 8, 30
    weights = [torch.randn(n, n, generator=g, dtype=torch.float64) / math.sqrt(n)
               for _ in range(depth)]
    with mpmath.workdps(80):
        product = mpmath.eye(n)
        for w in weights:
            product = mpmath.matrix(w.tolist()) * product
        exact = sorted((float(mpmath.log(s)) for s in mpmath.svd_r(product, compute_uv=False)),
                       reverse=True)
    logs = vgcourse.probe.product_log_singular_values(weights)[-1]
    assert exact[-1] < math.log(1e-20)  # far below what an SVD of the product resolves
    # absolute on the logs: float64 QR loses ~1e-15 relative per layer, summed over the layers
    assert torch.allclose(logs, torch.tensor(exact, dtype=torch.float64), rtol=0, atol=1e-10)


@pytest.mark.parametrize("bad", [[], [torch.ones(2, 3)], [torch.eye(2), torch.eye(3)]])
def test_product_log_singular_values_rejects_bad_matrices(bad):
    with pytest.raises(ValueError, match="matrices"):
        vgcourse.probe.product_log_singular_values(bad)
