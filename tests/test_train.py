"""The training loop: what it records, divergence reported not raised, and the clipping laws."""

import math

import pytest
import torch

import vgcourse
from vgcourse import theory


def _regression(seed=0, n=128, features=8):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g, dtype=torch.float64)
    y = x @ torch.randn(features, 1, generator=g, dtype=torch.float64)
    return x, y


def _model(depth=2, width=16, **kwargs):
    return vgcourse.mlp(depth, width, activation="tanh", init="xavier", in_features=8,
                        dtype=torch.float64, **kwargs)


def test_history_has_one_entry_per_step_and_learns():
    model = _model()
    history = vgcourse.train(model, _regression(), steps=60, lr=0.05, show_progress=False)
    assert not history.diverged
    for series in (history.loss, history.grad_norm, history.layer_grad_norms,
                   history.update_ratios, history.clipped_grad_norm, history.clip_cosine):
        assert len(series) == 60
    assert len(history.layer_grad_norms[0]) == 3  # two hidden layers and the read-out
    assert sum(history.loss[-10:]) < 0.5 * sum(history.loss[:10])


def test_without_clipping_the_clip_records_are_the_identity():
    history = vgcourse.train(_model(), _regression(), steps=10, lr=0.05, show_progress=False)
    assert history.clipped_grad_norm == history.grad_norm
    assert history.clip_cosine == [1.0] * 10


def test_divergence_is_reported_not_raised():
    model = _model(depth=4)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    history = vgcourse.train(model, _regression(), steps=200, lr=50.0, show_progress=False)
    assert history.diverged
    assert history.diverged_at == len(history.loss) + 1  # stopped at the first inf/NaN step
    assert all(math.isfinite(v) for v in history.loss)


def test_norm_clipping_keeps_the_direction_and_caps_the_norm():
    # Pascanu et al. (2013): g <- g min(1, tau/||g||). In float64 the cosine is 1 up to
    # rounding (a few ulp, so 1e-12); torch's factor tau/(||g|| + 1e-6) is matched by
    # theory.clipped_norm to float64 rounding of a norm (relative 1e-12).
    tau = 0.05
    history = vgcourse.train(_model(), _regression(), steps=30, lr=0.05, clip=tau,
                             show_progress=False)
    assert any(g > tau for g in history.grad_norm)  # the law is exercised, not vacuous
    for raw, clipped, cos in zip(history.grad_norm, history.clipped_grad_norm,
                                 history.clip_cosine):
        assert cos == pytest.approx(1.0, abs=1e-12, rel=0)
        assert clipped == pytest.approx(theory.clipped_norm(raw, tau), rel=1e-12)
        assert clipped <= tau


def test_sgd_step_length_is_lr_times_the_clipped_norm():
    # Plain SGD moves the parameters by exactly lr * g_clipped; relative 1e-10 allows for the
    # float64 subtraction of nearly equal parameter vectors.
    model, lr, tau = _model(), 0.1, 0.02
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    history = vgcourse.train(model, _regression(), steps=1, lr=lr, clip=tau,
                             show_progress=False)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert float((after - before).norm()) == pytest.approx(lr * history.clipped_grad_norm[0],
                                                           rel=1e-10)


def test_value_clipping_bounds_entries_and_turns_the_gradient():
    tau, seen = 0.01, []

    def largest_entry(step, model):
        seen.append(max(float(p.grad.abs().max()) for p in model.parameters()))

    history = vgcourse.train(_model(), _regression(), steps=20, lr=0.05, clip=tau,
                             clip_mode="value", callback=largest_entry, show_progress=False)
    assert max(seen) <= tau
    assert min(history.clip_cosine) < 0.99  # the direction changed on at least one step


def test_normalize_mode_gives_every_step_norm_tau():
    # Normalised gradient descent: g <- tau g/||g|| on every step, short gradients stretched.
    # Float64 rescaling: the norm is tau to rounding (relative 1e-12), the direction is kept.
    tau = 5.0
    history = vgcourse.train(_model(), _regression(), steps=20, lr=0.01, clip=tau,
                             clip_mode="normalize", show_progress=False)
    assert any(g < tau for g in history.grad_norm)  # some gradients were stretched
    for clipped, cos in zip(history.clipped_grad_norm, history.clip_cosine):
        assert clipped == pytest.approx(tau, rel=1e-12)
        assert cos == pytest.approx(1.0, abs=1e-12, rel=0)


@pytest.mark.parametrize("kwargs, name", [
    ({"clip": -1.0}, "clip"), ({"clip_mode": "angle"}, "clip_mode"), ({"lr": 0.0}, "lr"),
    ({"steps": 0}, "steps"), ({"optimizer": "lbfgs"}, "optimizer"),
])
def test_bad_arguments_name_themselves(kwargs, name):
    args = {"steps": 1, "lr": 0.1, **kwargs}
    with pytest.raises(ValueError, match=name):
        vgcourse.train(_model(), _regression(), show_progress=False, **args)
