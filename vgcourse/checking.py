"""Instant feedback on exercises: ``check("01-sigmoid-derivative", my_function)``.

Each exercise registers a checker (in ``vgcourse/checks/``) that compares an answer with the
reference and, when it is wrong, names what is wrong without printing the solution.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from typing import Callable

from ._validation import check_choice


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer: ``passed`` and a message for the learner."""

    exercise: str
    passed: bool
    message: str
    solved: bool = True  # False when the answer is still the unsolved stub

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark = "✅ Correct" if self.passed else ("⏳ Not yet solved" if not self.solved
                                                 else "❌ Not yet")
        return f"{mark} [{self.exercise}]: {self.message}"

    def _repr_pretty_(self, printer, cycle) -> None:  # plain-text display in IPython
        printer.text(str(self))

    def _repr_html_(self) -> str:
        colour = "#009E73" if self.passed else ("#777777" if not self.solved else "#D55E00")
        return (f"<div style='border-left:4px solid {colour};padding:0.3em 0.8em'>"
                f"{html.escape(str(self))}</div>")


class Wrong(Exception):
    """Raised by a checker with a hint that names what is wrong."""


def as_number(answer) -> float:
    """A checker's view of a numeric answer: a float, or :class:`Wrong` saying what came instead
    (a one-element tensor counts as a number)."""
    if hasattr(answer, "numel") and answer.numel() != 1:
        raise Wrong(f"expected one number, got a tensor of shape {tuple(answer.shape)}.")
    try:
        return float(answer)
    except (TypeError, ValueError):
        raise Wrong(f"expected a number, got {type(answer).__name__}.") from None


def close(a: float, b: float, rel: float = 1e-6) -> bool:
    """Relative closeness for checkers: ``|a − b| <= rel·max(|a|, |b|)``."""
    return math.isclose(a, b, rel_tol=rel, abs_tol=0.0)


_CHECKERS: dict[str, Callable] = {}


def register(exercise: str):
    """Decorator that registers ``checker(answer)`` for ``exercise``.

    The checker returns a success message, or raises :class:`Wrong` with a hint. Identifiers
    are ``"NN-name"`` (chapter number, then a short name) and must be unique.
    """
    if not re.fullmatch(r"\d\d-\w+(-\w+)*", str(exercise)):
        raise ValueError(f"exercise={exercise!r} is not allowed; expected 'NN-name' with a "
                         "two-digit chapter number and words joined by '-'.")

    def decorate(checker):
        previous = _CHECKERS.get(exercise)
        name = (checker.__module__, checker.__qualname__)
        if previous is not None and (previous.__module__, previous.__qualname__) != name:
            raise ValueError(f"exercise={exercise!r} already has a checker "
                             f"({_CHECKERS[exercise].__module__}); expected a new identifier.")
        _CHECKERS[exercise] = checker
        return checker

    return decorate


def exercises() -> list[str]:
    """The identifiers of every exercise that has a self-check."""
    from . import checks  # noqa: F401  (registers the chapters' checkers)

    return sorted(_CHECKERS)


def check(exercise: str, answer) -> Feedback:
    """Check ``answer`` to ``exercise`` and return the verdict (shown when displayed).

    Parameters
    ----------
    exercise : str
        The exercise's identifier, as printed in its cell (see :func:`exercises`).
    answer : object
        A number, an array or a function, as the exercise asks.

    Returns
    -------
    Feedback
        Truthy when the answer is right. An answer that is still ``...``/``None``, or a
        function that raises ``NotImplementedError`` (the student edition's stub), is reported
        as not yet solved rather than raising.
    """
    check_choice("exercise", exercise, exercises())
    if answer is None or answer is Ellipsis:
        return Feedback(exercise, False, "replace the `...` with your answer.", solved=False)
    try:
        message = _CHECKERS[exercise](answer)
    except NotImplementedError:
        return Feedback(exercise, False, "your function still raises NotImplementedError; "
                        "fill in the marked region.", solved=False)
    except Wrong as hint:
        return Feedback(exercise, False, str(hint))
    except Exception as error:  # an answer that crashes is a wrong answer, not a traceback
        return Feedback(exercise, False,
                        f"calling your answer raised {type(error).__name__}: {error}")
    return Feedback(exercise, True, str(message))
