"""The gradient doctor: right verdicts on purpose-broken models, and the model left unchanged."""

import copy

import pytest
import torch
from _zoo import Mixer, PlainCNN, ResNet, SeqClassifier, TransformerLM
from torch import nn

import vgcourse
from vgcourse.doctor import diagnose

F = nn.functional


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


def test_partly_dead_layer_counts_units_not_examples(batch):
    """20 of 32 units of one layer are dead (bias −10) and 4 of 32 of another: the dead fraction
    is the share of *units* silent on every example, exactly 20/32 and 4/32, and only the first
    crosses DEAD_FRACTION. A layer where all units die (the test above) reads 1.0 whichever axis
    is reduced; a partly dead one tells units from examples."""
    model = vgcourse.mlp(4, 32, activation="relu", init="he")
    with torch.no_grad():
        model.hidden[1].linear.bias[:20] = -10.0
        model.hidden[2].linear.bias[:4] = -10.0
    report = diagnose(model, *batch)
    assert report.layers[1].dead_fraction == 20 / 32 and report.layers[1].verdict == "dead units"
    # ground truth by hand: besides the 4 forced units, units fed mostly by layer 2's 20 dead
    # ones may never fire on this batch either
    h = batch[0]
    for layer in model.hidden[:2]:
        h = layer(h)
    silent = int((model.hidden[2].linear(h) <= 0).all(dim=0).sum())
    assert silent >= 4
    assert report.layers[2].dead_fraction == silent / 32
    assert report.layers[2].verdict != "dead units"
    assert report.layers[0].dead_fraction == 0.0


@pytest.mark.parametrize("kind, inverse, inside, outside", [
    # tanh' = 1 − h² < 5 % of its maximum ⇔ |h| > √0.95 = 0.97468: 0.974 has slope 5.13 %
    # of the maximum, 0.976 has 4.74 %
    (nn.Tanh, torch.atanh, [0.0, 0.5, -0.9, 0.974, -0.974], [0.976, -0.976, 0.99, -0.9999]),
    # σ' = s(1 − s) < 5 % of 1/4 ⇔ s < 0.01266 or s > 0.98734: 0.0128 and 0.987 have slopes
    # 5.05 % and 5.13 % of the maximum, 0.0125 and 0.9875 have 4.94 %
    (nn.Sigmoid, torch.logit, [0.5, 0.02, 0.98, 0.0128, 0.987], [0.0125, 0.9875, 0.001, 0.999]),
])
def test_saturation_cutoff_is_five_percent_of_the_maximum_slope(kind, inverse, inside, outside):
    """Outputs placed on both sides of the cutoff, by hand: a layer Linear(1, k) with weight
    φ⁻¹(h) and input 1 puts exactly h on each unit. The saturated fraction must be the share of
    values beyond the cutoff, so a threshold outside 4.74–5.13 % of sup φ' (tanh) or 4.94–5.05 %
    (sigmoid) fails, and so does a cutoff on |tanh| outside (0.974, 0.976)."""
    values = torch.tensor(inside + outside, dtype=torch.float64)
    linear = nn.Linear(1, len(values)).double()
    with torch.no_grad():
        linear.weight.copy_(inverse(values)[:, None])
        linear.bias.zero_()
    model = nn.Sequential(linear, kind(), nn.Linear(len(values), 1).double())
    x = torch.ones(3, 1, dtype=torch.float64)
    report = diagnose(model, x, torch.zeros(3, 1, dtype=torch.float64))
    assert report.layers[0].saturated_fraction == len(outside) / len(values)


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


# --- the regression zoo: tiny versions of the architectures readers bring (tests/_zoo.py) ---


def same(a, b):
    """Two reports hold the same data (NaN equal to NaN)."""
    return repr(a.to_dict()) == repr(b.to_dict())


def images(n=16, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, size, size, generator=g), torch.arange(n) % 10


def tokens(batch=8, length=16, vocab=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, vocab, (batch, length), generator=g),
            torch.randint(0, vocab, (batch * length,), generator=g))


def sequences(length=8, n=16, vocab=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (n, length), generator=g), torch.arange(n) % 4


