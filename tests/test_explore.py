"""explore(): the live panel, the static sweep, and the switch between them."""

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib
import tomllib

matplotlib.use("Agg")  # tests only; never set this when executing notebooks
import matplotlib.pyplot as plt
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

import vgcourse
from vgcourse.exploring import MAX_FRAMES


def line(slope, style="solid"):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, slope], linestyle=style)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    return fig


def test_full_product_when_small():
    panel = vgcourse.explore(line, slope=[1, 2, 3], style=["solid", "dashed"])
    assert panel.full_product
    frames = panel.frames()
    assert len(frames) == 6 and {"slope": 3, "style": "dashed"} in frames


def test_one_axis_at_a_time_when_large():
    panel = vgcourse.explore(line, slope=list(range(1, 41)), style=["solid", "dashed", "dotted"],
                             defaults={"slope": 5})
    assert not panel.full_product
    frames = panel.frames()
    assert len(frames) == 1 + 39 + 2 <= MAX_FRAMES
    assert all(f["slope"] == 5 or f["style"] == "solid" for f in frames)


def test_static_html_embeds_every_frame_and_a_control_per_parameter():
    panel = vgcourse.explore(line, slope=[1, 2, 3], style=["solid", "dashed"],
                             description="A line.")
    html = panel.static_html()
    payload = re.search(r'class="vgx-data">(.*?)</script>', html, re.S).group(1)
    assert payload.count("data:image/png;base64,") == 6
    assert "type='range' data-name='slope'" in html and "<select data-name='style'" in html
    # each frame's alt text: the description, the figure in words, then the setting it shows
    first = re.search(r'<img class="vgx-frame"[^>]* alt="([^"]*)"', html).group(1)
    assert first.startswith("A line. Figure: ") and first.endswith("slope = 1, style = solid.")
    alts = json.loads(payload.replace("<\\/", "</"))["alts"]
    assert len(set(alts.values())) == 6 and "slope = 3, style = dashed." in alts["2,1"]
    assert len(set(re.findall(r"data:image/png;base64,[A-Za-z0-9+/=]+", payload))) == 6


def test_a_long_sweep_warns_of_nothing_and_leaves_no_figure_open():
    """A sweep keeps all its frames open until one layout fits them (42 here, past matplotlib's
    warning at 20); that warning would only be noise in a chapter's output."""
    panel = vgcourse.explore(line, slope=list(range(1, 41)), style=["solid", "dashed", "dotted"],
                             defaults={"slope": 5})
    before = set(plt.get_fignums())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        panel.static_html()
    assert set(plt.get_fignums()) == before
    assert plt.rcParams["figure.max_open_warning"] == 20  # the reader's own setting is kept


def test_mimebundle_follows_the_mode(monkeypatch):
    panel = vgcourse.explore(line, slope=[1, 2])
    monkeypatch.setenv("VGCOURSE_EXPLORE", "static")
    bundle = panel._repr_mimebundle_()
    assert "vgx-sweep" in bundle["text/html"]
    assert not any("widget" in key for key in bundle)
    monkeypatch.setenv("VGCOURSE_EXPLORE", "live")
    assert "application/vnd.jupyter.widget-view+json" in panel._repr_mimebundle_()


def test_widget_has_one_control_per_parameter_and_redraws():
    calls = []

    def traced(slope, style):
        calls.append((slope, style))
        return line(slope, style)

    panel = vgcourse.explore(traced, slope=[1, 2], style=["solid", "dashed"])
    box = panel.widget()
    controls = box.children[0].children
    assert [c.description for c in controls] == ["slope", "style"]
    controls[0].value = 2
    assert calls[-1] == (2, "solid")


def test_render_returns_png_bytes_and_closes_the_figure():
    panel = vgcourse.explore(line, slope=[1])
    before = len(plt.get_fignums())
    assert panel.render().startswith(b"\x89PNG")
    assert len(plt.get_fignums()) == before


def test_bad_arguments():
    with pytest.raises(ValueError, match="fn=3 is not callable"):
        vgcourse.explore(3, a=[1])
    with pytest.raises(ValueError, match="at least one parameter"):
        vgcourse.explore(line)
    with pytest.raises(ValueError, match="slope=5 is not allowed"):
        vgcourse.explore(line, slope=5)
    with pytest.raises(ValueError, match=r"defaults\['slope'\]=9"):
        vgcourse.explore(line, slope=[1, 2], defaults={"slope": 9})
    with pytest.raises(ValueError, match="returned int"):
        vgcourse.explore(lambda a: 1, a=[1]).figure()


