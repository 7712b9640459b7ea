"""plots: figures described in words (alt text), and shown with it in a notebook."""

import base64

import matplotlib

matplotlib.use("Agg")  # tests only; never set this when executing notebooks
import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from vgcourse.plots import describe_figure, figure_to_html, install_figure_alt_text, plain_text


@pytest.fixture
def figure():
    fig, (left, right) = plt.subplots(1, 2)
    left.semilogy([1, 2, 3], [1, 0.1, 0.01], label=r"$\sigma_w = 1.0$")
    left.semilogy([1, 2, 3], [1, 0.2, 0.04], "--", label="theory")
    left.set(title="Gradient flow", xlabel="layer l",
             ylabel=r"$\|\partial \mathcal{L} / \partial h_l\|$")
    left.legend()
    right.imshow([[0, 1], [1, 0]])
    right.set_title("Jacobian")
    fig.suptitle("Depth 3")
    yield fig
    plt.close(fig)


def test_describe_figure_names_titles_axes_scales_and_curves(figure):
    text = describe_figure(figure, "An experiment")
    assert text.startswith("An experiment. Figure “Depth 3” with 2 panels.")
    assert "Panel 1: “Gradient flow”, ‖∂L / ∂h_l‖ (log scale) against layer l" in text.replace(
        "∂ L", "∂L").replace("∂ h", "∂h")
    assert "2 lines, legend: σ_w = 1.0; theory" in text
    assert "Panel 2: “Jacobian”, 1 image" in text
    assert "$" not in text and "\\" not in text and "<Figure" not in text


def test_describe_figure_is_never_empty():
    fig = plt.figure()
    try:
        assert describe_figure(fig) == "Figure without axes."
    finally:
        plt.close(fig)
    assert plain_text(r"$\chi = \sigma_w^2$") == "χ = σ_w^2"


def test_figure_to_html_escapes_its_description():
    fig, ax = plt.subplots()
    ax.set_title("a 'quoted' <title>")
    html = figure_to_html(fig)
    assert "alt='Figure: “a &#x27;quoted&#x27; &lt;title&gt;”" in html


