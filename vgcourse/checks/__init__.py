"""Self-check definitions, one module per chapter; importing this registers them all.

The shared pieces (:func:`register`, :class:`Wrong`, :func:`as_number`, :func:`close`) live in
``checks/_registry.py``, which every chapter's module imports; running a check is
:func:`vgcourse.check` (``vgcourse/checking.py``).
"""

from . import (
    ch01_mathematics,  # noqa: F401
    ch02_activations,  # noqa: F401
    ch03_initialization,  # noqa: F401
    ch04_exploding,  # noqa: F401
    ch05_batch_norm,  # noqa: F401
    ch06_residual,  # noqa: F401
    ch07_recurrent,  # noqa: F401
    ch08_diagnosing,  # noqa: F401
    ch09_case_studies,  # noqa: F401
    ch10_text,  # noqa: F401
    ch11_after_the_classic_fixes,  # noqa: F401
    ch12_memory_precision_transfer,  # noqa: F401
    ch13_explanations,  # noqa: F401
)
from ._registry import CHECKERS, Wrong, as_float64, as_number, close, register

__all__ = ["CHECKERS", "Wrong", "as_float64", "as_number", "close", "register"]
