"""Self-check definitions, one module per chapter; importing this registers them all."""

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
)
