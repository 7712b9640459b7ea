"""Model builders: shapes, addressable layers, determinism, argument checks."""

import math

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
    # gain² · I up to float64 round-off (~1e-15); absolute: the off-diagonal target is 0
    assert torch.allclose(w @ w.T, 4 * torch.eye(8, dtype=torch.float64), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"depth": 0}, "depth=0"),
        ({"depth": 2.5}, "depth=2.5"),
        ({"depth": 2, "width": -1}, "width=-1"),
        ({"depth": 2, "activation": "swish"}, "activation='swish'"),
        ({"depth": 2, "init": "glorot"}, "init='glorot'"),
        ({"depth": 2, "out_features": 0}, "out_features=0"),
    ],
)
def test_mlp_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        vgcourse.mlp(**kwargs)


# -- normalised and residual variants (chapters 5 and 6) ---------------------------------------

VARIANTS = [
    {"norm": "batch"},
    {"norm": "layer"},
    {"residual": True},
    {"residual": True, "branch_scale": 0.5},
    {"residual": True, "norm": "batch"},
    {"residual": True, "norm": "layer", "norm_position": "pre"},
    {"residual": True, "norm": "batch", "zero_init": True},
    {"residual": True, "zero_init": True},
]


@pytest.mark.parametrize("kwargs", VARIANTS,
                         ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_every_variant_is_addressable_and_measurable(kwargs):
    depth, width = 4, 8
    model = vgcourse.mlp(depth, width, activation="tanh", init="he", dtype=torch.float64,
                         **kwargs)
    assert model.depth == depth
    assert all(isinstance(layer.linear, nn.Linear) for layer in model.hidden)
    assert all(layer.activation_name == "tanh" for layer in model.hidden)
    x, y = vgcourse.data.gaussian_batch(batch=6, features=width)
    assert model(x).shape == (6, 1)
    flow = vgcourse.gradient_flow(model, x, y)
    linears = 2 * depth + 1 if kwargs.get("residual") else depth + 1
    assert len(flow.activation_grad_norms) == depth
    assert len(flow.weight_grad_norms) == linears
    assert all(g > 0 for g in flow.activation_grad_norms)


def test_norm_layer_places_the_norm_before_the_activation():
    model = vgcourse.mlp(2, 8, activation="relu", init="he", norm="batch", dtype=torch.float64)
    layer = model.hidden[0]
    x = torch.randn(16, 8, dtype=torch.float64)
    expected = torch.relu(nn.functional.batch_norm(layer.linear(x), None, None, training=True,
                                                   eps=layer.norm.eps))
    assert torch.allclose(layer(x), expected, rtol=0, atol=1e-12)  # O(1) values, float64
    assert layer.pre_activation is layer.norm


def test_residual_block_without_norm_is_x_plus_scaled_branch():
    model = vgcourse.mlp(1, 8, activation="relu", init="he", residual=True, branch_scale=0.3,
                         dtype=torch.float64)
    block = model.hidden[0]
    x = torch.randn(5, 8, dtype=torch.float64)
    branch = block.linear2(torch.relu(block.linear(x)))
    assert torch.allclose(block(x), x + 0.3 * branch, rtol=0, atol=1e-12)  # float64 round-off


@pytest.mark.parametrize("kwargs", [{}, {"norm": "batch"},
                                    {"norm": "layer", "norm_position": "pre"}])
def test_zero_init_makes_every_block_the_identity(kwargs):
    model = vgcourse.mlp(5, 8, activation="relu", init="he", residual=True, zero_init=True,
                         dtype=torch.float64, **kwargs)
    x = torch.randn(6, 8, dtype=torch.float64)
    h = x
    for block in model.hidden:
        h_next = block(h)
        # post-norm applies relu after the sum, so the identity holds for non-negative inputs
        expected = torch.relu(h) if kwargs.get("norm") == "batch" else h
        assert torch.allclose(h_next, expected, rtol=0, atol=1e-12)  # float64 round-off
        h = h_next


def test_residual_input_projection_when_sizes_differ():
    model = vgcourse.mlp(3, 8, residual=True, in_features=2, dtype=torch.float64)
    assert isinstance(model.input, nn.Linear) and model.input.in_features == 2
    assert model(torch.randn(4, 2, dtype=torch.float64)).shape == (4, 1)
    first = next(m for m in model.modules() if isinstance(m, nn.Linear))
    assert first is model.input  # gradient_flow lists Linear layers input first


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"norm": "group"}, "norm='group'"),
        ({"norm_position": "middle"}, "norm_position='middle'"),
        ({"branch_scale": 0.5}, "branch_scale=0.5"),
        ({"zero_init": True}, "zero_init=True"),
        ({"residual": True, "branch_scale": -1.0}, "branch_scale=-1.0"),
        ({"residual": "yes"}, "residual='yes'"),
        ({"norm": "batch", "norm_eps": 0.0}, "norm_eps=0.0"),
    ],
)
def test_mlp_bad_variant_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        vgcourse.mlp(depth=2, width=4, **kwargs)


def test_conv_net_structure_weights_and_arguments():
    from vgcourse.models import ConvLayer, ConvResidualBlock, conv_net

    plain = conv_net(6, channels=4, patch=4, seed=3, dtype=torch.float64)
    assert len(plain.hidden) == 6 and all(isinstance(m, ConvLayer) for m in plain.hidden)
    assert plain(torch.zeros(5, 1, 32, 32, dtype=torch.float64)).shape == (5, 4)
    assert len(plain.convolutions) == 7  # the stem and six 3×3 convolutions
    res = conv_net(6, channels=4, residual=True, norm="group", groups=2)
    assert len(res.hidden) == 3 and all(isinstance(m, ConvResidualBlock) for m in res.hidden)
    assert len(res.convolutions) == 7
    # He weights: fan-in k²·C_in = 9·4 = 36 for a 3×3 layer, so std √(2/36); zero biases
    wide = conv_net(2, channels=64, dtype=torch.float64)
    w = wide.hidden[0].conv.weight
    assert w.std().item() == pytest.approx(math.sqrt(2 / (9 * 64)), rel=0.02)
    assert wide.stem.weight.std().item() == pytest.approx(math.sqrt(2 / 16), rel=0.1)
    assert (wide.hidden[0].conv.bias == 0).all()
    assert torch.equal(conv_net(2, seed=1).stem.weight, conv_net(2, seed=1).stem.weight)
    # a residual block without normalisation is ReLU(x + conv2(ReLU(conv1 x)))
    block = conv_net(2, channels=3, residual=True, dtype=torch.float64).hidden[0]
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    expected = torch.relu(x + block.conv2(torch.relu(block.conv1(x))))
    assert torch.allclose(block(x), expected, rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="depth=5"):
        conv_net(5, residual=True)
    with pytest.raises(ValueError, match="groups=3"):
        conv_net(4, channels=8, norm="group", groups=3)
    with pytest.raises(ValueError, match="groups=None"):
        conv_net(4, norm="group")
    with pytest.raises(ValueError, match="norm='weight'"):
        conv_net(4, norm="weight")
