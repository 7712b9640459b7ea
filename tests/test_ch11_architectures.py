"""Chapter 11: highway, attention, normalisation-free residual, linear-recurrence and learned
activation pieces (vgcourse.architectures) and their closed forms, against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

import vgcourse
from vgcourse import theory
from vgcourse.architectures import (
    CausalTransformer,
    DiagonalLinearRNN,
    HighwayMLP,
    LearnedSwish,
    activation_parameters,
    depth_gradient_norms,
    fixup,
    input_gradient_by_distance,
    learn_activation,
    orthogonal_rnn,
    parametric_activation,
    rezero,
)
from vgcourse.language import CharLM, predictions, train_char_lm


# -- closed forms -------------------------------------------------------------------------------
def test_highway_law_by_hand():
    # b = 0: t = 1/2, factor² = 1/4 + 1/4 = 1/2 per layer
    assert theory.highway_gradient_decay(0.0, 2) == pytest.approx([0.5, 0.5**0.5, 1.0],
                                                                   rel=1e-12)
    # b = ln 3: t = 3/4; with χ = 2 the factor² is 1/16 + 9/16·2 = 19/16
    got = theory.highway_gradient_decay(math.log(3), 3, chi_transform=2.0)
    assert got[0] == pytest.approx((19 / 16) ** 1.5, rel=1e-12)
    assert got[2] == pytest.approx((19 / 16) ** 0.5, rel=1e-12)
    # a closed gate keeps everything
    assert theory.highway_gradient_decay(-800.0, 5)[0] == 1.0


def test_eigenvalue_for_horizon_by_hand():
    lam = theory.eigenvalue_for_horizon(100, keep=0.5)
    assert lam == pytest.approx(math.exp(math.log(0.5) / 100), rel=1e-14)
    assert lam == pytest.approx(0.9930924954370359, rel=1e-12)
    assert theory.eigenvalue_for_horizon(1, keep=0.1) == pytest.approx(0.1, rel=1e-14)


@pytest.mark.parametrize("call", [
    lambda: theory.highway_gradient_decay(float("nan"), 3),
    lambda: theory.highway_gradient_decay(0.0, 0),
    lambda: theory.highway_gradient_decay(0.0, 3, chi_transform=-1.0),
    lambda: theory.eigenvalue_for_horizon(0),
    lambda: theory.eigenvalue_for_horizon(10, keep=1.0),
])
def test_closed_forms_name_the_argument(call):
    with pytest.raises(ValueError, match=r"gate_bias|depth|chi_transform|horizon|keep"):
        call()


# -- highway ------------------------------------------------------------------------------------
def test_highway_layer_jacobian_is_carry_plus_transform():
    """With W_T = 0 and φ = identity, ∂(v·x_1)/∂x_0 = ((1 − t) I + t W_H)ᵀ v exactly."""
    model = HighwayMLP(1, width=5, gate_bias=-1.0, activation="identity", seed=3)
    layer = model.layers[0]
    t = 1 / (1 + math.exp(1.0))
    jac = (1 - t) * torch.eye(5, dtype=torch.float64) + t * layer.transform.weight.detach()
    x = torch.randn(1, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    v = torch.randn(5, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    v = v / v.norm()
    norms = depth_gradient_norms(model.layers, x, seed=7)
    assert norms[-1] == pytest.approx(1.0, rel=1e-12)
    assert norms[0] == pytest.approx(float((jac.T @ v).norm()), rel=1e-12)
    # the gate output is exactly σ(b_T) whatever the input
    gate = torch.sigmoid(layer.gate(x))
    assert torch.allclose(gate, torch.full_like(gate, t), rtol=0, atol=1e-15)


def test_highway_with_closed_gate_is_the_identity():
    model = HighwayMLP(4, width=6, gate_bias=-800.0, seed=0)
    x = torch.randn(3, 6, dtype=torch.float64)
    assert torch.equal(model(x), x)


def test_highway_rejects_bad_arguments():
    with pytest.raises(ValueError, match="gate_bias"):
        HighwayMLP(2, gate_bias=float("inf"))
    with pytest.raises(ValueError, match="gate_std"):
        HighwayMLP(2, gate_std=-1.0)
    with pytest.raises(ValueError, match="x"):
        depth_gradient_norms(HighwayMLP(2, width=3).layers, torch.zeros(3))
    with pytest.raises(ValueError, match="layers"):
        depth_gradient_norms([], torch.zeros(2, 3))


# -- attention ----------------------------------------------------------------------------------
def test_transformer_is_causal_and_sees_every_earlier_position():
    model = CausalTransformer(7, d_model=8, heads=2, layers=2, context=10, seed=0).double()
    ids = torch.randint(7, (2, 10), generator=torch.Generator().manual_seed(1))
    changed = ids.clone()
    changed[:, 6] = (changed[:, 6] + 1) % 7
    logits, state = model(ids)
    assert state is None and logits.shape == (2, 10, 7)
    other, _ = model(changed)
    assert torch.equal(logits[:, :6], other[:, :6])  # positions before 6 cannot see it
    assert not torch.allclose(logits[:, 6:], other[:, 6:])
    distance, norms = input_gradient_by_distance(model, ids)
    assert distance == list(range(10))
    assert all(n > 0 for n in norms)


def test_transformer_rejects_bad_arguments():
    with pytest.raises(ValueError, match="heads"):
        CausalTransformer(5, d_model=6, heads=4)
    with pytest.raises(ValueError, match="ids"):
        CausalTransformer(5, context=4).embedded(torch.zeros(1, 5, dtype=torch.long))


def test_input_gradient_of_an_rnn_matches_autograd_by_hand():
    model = CharLM("rnn", 6, hidden=4, embed=3, seed=0)
    ids = torch.tensor([[1, 2, 3, 4]])
    _, norms = input_gradient_by_distance(model, ids, seed=2)
    work = model.double()
    x = work.embed(ids).detach().requires_grad_()
    out = work.core.readout(work.core.recurrent(x)[0])[:, -1]
    v = torch.randn(6, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    (grad,) = torch.autograd.grad((out * v / v.norm()).sum(), x)
    assert norms == pytest.approx(grad[0].norm(dim=-1).flip(0).tolist(), rel=1e-10)
    with pytest.raises(ValueError, match="model"):
        input_gradient_by_distance(torch.nn.Linear(2, 2), ids)
    with pytest.raises(ValueError, match="inputs"):
        input_gradient_by_distance(model, torch.zeros(4, dtype=torch.long))


def test_train_char_lm_trains_a_given_model():
    ids = torch.randint(5, (400,), generator=torch.Generator().manual_seed(0))
    model = CausalTransformer(5, d_model=8, heads=2, layers=1, context=16, seed=0)
    before = model.readout.weight.detach().clone()
    run = train_char_lm("anything", ids, ids[:100], 5, steps=3, seq_len=16, batch=4,
                        eval_every=3, eval_context=8, show_progress=False, model=model)
    assert run.model is model and len(run.val_loss) == 1
    assert not torch.equal(before, model.readout.weight)
    assert predictions(model, ids[:50], context=8).shape == (50, 5)
    with pytest.raises(ValueError, match="model"):
        train_char_lm("rnn", ids, ids, 5, steps=1, seq_len=8, model="transformer")


# -- normalisation-free residual networks -------------------------------------------------------
def test_rezero_starts_as_the_identity_and_learns_alpha():
    model = rezero(vgcourse.mlp(3, 4, activation="relu", init="he", residual=True,
                                dtype=torch.float64))
    x = torch.randn(5, 4, dtype=torch.float64)
    h = x
    for block in model.hidden:
        h = block(h)
    assert torch.equal(h, x)
    scales = [b.branch_scale for b in model.hidden]
    assert all(isinstance(a, torch.nn.Parameter) and a.item() == 0.0 for a in scales)
    model(x).sum().backward()
    assert any(a.grad.abs().item() > 0 for a in scales)


def test_fixup_zeroes_the_last_layer_and_scales_the_first():
    plain = vgcourse.mlp(4, 5, activation="relu", init="he", residual=True, seed=2)
    fixed = fixup(vgcourse.mlp(4, 5, activation="relu", init="he", residual=True, seed=2))
    for a, b in zip(plain.hidden, fixed.hidden):
        assert torch.allclose(b.linear.weight, a.linear.weight / 2, rtol=1e-6, atol=0)  # 4^-½
        assert not b.linear2.weight.any() and not b.linear2.bias.any()


def test_normalisation_free_recipes_refuse_other_models():
    for recipe in (rezero, fixup):
        with pytest.raises(ValueError, match="model"):
            recipe(vgcourse.mlp(2, 4))
        with pytest.raises(ValueError, match="normalisation"):
            recipe(vgcourse.mlp(2, 4, residual=True, norm="layer"))


# -- linear recurrences -------------------------------------------------------------------------
def test_diagonal_recurrence_equals_the_written_out_loop():
    model = DiagonalLinearRNN(hidden_size=3, encoder_size=4, r_min=0.5, r_max=0.9, seed=1,
                              dtype=torch.float64)
    lam = model.eigenvalues.detach()
    assert ((lam >= 0.5 - 1e-12) & (lam <= 0.9 + 1e-12)).all()
    x = torch.rand(2, 6, 2, dtype=torch.float64)
    h = torch.zeros(2, 3, dtype=torch.float64)
    for t in range(6):
        h = lam * h + model.encoder(x[:, t])
    expected = model.readout(h * torch.sqrt(1 - lam**2))
    assert torch.allclose(model(x), expected, rtol=1e-12, atol=1e-14)


def test_diagonal_gradient_falls_by_lambda_per_step():
    """With equal eigenvalues and the same input at every step, ∂y/∂x_{T−d} ∝ λ^d exactly."""
    model = DiagonalLinearRNN(hidden_size=4, r_min=0.8, r_max=0.8, seed=0, dtype=torch.float64)
    x = torch.tensor([0.3, 1.0], dtype=torch.float64).repeat(2, 7, 1)
    _, norms = input_gradient_by_distance(model, x)
    ratios = [b / a for a, b in zip(norms, norms[1:])]
    assert ratios == pytest.approx([0.8] * 6, rel=1e-12)


def test_diagonal_recurrence_rejects_bad_radii():
    with pytest.raises(ValueError, match="r_min"):
        DiagonalLinearRNN(r_min=0.9, r_max=0.5)
    with pytest.raises(ValueError, match="r_min"):
        DiagonalLinearRNN(r_min=0.5, r_max=1.0)


def test_orthogonal_rnn_stays_orthogonal_while_training():
    model = orthogonal_rnn(hidden_size=6, seed=0)
    x, y = vgcourse.data.adding_problem(32, 5, seed=0)
    vgcourse.train(model, (x, y), 3, lr=0.1, optimizer="adam", show_progress=False,
                   record=False)
    w = model.recurrent.weight_hh_l0.detach().double()
    assert torch.allclose(w @ w.T, torch.eye(6, dtype=torch.float64), atol=1e-5)
    _, norms = input_gradient_by_distance(model, x[:4])
    assert len(norms) == 5


# -- custom activations -------------------------------------------------------------------------
def test_prelu_chi_by_hand():
    # χ = σ_w² (1 + a²)/2: a = 1/2 at σ_w² = 2 gives 5/4
    assert theory.chi(parametric_activation("prelu", 0.5), math.sqrt(2)) == pytest.approx(
        1.25, rel=1e-12)
    act = parametric_activation("prelu", -0.5)
    x = torch.tensor([-2.0, 3.0])
    assert act.function(x).tolist() == [1.0, 3.0]
    assert act.derivative(x).tolist() == [-0.5, 1.0]


def test_prelu_at_its_initial_slope_is_the_registry_entry():
    entry = vgcourse.ACTIVATIONS["prelu"]
    mine = parametric_activation("prelu", 0.25)
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    assert torch.equal(mine.function(x), entry.function(x))
    assert mine.gain == pytest.approx(entry.gain, rel=1e-15)


def test_swish_by_hand():
    act = parametric_activation("swish", 2.0)
    s = 1 / (1 + math.exp(-2.0))
    x = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    assert act.function(x).item() == pytest.approx(s, rel=1e-12)  # 1·σ(2)
    (grad,) = torch.autograd.grad(act.function(x).sum(), x)
    assert act.derivative(x.detach()).item() == pytest.approx(grad.item(), rel=1e-12)
    assert act.derivative(x.detach()).item() == pytest.approx(s * (1 + 2 * (1 - s)), rel=1e-12)
    # β = 0 is x/2: χ = σ_w²/4 at any variance
    assert theory.chi(parametric_activation("swish", 0.0), 2.0) == pytest.approx(1.0, rel=1e-9)
    silu = vgcourse.ACTIVATIONS["silu"]
    grid = torch.linspace(-4, 4, 17, dtype=torch.float64)
    assert torch.allclose(parametric_activation("swish", 1.0).derivative(grid),
                          silu.derivative(grid), rtol=1e-12, atol=0)


def test_parametric_activation_rejects_bad_arguments():
    with pytest.raises(ValueError, match="name"):
        parametric_activation("elu", 1.0)
    with pytest.raises(ValueError, match="value"):
        parametric_activation("swish", -1.0)
    with pytest.raises(ValueError, match="value"):
        parametric_activation("prelu", float("nan"))


def test_learned_activations_start_where_asked_and_train():
    model = learn_activation(vgcourse.mlp(3, 4, activation="relu", in_features=2), "swish",
                             value=1.5)
    assert activation_parameters(model) == [1.5, 1.5, 1.5]
    assert all(isinstance(layer.activation, LearnedSwish) for layer in model.hidden)
    x, y = torch.randn(16, 2), torch.randn(16, 1)
    vgcourse.train(model, (x, y), 2, lr=0.1, optimizer="adam", show_progress=False,
                   record=False)
    assert activation_parameters(model) != [1.5, 1.5, 1.5]
    prelu = learn_activation(vgcourse.mlp(2, 4), "prelu")
    assert activation_parameters(prelu) == [0.25, 0.25]
    with pytest.raises(ValueError, match="model"):
        learn_activation(vgcourse.mlp(2, 4, residual=True), "prelu")
    with pytest.raises(ValueError, match="model"):
        activation_parameters(vgcourse.mlp(2, 4))
