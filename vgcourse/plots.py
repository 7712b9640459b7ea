"""One function per figure type. Each returns a matplotlib Figure and labels its axes."""

from __future__ import annotations

import matplotlib.pyplot as plt

# Okabe–Ito: distinguishable with every common form of colour blindness.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def new_axes(ax=None, figsize=(6.4, 3.6)):
    """Return ``(figure, axes)``: a fresh pair, or ``ax`` with its figure."""
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


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
        ax.axvline(history.diverged_at, color=PALETTE[1], ls=":", label="diverged (inf/NaN)")
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss")
    ax.grid(True, alpha=0.3)
    if label or history.diverged_at is not None:
        ax.legend(frameon=False)
    return fig


def figure_to_html(fig, dpi: int = 90) -> str:
    """Embed a figure in HTML as a base64 PNG (and close it), for rich reprs."""
    import base64
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    alt = fig.axes[0].get_title() if fig.axes else "figure"
    return f"<img src='data:image/png;base64,{data}' alt='{alt}'>"


def plot_report(report, ax=None):
    """The gradient doctor's figure: per-layer gradient-to-weight and update-to-data ratios."""
    fig, ax = new_axes(ax, figsize=(6.8, 3.6))
    index = range(1, len(report.layers) + 1)
    ax.semilogy(index, [r.grad_to_weight for r in report.layers], "o-", color=PALETTE[0],
                label=r"$\|\partial\mathcal{L}/\partial W\| / \|W\|$")
    ax.semilogy(index, [r.update_to_data for r in report.layers], "s--", color=PALETTE[2],
                label=rf"$\|\Delta W\| / \|W\|$ (one SGD step, lr {report.lr:g})")
    for i, r in zip(index, report.layers):
        if r.verdict != "healthy":
            ax.annotate(r.verdict, (i, r.grad_to_weight), textcoords="offset points",
                        xytext=(0, 6), ha="center", fontsize=7, color=PALETTE[1])
    ax.set_xlabel("parametrised layer (1 = next to the input)")
    ax.set_ylabel("ratio (log scale)")
    ax.set_title(f"Gradient doctor: {report.verdict}")
    ax.grid(True, alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    return fig
