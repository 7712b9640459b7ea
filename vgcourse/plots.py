"""One function per figure type. Each returns a matplotlib Figure and labels its axes."""

from __future__ import annotations

import matplotlib.pyplot as plt

# Okabe–Ito: distinguishable with every common form of colour blindness.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def new_axes(ax=None, figsize=(6.4, 3.6), nrows: int = 1, ncols: int = 1, mosaic=None,
             **subplots):
    """Return ``(figure, axes)``: a fresh pair, or ``ax`` with its figure.

    The one figure set-up of the course: a constrained layout at the page's default size.

    Parameters
    ----------
    ax : matplotlib Axes, optional
        Draw into these axes (returned with their figure) instead of a new figure.
    figsize : (float, float), default (6.4, 3.6)
        Size in inches of a new figure.
    nrows, ncols : int, default 1
        A grid of panels; the axes are then returned as ``plt.subplots`` returns them (an
        array, squeezed).
    mosaic : list of lists of str, optional
        Named panels laid out as ``plt.subplot_mosaic`` reads them: one list per row, one name
        per cell, a name repeated over neighbouring cells spanning them. The axes are then
        returned as a dict from name to Axes (created left to right, top to bottom). Not
        together with ``nrows``/``ncols``.
    **subplots
        Further arguments of ``plt.subplots`` (or of ``plt.subplot_mosaic``): ``sharex``,
        ``sharey``, ``height_ratios``, ``width_ratios``, ``gridspec_kw``, ...

    Raises
    ------
    ValueError
        ``mosaic`` given with ``nrows`` or ``ncols``, or not a list of rows of equal length.

    Examples
    --------
    >>> fig, (left, right) = new_axes(figsize=(10, 3.8), ncols=2)
    >>> fig.get_layout_engine().__class__.__name__
    'ConstrainedLayoutEngine'
    >>> plt.close(fig)
    >>> fig, panels = new_axes(mosaic=[["loss", "grad"], ["flow", "flow"]],
    ...                        height_ratios=(1, 2))
    >>> list(panels), panels["flow"].get_subplotspec().colspan
    (['loss', 'grad', 'flow'], range(0, 2))
    >>> plt.close(fig)
    """
    if ax is not None:
        return ax.figure, ax
    if mosaic is None:
        return plt.subplots(nrows, ncols, figsize=figsize, layout="constrained", **subplots)
    if (nrows, ncols) != (1, 1):
        raise ValueError(f"mosaic={mosaic!r} lays out the panels itself; leave nrows={nrows!r} "
                         f"and ncols={ncols!r} at 1.")
    rows = list(mosaic) if isinstance(mosaic, (list, tuple)) else []
    if not rows or not all(isinstance(r, (list, tuple)) and r for r in rows) or \
            len({len(r) for r in rows}) != 1:
        raise ValueError(f"mosaic={mosaic!r} is not allowed; expected a list of rows of equal "
                         "length, one panel name per cell, e.g. [['a', 'b'], ['c', 'c']].")
    return plt.subplot_mosaic([list(r) for r in rows], figsize=figsize, layout="constrained",
                              **subplots)


def smooth(values, window: int = 10):
    """Running mean of ``values`` over ``window`` consecutive entries, to read noisy curves.

    Only full windows are kept (NumPy's ``mode="valid"``), so the result has
    ``len(values) − window + 1`` entries; entry ``i`` is the mean of ``values[i:i + window]``
    and belongs at step ``i + window`` of a curve that starts at step 1.

    Parameters
    ----------
    values : sequence of float
        At least ``window`` of them, e.g. ``History.loss``.
    window : int, default 10

    Returns
    -------
    numpy.ndarray
    """
    import numpy as np

    from ._validation import check_int

    check_int("window", window)
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) < window:
        raise ValueError(f"values has shape {values.shape}; expected a sequence of at least "
                         f"window={window} numbers.")
    return np.convolve(values, np.ones(window) / window, mode="valid")

