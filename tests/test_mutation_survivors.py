"""Tests written against mutants that survived ``make mutation`` (tools/mutation.py): each pins a
behaviour the other unit tests left free. The mutant each one kills is named in its docstring."""

import json
import math

import pytest
import torch
from scipy import integrate, optimize
from torch import nn

import vgcourse
from vgcourse import theory
from vgcourse.doctor import diagnose
from vgcourse.exploring import MAX_FRAMES, Explorer
from vgcourse.normalization import BatchNorm, fit_gradient_growth

F = nn.functional


# -- activations ----------------------------------------------------------------------------------
def test_leaky_relu_gain_is_pytorchs():
    """Kills ``2 / (1 + a²)`` → ``2 · (1 + a²)``, ``3 / (1 + a²)``, ``2 / (1 − a²)`` and
    ``2 / (2 + a²)`` in the registry: the gain is PyTorch's calculate_gain("leaky_relu", a)."""
    act = vgcourse.get_activation("leaky_relu")
    slope = float(act.derivative(torch.tensor([-1.0], dtype=torch.float64)))
    assert act.gain == pytest.approx(nn.init.calculate_gain("leaky_relu", slope), rel=1e-12, abs=0)


@pytest.mark.parametrize("name", list(vgcourse.ACTIVATIONS))
def test_derivative_at_zero_is_autograds(name):
    """At the kink x = 0 the registry takes the side autograd takes (ReLU′(0) = 0, SELU′(0) =
    λα): kills ``x > 0`` → ``x >= 0`` in ReLU's derivative and ``h > 0`` → ``h >= 0`` in SELU's
    derivative from the output."""
    act = vgcourse.get_activation(name)
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(act.function(x).sum(), x)
    assert torch.equal(act.derivative(x.detach()), grad)
    if act.derivative_from_output is not None:
        assert torch.equal(act.derivative_from_output(act.function(x.detach())), grad)


# -- init -----------------------------------------------------------------------------------------
def test_orthogonal_init_is_haar_not_lapacks_sign_convention():
    """Without the sign fix q·sign(diag r), Householder QR makes W[0, 0] = −|a₁₁|/‖a₁‖ ≤ 0 on every
    draw; Haar-distributed, it is positive half the time. 400 draws: the share is 0.5 ± 0.025
    (one binomial standard deviation), so [0.4, 0.6] is four of them. Kills the dropped factor."""
    positive = 0
    for seed in range(400):
        lin = nn.Linear(4, 4).double()
        vgcourse.initialize(lin, "orthogonal", generator=torch.Generator().manual_seed(seed))
        positive += bool(lin.weight[0, 0] > 0)
    assert 0.4 <= positive / 400 <= 0.6


def test_one_by_one_layer_is_initialised():
    """Kills ``weight.numel() == 0`` → ``== 1`` (a 1×1 layer skipped as if it were empty)."""
    lin = vgcourse.initialize(nn.Linear(1, 1).double(), "constant")
    assert lin.weight.item() == 1.0 and lin.bias.item() == 0.0


def test_bias_std_draws_biases_around_zero():
    """Kills ``bias.normal_(0.0, …)`` → ``normal_(1.0, …)``: the mean of 300 biases of std 0.3
    is within 4 · 0.3/√300 ≈ 0.07 of zero."""
    lin = vgcourse.initialize(nn.Linear(10, 300).double(), "he", bias_std=0.3,
                              generator=torch.Generator().manual_seed(0))
    bias = lin.bias
    assert abs(bias.mean().item()) < 4 * 0.3 / math.sqrt(300)


# -- exploring ------------------------------------------------------------------------------------
def test_full_product_up_to_max_frames_and_not_beyond():
    """A grid of exactly MAX_FRAMES (60) settings is swept as a full product, 61 is not: kills
    ``count = 1`` → ``2``, ``<=`` → ``<`` and MAX_FRAMES 60 → 61."""
    assert MAX_FRAMES == 60

    def fn(a, b):
        raise AssertionError("not drawn")

    assert Explorer(fn, {"a": list(range(6)), "b": list(range(10))}).full_product
    assert not Explorer(fn, {"a": list(range(61)), "b": [0]}).full_product


# -- normalization --------------------------------------------------------------------------------
def test_batch_norm_accepts_momentum_one():
    """momentum = 1 (running statistics = the last batch's) is allowed, as in PyTorch: kills
    ``momentum <= 1`` → ``< 1``."""
    bn = BatchNorm(3, momentum=1.0).double()
    x = torch.randn(8, 3, dtype=torch.float64)
    bn(x)
    assert torch.allclose(bn.running_mean, x.mean(0), rtol=0, atol=1e-12)


def test_fit_gradient_growth_without_skipping():
    """Exact geometric norms, nothing skipped: ‖g_l‖² = 1.2^−l, so the fitted per-layer factor
    is 1.2. Kills ``arange(1, len + 1)`` → ``arange(1, len − 1)`` (only the default
    skips hid the shorter layer axis)."""
    norms = [1.2 ** (-k / 2) for k in range(8)]
    assert fit_gradient_growth(norms, skip_first=0, skip_last=0) == pytest.approx(1.2, rel=1e-12)


# -- doctor ---------------------------------------------------------------------------------------
def test_doctor_activation_moments_are_the_layer_outputs():
    """The doctor's activation mean and std of each hidden layer are those of the layer's output
    (tanh(W h + b)) over every unit-example, the std with Bessel's correction, to float64
    round-off. Kills ``count / (count − 1)`` → ``count · (count − 1)`` and ``count + 1``."""
    model = vgcourse.mlp(3, 16, activation="tanh", init="xavier", dtype=torch.float64)
    x, y = vgcourse.data.gaussian_batch(batch=32, features=16, seed=0)
    report = vgcourse.diagnose(model, x, y)
    h = x
    for layer, row in zip(model.hidden, report.layers):
        h = layer(h).detach()
        assert row.activation_mean == pytest.approx(h.mean().item(), rel=0, abs=1e-12)
        assert row.activation_std == pytest.approx(h.std().item(), rel=1e-12, abs=0)


class _LastStep(nn.Module):
    """A one-unit ReLU RNN, h_t = relu(x_t + ρ h_{t−1}), read at its last step. With positive
    inputs every unit is active, so ∂h_{T−1}/∂x_t = ρ^(T−1−t) exactly."""

    def __init__(self, rho, batch_first):
        super().__init__()
        self.rnn = nn.RNN(1, 1, nonlinearity="relu", bias=False, batch_first=batch_first)
        self.out = nn.Linear(1, 1, bias=False)
        self.batch_first = batch_first
        with torch.no_grad():
            self.rnn.weight_ih_l0.fill_(1.0)
            self.rnn.weight_hh_l0.fill_(rho)
            self.out.weight.fill_(1.0)
        self.double()

    def forward(self, x):
        seq, _ = self.rnn(x)
        last = seq[:, -1] if self.batch_first and seq.dim() == 3 else seq[-1]
        return self.out(last)


@pytest.mark.parametrize("rho, verdict", [(0.5, "healthy"), (0.25, "vanishing through time"),
                                          (4.0, "exploding through time")])