def step_gradients(model, x, y):
    """Ground truth: ‖∂L/∂x_t‖ for the sequence entering model.rnn, by hand."""
    seq = model.emb(x).detach().requires_grad_(True)
    out, _ = model.rnn(seq)
    loss = F.cross_entropy(model.head(out[:, -1]), y)
    (grad,) = torch.autograd.grad(loss, seq)
    return grad.norm(dim=(0, 2))


HEALTHY = {
    "resnet": (ResNet, images),
    "pre-LN transformer LM": (TransformerLM, tokens),
    "LSTM classifier": (lambda: SeqClassifier("lstm"), sequences),
    "GRU classifier": (lambda: SeqClassifier("gru"), sequences),
    "MLP-Mixer": (Mixer, images),
}


@pytest.mark.parametrize("name", HEALTHY)
@pytest.mark.parametrize("seed", range(2))
def test_zoo_is_healthy_at_standard_initialisation(name, seed):
    build, data = HEALTHY[name]
    torch.manual_seed(seed)
    report = diagnose(build(), *data(seed=seed))
    assert report.verdict == "healthy", (name, report.summary)


def test_every_parameter_is_examined_and_grouped_by_owner():
    torch.manual_seed(0)
    lm = TransformerLM(layers=1)
    report = diagnose(lm, *tokens())
    names = {r.name: r for r in report.layers}
    assert {"tok", "blocks.0.attn.q", "blocks.0.attn.k", "blocks.0.attn.v",
            "blocks.0.attn.out_proj", "blocks.0.ln1", "head", "TransformerLM"} <= set(names)
    assert names["blocks.0.ln1"].family == "norm" and names["tok"].family == "embedding"
    assert names["blocks.0.attn.out_proj"].family == "attention"
    assert names["TransformerLM"].parameters == ["pos"]
    counted = sum(len(r.parameters) for r in report.layers)
    assert counted == sum(1 for _ in lm.parameters()) + 4  # in_proj weight and bias: q, k, v
    lstm = nn.LSTM(4, 8, num_layers=2, bidirectional=True)
    report = diagnose(lstm, torch.randn(5, 3, 4), torch.randn(5, 3, 16),
                      loss_fn=lambda out, t: F.mse_loss(out[0], t))
    assert [r.name for r in report.layers] == ["l0", "l0_reverse", "l1", "l1_reverse"]
    assert report.layers[0].parameters == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                           "bias_hh_l0"]
    assert report.through_time[0].verdict == "not judged"


def test_attention_rows_are_split_into_q_k_v_and_out_proj_follows_them():
    """The report lists an attention's q, k, v and then its functionally applied out_proj, in
    call order; each of q, k, v carries the gradient norm of its own third of
    ``in_proj_weight`` (a group's norms are over its matrices), computed here with autograd."""
    torch.manual_seed(0)
    lm = TransformerLM(layers=1)
    x, y = tokens()
    names = [r.name for r in diagnose(lm, x, y).layers]
    start = names.index("blocks.0.attn.q")
    assert names[start:start + 4] == ["blocks.0.attn.q", "blocks.0.attn.k", "blocks.0.attn.v",
                                      "blocks.0.attn.out_proj"]
    report = {r.name: r for r in diagnose(lm, x, y).layers}
    loss = nn.functional.cross_entropy(lm(x).reshape(-1, 50), y)
    attn = lm.blocks[0].attn
    (weight_grad,) = torch.autograd.grad(loss, [attn.in_proj_weight])
    for i, part in enumerate("qkv"):
        expected = weight_grad[32 * i:32 * (i + 1)].norm()
        assert report[f"blocks.0.attn.{part}"].grad_norm == pytest.approx(float(expected),
                                                                         rel=1e-5)


def test_normalisation_is_not_held_against_weight_matrices():
    """The issue's CNN: a batch-norm γ's ratio is far below the convs' and that is fine."""
    torch.manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3),
                        nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 12 * 12, 10))
    report = diagnose(cnn, *images())
    assert report.verdict == "healthy"
    assert {r.family for r in report.layers} == {"conv", "norm", "linear"}


