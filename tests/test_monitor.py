"""The training-time monitor: numbers checked by hand, hooks gone on exit, the run untouched."""

import copy
import math

import matplotlib

matplotlib.use("Agg")  # tests only; never set this when executing notebooks
import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

import vgcourse
from vgcourse import Monitor
from vgcourse.plots import describe_figure, plot_monitor

F = nn.functional
D = torch.float64


def _net(activation=nn.Tanh, seed=0):
    """Linear 3 → 4, activation, Linear 4 → 2, in float64."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), activation(), nn.Linear(4, 2)).to(D)


def _batch(n=8, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=g, dtype=D), torch.arange(n) % 2


def _loss(model, x, y):
    return F.cross_entropy(model(x), y)


def _sgd_steps(model, optimizer, x, y, steps):
    for _ in range(steps):
        loss = _loss(model, x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def test_one_sgd_step_has_update_ratio_lr_times_grad_over_weight():
    model, (x, y) = _net(), _batch()
    lr = 0.3
    # the reference, by hand: gradients of a copy, their norms and the weights' norms
    twin = copy.deepcopy(model)
    _loss(twin, x, y).backward()
    weights = [twin[0].weight, twin[2].weight]
    grad = [float(w.grad.norm()) for w in weights]
    norm = [float(w.detach().norm()) for w in weights]
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    with Monitor(model, optimizer) as monitor:
        _sgd_steps(model, optimizer, x, y, 1)
    assert monitor.steps == [0]
    assert monitor.layers == ["0", "2"]
    for j in range(2):
        assert monitor.grad_norm[0][j] == pytest.approx(grad[j], rel=1e-12)
        assert monitor.grad_to_data[0][j] == pytest.approx(grad[j] / norm[j], rel=1e-12)
        assert monitor.update_to_data[0][j] == pytest.approx(lr * grad[j] / norm[j], rel=1e-12)


def test_the_update_is_the_step_taken_not_lr_times_the_gradient():
    """With momentum β the second update is lr·(g₁ + β·g₀): measured, not assumed."""
    model, (x, y) = _net(), _batch()
    lr, beta = 0.1, 0.9
    twin = copy.deepcopy(model)
    w0 = twin[0].weight.detach().clone()
    _loss(twin, x, y).backward()
    g0 = twin[0].weight.grad.clone()
    with torch.no_grad():
        for p in twin.parameters():
            p -= lr * p.grad  # the first momentum step is plain SGD (the buffer starts at g)
    twin.zero_grad()
    w1 = twin[0].weight.detach().clone()
    _loss(twin, x, y).backward()
    g1 = twin[0].weight.grad.clone()
    expected = [lr * float(g0.norm()) / float(w0.norm()),
                lr * float((g1 + beta * g0).norm()) / float(w1.norm())]
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=beta)
    with Monitor(model, optimizer) as monitor:
        _sgd_steps(model, optimizer, x, y, 2)
    assert [r[0] for r in monitor.update_to_data] == pytest.approx(expected, rel=1e-10)
    assert monitor.grad_norm[1][0] == pytest.approx(float(g1.norm()), rel=1e-10)


def test_a_frozen_layer_has_update_ratio_zero():
    model, (x, y) = _net(), _batch()
    frozen = torch.optim.SGD(model[2].parameters(), lr=0.5)  # layer 0 is not in the optimiser
    with Monitor(model, frozen) as monitor:
        _sgd_steps(model, frozen, x, y, 3)
    assert [r[0] for r in monitor.update_to_data] == [0.0, 0.0, 0.0]
    assert all(r[0] > 0 for r in monitor.grad_norm)  # it has a gradient, it is not updated
    assert all(r[1] > 0 for r in monitor.update_to_data)
    # the same with a parameter group whose learning rate is 0
    model = _net()
    groups = torch.optim.SGD([{"params": model[0].parameters(), "lr": 0.0},
                              {"params": model[2].parameters()}], lr=0.5)
    with Monitor(model, groups) as monitor:
        _sgd_steps(model, groups, x, y, 1)
    assert monitor.update_to_data[0][0] == 0.0


def test_an_update_by_hand_is_measured_with_step():
    model, (x, y) = _net(), _batch()
    lr = 0.2
    w = model[2].weight.detach().clone()
    with Monitor(model, every=2) as monitor:
        for _ in range(3):
            loss = _loss(model, x, y)
            for p in model.parameters():
                p.grad = None
            loss.backward()
            if len(monitor.steps) == 0:
                g = model[2].weight.grad.clone()
            with torch.no_grad():
                for p in model.parameters():
                    p -= lr * p.grad
            monitor.step()
    assert monitor.steps == [0, 2]
    assert monitor.update_to_data[0][1] == pytest.approx(lr * float(g.norm()) / float(w.norm()),
                                                         rel=1e-12)
    with pytest.raises(RuntimeError, match="optimizer.step"):
        Monitor(model, torch.optim.SGD(model.parameters(), lr=0.1)).step()


def test_every_records_steps_zero_k_2k():
    model, (x, y) = _net(), _batch()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with Monitor(model, optimizer, every=3) as monitor:
        _sgd_steps(model, optimizer, x, y, 8)
    assert monitor.steps == [0, 3, 6]
    assert len(monitor.histograms) == len(monitor.saturated) == 3
    assert "8 of 8" not in repr(monitor) and "3 recorded steps of 8" in repr(monitor)


def test_hooks_are_removed_on_exit_even_after_an_error():
    model, (x, y) = _net(), _batch()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def hooks():
        modules = sum(len(m._forward_hooks) + len(m._forward_pre_hooks)
                      for m in model.modules())
        return modules + len(optimizer._optimizer_step_pre_hooks) + len(
            optimizer._optimizer_step_post_hooks)

    assert hooks() == 0
    with pytest.raises(KeyboardInterrupt):
        with Monitor(model, optimizer) as monitor:
            assert hooks() > 0
            _sgd_steps(model, optimizer, x, y, 1)
            raise KeyboardInterrupt  # the reader stops the loop
    assert hooks() == 0
    _sgd_steps(model, optimizer, x, y, 2)  # no longer recorded
    assert monitor.steps == [0]


def test_the_run_and_the_random_state_are_untouched():
    """Dropout draws from the global generator: with and without the monitor the same masks,
    the same parameters, the same gradients and the same generator state afterwards."""
    def run(watch):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))
        model = model.to(D)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x, y = _batch(16)
        monitor = Monitor(model, optimizer, every=2)
        if watch:
            monitor.start()
        _sgd_steps(model, optimizer, x, y, 5)
        monitor.stop()
        return model, torch.random.get_rng_state()

    (plain, state), (watched, watched_state) = run(False), run(True)
    for p, q in zip(plain.parameters(), watched.parameters()):
        assert torch.equal(p, q) and torch.equal(p.grad, q.grad)
    assert torch.equal(state, watched_state)


def test_saturated_and_dead_fractions_are_the_probes_definitions():
    """Layer 1's pre-activations are set by hand; the fractions are counted by hand."""
    model, (x, _) = _net(nn.Tanh), _batch(6)
    x = torch.tensor([[-3.0], [-1.0], [0.0], [0.5], [2.0], [4.0]], dtype=D)
    model[0] = nn.Linear(1, 4).to(D)
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0], [0.1], [-2.0], [0.0]]))
        model[0].bias.copy_(torch.tensor([0.0, 0.0, 0.0, 0.5]))
    u = (x @ model[0].weight.T + model[0].bias).detach()  # 6 × 4
    # tanh' = 1 − tanh² < 0.05 · 1  ⇔  |tanh(u)| > √0.95 ⇔ |u| > atanh(√0.95) ≈ 2.178
    edge = math.atanh(math.sqrt(0.95))
    saturated = float((u.abs() > edge).double().mean())
    assert saturated == pytest.approx(5 / 24)  # u = -3, 4 (unit 0); 6, -4, -8 (unit 2)
    y = torch.zeros(6, dtype=torch.long)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with Monitor(model, optimizer) as monitor:
        _sgd_steps(model, optimizer, x, y, 1)
    assert monitor.activations == ["1"] and monitor.activation_kinds == {"1": "tanh"}
    assert monitor.saturated[0][0] == pytest.approx(saturated, abs=1e-15)
    assert monitor.dead[0][0] == 0.0  # tanh' is never exactly 0
    h = torch.tanh(u)
    assert monitor.activation_mean[0][0] == pytest.approx(float(h.mean()), rel=1e-12)
    assert monitor.activation_std[0][0] == pytest.approx(float(h.std()), rel=1e-12)


