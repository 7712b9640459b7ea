"""Model builders: shapes, addressable layers, determinism, argument checks."""

import pytest
import torch
from torch import nn

import vgcourse


def test_mlp_structure_and_defaults():
    model = vgcourse.mlp(depth=4, width=16)
    assert model.depth == 4 and len(model.hidden) == 4
    assert all(layer.linear.in_features == 16 for layer in model.hidden)
    assert isinstance(model.hidden[0].activation, nn.Tanh)
    assert model.output.out_features == 1
    assert model(torch.randn(3, 16)).shape == (3, 1)


def test_mlp_in_and_out_features():
    model = vgcourse.mlp(depth=2, width=8, in_features=3, out_features=5, activation="relu")
    assert model.hidden[0].linear.in_features == 3
    assert model(torch.randn(7, 3)).shape == (7, 5)
    assert isinstance(model.hidden[1].activation, nn.ReLU)


def test_mlp_is_deterministic_in_its_seed():
    a, b, c = (vgcourse.mlp(3, 8, seed=s) for s in (1, 1, 2))
    assert torch.equal(a.hidden[0].linear.weight, b.hidden[0].linear.weight)
    assert not torch.equal(a.hidden[0].linear.weight, c.hidden[0].linear.weight)


def test_mlp_dtype_and_init():
    model = vgcourse.mlp(3, 8, init="orthogonal", gain=2.0, dtype=torch.float64)
    w = model.hidden[1].linear.weight
    assert w.dtype == torch.float64
    assert torch.allclose(w @ w.T, 4 * torch.eye(8, dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"depth": 0}, "depth=0"),
        ({"depth": 2.5}, "depth=2.5"),
        ({"depth": 2, "width": -1}, "width=-1"),
        ({"depth": 2, "activation": "swish"}, "activation='swish'"),
        ({"depth": 2, "init": "glorot"}, "scheme='glorot'"),
        ({"depth": 2, "out_features": 0}, "out_features=0"),
    ],
)
def test_mlp_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        vgcourse.mlp(**kwargs)
