"""Chapter 7's self-checks accept the reference answers and name the typical mistakes."""

import math

import pytest
import torch

import vgcourse
from vgcourse import theory


def sigmoid(v):
    return 1 / (1 + math.exp(-v))


def test_forget_bias():
    gate = 0.5 ** (1 / 100)
    bias = math.log(gate / (1 - gate))
    assert vgcourse.check("07-forget-bias", bias).passed
    assert sigmoid(bias) ** 100 == pytest.approx(0.5, rel=1e-12)
    approx = 1 - math.log(2) / 100
    g99 = 0.5 ** (1 / 99)
    for wrong, hint in [(gate, "invert the sigmoid"), (0.0, "one step"),
                        (-math.log(1 - gate), "both terms"),
                        (math.log(approx / (1 - approx)), "approximates"),
                        (math.log(g99 / (1 - g99)), "count"),
                        (math.log(2) / 100, "solve"), (2.0, "σ(b)^100 = 1/2")]:
        feedback = vgcourse.check("07-forget-bias", wrong)
        assert not feedback.passed and hint in feedback.message, (wrong, feedback.message)
    assert not vgcourse.check("07-forget-bias", ...).solved


def test_forget_bias_keeps_half_the_cell_gradient_over_100_steps():
    """The exercise's answer, measured: W_hh = 0, zero input, the bias from the check."""
    from vgcourse.recurrent import gradient_through_time, sequence_model

    gate = 0.5 ** (1 / 100)
    model = sequence_model("lstm", spectral_radius=0.0, forget_bias=math.log(gate / (1 - gate)),
                           dtype=torch.float64)
    norm = gradient_through_time(model, torch.zeros(1, 100, 1), state="c").norm[100]
    assert norm == pytest.approx(0.5, rel=1e-10)


def reference_lstm(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    i, f, g, o = (x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh).chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def variant(mistake):
    def cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
        i, f, g, o = (x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh).chunk(4, dim=-1)
        s, t = torch.sigmoid, torch.tanh
        if mistake == "swap-if":
            i, f = f, i
        new_c = {"no-forget": c + s(i) * t(g), "sigmoid-g": s(f) * c + s(i) * s(g),
                 "no-input": s(f) * c + t(g)}.get(mistake, s(f) * c + s(i) * t(g))
        new_h = s(o) * new_c if mistake == "no-tanh" else s(o) * t(new_c)
        return (new_c, new_h) if mistake == "swap-return" else (new_h, new_c)
    return cell


def test_lstm_cell():
    assert vgcourse.check("07-lstm-cell", reference_lstm).passed
    assert vgcourse.check("07-lstm-cell", vgcourse.recurrent.lstm_cell).passed
    for mistake, hint in [("swap-if", "swapped i and f"), ("no-forget", "forget gate"),
                          ("sigmoid-g", "tanh"), ("no-input", "input gate"),
                          ("no-tanh", "tanh(c)"), ("swap-return", "swapped")]:
        feedback = vgcourse.check("07-lstm-cell", variant(mistake))
        assert not feedback.passed and hint in feedback.message, (mistake, feedback.message)
    assert "shape" in vgcourse.check("07-lstm-cell", lambda x, h, c, **w: (h[:1], c)).message


def test_latching_contraction():
    h = theory.latching_fixed_point(2.0)
    assert vgcourse.check("07-latching-contraction", 2 * (1 - h * h)).passed
    for wrong, hint in [(1 - h * h, "multiplies by w"), (2 * (1 - h), "square"),
                        (2.0, "unstable"), (h, "fixed point"), (0.5, "iterate")]:
        feedback = vgcourse.check("07-latching-contraction", wrong)
        assert not feedback.passed and hint in feedback.message, (wrong, feedback.message)