@pytest.mark.parametrize("batch_first", [True, False])
def test_doctor_through_time_on_a_linear_recurrence_by_hand(rho, verdict, batch_first):
    """Five steps: the gradient reaching step t is ρ^(4−t) times the last step's, so the
    per-step factor is ρ and first/last is ρ⁴: 1/16 (healthy), 1/256 (< 1/100, vanishing) and
    256 (> 100, exploding). Kills a time axis read from the wrong dimension, ratios inverted,
    the exponent 1/(T − 1) changed, and the 100× thresholds moved."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 5, 1, generator=g, dtype=torch.float64) + 0.5  # batch 3, 5 steps
    if not batch_first:
        x = x.transpose(0, 1).contiguous()
    y = torch.zeros(3, 1, dtype=torch.float64)
    report = diagnose(_LastStep(rho, batch_first), x, y)
    (time,) = report.through_time
    last = time.grad_norms[-1]
    assert last > 0
    assert time.grad_norms == pytest.approx([last * rho ** (4 - t) for t in range(5)],
                                            rel=1e-12, abs=0)
    assert time.per_step_factor == pytest.approx(rho, rel=1e-12)
    assert time.first_to_last == pytest.approx(rho**4, rel=1e-12)
    assert time.verdict == verdict
    layer = next(r for r in report.layers if r.name == "rnn.l0")
    assert (verdict in layer.findings) == (verdict != "healthy")


def test_doctor_through_time_of_an_unbatched_sequence():
    """An unbatched (T, features) sequence into a batch_first RNN: time is dimension 0."""
    model = _LastStep(0.5, batch_first=True)
    x = torch.linspace(1.0, 2.0, 5, dtype=torch.float64).unsqueeze(1)  # 5 steps, no batch
    report = diagnose(model, x, torch.zeros(1, dtype=torch.float64))
    (time,) = report.through_time
    assert len(time.grad_norms) == 5
    assert time.per_step_factor == pytest.approx(0.5, rel=1e-12)


def test_doctor_norms_and_ratios_are_autograds():
    """grad_norm and weight_norm are those of the weight matrix alone (the bias left out when a
    matrix exists), grad_to_weight their ratio, update_to_data lr times it; a layer-norm group
    (no matrix) counts γ and β together."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Tanh(), nn.Linear(4, 2)).double()
    with torch.no_grad():
        model[1].weight.uniform_(0.5, 1.5)
        model[1].bias.uniform_(-0.5, 0.5)
    x = torch.randn(6, 3, dtype=torch.float64)
    y = torch.randn(6, 2, dtype=torch.float64)
    params = [model[0].weight, model[1].weight, model[1].bias, model[3].weight]
    grads = torch.autograd.grad(F.mse_loss(model(x), y), params)
    report = diagnose(model, x, y, lr=0.3)
    first, norm, last = report.layers
    assert [first.name, norm.name, last.name] == ["0", "1", "3"]
    assert first.grad_norm == pytest.approx(grads[0].norm().item(), rel=1e-12)
    assert first.weight_norm == pytest.approx(params[0].norm().item(), rel=1e-12)
    assert first.grad_to_weight == pytest.approx(
        grads[0].norm().item() / params[0].norm().item(), rel=1e-12)
    assert first.update_to_data == pytest.approx(0.3 * first.grad_to_weight, rel=1e-14)
    both = math.sqrt(grads[1].norm().item() ** 2 + grads[2].norm().item() ** 2)
    assert norm.grad_norm == pytest.approx(both, rel=1e-12)
    assert norm.weight_norm == pytest.approx(
        math.sqrt(params[1].norm().item() ** 2 + params[2].norm().item() ** 2), rel=1e-12)
    assert last.grad_norm == pytest.approx(grads[3].norm().item(), rel=1e-12)


def test_doctor_embedding_weight_norm_is_over_the_rows_used():
    """Token ids 1, 1 and 4: the embedding's weight norm is that of rows 1 and 4 only."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 3), nn.Flatten(), nn.Linear(6, 1)).double()
    x = torch.tensor([[1, 4], [1, 1]])
    report = diagnose(model, x, torch.zeros(2, 1, dtype=torch.float64))
    rows = model[0].weight[[1, 4]]
    assert report.layers[0].family == "embedding"
    assert report.layers[0].weight_norm == pytest.approx(rows.norm().item(), rel=1e-12)


def test_doctor_dead_units_of_a_sequence_layer_are_counted_per_position():
    """A linear layer over (batch 4, positions 3, features 1) with two units: unit 1 has bias −1
    and is dead everywhere; unit 0 is x, positive at position 0 and negative at positions 1 and
    2 on every example. Of the 3 × 2 position-units, 5 are dead on every example: 5/6."""
    model = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Flatten(), nn.Linear(6, 1)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0], [0.0]]))
        model[0].bias.copy_(torch.tensor([0.0, -1.0]))
    sign = torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64)
    x = (torch.arange(1, 5, dtype=torch.float64).unsqueeze(1) * sign).unsqueeze(2)
    report = diagnose(model, x, torch.zeros(4, 1, dtype=torch.float64))
    assert report.layers[0].dead_fraction == pytest.approx(5 / 6, rel=1e-15)
    assert "dead units" in report.layers[0].findings


@pytest.mark.parametrize("dead, finding", [(2, False), (3, True)])
def test_doctor_dead_units_must_be_more_than_half(dead, finding):
    """Four ReLU units, 2 or 3 of them with bias −100 (dead on every example): a dead fraction
    of exactly 1/2 is not "dead units" (more than half are needed), 3/4 is."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, -1.0]]))
        model[0].bias.copy_(torch.tensor([0.0, 0.0, 0.0, 0.0]))
        model[0].bias[4 - dead:] = -100.0
    x = torch.tensor([[1.0, 2.0], [2.0, 1.0], [0.5, 0.5]], dtype=torch.float64)
    report = diagnose(model, x, torch.zeros(3, 1, dtype=torch.float64))
    assert report.layers[0].dead_fraction == dead / 4
    assert ("dead units" in report.layers[0].findings) == finding


def test_doctor_activation_statistics_of_a_layer_called_twice():
    """The same linear layer and tanh applied twice: two calls; mean and std are the last
    call's; the saturated fraction the larger of the two (the first call's pre-activations
    are ±3, all saturated; the second's, tanh(±3)·w, mostly not)."""
    lin = nn.Linear(2, 2, bias=False).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 0.5]]))

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.act, self.out = lin, nn.Tanh(), nn.Linear(2, 1).double()

        def forward(self, x):
            return self.out(self.act(self.lin(self.act(self.lin(x)))))

    x = torch.tensor([[3.0, 6.0], [-3.0, -6.0], [3.0, -6.0]], dtype=torch.float64)
    report = diagnose(Twice(), x, torch.zeros(3, 1, dtype=torch.float64))
    row = report.layers[0]
    second = torch.tanh(lin(torch.tanh(lin(x)))).detach()
    assert row.activation_calls == 2
    assert row.activation_mean == pytest.approx(second.mean().item(), rel=1e-12, abs=1e-15)
    assert row.activation_std == pytest.approx(second.std().item(), rel=1e-12)
    assert row.saturated_fraction == 1.0  # first call: |u| = 3 > 2.18 everywhere