def test_notebook_figures_carry_alt_text_and_an_opaque_background():
    """In IPython (as in a kernel with the inline backend): the PNG of a displayed figure comes
    with {"alt": ...} metadata, which the book writes to the image, and a white background."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats

    shell = InteractiveShell.instance()
    try:
        select_figure_formats(shell, {"png"})
        assert install_figure_alt_text(shell)
        assert install_figure_alt_text(shell)  # twice: still one wrapper
        fig, ax = plt.subplots()
        fig.set_facecolor((1, 1, 1, 0))  # a transparent figure would vanish on a dark page
        ax.plot([0, 1], [1, 0], label="loss")
        ax.set(xlabel="step", ylabel="loss")
        ax.legend()
        data, metadata = shell.display_formatter.format(fig)
        plt.close(fig)
        assert metadata["image/png"]["alt"] == (
            "Figure: loss against step, 1 line, legend: loss.")
        png = base64.b64decode(data["image/png"])
        from io import BytesIO

        from matplotlib.image import imread

        assert imread(BytesIO(png))[1, 1].tolist() == [1.0, 1.0, 1.0, 1.0]
    finally:
        shell.display_formatter.formatters["image/png"].pop(Figure, None)
        InteractiveShell.clear_instance()


def test_smooth_is_a_running_mean_over_full_windows():
    from vgcourse.plots import smooth

    assert smooth([1, 2, 3, 4], window=2).tolist() == [1.5, 2.5, 3.5]
    assert smooth([0, 0, 3, 6, 0], window=3).tolist() == [1.0, 3.0, 3.0]
    assert smooth([5.0], window=1).tolist() == [5.0]
    with pytest.raises(ValueError, match="window=3"):
        smooth([1, 2], window=3)
    with pytest.raises(ValueError, match="window=0"):
        smooth([1, 2], window=0)


# -- the one figure set-up, and the monitor's panels as pieces --------------------------------
def test_new_axes_lays_out_a_mosaic_of_named_panels():
    from vgcourse.plots import new_axes

    fig, panels = new_axes(figsize=(8, 5), mosaic=[["a", "b", "b"], ["c", "c", "c"]],
                           height_ratios=(1, 2), width_ratios=(1, 1, 2))
    try:
        assert list(panels) == ["a", "b", "c"] and len(fig.axes) == 3
        assert fig.get_layout_engine().__class__.__name__ == "ConstrainedLayoutEngine"
        assert tuple(fig.get_size_inches()) == (8, 5)
        assert panels["b"].get_subplotspec().colspan == range(1, 3)
        assert panels["c"].get_subplotspec().rowspan == range(1, 2)
        grid = panels["a"].get_subplotspec().get_gridspec()
        assert grid.get_height_ratios() == (1, 2) and grid.get_width_ratios() == (1, 1, 2)
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="nrows=2"):
        new_axes(mosaic=[["a"]], nrows=2)
    for bad in ([["a", "b"], ["c"]], "ab", [], [[]]):
        with pytest.raises(ValueError, match="mosaic="):
            new_axes(mosaic=bad)


def _monitor(depth=2, steps=4, every=2, freeze_first=False):
    """A tanh MLP (depth hidden layers of 6, float64) trained by SGD under a Monitor; with
    ``freeze_first`` the optimiser leaves the first layer alone (its ratio is exactly 0)."""
    import torch

    import vgcourse

    model = vgcourse.mlp(depth, 6, activation="tanh", in_features=3, out_features=2, seed=0,
                         dtype=torch.float64)
    params = list(model.parameters())
    optimizer = torch.optim.SGD(params[2:] if freeze_first else params, lr=0.1)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(16, 3, generator=g, dtype=torch.float64), torch.arange(16) % 2
    with vgcourse.Monitor(model, optimizer, every=every) as monitor:
        for _ in range(steps):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return monitor


def test_update_ratios_are_the_monitors_on_a_log_axis_with_the_guide_and_named_layers():
    import numpy as np

    from vgcourse.plots import PALETTE, plot_update_ratios

    monitor = _monitor(depth=2, steps=5, every=2)
    fig = plot_update_ratios(monitor, ylim=(1e-5, 1.0))
    try:
        (ax,) = fig.axes
        *layers, guide = ax.get_lines()
        assert len(layers) == 3 and guide.get_ydata()[0] == 1e-3
        values = np.array(monitor.update_to_data)
        for j, line in enumerate(layers):
            assert line.get_xdata().tolist() == [0, 2, 4]
            assert np.array_equal(line.get_ydata(), values[:, j])
        # the palette in order, the read-out (the last layer) in black
        assert [line.get_color() for line in layers] == [PALETTE[0], PALETTE[1], "#000000"]
        assert ax.get_yscale() == "log" and ax.get_ylim() == (1e-5, 1.0)
        assert ax.get_xlabel() == "training step" and "(log scale)" in ax.get_ylabel()
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            "hidden.0.linear", "hidden.1.linear", "output", "1e-3 rule of thumb"]
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="labels=\\['a'\\]"):
        plot_update_ratios(monitor, labels=["a"])
    with pytest.raises(ValueError, match="ylim=\\(0, 1\\)"):
        plot_update_ratios(monitor, ylim=(0, 1))
    with pytest.raises(TypeError, match="monitor must be"):
        plot_update_ratios([[0.1]])


def test_a_frozen_layer_is_left_off_the_log_axis_and_counted():
    import numpy as np

    from vgcourse.plots import plot_update_ratios

    monitor = _monitor(freeze_first=True)
    assert all(row[0] == 0 for row in monitor.update_to_data)
    fig, ax = plt.subplots()
    try:
        assert plot_update_ratios(monitor, ax=ax, labels=["in", "mid", "out"]) is fig
        first, second = ax.get_lines()[:2]
        assert np.isnan(first.get_ydata()).all() and not np.isnan(second.get_ydata()).any()
        assert [t.get_text() for t in ax.texts] == ["1 of 3 layers: exactly 0 throughout"]
    finally:
        plt.close(fig)


def test_histograms_are_the_monitors_densities_at_the_chosen_step():
    import numpy as np

    from vgcourse.plots import plot_histograms

    monitor = _monitor(depth=2, steps=5, every=2)
    fig = plot_histograms(monitor, xlim=(-1.05, 1.05), ylim=(1e-3, 1e2))
    try:
        (ax,) = fig.axes
        assert ax.get_title() == "activation histograms at step 4"  # the last recorded step
        lines = ax.get_lines()
        assert len(lines) == len(monitor.activations) == 2
        for line, call in zip(lines, monitor.activations):
            edges, density = monitor.histogram_at(4)[call]
            assert np.allclose(line.get_xdata(), (edges[:-1] + edges[1:]) / 2)
            kept = density > 0  # empty bins: NaN, off the log axis
            assert np.array_equal(line.get_ydata()[kept], density[kept])
            assert np.isnan(line.get_ydata()[~kept]).all()
        assert ax.get_yscale() == "log" and ax.get_xlim() == (-1.05, 1.05)
        assert ax.get_ylim() == (1e-3, 1e2) and ax.get_ylabel() == "density (log scale)"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == monitor.activations
    finally:
        plt.close(fig)
    fig = plot_histograms(monitor, 0, gradients=True)
    try:
        ax = fig.axes[0]
        assert ax.get_title() == "gradient histograms at step 0"
        edges, density = monitor.histogram_at(0, gradients=True)[monitor.activations[0]]
        assert np.allclose(ax.get_lines()[0].get_xdata(), (edges[:-1] + edges[1:]) / 2)
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="step=1 was not recorded"):
        plot_histograms(monitor, 1)
    with pytest.raises(ValueError, match="xlim="):
        plot_histograms(monitor, xlim=(1, -1))
    with pytest.raises(ValueError, match="gradients='yes'"):
        plot_histograms(monitor, gradients="yes")


def test_the_dashboard_is_made_of_the_pieces_named_or_shaded_by_size():
    import warnings

    import numpy as np

    from vgcourse.plots import plot_monitor

    small = _monitor(depth=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "constrained_layout not applied", "collapsed"
        fig = plot_monitor(small, steps=[0, 2], title="small")
        fig.canvas.draw()
    try:
        # eight layers or fewer: named in legends, no colour bar
        assert [a.get_label() for a in fig.axes] == ["ratio", "grad", "units", "histogram 0",
                                                     "histogram 1"]
        ratio, grad = fig.axes[:2]
        assert np.array_equal(grad.get_lines()[2].get_ydata(),
                              np.array(small.grad_norm)[:, 2])
        assert [t.get_text() for t in grad.get_legend().get_texts()] == small.layers
        assert len(fig.axes[3].get_legend().get_texts()) == 2
    finally:
        plt.close(fig)
    deep = _monitor(depth=9, steps=2, every=1)  # ten layers, nine activation calls
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # two colour bars once split a column of the grid
        fig = plot_monitor(deep, steps=[0, 1])
        fig.canvas.draw()
    try:
        # more than eight: shaded, layer k and activation call k alike, one colour bar
        bars = [a for a in fig.axes if a.get_label() == "<colorbar>"]
        assert len(bars) == 1 and bars[0].get_ylim() == (1, 10)
        assert bars[0].get_ylabel() == "layer, or activation call (1 = input side)"
        ratio, hist = fig.axes[0], fig.axes[3]
        assert len(ratio.get_lines()) == 11 and len(hist.get_lines()) == 9
        assert [t.get_text() for t in ratio.get_legend().get_texts()] == ["1e-3 rule of thumb"]
        assert hist.get_legend() is None
        shades = [line.get_color() for line in ratio.get_lines()[:10]]
        assert [line.get_color() for line in hist.get_lines()] == shades[:9]
        assert shades[0] != shades[-1]
    finally:
        plt.close(fig)


def _dashboard_warnings(history, flow):
    """The dashboard, drawn with every warning raised as an error."""
    import warnings

    from vgcourse.plots import plot_dashboard

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_dashboard(history, flow, title="run")
        fig.canvas.draw()
    return fig


def test_dashboard_draws_the_history_it_is_given():
    import numpy as np
    import torch

    import vgcourse

    x, y = vgcourse.data.gaussian_batch(batch=64, features=8, dtype=torch.float32)
    model = vgcourse.mlp(depth=3, width=8, activation="tanh", init="xavier",
                         dtype=torch.float32)
    history = vgcourse.train(model, (x, y), steps=12, lr=0.05, show_progress=False)
    flow = vgcourse.gradient_flow(model, x, y)
    fig = _dashboard_warnings(history, flow)
    loss, grads, ratios, after = fig.axes[:4]
    assert np.allclose(loss.lines[0].get_ydata(), history.loss)
    layers = len(history.layer_grad_norms[0])
    assert len(grads.lines) == layers and grads.get_yscale() == "log"
    assert np.allclose(grads.lines[-1].get_ydata(), np.array(history.layer_grad_norms)[:, -1])
    assert ratios.get_yscale() == "log"
    assert "rule of thumb" in ratios.get_legend_handles_labels()[1][0]
    assert np.allclose(after.lines[0].get_ydata(), flow.activation_std)
    assert len(fig.axes) == 5  # and one colour bar numbering the layers
    plt.close(fig)


def test_dashboard_of_a_dead_network_says_so_and_warns_of_nothing():
    """Every gradient exactly 0 (mystery run E): nothing to put on a log axis, which matplotlib
    would autoscale to identical limits with a warning; the panel says what happened instead."""
    from vgcourse.cases import mystery

    history, flow = mystery("E")
    fig = _dashboard_warnings(history, flow)
    grads = fig.axes[1]
    layers = len(history.layer_grad_norms[0])
    assert grads.get_ylim() == pytest.approx((1e-12, 1.0))
    assert f"{layers} of {layers} layers: exactly 0 throughout" in [t.get_text()
                                                                    for t in grads.texts]
    plt.close(fig)
