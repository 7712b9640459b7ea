"""One experiment, two faces: a live ipywidgets panel, and a static sweep for the book.

``explore(fn, **grid)`` returns an :class:`Explorer`. Displayed in a live notebook (Jupyter,
Colab) it is a panel of controls that re-runs ``fn``; displayed while the book is built
(``VGCOURSE_EXPLORE=static``, set by ``make book``) it is every frame of the grid rendered to
PNG and embedded in the page with sliders a reader can scrub without a kernel.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import html
import io
import itertools
import json
import math
from contextlib import contextmanager
from numbers import Real

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .progress import progress, static_mode

MAX_FRAMES = 60  # beyond this a full product would bloat the page; sweep one axis at a time
FRAME_DPI = 90
CACHED_FRAMES = 256  # rendered frames a live panel keeps, so revisiting a setting is instant


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
        self._frames: dict = {}  # setting (indices into the grid) -> (PNG, alt text)
        self._layout = _Layout()  # axes positions reused from frame to frame

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
        """One update as a reader sees it: run, draw to PNG, close. Returns the PNG bytes.

        A setting rendered before comes from the panel's cache of frames; a new one reuses the
        axes positions of the previous frame when its labels fit them (a constrained layout
        costs more than the drawing), and is laid out afresh when they do not.
        """
        return self._render(params)[0]

    def _render(self, params: dict) -> tuple[bytes, str]:
        """The PNG of one setting and its alt text (the figure described, then the setting)."""
        setting = {**self.defaults, **params}
        key = self._key(setting)
        if key is not None and key in self._frames:
            return self._frames[key]
        with _young_garbage():
            fig = self.figure(**params)
            try:
                _ticks_once(fig)
                self._layout.fit(fig)
                frame = self._finish(fig, setting)
            finally:
                plt.close(fig)
                del fig  # no reference left: the figure is collected while young
        if key is not None:
            if len(self._frames) >= CACHED_FRAMES:
                del self._frames[next(iter(self._frames))]  # the oldest
            self._frames[key] = frame
        return frame

    def _finish(self, fig: Figure, setting: dict) -> tuple[bytes, str]:
        """Draw a laid-out figure to PNG; its alt text names the setting."""
        from .plots import describe_figure

        png = _png(fig)
        alt = describe_figure(fig, self.description)
        shown = ", ".join(f"{n} = {_format(v)}" for n, v in setting.items())
        return png, f"{alt} Setting: {shown}."

    def _key(self, setting: dict):
        """The setting as indices into the grid, or None when a value is not on the grid."""
        try:
            return tuple(_index(self.grid[n], setting[n]) for n in self.grid)
        except (KeyError, ValueError):
            return None

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
            png, alt = self._render(values)  # compute, lay out, draw; cached per setting
            if _in_kernel():
                with output:
                    output.clear_output(wait=True)
                    display({"image/png": base64.b64encode(png).decode(), "text/plain": alt},
                            raw=True, metadata={"image/png": {"alt": alt}})
            else:  # no front end to draw in: keep a text stand-in, print nothing
                output.outputs = ({"output_type": "display_data", "metadata": {},
                                   "data": {"text/plain": alt}},)

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
        for key, (png, alt) in self._sweep().items():
            key = ",".join(str(i) for i in key)
            alts[key] = alt
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

    def _sweep(self) -> dict:
        """Every frame of the static sweep, one layout for all: ``{indices: (PNG, alt)}``.

        All figures are computed first; the axes positions are then those that fit every
        frame's labels (the intersection of the positions each frame needs), so no frame's
        labels are cut and nothing moves as a reader scrubs.
        """
        settings = [{**self.defaults, **s} for s in self.frames()]
        figures, layout = [], _Layout()
        try:
            # every frame stays open on purpose until one layout fits them all (closed below),
            # so matplotlib's "more than 20 figures" warning would only be noise
            with plt.rc_context({"figure.max_open_warning": 0}):
                for setting in progress(settings, desc="computing sweep", leave=False):
                    figures.append(self.figure(**setting))
            for fig in figures:
                _ticks_once(fig)
                layout.fit(fig, final=False)
            out = {}
            for setting, fig in zip(settings, figures):
                layout.settle(fig)
                out[self._key(setting)] = self._finish(fig, setting)
            return out
        finally:
            for fig in figures:
                plt.close(fig)

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


@contextmanager
def _young_garbage():
    """Run one update with the cyclic garbage collector paused, then collect the update's own
    garbage while it is young.

    A figure is tens of thousands of objects linked in cycles. Collected as usual, the live ones
    are promoted to the oldest generation during the update; once enough have piled up there,
    the collector walks the whole heap of the notebook (its models, data, every module), and the
    update that triggers it takes several times as long as the others (the p95 of a panel).
    Paused, they stay in the youngest generation, and collecting that one generation after the
    figure is closed frees them at a small, steady cost. A collector the caller had disabled
    stays disabled.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
            gc.collect(0)


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


