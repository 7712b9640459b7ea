"""The device path: public functions that create tensors take ``device``; measurements follow the
model's device. Colab runtimes may have a GPU; the chapters pick the CPU unless asked, so this
runs every such function with an explicit ``device`` on the CPU (and on CUDA where there is one).
"""

import copy
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


@pytest.mark.parametrize("fn", data_functions(), ids=lambda f: f.__name__)
def test_data_honours_a_device_other_than_the_cpu(fn):
    """On a CPU-only machine ``fn()`` and ``fn(device="cpu")`` take the same path, so comparing
    them proves nothing. PyTorch's meta device (shapes and dtypes, no data) is another device
    on every machine: a function that ignores ``device`` returns CPU tensors here and fails."""
    kwargs = small_kwargs(fn)
    default, meta = fn(**kwargs), fn(**kwargs, device="meta")
    assert [t.device.type for t in meta] == ["meta"] * len(default)
    assert [(t.shape, t.dtype) for t in meta] == [(t.shape, t.dtype) for t in default]


@pytest.mark.parametrize("kind", [{}, {"norm": "batch"}, {"residual": True}])
def test_mlp_honours_a_device_other_than_the_cpu(kind):
    default = vgcourse.mlp(depth=3, width=8, activation="tanh", init="xavier", **kind)
    meta = vgcourse.mlp(depth=3, width=8, activation="tanh", init="xavier", device="meta", **kind)
    assert {t.device.type for t in meta.state_dict().values()} == {"meta"}
    assert [(k, t.shape, t.dtype) for k, t in meta.state_dict().items()] == [
        (k, t.shape, t.dtype) for k, t in default.state_dict().items()]


def _hand_gradient_norms(model, x, y):
    """‖∂L/∂h_l‖ and the loss by a forward pass written out here in float64 on the CPU (MSE,
    mean over the batch): a reference independent of vgcourse.probe and of the device."""
    reference = copy.deepcopy(model).to("cpu", torch.float64)
    hs, h = [], x.to("cpu", torch.float64)
    for layer in reference.hidden:
        h = layer(h)
        hs.append(h)
    loss = ((reference.output(h) - y.to("cpu", torch.float64)) ** 2).mean()
    return [float(g.norm()) for g in torch.autograd.grad(loss, hs)], loss.item()


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
    norms, loss = _hand_gradient_norms(model, x, y)
    assert all(p.device.type == device for p in model.parameters())  # left where it was
    # Against the hand-written float64 reference: on the CPU equal to rounding; on a GPU
    # reductions may sum in another order. 1e-9 relative is far above float64 rounding over
    # 8-wide layers, and far below any change of definition (a norm per example, a sum for the
    # mean, a float32 pass: ~1e-7 or more).
    assert flow.activation_grad_norms == pytest.approx(norms, rel=1e-9)
    assert flow.loss == pytest.approx(loss, rel=1e-9)
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


# -- the device chosen once, in the set-up cell (vgcourse.setup) --------------------------------
def test_setup_keeps_the_cpu_on_a_gpu_runtime_unless_asked(monkeypatch):
    """A Colab GPU runtime: the set-up cell's `vgcourse.setup(seed=0)` stays on the CPU, so the
    book's numbers reproduce; `device="auto"` takes the GPU. (No CUDA call is made here.)"""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", False)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", True)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)
    matmul_tf32 = torch.backends.cuda.matmul.allow_tf32  # not monkeypatch-able: restored below
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        vgcourse.setup(seed=0)
        assert vgcourse.default_device() == torch.device("cpu")
        assert torch.backends.cudnn.benchmark  # untouched on the CPU
        vgcourse.setup(seed=0, device="auto")
        assert vgcourse.default_device() == torch.device("cuda")
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul_tf32
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    vgcourse.setup(seed=0, device="auto")
    assert vgcourse.default_device() == torch.device("cpu")


def test_setup_chooses_once_and_float64_stays_float64():
    """The device chosen in set-up is the one default_device() gives until the next setup; the
    package's data and models placed there keep their dtype (PyTorch's meta device stands in for
    a GPU on a CPU-only machine: shapes and dtypes, no data)."""
    vgcourse.setup(seed=0, device="meta")
    try:
        device = vgcourse.default_device()
        assert device == torch.device("meta") and torch.get_default_dtype() == torch.float32
        x, y = data.gaussian_batch(batch=16, features=8, dtype=torch.float64, device=device)
        model = vgcourse.mlp(depth=3, width=8, activation="tanh", init="xavier",
                             dtype=torch.float64, device=device)
        assert (x.device.type, x.dtype) == ("meta", torch.float64)
        assert {(p.device.type, p.dtype) for p in model.parameters()} == {
            ("meta", torch.float64)}
    finally:
        vgcourse.setup(seed=0)
    assert vgcourse.default_device() == torch.device("cpu")


def test_setup_checks_the_device_before_setting_anything():
    vgcourse.setup(seed=0)
    torch.manual_seed(7)
    state = torch.get_rng_state()
    for bad in ["gpu", None, 3]:
        with pytest.raises(ValueError, match=r"device=.* is not allowed"):
            vgcourse.setup(seed=1, device=bad)
        assert torch.equal(torch.get_rng_state(), state)
        assert vgcourse.default_device() == torch.device("cpu")
