"""Recurrent models: the hand-written cells against PyTorch's, and the laws of gradients in time.

Every check runs in float64, so "exact" laws are asserted to within rounding (relative 1e-10:
products of ~100 factors each rounded to 1e-16 accumulate far less than that).
"""

import math

import pytest
import torch
from torch import nn

import vgcourse
from vgcourse import theory
from vgcourse.recurrent import (
    CELLS,
    direct_path_through_time,
    gradient_through_time,
    gru_cell,
    latching_trajectory,
    lstm_cell,
    rnn_cell,
    sequence_model,
)

F64 = torch.float64


def randn(*shape, seed=0, scale=1.0):
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


@pytest.mark.parametrize("cell", CELLS)
def test_hand_written_cells_match_pytorch_layers_with_the_same_weights(cell):
    model = sequence_model(cell, input_size=3, hidden_size=7, seed=1, dtype=F64)
    with torch.no_grad():  # random biases too, so a swapped bias block cannot hide
        for p in model.recurrent.parameters():
            p.copy_(randn(*p.shape, seed=p.numel(), scale=0.7))
    x = randn(5, 11, 3, seed=2)
    start = tuple(randn(5, 7, seed=3 + k) for k in range(2 if cell == "lstm" else 1))
    torch_start = (start[0][None], start[1][None]) if cell == "lstm" else start[0][None]
    outputs, final = model.recurrent(x, torch_start)
    trajectory = model.states(x, start)
    mine = torch.stack([s[0] for s in trajectory[1:]], dim=1)
    assert torch.allclose(mine, outputs, rtol=0, atol=1e-13)
    if cell == "lstm":
        assert torch.allclose(trajectory[-1][1], final[1][0], rtol=0, atol=1e-13)


def test_cell_functions_match_torch_cell_modules():
    x, h, c = randn(4, 3, seed=0), randn(4, 6, seed=1), randn(4, 6, seed=2)
    for module, mine in [(nn.LSTMCell(3, 6).double(), lstm_cell), (nn.GRUCell(3, 6).double(),
                          gru_cell), (nn.RNNCell(3, 6).double(), rnn_cell)]:
        w = dict(weight_ih=module.weight_ih, weight_hh=module.weight_hh,
                 bias_ih=module.bias_ih, bias_hh=module.bias_hh)
        if mine is lstm_cell:
            ref_h, ref_c = module(x, (h, c))
            my_h, my_c = mine(x, h, c, **w)
            assert torch.allclose(my_c, ref_c, rtol=0, atol=1e-14)
        else:
            ref_h, my_h = module(x, h), mine(x, h, **w)
        assert torch.allclose(my_h, ref_h, rtol=0, atol=1e-14)


@pytest.mark.parametrize("rho", [0.7, 1.0, 1.15])
def test_linear_rnn_with_scaled_orthogonal_weights_gives_exactly_rho_to_the_lag(rho):
    model = sequence_model("rnn", input_size=2, hidden_size=16, nonlinearity="identity",
                           spectral_radius=rho, dtype=F64)
    sigma = torch.linalg.svdvals(model.weight_hh.detach())
    assert torch.allclose(sigma, torch.full_like(sigma, rho), rtol=1e-12)
    measured = gradient_through_time(model, randn(4, 60, 2))
    for lag, norm in zip(measured.lag, measured.norm):
        assert norm == pytest.approx(theory.rnn_gradient_bound(rho, lag), rel=1e-10)


@pytest.mark.parametrize("rho, scale", [(0.5, 1.0), (1.0, 1.0), (1.5, 1.0), (1.5, 10.0),
                                        (2.0, 3.0)])
def test_tanh_rnn_stays_under_the_pascanu_bound(rho, scale):
    model = sequence_model("rnn", input_size=1, hidden_size=24, spectral_radius=rho, seed=3,
                           dtype=F64)
    measured = gradient_through_time(model, randn(6, 80, 1, scale=scale))
    for lag, norm in zip(measured.lag, measured.norm):
        # the bound holds for every example; 1e-12 relative slack covers rounding only
        assert norm <= theory.rnn_gradient_bound(rho, lag) * (1 + 1e-12)


def test_tanh_rnn_above_one_can_still_vanish_when_inputs_saturate_it():
    model = sequence_model("rnn", input_size=1, hidden_size=32, spectral_radius=1.5, dtype=F64)
    mild = gradient_through_time(model, randn(8, 100, 1))
    strong = gradient_through_time(model, randn(8, 100, 1, scale=10.0))
    assert mild.norm[100] > 10.0  # σ_max > 1 lets it grow ...
    assert strong.norm[100] < 1e-2  # ... but saturated units (tanh' ≈ 0) make it vanish anyway
    assert strong.norm[100] < theory.rnn_gradient_bound(1.5, 100) * 1e-15


