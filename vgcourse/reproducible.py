"""One call that makes a notebook's numbers repeat from run to run."""

from __future__ import annotations

import random

import numpy as np
import torch

from ._validation import check_int, check_seed


def setup(seed: int = 0, threads: int = 1) -> None:
    """Seed Python, NumPy and PyTorch, and set the number of torch threads.

    One thread is the default because the course's models are small: on two busy cores, two
    threads were measured to be many times slower than one for 64-wide layers (see
    ``benchmarks/``). Both arguments are checked before anything is set, so a bad one leaves
    every generator as it was.

    In a notebook it also makes every displayed figure carry alt text that says what it shows
    (:func:`vgcourse.plots.install_figure_alt_text`).
    """
    check_seed("seed", seed)
    check_int("threads", threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    from .plots import install_figure_alt_text

    install_figure_alt_text()
