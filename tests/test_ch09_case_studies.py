"""Chapter 9's data, helpers and the claims its text makes, at the chapter's own settings.

The training runs are the chapter's (depth 10, width 32, float64, fixed seeds) but shorter where
the claim allows it, so the file stays within a few seconds.
"""

import math

import pytest
import torch

import vgcourse
from vgcourse import case_studies, theory
from vgcourse.data import digits, sequential_digits
from vgcourse.pretraining import pretrain_layerwise

pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def data():
    return digits("train", dtype=torch.float64), digits("test", dtype=torch.float64)


# ---------------------------------------------------------------- the data
def test_digits_split_is_fixed_disjoint_and_complete():
    (xa, ya), (xb, yb) = digits("train"), digits("test")
    assert xa.shape == (1300, 64) and xb.shape == (497, 64)
    assert ya.dtype == torch.int64 and set(ya.tolist()) == set(range(10))
    # the two splits partition the data set: as multisets of (label, pixels) they add up to it
    # (the UCI set holds a few identical images, so multisets, not sets)
    from collections import Counter

    from sklearn.datasets import load_digits

    full = load_digits()
    whole = Counter((int(t), tuple(row)) for t, row in zip(full.target, (full.data / 16).tolist()))
    parts = Counter((int(t), tuple(row)) for x, y in ((xa, ya), (xb, yb))
                    for t, row in zip(y.tolist(), x.double().tolist()))
    assert parts == whole
    again = digits("test")
    assert torch.equal(again[0], xb) and torch.equal(again[1], yb)  # deterministic
    assert not torch.equal(digits("test", seed=1)[1], yb)  # the seed defines the split


def test_digits_scaling_is_a_fixed_constant():
    x, _ = digits("train", dtype=torch.float64)
    assert x.min() == 0 and x.max() == 1
    # grey levels 0..16 divided by 16: no statistic of any split is used
    assert torch.equal(x * 16, torch.round(x * 16))


def test_sequential_digits_reads_the_same_images_row_by_row():
    x, y = digits("test")
    s, ys = sequential_digits("test")
    assert s.shape == (497, 64, 1) and torch.equal(ys, y)
    images = x.reshape(-1, 8, 8)
    assert torch.equal(s[:, 8 * 3 + 5, 0], images[:, 3, 5])  # step 29 = row 3, column 5


@pytest.mark.parametrize(("kwargs", "name"), [
    (dict(split="validation"), "split"), (dict(test_size=0), "test_size"),
    (dict(test_size=1797), "test_size")])
def test_digits_bad_arguments_name_themselves(kwargs, name):
    with pytest.raises(ValueError, match=name):
        digits(**kwargs)


# ---------------------------------------------------------------- the law: steps to change
def test_steps_to_change_is_a_lower_bound_even_for_aligned_updates():
    # the worst case for the bound: every update points the same way with ratio exactly r
    r, fraction = 1e-3, 0.1
    w0 = torch.ones(10, dtype=torch.float64)
    w, direction = w0.clone(), torch.ones(10, dtype=torch.float64) / math.sqrt(10)
    bound = theory.steps_to_change(r, fraction)
    for _ in range(math.floor(bound)):
        w = w + r * w.norm() * direction
    assert (w - w0).norm() / w0.norm() <= fraction  # not reached before the bound
    # and the bound is not loose by more than the (1 + fraction) allowance: 10 % more steps do it
    for _ in range(math.ceil(0.1 * bound)):
        w = w + r * w.norm() * direction
    assert (w - w0).norm() / w0.norm() > fraction
    assert theory.steps_to_change(1e-11) == pytest.approx(0.1 / 1.1e-11, rel=1e-12)


@pytest.mark.parametrize("bad", [0.0, -1e-3, float("nan")])
def test_steps_to_change_rejects_bad_ratios(bad):
    with pytest.raises(ValueError, match="update_ratio"):
        theory.steps_to_change(bad)


