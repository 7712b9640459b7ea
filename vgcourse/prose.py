"""Sentences whose numbers come from the output, and claims checked when a chapter runs.

A chapter never types a measured number into its prose. It writes the sentence as a template
and lets the executed output fill it in::

    say("He reaches {he:.1pct} on every seed, Xavier at most {xavier:.1pct}.",
        he=min(he_accs), xavier=max(xavier_accs))

:func:`say` displays the sentence as Markdown output: in the book the cell's input is hidden
(tag ``remove-input``) so the reader sees a paragraph; in Jupyter and Colab, where MyST roles
such as ``{glue:text}`` would show as raw markup, the same Markdown renders below the cell.
Every value is also attached to the output's metadata (key ``"vgcourse"``), so tests can read
the numbers the book printed.

:func:`claim` asserts an outcome the prose states ("He trains, Xavier stalls") at build time:
when it does not hold, :class:`ClaimError` names the claim and the evidence and ``make book``
fails, instead of the page contradicting itself.

Format specifications, besides Python's own (``.2f``, ``.1e``, ``d``, …):

- ``pct``: a fraction as a percentage; ``{a:.1pct}`` of 0.588 gives ``58.8 %``.
- ``sci``: LaTeX scientific notation with that many significant digits (default 2);
  ``{g:.2sci}`` of 0.0372 gives ``$3.7 \\times 10^{-2}$``.
- ``pow``: the nearest power of ten in LaTeX; ``{g:pow}`` of 3e-10 gives ``$10^{-10}$``.

A bound is rounded towards the side it promises: a sentence that says "at least {x}" or
"{x} or more" must not print 4.2 for 4.17, nor "within {x}" 5.2 % for 5.24 %. Append ``:down``
or ``:up`` to any fixed-point, percentage or scientific spec to round in that direction instead
of to the nearest: ``{x:.1f:down}`` of 4.17 gives ``4.1``, ``{x:.1pct:up}`` of 0.05244 gives
``5.3 %``. (tests/test_prose.py checks every bound the built book prints.)
"""

from __future__ import annotations

import math
import re
import string
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from numbers import Real

__all__ = ["ClaimError", "claim", "format_number", "round_directed", "say", "sentence"]


class ClaimError(AssertionError):
    """An outcome the prose states does not hold in the chapter's own output."""


_SPEC = re.compile(r"^(?:\.(?P<digits>\d+))?(?P<kind>pct|sci|pow)$")
# Python specs whose precision a directed rounding can honour: fixed point and exponent.
_PYTHON_SPEC = re.compile(r"^[^.]*\.(?P<digits>\d+)(?P<kind>[fFeE%])$")
DIRECTIONS = {"down": ROUND_FLOOR, "up": ROUND_CEILING}


