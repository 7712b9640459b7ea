"""The device path: public functions that create tensors take ``device``; measurements follow the
model's device. Colab runtimes may have a GPU; the chapters pick the CPU unless asked, so this
runs every such function with an explicit ``device`` on the CPU (and on CUDA where there is one).
"""

import inspect

import pytest
import torch

import vgcourse
from vgcourse import data

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def data_functions():
    """Every public function of vgcourse.data that returns tensors (``tuple[torch.Tensor, ...]``).

    Functions returning other objects (a text corpus, say) are left out.
    """
    return [f for name, f in inspect.getmembers(data, inspect.isfunction)
            if not name.startswith("_") and f.__module__ == data.__name__
            and str(inspect.signature(f).return_annotation).startswith("tuple[torch.Tensor")]


def small_kwargs(fn):
    """Small sizes, so each call takes milliseconds."""
    sizes = {"n": 32, "batch": 16, "features": 8, "length": 6, "delay": 4, "memory": 2,
             "hidden": 8}
    return {k: v for k, v in sizes.items() if k in inspect.signature(fn).parameters}


@pytest.mark.parametrize("fn", data_functions(), ids=lambda f: f.__name__)
def test_every_data_function_takes_device(fn):
    parameter = inspect.signature(fn).parameters.get("device")
    assert parameter is not None and parameter.default is None, \
        f"data.{fn.__name__} needs a `device=None` argument"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("fn", data_functions(), ids=lambda f: f.__name__)
def test_data_on_a_device_is_the_same_draw(fn, device):
    kwargs = small_kwargs(fn)
    default = fn(**kwargs)
    placed = fn(**kwargs, device=device)
    assert len(placed) == len(default)
    for a, b in zip(default, placed):
        assert a.device.type == "cpu"  # the default stays on the CPU
        assert b.device.type == device
        assert b.dtype == a.dtype and torch.equal(b.cpu(), a)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", [{}, {"norm": "batch"}, {"residual": True}])
def test_mlp_on_a_device_has_the_same_weights(device, kind):
    default = vgcourse.mlp(depth=3, width=8, activation="tanh", init="xavier", **kind)
    placed = vgcourse.mlp(depth=3, width=8, activation="tanh", init="xavier", device=device,
                          **kind)
    assert all(p.device.type == "cpu" for p in default.parameters())
    assert all(p.device.type == device for p in placed.parameters())
    for a, b in zip(default.state_dict().values(), placed.state_dict().values()):
        assert torch.equal(b.cpu(), a)


@pytest.mark.parametrize("device", DEVICES)
def test_probes_run_on_the_models_device_and_agree_with_the_default(device):
    x, y = data.gaussian_batch(batch=16, features=8, device=device)
    model = vgcourse.mlp(depth=4, width=8, activation="tanh", init="xavier", device=device)
    flow = vgcourse.gradient_flow(model, x, y)
    reference = vgcourse.gradient_flow(vgcourse.mlp(depth=4, width=8, activation="tanh",
                                                    init="xavier"), *data.gaussian_batch(16, 8))
    assert all(p.device.type == device for p in model.parameters())  # left where it was
    # Same float64 arithmetic on the CPU: equal to rounding. On a GPU, reductions may sum in
    # another order: 1e-9 relative is far above float64 rounding over 8-wide layers.
    assert flow.activation_grad_norms == pytest.approx(reference.activation_grad_norms, rel=1e-9)
    assert flow.loss == pytest.approx(reference.loss, rel=1e-9)
    spectrum = vgcourse.probe.jacobian_spectrum(model, x[0])
    assert spectrum.device.type == device and spectrum.shape == (8,)
    moments = vgcourse.probe.preactivation_moments(model, x)
    assert len(moments) == 4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gradient_flow_moves_a_cpu_batch_to_a_gpu_model():
    x, y = data.gaussian_batch(batch=16, features=8)  # CPU tensors, as a chapter makes them
    model = vgcourse.mlp(depth=4, width=8, device="cuda")
    flow = vgcourse.gradient_flow(model, x, y)
    reference = vgcourse.gradient_flow(vgcourse.mlp(depth=4, width=8), x, y)
    assert flow.activation_grad_norms == pytest.approx(reference.activation_grad_norms, rel=1e-9)


def test_train_runs_with_an_explicit_cpu_device():
    x, y = data.gaussian_batch(batch=32, features=8, dtype=torch.float32, device="cpu")
    model = vgcourse.mlp(depth=2, width=8, activation="tanh", init="xavier", device="cpu")
    history = vgcourse.train(model, (x, y), steps=5, lr=0.05, show_progress=False)
    assert len(history.loss) == 5 and not history.diverged
