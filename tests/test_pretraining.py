"""History compression (Schmidhuber 1992) in vgcourse.pretraining and its task in vgcourse.data.

References are computed by hand on sequences short enough to read; the layer-wise pretraining
of the same module is tested with chapter 9's claims in test_ch09_case_studies.py.
"""

import math

import pytest
import torch

import vgcourse
from vgcourse import theory
from vgcourse.data import history_task
from vgcourse.pretraining import (
    Compressed,
    compress,
    decompress,
    fit_predictor,
    gradient_at_lags,
)


# ---------------------------------------------------------------- the task
def test_history_task_has_a_cycle_one_key_and_later_distractors():
    cycle, lead = 4, 5
    symbols, labels = history_task(n=300, length=40, cycle=cycle, lead=lead, rate=0.1)
    assert symbols.shape == (300, 40) and labels.shape == (300,)
    assert symbols.dtype == torch.int64 and set(labels.tolist()) == {0, 1}
    steps = torch.arange(40)
    for row, label in zip(symbols, labels):
        keys = ((row == cycle) | (row == cycle + 1)).nonzero().flatten().tolist()
        assert len(keys) == 1 and 1 <= keys[0] <= lead  # exactly one key, early
        assert row[keys[0]] == cycle + label  # the label is the key
        distractors = (row >= cycle + 2).nonzero().flatten()
        assert (distractors > keys[0]).all()  # only after the key
        background = row < cycle
        phases = ((row - steps) % cycle)[background]
        assert (phases == phases[0]).all()  # one cycle, from one phase
    # about rate of the steps after the key are distractors: 300 * ~36 steps, 10 %
    share = (symbols >= cycle + 2).sum().item() / (300 * (40 - 1 - (lead + 1) / 2))
    assert 0.08 < share < 0.12
    assert torch.equal(symbols, history_task(n=300, length=40, cycle=cycle, lead=lead,
                                             rate=0.1)[0])
    assert not torch.equal(symbols, history_task(n=300, length=40, rate=0.1, seed=1)[0])


def test_history_task_extreme_rates():
    quiet, _ = history_task(n=20, length=12, rate=0.0)
    assert ((quiet >= 4).sum(dim=1) == 1).all()  # the key alone
    busy, _ = history_task(n=20, length=12, lead=3, rate=1.0)
    key = ((busy == 4) | (busy == 5)).int().argmax(dim=1)
    for row, k in zip(busy, key):
        assert (row[k + 1:] >= 6).all()  # every step after the key is a distractor


@pytest.mark.parametrize(("kwargs", "name"), [
    (dict(length=5, lead=5), "length=5"), (dict(rate=1.5), "rate=1.5"),
    (dict(cycle=1), "cycle=1"), (dict(lead=0), "lead=0"), (dict(n=0), "n=0")])
def test_history_task_names_a_bad_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        history_task(**kwargs)


# ---------------------------------------------------------------- the lower level
def test_fit_predictor_counts_by_hand():
    # context 1 on 0 1 0 1 0 1: after the start comes 0, after 0 comes 1, after 1 comes 0
    p = fit_predictor(torch.tensor([[0, 1, 0, 1, 0, 1]]), context=1)
    assert p.vocab == 2 and p.table.tolist() == [1, 0, 0]  # rows: after 0, after 1, start
    assert p.predict(torch.tensor([[1, 0, 1]])).tolist() == [[0, 0, 1]]
    # a tie goes to the smaller symbol; an unseen context predicts nothing (-1)
    q = fit_predictor(torch.tensor([[0, 2], [0, 1]]), vocab=4, context=1)
    assert q.table.tolist() == [1, -1, -1, -1, 0]
    # context 2: the row of (two back, one back) = (a, b) is b + (V + 1) a
    r = fit_predictor(torch.tensor([[0, 1, 2, 0, 1, 2, 0]]), context=2)
    assert r.table[1 + 4 * 0] == 2 and r.table[2 + 4 * 1] == 0 and r.table[0 + 4 * 3] == 1
    assert (r.table >= 0).sum() == 5  # (S,S), (S,0), (0,1), (1,2), (2,0)
    # context 0 always predicts the most common symbol
    u = fit_predictor(torch.tensor([[2, 2, 1, 2]]), context=0)
    assert u.predict(torch.tensor([[0, 1]])).tolist() == [[2, 2]]


