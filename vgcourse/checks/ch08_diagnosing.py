"""Self-checks for chapter 8: diagnose the mystery runs from their evidence alone."""

from __future__ import annotations

from ._registry import Wrong, as_number, register

DIAGNOSES = ("vanishing", "exploding", "dead units", "saturated", "healthy")
_SYNONYMS = {
    "vanishing gradients": "vanishing", "vanishing gradient": "vanishing",
    "exploding gradients": "exploding", "exploding gradient": "exploding",
    "dead": "dead units", "dead relu": "dead units", "dying relu": "dead units",
    "dead relus": "dead units", "saturation": "saturated", "fine": "healthy",
    "nothing wrong": "healthy", "ok": "healthy",
}

# what to look at again, per true diagnosis; never the answer itself
_HINTS = {
    "vanishing": "Compare the gradient norms of the first and last layers: how many decades "
                 "apart are they, and does any activation sit at a bound?",
    "exploding": "Look at the first steps: the size of each layer's gradient, which way it "
                 "grows across the layers, and how large the first updates are.",
    "dead units": "Look at the after-training panel: what fraction of units pass anything at "
                  "all? A gradient that is exactly 0 is not the same as a small one.",
    "saturated": "Look at the after-training panel: where do the activations sit, and what is "
                 "the slope of the activation there?",
    "healthy": "Look at the loss first: where does it end? Small updates late in training can "
               "mean there is nothing left to learn.",
}


def _normalise(answer) -> str:
    if not isinstance(answer, str):
        raise Wrong(f"answer with one of {', '.join(repr(d) for d in DIAGNOSES)}, as a string.")
    text = answer.strip().lower()
    text = _SYNONYMS.get(text, text)
    if text not in DIAGNOSES:
        raise Wrong(f"{answer!r} is not a diagnosis here; choose one of "
                    f"{', '.join(repr(d) for d in DIAGNOSES)}.")
    return text


def _mystery(truth: str, explanation: str, hint: str | None = None,
             hints: dict | None = None):
    """A checker for a run whose diagnosis is ``truth``. ``hint`` replaces the general hint of
    that diagnosis for this run; ``hints`` gives a more specific pointer for particular wrong
    answers (a near miss)."""
    def checker(answer) -> str:
        given = _normalise(answer)
        if given != truth:
            raise Wrong((hints or {}).get(given, hint or _HINTS[truth]))
        return explanation
    return checker


register("08-mystery-a")(_mystery(
    "vanishing", "the first layers' gradients are many decades below the last layer's, so "
                 "their update-to-data ratios are far under 1e-3: they never learn."))
register("08-mystery-b")(_mystery(
    "exploding", "gradient norms climb by orders of magnitude and the loss hits inf: the "
                 "learning rate is too large for this ReLU network.",
    hint="Look at the last steps of the loss and at the gradient norms just before the run "
         "stopped."))
register("08-mystery-c")(_mystery(
    "healthy", "the loss falls to almost zero and every layer's gradient moves with the others; "
               "the tiny late updates only mean that the task is learnt.",
    hints={"vanishing": "The late update-to-data ratios are small for every layer at once, the "
                        "read-out too. Where does the loss end?"}))
register("08-mystery-d")(_mystery(
    "exploding", "at the start the gradient grows about twofold per layer toward the input "
                 "(tanh with weights of standard deviation 1 at width 64 is in the chaotic "
                 "phase) and the first updates are as large as the weights; they drive the "
                 "units deep into saturation, which is what you see after training.",
    hints={"saturated": "The units do end up saturated, but is that where the run started? "
                        "Look at the first steps: the gradient of each layer, and which way it "
                        "grows across the layers."}))
register("08-mystery-e")(_mystery(
    "dead units", "most ReLUs output 0 for every example, so their weights get exactly zero "
                  "gradient and can never recover."))


@register("08-update-to-data")
def _update_to_data(answer) -> str:
    """A function (before, after) -> [‖after_l − before_l‖ / ‖before_l‖ for each layer]."""
    import torch

    g = torch.Generator().manual_seed(3)
    before = [torch.randn(8, 8, generator=g, dtype=torch.float64) * s for s in (1.0, 0.1, 3.0)]
    after = [b + 1e-3 * torch.randn(8, 8, generator=g, dtype=torch.float64) for b in before]
    out = answer(before, after)
    try:
        values = [float(v) for v in out]
    except TypeError:
        raise Wrong(f"return one number per layer (a list), not {type(out).__name__}.") from None
    if len(values) != len(before):
        raise Wrong(f"expected {len(before)} ratios, one per layer, got {len(values)}.")
    delta = [float((a - b).norm()) for a, b in zip(after, before)]
    target = [d / float(b.norm()) for d, b in zip(delta, before)]
    close = all(abs(v - t) <= 1e-9 * abs(t) for v, t in zip(values, target))
    if close:
        return "the update-to-data ratio: ~1e-3 per step is the rule of thumb for healthy SGD."
    if all(abs(v - d) <= 1e-9 * d for v, d in zip(values, delta)):
        raise Wrong("that is the size of the update; divide by the size of the weights.")
    by_after = [d / float(a.norm()) for d, a in zip(delta, after)]
    if all(abs(v - t) <= 1e-12 + 1e-6 * abs(t) for v, t in zip(values, by_after)) and \
            any(abs(v - t) > 1e-9 * abs(t) for v, t in zip(values, target)):
        raise Wrong("divide by the weights before the step, the data the update acts on.")
    change = [abs(float(a.norm()) / float(b.norm()) - 1) for a, b in zip(after, before)]
    if all(abs(v - c) <= 1e-9 + 1e-6 * c for v, c in zip(values, change)):
        raise Wrong("a change of norm is not the norm of the change: use ‖after − before‖.")
    if all(abs(v - t * t) <= 1e-6 * t * t for v, t in zip(values, target)):
        raise Wrong("that is the square of the ratio; use norms, not squared norms.")
    raise Wrong("not ‖after − before‖ / ‖before‖ for every layer.")


@register("08-momentum-factor")
def _momentum_factor(answer) -> str:
    """SGD with momentum β = 0.9 under a constant gradient: its step over plain SGD's lr·g."""
    value = as_number(answer, "a number (a factor)")
    beta = 0.9
    series = sum(beta**k for k in range(2000))  # 1 + β + β² + ..., summed term by term
    if abs(value - series) <= 1e-6 * series:
        return ("the velocity sums the same gradient with weights 1, β, β², …: the step is that "
                "many times lr·g, so lr·‖g‖/‖W‖ is not the update, and the monitor measures "
                "‖ΔW‖ itself.")
    near = {  # typical slips, each with what to look at again
        1.0: "that is the first step, where the velocity is the gradient itself; every later "
             "step adds the earlier gradients again, each shrunk by a further factor β.",
        0.9: "β is the weight of the previous velocity only; add up the contributions of all "
             "earlier steps.",
        0.1: "that is 1 − β; the velocity is a sum over all earlier steps, not a share.",
        9.0: "you left out the current gradient: the sum starts at β⁰ = 1.",
        1.9: "that sums two steps; with a constant gradient every earlier step k adds βᵏ.",
        100.0: "square nothing: sum the geometric series 1 + β + β² + … once.",
    }
    for wrong, hint in near.items():
        if abs(value - wrong) <= 1e-6 * wrong:
            raise Wrong(hint)
    if 0 < value < 1:
        raise Wrong("every term of 1 + β + β² + … is positive and the first is 1: the factor is "
                    "larger than 1.")
    raise Wrong("write the velocity after many steps as a sum of the same g with weights "
                "1, β, β², …, and add up the geometric series.")
