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