def plot_gradient_flow(flow, ax=None, theory=None, label=None, color=None):
    """Per-layer ‖∂loss/∂h_l‖ on a log scale, with an optional theory line.

    Parameters
    ----------
    flow : GradientFlow
        A measurement from :func:`vgcourse.gradient_flow`.
    ax : matplotlib Axes, optional
        Draw into these axes; a new figure otherwise.
    theory : sequence of float, optional
        Predicted norms for layers 1..L, drawn dashed.
    label, color : str, optional
        Legend label and colour of the measured line.
    """
    fig, ax = new_axes(ax)
    layers = range(1, flow.depth + 1)
    color = color or PALETTE[0]
    ax.semilogy(layers, flow.activation_grad_norms, "o-", ms=3, color=color,
                label=label or "measured")
    if theory is not None:
        ax.semilogy(layers, theory, "--", color="0.3" if label is None else color,
                    label=None if label else "theory")
    ax.set_xlabel("hidden layer l (1 = next to the input)")
    ax.set_ylabel(r"$\|\partial \mathcal{L} / \partial h_l\|$ (log scale)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(frameon=False)
    return fig


def plot_history(history, ax=None, label=None, color=None):
    """Training loss against step, marking the step where the run diverged."""
    fig, ax = new_axes(ax)
    color = color or PALETTE[0]
    steps = range(1, len(history.loss) + 1)
    ax.plot(steps, history.loss, color=color, label=label)
    if history.diverged_at is not None:
        ax.axvline(history.diverged_at, color=color, ls=":", label="diverged (inf/NaN)")
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss")
    ax.grid(True, alpha=0.3)
    if label or history.diverged_at is not None:
        ax.legend(frameon=False)
    return fig


def figure_to_html(fig, dpi: int = 90) -> str:
    """Embed a figure in HTML as a base64 PNG (and close it), for rich reprs."""
    import base64
    import html
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor=_opaque_facecolor(fig))
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    alt = html.escape(describe_figure(fig), quote=True)
    return f"<img src='data:image/png;base64,{data}' alt='{alt}'>"


# the doctor's verdicts: one colour and marker each (Okabe–Ito), healthy first
_VERDICT_STYLE = {"healthy": (PALETTE[0], "o"), "vanishing": (PALETTE[5], "v"),
                  "exploding": (PALETTE[1], "^"), "dead units": (PALETTE[7], "X"),
                  "saturated": (PALETTE[4], "s"),
                  "vanishing through time": (PALETTE[5], "<"),
                  "exploding through time": (PALETTE[1], ">")}