class _Layout:
    """Axes positions shared by the frames of one panel, in place of a layout per frame.

    A constrained layout (what :func:`vgcourse.plots.new_axes` sets up) measures every label
    and solves for the axes positions on every draw: more time than the drawing itself. Frames
    of one panel have the same axes, so the positions found so far serve a new frame when its
    labels fit them: every axes' decorations inside the figure and clear of the other axes and
    of the figure's legends and titles. Labels already seen to fit (the same tick labels, axis
    labels, legend entries and title heights) are not measured again. A frame whose labels do
    not fit is laid out on its own, and every axes then keeps the intersection of its box in
    both layouts: decorations that fitted around the larger box still fit around the smaller
    one, so the positions keep fitting every frame seen before, and no frame's labels are cut.
    Figures without a constrained layout keep their own positions.
    """

    def __init__(self):
        self.positions: dict = {}  # structure of a figure -> one Bbox per axes
        self.verified: dict = {}  # structure -> signatures of labels known to fit

    def fit(self, fig: Figure, final: bool = True) -> None:
        """Lay out ``fig``: the stored positions when its labels fit them, or else the
        intersection of those with its own layout (which becomes the stored positions).
        ``final``: the figure is drawn next, without a layout engine."""
        engine = _prepare(fig)
        if engine is None:
            return
        key = _structure(fig)
        stored = self.positions.get(key)
        verified = self.verified.setdefault(key, set())
        if stored is not None:
            _set_positions(fig, stored)
            signature = _signature(fig)
            if signature in verified or _fits(fig):
                verified.add(signature)
                if final:
                    fig.set_layout_engine("none")
                return
        engine.execute(fig)
        own = _positions(fig)
        merged = own if stored is None else [_intersection(a, b) for a, b in zip(stored, own)]
        self.positions[key] = merged
        _set_positions(fig, merged)
        if stored is None or _fits(fig):
            verified.add(_signature(fig))
        else:  # the smaller axes changed its ticks: this frame keeps a layout of its own
            engine.execute(fig)
        if final:
            fig.set_layout_engine("none")

    def settle(self, fig: Figure) -> None:
        """Give ``fig`` the final positions of a sweep (after :meth:`fit` on every frame) and
        prepare it to be drawn with them; a frame they do not fit keeps its own layout."""
        engine = _constrained(fig)
        if engine is None:
            return
        key = _structure(fig)
        _set_positions(fig, self.positions[key])
        signature = _signature(fig)
        if signature in self.verified[key] or _fits(fig):
            self.verified[key].add(signature)
        else:
            engine.execute(fig)
        fig.set_layout_engine("none")


def _ticks_once(fig: Figure) -> None:
    """Let every axis of ``fig`` compute its ticks once per state, not at every request.

    Laying out, measuring and drawing a figure asks each axis for its ticks dozens of times
    (every bounding box, the title's position, the draw itself), and matplotlib locates,
    formats and positions them anew each time: on a log axis more time than the rest of the
    drawing. The ticks depend on the view limits, the axes' place on the canvas (the number of
    ticks that fit), the scale, the locators and formatters and the resolution: while none of
    these changes, an axis returns the ticks it computed last, with the same labels and
    positions. A frame is drawn only once and closed, so nothing else changes its ticks.
    """
    def once(axis, update):
        last = [None, None]

        def update_ticks():
            axes = axis.axes
            key = (tuple(axis.get_view_interval()), axes.bbox.bounds, axis.get_scale(),
                   axis.major.locator, axis.major.formatter, axis.minor.locator,
                   axis.minor.formatter, axes.get_figure(root=True).dpi)
            if last[0] != key:
                last[:] = key, update()
            return last[1]

        return update_ticks

    pending = list(fig.axes)
    while pending:
        ax = pending.pop()
        pending += ax.child_axes
        for axis in getattr(ax, "_axis_map", {}).values():
            if "_update_ticks" not in vars(axis):
                axis._update_ticks = once(axis, axis._update_ticks)


