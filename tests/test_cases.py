"""The mystery runs of chapter 8 show the evidence their diagnoses claim."""

import numpy as np
import pytest

import vgcourse
from vgcourse.cases import MYSTERIES, mystery


@pytest.fixture(scope="module")
def evidence():
    vgcourse.setup(seed=0)
    return {name: mystery(name, show_progress=False) for name in MYSTERIES}


def test_a_is_vanishing(evidence):
    history, flow = evidence["A"]
    ratios = np.array(history.update_ratios)
    # the first layer moves at least a million times less per step than the read-out
    assert np.median(ratios[:, 0]) < 1e-6 * np.median(ratios[:, -1])
    assert history.diverged_at is None


def test_b_is_exploding(evidence):
    history, flow = evidence["B"]
    assert history.diverged_at is not None and flow is None
    assert max(history.grad_norm) > 1e6 * history.grad_norm[0]


def test_c_is_healthy(evidence):
    """The control: it learns the task, and no layer lags the read-out by decades."""
    history, flow = evidence["C"]
    assert history.diverged_at is None and history.loss[-1] < 1e-3 * history.loss[0]
    grads = np.array(history.layer_grad_norms)
    assert np.all(grads[0, :-1] > 0.1 * grads[0, -1])
    assert max(flow.dead_fraction) < 0.5 and max(flow.saturated_fraction) == 0.0


def test_d_explodes_toward_the_input_then_saturates(evidence):
    """tanh with N(0, 1) weights at width 64 (σ_w = 8) is chaotic (χ > 1): at the first step
    the gradient grows at every layer toward the input, the first updates are a sizeable
    fraction of the weights, and after training almost every unit sits at ±1."""
    history, flow = evidence["D"]
    grads = np.array(history.layer_grad_norms)
    assert grads[0, 0] > 1e3 * grads[0, -1]
    assert np.all(np.diff(grads[0]) < 0)  # larger at every step toward the input
    assert max(history.update_ratios[0]) > 0.1
    assert history.diverged_at is None
    assert min(flow.saturated_fraction) > 0.8 and np.median(flow.saturated_fraction) > 0.95


def test_e_has_dead_units(evidence):
    history, flow = evidence["E"]
    assert np.mean(flow.dead_fraction) > 0.5
    assert max(flow.saturated_fraction) == 0.0
    assert np.all(np.array(history.layer_grad_norms)[:, :-1] == 0)


def test_weight_decay_alone_shrinks_starved_layers_geometrically():
    """Sign 2 of chapter 8: with plain SGD and weight decay λ, a layer whose gradient has
    vanished follows ‖W_t‖ = (1 − ηλ)^t ‖W_0‖. The sigmoid network's first layer gets
    gradients ~1e-10 relative to its weights, so the law holds to ~1e-5 over 100 steps."""
    lr, decay, steps = 0.1, 0.01, 100
    x, y = vgcourse.data.gaussian_clusters(n=512, features=32, classes=10, seed=0)
    model = vgcourse.mlp(12, 64, activation="sigmoid", in_features=32, out_features=10)
    start = model.hidden[0].linear.weight.norm().item()
    top_start = model.output.weight.norm().item()
    vgcourse.train(model, (x, y), steps=steps, lr=lr, weight_decay=decay,
                   loss="cross_entropy", show_progress=False)
    end = model.hidden[0].linear.weight.norm().item()
    assert end / start == pytest.approx((1 - lr * decay) ** steps, rel=1e-4)
    # the read-out, which does get gradient, departs from the pure-decay law
    top_end = model.output.weight.norm().item()
    assert abs(top_end / top_start - (1 - lr * decay) ** steps) > 1e-3


def test_unknown_mystery():
    with pytest.raises(ValueError, match="name='F'"):
        mystery("F")