def plot_report(report, ax=None):
    """The gradient doctor's figure: each layer's gradient-to-weight ratio, marked by verdict.

    The left axis is ‖∂L/∂W‖/‖W‖; the right axis reads the same points as the update-to-data
    ratio ‖ΔW‖/‖W‖ of the doctor's one plain SGD step (``report.lr`` times the left value). Each
    layer's marker shows its verdict and the single legend lists the verdicts present, the
    vanishing threshold (the best hidden layer's ratio over ``doctor.RATIO_SPREAD``) and, when a
    layer's gradient is exactly zero, that it is drawn on the bottom edge.
    """
    import math

    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    from .doctor import RATIO_SPREAD

    if ax is None:  # fixed margins: a constrained layout costs more than the drawing itself
        fig = plt.figure(figsize=(6.8, 3.8))
        ax = fig.add_axes((0.11, 0.27, 0.75, 0.63))
    fig = ax.figure
    layers = report.layers
    index = list(range(1, len(layers) + 1))
    ratios = [r.grad_to_weight for r in layers]
    drawn = [v if math.isfinite(v) and v > 0 else float("nan") for v in ratios]
    ax.semilogy(index, drawn, "-", color="0.6", lw=1, zorder=1)
    edge = ax.get_xaxis_transform()  # x in data, y in axes fraction: the bottom edge
    handles = []
    for verdict, (color, marker) in _VERDICT_STYLE.items():
        at = [i for i, r in zip(index, layers) if r.verdict == verdict]
        if not at:
            continue
        on = [i for i in at if drawn[i - 1] == drawn[i - 1]]
        off = [i for i in at if drawn[i - 1] != drawn[i - 1]]  # zero or nan: no log position
        if on:
            ax.semilogy(on, [drawn[i - 1] for i in on], marker, ls="none", color=color, ms=6,
                        zorder=3)
        if off:
            ax.plot(off, [0.0] * len(off), marker, ls="none", color=color, ms=6, zorder=3,
                    transform=edge, clip_on=False)
        handles.append(Line2D([], [], marker=marker, ls="none", color=color, label=verdict))
    hidden = [v for r, v in zip(layers[:-1], ratios[:-1]) if math.isfinite(v) and v > 0]
    if hidden:
        threshold = max(hidden) / RATIO_SPREAD
        ax.axhline(threshold, color="0.3", ls=":", lw=1)
        handles.append(Line2D([], [], color="0.3", ls=":",
                              label=f"vanishing below: best hidden ÷ {RATIO_SPREAD:g}"))
    if all(v != v for v in drawn):
        ax.set_ylim(1e-12, 1.0)  # nothing to scale to: an empty log axis of twelve decades
    if any(v != v for v in drawn):
        handles.append(Line2D([], [], ls="none", label="on the bottom edge: gradient exactly 0"))
    ax.set_xlabel("parametrised layer (1 = next to the input, last = read-out)")
    ax.set_ylabel(r"$\|\partial\mathcal{L}/\partial W\| / \|W\|$ (log scale)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    lr = report.lr
    right = ax.secondary_yaxis("right", functions=(lambda v: v * lr, lambda v: v / lr))
    right.set_ylabel(rf"$\|\Delta W\| / \|W\|$, one SGD step at lr {lr:g}")
    ax.set_title(f"Gradient doctor: {report.verdict}")
    ax.grid(True, alpha=0.3)
    ax.legend(handles=handles, frameon=False, fontsize=8, ncol=min(3, len(handles)),
              loc="upper center", bbox_to_anchor=(0.5, -0.18))
    return fig


def plot_dashboard(history, flow=None, title: str = ""):
    """Karpathy-style training dashboard: loss, per-layer gradient norms, update-to-data ratios,
    and (when ``flow`` is given) the activation statistics of the trained model.

    Parameters
    ----------
    history : History
        From :func:`vgcourse.train`.
    flow : GradientFlow, optional
        From :func:`vgcourse.gradient_flow` on the trained model.
    title : str
        Figure title.
    """
    import numpy as np

    if flow is not None:
        fig, grid = new_axes(figsize=(9.0, 6.4), nrows=2, ncols=2)
        axes = grid.ravel()
    else:
        fig, axes = new_axes(figsize=(11.0, 3.4), ncols=3)
    steps = np.arange(1, len(history.loss) + 1)
    axes[0].plot(steps, history.loss, color=PALETTE[0])
    finite = [v for v in history.loss if np.isfinite(v) and v > 0]
    if finite and max(finite) / min(finite) > 10:
        axes[0].set_yscale("log")
    if history.diverged_at is not None:
        axes[0].axvline(history.diverged_at, color=PALETTE[1], ls=":", label="inf/NaN")
        axes[0].legend(frameon=False, fontsize=8)
    axes[0].set(xlabel="step", ylabel=f"training loss ({axes[0].get_yscale()} scale)",
                title="loss")

    layers = len(history.layer_grad_norms[0]) if history.layer_grad_norms else 0
    shades = _shades(layers)
    for ax, values in ((axes[1], history.layer_grad_norms), (axes[2], history.update_ratios)):
        if values and layers:
            _log_series(ax, steps[: len(values)], values, shades, None, "layers")
        else:
            ax.set_yscale("log")
    axes[1].set(xlabel="step", ylabel=r"$\|\partial\mathcal{L}/\partial W_l\|$ (log scale)",
                title="gradient norm per layer")
    _rule_of_thumb(axes[2])
    axes[2].set(xlabel="step", ylabel=r"$\|\Delta W_l\| / \|W_l\|$ (log scale)",
                title="update-to-data ratio")
    axes[2].legend(frameon=False, fontsize=8)
    for ax in axes[:3]:
        ax.set_xlim(0, len(steps) + 1)
    if layers:
        _shade_bar(fig, axes[2], layers)
    if flow is not None:
        hidden = np.arange(1, flow.depth + 1)
        axes[3].plot(hidden, flow.activation_std, "o-", color=PALETTE[0], ms=3,
                     label="activation std")
        axes[3].plot(hidden, flow.saturated_fraction, "s-", color=PALETTE[1], ms=3,
                     label="saturated fraction")
        axes[3].plot(hidden, flow.dead_fraction, "^-", color=PALETTE[2], ms=3,
                     label="dead fraction")
        axes[3].set(xlabel="hidden layer", ylabel="value", title="after training")
        axes[3].legend(frameon=True, fontsize=8, loc="best", framealpha=0.8)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig


def _shades(count: int) -> list:
    """``count`` viridis shades, dark (the input side) to light."""
    cmap = plt.get_cmap("viridis")
    return [cmap(j / max(1, count - 1)) for j in range(count)]


def _series_colors(count: int, readout: bool = False) -> list:
    """One colour per curve, input side first: the palette's colours while they suffice (the
    last curve, with ``readout``, in black), else :func:`_shades`."""
    if count <= len(PALETTE):
        return PALETTE[:count - 1] + [PALETTE[-1]] if readout and count else PALETTE[:count]
    return _shades(count)


def _shade_bar(fig, axes, count: int, label: str = "layer (1 = input side)"):
    """A viridis colour bar numbering ``count`` shaded curves from 1 (dark, input side)."""
    bar = plt.cm.ScalarMappable(cmap=plt.get_cmap("viridis"),
                                norm=plt.Normalize(1, max(count, 2)))
    return fig.colorbar(bar, ax=axes, label=label, fraction=0.04)


def _recorded(monitor):
    """Raise unless ``monitor`` is a Monitor that recorded a step."""
    if not hasattr(monitor, "update_to_data") or not hasattr(monitor, "histogram_at"):
        raise TypeError(f"monitor must be a vgcourse.Monitor, got {type(monitor).__name__}.")
    if not monitor.steps:
        raise ValueError("monitor has recorded no step yet; train inside its `with` block "
                         "(or call monitor.step() after each update made by hand).")


def _series_options(name: str, values, count: int):
    """``values`` as a list of ``count`` entries (labels or colours), or None (or False)."""
    if values is None or values is False:
        return values
    if isinstance(values, str) or not hasattr(values, "__len__") or len(values) != count:
        raise ValueError(f"{name}={values!r} is not allowed; expected a sequence of {count} "
                         "entries, one per curve, input side first.")
    return list(values)


def _limits(name: str, limits, log: bool = False):
    """Check a pair of axis limits (lower < upper, positive on a log axis)."""
    import math
    from numbers import Real

    ok = isinstance(limits, (tuple, list)) and len(limits) == 2 and all(
        isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)
        for v in limits) and limits[0] < limits[1] and (not log or limits[0] > 0)
    if not ok:
        kind = "positive " if log else ""
        raise ValueError(f"{name}={limits!r} is not allowed; expected two finite {kind}numbers "
                         "(lower, upper) with lower < upper.")