def _signature(fig: Figure) -> tuple:
    """What a frame's decorations take room for: every tick label, offset text, axis label
    and legend entry, and the height of every title (their width does not move the axes)."""
    renderer = fig.canvas.get_renderer()
    parts = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            parts += [tuple(t.get_text() for t in axis.get_majorticklabels()),
                      tuple(t.get_text() for t in axis.get_minorticklabels()),
                      axis.get_offset_text().get_text(),  # e.g. "1e14", set with the ticks
                      axis.label.get_text() if axis.label.get_visible() else None]
        parts.append(tuple(round(t.get_window_extent(renderer).height)
                           for t in (ax.title, ax._left_title, ax._right_title) if t.get_text()))
        legend = ax.get_legend()
        parts.append(None if legend is None else tuple(t.get_text() for t in legend.texts))
    for legend in fig.legends:
        parts.append(tuple(t.get_text() for t in legend.texts))
    for name in ("_suptitle", "_supxlabel", "_supylabel"):
        text = getattr(fig, name, None)
        parts.append(None if text is None else text.get_text())
    return tuple(parts)


def _constrained(fig: Figure):
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    engine = fig.get_layout_engine()
    # Sub-figures are laid out inside their parent: those keep a layout per frame.
    return engine if isinstance(engine, ConstrainedLayoutEngine) and not fig.subfigs else None


def _prepare(fig: Figure):
    """Put ``fig`` on an Agg canvas at the frame resolution; return its constrained layout
    engine, or None when it has none."""
    from .plots import _opaque_facecolor

    fig.set_dpi(FRAME_DPI)
    fig.patch.set_facecolor(_opaque_facecolor(fig))
    _use_frame_canvas(fig)
    return _constrained(fig)


