"""Hand-computed references for the core fields and recursions of the package.

Each test computes its reference independently of the code under test (by direct tensor
arithmetic, by PyTorch's own modules, or by writing out a short recursion by hand), so a
plausible slip in the package (a threshold without its factor, a variance for a standard
deviation, an off-by-one layer, a swapped nonlinearity, a mean for a root-mean-square, a swapped
key order) fails here. Tolerances are float64 round-off unless a docstring says otherwise.
"""

from __future__ import annotations

import base64
import json
import math
import re

import pytest
import torch
from torch import nn

import vgcourse
from vgcourse import theory
from vgcourse.recurrent import gru_cell, lstm_cell, rnn_cell


# -- GradientFlow fields on a network small enough to check by hand ---------------------------
def _sigmoid_net():
    """Two sigmoid layers of 4 units; layer 1's pre-activations are spread over [-7, 7]."""
    model = vgcourse.mlp(2, 4, in_features=1, out_features=1, activation="sigmoid", seed=0,
                         dtype=torch.float64)
    with torch.no_grad():
        first = model.hidden[0].linear
        first.weight.copy_(torch.tensor([[1.0], [-0.5], [0.25], [2.0]], dtype=torch.float64))
        first.bias.zero_()
    x = torch.linspace(-3.5, 3.5, 29, dtype=torch.float64).unsqueeze(1)
    return model, x, torch.zeros(29, 1, dtype=torch.float64)


def test_saturated_fraction_is_slope_below_five_percent_of_the_sigmoid_peak():
    """Threshold 0.05 × sup σ' = 0.0125: units with |u| above ≈ 4.36 are saturated. Without the
    factor sup σ' = ¼ the threshold would be 0.05 (|u| ≳ 2.99) and the fraction larger."""
    model, x, y = _sigmoid_net()
    flow = vgcourse.gradient_flow(model, x, y)
    u = model.hidden[0].linear(x)
    slope = torch.sigmoid(u) * (1 - torch.sigmoid(u))
    expected = (slope < 0.05 * 0.25).double().mean().item()
    wrong = (slope < 0.05).double().mean().item()
    assert expected != wrong  # the example separates the two definitions
    # one unit-example is 1/116 of the fraction; 1e-6 allows the float32 count division
    assert flow.saturated_fraction[0] == pytest.approx(expected, abs=1e-6, rel=0)


def test_activation_mean_and_std_are_those_of_the_layer_output():
    """The std (not the variance) over every example and unit of h_l, with Bessel's correction."""
    model, x, y = _sigmoid_net()
    flow = vgcourse.gradient_flow(model, x, y)
    h1 = torch.sigmoid(model.hidden[0].linear(x))
    h2 = torch.sigmoid(model.hidden[1].linear(h1))
    for layer, h in enumerate((h1, h2)):
        assert flow.activation_mean[layer] == pytest.approx(h.mean().item(), abs=1e-12, rel=0)
        assert flow.activation_std[layer] == pytest.approx(h.std().item(), abs=1e-12, rel=0)
        assert h.std().item() < 0.5  # so std and variance differ clearly


def test_dead_fraction_counts_units_dead_on_every_example():
    """Two of four ReLU units dead on every example, one dead on half of them: ½, not ¾."""
    model = vgcourse.mlp(1, 4, in_features=1, out_features=1, activation="relu", seed=0,
                         dtype=torch.float64)
    with torch.no_grad():
        model.hidden[0].linear.weight.copy_(torch.tensor([[0.0], [0.0], [1.0], [1.0]]))
        model.hidden[0].linear.bias.copy_(torch.tensor([-1.0, -2.0, 0.0, 5.0]))
    x = torch.linspace(-1, 1, 10, dtype=torch.float64).unsqueeze(1)
    flow = vgcourse.gradient_flow(model, x, torch.zeros(10, 1, dtype=torch.float64))
    assert flow.dead_fraction[0] == pytest.approx(0.5, abs=1e-12, rel=0)


# -- closed forms --------------------------------------------------------------------------------
@pytest.mark.parametrize("name, torch_name", [("tanh", "tanh"), ("relu", "relu"),
                                              ("sigmoid", "sigmoid"), ("identity", "linear")])
def test_registry_gain_is_pytorchs_calculate_gain(name, torch_name):
    assert vgcourse.get_activation(name).gain == pytest.approx(
        nn.init.calculate_gain(torch_name), rel=1e-12, abs=0)


def test_tanh_gain_is_five_thirds():
    assert vgcourse.get_activation("tanh").gain == pytest.approx(5 / 3, rel=1e-12, abs=0)