def _rule_of_thumb(ax) -> None:
    """Karpathy's update-to-data rule of thumb as a dashed line, named in the legend."""
    from .monitor import UPDATE_RULE_OF_THUMB

    ax.axhline(UPDATE_RULE_OF_THUMB, color="0.3", ls="--", lw=1,
               label=f"{UPDATE_RULE_OF_THUMB:.0e} rule of thumb".replace("e-0", "e-"))


def _log_series(ax, steps, values, colors, labels, unit: str) -> None:
    """One line per column of ``values`` (steps × curves) against ``steps`` on a log axis.
    Exact zeros cannot sit on it: they are left out, and curves that are 0 throughout are
    counted in the corner; when every value is 0 the axis shows twelve empty decades."""
    import numpy as np

    values = np.array(values, dtype=float).reshape(len(steps), -1)
    zero = int((values == 0).all(axis=0).sum())
    values = np.where(values > 0, values, np.nan)
    for j in range(values.shape[1]):
        ax.plot(steps, values[:, j], color=colors[j], lw=1,
                label=None if labels is None else labels[j])
    if np.isnan(values).all():  # every value exactly 0: nothing for a log axis to scale to,
        ax.set_ylim(1e-12, 1.0)  # so twelve decades, fixed before the scale would autoscale
    ax.set_yscale("log")
    if zero:
        ax.text(0.03, 0.03, f"{zero} of {values.shape[1]} {unit}: exactly 0 throughout",
                transform=ax.transAxes, fontsize=8, color=PALETTE[1])