@pytest.mark.parametrize(("args", "name"), [
    ((torch.tensor([[0.0, 1.0]]),), "symbols"), ((torch.tensor([[0, -1]]),), "symbols"),
    ((torch.tensor([0, 1]),), "symbols"), ((torch.tensor([[0, 3]]), 3), "symbols"),
    ((torch.tensor([[0, 1]]), None, 5), "context=5"), ((torch.tensor([[0, 1]]), 0), "vocab=0"),
    ((torch.tensor([[0, 10**4]]), None, 2), "vocab=10001 with context=2")])
def test_fit_predictor_names_a_bad_argument(args, name):
    with pytest.raises(ValueError, match=name):
        fit_predictor(*args)


# ---------------------------------------------------------------- compressing and rebuilding
def test_compress_passes_up_only_the_surprises_by_hand():
    p = fit_predictor(torch.tensor([[0, 1, 2, 0, 1, 2]]), context=1)
    top = compress(torch.tensor([[0, 1, 2, 2, 0, 1], [1, 2, 0, 1, 2, 0]]), p)
    # row 0: 2 after 2 is wrong (0 expected); row 1: 1 first is wrong (0 expected)
    assert [s.tolist() for s in top.symbols] == [[2], [1]]
    assert [t.tolist() for t in top.times] == [[3], [0]]
    assert top.sizes == [1, 1] and top.ratio == 6.0 and top.length == 6 and top.vocab == 3
    full = compress(torch.tensor([[0, 1, 2, 2, 0, 1]]))
    assert full.times[0].tolist() == list(range(6)) and full.ratio == 1.0 and full.vocab == 3
    assert compress(torch.tensor([[0, 1]]), vocab=5).vocab == 5


def test_inputs_and_lags_by_hand():
    level = Compressed(symbols=[torch.tensor([2]), torch.tensor([0, 1])],
                       times=[torch.tensor([3]), torch.tensor([1, 4])], length=8, vocab=3)
    x = level.inputs(steps=3, dtype=torch.float64)
    assert x.shape == (2, 3, 4)
    expected = torch.zeros(2, 3, 4, dtype=torch.float64)
    expected[0, 2] = torch.tensor([0, 0, 1, 3 / 8])  # padded at the front, ends at the end
    expected[1, 1] = torch.tensor([1, 0, 0, 1 / 8])
    expected[1, 2] = torch.tensor([0, 1, 0, 4 / 8])
    assert torch.equal(x, expected)
    assert level.inputs().shape == (2, 2, 4)
    assert level.lags([0, 2]) == [0, 1]  # sequence 1 reads 0 then 1: one step after the 0
    assert level.lags([2, 1]) == [0, 0]
    with pytest.raises(ValueError, match="steps=1"):
        level.inputs(steps=1)
    with pytest.raises(ValueError, match=r"symbols=\[1\]"):
        level.lags([1])  # sequence 0 has no 1
    with pytest.raises(ValueError, match="symbols='ab'"):
        level.lags("ab")


@pytest.mark.parametrize("context", [0, 1, 2, 3])
def test_decompress_rebuilds_every_sequence(context):
    train, _ = history_task(n=200, length=30, seed=0)
    test, _ = history_task(n=100, length=30, seed=1)
    p = fit_predictor(train, vocab=8, context=context)
    top = compress(test, p)
    assert torch.equal(decompress(top, p), test)  # the higher level lost nothing
    assert sum(top.sizes) < test.numel() or context == 0