def round_directed(value, spec: str, direction: str) -> float:
    """``value`` rounded down (``"down"``) or up (``"up"``) to the digits ``spec`` prints.

    Rounds the shortest decimal that represents the float (``repr``), so 0.29 rounded down at
    two decimals stays 0.29 although its binary value is a hair below.

    >>> round_directed(4.17, ".1f", "down"), round_directed(0.05244, ".1pct", "up")
    (4.1, 0.053)
    >>> round_directed(0.015457, ".1sci", "down"), round_directed(2.0146e-11, ".1sci", "up")
    (0.01, 3e-11)
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction={direction!r} is not allowed; expected 'down' or 'up'")
    prose, python = _SPEC.match(spec), _PYTHON_SPEC.match(spec)
    kind = (prose or python)["kind"] if prose or python else None
    if kind is None or kind == "pow":
        raise ValueError(f"spec={spec!r} cannot be rounded {direction}; use a fixed-point "
                         "(.1f), percentage (.1pct, .1%) or scientific (.2sci, .1e) spec")
    x = float(value)
    if not math.isfinite(x) or x == 0:
        return x
    exact = Decimal(repr(x))
    if kind in ("sci", "e", "E"):
        significant = (2 if prose["digits"] is None else int(prose["digits"])) if prose \
            else int(python["digits"]) + 1
        quantum = Decimal(1).scaleb(exact.adjusted() - significant + 1)
    else:
        digits = int((prose or python)["digits"] or 1)
        quantum = Decimal(1).scaleb(-digits - (2 if kind in ("pct", "%") else 0))
    return float(exact.quantize(quantum, rounding=DIRECTIONS[direction]))


def format_number(value, spec: str) -> str:
    """Format ``value`` by a Python format spec or one of the prose specs ``pct``, ``sci``, ``pow``.

    >>> format_number(0.588, ".1pct")
    '58.8 %'
    >>> format_number(0.0372, ".2sci")
    '$3.7 \\\\times 10^{-2}$'
    >>> format_number(3e-10, "pow")
    '$10^{-10}$'
    >>> format_number(4.17, ".1f:down")
    '4.1'
    """
    spec, _, direction = spec.partition(":")
    if direction:
        value = round_directed(value, spec, direction)
    match = _SPEC.match(spec)
    if match is None:
        return format(value, spec)
    kind, digits = match["kind"], match["digits"]
    if not isinstance(value, Real) and not hasattr(value, "__float__"):
        raise TypeError(f"format {spec!r} needs a number, got {type(value).__name__}")
    x = float(value)
    if not math.isfinite(x):
        return "diverged (inf/NaN)" if kind != "pct" else "n/a"
    if kind == "pct":
        return f"{100 * x:.{1 if digits is None else int(digits)}f} %"
    if x == 0:
        return "$0$"
    if kind == "pow":
        sign = "" if x > 0 else "-"
        return f"${sign}10^{{{round(math.log10(abs(x)))}}}$"
    significant = 2 if digits is None else int(digits)
    # Python's own rounding to significant digits: exact for subnormal numbers too, where
    # dividing by 10**exponent would underflow
    mantissa, exponent = f"{x:.{significant - 1}e}".split("e")
    exponent = int(exponent)
    if exponent == 0:
        return f"${mantissa}$"
    return f"${mantissa} \\times 10^{{{exponent}}}$"


class _ProseFormatter(string.Formatter):
    def format_field(self, value, format_spec):
        return format_number(value, format_spec)


def _plain(value):
    """The value as JSON-ready data for the output's metadata (numbers as floats)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, Real) or hasattr(value, "__float__"):
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def sentence(template: str, /, **values) -> str:
    """The Markdown text of ``template`` with its ``{name:spec}`` fields filled from ``values``.

    Raises ``KeyError`` naming a field the template uses but ``values`` lacks, and ``ValueError``
    naming a value given but never used (a number computed for the prose that it forgot).

    >>> sentence("loss {loss:.2f}, gradient {g:.1sci}", loss=1.234, g=0.00052)
    'loss 1.23, gradient $5 \\\\times 10^{-4}$'
    """
    used = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    missing = sorted(used - set(values))
    if missing:
        raise KeyError(f"say(): the template uses {missing} but no value was given for "
                       f"{'it' if len(missing) == 1 else 'them'}")
    unused = sorted(set(values) - {f.split(".")[0].split("[")[0] for f in used})
    if unused:
        raise ValueError(f"say(): values {unused} are given but the template never uses them")
    return _ProseFormatter().format(template, **values)


def say(template: str, /, **values) -> None:
    """Display ``template``, filled from ``values``, as a Markdown paragraph of the chapter.

    Parameters
    ----------
    template : str
        Markdown with ``{name:spec}`` fields (see the module's format specifications). Math
        (``$...$``) renders in the book and in Jupyter/Colab; MyST roles do not render in
        Jupyter, so keep citations in the chapter's Markdown cells.
    **values
        The measured numbers (Python or torch scalars). Each is stored in the output's
        metadata under ``"vgcourse" -> "values"``, and the template under
        ``"vgcourse" -> "template"`` (tests read which number each sentence bounds).
    """
    text = sentence(template, **values)
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # plain Python: print the paragraph
        print(text)
        return
    if get_ipython() is None:
        print(text)
        return
    display(Markdown(text),
            metadata={"vgcourse": {"values": {k: _plain(v) for k, v in values.items()},
                                   "template": template}})


def claim(statement: str, holds, /, **evidence) -> None:
    """Assert an outcome the prose states; raise :class:`ClaimError` naming it if it fails.

    Parameters
    ----------
    statement : str
        The claim as the prose makes it, e.g. ``"He beats Xavier on every seed"``.
    holds : bool
        Whether the chapter's own output supports it (a Python or 0-d torch boolean).
    **evidence
        The numbers the claim rests on; the error message lists them.

    >>> claim("2 > 1", 2 > 1, a=2, b=1)
    >>> claim("1 > 2", 1 > 2, a=1, b=2)
    Traceback (most recent call last):
    ...
    vgcourse.prose.ClaimError: the chapter claims "1 > 2", but its output says otherwise: a=1, b=2
    """
    if not isinstance(statement, str) or not statement.strip():
        raise ValueError(f"claim(): statement must be a non-empty string, got {statement!r}")
    if hasattr(holds, "item"):
        holds = holds.item()
    if not isinstance(holds, bool):
        raise TypeError(f"claim(): holds must be a bool (the test's result), got "
                        f"{type(holds).__name__}; for {statement!r}")
    if not holds:
        shown = ", ".join(f"{k}={_short(v)}" for k, v in evidence.items()) or "no evidence given"
        raise ClaimError(f'the chapter claims "{statement}", but its output says otherwise: '
                         f"{shown}")


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)