def plot_update_ratios(monitor, ax=None, labels=None, colors=None, ylim=None,
                       colorbar: bool = True):
    """Every layer's update-to-data ratio ‖ΔW‖/‖W‖ over the steps a Monitor recorded.

    One line per parameter group (``monitor.layers``) on a log axis, with Karpathy's rule of
    thumb ``monitor.UPDATE_RULE_OF_THUMB`` dashed. Up to eight layers take the palette's colours,
    the last one (the read-out) black, and are named in the legend; more are shaded from dark
    (input side) to light and numbered by a colour bar. Exact zeros (a frozen layer) cannot sit
    on a log axis: they are left out and counted in the corner. One of the panels of
    :func:`plot_monitor`.

    Parameters
    ----------
    monitor : Monitor
        A :class:`vgcourse.Monitor` that recorded at least one step.
    ax : matplotlib Axes, optional
        Draw into these axes; a new figure otherwise.
    labels : sequence of str, or False, optional
        Legend names of the layers, input side first; False names none. Default:
        ``monitor.layers`` when there are eight or fewer, no names (a colour bar) otherwise.
    colors : sequence of colours, optional
        One per layer, input side first, in place of the default colours.
    ylim : (float, float), optional
        Fixed limits of the ratio axis, e.g. the same in every frame of a sweep.
    colorbar : bool, default True
        Draw the colour bar when the layers are shaded and unnamed.

    Returns
    -------
    matplotlib Figure

    Raises
    ------
    ValueError
        Nothing was recorded, ``labels`` or ``colors`` has not one entry per layer, or
        ``ylim`` is not two positive increasing numbers.

    Examples
    --------
    >>> import torch, vgcourse
    >>> model = vgcourse.mlp(2, 8, in_features=3, out_features=2, seed=0)
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> x, y = torch.randn(16, 3), torch.arange(16) % 2
    >>> with vgcourse.Monitor(model, optimizer) as monitor:
    ...     for step in range(3):
    ...         loss = torch.nn.functional.cross_entropy(model(x), y)
    ...         optimizer.zero_grad(); loss.backward(); optimizer.step()
    >>> fig = plot_update_ratios(monitor)
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['hidden.0.linear', 'hidden.1.linear', 'output', '1e-3 rule of thumb']
    >>> plt.close(fig)
    """
    from ._validation import check_bool

    _recorded(monitor)
    count = len(monitor.layers)
    labels = _series_options("labels", labels, count)
    colors = _series_options("colors", colors, count)
    check_bool("colorbar", colorbar)
    if ylim is not None:
        _limits("ylim", ylim, log=True)
    if labels is None:
        labels = list(monitor.layers) if count <= len(PALETTE) else False
    colors = colors or _series_colors(count, readout=True)
    fig, ax = new_axes(ax)
    _log_series(ax, monitor.steps, monitor.update_to_data, colors, labels or None, "layers")
    _rule_of_thumb(ax)
    ax.set(xlabel="training step", ylabel=r"$\|\Delta W\| / \|W\|$ per step (log scale)",
           title="update-to-data ratio")
    if ylim is not None:
        ax.set_ylim(ylim)
    ax.grid(True, alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    if not labels and colorbar:
        _shade_bar(fig, ax, count)
    return fig


def plot_histograms(monitor, step=None, ax=None, gradients: bool = False, labels=None,
                    colors=None, xlim=None, ylim=None, colorbar: bool = True):
    """Histograms of every activation call's output h (or of ∂L/∂h) at one recorded step.

    One density curve per activation call (``monitor.activations``) on a log density axis, so
    that the tails show; empty bins are left out. Up to eight calls take the palette's colours
    and are named in the legend; more are shaded from dark (input side) to light and numbered
    by a colour bar. One of the panels of :func:`plot_monitor`.

    Parameters
    ----------
    monitor : Monitor
        A :class:`vgcourse.Monitor` that recorded at least one step.
    step : int, optional
        A recorded step. Default: the last one.
    ax : matplotlib Axes, optional
        Draw into these axes; a new figure otherwise.
    gradients : bool, default False
        Histograms of the gradients ∂L/∂h instead of the outputs h.
    labels : sequence of str, or False, optional
        Legend names of the activation calls, input side first; False names none. Default:
        ``monitor.activations`` when there are eight or fewer, no names (a colour bar)
        otherwise.
    colors : sequence of colours, optional
        One per activation call, input side first, in place of the default colours.
    xlim, ylim : (float, float), optional
        Fixed limits of the value axis and of the density axis (positive).
    colorbar : bool, default True
        Draw the colour bar when the calls are shaded and unnamed.

    Returns
    -------
    matplotlib Figure

    Raises
    ------
    ValueError
        Nothing was recorded, ``step`` was not recorded, ``labels`` or ``colors`` has not one
        entry per activation call, or a limit is not two increasing numbers.
    """
    import numpy as np

    from ._validation import check_bool

    _recorded(monitor)
    check_bool("gradients", gradients)
    check_bool("colorbar", colorbar)
    step = monitor.steps[-1] if step is None else step
    hist = monitor.histogram_at(step, gradients=gradients)
    calls = monitor.activations
    labels = _series_options("labels", labels, len(calls))
    colors = _series_options("colors", colors, len(calls))
    if xlim is not None:
        _limits("xlim", xlim)
    if ylim is not None:
        _limits("ylim", ylim, log=True)
    if labels is None:
        labels = list(calls) if len(calls) <= len(PALETTE) else False
    colors = colors or _series_colors(len(calls))
    fig, ax = new_axes(ax)
    for j, call in enumerate(calls):
        if call in hist:
            edges, density = hist[call]
            density = np.where(density > 0, density, np.nan)  # empty bins: off the log axis
            ax.plot((edges[:-1] + edges[1:]) / 2, density, color=colors[j], lw=1,
                    label=labels[j] if labels else None)
    ax.set_yscale("log")
    what = r"$\partial\mathcal{L}/\partial h$" if gradients else "output $h$"
    ax.set(xlabel=f"value of the activation call's {what}", ylabel="density (log scale)",
           title=f"{'gradient' if gradients else 'activation'} histograms at step {step}")
    if gradients:
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 2))
    if xlim is not None:
        ax.set_xlim(xlim)
    if ylim is not None:
        ax.set_ylim(ylim)
    ax.grid(True, alpha=0.3)
    if labels and calls:
        ax.legend(frameon=False, fontsize=8)
    elif calls and colorbar:
        _shade_bar(fig, ax, len(calls), "activation call (1 = input side)")
    return fig