# -- the live panel and the progress bars in a real kernel, under ipywidgets 7 and 8 -----------
# Colab ships ipywidgets 7.7.1 (tests/colab_snapshot.toml) and its widget manager does not take 8;
# Jupyter has 8 (.venv). Each runs in a kernel of its own, and the kernel's messages are what a
# front end would receive. The model module versions are those of @jupyter-widgets/controls that
# each major version emits (ipywidgets 7.x: 1.5.0; 8.x: 2.0.0): a panel built with the wrong
# protocol for the installed front end would not render.
CONTROLS_MODULE_VERSION = {7: "1.5.0", 8: "2.0.0"}
SNAPSHOT = Path(__file__).with_name("colab_snapshot.toml")
ROOT = Path(__file__).resolve().parents[1]


def ipywidgets_7() -> Path:
    """A folder holding Colab's ipywidgets 7 (only that), to put before .venv's on the path."""
    version = tomllib.loads(SNAPSHOT.read_text())["packages"]["ipywidgets"]
    assert version.startswith("7."), f"the Colab snapshot's ipywidgets is {version}, not 7.x"
    cache = Path(os.environ.get("VGCOURSE_PARITY_CACHE",
                                Path.home() / ".cache" / "vgcourse" / "colab-parity"))
    target = cache / f"ipywidgets-{version}"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "ipywidgets.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "complete").exists():
            shutil.rmtree(target, ignore_errors=True)
            done = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                 str(target), f"ipywidgets=={version}", "ipython_genutils"],
                capture_output=True, text=True)
            assert done.returncode == 0, done.stdout + done.stderr
            (target / "complete").write_text(version)
    return target


@pytest.fixture(scope="module", params=[7, 8], ids=["ipywidgets7", "ipywidgets8"])
def kernel(request, tmp_path_factory):
    major = request.param
    path = [str(ROOT)] + ([str(ipywidgets_7())] if major == 7 else [])
    spec = tmp_path_factory.mktemp("kernels") / "vgcourse-widgets"
    spec.mkdir()
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"ipywidgets {major}", "language": "python",
        "env": {"PYTHONPATH": os.pathsep.join(reversed(path))}}))
    env = {k: v for k, v in os.environ.items()
           if k not in ("MPLBACKEND", "VGCOURSE_EXPLORE", "VGCOURSE_PROGRESS", "PYTHONPATH")}
    manager = KernelManager(kernel_name="vgcourse-widgets",
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec.parent)]))
    manager.start_kernel(env=env)
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        yield major, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _replies(client, msg_id, timeout=120) -> list[dict]:
    """The iopub messages answering ``msg_id``, up to its kernel's return to idle."""
    found = []
    while True:
        msg = client.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return found
        found.append(msg)


def _run(client, code) -> list[dict]:
    msg_id = client.execute(code)
    messages = _replies(client, msg_id)
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert not errors, "\n".join("\n".join(e["traceback"]) for e in errors)
    return messages


def _models(messages) -> dict[str, dict]:
    """``comm_id -> state`` of every widget model the kernel opened."""
    return {m["content"]["comm_id"]: m["content"]["data"]["state"] for m in messages
            if m["msg_type"] == "comm_open"
            and m["content"].get("target_name") == "jupyter.widget"}


def _stdout(messages) -> str:
    return "".join(m["content"]["text"] for m in messages
                   if m["msg_type"] == "stream" and m["content"]["name"] == "stdout")


def test_live_panel_renders_and_redraws_under_each_ipywidgets(kernel):
    major, client = kernel
    version = _stdout(_run(client, "import ipywidgets; print(ipywidgets.__version__)"))
    assert version.strip().split(".")[0] == str(major), version
    shown = _run(client, """
import matplotlib.pyplot as plt
import vgcourse

calls = []

def line(slope):
    calls.append(slope)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, slope])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    return fig

vgcourse.explore(line, slope=[1, 2])
""")
    views = [m["content"]["data"]["application/vnd.jupyter.widget-view+json"] for m in shown
             if m["msg_type"] in ("execute_result", "display_data")
             and "application/vnd.jupyter.widget-view+json" in m["content"]["data"]]
    assert len(views) == 1, f"expected one panel displayed, got {views}"
    models = _models(shown)
    panel = models[views[0]["model_id"]]
    assert panel["_model_name"] == "VBoxModel"
    assert panel["_model_module_version"] == CONTROLS_MODULE_VERSION[major]
    slider = next(cid for cid, s in models.items() if s["_model_name"] == "SelectionSliderModel")
    output = next(cid for cid, s in models.items() if s["_model_name"] == "OutputModel")
    assert models[slider]["_model_module_version"] == CONTROLS_MODULE_VERSION[major]

    # The reader moves the slider: the front end sends the new index, as Jupyter and Colab do.
    message = client.session.msg("comm_msg", {"comm_id": slider, "data": {
        "method": "update", "state": {"index": 1}, "buffer_paths": []}})
    client.shell_channel.send(message)
    redrawn = _replies(client, message["header"]["msg_id"])
    # The Output widget captures the messages of this update (its msg_id is the update's), and
    # a new PNG figure is among them: the front end draws it in the panel.
    captured = [m["content"]["data"]["state"].get("msg_id") for m in redrawn
                if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == output]
    assert message["header"]["msg_id"] in captured, redrawn
    assert any(m["msg_type"] == "display_data" and "image/png" in m["content"]["data"]
               for m in redrawn), [m["msg_type"] for m in redrawn]
    assert _stdout(_run(client, "print(calls)")).strip() == "[1, 2]"