@pytest.mark.parametrize("forget_bias", [-1.0, 1.0, 3.0])
def test_lstm_cell_state_gradient_is_the_product_of_forget_gates(forget_bias):
    model = sequence_model("lstm", input_size=2, hidden_size=12, spectral_radius=0.0,
                           forget_bias=forget_bias, seed=4, dtype=F64)
    x = randn(5, 40, 2)
    measured = gradient_through_time(model, x, state="c")
    _, gates = model.states(x, gates=True)
    v = measured.gradient[0][0]
    for lag in (1, 10, 40):  # ∂c_T/∂c_{T−lag} = Π of the last `lag` forget gates, exactly
        law = v * gates["f"][:, 40 - lag:].prod(dim=1)
        assert torch.allclose(measured.gradient[lag], law, rtol=1e-10, atol=0)
    # and the gates are what the formula says, independent of the cell's code
    w = model.cell_weights()
    f = torch.sigmoid(x @ w["weight_ih"][12:24].T + w["bias_ih"][12:24] + w["bias_hh"][12:24])
    assert torch.allclose(gates["f"], f, rtol=1e-12)


def test_gru_state_gradient_is_the_product_of_keep_gates():
    model = sequence_model("gru", input_size=2, hidden_size=12, spectral_radius=0.0,
                           forget_bias=2.0, seed=5, dtype=F64)
    x = randn(5, 40, 2)
    measured = gradient_through_time(model, x)
    _, gates = model.states(x, gates=True)
    law = measured.gradient[0][0] * gates["z"].prod(dim=1)  # PyTorch keeps the fraction z
    assert torch.allclose(measured.gradient[40], law, rtol=1e-10, atol=0)
    wrong = measured.gradient[0][0] * (1 - gates["z"]).prod(dim=1)  # Chung et al.'s labelling
    assert not torch.allclose(measured.gradient[40], wrong, rtol=1e-2)


def test_gru_keeps_z_of_the_old_state_and_resets_after_the_matrix_as_nn_gru():
    """PyTorch's convention is Cho et al.'s eq. 7, h = z h_{t-1} + (1 - z) n, with the reset
    applied after the recurrent matrix; Chung et al.'s swapped z, or Cho et al.'s reset before
    the matrix, U(r h), give different cells on the same weights."""
    module = nn.GRUCell(3, 5).double()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(randn(*p.shape, seed=p.numel(), scale=0.8))
    x, h = randn(4, 3, seed=1), randn(4, 5, seed=2)
    w = dict(weight_ih=module.weight_ih, weight_hh=module.weight_hh, bias_ih=module.bias_ih,
             bias_hh=module.bias_hh)
    gates = {}
    with torch.no_grad():
        reference = module(x, h)
        mine = gru_cell(x, h, **w, gates=gates)
        z, r, n = gates["z"], gates["r"], gates["n"]
        assert torch.allclose(mine, reference, rtol=0, atol=1e-14)
        assert torch.allclose(reference, z * h + (1 - z) * n, rtol=0, atol=1e-14)
        swapped = (1 - z) * h + z * n  # Chung et al. 2014
        assert (swapped - reference).abs().max() > 1e-2
        w_in, w_hn = module.weight_ih[10:], module.weight_hh[10:]
        b_in, b_hn = module.bias_ih[10:], module.bias_hh[10:]
        n_before = torch.tanh(x @ w_in.T + b_in + (r * h) @ w_hn.T + b_hn)  # Cho et al. eq. 8
        assert (z * h + (1 - z) * n_before - reference).abs().max() > 1e-2


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_direct_path_is_the_whole_gradient_when_w_hh_is_zero(cell):
    model = sequence_model(cell, input_size=2, hidden_size=12, spectral_radius=0.0,
                           forget_bias=1.0, seed=6, dtype=F64)
    x = randn(5, 40, 2, seed=7)
    whole = gradient_through_time(model, x, state="c" if cell == "lstm" else "h")
    direct = direct_path_through_time(model, x)
    assert direct.state == whole.state and direct.lag == whole.lag
    assert torch.allclose(direct.gradient, whole.gradient, rtol=1e-10, atol=0)
    # zero input: every gate is σ(b), the direct path is σ(b)^lag exactly
    zero = direct_path_through_time(model, torch.zeros(2, 40, 2, dtype=F64))
    gate = torch.sigmoid(torch.tensor(1.0, dtype=F64)).item()
    for lag in (0, 1, 17, 40):
        assert zero.norm[lag] == pytest.approx(gate**lag, rel=1e-12)


