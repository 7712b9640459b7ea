"""Self-check definitions, one module per chapter; importing this registers them all."""

from . import ch01_mathematics  # noqa: F401
from . import ch02_activations  # noqa: F401
from . import ch03_initialization  # noqa: F401
from . import ch04_exploding  # noqa: F401
from . import ch05_batch_norm  # noqa: F401
from . import ch06_residual  # noqa: F401
from . import ch07_recurrent  # noqa: F401
from . import ch08_diagnosing  # noqa: F401
from . import ch09_case_studies  # noqa: F401
from . import ch10_text  # noqa: F401
