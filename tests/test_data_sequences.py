"""The sequence tasks: the adding problem and the copy task, and their trivial baselines."""

import pytest
import torch
from torch.nn import functional as F

import vgcourse
from vgcourse import theory


def test_adding_problem_layout_and_targets():
    x, y = vgcourse.data.adding_problem(n=500, length=21, seed=3, dtype=torch.float64)
    assert x.shape == (500, 21, 2) and y.shape == (500, 1)
    values, markers = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert (markers.sum(dim=1) == 2).all()
    assert (markers[:, :10].sum(dim=1) == 1).all()  # one marker in each half
    assert (markers[:, 10:].sum(dim=1) == 1).all()
    assert torch.allclose(y[:, 0], (values * markers).sum(dim=1))


def test_adding_problem_is_seeded():
    a = vgcourse.data.adding_problem(50, 10, seed=1)
    b = vgcourse.data.adding_problem(50, 10, seed=1)
    c = vgcourse.data.adding_problem(50, 10, seed=2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_always_answering_one_scores_one_sixth():
    _, y = vgcourse.data.adding_problem(n=20000, length=10, seed=0, dtype=torch.float64)
    mse = F.mse_loss(torch.ones_like(y), y).item()
    # (u1 + u2 − 1)² has variance 7/180, so the standard error at n = 20000 is 0.0014;
    # 0.006 is four standard errors
    assert mse == pytest.approx(theory.adding_baseline(), abs=0.006, rel=0)


@pytest.mark.parametrize("delay, memory", [(20, 10), (7, 3)])
def test_copy_task_layout(delay, memory):
    x, y = vgcourse.data.copy_task(n=64, delay=delay, memory=memory, seed=0)
    length = delay + 2 * memory
    assert x.shape == (64, length, 10) and y.shape == (64, length)
    assert torch.equal(x.sum(-1), torch.ones(64, length))  # one-hot
    symbols = x.argmax(-1)
    assert ((symbols[:, :memory] >= 1) & (symbols[:, :memory] <= 8)).all()
    assert (symbols[:, memory + delay - 1] == 9).all()  # the delimiter
    rest = torch.cat([symbols[:, memory:memory + delay - 1], symbols[:, memory + delay:]], 1)
    assert (rest == 0).all()
    assert (y[:, :-memory] == 0).all()
    assert torch.equal(y[:, -memory:], symbols[:, :memory])


@pytest.mark.parametrize("delay, memory", [(20, 10), (100, 10), (10, 5)])
def test_memoryless_model_scores_the_copy_baseline(delay, memory):
    x, y = vgcourse.data.copy_task(n=32, delay=delay, memory=memory, seed=1)
    log_probs = torch.full((*y.shape, 10), -1e4, dtype=torch.float64)
    log_probs[:, :-memory, 0] = 0.0  # sure of a blank where a blank is due
    log_probs[:, -memory:, 1:9] = 0.0  # uniform over the 8 symbols at the end
    loss = F.cross_entropy(log_probs.reshape(-1, 10), y.reshape(-1)).item()
    assert loss == pytest.approx(theory.copy_baseline(delay, memory), rel=1e-12)


def test_bad_sizes_name_themselves():
    with pytest.raises(ValueError, match="length=1"):
        vgcourse.data.adding_problem(10, length=1)
    with pytest.raises(ValueError, match="delay=0"):
        vgcourse.data.copy_task(10, delay=0)