def test_a_reused_activation_is_measured_per_call():
    """One ReLU after fc1 and after fc2; fc2's units are all dead, fc1's none."""
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.out = nn.Linear(3, 4), nn.Linear(4, 4), nn.Linear(4, 2)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.out(self.act(self.fc2(self.act(self.fc1(x)))))

    torch.manual_seed(0)
    model = Shared().to(D)
    with torch.no_grad():
        model.fc1.weight.copy_(torch.eye(4, 3))
        model.fc1.bias.fill_(10.0)  # every unit on for every example
        model.fc2.bias.fill_(-1e3)  # every unit off for every example
    x, y = _batch()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with Monitor(model, optimizer) as monitor:
        _sgd_steps(model, optimizer, x, y, 1)
    assert monitor.activations == ["act", "act (call 2)"]
    assert monitor.dead[0] == [0.0, 1.0]
    assert monitor.layers == ["fc1", "fc2", "out"]
    assert monitor.grad_norm[0][0] == 0.0 and monitor.update_to_data[0][0] == 0.0


def test_fractions_agree_with_the_doctor_at_the_same_batch():
    model = vgcourse.mlp(4, 16, activation="sigmoid", in_features=3, out_features=2, seed=0,
                         dtype=D)
    x, y = _batch(32)
    report = vgcourse.diagnose(model, x, y, loss_fn="cross_entropy")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with Monitor(model, optimizer) as monitor:
        _sgd_steps(model, optimizer, x, y, 1)
    doctor = [r.saturated_fraction for r in report.layers if r.activation_calls]
    assert monitor.saturated[0] == pytest.approx(doctor, abs=1e-15)
    assert len(monitor.layers) == len(report.layers) == 5
    assert sorted(monitor.layers) == sorted(r.name for r in report.layers)
    assert monitor.grad_norm[0] == pytest.approx(
        [r.grad_norm for r in report.layers], rel=1e-10)


