"""One experiment, two faces: a live ipywidgets panel, and a static sweep for the book.

``explore(fn, **grid)`` returns an :class:`Explorer`. Displayed in a live notebook (Jupyter,
Colab) it is a panel of controls that re-runs ``fn``; displayed while the book is built
(``VGCOURSE_EXPLORE=static``, set by ``make book``) it is every frame of the grid rendered to
PNG and embedded in the page with sliders a reader can scrub without a kernel.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
from numbers import Real

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .progress import progress, static_mode

MAX_FRAMES = 60  # beyond this a full product would bloat the page; sweep one axis at a time
FRAME_DPI = 90


class Explorer:
    """An experiment over a grid of parameter values; see :func:`explore`."""

    def __init__(self, fn, grid: dict, defaults: dict | None = None, description: str = ""):
        if not callable(fn):
            raise ValueError(f"fn={fn!r} is not callable; pass a function returning a Figure.")
        if not grid:
            raise ValueError("explore needs at least one parameter grid, e.g. depth=[5, 10, 20].")
        self.fn = fn
        self.grid = {}
        for name, values in grid.items():
            values = list(values) if isinstance(values, (list, tuple, range)) else None
            if not values:
                raise ValueError(
                    f"{name}={grid[name]!r} is not allowed; expected a non-empty list of values."
                )
            repeated = [v for i, v in enumerate(values) if v in values[:i]]
            if repeated:  # a slider position would have no frame of its own
                raise ValueError(f"{name}={grid[name]!r} is not allowed: {repeated[0]!r} is "
                                 "repeated; expected distinct values.")
            self.grid[name] = values
        self.defaults = {name: values[0] for name, values in self.grid.items()}
        for name, value in (defaults or {}).items():
            if name not in self.grid:
                raise ValueError(f"defaults has {name!r}, which is not one of {list(self.grid)}.")
            if value not in self.grid[name]:
                raise ValueError(
                    f"defaults[{name!r}]={value!r} is not allowed; expected one of "
                    f"{self.grid[name]}."
                )
            self.defaults[name] = value
        self.description = description

    # -- computing ---------------------------------------------------------------------------
    def figure(self, **params) -> Figure:
        """Run the experiment at ``params`` (missing ones at their defaults); return its Figure.

        When the experiment raises, or returns something else than a Figure, every figure it
        opened is closed before the error propagates.
        """
        before = set(plt.get_fignums())
        try:
            fig = self.fn(**{**self.defaults, **params})
        except BaseException:
            _close_new_figures(before)
            raise
        if not isinstance(fig, Figure):
            _close_new_figures(before)
            raise ValueError(
                f"{getattr(self.fn, '__name__', 'fn')} returned {type(fig).__name__}; "
                "explore needs a function that returns a matplotlib Figure."
            )
        return fig

    def render(self, **params) -> bytes:
        """One update as a reader sees it: run, draw to PNG, close. Returns the PNG bytes."""
        return self._render(params)[0]

    def _render(self, params: dict) -> tuple[bytes, str]:
        """The PNG of one setting and its alt text (the figure described, then the setting)."""
        from .plots import _opaque_facecolor, describe_figure

        fig = self.figure(**params)
        buffer = io.BytesIO()
        try:
            fig.savefig(buffer, format="png", dpi=FRAME_DPI, facecolor=_opaque_facecolor(fig))
            alt = describe_figure(fig, self.description)
        finally:
            plt.close(fig)
        setting = ", ".join(f"{n} = {_format(v)}" for n, v in {**self.defaults, **params}.items())
        return buffer.getvalue(), f"{alt} Setting: {setting}."

    @property
    def full_product(self) -> bool:
        """True when the static sweep holds every combination of the grid."""
        count = 1
        for values in self.grid.values():
            count *= len(values)
        return count <= MAX_FRAMES

    def frames(self) -> list[dict]:
        """The parameter settings the static sweep renders.

        The full product when it has at most ``MAX_FRAMES`` settings; otherwise the defaults
        plus every value of one parameter at a time, the others held at their defaults.
        """
        names = list(self.grid)
        if self.full_product:
            return [dict(zip(names, combo)) for combo in itertools.product(*self.grid.values())]
        settings = [dict(self.defaults)]
        for name in names:
            settings += [{**self.defaults, name: v} for v in self.grid[name]
                         if v != self.defaults[name]]
        return settings

    # -- the two faces -----------------------------------------------------------------------
    def widget(self):
        """The live panel: one control per parameter and the figure below them."""
        import ipywidgets as widgets
        from IPython.display import display

        controls = {name: _control(name, values, self.defaults[name])
                    for name, values in self.grid.items()}
        output = widgets.Output()

        def redraw(change=None):
            values = {name: c.value for name, c in controls.items()}
            fig = self.figure(**values)
            try:
                if _in_kernel():
                    with output:
                        output.clear_output(wait=True)
                        display(fig)
                else:  # no front end to draw in: keep a text stand-in, print nothing
                    output.outputs = ({"output_type": "display_data", "metadata": {},
                                       "data": {"text/plain": repr(fig)}},)
            finally:
                plt.close(fig)

        for control in controls.values():
            control.observe(redraw, names="value")
        redraw()
        return widgets.VBox([widgets.HBox(list(controls.values())), output])

    def static_html(self) -> str:
        """The sweep as self-contained HTML: embedded PNG frames and sliders driving them."""
        names = list(self.grid)
        key = repr((self.fn.__qualname__, self.grid)).encode()
        uid = "vgx-" + hashlib.sha1(key).hexdigest()[:10]
        frames, alts = {}, {}
        for setting in progress(self.frames(), desc="rendering sweep", leave=False):
            key = ",".join(str(self.grid[n].index(setting[n])) for n in names)
            png, alts[key] = self._render(setting)
            frames[key] = "data:image/png;base64," + base64.b64encode(png).decode()
        default_index = {n: self.grid[n].index(self.defaults[n]) for n in names}
        rows = "".join(_static_control(uid, n, self.grid[n], default_index[n]) for n in names)
        first_key = ",".join(str(default_index[n]) for n in names)
        first = frames[first_key]
        note = "" if self.full_product else (
            "<p class='vgx-note'>The full grid is large, so this sweep moves one parameter at a "
            "time with the others at their defaults; run the notebook for every combination.</p>")
        payload = json.dumps({
            "names": names,
            "labels": {n: [_format(v) for v in self.grid[n]] for n in names},
            "defaults": default_index,
            "frames": frames,
            "alts": alts,
            "description": self.description,
        }).replace("</", "<\\/")  # a "</script>" in a label or alt text cannot end the block
        alt = html.escape(alts[first_key], quote=True)
        return f"""<div class="vgx-sweep" id="{uid}">
