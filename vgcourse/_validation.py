"""Argument checks that raise scikit-learn-style errors: name, value, what is allowed."""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral, Real


def check_choice(name: str, value, allowed: Iterable) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if not any(_same(value, a) for a in allowed):
        options = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name}={value!r} is not supported; expected one of {options}.")


def _same(value, option) -> bool:
    """``value == option`` for a choice, False where the comparison is not a plain bool (an
    array compared elementwise) or mixes bools with numbers (``True == 1``)."""
    if isinstance(value, bool) != isinstance(option, bool):
        return False
    try:
        return bool(value == option) if type(value) is not type(value == option) else False
    except Exception:  # noqa: BLE001 - e.g. "truth value of an array is ambiguous"
        return False


def check_int(name: str, value, minimum: int = 1) -> None:
    """Raise ``ValueError`` unless ``value`` is an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name}={value!r} is not allowed; expected an integer >= {minimum}.")


def check_positive(name: str, value, allow_zero: bool = False, maximum: float | None = None
                   ) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite real number > 0 (or >= 0), and at most
    ``maximum`` when one is given."""
    ok = isinstance(value, Real) and not isinstance(value, bool) and value == value
    ok = ok and value != float("inf") and (value >= 0 if allow_zero else value > 0)
    ok = ok and (maximum is None or value <= maximum)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        if maximum is not None:
            bound += f" and <= {maximum:g}"
        raise ValueError(f"{name}={value!r} is not allowed; expected a finite number {bound}.")


def check_bool(name: str, value) -> None:
    """Raise ``ValueError`` unless ``value`` is ``True`` or ``False`` (not ``"yes"``, not 1)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name}={value!r} is not allowed; expected True or False.")


#: Seeds go to torch.Generator.manual_seed and, in setup(), to NumPy, which takes < 2**32.
SEED_MAX = 2**32 - 1


def check_seed(name: str, value) -> None:
    """Raise ``ValueError`` unless ``value`` is an integer seed in [0, 2**32 − 1]."""
    if isinstance(value, bool) or not isinstance(value, Integral) or not 0 <= value <= SEED_MAX:
        raise ValueError(f"{name}={value!r} is not allowed; expected an integer seed between 0 "
                         f"and {SEED_MAX}.")


def check_dtype(name: str, value) -> None:
    """Raise ``ValueError`` unless ``value`` is a floating-point ``torch.dtype``."""
    import torch

    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise ValueError(f"{name}={value!r} is not allowed; expected a floating-point "
                         "torch.dtype such as torch.float32 or torch.float64 (not a string).")


def check_device(name: str, value) -> None:
    """Raise ``ValueError`` unless ``value`` is None, a ``torch.device`` or a device string
    that names an available device."""
    import torch

    if value is None or isinstance(value, torch.device):
        return
    reason = "not a string"
    if isinstance(value, str):
        try:
            torch.empty(0, device=value)  # parses the string and checks the device is there
            return
        except (RuntimeError, ValueError, AssertionError) as error:  # CUDA-less torch asserts
            reason = str(error).split("\n")[0]
    raise ValueError(f"{name}={value!r} is not allowed; expected None, a torch.device or a "
                     f"device string of an available device such as 'cpu' ({reason}).")


def check_groups(groups, channels: int, mode_name: str, mode: str) -> None:
    """``groups`` for a normalisation over channel groups: required, and a divisor of
    ``channels``, when ``mode == "group"``; not allowed with any other mode."""
    if mode == "group":
        if groups is None:
            raise ValueError(f"groups=None is not allowed with {mode_name}='group'; expected a "
                             f"divisor of the {channels} channels.")
        check_int("groups", groups)
        if channels % groups:
            raise ValueError(f"groups={groups!r} is not allowed; expected a divisor of the "
                             f"{channels} channels.")
    elif groups is not None:
        raise ValueError(f"groups={groups!r} is only used with {mode_name}='group', not "
                         f"{mode_name}={mode!r}.")
