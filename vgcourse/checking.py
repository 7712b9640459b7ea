"""Instant feedback on exercises: ``check("01-sigmoid-derivative", my_function)``.

Each exercise registers a checker (in ``vgcourse/checks/``, with
:func:`vgcourse.checks.register`) that compares an answer with the
reference and, when it is wrong, names what is wrong without printing the solution.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from ._validation import check_choice
from .checks import CHECKERS, Wrong


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


def exercises() -> list[str]:
    """The identifiers of every exercise that has a self-check."""
    return sorted(CHECKERS)


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
        message = CHECKERS[exercise](answer)
    except NotImplementedError:
        return Feedback(exercise, False, "your function still raises NotImplementedError; "
                        "fill in the marked region.", solved=False)
    except Wrong as hint:
        return Feedback(exercise, False, str(hint))
    except Exception as error:  # an answer that crashes is a wrong answer, not a traceback
        return Feedback(exercise, False,
                        f"calling your answer raised {type(error).__name__}: {error}")
    return Feedback(exercise, True, str(message))