# ---------------------------------------------------------------- the chapter's claims
def test_ten_times_more_steps_do_not_rescue_the_sigmoid_network(data):
    train, test = data
    model = case_studies.digits_network("sigmoid", dtype=torch.float64)
    start = model.hidden[0].linear.weight.detach().clone()
    run = case_studies.run_case(model, train, test, steps=300, checkpoints=(30,),
                                show_progress=False)
    for step in (30, 300):
        c = run.checkpoints[step]
        assert c.verdict == "vanishing"
        assert c.accuracy < 0.2  # chance is ~0.1; 0.2 leaves room for a lucky class prior
        # the chapter reports ~1e-10; healthy is ~1e-3. Two decades of margin either way.
        assert c.first_update < 1e-8
    ratios = [u[0] for u in run.history.update_ratios]
    moved = float((model.hidden[0].linear.weight.detach() - start).norm() / start.norm())
    # triangle inequality: moved <= sum r_k ||W_k|| / ||W_0|| <= (1 + moved) sum r_k
    assert moved <= (1 + moved) * sum(ratios) * (1 + 1e-9)
    assert moved < 1e-5


def test_the_fixes_are_healthy_and_stack_up(data):
    train, test = data
    acc = {}
    for name in ("relu + he", "+ batch norm", "+ residual"):
        model = case_studies.digits_network(name, dtype=torch.float64)
        run = case_studies.run_case(model, train, test, steps=150, show_progress=False)
        c = run.final
        assert c.verdict == "healthy", name
        assert 1e-4 < c.first_update < 1e-1, name  # within two decades of the healthy 1e-3
        acc[name] = c.accuracy
    assert acc["relu + he"] > 0.3  # well above chance (0.1)
    # batch norm and the residual connections both train faster than ReLU + He alone
    assert acc["relu + he"] < min(acc["+ batch norm"], acc["+ residual"])


def test_gated_cells_keep_more_gradient_through_64_steps():
    # measured at initialisation (the chapter shows the same order after training)
    x, _ = sequential_digits("test")
    norm = {cell: vgcourse.gradient_through_time(
        vgcourse.sequence_model(cell, input_size=1, hidden_size=32, output_size=10, seed=0),
        x[:16]).norm[63] for cell in ("rnn", "lstm", "gru")}
    assert norm["rnn"] < norm["lstm"] < norm["gru"]


def test_pretraining_beats_the_trivial_reconstruction(data):
    (x, _), _ = data
    model = vgcourse.mlp(3, 32, activation="sigmoid", in_features=64, out_features=10,
                         dtype=torch.float64)
    out = model.output.weight.detach().clone()
    result = pretrain_layerwise(model, x[:400], steps=100, show_progress=False)
    assert len(result.error) == 3 and result.steps == 100
    for error, baseline in zip(result.error, result.baseline):
        assert error < baseline  # each autoencoder learnt more than the input's mean
    assert torch.equal(model.output.weight, out)  # the read-out is left alone


def test_pretraining_refuses_models_it_cannot_pretrain():
    bn = vgcourse.mlp(3, 8, activation="relu", norm="batch")
    with pytest.raises(ValueError, match="model"):
        pretrain_layerwise(bn, torch.rand(8, 8), steps=1, show_progress=False)
    plain = vgcourse.mlp(2, 8, activation="sigmoid")
    with pytest.raises(ValueError, match="steps"):
        pretrain_layerwise(plain, torch.rand(8, 8), steps=0, show_progress=False)


def test_helpers_validate_and_restore(data):
    train, test = data
    with pytest.raises(ValueError, match="name"):
        case_studies.digits_network("tanh")
    model = case_studies.digits_network("+ batch norm", dtype=torch.float64)
    with pytest.raises(ValueError, match="checkpoints"):
        case_studies.run_case(model, train, test, steps=5, checkpoints=(10,),
                              show_progress=False)
    model.train()
    before = model.hidden[0].norm.running_mean.clone()
    value = case_studies.accuracy(model, *test)
    assert 0.0 <= value <= 1.0 and model.training
    assert torch.equal(model.hidden[0].norm.running_mean, before)  # evaluation mode used