def test_deep_sigmoid_mlp_is_vanishing_against_ground_truth(batch):
    model = vgcourse.mlp(20, 32, activation="sigmoid")
    x, y = batch
    weights = [layer.linear.weight for layer in model.hidden]
    grads = torch.autograd.grad(F.mse_loss(model(x), y), weights)
    truth = [(g.norm() / w.norm()).item() for g, w in zip(grads, weights)]
    assert max(truth) / truth[0] > 100  # ground truth: the first layer is 100× behind
    report = diagnose(model, x, y)
    assert "vanishing" in report.layers[0].findings


def test_deep_cnn_without_normalisation_at_xavier_is_vanishing():
    """He et al. 2015: at Xavier a deep ReLU stack halves the signal's variance per layer."""
    x, y = images()
    torch.manual_seed(0)
    xavier = PlainCNN(depth=20)
    torch.manual_seed(0)
    he = PlainCNN(depth=20)
    for m in he.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def head_ratio(model):
        (g,) = torch.autograd.grad(F.cross_entropy(model(x), y), [model.head.weight])
        return float(g.norm() / model.head.weight.detach().norm())

    assert head_ratio(he) / head_ratio(xavier) > 100  # ground truth, computed directly
    assert diagnose(xavier, x, y).verdict == "vanishing"
    assert diagnose(he, x, y).verdict != "vanishing"


def test_lstm_with_negative_forget_bias_vanishes_through_time():
    torch.manual_seed(0)
    model = SeqClassifier("lstm")
    hidden = model.rnn.hidden_size
    with torch.no_grad():  # PyTorch's gate order is i, f, g, o
        model.rnn.bias_ih_l0[hidden:2 * hidden].fill_(-5.0)
        model.rnn.bias_hh_l0[hidden:2 * hidden].fill_(-5.0)
    x, y = sequences()
    truth = step_gradients(model, x, y)
    assert truth[0] / truth[-1] < 1e-2
    report = diagnose(model, x, y)
    assert report.verdict == "vanishing through time"
    assert report.through_time[0].first_to_last == pytest.approx(float(truth[0] / truth[-1]),
                                                                 rel=1e-3)
    assert report.through_time[0].per_step_factor < 0.5


def test_rnn_whose_recurrent_matrix_grows_explodes_through_time():
    torch.manual_seed(0)
    model = SeqClassifier("rnn", nonlinearity="relu")
    with torch.no_grad():
        model.rnn.weight_hh_l0.copy_(1.3 * torch.eye(model.rnn.hidden_size))
    x, y = sequences(length=30)
    truth = step_gradients(model, x, y)
    assert truth[0] / truth[-1] > 100
    report = diagnose(model, x, y)
    assert report.verdict == "exploding through time"
    assert "rnn.l0" in report.summary and report.through_time[0].per_step_factor > 1


def test_standard_lstm_over_long_sequences_is_called_what_it_is():
    """At PyTorch's default init (forget gate near ½) the gradient reaching step 0 of a
    12-step sequence is a few hundredths of a per cent of the last step's: vanishing through
    time, and the doctor says so whenever the ground truth crosses 1/100."""
    torch.manual_seed(0)
    model = SeqClassifier("lstm")
    x, y = sequences(length=12)
    truth = step_gradients(model, x, y)
    report = diagnose(model, x, y)
    expected = "vanishing through time" if truth[0] / truth[-1] < 1e-2 else "healthy"
    assert report.through_time[0].verdict == expected


def test_deep_transformer_without_residuals_is_vanishing():
    """Without residual connections the token representations collapse and the query and key
    gradients vanish (Noci et al. 2022) while the values' do not."""
    x, y = tokens()
    torch.manual_seed(0)
    model = TransformerLM(layers=8, residual=False)
    attn = [b.attn.in_proj_weight for b in model.blocks]
    weights = [w.detach() for w in attn]
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), attn)
    d = model.tok.embedding_dim
    query = [float(g[:d].norm() / w[:d].norm()) for g, w in zip(grads, weights)]
    value = [float(g[2 * d:].norm() / w[2 * d:].norm()) for g, w in zip(grads, weights)]
    assert max(value) / min(query) > 100  # ground truth
    report = diagnose(model, x, y)
    assert report.verdict == "vanishing"
    assert any(r.name.endswith("attn.q") for r in report.layers if "vanishing" in r.findings)