def test_doctor_text_table_and_summary():
    """The text report: a header, a rule of dashes as long as it, one row per layer ("—" where
    no activation was seen), a blank line and the overall verdict; the summary names the
    layers of each finding, "k of n layers". Every hidden unit dead: no gradient reaches
    either layer (the read-out's inputs are all 0)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
    with torch.no_grad():
        model[0].bias.fill_(-100.0)
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    report = diagnose(model, x, y)
    lines = str(report).splitlines()
    assert lines[1] == "-" * len(lines[0]) and len(lines[0]) > 40
    assert len(lines) == 2 + 2 + 2
    assert lines[2].endswith("100.0  dead units, vanishing")
    assert lines[3].endswith("—  vanishing") and lines[3].startswith("2 ")
    assert lines[4] == "" and lines[5].startswith("Overall: dead units.")
    assert report.findings == ["dead units", "vanishing"] and report.verdict == "dead units"
    assert report.summary == "dead units: 1 of 2 layers (0); vanishing: 2 of 2 layers (0, 2)."


class _Attention(nn.Module):
    """One attention layer and a read-out, plus a linear layer and an embedding never called."""

    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(4, 1, dtype=torch.float64)
        self.head = nn.Linear(12, 1, dtype=torch.float64)
        self.unused = nn.Linear(2, 2, dtype=torch.float64)
        self.emb = nn.Embedding(5, 2, dtype=torch.float64)

    def forward(self, x):
        out, _ = self.attn(x, x, x)
        return self.head(out.transpose(0, 1).flatten(1))


def test_doctor_splits_in_proj_into_thirds_and_names_unused_layers():
    """in_proj_weight (12 × 4) is q, k, v: rows 0–3, 4–7, 8–11, each group's gradient norm that
    of its rows (autograd). A layer and an embedding never called take no part in the loss: no
    gradient, and the embedding uses no rows, so its weight norm is 0."""
    torch.manual_seed(0)
    model = _Attention()
    x = torch.randn(3, 2, 4, dtype=torch.float64)  # (length, batch, features)
    y = torch.randn(2, 1, dtype=torch.float64)
    (grad,) = torch.autograd.grad(F.mse_loss(model(x), y), [model.attn.in_proj_weight])
    report = {r.name: r for r in diagnose(model, x, y).layers}
    for i, name in enumerate("qkv"):
        row = report[f"attn.{name}"]
        assert row.parameters == [f"in_proj_weight[{4 * i}:{4 * i + 4}]",
                                  f"in_proj_bias[{4 * i}:{4 * i + 4}]"]
        assert row.grad_norm == pytest.approx(grad[4 * i:4 * i + 4].norm().item(), rel=1e-12)
        assert row.weight_norm == pytest.approx(
            model.attn.in_proj_weight[4 * i:4 * i + 4].norm().item(), rel=1e-12)
    for name in ("unused", "emb"):
        assert report[name].grad_norm == 0.0
        assert report[name].findings == ["vanishing"]
        assert report[name].reasons == ["this layer takes no part in the loss"]
    assert report["emb"].weight_norm == 0.0
    assert report["unused"].weight_norm == pytest.approx(
        model.unused.weight.norm().item(), rel=1e-12)


def test_doctor_ratios_are_judged_whatever_the_weight_scale():
    """Three linear layers, every weight norm below 1: W₁ = ½I, W₂ = 10⁻³I, W₃ = ½(1, 1). The
    first layer's gradient-to-weight ratio is about 10⁵ below the second's (vanishing), the
    second's about 10⁵ above the read-out's (exploding): the verdicts depend on ratios only,
    not on a weight norm or a read-out ratio above 1."""
    model = nn.Sequential(nn.Linear(2, 2, bias=False), nn.Linear(2, 2, bias=False),
                          nn.Linear(2, 1, bias=False)).double()
    with torch.no_grad():
        model[0].weight.copy_(0.5 * torch.eye(2))
        model[1].weight.copy_(1e-3 * torch.eye(2))
        model[2].weight.fill_(0.5)
    x = torch.tensor([[1.0, 2.0], [-1.0, 0.5], [0.3, -0.2]], dtype=torch.float64)
    y = torch.tensor([[1.0], [2.0], [-1.0]], dtype=torch.float64)
    first, second, readout = diagnose(model, x, y).layers
    assert max(r.weight_norm for r in (first, second, readout)) < 1
    assert readout.grad_to_weight < 1
    assert second.grad_to_weight / first.grad_to_weight > 1e4
    assert second.grad_to_weight / readout.grad_to_weight > 1e4
    assert "vanishing" in first.findings and "exploding" not in first.findings
    assert "exploding" in second.findings
    assert "exploding" not in readout.findings


def test_doctor_through_time_of_two_steps():
    """Two steps: the per-step factor is the ratio itself, ρ."""
    x = torch.full((3, 2, 1), 0.7, dtype=torch.float64)
    report = diagnose(_LastStep(0.5, batch_first=True), x, torch.zeros(3, 1, dtype=torch.float64))
    (time,) = report.through_time
    assert time.per_step_factor == pytest.approx(0.5, rel=1e-12)
    assert time.first_to_last == pytest.approx(0.5, rel=1e-12)
    assert time.verdict == "healthy"  # two steps are enough to be judged


def test_doctor_of_one_linear_layer_and_one_example_by_hand():
    """A single layer W = (1, 2), b = ½, one example x = (1, 1), target 0: the output is 3.5,
    the loss 3.5², ∂L/∂W = 2·3.5·x, so ‖∂L/∂W‖ = 7√2 and ‖W‖ = √5 (kills reading the device
    and dtype from a second group, and a batch of one refused). A 0-d or empty x or y is
    refused with a ValueError naming it."""
    model = nn.Linear(2, 1).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 2.0]]))
        model.bias.fill_(0.5)
    x, y = torch.ones(1, 2, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)
    (row,) = diagnose(model, x, y).layers
    assert row.grad_norm == pytest.approx(7 * math.sqrt(2), rel=1e-15)
    assert row.weight_norm == pytest.approx(math.sqrt(5), rel=1e-15)
    for bad_x, bad_y, message in [(torch.tensor(1.0, dtype=torch.float64), y, r"x is an empty "
                                   r"batch \(shape \(\)\)"),
                                  (torch.zeros(0, 2, dtype=torch.float64), y, r"x is an empty "
                                   r"batch \(shape \(0, 2\)\)"),
                                  (x, torch.tensor(0.0, dtype=torch.float64), r"y is empty"),
                                  (x, torch.zeros(0, 1, dtype=torch.float64), r"y is empty")]:
        with pytest.raises(ValueError, match=message):
            diagnose(model, bad_x, bad_y)


def test_doctor_refuses_class_labels_for_a_one_dimensional_output():
    """A model whose output is one number per example (shape (batch,)) has one class: integer
    labels are refused as for an output of shape (batch, 1)."""
    model = nn.Sequential(nn.Linear(2, 1), nn.Flatten(0)).double()
    x = torch.ones(3, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="the model has 1 output"):
        diagnose(model, x, torch.zeros(3, dtype=torch.long))


def test_doctor_signal_fades_below_a_hundredth_of_the_first_layers_std():
    """Tanh layers, the second with W₂ = 10⁻³·I and b₂ = 0: its outputs are about 10⁻³ of the
    first's, so only the second layer gets "the signal fades" (kills the factor 100 dropped or
    turned into a division)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 2), nn.Tanh(),
                          nn.Linear(2, 1)).double()
    with torch.no_grad():
        model[2].weight.copy_(1e-3 * torch.eye(2))
        model[2].bias.zero_()
    x = torch.tensor([[1.0, -1.0], [0.5, 2.0], [-1.5, 0.3]], dtype=torch.float64)
    first, second, _ = diagnose(model, x, torch.zeros(3, 1, dtype=torch.float64)).layers
    assert second.activation_std < first.activation_std / 500
    assert any(r.startswith("the signal fades") for r in second.reasons)
    assert not any(r.startswith("the signal fades") for r in first.reasons)


def test_doctor_std_of_two_values_and_dead_units_of_2d_and_1d_batches():
    """One tanh unit, W = 1, b = 0, batch (½, 1): two values, std |tanh 1 − tanh ½|/√2 (Bessel's
    n − 1 = 1). Two ReLU units with weights 1 and −1 on x = 1, −1, 2: each is active on some
    example, so none is dead (not 3 of the 6 unit-examples). An unbatched x = (1,): unit 1
    (weight −1) is dead, one unit of two."""
    model = nn.Sequential(nn.Linear(1, 1), nn.Tanh(), nn.Linear(1, 1)).double()
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.zero_()
    x = torch.tensor([[0.5], [1.0]], dtype=torch.float64)
    row = diagnose(model, x, torch.zeros(2, 1, dtype=torch.float64)).layers[0]
    assert row.activation_std == pytest.approx((math.tanh(1) - math.tanh(0.5)) / math.sqrt(2),
                                               rel=1e-14)
    relu = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 1)).double()
    with torch.no_grad():
        relu[0].weight.copy_(torch.tensor([[1.0], [-1.0]]))
        relu[0].bias.zero_()
    x = torch.tensor([[1.0], [-1.0], [2.0]], dtype=torch.float64)
    assert diagnose(relu, x, torch.zeros(3, 1, dtype=torch.float64)).layers[0].dead_fraction == 0
    one = torch.ones(1, dtype=torch.float64)
    assert diagnose(relu, one, torch.zeros(1, dtype=torch.float64)).layers[0].dead_fraction == 0.5


def test_doctor_groups_separate_q_k_v_projections():
    """Keys and values of other widths than the queries (kdim, vdim): q_proj_weight,
    k_proj_weight and v_proj_weight are the groups attn.q, attn.k, attn.v, each with its third of
    in_proj_bias, and each gradient norm that of its own matrix (autograd)."""
    torch.manual_seed(0)
    attn = nn.MultiheadAttention(4, 1, kdim=3, vdim=5, dtype=torch.float64)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn, self.head = attn, nn.Linear(4, 1, dtype=torch.float64)

        def forward(self, x):
            out, _ = self.attn(x[..., :4], x[..., 4:7], x[..., 7:])
            return self.head(out[-1])

    model = Model()
    x = torch.randn(3, 2, 12, dtype=torch.float64)  # (length, batch, 4 + 3 + 5)
    y = torch.randn(2, 1, dtype=torch.float64)
    mats = [attn.q_proj_weight, attn.k_proj_weight, attn.v_proj_weight]
    grads = torch.autograd.grad(F.mse_loss(model(x), y), mats)
    report = {r.name: r for r in diagnose(model, x, y).layers}
    for i, name in enumerate("qkv"):
        row = report[f"attn.{name}"]
        assert row.parameters == [f"{name}_proj_weight", f"in_proj_bias[{4 * i}:{4 * i + 4}]"]
        assert row.grad_norm == pytest.approx(grads[i].norm().item(), rel=1e-12)
        assert row.weight_norm == pytest.approx(mats[i].norm().item(), rel=1e-12)


