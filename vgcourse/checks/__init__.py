"""Self-check definitions, one module per chapter; importing this registers them all."""

from . import ch01_mathematics  # noqa: F401
