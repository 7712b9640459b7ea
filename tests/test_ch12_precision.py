"""Chapter 12, precision: the mixed-precision training loop with and without a loss scaler."""

import pytest
import torch

import vgcourse
from vgcourse import precision


def _data():
    x, y = vgcourse.data.digits()
    return x[:64], y[:64]


def _net():
    return vgcourse.mlp(2, 16, activation="relu", init="he", in_features=64, out_features=10)


def test_float32_loses_nothing_and_uses_no_scale():
    run = precision.train_mixed_precision(_net(), *_data(), "float32", steps=3, batch_size=8)
    assert run.scales == [1.0, 1.0, 1.0]
    assert all(share == 0.0 for lost in run.lost for share in lost)
    assert len(run.lost[0]) == 3  # two hidden layers and the read-out
    assert run.skipped == []


def test_dynamic_scale_doubles_after_each_growth_interval():
    # no overflow at these sizes: S = 2^16 for two steps, then 2^17 for two, then 2^18
    run = precision.train_mixed_precision(_net(), *_data(), "float16+scaling", steps=5,
                                          batch_size=8, growth_interval=2)
    assert run.scales == [2.0**16, 2.0**16, 2.0**17, 2.0**17, 2.0**18]
    assert 0 not in run.skipped and 1 not in run.skipped and 2 not in run.skipped


def test_scaler_halves_and_skips_on_overflow():
    # a scale of 2^40 overflows float16 (max 65504) at once: the step is skipped, S halved
    net = _net()
    before = [p.detach().clone() for p in net.parameters()]
    run = precision.train_mixed_precision(net, *_data(), "float16+scaling", steps=1,
                                          batch_size=8, init_scale=2.0**40)
    assert run.skipped == [0]
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), before))


def test_unscaled_float16_flushes_a_tiny_loss_gradient():
    # A deep sigmoid net: each layer passes at most 1/4, so the first layer's weight gradient
    # falls below float16's 2^-24 and is lost; the scaled run keeps it.
    torch.manual_seed(0)
    deep = vgcourse.mlp(10, 16, activation="sigmoid", init="xavier", in_features=64,
                        out_features=10)
    plain = precision.train_mixed_precision(deep, *_data(), "float16", steps=1, batch_size=32)
    deep = vgcourse.mlp(10, 16, activation="sigmoid", init="xavier", in_features=64,
                        out_features=10)
    scaled = precision.train_mixed_precision(deep, *_data(), "float16+scaling", steps=1,
                                             batch_size=32)
    assert plain.lost[0][0] > 0.5
    assert scaled.lost[0][0] < plain.lost[0][0] / 10


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"mode": "float8"}, "mode"), ({"steps": 0}, "steps"), ({"lr": -1.0}, "lr"),
    ({"batch_size": 0}, "batch_size"), ({"init_scale": 0.0}, "init_scale"),
    ({"growth_interval": 0}, "growth_interval"),
])
def test_errors_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        precision.train_mixed_precision(_net(), *_data(), **kwargs)
