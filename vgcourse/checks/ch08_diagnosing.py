"""Self-checks for chapter 8: diagnose the mystery runs from their evidence alone."""

from __future__ import annotations

from ._registry import Wrong, as_number, matches, register, unseal

DIAGNOSES = ("vanishing", "exploding", "dead units", "saturated", "healthy")
_SYNONYMS = {
    "vanishing gradients": "vanishing", "vanishing gradient": "vanishing",
    "exploding gradients": "exploding", "exploding gradient": "exploding",
    "dead": "dead units", "dead relu": "dead units", "dying relu": "dead units",
    "dead relus": "dead units", "saturation": "saturated", "fine": "healthy",
    "nothing wrong": "healthy", "ok": "healthy",
}

# What to look at again; a hint names evidence, never the diagnosis.
_LOOK = {
    "depth": "Compare the gradient norms of the first and last layers: how many decades "
             "apart are they, and does any activation sit at a bound?",
    "first steps": "Look at the first steps: the size of each layer's gradient, which way it "
                   "grows across the layers, and how large the first updates are.",
    "zeros": "Look at the after-training panel: what fraction of units pass anything at "
             "all? A gradient that is exactly 0 is not the same as a small one.",
    "last steps": "Look at the last steps of the loss and at the gradient norms just before "
                  "the run stopped.",
    "loss": "Look at the loss first: where does it end? Small updates late in training can "
            "mean there is nothing left to learn.",
}

# Each run's diagnosis as a fingerprint, and its explanation sealed with it (_registry.py).
_RUN_A = "4571ce6d8e1a0b4e8aedb449ee27689f"
_RUN_A_WHY = (
    "2d98efaaf00ca3643641191a87b67fce6ed6e24c623d7d441a935c3230cc07ef31722f2fdecc24bfb79ebbfb1136"
    "23a5047a322efcec7b058a45097ed363bd7ba3efc9edf0e989f6e21bacdbc75a3a1bcd217e47f5eee21ba6ad7720"
    "f81922c29d525ea64d13e08a68f38625b175f2ebd1dc4abec3dc6af7ff53288817012cf8fdbfd71a82308bf71a"
)
_RUN_B = "a60ae82ce624c230727d93ad54ebd26f"
_RUN_B_WHY = (
    "04dbb8be0b019a07754b80103524bd6d86e89b9aec4d948851d77087fdcf84a707ab593506a9cfb636531bb64c2e"
    "1dfd1fba4f04b88004a91a3b3a631eeeab9d1d40ca351fa4e667691fa2c77cc5ed17ae58686abd9cdb9804a75074"
    "b9517c2cbda455523ec286189024be1f9018bcaca65f768f4be5511f"
)
_RUN_C = "6dd1fa1225aecce7393f4f17779300c4"
_RUN_C_WHY = (
    "338d92b6b476eade6099c5ab3105812335e52f664ccbacbdc983c27044fec3119adf2b1c17bc627ad542a3290374"
    "f176f79222416bd9dc30a323df35b8c2242badf6981b25d3972805c7ab38ce6cd2f19cd96ac75df129d4803312dc"
    "c07e4fc1d090226f4ad5dcdec45a0427d44f4d534f8dcc9e074df9893b0d21ce26419e3e010ef980894d6f55"
)
_RUN_D = "26856b7bc520e5e3579f0283d7a0d939"
_RUN_D_WHY = (
    "5ce65a61bdd16887df78ec633c2bc144cf7f7e38aea735d8adfa6b5575740af8cd204ba909366a037af151b593e0"
    "650f0cf04efc6f7b8563530144f9ed0e2ba1923b3f2c52394368bcd961073f6c5e6d6701f3438635ccc7dfd22bf5"
    "90c1fc82c01459ec60b17189ea9c40f50cc2156e558aab510c4e18d8127884e05eb6c0f9349e2a17414e7d33fe59"
    "d6aeaaa3845837732ff3e542e2798a48e66d080824f9ef720f52ccf4fcbbc0f08cec8ac53ccf4b1c283c54d7f89f"
    "29ee51334d9c3dff4b4e7d05208e2d0283ec5b8e3793e8a63b7f1a03a00a334b38652415aef070c44d82a4b90111"
    "1fab52a309e8ae32a58550cd3b9038685eaacc8cf6c41aa44d267fc2e27ac3b95406925592a2da525f7121432b9e"
    "167b80d52ed8f225"
)
_RUN_E = "8c4abbf766579cf5686a54b2afdd2406"
_RUN_E_WHY = (
    "6769844c7669c9e2d62efa737e6a4f3571a40d1720f817344ac9ee2fa4565b0b4d5d8bdd3d3401777bb0438e2a3a"
    "b03246cf7a3cd54e704f13413d7968635b50b0f293ec744895f52a48b83b7fb084b81bcaeb57c157203d5d835ed6"
    "c2e94e02f3451c104ec3b67b"
)


def _normalise(answer) -> str:
    if not isinstance(answer, str):
        raise Wrong(f"answer with one of {', '.join(repr(d) for d in DIAGNOSES)}, as a string.")
    text = answer.strip().lower()
    text = _SYNONYMS.get(text, text)
    if text not in DIAGNOSES:
        raise Wrong(f"{answer!r} is not a diagnosis here; choose one of "
                    f"{', '.join(repr(d) for d in DIAGNOSES)}.")
    return text


def _mystery(exercise: str, truth: str, explanation: str, hint: str,
             hints: dict | None = None):
    """A checker for a run whose diagnosis has the fingerprint ``truth``; ``explanation`` is
    sealed with it. ``hint`` is shown for a wrong diagnosis; ``hints`` gives a more specific
    pointer for particular wrong answers (a near miss)."""
    def checker(answer) -> str:
        given = _normalise(answer)
        key = matches(exercise, given, truth)
        if key is None:
            raise Wrong((hints or {}).get(given, hint))
        return unseal(exercise, key, explanation)
    return checker


register("08-mystery-a")(_mystery("08-mystery-a", _RUN_A, _RUN_A_WHY, _LOOK["depth"]))
register("08-mystery-b")(_mystery("08-mystery-b", _RUN_B, _RUN_B_WHY, _LOOK["last steps"]))
register("08-mystery-c")(_mystery(
    "08-mystery-c", _RUN_C, _RUN_C_WHY, _LOOK["loss"],
    hints={"vanishing": "The late update-to-data ratios are small for every layer at once, the "
                        "read-out too. Where does the loss end?"}))
register("08-mystery-d")(_mystery(
    "08-mystery-d", _RUN_D, _RUN_D_WHY, _LOOK["first steps"],
    hints={"saturated": "The units do end up saturated, but is that where the run started? "
                        "Look at the first steps: the gradient of each layer, and which way it "
                        "grows across the layers."}))
register("08-mystery-e")(_mystery("08-mystery-e", _RUN_E, _RUN_E_WHY, _LOOK["zeros"]))


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
