"""What every checker shares: the registry of checkers, :class:`Wrong` and answer coercion.

``vgcourse.checking`` (which runs a check) and every ``checks/chNN_*`` module (which registers
one) import this module; neither imports the other, so there is no import cycle.
"""

from __future__ import annotations

import hashlib
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


# ---------------------------------------------------------------- answers kept as fingerprints
# A checker of a number or a word does not hold its reference answer in readable form: it holds
# the answer's fingerprint (a hash) and compares the learner's answer with it, and its success
# message, which often explains the answer, is sealed with a key only the right answer opens.
# The instructor's course directory (``make nbgrader``) keeps the readable answers. Authors
# compute a new checker's constants with ``fingerprint`` and ``seal``.


def _keys(answer, rel: float) -> list[str]:
    """The keys an answer is compared under: itself (a word, or an exact number), or, with a
    relative tolerance ``rel``, its cell on a geometric grid of ratio 1 + rel and the two next
    to it (so that an answer within ``rel`` of the reference always shares a cell with it)."""
    if isinstance(answer, str):
        return [answer]
    value = float(answer)
    if not math.isfinite(value):
        return []
    if not rel:
        return [str(int(value)) if value.is_integer() else repr(value)]
    if value == 0:
        return ["0"]
    cell = math.floor(math.log(abs(value)) / math.log1p(rel))
    sign = "-" if value < 0 else "+"
    return [f"{sign}{cell + step}" for step in (-1, 0, 1)]


def _digest(exercise: str, key: str) -> str:
    return hashlib.sha256(f"vgcourse|{exercise}|{key}".encode()).hexdigest()[:32]


def fingerprint(exercise: str, answer, rel: float = 0.0) -> str:
    """The fingerprint a checker stores instead of the reference ``answer`` (a number or a word).

    ``rel`` is the relative tolerance the checker will allow (0: exact); :func:`matches`
    accepts an answer within ``rel`` of the reference, and none further than about ``2 rel``.
    """
    keys = _keys(answer, rel)
    if not keys:
        raise ValueError(f"answer={answer!r} is not allowed; expected a finite number or a word.")
    return _digest(exercise, keys[len(keys) // 2])


def matches(exercise: str, answer, stored: str, rel: float = 0.0):
    """The key under which ``answer`` matches the fingerprint ``stored``, or ``None``."""
    return next((k for k in _keys(answer, rel) if _digest(exercise, k) == stored), None)


def _stream(exercise: str, key: str, size: int) -> bytes:
    blocks = (hashlib.sha256(f"seal|{exercise}|{key}|{i}".encode()).digest()
              for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


def seal(exercise: str, answer, message: str, rel: float = 0.0) -> str:
    """``message`` encrypted with the reference ``answer`` as key (hex): :func:`unseal` with the
    key :func:`matches` returns gives it back; without the answer it is unreadable."""
    keys = _keys(answer, rel)
    data = message.encode()
    stream = _stream(exercise, keys[len(keys) // 2], len(data))
    return bytes(a ^ b for a, b in zip(data, stream)).hex()


def unseal(exercise: str, key: str, sealed: str) -> str:
    """The message :func:`seal` encrypted, given the key :func:`matches` returned."""
    data = bytes.fromhex(sealed)
    return bytes(a ^ b for a, b in zip(data, _stream(exercise, key, len(data)))).decode()


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