def _frame_canvas():
    """The Agg canvas class of explore's frames: one renderer per image size, shared by every
    frame of that size (one frame is drawn at a time), so the text measurements matplotlib
    caches per renderer serve every later frame instead of being redone for each new figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    RendererAgg = _frame_renderer()

    class FrameCanvas(FigureCanvasAgg):
        renderers: dict = {}

        def get_renderer(self):
            width, height = self.get_width_height(physical=True)
            key = width, height, self.figure.dpi
            renderer = self.renderers.get(key)
            if renderer is None:
                if len(self.renderers) >= 8:  # a handful of frame sizes per session
                    self.renderers.clear()
                renderer = self.renderers[key] = RendererAgg(width, height, self.figure.dpi)
            self.renderer, self._lastKey = renderer, key
            return renderer

    return FrameCanvas


def _frame_renderer():
    """The Agg renderer of explore's frames: Agg's own, with the text work it repeats cached.

    matplotlib 3.11 draws text glyph by glyph, and each glyph is hinted and rasterised by
    FreeType again at every draw; the vertical metrics of a font are read from its tables again
    for every text measured. Text is most of a frame's drawing time, and a panel's frames draw
    the same tick labels, axis labels and legends at the same positions. This renderer keeps
    each glyph's bitmap per font, size, glyph, transform and sub-pixel offset (a glyph moved by
    whole pixels is the same bitmap, moved), each string's shaping, and each font's metrics, so
    a frame is drawn from them pixel for pixel as Agg would draw it. Where matplotlib's Agg
    backend lacks the methods this relies on, the renderer is Agg's own, unchanged.
    """
    from matplotlib.backends import backend_agg
    from matplotlib.ft2font import FT2Font

    base = backend_agg.RendererAgg
    if not (all(hasattr(base, n) for n in ("_draw_text_glyphs_and_boxes", "_prepare_font"))
            and all(hasattr(backend_agg, n) for n in ("get_hinting_flag", "RenderMode"))
            and all(hasattr(FT2Font, n) for n in ("_layout", "_render_glyph", "_set_transform"))):
        return base  # pragma: no cover - another matplotlib's text path

    class FrameRenderer(base):
        GLYPHS, STRINGS = 50_000, 5_000  # entries kept before a cache starts over

        def __init__(self, width, height, dpi):
            super().__init__(width, height, dpi)
            self._glyphs: dict = {}  # glyph key -> (bitmap, left, top) at the sub-pixel offset
            self._strings: dict = {}  # string, font, shaping options -> positioned glyphs
            self._heights: dict = {}  # font properties -> (ascent, descent, line gap)

        def _get_font_height_metrics(self, prop):
            # What Text._get_layout reads from the font's tables when a renderer has no such
            # method, computed alike once per font and size.
            key = hash(prop), self.dpi
            metrics = self._heights.get(key)
            if metrics is None:
                from matplotlib.font_manager import fontManager, get_font

                font = get_font(fontManager._find_fonts_by_props(prop))
                metrics = (None, None, None)
                for table_name, gap, ascent, descent in (
                        ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
                        ("hhea", "lineGap", "ascent", "descent")):
                    table = font.get_sfnt_table(table_name)
                    if table is None:
                        continue
                    scale = (1 / font.get_sfnt_table("head")["unitsPerEm"]
                             * prop.get_size_in_points() * self.dpi / 72)
                    metrics = (table[ascent] * scale, -table[descent] * scale,
                               table[gap] * scale)
                    break
                self._heights[key] = metrics
            return metrics

        def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
            if ismath:
                return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
            features = mtext.get_fontfeatures() if mtext is not None else None
            language = mtext.get_language() if mtext is not None else None
            flags = backend_agg.get_hinting_flag()
            key = s, hash(prop), features, language, flags, self.dpi
            try:
                glyphs = self._strings.get(key)
            except TypeError:  # unhashable shaping options: drawn as Agg draws them
                return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
            if glyphs is None:
                font = self._prepare_font(prop)
                size = prop.get_size_in_points()
                glyphs = tuple((item.ft_object, size, item.glyph_index, 0, 1, item.x, item.y)
                               for item in font._layout(s, flags=flags, features=features,
                                                        language=language))
                if len(self._strings) >= self.STRINGS:
                    self._strings.clear()
                self._strings[key] = glyphs
            self._draw_text_glyphs_and_boxes(gc, x, y, angle, glyphs, ())

        def _draw_text_glyphs_and_boxes(self, gc, x, y, angle, glyphs, boxes):
            # Agg's loop, with each glyph's bitmap rendered once per sub-pixel offset (the
            # last six bits of its 26.6 fixed-point position) and moved by the whole pixels.
            cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
            flags = backend_agg.get_hinting_flag()
            antialiased = gc.get_antialiased()
            mode = (backend_agg.RenderMode.NORMAL if antialiased
                    else backend_agg.RenderMode.MONO)
            cache, dpi, height, matrices = self._glyphs, self.dpi, self.height, {}
            for font, size, index, slant, extend, dx, dy in glyphs:  # dy is upwards
                px = round(0x40 * (x + dx * cos - dy * sin))
                py = round(0x40 * (height - y + dx * sin + dy * cos))  # FreeType's y: up
                key = font, size, dpi, index, flags, mode, angle, slant, extend, px & 63, py & 63
                glyph = cache.get(key)
                if glyph is None:
                    matrix = matrices.get((slant, extend))
                    if matrix is None:
                        import numpy as np

                        matrix = matrices[slant, extend] = (
                            0x10000 * np.array([[cos, -sin], [sin, cos]])
                            @ [[extend, extend * slant], [0, 1]]).round().astype(int)
                    font.set_size(size, dpi)
                    font._set_transform(matrix, [px & 63, py & 63])
                    bitmap = font._render_glyph(index, flags, mode)
                    buffer = bitmap.buffer
                    if not antialiased:
                        buffer *= 0xff
                    if len(cache) >= self.GLYPHS:
                        cache.clear()
                    glyph = cache[key] = buffer, bitmap.left, bitmap.top
                buffer, left, top = glyph
                self._renderer.draw_text_image(
                    buffer, left + (px >> 6), int(height) - (top + (py >> 6)) + buffer.shape[0],
                    0, gc)
            if boxes:
                super()._draw_text_glyphs_and_boxes(gc, x, y, angle, (), boxes)

    return FrameRenderer


def _use_frame_canvas(fig: Figure):
    """Put ``fig`` on explore's frame canvas (see :func:`_frame_canvas`)."""
    global _FRAME_CANVAS
    if _FRAME_CANVAS is None:
        _FRAME_CANVAS = _frame_canvas()
    if not isinstance(fig.canvas, _FRAME_CANVAS):
        _FRAME_CANVAS(fig)
    return fig.canvas