def test_progress_bar_is_a_widget_under_each_ipywidgets(kernel):
    major, client = kernel
    messages = _run(client, """
from vgcourse.progress import progress

total = sum(progress(range(3), desc="steps"))
print(total)
""")
    assert _stdout(messages).strip() == "3"
    bars = [s for s in _models(messages).values() if s["_model_name"] == "FloatProgressModel"]
    assert len(bars) == 1 and bars[0]["_model_module_version"] == CONTROLS_MODULE_VERSION[major]
    assert bars[0]["value"] == 0 and bars[0]["max"] == 3  # opened at 0; updated by comm_msg
    warned = "".join(m["content"]["text"] for m in messages
                     if m["msg_type"] == "stream" and m["content"]["name"] == "stderr")
    assert "IProgress not found" not in warned


def decades(top, style="solid"):
    """A log-scale figure whose tick labels widen with ``top`` (10^0 ... 10^-top)."""
    fig, ax = plt.subplots(figsize=(4, 3), layout="constrained")
    ax.semilogy([1, 2], [1.0, 10.0 ** -top], linestyle=style)
    ax.set_xlabel("layer")
    ax.set_ylabel("gradient norm")
    return fig


def test_one_layout_fits_every_frame_of_a_sweep():
    """Frames share one set of axes positions, found from every frame's labels: a later frame
    with wider tick labels than the first shrinks the axes for all, and none is cut."""
    from vgcourse.exploring import _fits, _Layout, _positions

    figures = [decades(top) for top in (1, 300, 5)]
    layout = _Layout()
    try:
        for fig in figures:
            layout.fit(fig, final=False)
        for fig in figures:
            layout.settle(fig)
        boxes = [[b.bounds for b in _positions(fig)] for fig in figures]
        assert boxes[0] == boxes[1] == boxes[2]
        assert all(_fits(fig) for fig in figures)
        # the first frame alone needs less room on the left than the widest labels
        alone = decades(1)
        _Layout().fit(alone)
        assert _positions(alone)[0].x0 < boxes[0][0][0]
        plt.close(alone)
    finally:
        for fig in figures:
            plt.close(fig)


def test_live_frames_reuse_the_layout_and_revisits_come_from_the_cache():
    calls = []

    def traced(top):
        calls.append(top)
        return decades(top)

    panel = vgcourse.explore(traced, top=[1, 2, 300])
    first = panel.render(top=1)
    panel.render(top=2)
    wide = panel.render(top=300)  # wider labels: laid out again, not cut
    assert panel.render(top=1) == first and calls == [1, 2, 300]
    assert wide.startswith(b"\x89PNG") and wide != first


def texts(shift=0.0):
    """A figure with every kind of text a frame draws: tick labels, mathtext, a rotated label,
    a legend, a text drawn without antialiasing; ``shift`` moves the free texts (in pixels)."""
    fig, ax = plt.subplots(figsize=(4, 3), dpi=90)
    ax.semilogy([1, 2, 3], [1.0, 1e-3, 1e-6], label=r"measured $\|g\|$")
    ax.set_xlabel("layer $l$ (1 = next to the input)")
    ax.set_ylabel(r"$\|\partial\mathcal{L}/\partial h_l\|$")
    ax.set_title("Gradient flow, depth 3")
    ax.legend()
    dx = shift / fig.bbox.width
    fig.text(0.3 + dx, 0.5, "rotated text 123", rotation=33)
    fig.text(0.1 + dx, 0.2, "no antialiasing", antialiased=False)
    fig.text(0.6 + dx, 0.8, r"$\alpha^2_{ij} + \sqrt{x}$ mixed")
    return fig