def test_shared_activation_is_measured_per_call():
    """One ReLU after fc1 and after fc2, fc2's units all dead: fc2 is blamed, not fc1."""

    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.out = nn.Linear(32, 32), nn.Linear(32, 32), nn.Linear(32, 1)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.out(self.act(self.fc2(self.act(self.fc1(x)))))

    torch.manual_seed(0)
    model = Shared()
    with torch.no_grad():
        model.fc2.bias.fill_(-100.0)
    x, y = vgcourse.data.gaussian_batch(batch=64, features=32, seed=0, dtype=torch.float32)
    fired = (model.fc2(torch.relu(model.fc1(x))) > 0).any(dim=0)
    assert not fired.any()  # ground truth: no fc2 unit fires on any example
    report = {r.name: r for r in diagnose(model, x, y).layers}
    assert report["fc2"].dead_fraction == 1.0 and "dead units" in report["fc2"].findings
    assert report["fc1"].dead_fraction < 0.5 and "dead units" not in report["fc1"].findings
    assert report["fc1"].activation_calls == report["fc2"].activation_calls == 1


def test_diagnose_and_gradient_flow_agree_on_saturated_and_dead(batch):
    x, y = batch
    for activation, init, std in (("sigmoid", "default", None), ("tanh", "normal", 1.0),
                                  ("relu", "he", None)):
        model = vgcourse.mlp(6, 32, activation=activation, init=init, std=std, seed=0)
        if activation == "relu":
            with torch.no_grad():
                model.hidden[3].linear.bias.fill_(-3.0)
        flow = vgcourse.gradient_flow(model, x, y)
        report = diagnose(model, x, y)
        sat = [r.saturated_fraction for r in report.layers[:-1]]
        dead = [r.dead_fraction for r in report.layers[:-1]]
        assert sat == pytest.approx(flow.saturated_fraction, abs=2e-3), activation
        assert dead == pytest.approx(flow.dead_fraction, abs=1e-12), activation


def test_several_findings_per_layer_and_all_listed(batch):
    model = vgcourse.mlp(12, 64, activation="tanh", init="normal", std=1.0, in_features=32,
                         out_features=1, seed=0)
    report = diagnose(model, *batch)
    assert report.verdict == "exploding"
    assert report.layers[0].findings[:2] == ["exploding", "saturated"]
    assert report.findings[:2] == ["exploding", "saturated"]
    assert "exploding:" in report.summary and "saturated:" in report.summary


def test_verdicts_do_not_depend_on_the_loss_scale(batch):
    x, y = batch
    for model in (vgcourse.mlp(12, 32, activation="tanh", init="xavier", seed=0),
                  vgcourse.mlp(12, 32, activation="tanh", init="normal", std=1.0, seed=0)):
        base = diagnose(model, x, y)
        big = diagnose(model, x, y, loss_fn=lambda out, t: 1e6 * F.mse_loss(out, t))
        assert [r.findings for r in base.layers] == [r.findings for r in big.layers]


def test_dropout_gives_the_same_report_and_leaves_the_rng_alone(batch):
    x, y = batch
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 1))
    model.train()
    state = torch.get_rng_state()
    first = diagnose(model, x, y)
    assert torch.equal(torch.get_rng_state(), state)
    assert same(diagnose(model, x, y), first)


def test_works_inside_no_grad(batch):
    with torch.no_grad():
        report = diagnose(nn.Sequential(nn.Linear(32, 8), nn.Tanh(), nn.Linear(8, 1)), *batch)
    assert report.verdict == "healthy" and report.layers[0].grad_norm > 0


