"""Explanations through gradients: attributions of a prediction to the input features.

Every function here takes a model and a batch ``x`` of shape ``(batch, features)`` and returns
one attribution per feature and example, a tensor shaped like ``x``. The explained quantity
f(x) is the model's output column ``target`` (or its only output). Examples are assumed
independent (the model is put in evaluation mode, so batch norm uses its running statistics),
which lets one backward pass of the summed outputs give every example's own gradient.

- :func:`saliency`: the gradient ∂f/∂x (Simonyan et al. 2014 plot its absolute value);
- :func:`smoothgrad`: the gradient averaged over noisy copies of the input (Smilkov et al. 2017);
- :func:`gradient_x_input`: x ⊙ ∂f/∂x, exact for a linear model, blind where f saturates;
- :func:`integrated_gradients`: (x − x') ⊙ the gradient averaged along the straight path from a
  baseline x' to x (Sundararajan et al. 2017), which sums to f(x) − f(x') (completeness).
"""

from __future__ import annotations

from numbers import Integral

import torch
from torch import nn

from ._validation import check_int, check_positive, check_seed

__all__ = ["saliency", "smoothgrad", "gradient_x_input", "integrated_gradients",
           "riemann_error_bound", "path_autocorrelation"]


def _check_model(model) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model={type(model).__name__} is not allowed; expected a "
                        "torch.nn.Module.")


def _check_x(name: str, x) -> None:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() != 2:
        what = (f"a tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
                if isinstance(x, torch.Tensor) else type(x).__name__)
        raise ValueError(f"{name}={what} is not allowed; expected a floating-point tensor of "
                         "shape (batch, features).")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} has non-finite entries; expected finite inputs.")


def _check_target(target) -> None:
    if target is None:
        return
    if isinstance(target, torch.Tensor):
        if target.dtype in (torch.int64, torch.int32) and target.dim() == 1:
            return
    elif isinstance(target, Integral) and not isinstance(target, bool) and target >= 0:
        return
    raise ValueError(f"target={target!r} is not allowed; expected None, an output index >= 0 "
                     "or a 1-D integer tensor of one index per example.")