# -- probe ----------------------------------------------------------------------------------------
def _hand_forward(net, x, upto):
    """h_upto of a plain vgcourse.mlp, written out: h ← φ(W h + b) with the registry's φ."""
    h = x
    for layer in net.hidden[:upto]:
        h = vgcourse.get_activation(layer.activation_name).function(layer.linear(h))
    return h


def test_jacobian_spectrum_of_a_scaled_orthogonal_linear_net():
    """Linear layers 0.5·Q, depth 3: J = Q₃Q₂Q₁/8, every singular value 1/8; a (1, n) input is
    the same input, a batch of two is refused."""
    net = vgcourse.mlp(3, 6, activation="identity", init="orthogonal", gain=0.5, seed=0,
                       dtype=torch.float64)
    x = torch.randn(6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    eighth = torch.full((6,), 0.125, dtype=torch.float64)
    assert torch.allclose(vgcourse.probe.jacobian_spectrum(net, x), eighth, rtol=0, atol=1e-14)
    assert torch.allclose(vgcourse.probe.jacobian_spectrum(net, x[None]), eighth, rtol=0,
                          atol=1e-14)
    with pytest.raises(ValueError, match="x has shape"):
        vgcourse.probe.jacobian_spectrum(net, torch.zeros(2, 6, dtype=torch.float64))


def _assert_log_spectrum_is_the_svd(net, x, shape):
    """Each row l of jacobian_log_spectrum is log σ_i(∂h_l/∂x) of the written-out forward pass,
    −inf exactly where σ_i = 0; returns the last layer's σ_i."""
    logs = vgcourse.probe.jacobian_log_spectrum(net, x)
    assert logs.shape == shape
    for layer in range(1, shape[0] + 1):
        jac = torch.autograd.functional.jacobian(
            lambda v, upto=layer: _hand_forward(net, v, upto), x)
        sv = torch.linalg.svdvals(jac)
        zero = sv < 1e-12 * sv.max()
        assert torch.equal(logs[layer - 1] == -math.inf, zero)
        assert torch.allclose(logs[layer - 1][~zero].exp(), sv[~zero], rtol=1e-10, atol=0)
    return sv


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_jacobian_spectra_are_the_svd_of_autograds_jacobian(activation):
    """Each row l of jacobian_log_spectrum is log σ_i(∂h_l/∂x) of the written-out forward pass,
    −inf exactly where σ_i = 0 (inactive ReLUs); jacobian_spectrum is the last row's σ_i."""
    net = vgcourse.mlp(3, 5, activation=activation, init="he", seed=1, dtype=torch.float64)
    x = torch.randn(5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    sv = _assert_log_spectrum_is_the_svd(net, x, (3, 5))
    assert torch.allclose(vgcourse.probe.jacobian_spectrum(net, x), sv, rtol=1e-10, atol=1e-13)


def test_preactivation_moments_are_the_mean_squares_of_each_layers_input():
    net = vgcourse.mlp(3, 4, activation="tanh", init="xavier", seed=0, dtype=torch.float64)
    with torch.no_grad():
        for layer in net.hidden:
            layer.linear.bias.fill_(0.3)
    x = torch.randn(7, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    expected = []
    h = x
    for layer in net.hidden:
        u = layer.linear(h).detach()
        expected.append((u**2).mean().item())
        h = torch.tanh(u)
    assert vgcourse.probe.preactivation_moments(net, x) == pytest.approx(expected, rel=1e-12)


def test_flat_gradient_and_cosine_by_hand():
    """Gradients in parameter order, zeros for a parameter without one; cos((3, 4), (4, 3)) =
    24/25."""
    lin = nn.Linear(2, 3)
    lin.weight.grad = torch.arange(6.0).view(3, 2)
    flat = vgcourse.probe.flat_gradient(lin)
    assert flat.dtype == torch.float64
    assert flat.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 0.0, 0.0, 0.0]
    assert vgcourse.probe.flat_gradient([lin.bias]).tolist() == [0.0, 0.0, 0.0]
    assert vgcourse.probe.cosine(torch.tensor([3.0, 4.0]), torch.tensor([4.0, 3.0])) == (
        pytest.approx(24 / 25, rel=1e-15))
    with pytest.raises(ValueError, match="zero vector"):
        vgcourse.probe.cosine(torch.zeros(2), torch.ones(2))


def test_dead_threshold_is_a_thousandth_of_the_sigmoid_peak():
    """Sigmoid units with zero weights and biases 7.6, 7.6, 9, 0: slopes 5.0·10⁻⁴, 5.0·10⁻⁴,
    1.2·10⁻⁴, 1/4 on every example. Dead means abs(φ') ≤ 10⁻³ × sup σ' = 2.5·10⁻⁴: one unit of
    four, in the probe and in the doctor (without the × sup, or at 2·10⁻³, three)."""
    model = vgcourse.mlp(2, 4, in_features=1, out_features=1, activation="sigmoid", seed=0,
                         dtype=torch.float64)
    with torch.no_grad():
        model.hidden[0].linear.weight.zero_()
        model.hidden[0].linear.bias.copy_(torch.tensor([7.6, 7.6, 9.0, 0.0]))
    x = torch.linspace(-1, 1, 5, dtype=torch.float64).unsqueeze(1)
    y = torch.zeros(5, 1, dtype=torch.float64)
    assert vgcourse.gradient_flow(model, x, y).dead_fraction[0] == 0.25
    assert diagnose(model, x, y).layers[0].dead_fraction == 0.25


def test_layer_ratios_of_a_scaled_orthogonal_linear_net():
    """Each linear layer 0.5·Q multiplies the gradient by 0.5 on its way down: every ratio
    ‖∂L/∂h_{l−1}‖/‖∂L/∂h_l‖ is 0.5."""
    net = vgcourse.mlp(4, 6, activation="identity", init="orthogonal", gain=0.5, seed=0,
                       dtype=torch.float64)
    x, y = vgcourse.data.gaussian_batch(batch=8, features=6, seed=0)
    ratios = vgcourse.gradient_flow(net, x.double(), y.double()).layer_ratios()
    assert ratios == pytest.approx([0.5, 0.5, 0.5], rel=1e-12)


def test_jacobian_log_spectrum_of_a_narrow_input_and_a_dead_unit():
    """Input width 3 into width 5, unit 0 of layer 1 forced off (bias −100): the spectrum has 3
    columns (the input's width, not the layers'), each row the SVD of autograd's 5 × 3 Jacobian
    of that layer, −inf exactly where a singular value is 0."""
    net = vgcourse.mlp(3, 5, in_features=3, activation="relu", init="he", seed=3,
                       dtype=torch.float64)
    with torch.no_grad():
        net.hidden[0].linear.bias[0] = -100.0
    x = torch.randn(3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    _assert_log_spectrum_is_the_svd(net, x, (3, 3))


def test_product_log_singular_values_of_one_matrix_identities_and_bad_factors():
    """One factor diag(2, ½): logs (log 2, −log 2) (kills reading the device of matrices[1],
    absent here). Identity factors: the rescaled product's largest entry is exactly 1 at every
    step and every log is 0 (kills ``scale == 0`` → ``scale == 1``). A 3 × 3 second factor
    after a 2 × 2 first is named W_2 (kills ``enumerate(..., start=2)``); a zero matrix has no
    log singular values."""
    product = vgcourse.probe.product_log_singular_values
    w = torch.diag(torch.tensor([2.0, 0.5], dtype=torch.float64))
    logs = product([w])
    assert logs.shape == (1, 2)
    assert torch.allclose(logs[0], torch.tensor([math.log(2.0), -math.log(2.0)],
                                                dtype=torch.float64), rtol=0, atol=1e-15)
    eye = torch.eye(3, dtype=torch.float64)
    assert torch.allclose(product([eye, eye]), torch.zeros(2, 3, dtype=torch.float64), rtol=0,
                          atol=1e-15)
    with pytest.raises(ValueError, match=r"^matrices\[1\] \(W_2\) is \(3, 3\); every matrix "
                                         r"must be 2×2 like W_1"):
        product([w, eye])
    with pytest.raises(ValueError, match="singular or not finite"):
        product([torch.zeros(2, 2, dtype=torch.float64)])
    for bad in (torch.ones(2, 3), torch.ones(2)):
        with pytest.raises(ValueError, match=r"matrices\[0\] \(W_1\) is \(2,( 3)?\); expected a "
                                             "square 2-d tensor"):
            product([bad])


def test_preactivation_moments_of_one_example_and_of_no_batch():
    """Zero weights, biases (1, 2, 3): every pre-activation of layer 1 is its bias, q₁ = 14/3,
    even for a batch of one example (kills ``len(x) == 1``); a 0-d tensor and an empty batch are
    refused with a ValueError naming their shape (kills ``x.dim() == 1``)."""
    net = vgcourse.mlp(1, 3, in_features=2, activation="tanh", seed=0, dtype=torch.float64)
    with torch.no_grad():
        net.hidden[0].linear.weight.zero_()
        net.hidden[0].linear.bias.copy_(torch.tensor([1.0, 2.0, 3.0]))
    q = vgcourse.probe.preactivation_moments(net, torch.ones(1, 2, dtype=torch.float64))
    assert q == pytest.approx([14 / 3], rel=1e-15)
    with pytest.raises(ValueError, match=r"x has shape \(\);"):
        vgcourse.probe.preactivation_moments(net, torch.tensor(1.0))
    with pytest.raises(ValueError, match=r"x has shape \(0, 2\);"):
        vgcourse.probe.preactivation_moments(net, torch.zeros(0, 2))


def test_saturated_and_dead_fractions_of_a_tanh_then_sigmoid_net():
    """Two activations, so each layer is measured on its own (not stacked with the first
    layer's activation). Zero weights: every example's pre-activations are the biases.
    Tanh, biases 0, 1, 2, 3: slopes 1 − tanh² = 1, 0.42, 0.071, 0.0099; only the last is below
    5 % of sup = 1: saturated ¼. Sigmoid, biases 7.6, 1, 4, 5: slopes σ(1 − σ) = 5.0·10⁻⁴,
    0.197, 0.0177, 0.0066 against 5 % × ¼ = 0.0125: saturated ½ (without the × sup: all four
    below ¼, or three below 0.05); none at most 10⁻³ × ¼ (without the × sup the first is
    dead). Means and stds are those of the constant outputs tanh(b) and σ(b)."""
    from vgcourse.models import MLP, HiddenLayer

    tanh, sigmoid = vgcourse.get_activation("tanh"), vgcourse.get_activation("sigmoid")
    model = MLP([HiddenLayer(1, 4, tanh), HiddenLayer(4, 4, sigmoid)], nn.Linear(4, 1)).double()
    biases = [torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64),
              torch.tensor([7.6, 1.0, 4.0, 5.0], dtype=torch.float64)]
    with torch.no_grad():
        for layer, b in zip(model.hidden, biases):
            layer.linear.weight.zero_()
            layer.linear.bias.copy_(b)
    x = torch.linspace(-1, 1, 5, dtype=torch.float64).unsqueeze(1)
    flow = vgcourse.gradient_flow(model, x, torch.zeros(5, 1, dtype=torch.float64))
    assert flow.activation == "tanh"  # the first layer's
    assert flow.saturated_fraction == [0.25, 0.5]
    assert flow.dead_fraction == [0.0, 0.0]
    for k, h in enumerate([torch.tanh(biases[0]), torch.sigmoid(biases[1])]):
        values = h.double().repeat(5)  # 5 examples × 4 units
        assert flow.activation_mean[k] == pytest.approx(values.mean().item(), rel=1e-14)
        assert flow.activation_std[k] == pytest.approx(values.std().item(), rel=1e-12)


def test_jacobian_log_spectrum_of_identity_layers_and_of_a_normalised_net():
    """Identity layers W = I, b = 0: the rescaled product's largest entry is exactly 1 and
    every log singular value 0 (kills ``scale == 0`` → ``scale == 1``). A bias-free ReLU layer
    W = I at x = (1, −½, 2): u = x, unit 1 is off, logs (0, 0, −inf). A batch-normalised net
    is refused, naming hidden layer 1 (kills ``enumerate(..., start=2)``)."""
    net = vgcourse.mlp(2, 3, activation="identity", seed=0, dtype=torch.float64)
    with torch.no_grad():
        for layer in net.hidden:
            layer.linear.weight.copy_(torch.eye(3))
            layer.linear.bias.zero_()
    logs = vgcourse.probe.jacobian_log_spectrum(net, torch.tensor([1.0, -2.0, 0.5]))
    assert torch.allclose(logs, torch.zeros(2, 3, dtype=torch.float64), rtol=0, atol=1e-15)
    relu = vgcourse.mlp(1, 3, activation="relu", seed=0, dtype=torch.float64)
    relu.hidden[0].linear = nn.Linear(3, 3, bias=False, dtype=torch.float64)
    with torch.no_grad():
        relu.hidden[0].linear.weight.copy_(torch.eye(3))
    logs = vgcourse.probe.jacobian_log_spectrum(relu, torch.tensor([1.0, -0.5, 2.0]))
    assert logs[0, :2].abs().max() < 1e-15 and logs[0, 2] == -math.inf  # u = x, no bias
    normed = vgcourse.mlp(2, 3, norm="batch", seed=0)
    with pytest.raises(ValueError, match="^hidden layer 1 is a NormLayer;"):
        vgcourse.probe.jacobian_log_spectrum(normed, torch.zeros(3))


class _OneWeight(nn.Module):
    """h = tanh(w·x) with one weight w and no bias, read out as it is: one parameter."""

    def __init__(self, w):
        super().__init__()
        layer = vgcourse.models.HiddenLayer(1, 1, vgcourse.get_activation("tanh"))
        layer.linear = nn.Linear(1, 1, bias=False)
        self.hidden = nn.ModuleList([layer])
        with torch.no_grad():
            layer.linear.weight.fill_(w)
        self.double()

    def forward(self, x):
        return self.hidden[0](x)


def test_gradient_flow_of_one_tanh_unit_by_hand():
    """w = ½, inputs ±2, targets 0: h = ±tanh 1, loss = mean h² = tanh² 1, ∂L/∂h = h (the mean
    over two examples halves 2h), so ‖∂L/∂h‖ = √2·tanh 1; ∂L/∂w = Σ h·(1 − tanh² 1)·x =
    4·tanh 1·(1 − tanh² 1); ‖w‖ = ½; the outputs' mean is 0 and std √2·tanh 1 (Bessel). A model
    with a single parameter and a single layer (kills reading params[1] or layers[1])."""
    t = math.tanh(1.0)
    x = torch.tensor([[2.0], [-2.0]], dtype=torch.float64)
    flow = vgcourse.gradient_flow(_OneWeight(0.5), x, torch.zeros(2, 1, dtype=torch.float64))
    assert flow.loss == pytest.approx(t * t, rel=1e-15)
    assert flow.activation_grad_norms == pytest.approx([math.sqrt(2) * t], rel=1e-15)
    assert flow.weight_grad_norms == pytest.approx([4 * t * (1 - t * t)], rel=1e-14)
    assert flow.weight_norms == [0.5]
    assert flow.activation == "tanh"
    assert flow.activation_mean == pytest.approx([0.0], rel=0, abs=1e-16)
    assert flow.activation_std == pytest.approx([math.sqrt(2) * t], rel=1e-15)
    assert flow.saturated_fraction == [0.0] and flow.dead_fraction == [0.0]


def test_a_float32_slope_exactly_at_the_dead_threshold_is_dead():
    """Dead means abs(φ') at most 10⁻³ × sup φ', the bound included. Measured in float32
    (dtype=None), a sigmoid unit at u = −8.2935495 (a float32) has σ(1 − σ) equal to the
    threshold ¼·10⁻³ rounded to float32, exactly: it is dead, its neighbour at u = 0 is not
    (kills ``<=`` → ``<``). Tanh first, so the sigmoid layer is measured on its own."""
    from vgcourse.models import MLP, HiddenLayer

    tanh, sigmoid = vgcourse.get_activation("tanh"), vgcourse.get_activation("sigmoid")
    model = MLP([HiddenLayer(1, 2, tanh), HiddenLayer(2, 2, sigmoid)], nn.Linear(2, 1))
    with torch.no_grad():
        model.hidden[1].linear.weight.zero_()
        model.hidden[1].linear.bias.copy_(torch.tensor([-8.293549537658691, 0.0]))
    slope = sigmoid.derivative_from_output(torch.sigmoid(model.hidden[1].linear.bias))
    assert slope[0] == torch.tensor(vgcourse.probe.DEAD_THRESHOLD * sigmoid.derivative_sup,
                                    dtype=torch.float32)
    flow = vgcourse.gradient_flow(model, torch.ones(3, 1), torch.zeros(3, 1), dtype=None)
    assert flow.dead_fraction[1] == 0.5


@pytest.mark.parametrize("name", ["gelu", "silu"])
def test_dead_units_of_a_plain_gelu_or_silu_net_by_hand(name):
    """φ' from the pre-activation (GELU and SiLU have no formula in the output). Zero weights,
    biases −12, 0, −3, 1 in both layers: only the first unit has abs(φ') at most 10⁻³ × sup
    (GELU'(−12) and SiLU'(−12) are below 10⁻⁴; GELU'(−3) ≈ −0.012, SiLU'(−3) ≈ −0.088): a
    quarter of each layer is dead, none saturates (neither activation saturates)."""
    model = vgcourse.mlp(2, 4, in_features=1, activation=name, seed=0, dtype=torch.float64)
    with torch.no_grad():
        for layer in model.hidden:
            layer.linear.weight.zero_()
            layer.linear.bias.copy_(torch.tensor([-12.0, 0.0, -3.0, 1.0]))
    x = torch.linspace(-1, 1, 3, dtype=torch.float64).unsqueeze(1)
    flow = vgcourse.gradient_flow(model, x, torch.zeros(3, 1, dtype=torch.float64))
    assert flow.dead_fraction == [0.25, 0.25]
    assert flow.saturated_fraction == [0.0, 0.0]


def test_one_activation_in_layers_of_two_widths_by_hand():
    """Tanh layers of widths 3 and 2 cannot be stacked into one tensor: each is measured on its
    own (kills stacking whenever the activation is shared). Zero weights, biases (0, 1, 2) and
    (3, 0): slopes 1 − tanh² = 1, 0.42, 0.071 and 0.0099, 1; only 0.0099 is below 5 %."""
    from vgcourse.models import MLP, HiddenLayer

    tanh = vgcourse.get_activation("tanh")
    model = MLP([HiddenLayer(1, 3, tanh), HiddenLayer(3, 2, tanh)], nn.Linear(2, 1)).double()
    with torch.no_grad():
        for layer, b in zip(model.hidden, ([0.0, 1.0, 2.0], [3.0, 0.0])):
            layer.linear.weight.zero_()
            layer.linear.bias.copy_(torch.tensor(b))
    x = torch.linspace(-1, 1, 4, dtype=torch.float64).unsqueeze(1)
    flow = vgcourse.gradient_flow(model, x, torch.zeros(4, 1, dtype=torch.float64))
    assert flow.saturated_fraction == [0.0, 0.5]
    assert flow.dead_fraction == [0.0, 0.0]
    assert flow.activation_mean[1] == pytest.approx(math.tanh(3.0) / 2, rel=1e-15)


# -- assign (the student edition) -----------------------------------------------------------------
def _tiny_book(root):
    """A two-page book: an intro, chapter 1 with one exercise region and a solution cell, and
    the instructors' page, which the student edition drops."""
    import nbformat

    (root / "book").mkdir(parents=True)
    (root / "book" / "intro.md").write_text("# Intro\n")
    (root / "book" / "instructors.md").write_text("# For instructors\n")
    (root / "_config.yml").write_text("title: Tiny\nlaunch_buttons:\n  colab_url: x\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n"
                                   "- file: book/01_x\n- file: book/instructors\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 1. X"),
                nbformat.v4.new_code_cell("import numpy.linalg as la\nimport os.path\n"
                                          "### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION"),
                nbformat.v4.new_code_cell("print('leaked')", metadata={"tags": ["solution"]}),
                nbformat.v4.new_code_cell("vgcourse.check('01-x', answer)")]
    nbformat.write(nb, root / "book" / "01_x.ipynb")


def test_student_site_writes_the_book_without_instructors_and_solutions(tmp_path):
    import yaml

    from vgcourse.authoring.assign import student_site

    root, target = tmp_path / "src", tmp_path / "site"
    _tiny_book(root)
    written = student_site(target, root)
    assert written == [target / "book" / "01_x.ipynb"]
    assert (target / "book" / "intro.md").read_text() == "# Intro\n"
    toc = yaml.safe_load((target / "_toc.yml").read_text())
    assert toc["chapters"] == [{"file": "book/01_x"}]
    config = yaml.safe_load((target / "_config.yml").read_text())
    assert config["title"] == "Tiny (student edition)" and config["launch_buttons"] == {}
    student = json.loads(written[0].read_text())
    sources = ["".join(c["source"]) for c in student["cells"]]
    assert len(sources) == 3 and "leaked" not in "".join(sources)
    assert "answer = ..." in sources[1] and "42" not in sources[1]
    with pytest.raises(ValueError, match="would overwrite the book"):
        student_site(root, root)


def test_command_line_counts_stubs_and_removed_cells(tmp_path, capsys):
    from vgcourse.authoring.assign import main

    _tiny_book(tmp_path)
    path = tmp_path / "book" / "01_x.ipynb"
    assert main(["--mark", str(path)]) == 0
    assert main(["--out", str(tmp_path / "out"), str(path)]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line == (f"{tmp_path / 'out' / '01_x.ipynb'}: 1 solution region cell(s) stubbed, "
                    "1 solution cell(s) removed, 1 self-check(s) kept")


# -- theory ---------------------------------------------------------------------------------------
# References by an independent method: adaptive quadrature (scipy.integrate.quad) for Gaussian
# integrals, brentq for fixed points, autograd or finite differences for derivatives, or values
# worked out by hand in the docstring.
def _gauss(f, q):
    """E[f(√q z)], z ~ N(0, 1), by scipy's adaptive quadrature on each half-line."""
    s = math.sqrt(q)

    def integrand(z):
        return f(s * z) * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)

    return sum(integrate.quad(integrand, a, b, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
               for a, b in ((-math.inf, 0.0), (0.0, math.inf)))


def _tanh_fixed_point(sigma_w, sigma_b):
    """q* of tanh by brentq on q − σ_w² E[tanh²] − σ_b², bracketed in [σ_b²/2, σ_w² + σ_b² + 1]."""
    def gap(q):
        return q - sigma_w**2 * _gauss(lambda u: math.tanh(u) ** 2, q) - sigma_b**2
    return optimize.brentq(gap, sigma_b**2 / 2 + 1e-12, sigma_w**2 + sigma_b**2 + 1, xtol=1e-15,
                           rtol=1e-14)


def _sech4(u):
    return (1 - math.tanh(u) ** 2) ** 2


def test_gaussian_expectation_of_known_integrals():
    """E[cos(√q z)] = e^(−q/2), E[e^(√q z)] = e^(q/2), E[|√q z|] = √(2q/π), E[u⁶] = 15q³: kills
    changes to the nodes' span (12 standard deviations), their scaling and the weights' 1/√(2π)."""
    ge = theory.gaussian_expectation
    assert ge(torch.cos, 2.0) == pytest.approx(math.exp(-1.0), rel=1e-12, abs=0)
    assert ge(torch.exp, 1.0) == pytest.approx(math.exp(0.5), rel=1e-12, abs=0)
    assert ge(torch.abs, 3.0) == pytest.approx(math.sqrt(6 / math.pi), rel=1e-12, abs=0)
    assert ge(lambda u: u**6, 0.5) == pytest.approx(15 * 0.125, rel=1e-12, abs=0)
    assert ge(lambda u: torch.ones_like(u), 0.0) == pytest.approx(1.0, rel=1e-13, abs=0)


def test_layer_gradient_bound_is_the_slope_supremum_times_the_norm():
    """sup σ' = 1/4, sup tanh' = 1: the bound for ‖W‖₂ = 3 is 3/4 and 3."""
    assert theory.layer_gradient_bound("sigmoid", 3.0) == pytest.approx(0.75, rel=1e-15)
    assert theory.layer_gradient_bound("tanh", 3.0) == pytest.approx(3.0, rel=1e-15)
    assert theory.sigmoid_chain_bound(0) == 1.0
    assert theory.sigmoid_chain_bound(2, weight=-8.0) == pytest.approx(4.0, rel=1e-15)


def test_lyapunov_exponents_of_two_by_two_matrices_by_hand():
    """n = 2: R_11² ~ σ_w²/2 · χ²₂ and R_22² ~ σ_w²/2 · χ²₁, so λ = log σ_w + ½(ψ(k/2) − log 1)
    with ψ(1) = −γ and ψ(1/2) = −γ − 2 log 2; spreads √(ψ′(k/2))/2 with ψ′(1) = π²/6 and
    ψ′(1/2) = π²/2."""
    gamma = 0.5772156649015329
    got = theory.gaussian_lyapunov_exponents(2, sigma_w=math.e)
    assert got == pytest.approx([1 - gamma / 2, 1 + (-gamma - 2 * math.log(2)) / 2], rel=1e-12)
    # n = 4, σ_w = 1: ψ(2) = 1 − γ for the largest, ½ log(2/4) shifts every exponent
    assert theory.gaussian_lyapunov_exponents(4)[0] == pytest.approx(
        (1 - gamma + math.log(0.5)) / 2, rel=1e-12)
    assert theory.gaussian_lyapunov_spread(2) == pytest.approx(
        [math.pi / math.sqrt(24), math.pi / math.sqrt(8)], rel=1e-9)  # torch's trigamma: ~1e-10


def test_variance_map_and_trajectory_of_relu_by_hand():
    """ReLU: E[relu(√q z)²] = q/2. σ_w = 2, σ_b = 0.5: q₁ = 4·1 + 0.25 = 4.25,
    q₂ = 4·4.25/2 + 0.25 = 8.75, q₃ = 4·8.75/2 + 0.25 = 17.75."""
    assert theory.variance_map("relu", 3.0, 2.0, 0.5) == pytest.approx(6.25, rel=1e-12)
    assert theory.variance_trajectory("relu", 2.0, 0.5, depth=3) == pytest.approx(
        [4.25, 8.75, 17.75], rel=1e-12)
    assert theory.variance_trajectory("identity", 0.5, 1.0, depth=2, q_input=4.0) == (
        pytest.approx([2.0, 1.5], rel=1e-12))


def test_q_star_closed_forms():
    """ReLU, σ_w = σ_b = 1: q = q/2 + 1 gives q* = 2; linear, σ_w = ½, σ_b = 1: q = q/4 + 1 gives
    4/3; tanh at σ_w = 1, σ_b = 0 (the edge itself) is in the ordered phase: exactly 0."""
    assert theory.q_star("relu", 1.0, 1.0) == pytest.approx(2.0, rel=1e-10)
    assert theory.q_star("identity", 0.5, 1.0) == pytest.approx(4 / 3, rel=1e-10)
    assert theory.q_star("tanh", 1.0) == 0.0
    assert theory.chi("tanh", 1.0) == pytest.approx(1.0, rel=1e-12)
    # max_iter steps at most: one step of q ← q/2 + 1 from q0 = 1 is 1.5
    assert theory.q_star("relu", 1.0, 1.0, max_iter=1) == pytest.approx(1.5, rel=1e-12)


def test_tanh_fixed_point_and_chi_against_adaptive_quadrature():
    """σ_w = 1.5, σ_b = 0.3: q* and χ = σ_w² E[sech⁴(√q* z)] by brentq and scipy quad."""
    q = _tanh_fixed_point(1.5, 0.3)
    assert theory.q_star("tanh", 1.5, 0.3) == pytest.approx(q, rel=1e-9)
    expected = 2.25 * _gauss(_sech4, q)
    assert theory.chi("tanh", 1.5, 0.3) == pytest.approx(expected, rel=1e-9)
    assert float(theory.chi_map("tanh", 2.25, 0.09)) == pytest.approx(expected, rel=1e-8)
    # the variance map itself at an arbitrary q
    assert theory.variance_map("tanh", 0.7, 1.5, 0.3) == pytest.approx(
        2.25 * _gauss(lambda u: math.tanh(u) ** 2, 0.7) + 0.09, rel=1e-11)


def test_predicted_decay_of_relu_by_hand():
    """ReLU at σ_w = 2: χ = 2, so the norm grows by √2 per layer toward the input."""
    assert theory.predicted_decay("relu", 2.0, depth=3) == pytest.approx(
        [2.0, math.sqrt(2), 1.0], rel=1e-12)
    assert theory.predicted_gradient_norms("relu", 2.0, depth=3, top=3.0) == pytest.approx(
        [6.0, 3 * math.sqrt(2), 3.0], rel=1e-12)


def test_sigmoid_tanh_scale_ratio_matches_the_saturation_of_both():
    """With σ_t² = q/m (m = E[tanh²(√q z)]) and σ_s = ratio·σ_t, the sigmoid network's fixed point
    is 4q: σ_s² E[σ(2√q z)²] = 4q, checked by adaptive quadrature at q = 0.8."""
    q = 0.8
    m = _gauss(lambda u: math.tanh(u) ** 2, q)
    ratio = theory.sigmoid_tanh_scale_ratio(q)
    sigma_s2 = ratio**2 * q / m
    assert sigma_s2 * _gauss(lambda u: (0.5 + 0.5 * math.tanh(u / 2)) ** 2, 4 * q) == pytest.approx(
        4 * q, rel=1e-10)


def test_init_sigmas_and_normal_variance_by_hand():
    """default, fan_in 12: Var(W) = 1/36, σ_w = √(12/36), σ_b = 1/6; He at gain ½: σ_w² = 2·¼;
    normal std 0.3: Var = 0.09 (and std is required)."""
    assert theory.init_sigmas("default", 12) == pytest.approx((math.sqrt(1 / 3), 1 / 6),
                                                              rel=1e-14)
    assert theory.init_sigmas("he", 8, gain=0.5) == pytest.approx((math.sqrt(0.5), 0.0),
                                                                  rel=1e-14)
    assert theory.init_variance("normal", 5, std=0.3) == pytest.approx(0.09, rel=1e-14)
    assert theory.init_variance("orthogonal", 30, 20) == pytest.approx(1 / 30, rel=1e-14)
    with pytest.raises(ValueError, match="std=None"):
        theory.init_variance("normal", 5)


def test_rnn_gradient_bound_and_latching_by_hand():
    """(γσ)^lag: (2·0.75)² = 2.25. h = tanh(2h) solved by brentq on (0.5, 1); λ = 2(1 − h²);
    w ≤ 1 latches nowhere: h* = 0, λ = w."""
    assert theory.rnn_gradient_bound(0.75, 2, gamma=2.0) == pytest.approx(2.25, rel=1e-15)
    assert theory.rnn_gradient_bound(0.3, 0) == 1.0
    h = optimize.brentq(lambda v: math.tanh(2 * v) - v, 0.5, 1.0, xtol=1e-16, rtol=1e-15)
    assert theory.latching_fixed_point(2.0) == pytest.approx(h, rel=1e-13)
    assert theory.latching_contraction(2.0) == pytest.approx(2 * (1 - h * h), rel=1e-12)
    h = optimize.brentq(lambda v: math.tanh(1.1 * v) - v, 0.1, 1.0, xtol=1e-16, rtol=1e-15)
    assert theory.latching_fixed_point(1.1) == pytest.approx(h, rel=1e-12)
    assert theory.latching_fixed_point(1.0) == 0.0
    assert theory.latching_contraction(0.5) == pytest.approx(0.5, rel=1e-15)


def test_task_baselines_by_hand():
    """Var(u₁ + u₂) of two U(0, 1) is 2/12; copy task, delay 100, memory 10, 8 symbols:
    10 ln 8/120; memory 5, 4 symbols, delay 10: 5 ln 4/20."""
    assert theory.adding_baseline() == pytest.approx(1 / 6, rel=1e-15)
    assert theory.copy_baseline(100) == pytest.approx(10 * math.log(8) / 120, rel=1e-15)
    assert theory.copy_baseline(10, memory=5, symbols=4) == pytest.approx(5 * math.log(4) / 20,
                                                                          rel=1e-15)


def test_clipping_and_step_factors_by_hand():
    """‖g‖ = 10 clipped at τ = 2: 2 with eps = 0, 20/(10 + 10⁻⁶) with torch's eps; below τ it is
    unchanged. |1 − lr λ|: 0.5 at lr λ = 0.5 or 1.5, 2 at lr λ = 3."""
    assert theory.clipped_norm(10.0, 2.0, eps=0.0) == 2.0
    assert theory.clipped_norm(10.0, 2.0) == pytest.approx(20 / (10 + 1e-6), rel=1e-15)
    assert theory.clipped_norm(1.0, 2.0) == 1.0
    assert theory.gd_step_factor(0.5, 1.0) == pytest.approx(0.5, rel=1e-15)
    assert theory.gd_step_factor(0.5, 3.0) == pytest.approx(0.5, rel=1e-15)
    assert theory.gd_step_factor(0.1, 30.0) == pytest.approx(2.0, rel=1e-14)
    assert theory.inner_loop_factors([1.0, 3.0, -1.0], lr=0.5, steps=2) == pytest.approx(
        [0.25, 0.25, 2.25], rel=1e-15)


@pytest.mark.parametrize("w", [4.0, 6.2])
def test_cliff_gradient_is_the_derivative_of_the_loss(w):
    """Central finite difference of L(w) = (x_T − 0.7)², x_t = w σ(x_{t−1}) − 2.5, T = 12: the
    step 10⁻⁶ leaves a truncation error of order 10⁻¹² relative to the curvature."""
    def loss(v):
        x = 0.5
        for _ in range(12):
            x = v * (1 / (1 + math.exp(-x))) - 2.5
        return (x - 0.7) ** 2

    h = 1e-6
    numeric = (loss(w + h) - loss(w - h)) / (2 * h)
    assert theory.cliff_gradient(w, steps=12) == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_readout_curvature_bound_is_attained_by_saturated_states():
    """Hessian of the MSE of a linear read-out over (w, c) when every example has h = ±(1, …, 1):
    (2/n) Σ [h; 1][h; 1]ᵀ, whose top eigenvalue is 2(hidden + 1) (all examples with h = +1)."""
    hidden = 5
    h = torch.ones(8, hidden, dtype=torch.float64)
    target = torch.randn(8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def mse(params):
        return ((h @ params[:hidden] + params[hidden] - target) ** 2).mean()

    hessian = torch.autograd.functional.hessian(mse, torch.zeros(hidden + 1, dtype=torch.float64))
    top = torch.linalg.eigvalsh(hessian).max().item()
    assert theory.readout_curvature_bound(hidden) == pytest.approx(top, rel=1e-12)
    assert top == pytest.approx(12.0, rel=1e-12)


def test_normalisation_and_residual_growth_by_hand():
    """Linear BN at batch 6: 4/3; ReLU: π/(π − 1). Residual, α = ½, He: 1 + ¼·4/2 = 3/2 per
    block; LeCun (fan_gain 1): 1 + ¼/2 = 9/8. Paths through 4 blocks: C(4, k)."""
    assert theory.batchnorm_gradient_growth("identity", 6) == pytest.approx(4 / 3, rel=1e-15)
    assert theory.batchnorm_gradient_growth("relu") == pytest.approx(math.pi / (math.pi - 1),
                                                                     rel=1e-15)
    assert theory.residual_norm_growth(0.5, 3) == pytest.approx([1.0, 1.5, 2.25, 3.375],
                                                                rel=1e-15)
    assert theory.residual_norm_growth(0.5, 2, fan_gain=1.0) == pytest.approx(
        [1.0, 1.125, 1.125**2], rel=1e-15)
    assert theory.residual_norm_growth(1e3, 200)[-1] == math.inf
    assert theory.path_length_counts(4) == [1, 4, 6, 4, 1]


def test_steps_to_change_by_hand():
    """fraction / (r (1 + fraction)): 0.5/(0.01 · 1.5) = 100/3."""
    assert theory.steps_to_change(0.01, 0.5) == pytest.approx(100 / 3, rel=1e-14)
    assert theory.steps_to_change(1e-3) == pytest.approx(0.1 / (1e-3 * 1.1), rel=1e-14)


def _peak_by_walking_the_segments(steps, segment):
    """The peak of live states, following the schedule step by step (not the closed form)."""
    lengths = []
    left = steps
    while left > 0:
        lengths.append(min(segment, left))
        left -= lengths[-1]
    return max(j + k for j, k in enumerate(lengths))  # j starts below segment j + 1


@pytest.mark.parametrize("steps, segment", [(10, 3), (10, 4), (64, 8), (64, 6), (7, 7),
                                            (10, 20), (1, 1), (9, 2)])
def test_checkpoint_peak_states_by_walking_the_schedule(steps, segment):
    """(10, 3): segments 3, 3, 3, 1, peak 2 + 3 = 5; (10, 4): 4, 4, 2, peak 1 + 4 = 5."""
    assert theory.checkpoint_peak_states(steps, segment) == _peak_by_walking_the_segments(
        steps, min(segment, steps))


def test_checkpoint_best_segment_is_the_smallest_minimiser():
    """T = 64: k = 6 … 11 all reach the minimum 15 (e.g. k = 6: 11 segments, 10 + 4 and 9 + 6),
    k = 5 gives 16: the answer is 6. T = 16: k = 3, 4, 5 give 7, k = 2 gives 9: 3."""
    assert theory.checkpoint_best_segment(64) == 6
    assert theory.checkpoint_best_segment(16) == 3
    assert theory.checkpoint_peak_states(64) == 64


def test_maml_metagradient_is_autograds_through_the_inner_loop():
    """Three explicit gradient steps on ½(θ − a)ᵀH(θ − a), outer loss ½‖θ₃ − b‖², differentiated
    by autograd with respect to θ₀."""
    g = torch.Generator().manual_seed(1)
    m = torch.randn(3, 3, dtype=torch.float64, generator=g)
    hessian = m @ m.T / 3
    theta0, a, b = (torch.randn(3, dtype=torch.float64, generator=g) for _ in range(3))
    theta = theta0.clone().requires_grad_(True)
    t = theta
    for _ in range(3):
        t = t - 0.4 * hessian @ (t - a)
    (grad,) = torch.autograd.grad(0.5 * ((t - b) ** 2).sum(), theta)
    got = theory.maml_quadratic_metagradient(hessian, theta0, a, b, lr=0.4, steps=3)
    assert torch.allclose(got, grad, rtol=0, atol=1e-13)


def test_highway_gradient_decay_by_hand():
    """b_T = ln 3: t = 3/4, per layer (1/4)² + (3/4)²·χ = 1/16 + 27/16 = 7/4 at χ = 3; a closed
    gate (b_T = −800) passes the gradient untouched."""
    got = theory.highway_gradient_decay(math.log(3), 2, chi_transform=3.0)
    assert got == pytest.approx([1.75, math.sqrt(1.75), 1.0], rel=1e-13)
    assert theory.highway_gradient_decay(-800.0, 3) == [1.0, 1.0, 1.0, 1.0]


def test_eigenvalue_for_horizon_by_hand():
    """0.0625^(1/4) = 1/2."""
    assert theory.eigenvalue_for_horizon(4, keep=0.0625) == pytest.approx(0.5, rel=1e-15)


@pytest.mark.parametrize("z", [2.0, -2.0, 0.5, 8.0])
def test_gradient_x_input_share_is_z_over_sinh_z(z):
    """σ(z) − ½ = tanh(z/2)/2 and σ′(z) = (1 − tanh²(z/2))/4, so z σ′(z)/(σ(z) − ½) = z/sinh z,
    even in z (outside the series branch |z| < 10⁻⁴)."""
    assert theory.gradient_x_input_share(z) == pytest.approx(z / math.sinh(z), rel=1e-10)