def test_in_the_full_lstm_the_law_holds_for_the_direct_path_only():
    """With PyTorch's recurrent weights the direct path follows σ(b)^T within a decade while
    the whole gradient is decades larger (the paths through h add to it)."""
    x = randn(8, 100, 1)
    for bias in (0.0, 1.0):
        model = sequence_model("lstm", hidden_size=32, forget_bias=bias, dtype=F64)
        law = 100 * math.log10(torch.sigmoid(torch.tensor(bias, dtype=F64)).item())
        direct = math.log10(direct_path_through_time(model, x).norm[100])
        whole = math.log10(gradient_through_time(model, x, state="c").norm[100])
        assert abs(direct - law) < 1
        assert whole - direct > 3


def test_direct_path_refuses_the_rnn():
    with pytest.raises(ValueError, match="model='rnn'"):
        direct_path_through_time(sequence_model("rnn"), torch.zeros(1, 3, 1))
    with pytest.raises(ValueError, match="shape"):
        direct_path_through_time(sequence_model("gru"), torch.zeros(3, 1))


def test_identity_init_is_the_irnn_of_le_et_al():
    model = sequence_model("rnn", input_size=2, hidden_size=6, nonlinearity="relu",
                           identity=True, dtype=F64)
    assert torch.equal(model.weight_hh, torch.eye(6, dtype=F64))
    assert not model.recurrent.bias_ih_l0.any() and not model.recurrent.bias_hh_l0.any()
    scaled = sequence_model("lstm", hidden_size=4, identity=True, spectral_radius=0.5)
    for k in range(4):
        assert torch.equal(scaled.weight_hh[4 * k:4 * (k + 1)], 0.5 * torch.eye(4))
    # every unit that stays active passes its gradient on unchanged: with positive inputs
    # every ReLU unit is active, so the gradient through time is exactly 1 at every lag
    with torch.no_grad():
        model.recurrent.weight_ih_l0.abs_()
    g = gradient_through_time(model, randn(3, 30, 2).abs())
    assert all(n == pytest.approx(1.0, rel=1e-12) for n in g.norm)
    with pytest.raises(ValueError, match="identity=1"):
        sequence_model("rnn", identity=1)


def test_forget_bias_moves_the_gradient_over_100_steps_by_tens_of_orders_of_magnitude():
    x = torch.zeros(2, 100, 1, dtype=F64)  # zero input: every forget gate is σ(b) exactly
    logs = {}
    for bias in (0.0, 3.0):
        model = sequence_model("lstm", input_size=1, hidden_size=8, spectral_radius=0.0,
                               forget_bias=bias, dtype=F64)
        norm = gradient_through_time(model, x, state="c").norm[100]
        gate = torch.sigmoid(torch.tensor(bias, dtype=F64)).item()
        assert norm == pytest.approx(gate**100, rel=1e-10)
        logs[bias] = math.log10(norm)
    assert logs[3.0] - logs[0.0] > 25  # 100·log10(σ(3)/σ(0)) = 27.9


@pytest.mark.parametrize("w", [1.2, 2.0, 3.0])
def test_latching_unit_contracts_by_lambda_per_step(w):
    h_star = theory.latching_fixed_point(w)
    assert h_star == pytest.approx(math.tanh(w * h_star), abs=1e-14, rel=0)
    assert 0 < h_star < 1
    lam = theory.latching_contraction(w)
    assert 0 < lam < 1
    states, grads = latching_trajectory(w, h0=0.3, steps=100)
    assert states[-1] == pytest.approx(h_star, abs=1e-12, rel=0)
    # once the state has converged, each step multiplies ∂h_t/∂h_0 by λ (1e-6: the transient
    # at w = 1.2 contracts by λ ≈ 0.63 per step and is below 1e-8 after 60 steps)
    for t in range(60, 100):
        assert grads[t + 1] / grads[t] == pytest.approx(lam, rel=1e-6)
    assert theory.latching_fixed_point(0.8) == 0.0
    assert theory.latching_contraction(0.8) == pytest.approx(0.8)


