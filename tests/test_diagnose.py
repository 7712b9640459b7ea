"""The gradient doctor: right verdicts on purpose-broken models, and the model left unchanged."""

import copy

import pytest
import torch
from torch import nn

import vgcourse
from vgcourse.doctor import diagnose


@pytest.fixture
def batch():
    x, y = vgcourse.data.gaussian_batch(batch=64, features=32, seed=0, dtype=torch.float32)
    return x, y


class Residual(nn.Module):
    """A plain residual MLP written without vgcourse, as a reader's own model would be."""

    def __init__(self, depth=16, width=32, scale=0.2):
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))
            for _ in range(depth))
        self.scale = scale
        self.out = nn.Linear(width, 1)

    def forward(self, x):
        for block in self.blocks:
            x = x + self.scale * block(x)
        return self.out(x)


def test_deep_sigmoid_network_is_vanishing(batch):
    report = diagnose(vgcourse.mlp(20, 32, activation="sigmoid"), *batch)
    assert report.verdict == "vanishing"
    assert report.layers[0].verdict == "vanishing" and report.layers[-2].verdict == "healthy"


def test_huge_initialisation_is_exploding(batch):
    model = vgcourse.mlp(20, 32, activation="tanh", init="normal", std=3.0)
    assert diagnose(model, *batch).verdict == "exploding"


def test_dead_relus_are_found(batch):
    model = vgcourse.mlp(5, 32, activation="relu", init="he")
    with torch.no_grad():
        for layer in model.hidden[2:]:
            layer.linear.bias.fill_(-10.0)  # far below any pre-activation: never fires
    report = diagnose(model, *batch)
    assert report.verdict == "dead units"
    assert [r.verdict for r in report.layers[2:5]] == ["dead units"] * 3
    assert report.layers[3].dead_fraction == 1.0


def test_saturated_tanh_is_found(batch):
    model = vgcourse.mlp(4, 32, activation="tanh", init="normal", std=1.0)
    report = diagnose(model, *batch)
    assert report.verdict == "saturated"
    assert report.layers[0].saturated_fraction > 0.5


@pytest.mark.parametrize("seed", range(3))
def test_healthy_residual_network_is_healthy(batch, seed):
    torch.manual_seed(seed)
    assert diagnose(Residual(), *batch).verdict == "healthy"


def test_model_is_left_exactly_as_it_was(batch):
    model = nn.Sequential(nn.Linear(32, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 1))
    model.train()
    x, y = batch
    nn.functional.mse_loss(model(x), y).backward()  # leaves .grad fields and running stats
    state = copy.deepcopy(model.state_dict())
    grads = [p.grad.clone() for p in model.parameters()]
    diagnose(model, x, y)
    assert model.training
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, model.parameters()))
    assert not model._forward_hooks and not any(m._forward_hooks for m in model.modules())
    model.eval()
    diagnose(model, x, y)
    assert not model.training


def test_any_module_with_classes(batch):
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    report = diagnose(cnn, torch.randn(8, 1, 8, 8), torch.arange(8) % 3)
    assert [r.kind for r in report.layers] == ["Conv2d", "Linear"]
    assert report.loss > 0


def test_report_renders_three_ways(batch):
    report = diagnose(vgcourse.mlp(3, 32, activation="relu", init="he"), *batch)
    text = str(report)
    assert "Overall: healthy" in text and "hidden.0.linear" in text
    html = report._repr_html_()
    assert "<table" in html and "data:image/png;base64," in html
    data = report.to_dict()
    assert data["verdict"] == "healthy" and len(data["layers"]) == 4
    assert set(data["layers"][0]) >= {"grad_norm", "grad_to_weight", "update_to_data",
                                      "activation_mean", "activation_std", "saturated_fraction",
                                      "dead_fraction", "verdict"}


def test_clear_errors(batch):
    x, y = batch
    frozen = nn.Linear(32, 1).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        diagnose(frozen, x, y)
    with pytest.raises(ValueError, match="must return a scalar"):
        diagnose(nn.Linear(32, 1), x, y, loss_fn=lambda out, t: (out - t) ** 2)
    with pytest.raises(ValueError, match="x is on meta but the model is on cpu"):
        diagnose(nn.Linear(32, 1), x.to("meta"), y)
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        diagnose(nn.Linear(32, 1), bad, y)
    with pytest.raises(ValueError, match="lr=0"):
        diagnose(nn.Linear(32, 1), x, y, lr=0)


def test_report_figure_has_one_legend_and_no_overlapping_labels(batch):
    """The doctor's figure marks verdicts by marker, not by text over the points, and lists
    only the verdicts present in its single legend; exact zeros are drawn on the bottom edge."""
    import matplotlib.pyplot as plt

    model = vgcourse.mlp(12, 32, activation="relu", init="he")
    with torch.no_grad():
        for layer in model.hidden[4:]:
            layer.linear.bias.fill_(-10.0)  # dead from layer 5 up: exact zeros below them
    report = diagnose(model, *batch)
    fig = report.plot()
    ax = fig.axes[0]
    legends = [a.get_legend() for a in fig.axes if a.get_legend() is not None]
    assert len(legends) == 1 and not fig.legends
    labels = [t.get_text() for t in legends[0].get_texts()]
    verdicts = {r.verdict for r in report.layers}
    assert {v for v in labels if v in doctor_verdicts()} == verdicts
    assert any("exactly 0" in v for v in labels)
    assert not ax.texts  # no per-layer annotations that could overlap
    plt.close(fig)


def doctor_verdicts():
    from vgcourse.doctor import VERDICTS

    return set(VERDICTS)