def plot_monitor(monitor, steps=None, histograms: str = "activations", title: str = ""):
    """The dashboard of a :class:`vgcourse.Monitor`: Karpathy's makemore panels, over steps.

    Top row: every layer's update-to-data ratio ‖ΔW‖/‖W‖ with the 1e-3 rule of thumb
    (:func:`plot_update_ratios`), its gradient norm, and the saturated (sigmoid, tanh) or dead
    (rectifiers) fraction of every activation call. Bottom row: histograms of every activation
    call's output (or of the gradient reaching it) at up to three chosen steps, on a log density
    axis so that the tails show (:func:`plot_histograms`). Up to eight layers and activation
    calls take the palette's colours and are named in the legends; more are shaded from the
    input side (dark) to the output (light), layer k and activation call k alike, and numbered
    by one colour bar. Exact zeros, which a log axis cannot show, are left out and counted.

    Parameters
    ----------
    monitor : Monitor
        A monitor that recorded at least one step.
    steps : sequence of int, optional
        Recorded steps whose histograms to draw (at most three). Default: the first and the
        last recorded step.
    histograms : {"activations", "gradients"}
        Histograms of the outputs h, or of the gradients ∂L/∂h.
    title : str
        Figure title.

    Raises
    ------
    ValueError
        Nothing was recorded, more than three ``steps`` or one that was not recorded, or an
        unknown ``histograms``.
    """
    import numpy as np

    from ._validation import check_choice
    from .activations import ACTIVATIONS

    check_choice("histograms", histograms, ("activations", "gradients"))
    _recorded(monitor)
    if steps is None:
        steps = sorted({monitor.steps[0], monitor.steps[-1]})
    steps = list(steps)
    if not 1 <= len(steps) <= 3:
        raise ValueError(f"steps={steps!r} is not allowed; expected one to three recorded "
                         "steps.")
    for step in steps:  # an unrecorded step raises before a figure is opened
        monitor.histogram_at(step)

    n = len(steps)
    fig, panels = new_axes(figsize=(11.0, 6.4), mosaic=[
        ["ratio"] * n + ["grad"] * n + ["units"] * n,
        [f"histogram {k}" for k in range(n) for _ in range(3)]])
    top = [panels["ratio"], panels["grad"], panels["units"]]
    bottom = [panels[f"histogram {k}"] for k in range(n)]
    calls, layers = monitor.activations, len(monitor.layers)
    shaded = max(layers, len(calls))  # one colour scale for layers and activation calls
    named = shaded <= len(PALETTE)
    if named:
        layer_colors, call_colors = _series_colors(layers, readout=True), PALETTE[:len(calls)]
    else:  # layer k and activation call k share a shade
        layer_colors, call_colors = _shades(shaded)[:layers], _shades(shaded)[:len(calls)]

    plot_update_ratios(monitor, ax=top[0], labels=None if named else False,
                       colors=layer_colors, colorbar=False)
    _log_series(top[1], monitor.steps, monitor.grad_norm, layer_colors,
                list(monitor.layers) if named else None, "layers")
    top[1].set(xlabel="training step", ylabel=r"$\|\partial\mathcal{L}/\partial W\|$ (log scale)",
               title="gradient norm per layer")
    top[1].grid(True, alpha=0.3)
    if named:  # the same names as the first panel's
        top[1].legend(frameon=False, fontsize=8)

    x = np.array(monitor.steps)
    saturated, dead = np.array(monitor.saturated, float), np.array(monitor.dead, float)
    kinds = [monitor.activation_kinds.get(c) for c in calls]
    for j, kind in enumerate(kinds):
        saturates = kind is not None and ACTIVATIONS[kind].saturates
        series = saturated[:, j] if saturates else dead[:, j]
        top[2].plot(x, series, color=call_colors[j], lw=1, ls="-" if saturates else "--")
    for kind_saturates, style, label in [(True, "-", "saturated (φ' < 5 % of its maximum)"),
                                         (False, "--", "dead (φ' = 0 on every example)")]:
        if any((k is not None and ACTIVATIONS[k].saturates) == kind_saturates for k in kinds):
            top[2].plot([], [], color="0.3", ls=style, label=label)
    top[2].set(xlabel="training step", ylabel="fraction of units", ylim=(-0.03, 1.03),
               title="activations: saturated or dead")
    top[2].grid(True, alpha=0.3)
    if calls:
        top[2].legend(frameon=True, framealpha=0.8, fontsize=8, loc="best")

    for ax, step in zip(bottom, steps):
        plot_histograms(monitor, step, ax=ax, gradients=histograms == "gradients",
                        labels=None if named else False, colors=call_colors, colorbar=False)
    if not named:  # one bar for every panel, at the right: no column of the grid is split
        _shade_bar(fig, list(panels.values()), shaded,
                   "layer, or activation call (1 = input side)")
    if title:
        fig.suptitle(title)
    return fig