def test_an_evaluation_forward_does_not_replace_the_training_batch():
    model, (x, y) = _net(nn.ReLU), _batch()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with Monitor(model, optimizer) as monitor:
        loss = _loss(model, x, y)
        optimizer.zero_grad()
        loss.backward()
        with torch.no_grad():
            model(torch.full((5, 3), -1e3, dtype=D))  # every unit off: would read as dead
        optimizer.step()
    expected = float((x @ model[0].weight.T + model[0].bias > 0).any(dim=0).double().mean())
    assert 1 - monitor.dead[0][0] == pytest.approx(expected)  # from the training batch


def test_histograms_are_densities_of_the_values_seen():
    model, (x, y) = _net(nn.ReLU), _batch(50)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with Monitor(model, optimizer, bins=5) as monitor:
        _sgd_steps(model, optimizer, x, y, 1)
    first = _net(nn.ReLU)[0]  # the same weights, before the step
    h = torch.relu(x @ first.weight.T + first.bias).detach()
    edges, density = monitor.histogram_at(0)["1"]
    lo, hi = float(h.min()), float(h.max())
    assert edges.tolist() == pytest.approx([lo + (hi - lo) * k / 5 for k in range(6)])
    counts = [int(((h >= edges[k]) & (h < edges[k + 1])).sum()) for k in range(5)]
    counts[-1] += int((h == hi).sum())  # the maximum falls in the last bin
    width = (hi - lo) / 5
    assert density.tolist() == pytest.approx([c / (h.numel() * width) for c in counts])
    assert float((density * width).sum()) == pytest.approx(1.0)
    grad_edges, grad_density = monitor.histogram_at(0, gradients=True)["1"]
    assert len(grad_edges) == 6 and float((grad_density * (grad_edges[1] - grad_edges[0])
                                           ).sum()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="step=3 was not recorded"):
        monitor.histogram_at(3)


