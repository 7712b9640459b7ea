"""Chapter 12, meta-learning: the gradient through an inner loop against hand-computed values."""

import math

import pytest
import torch
from torch import nn

from vgcourse import meta, theory

F64 = torch.float64


def _scalar_losses(lam, a, b):
    return (lambda t: 0.5 * lam * ((t - a) ** 2).sum(), lambda t: 0.5 * ((t - b) ** 2).sum())


def test_scalar_meta_gradient_by_hand():
    # λ = 2, α = 0.25, K = 2: each step multiplies θ − a by 1 − αλ = 0.5, so θ_2 = 0.25 (θ₀ = 1,
    # a = 0) and the meta-gradient is 0.5² · (θ_2 − b) = 0.25 · 0.25 = 0.0625 (b = 0).
    inner, outer = _scalar_losses(2.0, 0.0, 0.0)
    theta0 = torch.tensor([1.0], dtype=F64)
    got = meta.unrolled_metagradient(theta0, inner, outer, lr=0.25, steps=2)
    assert got.item() == pytest.approx(0.0625, rel=1e-14, abs=0)
    first = meta.unrolled_metagradient(theta0, inner, outer, lr=0.25, steps=2, first_order=True)
    assert first.item() == pytest.approx(0.25, rel=1e-14, abs=0)  # θ_2 − b, no factors
    zero = meta.unrolled_metagradient(theta0, inner, outer, lr=0.25, steps=0)
    assert zero.item() == 1.0  # θ₀ − b


def test_closed_form_matches_autograd_on_a_coupled_quadratic():
    h = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=F64)
    theta0 = torch.tensor([1.0, -1.0], dtype=F64)
    a = torch.tensor([0.3, 0.2], dtype=F64)
    b = torch.tensor([-1.0, 2.0], dtype=F64)
    want = theory.maml_quadratic_metagradient(h, theta0, a, b, 0.3, 5)
    got = meta.unrolled_metagradient(theta0, lambda t: 0.5 * (t - a) @ h @ (t - a),
                                     lambda t: 0.5 * ((t - b) ** 2).sum(), 0.3, 5)
    assert torch.allclose(got, want, rtol=1e-12, atol=0)


def test_inner_loop_factors_by_hand():
    assert theory.inner_loop_factors([1.0, 3.0], lr=1.0, steps=3) == [0.0, 8.0]
    assert theory.inner_loop_factors([4.0], lr=0.1, steps=2) == pytest.approx([0.36], rel=1e-12)


def test_closed_form_rejects_a_non_symmetric_hessian():
    h = torch.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=F64)
    v = torch.zeros(2, dtype=F64)
    with pytest.raises(ValueError, match="symmetric"):
        theory.maml_quadratic_metagradient(h, v, v, v, 0.1, 1)


def test_maml_norms_at_zero_steps_are_the_plain_query_gradient():
    net = meta.sine_network(hidden=8, seed=1)
    tasks = meta.sine_tasks(3, shots=4, seed=2)
    mean = [torch.zeros_like(p) for p in net.parameters()]
    for task in tasks:
        x, y = task.query
        grads = torch.autograd.grad(nn.functional.mse_loss(net(x), y), list(net.parameters()))
        mean = [m + g / len(tasks) for m, g in zip(mean, grads)]
    want = math.sqrt(sum(float((m**2).sum()) for m in mean))
    for first_order in (False, True):
        got = meta.maml_metagradient_norms(net, tasks, 0.1, [0], first_order=first_order)
        assert got[0] == pytest.approx(want, rel=1e-12, abs=0)


def test_maml_norms_one_unroll_serves_every_step_count():
    net = meta.sine_network(hidden=8, seed=0)
    tasks = meta.sine_tasks(2, shots=4, seed=0)
    together = meta.maml_metagradient_norms(net, tasks, 0.05, [1, 3])
    apart = [meta.maml_metagradient_norms(net, tasks, 0.05, [k])[0] for k in (1, 3)]
    assert together == pytest.approx(apart, rel=1e-12, abs=0)


def test_sine_tasks_follow_finn_et_al_ranges():
    tasks = meta.sine_tasks(20, shots=5, seed=3)
    for t in tasks:
        assert 0.1 <= t.amplitude <= 5.0 and 0.0 <= t.phase <= math.pi
        x, y = t.support
        assert x.shape == (5, 1) and float(x.abs().max()) <= 5.0
        assert torch.allclose(y, t.amplitude * torch.sin(x + t.phase), rtol=1e-12, atol=1e-14)
    again = meta.sine_tasks(20, shots=5, seed=3)
    assert all(torch.equal(t.query[0], u.query[0]) for t, u in zip(tasks, again))


def test_largest_curvature_of_a_linear_least_squares():
    # mse of w·x over x = 1, 2, 3: L = mean((w x − y)²), d²L/dw² = 2 mean(x²) = 2 · 14/3.
    net = nn.Linear(1, 1, bias=False).double()
    x = torch.tensor([[1.0], [2.0], [3.0]], dtype=F64)
    lam = meta.largest_curvature(net, (x, torch.zeros_like(x)), iterations=3)
    assert lam == pytest.approx(28 / 3, rel=1e-12)


@pytest.mark.parametrize(("call", "name"), [
    (lambda: meta.unrolled_metagradient(torch.zeros(1), sum, sum, lr=0.0, steps=1), "lr"),
    (lambda: meta.unrolled_metagradient(torch.zeros(1), sum, sum, lr=0.1, steps=-1), "steps"),
    (lambda: meta.maml_metagradient_norms(meta.sine_network(4), [], 0.1, [1]), "tasks"),
    (lambda: meta.maml_metagradient_norms(meta.sine_network(4), meta.sine_tasks(1), 0.1, []),
     "steps"),
    (lambda: meta.sine_tasks(0), "count"),
])
def test_errors_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
