"""explore(): the live panel, the static sweep, and the switch between them."""

import json
import re

import matplotlib

matplotlib.use("Agg")  # tests only; never set this when executing notebooks
import matplotlib.pyplot as plt
import pytest

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