<div class="vgx-controls">{rows}</div>
<img class="vgx-frame" src="{first}" alt="{alt}" style="max-width:100%">
<p class="vgx-status" role="status" aria-live="polite"></p>
{note}
<script type="application/json" class="vgx-data">{payload}</script>
<script>{_SWEEP_JS.replace("__UID__", uid)}</script>
</div>"""

    def _repr_mimebundle_(self, include=None, exclude=None):
        if static_mode():
            return {"text/html": self.static_html(), "text/plain": self._summary()}
        return _widget_bundle(self.widget(), include=include, exclude=exclude)

    def _summary(self) -> str:
        grid = ", ".join(f"{n}={v}" for n, v in self.grid.items())
        return f"Explorer({getattr(self.fn, '__name__', 'fn')}: {grid})"

    def __repr__(self) -> str:
        return self._summary()


def explore(fn, *, defaults: dict | None = None, description: str = "", **grid) -> Explorer:
    """Make an experiment explorable: live in a notebook, scrubbable in the rendered book.

    Parameters
    ----------
    fn : callable
        ``fn(**params)`` runs the experiment and returns a matplotlib Figure.
    defaults : dict, optional
        Starting value of each parameter (default: the first value of each list).
    description : str, optional
        What the figure shows, used as the alt text of the static frames.
    **grid : list
        One list of values per parameter of ``fn``. Numbers become sliders, anything else a
        drop-down.

    Returns
    -------
    Explorer
        Display it (last expression of a cell) to show the panel.

    Examples
    --------
    >>> def experiment(depth, activation):
    ...     ...  # build a model, measure it, return a Figure
    >>> panel = explore(experiment, depth=[5, 10, 20], activation=["tanh", "relu"])
    """
    return Explorer(fn, grid, defaults=defaults, description=description)


def _widget_bundle(widget, include=None, exclude=None) -> dict:
    """The display bundle of an ipywidgets widget, under ipywidgets 7.7 and 8.

    ipywidgets 8 returns it from ``_repr_mimebundle_``. ipywidgets 7 (Colab's 7.7.1) has no such
    method: its ``_ipython_display_`` displays the same bundle itself, built here alike.
    """
    if hasattr(widget, "_repr_mimebundle_"):
        return widget._repr_mimebundle_(include=include, exclude=exclude)
    plain = repr(widget)
    bundle = {"text/plain": plain if len(plain) <= 110 else plain[:110] + "\u2026"}
    if widget._view_name is not None:
        bundle["application/vnd.jupyter.widget-view+json"] = {
            "version_major": 2, "version_minor": 0, "model_id": widget.model_id}
    return bundle


def _close_new_figures(before: set) -> None:
    for number in set(plt.get_fignums()) - before:
        plt.close(number)


def _in_kernel() -> bool:
    """True inside a Jupyter (or Colab) kernel, where widgets and display() have a front end."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _format(value) -> str:
    return f"{value:g}" if isinstance(value, Real) and not isinstance(value, bool) else str(value)


def _is_numeric(values) -> bool:
    return all(isinstance(v, Real) and not isinstance(v, bool) for v in values)


def _control(name, values, default):
    import ipywidgets as widgets

    style = {"description_width": "initial"}
    if _is_numeric(values):
        options = [(_format(v), v) for v in values]
        return widgets.SelectionSlider(options=options, value=default, description=name,
                                       continuous_update=False, style=style)
    return widgets.Dropdown(options=[(_format(v), v) for v in values], value=default,
                            description=name, style=style)


def _static_control(uid, name, values, default_index) -> str:
    label = f"<span class='vgx-name'>{html.escape(name)}</span>"
    value_id = f"{uid}-{name}-value"
    if _is_numeric(values):
        widget = (f"<input type='range' data-name='{html.escape(name)}' min='0' "
                  f"max='{len(values) - 1}' step='1' value='{default_index}' "
                  f"aria-label='{html.escape(name)}'>")
        shown = f"<output id='{value_id}'>{html.escape(_format(values[default_index]))}</output>"
    else:
        options = "".join(
            f"<option value='{i}'{' selected' if i == default_index else ''}>"
            f"{html.escape(_format(v))}</option>" for i, v in enumerate(values))
        widget = (f"<select data-name='{html.escape(name)}' aria-label='{html.escape(name)}'>"
                  f"{options}</select>")
        shown = ""
    return f"<label class='vgx-control'>{label} {widget} {shown}</label> "


_SWEEP_JS = """
(function () {
  var root = document.getElementById("__UID__");
  var data = JSON.parse(root.querySelector(".vgx-data").textContent);
  var img = root.querySelector(".vgx-frame");
  var inputs = root.querySelectorAll("[data-name]");
  function index(name) { return root.querySelector('[data-name="' + name + '"]').value; }
  function key() { return data.names.map(index).join(","); }
  var status = root.querySelector(".vgx-status");
  function setting() {
    return data.names.map(function (n) { return n + " = " + data.labels[n][index(n)]; }).join(", ");
  }
  function update(event) {
    status.textContent = "";
    if (!(key() in data.frames)) {
      // One-at-a-time sweep: keep the moved control, return the others to their defaults, and
      // say so, rather than change the reader's other settings silently.
      var asked = setting();
      var moved = event.target.dataset.name;
      var reset = [];
      data.names.forEach(function (n) {
        if (n !== moved && String(index(n)) !== String(data.defaults[n])) {
          root.querySelector('[data-name="' + n + '"]').value = data.defaults[n];
          reset.push(n + " = " + data.labels[n][data.defaults[n]]);
        }
      });
      status.textContent = "Not precomputed: " + asked + ". This sweep varies one parameter at a " +
        "time, so " + reset.join(", ") + " went back to the default. Run the notebook to see " +
        "every combination.";
    }
    img.src = data.frames[key()];
    img.alt = data.alts[key()];
    data.names.forEach(function (n) {
      var out = document.getElementById("__UID__-" + n + "-value");
      if (out) { out.textContent = data.labels[n][index(n)]; }
    });
    label();
  }
  // A range input's value is the frame's index: screen readers announce the parameter's value.
  function label() {
    inputs.forEach(function (el) {
      if (el.type === "range") {
        var name = el.dataset.name;
        el.setAttribute("aria-valuetext", name + " = " + data.labels[name][el.value]);
      }
    });
  }
  label();
  inputs.forEach(function (el) {
    el.addEventListener("input", update);
    el.addEventListener("change", update);
  });
})();
"""