# ---------------------------------------------------------------- the convolutional case
from vgcourse.data import TEXTURES, textures  # noqa: E402
from vgcourse.models import conv_net  # noqa: E402


def test_textures_are_seeded_disjoint_gratings_of_the_labelled_orientation():
    x, y = textures("train", train_size=40, test_size=10)
    xt, yt = textures("test", train_size=40, test_size=10)
    assert x.shape == (40, 1, 32, 32) and xt.shape == (10, 1, 32, 32)
    assert y.dtype == torch.int64 and set(y.tolist()) <= set(range(len(TEXTURES)))
    assert torch.equal(x, textures("train", train_size=40, test_size=10)[0])
    assert not torch.equal(x, textures("train", train_size=40, test_size=10, seed=1)[0])
    # the test images are the tail of the same draw: no image is in both splits
    assert not any(torch.equal(a, b) for a in x for b in xt)
    # without noise, a grating's pixels lie in [0, 1], and the label sets its orientation:
    # vertical stripes (label 0) change far more along a row than down a column; horizontal
    # ones (label 2) the other way round. (The tilt is at most 11.25°.)
    clean, labels = textures("train", train_size=200, test_size=1, noise=0.0,
                             dtype=torch.float64)
    assert clean.min() >= 0 and clean.max() <= 1
    across = (clean[..., :, 1:] - clean[..., :, :-1]).abs().mean(dim=(1, 2, 3))
    down = (clean[..., 1:, :] - clean[..., :-1, :]).abs().mean(dim=(1, 2, 3))
    assert (across[labels == 0] > 2 * down[labels == 0]).all()
    assert (down[labels == 2] > 2 * across[labels == 2]).all()
    # rising stripes (label 1, "/") stay nearly constant up-and-right, (r, c) -> (r - 1, c + 1),
    # and change down-and-right; falling ones (label 3, "\\") the other way round
    up_right = (clean[..., 1:, :-1] - clean[..., :-1, 1:]).abs().mean(dim=(1, 2, 3))
    down_right = (clean[..., 1:, 1:] - clean[..., :-1, :-1]).abs().mean(dim=(1, 2, 3))
    assert (down_right[labels == 1] > 2 * up_right[labels == 1]).all()
    assert (up_right[labels == 3] > 2 * down_right[labels == 3]).all()
    with pytest.raises(ValueError, match="split='valid'"):
        textures("valid")
    with pytest.raises(ValueError, match="noise=-1"):
        textures(noise=-1)


def test_conv_gradient_norms_match_backward_and_leave_grads_alone():
    x, y = textures("test", test_size=16, dtype=torch.float64)
    model = conv_net(4, channels=4, norm="group", groups=2, dtype=torch.float64)
    norms = case_studies.conv_gradient_norms(model, x, y)
    assert len(norms) == 5 and all(p.grad is None for p in model.parameters())
    torch.nn.functional.cross_entropy(model(x), y).backward()
    assert norms == pytest.approx([c.weight.grad.norm().item() for c in model.convolutions],
                                  rel=1e-12)
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        case_studies.conv_gradient_norms(vgcourse.mlp(2, 4), torch.zeros(2, 4),
                                         torch.zeros(2, dtype=torch.int64))


def test_digits_are_read_from_scikit_learns_own_file():
    # digits() reads scikit-learn's digits.csv.gz without importing scikit-learn; the arrays
    # must be exactly what load_digits returns, and the cache must not be writable
    from sklearn.datasets import load_digits

    from vgcourse.data import _digit_arrays

    pixels, target = _digit_arrays()
    bunch = load_digits()
    assert (pixels == bunch.data).all() and (target == bunch.target).all()
    assert not pixels.flags.writeable and not target.flags.writeable
