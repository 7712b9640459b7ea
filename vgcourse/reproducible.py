"""One call that makes a notebook's numbers repeat from run to run."""

from __future__ import annotations

import random

import numpy as np
import torch


def setup(seed: int = 0, threads: int = 1) -> None:
    """Seed Python, NumPy and PyTorch, and set the number of torch threads.

    One thread is the default because the course's models are small: on two busy cores, two
    threads were measured to be many times slower than one for 64-wide layers (see
    ``benchmarks/``).
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