_FRAME_CANVAS = None


def _structure(fig: Figure) -> tuple:
    """What must agree for two figures to share axes positions."""
    axes = tuple((type(ax).__name__, ax.get_label(),
                  None if ax.get_subplotspec() is None else ax.get_subplotspec().get_geometry())
                 for ax in fig.axes)
    return tuple(round(v, 4) for v in fig.get_size_inches()), axes, len(fig.legends)


def _positions(fig: Figure) -> list:
    return [ax.get_position(original=True).frozen() for ax in fig.axes]


def _set_positions(fig: Figure, positions) -> None:
    for ax, box in zip(fig.axes, positions):
        kept = ax.get_in_layout()  # set_position takes the axes out of the layout: restore
        ax.set_position(box, which="both")
        ax.set_in_layout(kept)


def _intersection(a, b):
    from matplotlib.transforms import Bbox

    x0, y0 = max(a.x0, b.x0), max(a.y0, b.y0)
    return Bbox.from_extents(x0, y0, max(x0, min(a.x1, b.x1)), max(y0, min(a.y1, b.y1)))


def _fits(fig: Figure, tolerance: float = 1.0) -> bool:
    """Whether every axes' decorations lie inside the figure and clear of the other axes (and
    of the figure's legends and titles), in pixels. Decorations are measured as a constrained
    layout measures them (``for_layout_only``)."""
    renderer = fig.canvas.get_renderer()
    page = fig.bbox.padded(tolerance)
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_in_layout()]
    boxes = [ax.get_tightbbox(renderer, for_layout_only=True) for ax in axes]
    extras = [artist.get_window_extent(renderer) for artist in [
        *fig.legends, *(getattr(fig, name, None) for name in ("_suptitle", "_supxlabel",
                                                               "_supylabel"))]
        if artist is not None and artist.get_visible()]
    for box in [*boxes, *extras]:
        if box is None:
            continue
        if box.x0 < page.x0 or box.y0 < page.y0 or box.x1 > page.x1 or box.y1 > page.y1:
            return False
    for i, (ax, box) in enumerate(zip(axes, boxes)):
        if box is None:
            continue
        if any(_overlap(box, extra, tolerance) for extra in extras):
            return False
        for other, other_box in zip(axes[i + 1:], boxes[i + 1:]):
            # twins and insets share their host's area: only separate axes must stay apart
            if other_box is None or _overlap(ax.bbox, other.bbox, 0.0):
                continue
            if _overlap(box, other_box, tolerance):
                return False
    return True


def _overlap(a, b, tolerance: float) -> bool:
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > tolerance
            and min(a.y1, b.y1) - max(a.y0, b.y0) > tolerance)


def _png(fig: Figure) -> bytes:
    """Draw ``fig`` (already laid out) and encode it as an RGB PNG.

    Fast zlib compression: these flat-coloured plots compress almost as well at level 1 as at
    the default 6, in a fraction of the time.
    """
    from PIL import Image

    canvas = fig.canvas
    canvas.draw()
    width, height = canvas.get_width_height(physical=True)
    image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


def _index(values: list, value) -> int:
    """Position of ``value`` in a grid's list, by equality and type (1 and True differ)."""
    for i, v in enumerate(values):
        if type(v) is type(value) and v == value:
            return i
    raise ValueError(value)


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
