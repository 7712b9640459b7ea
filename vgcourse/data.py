"""Small deterministic datasets, generated on the spot: nothing is downloaded."""

from __future__ import annotations

import math

import torch

from ._validation import check_int, check_positive


def gaussian_batch(
    batch: int = 64,
    features: int = 64,
    out_features: int = 1,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Standard-normal inputs and targets: enough to probe gradient flow at initialisation.

    Returns
    -------
    x : Tensor of shape (batch, features)
    y : Tensor of shape (batch, out_features)
    """
    check_int("batch", batch)
    check_int("features", features)
    check_int("out_features", out_features)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, features, generator=g, dtype=dtype)
    y = torch.randn(batch, out_features, generator=g, dtype=dtype)
    return x, y


def gaussian_clusters(
    n: int = 4096,
    features: int = 64,
    classes: int = 10,
    spread: float = 1.0,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A classification task: ``classes`` Gaussian blobs with unit-normal centres.

    Returns float32 inputs of shape (n, features) and int64 labels of shape (n,).
    """
    check_int("n", n)
    check_int("features", features)
    check_int("classes", classes, minimum=2)
    check_positive("spread", spread)
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, features, generator=g)
    labels = torch.randint(classes, (n,), generator=g)
    noise = spread / math.sqrt(features) * torch.randn(n, features, generator=g)
    return centres[labels] + noise, labels


def spirals(
    n: int = 600, classes: int = 3, noise: float = 0.1, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Interleaved 2-D spirals, one arm per class: a task a linear model cannot solve.

    Returns float32 inputs of shape (n, 2) and int64 labels of shape (n,).
    """
    check_int("n", n)
    check_int("classes", classes, minimum=2)
    check_positive("noise", noise, allow_zero=True)
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % classes
    radius = torch.rand(n, generator=g)
    angle = 4.0 * radius + labels * (2 * math.pi / classes) + noise * torch.randn(n, generator=g)
    x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    return x, labels