# -- describing a figure in words (alt text) -------------------------------------------------
_TEX = {r"\mathcal": "", r"\mathrm": "", r"\mathbf": "", r"\operatorname": "", r"\partial": "∂",
        r"\|": "‖", r"\sigma": "σ", r"\delta": "δ", r"\chi": "χ", r"\gamma": "γ", r"\rho": "ρ",
        r"\alpha": "α", r"\lambda": "λ", r"\tau": "τ", r"\eta": "η", r"\theta": "θ",
        r"\beta": "β", r"\mu": "μ", r"\phi": "φ", r"\prod": "∏", r"\sum": "Σ", r"\cdot": "·",
        r"\times": "×", r"\cdots": "…", r"\ldots": "…", r"\dots": "…", r"\sup": "sup",
        r"\inf": "inf", r"\top": "ᵀ", r"\to": "→", r"\propto": "∝", r"\pm": "±",
        r"\approx": "≈", r"\Delta": "Δ", r"\leq": "≤", r"\geq": "≥", r"\infty": "∞",
        r"\sqrt": "√", r"\log": "log", r"\ln": "ln", r"\max": "max", r"\min": "min",
        r"\,": " ", r"\;": " ", r"\ ": " ", r"\%": "%"}


def plain_text(label: str) -> str:
    """A matplotlib label with its mathtext (``$...$``) turned into readable plain text."""
    import re

    text = str(label)
    for tex, plain in sorted(_TEX.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(tex, plain)
    text = re.sub(r"\\[A-Za-z]+", "", text)  # any other command: drop the backslash word
    text = text.replace("$", "").replace("{", "").replace("}", "")
    return re.sub(r"\s+", " ", text).strip()


def _axes_words(ax) -> str:
    parts = []
    title = plain_text(ax.get_title() or ax.get_title("left") or ax.get_title("right"))
    if title:
        parts.append(f"“{title}”")
    ylabel, xlabel = plain_text(ax.get_ylabel()), plain_text(ax.get_xlabel())
    if ylabel or xlabel:
        yscale = " (log scale)" if ax.get_yscale() == "log" and "log" not in ylabel else ""
        xscale = " (log scale)" if ax.get_xscale() == "log" and "log" not in xlabel else ""
        parts.append(f"{ylabel or 'values'}{yscale} against {xlabel or 'position'}{xscale}")
    lines = [line for line in ax.get_lines() if line.get_visible()
             and not str(line.get_label()).startswith("_")]
    legend = ax.get_legend()
    entries = [plain_text(t.get_text()) for t in legend.get_texts()] if legend else \
        [plain_text(line.get_label()) for line in lines]
    entries = [e for e in entries if e]
    count = len(ax.get_lines())
    if count:
        parts.append(f"{count} line{'s' if count != 1 else ''}")
    if entries:
        parts.append("legend: " + "; ".join(entries))
    if ax.images:
        parts.append(f"{len(ax.images)} image{'s' if len(ax.images) != 1 else ''}")
    bars = [p for c in ax.containers for p in c] if ax.containers else []
    if bars:
        parts.append(f"{len(bars)} bars")
    points = sum(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets")
                 and type(c).__name__ == "PathCollection")
    if points:
        parts.append(f"{points} scattered points")
    return ", ".join(parts)


def describe_figure(fig, prefix: str = "") -> str:
    """Alt text for a figure: what it shows, read from its titles, axes, legends and lines.

    Parameters
    ----------
    fig : matplotlib Figure
        The figure to describe (it is not changed).
    prefix : str, optional
        A sentence put first, such as the experiment's description.

    Returns
    -------
    str
        For example ``Figure: “Gradient flow”, ‖∂L/∂h_l‖ (log scale) against hidden layer l,
        2 lines, legend: measured; theory.`` Never empty, never a file name.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.semilogy([1, 2, 3], [1, 0.1, 0.01], label="measured")
    >>> _ = ax.set(title="Decay", xlabel="layer", ylabel="gradient norm"); _ = ax.legend()
    >>> describe_figure(fig)
    'Figure: “Decay”, gradient norm (log scale) against layer, 1 line, legend: measured.'
    >>> plt.close(fig)
    """
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"
            and (ax.has_data() or ax.get_title() or ax.get_xlabel() or ax.get_ylabel())]
    suptitle = plain_text(fig._suptitle.get_text()) if getattr(fig, "_suptitle", None) else ""
    words = [_axes_words(ax) for ax in axes]
    if len(axes) == 1:
        body = "Figure: " + (f"“{suptitle}”, " if suptitle else "") + (words[0] or "one plot")
    elif axes:
        body = (f"Figure{f' “{suptitle}”' if suptitle else ''} with {len(axes)} panels. "
                + " ".join(f"Panel {i}: {w or 'a plot'}." for i, w in enumerate(words, 1)))
    else:
        body = "Figure" + (f": “{suptitle}”" if suptitle else " without axes")
    body = body if body.endswith(".") else body + "."
    prefix = prefix.strip()
    if prefix:
        prefix = prefix if prefix.endswith((".", "!", "?")) else prefix + "."
        return f"{prefix} {body}"
    return body