def test_attention_and_recurrent_parameters_are_grouped_as_the_doctor_groups_them():
    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(4, 4, batch_first=True)
            self.attn = nn.MultiheadAttention(4, 1, batch_first=True)
            self.out = nn.Linear(4, 2)

        def forward(self, x):
            h, _ = self.rnn(x)
            a, _ = self.attn(h, h, h)
            return self.out(a[:, -1])

    torch.manual_seed(0)
    model = Tiny()
    x, y = torch.randn(3, 5, 4), torch.tensor([0, 1, 0])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with Monitor(model, optimizer) as monitor:
        _sgd_steps(model, optimizer, x, y, 2)
    assert monitor.layers == ["rnn.l0", "attn.q", "attn.k", "attn.v", "attn.out_proj", "out"]
    assert all(0 < r < 1 for r in monitor.update_to_data[1])  # Adam's steps, measured


def test_dashboard_draws_every_layer_with_the_guide_line():
    model = vgcourse.mlp(3, 8, in_features=3, out_features=2, seed=0, dtype=D)
    x, y = _batch(16)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with Monitor(model, optimizer, every=2) as monitor:
        _sgd_steps(model, optimizer, x, y, 6)
    fig = plot_monitor(monitor, title="test")
    try:
        update, grads, units, *hists = [a for a in fig.axes if a.get_label() != "<colorbar>"]
        assert len(hists) == 2 and hists[1].get_title() == "activation histograms at step 4"
        assert len(update.get_lines()) == 4 + 1  # four layers and the 1e-3 guide
        assert update.get_lines()[-1].get_ydata()[0] == 1e-3
        assert len(grads.get_lines()) == 4 and len(hists[0].get_lines()) == 3
        text = describe_figure(fig)
        assert "update-to-data ratio" in text and "1e-3 rule of thumb" in text
    finally:
        plt.close(fig)
    fig = monitor.plot(steps=[2], histograms="gradients")
    try:
        assert fig.axes[3].get_title() == "gradient histograms at step 2"
    finally:
        plt.close(fig)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(model="net"), TypeError, "model must be"),
    (dict(optimizer="sgd"), TypeError, "optimizer must be"),
    (dict(every=0), ValueError, "every=0"),
    (dict(every=2.5), ValueError, "every=2.5"),
    (dict(bins=1), ValueError, "bins=1"),
])
def test_bad_arguments_name_themselves(kwargs, error, match):
    args = dict(model=_net(), optimizer=None, every=1, bins=10) | kwargs
    with pytest.raises(error, match=match):
        Monitor(**args)


def test_models_it_cannot_monitor_are_refused():
    with pytest.raises(ValueError, match="no trainable parameters"):
        Monitor(nn.Sequential(nn.ReLU()))
    with pytest.raises(ValueError, match="lazy"):
        Monitor(nn.Sequential(nn.LazyLinear(2)))
    monitor = Monitor(_net())
    with pytest.raises(ValueError, match="recorded no step"):
        plot_monitor(monitor)
    model, (x, y) = _net(), _batch()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with Monitor(model, optimizer) as monitor:
        _sgd_steps(model, optimizer, x, y, 1)
        with pytest.raises(RuntimeError, match="already attached"):
            monitor.start()
    with pytest.raises(ValueError, match="histograms='weights'"):
        plot_monitor(monitor, histograms="weights")
    with pytest.raises(ValueError, match="steps="):
        plot_monitor(monitor, steps=[0, 0, 0, 0])