def pixels(fig, canvas_class):
    import numpy as np

    canvas_class(fig)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


@pytest.mark.parametrize("shift", [0.0, 7.0, 7.3, -2.61])
def test_the_frame_renderer_draws_text_pixel_for_pixel_as_agg(shift):
    """The frame canvas caches glyph bitmaps, shaping and font metrics: a frame drawn from its
    caches (second draw, texts moved by whole and by fractional pixels) equals Agg's drawing."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from vgcourse.exploring import _frame_canvas

    frame_canvas = _frame_canvas()
    try:
        for _ in range(2):  # the second time every glyph comes from the cache
            reference, drawn = texts(shift), texts(shift)
            expected = pixels(reference, FigureCanvasAgg)
            got = pixels(drawn, frame_canvas)
            assert expected.shape == got.shape
            assert (expected != got).sum() == 0
            assert (expected[..., :3] < 128).any()  # something dark was drawn
            plt.close(reference)
            plt.close(drawn)
    finally:
        plt.close("all")


def test_a_live_update_frees_its_figure_and_leaves_the_collector_as_it_was():
    import gc
    import weakref

    made = []

    def tracked(top):
        fig = decades(top)
        made.append(weakref.ref(fig))
        return fig

    panel = vgcourse.explore(tracked, top=[1, 2])
    assert gc.isenabled()
    panel.render(top=1)
    assert gc.isenabled() and made[0]() is None  # freed young, without a full collection
    gc.disable()
    try:
        panel.render(top=2)
        assert not gc.isenabled()  # a collector the caller disabled stays disabled
    finally:
        gc.enable()

    def broken(top):
        raise RuntimeError("experiment failed")

    with pytest.raises(RuntimeError):
        vgcourse.explore(broken, top=[1]).render(top=1)
    assert gc.isenabled()


def busy(top):
    """Every kind of axis a frame may have: shared log axes, a secondary axis, a twin, a
    title placed above them, ticks that change with the data."""
    fig, (upper, lower) = plt.subplots(2, 1, figsize=(5, 4), sharex=True, layout="constrained")
    upper.semilogy([1, 2, 3], [1.0, 10.0 ** -top, 1e-2])
    upper.set_title(f"top {top}")
    upper.secondary_yaxis("right", functions=(lambda v: 3 * v, lambda v: v / 3))
    lower.plot([1, 2, 3], [0.0, top * 1e5, 2.0])  # an offset text or scientific labels
    lower.twinx().plot([1, 3], [5.0, -top])
    lower.set_xlabel("step")
    return fig


@pytest.mark.parametrize("top", [1, 7, 300])
def test_ticks_computed_once_draw_the_same_frame(top):
    """A frame laid out and drawn with each axis' ticks computed once per state equals the same
    frame laid out and drawn as matplotlib does it."""
    import numpy as np

    from vgcourse.exploring import _Layout, _prepare, _ticks_once

    images = []
    for once in (False, True):
        fig = busy(top)
        try:
            _prepare(fig)
            if once:
                _ticks_once(fig)
            _Layout().fit(fig)
            fig.canvas.draw()
            images.append(np.asarray(fig.canvas.buffer_rgba()).copy())
        finally:
            plt.close(fig)
    assert (images[0] != images[1]).sum() == 0


def test_ticks_computed_once_follow_the_limits_the_size_and_the_locator():
    """An axis that computes its ticks once per state computes them again when its limits, its
    size on the canvas or its locator change, and then has the ticks matplotlib computes."""
    from matplotlib.ticker import MultipleLocator

    from vgcourse.exploring import _prepare, _ticks_once

    steps = [lambda ax: None,
             lambda ax: ax.set_ylim(0, 1000),
             lambda ax: ax.set_position([0.1, 0.1, 0.8, 0.06]),  # room for fewer ticks
             lambda ax: ax.yaxis.set_major_locator(MultipleLocator(250))]
    figures = [plt.subplots(figsize=(4, 6))[0] for _ in range(2)]
    try:
        for fig in figures:
            fig.axes[0].plot([0, 1], [0, 1])
            _prepare(fig)
        _ticks_once(figures[1])
        seen = []
        for step in steps:
            labels = []
            for fig in figures:
                step(fig.axes[0])
                labels.append([t.label1.get_text() for t in fig.axes[0].yaxis._update_ticks()])
            assert labels[0] == labels[1]
            seen.append(labels[1])
        assert len({tuple(s) for s in seen}) == len(steps)  # every step changed the ticks
    finally:
        for fig in figures:
            plt.close(fig)