def test_a_good_lower_level_passes_up_the_events_and_little_else():
    train, _ = history_task(n=400, length=60, rate=0.05, seed=0)
    test, labels = history_task(n=200, length=60, rate=0.05, seed=1)
    top = compress(test, fit_predictor(train, vocab=8, context=2))
    for seq, row in zip(top.symbols, test):
        assert (seq >= 4).sum() == (row >= 4).sum()  # every key and distractor goes up
        assert (seq < 4).sum() <= 1 + (row >= 4).sum()  # at most the start and one per event
    assert top.ratio > 5
    # without distractors only the key and perhaps the first symbol go up: the key is last
    quiet, _ = history_task(n=50, length=60, rate=0.0, seed=2)
    level = compress(quiet, fit_predictor(train, vocab=8, context=2))
    assert set(level.sizes) <= {1, 2} and level.lags([4, 5]) == [0] * 50


def test_compress_and_decompress_name_a_bad_argument():
    p = fit_predictor(torch.tensor([[0, 1, 0, 1]]), context=1)
    with pytest.raises(ValueError, match="predictor"):
        compress(torch.tensor([[0, 1]]), predictor="bigram")
    with pytest.raises(ValueError, match="symbols"):
        compress(torch.tensor([[0, 2]]), p)  # 2 is outside the predictor's vocabulary
    with pytest.raises(ValueError, match="symbols"):
        compress(torch.tensor([[0, 2]]), vocab=2)
    with pytest.raises(ValueError, match="vocab=3"):
        compress(torch.tensor([[0, 1]]), p, vocab=3)
    with pytest.raises(ValueError, match="compressed"):
        decompress([torch.tensor([0])], p)
    # a step the predictor cannot fill and the level does not hold
    q = fit_predictor(torch.tensor([[0, 1]]), vocab=3, context=1)
    gap = Compressed(symbols=[torch.tensor([2])], times=[torch.tensor([0])], length=2, vocab=3)
    with pytest.raises(ValueError, match="compressed lacks the symbol of step 1"):
        decompress(gap, q)


# ---------------------------------------------------------------- the gradient at a lag
def test_gradient_at_lags_is_rho_to_the_lag_for_a_linear_rnn():
    rho = 0.9
    model = vgcourse.sequence_model("rnn", input_size=2, hidden_size=8,
                                    nonlinearity="identity", spectral_radius=rho,
                                    dtype=torch.float64)  # Q orthogonal to float64 precision
    x = torch.randn(3, 10, 2, generator=torch.Generator().manual_seed(0))
    got = gradient_at_lags(model, x, [0, 3, 7])
    # v·(ρQ)^L has norm ρ^L for a unit v and an orthogonal Q: 1, 0.729, 0.4782969
    assert got == pytest.approx([1.0, 0.729, 0.4782969], rel=1e-9)


def test_gradient_at_lags_stays_under_the_bound_for_tanh():
    rho = 0.8
    model = vgcourse.sequence_model("rnn", input_size=9, hidden_size=16, output_size=2,
                                    spectral_radius=rho, seed=3)
    x = torch.randn(4, 30, 9, generator=torch.Generator().manual_seed(1))
    lags = [0, 5, 12, 29]
    got = gradient_at_lags(model, x, lags)
    for g, lag in zip(got, lags):
        assert 0 < g <= theory.rnn_gradient_bound(rho, lag) * (1 + 1e-12)
    assert got[-1] < math.pow(rho, 29) and got[0] == pytest.approx(1.0)


@pytest.mark.parametrize("lags", [[0, 1], [0, 1, 11], [0, 1, -1], [0, 1, 2.0], 3, [True, 0, 0]])
def test_gradient_at_lags_names_bad_lags(lags):
    model = vgcourse.sequence_model("rnn", input_size=1, hidden_size=4)
    with pytest.raises(ValueError, match="lags="):
        gradient_at_lags(model, torch.zeros(3, 10, 1), lags)