def _opaque_facecolor(fig):
    """The figure's background, made opaque white when it is (partly) transparent, so the
    figure stays legible on a dark page."""
    from matplotlib.colors import to_rgba

    face = to_rgba(fig.get_facecolor())
    return face if face[3] >= 1 else "white"


def _png_with_alt(fig, base=None):
    """The IPython ``image/png`` formatter for a Figure: the PNG plus ``{"alt": ...}``."""
    if base is None:
        from IPython.core.pylabtools import print_figure

        data = print_figure(fig, "png", base64=True, facecolor=_opaque_facecolor(fig))
    else:
        data = base(fig, facecolor=_opaque_facecolor(fig))
    if not data:  # an empty figure: matplotlib_inline shows nothing either
        return None
    return data, {"alt": describe_figure(fig)}


def install_figure_alt_text(shell=None) -> bool:
    """Make every figure a notebook displays carry alt text, on an opaque background.

    The ``image/png`` output of a displayed matplotlib Figure (``plt.show()``, or a Figure as
    the last expression of a cell) gets the metadata ``{"image/png": {"alt": ...}}`` with
    :func:`describe_figure`; the book build (``book/_ext/book_assets.py``) writes it to the
    image's ``alt``. Jupyter and Colab show the same PNG as before. Called by
    :func:`vgcourse.setup`; returns False outside IPython.

    The inline backend (re)registers its own PNG formatter after the cell that first imports
    pyplot has run, and again after ``%config InlineBackend.figure_formats``; so the wrapper is
    also re-applied after every cell (a dictionary look-up) and follows the chosen format.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False
    # matplotlib resolves its backend at the first figure, and matplotlib_inline registers its
    # formatter then: resolve it now, so that the first figure is wrapped too.
    resolve = getattr(plt, "_get_backend_mod", None)
    if resolve is not None:
        try:
            resolve()
        except Exception:  # no usable backend: no figure is shown anyway
            pass
    _wrap_png_formatter(shell)
    if not getattr(shell, "_vgcourse_alt_text", False):
        shell.events.register("post_run_cell", lambda *args: _wrap_png_formatter(shell))
        shell._vgcourse_alt_text = True
    return True


def _wrap_png_formatter(shell) -> bool:
    """Wrap the shell's PNG formatter for Figures with :func:`_png_with_alt`, once."""
    from functools import partial

    from matplotlib.figure import Figure

    formatter = shell.display_formatter.formatters.get("image/png")
    if formatter is None:
        return False
    current = formatter.type_printers.get(Figure)
    if current is None:  # figures are not shown as PNG (yet, or another format was chosen)
        return False
    if getattr(current, "func", None) is _png_with_alt:
        return True
    formatter.for_type(Figure, partial(_png_with_alt, base=current))
    return True