def test_weight_norm_spectral_norm_and_lazy_layers():
    x, y = vgcourse.data.gaussian_batch(batch=16, features=8, seed=0, dtype=torch.float32)
    from torch.nn.utils import parametrizations

    new = nn.Sequential(parametrizations.weight_norm(nn.Linear(8, 8)), nn.Tanh(),
                        nn.Linear(8, 1))
    report = diagnose(new, x, y)
    assert report.layers[0].name == "0" and report.layers[0].grad_norm > 0
    assert set(report.layers[0].parameters) == {"weight", "bias"} or \
        "bias" in report.layers[0].parameters
    old = nn.Sequential(nn.utils.spectral_norm(nn.Linear(8, 8)), nn.Tanh(), nn.Linear(8, 1))
    u = old[0].weight_u.clone()
    report = diagnose(old, x, y)
    assert report.layers[0].parameters == ["bias", "weight_orig"]
    assert torch.equal(old[0].weight_u, u)  # power iteration's buffer restored
    old_wn = nn.Sequential(nn.utils.weight_norm(nn.Linear(8, 8)), nn.Linear(8, 1))
    assert diagnose(old_wn, x, y).layers[0].parameters == ["bias", "weight_g", "weight_v"]
    lazy = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.Linear(4, 1))
    with pytest.raises(ValueError, match="uninitialised lazy module.*LazyLinear.*model\\(x\\)"):
        diagnose(lazy, x, y)


def test_bad_inputs_give_clear_errors(batch):
    x, y = batch
    model = nn.Linear(32, 1)
    with pytest.raises(ValueError, match="x is an empty batch"):
        diagnose(model, x[:0], y[:0])
    bad = y.clone()
    bad[3] = float("nan")
    with pytest.raises(ValueError, match="y contains NaN"):
        diagnose(model, x, bad)
    with pytest.raises(ValueError, match="integer class labels but the model has 1 output"):
        diagnose(model, x, torch.zeros(64, dtype=torch.long))
    with pytest.raises(ValueError, match="loss_fn='l1' is not allowed; expected one of 'mse', "
                                         "'cross_entropy'"):
        diagnose(model, x, y, loss_fn="l1")
    with pytest.raises(TypeError, match="loss_fn must be one of"):
        diagnose(model, x, y, loss_fn=3)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        diagnose(lambda t: t, x, y)
    with pytest.raises(TypeError, match="y must be a torch.Tensor"):
        diagnose(model, x, [1.0] * 64)

    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(32, 1)

        def forward(self, t):
            return self.fc(t), {"aux": t}

    with pytest.raises(TypeError, match="model\\(x\\) returned a tuple"):
        diagnose(Pair(), x, y)
    ok = diagnose(Pair(), x, y, loss_fn=lambda out, t: F.mse_loss(out[0], t))
    assert ok.layers[0].grad_norm > 0


def test_names_and_dtypes_are_accepted(batch):
    x, y = batch
    model = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 1))
    assert same(diagnose(model, x, y, loss_fn="mse"), diagnose(model, x, y))
    report = diagnose(model, x.double(), y.double())  # cast to the model's float32
    assert report.layers[0].grad_norm == pytest.approx(diagnose(model, x, y).layers[0].grad_norm)
    classes = nn.Linear(32, 3)
    assert diagnose(classes, x, torch.arange(64) % 3, loss_fn="cross_entropy").loss > 0


def test_model_hooks_and_modes_are_left_alone(batch):
    x, y = batch
    model = nn.Sequential(nn.Linear(32, 8), nn.ReLU(), nn.Linear(8, 1))
    seen = []
    handle = model[0].register_forward_hook(lambda m, i, o: seen.append(1))
    diagnose(model, x, y)
    assert len(model[0]._forward_hooks) == 1 and not model[0]._forward_pre_hooks
    assert not any(m._forward_pre_hooks for m in model.modules())
    handle.remove()


def test_an_input_of_the_wrong_width_names_x_and_its_shape():
    """Issue 14: torch's RuntimeError from deep in the forward pass becomes a ValueError that
    names the argument, its shape and the model."""
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    with pytest.raises(ValueError, match=r"x of shape \(16, 5\).*model=Sequential"):
        diagnose(model, torch.randn(16, 5), torch.randn(16, 1))
