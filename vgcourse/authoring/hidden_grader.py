"""The grader that an nbgrader course's hidden tests call (copied into ``<course>/autograder/``).

:mod:`vgcourse.authoring.grading` copies this file, and a copy of the ``vgcourse`` package
(``<course>/autograder/vgcourse_reference/``, without ``authoring``), into the instructor's
course directory. A hidden test loads this file by its path and asks it for a verdict. It never
goes through the student's kernel state: every verdict loads the checkers afresh from the copy,
under a private module name that is removed again from ``sys.modules`` afterwards, so a student
who replaces ``vgcourse.check``, patches the installed ``vgcourse.checks`` or plants a module in
``sys.modules`` does not change what this grader compares with.

This module imports neither ``vgcourse`` nor nbgrader; it needs only the standard library (and
whatever the copied checkers import: torch and numpy).
"""

from __future__ import annotations

import importlib
import sys
import types
import uuid
from pathlib import Path

#: The copy of the package the checkers are loaded from.
REFERENCE = Path(__file__).resolve().parent / "vgcourse_reference"


def fresh_checkers(reference=None):
    """The checkers and the ``Wrong`` exception, loaded afresh from ``reference``.

    Parameters
    ----------
    reference : path-like, optional
        A copy of the ``vgcourse`` package folder (``checks/`` and what it imports); default
        ``REFERENCE``, the copy beside this module in the course's ``autograder/`` folder.

    Returns
    -------
    tuple (dict, type)
        ``{exercise: checker}`` and the ``Wrong`` class those checkers raise.
    """
    reference = REFERENCE if reference is None else Path(reference)
    if not (reference / "checks" / "__init__.py").is_file():
        raise ValueError(f"reference={str(reference)!r} holds no checks/__init__.py; expected "
                         "the package copy that make nbgrader writes.")
    name = f"_vgcourse_reference_{uuid.uuid4().hex}"
    parent = types.ModuleType(name)  # a namespace only: the package's __init__ is not run
    parent.__path__ = [str(reference)]
    parent.__package__ = name
    sys.modules[name] = parent
    try:
        checks = importlib.import_module(f"{name}.checks")
        return dict(checks.CHECKERS), checks.Wrong
    finally:
        for key in [k for k in sys.modules if k == name or k.startswith(f"{name}.")]:
            del sys.modules[key]


def verdict(exercise: str, answer, checkers=None) -> tuple:
    """``(passed, message)`` for ``answer`` to ``exercise``, from freshly loaded checkers.

    Parameters
    ----------
    exercise : str
        A self-check identifier such as ``"01-tanh-chain"``.
    answer : object
        The student's answer, as the self-check takes it.
    checkers : tuple, optional
        The result of :func:`fresh_checkers`, to reuse it within one test.
    """
    table, wrong = checkers or fresh_checkers()
    if exercise not in table:
        raise ValueError(f"exercise={exercise!r} has no checker in {REFERENCE}; expected one of "
                         f"{sorted(table)}.")
    if answer is None or answer is Ellipsis:
        return False, "not answered."
    try:
        table[exercise](answer)
    except NotImplementedError:
        return False, "not answered (the function still raises NotImplementedError)."
    except wrong as hint:
        return False, str(hint)
    except Exception as error:  # noqa: BLE001 - a crashing answer is a wrong answer
        return False, f"the answer raised {type(error).__name__}: {error}"
    return True, "correct."


def require(exercise: str, answer) -> None:
    """Raise ``AssertionError`` (the hidden test fails) unless ``answer`` is right."""
    passed, message = verdict(exercise, answer)
    assert passed, f"hidden test of {exercise}: {message}"


def score(code: str, namespace: dict, exercises, points_each: float) -> float:
    """Points for a self-check cell that checks several exercises (partial credit).

    ``code`` (the chapter's self-check cell) is run in a copy of ``namespace`` where
    ``vgcourse.check`` is this grader and ``display`` does nothing; each exercise in
    ``exercises`` it passes earns ``points_each``.
    """
    checkers = fresh_checkers()
    passed = {}

    def check(exercise, answer):
        passed[exercise], message = verdict(exercise, answer, checkers)
        return passed[exercise]

    scope = dict(namespace)
    scope.update(vgcourse=types.SimpleNamespace(check=check), display=lambda *a, **k: None)
    exec(compile(code, "<self-check>", "exec"), scope)  # noqa: S102 - the chapter's own cell
    return points_each * sum(bool(passed.get(e)) for e in exercises)
