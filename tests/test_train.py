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


# ---------------------------------------- the same numbers as torch.optim and the plain formulas
class _SometimesIdle(torch.nn.Module):
    """A read-out whose second weight gets a gradient only on odd calls, so that parameters
    reach an optimiser with different step counts (Adam's bias correction is per parameter)."""

    def __init__(self, dtype):
        super().__init__()
        g = torch.Generator().manual_seed(5)
        self.a = torch.nn.Parameter(torch.randn(8, 1, generator=g, dtype=dtype))
        self.b = torch.nn.Parameter(torch.randn(8, 1, generator=g, dtype=dtype))
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        out = torch.tanh(x @ self.a)
        return out + x @ self.b if self.calls % 2 else out


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name, kwargs", [
    ("sgd", {}), ("sgd", {"momentum": 0.9}), ("sgd", {"momentum": 0.9, "weight_decay": 1e-2}),
    ("adam", {}), ("adam", {"weight_decay": 1e-2}),
])
def test_optimisers_match_torch_optim_bit_for_bit(dtype, name, kwargs):
    # train's optimisers replace torch.optim's for speed; they must give the very same weights
    from vgcourse.training import _Adam, _Sgd

    x, y = _regression()
    ours, theirs = _SometimesIdle(dtype), _SometimesIdle(dtype)
    mine = (_Sgd if name == "sgd" else _Adam)(list(ours.parameters()), lr=0.05, **kwargs)
    reference = (torch.optim.SGD if name == "sgd" else torch.optim.Adam)(
        theirs.parameters(), lr=0.05, **kwargs)
    for step in range(12):
        for model, opt in ((ours, mine), (theirs, reference)):
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x.to(dtype)), y.to(dtype)).backward()
            opt.step()
        assert ours.b.grad is None or step % 2 == 0  # b is idle on every other step
        for p, q in zip(ours.parameters(), theirs.parameters()):
            assert torch.equal(p, q), (name, kwargs, step)
    assert not torch.equal(ours.a, _SometimesIdle(dtype).a)  # the weights did move


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_recorded_evidence_is_the_plain_formulas_bit_for_bit(dtype):
    # The reference: torch.optim.SGD and each quantity computed tensor by tensor, as written in
    # History's docstring. train computes them all at once; the numbers must not change.
    x, y = _regression()
    model = vgcourse.mlp(3, 16, activation="tanh", init="xavier", in_features=8, dtype=dtype)
    reference = vgcourse.mlp(3, 16, activation="tanh", init="xavier", in_features=8,
                             dtype=dtype)
    history = vgcourse.train(model, (x, y), steps=15, lr=0.05, momentum=0.9, seed=4,
                             show_progress=False)
    params = list(reference.parameters())
    weights = [m.weight for m in reference.modules() if isinstance(m, torch.nn.Linear)]
    opt = torch.optim.SGD(params, lr=0.05, momentum=0.9)
    generator = torch.Generator().manual_seed(4)
    for step in range(15):
        idx = torch.randint(len(x), (64,), generator=generator)
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(reference(x[idx].to(dtype)), y[idx].to(dtype))
        loss.backward()
        norm = float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params)))
        layers = [float(w.grad.double().norm()) for w in weights]
        before = [w.detach().clone() for w in weights]
        opt.step()
        ratios = [float((w.detach() - b).norm() / (b.norm() + 1e-30))
                  for w, b in zip(weights, before)]
        assert history.loss[step] == loss.item()
        assert history.grad_norm[step] == norm
        assert history.layer_grad_norms[step] == layers
        assert history.update_ratios[step] == ratios
    assert len(set(history.grad_norm)) == 15  # fifteen different steps were compared


class _MixedPrecision(torch.nn.Module):
    """A float32 layer feeding a float64 one, and a convolution (a weight that is not a layer's
    of History's per-layer lists)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(1, 1, 3, padding=1).double()
        self.low = torch.nn.Linear(8, 16)
        self.high = torch.nn.Linear(16, 1).double()

    def forward(self, x):
        x = self.conv(x.unsqueeze(1)).squeeze(1)
        return self.high(torch.tanh(self.low(x.float())).double())


def test_recorded_ratios_keep_each_layers_dtype_and_skip_other_weights():
    torch.manual_seed(0)
    model = _MixedPrecision()
    weights = [model.low.weight, model.high.weight]
    seen = []

    def remember(step, net):  # the weights after each step
        seen.append([w.detach().clone() for w in weights])

    start = [w.detach().clone() for w in weights]
    history = vgcourse.train(model, _regression(), steps=5, lr=0.05, callback=remember,
                             show_progress=False)
    for step, after in enumerate(seen):
        before = start if step == 0 else seen[step - 1]
        expected = [float((a - b).norm() / (b.norm() + 1e-30)) for a, b in zip(after, before)]
        assert history.update_ratios[step] == expected  # float32, then float64, bit for bit
    assert len(history.layer_grad_norms[0]) == 2  # the convolution is not a layer here
    conv_only = torch.nn.Sequential(torch.nn.Unflatten(1, (1, 8)), torch.nn.Conv1d(1, 1, 3),
                                    torch.nn.Flatten()).double()
    x = torch.randn(32, 8, dtype=torch.float64)
    history = vgcourse.train(conv_only, (x, x[:, 1:7]), steps=3, lr=0.05, show_progress=False)
    assert history.layer_grad_norms == [[], [], []] and history.update_ratios == [[], [], []]
    assert all(g > 0 for g in history.grad_norm)


@pytest.mark.parametrize("kwargs, name", [
    ({"clip": -1.0}, "clip"), ({"clip_mode": "angle"}, "clip_mode"), ({"lr": 0.0}, "lr"),
    ({"steps": 0}, "steps"), ({"optimizer": "lbfgs"}, "optimizer"),
])
def test_bad_arguments_name_themselves(kwargs, name):
    args = {"steps": 1, "lr": 0.1, **kwargs}
    with pytest.raises(ValueError, match=name):
        vgcourse.train(_model(), _regression(), show_progress=False, **args)