def test_forward_shapes_and_linear_rnn_forward():
    x = randn(3, 9, 2).float()
    for cell in CELLS:
        assert sequence_model(cell, input_size=2)(x).shape == (3, 1)
        model = sequence_model(cell, input_size=2, output_size=10, output="all")
        assert model(x).shape == (3, 9, 10)
    linear = sequence_model("rnn", input_size=2, nonlinearity="identity", spectral_radius=1.0)
    # a linear RNN unrolled in closed form, not step by step as forward runs it:
    # h_T = Σ_t W_hh^(T−t) (W_ih x_t + b_ih + b_hh)
    w = {k: v.detach().double() for k, v in linear.cell_weights().items()}
    steps = x.shape[1]
    h = sum((x[:, t].double() @ w["weight_ih"].T + w["bias_ih"] + w["bias_hh"])
            @ torch.linalg.matrix_power(w["weight_hh"], steps - 1 - t).T for t in range(steps))
    expected = linear.readout.double()(h)
    assert torch.allclose(linear.double()(x.double()), expected, rtol=0, atol=1e-12)  # float64


def test_seed_fixes_the_weights_and_probe_leaves_the_model_alone():
    a, b = sequence_model("gru", seed=3), sequence_model("gru", seed=3)
    c = sequence_model("gru", seed=4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.weight_hh, c.weight_hh)
    before = {k: v.clone() for k, v in a.state_dict().items()}
    gradient_through_time(a, torch.zeros(2, 5, 1))
    assert all(torch.equal(before[k], v) for k, v in a.state_dict().items())
    assert all(p.grad is None for p in a.parameters())
    assert a.weight_hh.dtype == torch.float32


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="cell='transformer'"):
        sequence_model("transformer")
    with pytest.raises(ValueError, match="forget_bias=1.0"):
        sequence_model("rnn", forget_bias=1.0)
    with pytest.raises(ValueError, match="nonlinearity='identity'"):
        sequence_model("lstm", nonlinearity="identity")
    with pytest.raises(ValueError, match="spectral_radius=-1"):
        sequence_model("rnn", spectral_radius=-1)
    with pytest.raises(ValueError, match="state='c'"):
        gradient_through_time(sequence_model("gru"), torch.zeros(1, 3, 1), state="c")
    with pytest.raises(ValueError, match="shape"):
        gradient_through_time(sequence_model("gru"), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="model=MLP"):
        gradient_through_time(vgcourse.mlp(2, 4), torch.zeros(1, 3, 1))


def test_theory_helpers():
    assert theory.rnn_gradient_bound(0.9, 0) == 1.0
    assert theory.rnn_gradient_bound(4.0, 10, gamma=0.25) == 1.0
    assert theory.adding_baseline() == pytest.approx(1 / 6)
    assert theory.copy_baseline(100) == pytest.approx(10 * math.log(8) / 120)
    with pytest.raises(ValueError, match="lag=-1"):
        theory.rnn_gradient_bound(1.0, -1)


def test_latching_under_noise_by_hand():
    from vgcourse.recurrent import latching_under_noise

    # Without noise every run is the same: h1 = tanh(w h0), h2 = tanh(w h1), and
    # dh2/dh0 = w(1 − h1²) · w(1 − h2²), written out here.
    w, h0 = 1.5, 0.4
    h1 = math.tanh(w * h0)
    h2 = math.tanh(w * h1)
    kept, grad = latching_under_noise(w, 0.0, steps=2, trials=3, h0=h0)
    assert kept == 1.0
    assert grad == pytest.approx(w * (1 - h1 * h1) * w * (1 - h2 * h2), rel=1e-12)
    # a negative bit is kept as well: the sign is what counts
    assert latching_under_noise(w, 0.0, steps=2, trials=3, h0=-h0) == (1.0, pytest.approx(grad))
    # w < 1 with no noise still keeps the sign (the state only decays towards 0) ...
    assert latching_under_noise(0.5, 0.0, steps=5, trials=2)[0] == 1.0
    # ... but with noise and no attractor the bit becomes a coin flip
    kept, _ = latching_under_noise(0.5, 0.5, steps=40, trials=4000, seed=1)
    assert abs(kept - 0.5) < 0.05  # 4000 fair coins: sd 0.008
    # a strong latch keeps it and passes the gradient λ^T of the noise-free fixed point
    kept, grad = latching_under_noise(3.0, 0.2, steps=30, trials=500)
    assert kept == 1.0
    lam = theory.latching_contraction(3.0)
    assert 0.3 < grad / lam**30 < 3


def test_latching_under_noise_names_bad_arguments():
    from vgcourse.recurrent import latching_under_noise

    with pytest.raises(ValueError, match="h0=0"):
        latching_under_noise(2.0, 0.1, 5, h0=0)
    with pytest.raises(ValueError, match="noise=-0.1"):
        latching_under_noise(2.0, -0.1, 5)
    with pytest.raises(ValueError, match="steps=0"):
        latching_under_noise(2.0, 0.1, 0)
    with pytest.raises(ValueError, match="w=inf"):
        latching_under_noise(float("inf"), 0.1, 5)
