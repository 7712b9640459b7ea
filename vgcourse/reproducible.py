"""One call that makes a notebook's numbers repeat from run to run."""

from __future__ import annotations

import random

import numpy as np
import torch

from ._validation import check_device, check_int, check_seed

_DEVICE = torch.device("cpu")  # chosen by setup(); read with default_device()


def setup(seed: int = 0, threads: int = 1, device="cpu") -> None:
    """Seed Python, NumPy and PyTorch, set the number of torch threads, and choose the device.

    One thread is the default because the course's models are small: on two busy cores, two
    threads were measured to be many times slower than one for 64-wide layers (see
    ``benchmarks/``). Every argument is checked before anything is set, so a bad one leaves
    every generator as it was.

    The device is chosen here, once per notebook, and :func:`default_device` returns it.
    ``"cpu"`` (the default) holds on a GPU runtime too: the course's models are small enough
    that a GPU does not speed them up, and the CPU reproduces the book's printed numbers.
    ``"auto"`` takes a CUDA GPU when one is present, else the CPU; any other value is a device
    string or ``torch.device`` of an available device. Code that wants the chosen device asks
    for it (``vgcourse.mlp(..., device=vgcourse.default_device())``); every data and model
    function of the package takes ``device``. On a CUDA device, cuDNN is made deterministic and
    TF32 is turned off, so float32 arithmetic stays float32. Nothing here changes torch's
    default dtype: float64 measurements stay float64 on every device.

    In a notebook it also makes every displayed figure carry alt text that says what it shows
    (:func:`vgcourse.plots.install_figure_alt_text`).
    """
    check_seed("seed", seed)
    check_int("threads", threads)
    if isinstance(device, str) and device == "auto":
        chosen = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        if device is None:
            raise ValueError("device=None is not allowed; expected 'cpu', 'auto' or the device "
                             "string of an available device such as 'cuda'.")
        check_device("device", device)
        chosen = torch.device(device)
    global _DEVICE
    _DEVICE = chosen
    if chosen.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    from .plots import install_figure_alt_text

    install_figure_alt_text()


def default_device() -> torch.device:
    """The device :func:`setup` chose (the CPU until it is called, and by default).

    Returns
    -------
    torch.device
        Pass it as ``device=`` to the package's data and model functions to place them there.

    Examples
    --------
    >>> setup(seed=0)
    >>> default_device()
    device(type='cpu')
    """
    return _DEVICE
