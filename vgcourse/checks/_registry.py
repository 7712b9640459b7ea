"""What every checker shares: the registry of checkers, :class:`Wrong` and answer coercion.

``vgcourse.checking`` (which runs a check) and every ``checks/chNN_*`` module (which registers
one) import this module; neither imports the other, so there is no import cycle.
"""

from __future__ import annotations

import math
import re
from typing import Callable

import torch


class Wrong(Exception):
    """Raised by a checker with a hint that names what is wrong."""


def as_number(answer, what: str = "a number") -> float:
    """A checker's view of a numeric answer: a float, or :class:`Wrong` saying what came instead
    (a one-element tensor or array counts as a number).

    ``what`` describes the expected answer in the hint, e.g. ``"a fraction between 0 and 1"``.
    """
    if hasattr(answer, "numel") and answer.numel() != 1:
        raise Wrong(f"expected one number, got a tensor of shape {tuple(answer.shape)}.")
    elif isinstance(getattr(answer, "size", None), int) and answer.size != 1:  # NumPy
        raise Wrong(f"expected one number, got an array of shape {tuple(answer.shape)}.")
    try:
        return float(answer)
    except (TypeError, ValueError):
        raise Wrong(f"expected {what}, got {type(answer).__name__}.") from None


def as_float64(answer: torch.Tensor) -> tuple[torch.Tensor, float]:
    """A tensor answer in float64, with the relative tolerance its own precision allows.

    A learner's function may compute in float32 (``torch.tensor(...)`` defaults to it): that
    is not wrong, so it is compared in float64 with a tolerance of about 1e3 float32 epsilons
    instead of failing with "Float did not match Double".
    """
    rtol = 1e-6 if answer.dtype == torch.float64 else 1e3 * float(torch.finfo(answer.dtype).eps)
    return answer.detach().to(torch.float64), max(rtol, 1e-6)


def close(a: float, b: float, rel: float = 1e-6) -> bool:
    """Relative closeness for checkers: ``|a − b| <= rel·max(|a|, |b|)``."""
    return math.isclose(a, b, rel_tol=rel, abs_tol=0.0)


CHECKERS: dict[str, Callable] = {}


def register(exercise: str):
    """Decorator that registers ``checker(answer)`` for ``exercise``.

    The checker returns a success message, or raises :class:`Wrong` with a hint. Identifiers
    are ``"NN-name"`` (chapter number, then a short name) and must be unique.
    """
    if not re.fullmatch(r"\d\d-\w+(-\w+)*", str(exercise)):
        raise ValueError(f"exercise={exercise!r} is not allowed; expected 'NN-name' with a "
                         "two-digit chapter number and words joined by '-'.")

    def decorate(checker):
        previous = CHECKERS.get(exercise)
        name = (checker.__module__, checker.__qualname__)
        if previous is not None and (previous.__module__, previous.__qualname__) != name:
            raise ValueError(f"exercise={exercise!r} already has a checker "
                             f"({CHECKERS[exercise].__module__}); expected a new identifier.")
        CHECKERS[exercise] = checker
        return checker

    return decorate