def test_predicted_gradient_norms_by_hand_for_three_layers():
    """Write the recursion out for depth 3, tanh, σ_w = 1.5, σ_b = 0.5, q_input = 4, where q_l
    changes from layer to layer, so reading q_{l-1} instead of q_l gives other numbers."""
    sw, sb = 1.5, 0.5

    def ms_slope(q):  # E[tanh'(u)^2], u ~ N(0, q), by the package's quadrature
        return theory.gaussian_expectation(lambda u: (1 - torch.tanh(u) ** 2) ** 2, q)

    def var_map(q):
        return sw**2 * theory.gaussian_expectation(lambda u: torch.tanh(u) ** 2, q) + sb**2

    q1 = sw**2 * 4 + sb**2
    q2 = var_map(q1)
    q3 = var_map(q2)
    assert abs(q3 - q2) > 0.05 and abs(q2 - q1) > 0.05
    g3 = 1.0
    g2 = g3 * sw * math.sqrt(ms_slope(q3))  # layer 3's factor takes h_3's gradient to h_2
    g1 = g2 * sw * math.sqrt(ms_slope(q2))
    got = theory.predicted_gradient_norms("tanh", sw, sb, depth=3, q_input=4.0)
    assert got == pytest.approx([g1, g2, g3], rel=1e-9, abs=0)


# -- the hand-written cells against PyTorch's ------------------------------------------------
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_cell_matches_pytorch(nonlinearity):
    torch.manual_seed(0)
    cell = nn.RNNCell(3, 5, nonlinearity=nonlinearity, dtype=torch.float64)
    x, h = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    got = rnn_cell(x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh,
                   nonlinearity=nonlinearity)
    torch.testing.assert_close(got, cell(x, h), rtol=0, atol=1e-12)


def test_rnn_cell_identity_is_the_affine_map():
    torch.manual_seed(1)
    w_ih, w_hh = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 5, dtype=torch.float64)
    b_ih, b_hh = torch.randn(5, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    x, h = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    expected = torch.einsum("ij,bj->bi", w_ih, x) + b_ih + torch.einsum("ij,bj->bi", w_hh, h) + b_hh
    got = rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity="identity")
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)


def test_lstm_and_gru_cells_match_pytorch():
    torch.manual_seed(2)
    x = torch.randn(4, 3, dtype=torch.float64)
    h, c = torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    lstm = nn.LSTMCell(3, 5, dtype=torch.float64)
    got_h, got_c = lstm_cell(x, h, c, lstm.weight_ih, lstm.weight_hh, lstm.bias_ih, lstm.bias_hh)
    want_h, want_c = lstm(x, (h, c))
    torch.testing.assert_close(got_h, want_h, rtol=0, atol=1e-12)
    torch.testing.assert_close(got_c, want_c, rtol=0, atol=1e-12)
    gru = nn.GRUCell(3, 5, dtype=torch.float64)
    got = gru_cell(x, h, gru.weight_ih, gru.weight_hh, gru.bias_ih, gru.bias_hh)
    torch.testing.assert_close(got, gru(x, h), rtol=0, atol=1e-12)


def test_gradient_through_time_is_the_root_mean_square_over_the_batch():
    """Per sequence, backpropagate v·h_T to every h_t with nn.RNNCell step by step; the package
    reports sqrt(mean_b ‖g_b‖²) per lag, which differs from mean_b ‖g_b‖ when they vary."""
    model = vgcourse.sequence_model("rnn", input_size=2, hidden_size=6, output_size=1, seed=3)
    x = torch.randn(5, 12, 2, generator=torch.Generator().manual_seed(4)) * 2
    v = torch.randn(6, dtype=torch.float64)
    v = v / v.norm()
    flow = vgcourse.gradient_through_time(model, x, direction=v)
    rnn = model.recurrent
    cell = nn.RNNCell(2, 6, dtype=torch.float64)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(rnn, f"{name}_l0"))
    h = torch.zeros(5, 6, dtype=torch.float64, requires_grad=True)
    states = [h]
    for t in range(12):
        states.append(cell(x[:, t].double(), states[-1]))
    for s in states:
        s.retain_grad()
    (states[-1] @ v).sum().backward()  # sequences are independent: one backward for all
    per_sequence = torch.stack([s.grad.norm(dim=1) for s in reversed(states)])  # lag, batch
    rms = per_sequence.pow(2).mean(dim=1).sqrt()
    assert not torch.allclose(rms, per_sequence.mean(dim=1), rtol=1e-3, atol=0)
    torch.testing.assert_close(torch.tensor(flow.norm, dtype=torch.float64), rms,
                               rtol=1e-9, atol=0)


# -- the static sweep: key -> setting -> frame ------------------------------------------------
def test_static_sweep_keys_name_the_frame_of_their_setting(monkeypatch):
    """Frames that encode their own parameters, read back through the keys the page uses."""
    grid = dict(depth=[2, 4, 8], activation=["tanh", "relu"], scale=[0.5, 1.0])

    def experiment(**params):
        from matplotlib.figure import Figure

        return Figure()  # drawing is replaced below: each frame is its setting

    panel = vgcourse.explore(experiment, **grid)
    monkeypatch.setattr(panel, "_finish",
                        lambda fig, p: (json.dumps(p, sort_keys=True).encode(), "alt"))
    html = panel.static_html()
    payload = json.loads(re.search(r'class="vgx-data">(.*?)</script>', html, re.S).group(1))
    assert payload["names"] == list(grid)
    assert len(payload["frames"]) == 3 * 2 * 2
    for key, uri in payload["frames"].items():
        indices = [int(i) for i in key.split(",")]
        shown = json.loads(base64.b64decode(uri.split(",", 1)[1]))
        assert shown == {name: grid[name][i] for name, i in zip(grid, indices)}, key
