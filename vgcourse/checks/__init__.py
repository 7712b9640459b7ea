"""Self-check definitions, one module per chapter; importing this registers them all."""

from . import ch01_mathematics  # noqa: F401
from . import ch08_diagnosing  # noqa: F401