def _explained(model: nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    """f(x): one number per example, the output column ``target``."""
    out = model(x)
    if out.dim() == 1:
        out = out.unsqueeze(1)
    if target is None:
        if out.shape[1] != 1:
            raise ValueError(f"target=None is not allowed for a model with {out.shape[1]} "
                             "outputs; pass the index of the output to explain.")
        return out[:, 0]
    if isinstance(target, torch.Tensor):
        if len(target) != len(x):
            raise ValueError(f"target has {len(target)} indices; expected one per example "
                             f"({len(x)}).")
        if len(target) and not 0 <= int(target.min()) <= int(target.max()) < out.shape[1]:
            raise ValueError(f"target has indices outside 0..{out.shape[1] - 1}.")
        return out.gather(1, target.to(out.device).long().unsqueeze(1))[:, 0]
    if target >= out.shape[1]:
        raise ValueError(f"target={target!r} is not allowed; the model has {out.shape[1]} "
                         f"outputs (0..{out.shape[1] - 1}).")
    return out[:, target]


def _gradient(model: nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    dtype = next(model.parameters()).dtype if any(True for _ in model.parameters()) \
        else x.dtype
    leaf = x.detach().to(dtype).requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(_explained(model, leaf, target).sum(), leaf)
    return grad


def saliency(model: nn.Module, x: torch.Tensor, target=None) -> torch.Tensor:
    """The input gradient ∂f(x_i)/∂x_i of each example, shaped like ``x``.

    Simonyan et al. (2014) display its absolute value as a *saliency map*; it is returned
    here with its sign. For a linear model f(x) = w·x + b it is w at every input.

    Parameters
    ----------
    model : nn.Module
        Put in evaluation mode (left there).
    x : Tensor of shape (batch, features)
    target : int or 1-D integer tensor, optional
        The output to explain: one index for all examples, or one per example (e.g. the
        labels). Required when the model has more than one output.

    Examples
    --------
    >>> lin = torch.nn.Linear(3, 1)
    >>> bool(torch.equal(saliency(lin, torch.zeros(2, 3))[0], lin.weight[0].detach()))
    True
    """
    _check_model(model)
    _check_x("x", x)
    _check_target(target)
    model.eval()
    return _gradient(model, x, target)


def smoothgrad(model: nn.Module, x: torch.Tensor, target=None, samples: int = 50,
               noise: float = 0.15, seed: int = 0) -> torch.Tensor:
    """SmoothGrad (Smilkov et al. 2017): the gradient averaged over ``samples`` noisy inputs.

    Each example's attribution is (1/n) Σ_k ∂f/∂x at x + ε_k, ε_k ~ N(0, σ²I) with
    σ = ``noise`` × (max − min of that example's features), the noise level of the paper. The
    same n standard-normal draws are used for every example of the batch, so the result is a
    deterministic, smooth function of x: the gradient of the smoothed model E f(x + ε),
    estimated with a fixed sample.

    Parameters
    ----------
    model, x, target
        As for :func:`saliency`.
    samples : int, default 50
        Noisy copies per example.
    noise : float, default 0.15
        σ as a fraction of the input's range; 0 gives :func:`saliency`.
    seed : int, default 0
        Seeds the noise.
    """
    _check_model(model)
    _check_x("x", x)
    _check_target(target)
    check_int("samples", samples)
    check_positive("noise", noise, allow_zero=True)
    check_seed("seed", seed)
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    eps = torch.randn(samples, 1, x.shape[1], generator=generator, dtype=torch.float64)
    sigma = noise * (x.amax(dim=1, keepdim=True) - x.amin(dim=1, keepdim=True))
    noisy = x.unsqueeze(0) + sigma.unsqueeze(0) * eps.to(x.dtype)
    per_sample = target
    if isinstance(target, torch.Tensor):
        per_sample = target.repeat(samples)
    grads = _gradient(model, noisy.reshape(-1, x.shape[1]), per_sample)
    return grads.reshape(samples, *x.shape).mean(dim=0)


def gradient_x_input(model: nn.Module, x: torch.Tensor, target=None) -> torch.Tensor:
    """Gradient × input, x ⊙ ∂f/∂x, shaped like ``x``.

    For a linear model without bias the attributions sum to f(x) − f(0) exactly; where f
    saturates the gradient, and with it every attribution, tends to zero although f(x)
    differs from f(0) by a finite amount. Arguments as for :func:`saliency`.
    """
    _check_model(model)
    _check_x("x", x)
    _check_target(target)
    model.eval()
    return x * _gradient(model, x, target).to(x.dtype)


def integrated_gradients(model: nn.Module, x: torch.Tensor, target=None,
                         baseline: torch.Tensor | None = None, steps: int = 64
                         ) -> torch.Tensor:
    """Integrated gradients (Sundararajan et al. 2017), shaped like ``x``.

    IG_i(x) = (x_i − x'_i) ∫₀¹ ∂f/∂x_i (x' + α(x − x')) dα, with the integral taken by the
    midpoint rule at α_k = (k − ½)/m, k = 1..m. The attributions sum to f(x) − f(x')
    (completeness), up to the midpoint rule's error, at most
    max abs(g'')/(24 m²) for g(α) = f(x' + α(x − x')) (see :func:`riemann_error_bound`).

    Parameters
    ----------
    model, x, target
        As for :func:`saliency`.
    baseline : Tensor, optional
        x', shaped like ``x`` or like one example (broadcast); default all zeros (a black
        image for pixel inputs).
    steps : int, default 64
        Points m of the midpoint rule.
    """
    _check_model(model)
    _check_x("x", x)
    _check_target(target)
    check_int("steps", steps)
    if baseline is None:
        baseline = torch.zeros_like(x)
    if not isinstance(baseline, torch.Tensor) or not baseline.is_floating_point() \
            or baseline.shape[-1] != x.shape[1] or baseline.dim() > 2 \
            or (baseline.dim() == 2 and baseline.shape[0] not in (1, len(x))):
        what = (f"a tensor of shape {tuple(baseline.shape)}" if isinstance(baseline, torch.Tensor)
                else type(baseline).__name__)
        raise ValueError(f"baseline={what} is not allowed; expected a floating-point tensor "
                         f"shaped like x {tuple(x.shape)} or like one example.")
    model.eval()
    baseline = baseline.to(x.dtype).expand_as(x)
    alphas = (torch.arange(steps, dtype=x.dtype) + 0.5) / steps
    path = baseline.unsqueeze(0) + alphas.view(-1, 1, 1) * (x - baseline).unsqueeze(0)
    per_point = target
    if isinstance(target, torch.Tensor):
        per_point = target.repeat(steps)
    grads = _gradient(model, path.reshape(-1, x.shape[1]), per_point)
    return (x - baseline) * grads.reshape(steps, *x.shape).mean(dim=0).to(x.dtype)


def riemann_error_bound(second_derivative_bound: float, steps: int) -> float:
    """The midpoint rule's worst-case error on [0, 1]: M/(24 m²) for abs(g'') ≤ M and m points.

    This bounds how far the sum of :func:`integrated_gradients` may lie from f(x) − f(x'),
    with M a bound on the second derivative of f along the path. For a sigmoid unit
    f = σ(w·x + c), g''(α) = (w·(x − x'))² σ''(·) and abs(σ'') ≤ 1/(6√3), so
    M = (w·(x − x'))²/(6√3).

    Examples
    --------
    >>> riemann_error_bound(24.0, 10)
    0.01
    """
    check_positive("second_derivative_bound", second_derivative_bound, allow_zero=True)
    check_int("steps", steps)
    return second_derivative_bound / (24 * steps**2)


def path_autocorrelation(maps: torch.Tensor, lag: int = 1) -> float:
    """Lag-``lag`` autocorrelation of attribution maps taken at successive inputs on a path.

    ``maps`` has shape ``(points, features)``: row t is the attribution at the t-th input of
    a path (e.g. a straight line through input space). Each feature is centred over the path,
    and the lagged products are pooled over all features:
    Σ_j Σ_t v_tj v_(t+lag)j / Σ_j Σ_t v_tj². For one feature this is
    :func:`vgcourse.residual.autocorrelation`, chapter 6's measure of shattered gradients;
    pooling weights each feature by its variance, so a feature whose attribution is constant
    along the path (a linear region never left) counts for nothing instead of dividing by
    zero. About 1 for attributions that change smoothly, about 0 for white noise.
    """
    check_int("lag", lag)
    if not isinstance(maps, torch.Tensor) or maps.dim() != 2:
        what = (f"a tensor of shape {tuple(maps.shape)}" if isinstance(maps, torch.Tensor)
                else type(maps).__name__)
        raise ValueError(f"maps={what} is not allowed; expected a tensor of shape "
                         "(points, features).")
    if maps.shape[0] <= lag:
        raise ValueError(f"maps has {maps.shape[0]} points; lag={lag} needs more than {lag}.")
    v = maps.double() - maps.double().mean(dim=0)
    total = (v * v).sum()
    if total == 0:
        raise ValueError("maps is constant along the path; its autocorrelation is undefined.")
    return float((v[lag:] * v[:-lag]).sum() / total)
