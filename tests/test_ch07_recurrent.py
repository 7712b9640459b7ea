"""Chapter 7's self-checks accept the reference answers and name the typical mistakes."""

import math

import torch

import vgcourse
from vgcourse import theory


def sigmoid(v):
    return 1 / (1 + math.exp(-v))


def test_forget_product():
    f = sigmoid(2.0)
    assert vgcourse.check("07-forget-product", f**100).passed
    for wrong, hint in [(f, "one step"), (100 * f, "multiply"), ((1 - f) ** 100, "kept"),
                        (2.0**100, "sigmoid"), (f**99, "count"), (0.3, "f_t")]:
        feedback = vgcourse.check("07-forget-product", wrong)
        assert not feedback.passed and hint in feedback.message, (wrong, feedback.message)
    assert not vgcourse.check("07-forget-product", ...).solved


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