def test_histograms_skip_values_that_are_not_finite():
    """An exploding run's last steps hold inf and NaN: binned over the finite values only."""
    monitor = Monitor(_net(), bins=2)
    values = torch.tensor([0.0, 1.0, 3.0, math.inf, math.nan, -math.inf], dtype=D)
    found = monitor._histograms({"a": values, "b": torch.full((6,), math.nan, dtype=D)})
    edges, density = found["a"]
    assert edges.tolist() == [0.0, 1.5, 3.0]
    assert density.tolist() == pytest.approx([2 / (3 * 1.5), 1 / (3 * 1.5)])
    assert all(math.isnan(v) for v in found["b"][1])  # nothing to bin


def test_a_sweep_over_learning_rate_and_gain_has_a_frame_per_setting_from_its_own_run():
    """Chapter 8's panel in miniature: the monitor's update-to-data ratios and output
    histograms over learning rate × gain, as a static sweep.

    Every grid point gets a frame whose alt text names its setting and the 1e-3 guide, and each
    frame is drawn from its own run: at step 0 the update is plain SGD's, so a layer's ratio is
    lr·‖g‖/‖W‖, computed here by hand from the model's own gradient at that gain."""
    import json
    import re

    from vgcourse.plots import new_axes, plot_histograms, plot_update_ratios

    x, y = _batch(16)

    def model_at(gain):
        return vgcourse.mlp(2, 8, activation="tanh", init="lecun", gain=gain, in_features=3,
                            out_features=2, seed=0, dtype=D)

    def panel(lr, gain):
        model = model_at(gain)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        with Monitor(model, optimizer, every=2) as monitor:
            _sgd_steps(model, optimizer, x, y, 4)
        fig, (left, right) = new_axes(figsize=(8.0, 3.0), ncols=2)
        plot_update_ratios(monitor, ax=left)
        plot_histograms(monitor, ax=right)
        return fig

    grid = dict(lr=[0.01, 0.1], gain=[0.5, 3.0])
    sweep = vgcourse.explore(panel, description="The monitor's record.", **grid)
    html = sweep.static_html()
    payload = json.loads(re.search(r'class="vgx-data">(.*?)</script>', html, re.S).group(1))
    assert payload["names"] == ["lr", "gain"]
    assert sorted(payload["frames"]) == ["0,0", "0,1", "1,0", "1,1"]
    assert len(set(payload["frames"].values())) == 4  # four different pictures
    for key, alt in payload["alts"].items():
        i, j = (int(k) for k in key.split(","))
        assert alt.startswith("The monitor's record. Figure with 2 panels.")
        assert "legend: hidden.0.linear; hidden.1.linear; output; 1e-3 rule of thumb" in alt
        assert alt.endswith(f"Setting: lr = {grid['lr'][i]:g}, gain = {grid['gain'][j]:g}.")
    for gain in grid["gain"]:
        reference = model_at(gain)
        _loss(reference, x, y).backward()
        weights = [layer.linear.weight for layer in reference.hidden] + [reference.output.weight]
        by_hand = [float(w.grad.norm() / w.detach().norm()) for w in weights]
        assert by_hand[0] != pytest.approx(by_hand[1], rel=0.01)  # the layers differ
        for lr in grid["lr"]:
            fig = sweep.figure(lr=lr, gain=gain)
            try:
                drawn = [line.get_ydata()[0] for line in fig.axes[0].get_lines()[:3]]
                assert drawn == pytest.approx([lr * r for r in by_hand], rel=1e-10)
            finally:
                plt.close(fig)
