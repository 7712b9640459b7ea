"""Argument checks that raise scikit-learn-style errors: name, value, what is allowed."""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral, Real


def check_choice(name: str, value, allowed: Iterable) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name}={value!r} is not supported; expected one of {options}.")


def check_int(name: str, value, minimum: int = 1) -> None:
    """Raise ``ValueError`` unless ``value`` is an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name}={value!r} is not allowed; expected an integer >= {minimum}.")


def check_positive(name: str, value, allow_zero: bool = False) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite real number > 0 (or >= 0)."""
    ok = isinstance(value, Real) and not isinstance(value, bool) and value == value
    ok = ok and value != float("inf") and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}={value!r} is not allowed; expected a finite number {bound}.")
