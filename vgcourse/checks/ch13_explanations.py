"""Self-checks for chapter 13, explanations through gradients."""

from __future__ import annotations

import torch
from torch import nn

from ._registry import Wrong, as_float64, register


def _cases():
    """(model, x, baseline, steps): a saturated sigmoid unit and a small tanh network."""
    g = torch.Generator().manual_seed(13)
    unit = nn.Sequential(nn.Linear(5, 1, bias=False), nn.Sigmoid()).double()
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 1)).double()
    with torch.no_grad():
        unit[0].weight.copy_(3 * torch.randn(1, 5, generator=g, dtype=torch.float64))
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
    x_unit = torch.rand(3, 5, generator=g, dtype=torch.float64)
    x_net = torch.randn(2, 4, generator=g, dtype=torch.float64)
    return [(unit, x_unit, torch.zeros_like(x_unit), 4),
            (net, x_net, 0.5 * torch.ones_like(x_net), 3),
            (net, x_net, torch.zeros_like(x_net), 1)]


def _grad(model, points):
    leaf = points.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(leaf).sum(), leaf)
    return grad


def _ig(model, x, baseline, steps, where=lambda k, m: (k + 0.5) / m):
    grads = [_grad(model, baseline + where(k, steps) * (x - baseline)) for k in range(steps)]
    return sum(grads) / steps


@register("13-integrated-gradients")
def _integrated_gradients(answer) -> str:
    """A function (model, x, baseline, steps) -> integrated gradients by the midpoint rule."""
    for model, x, baseline, steps in _cases():
        got = answer(model, x.clone(), baseline.clone(), steps)
        if not isinstance(got, torch.Tensor):
            raise Wrong(f"return a tensor shaped like x, got {type(got).__name__}.")
        if got.shape != x.shape:
            raise Wrong(f"return one attribution per feature and example, shaped like x "
                        f"{tuple(x.shape)}; got {tuple(got.shape)}.")
        got, rtol = as_float64(got)
        mean_grad = _ig(model, x, baseline, steps)
        want = (x - baseline) * mean_grad

        def same(a, b, rtol=rtol):
            return torch.allclose(a, b, rtol=rtol, atol=1e-9)

        if same(got, want):
            continue
        if same(got, mean_grad):
            raise Wrong(f"at steps={steps}: that is the averaged gradient; multiply by "
                        "x − baseline (the chain rule along the path).")
        if same(got, steps * want):
            raise Wrong(f"at steps={steps}: you summed the gradients; the integral over "
                        "[0, 1] is their average.")
        if same(got, x * _grad(model, x)):
            raise Wrong(f"at steps={steps}: that is gradient × input at x alone; evaluate the "
                        "gradient at points along the path from the baseline.")
        if same(got, x * mean_grad) and not same(x, x - baseline):
            raise Wrong(f"at steps={steps}: multiply by x − baseline, not by x.")
        for rule, where in (("left", lambda k, m: k / m), ("right", lambda k, m: (k + 1) / m)):
            if same(got, (x - baseline) * _ig(model, x, baseline, steps, where)):
                raise Wrong(f"at steps={steps}: that is the {rule}-hand Riemann sum; use the "
                            "midpoints α = (k + ½)/m.")
        raise Wrong(f"wrong at steps={steps}: average the gradient over the midpoints of the "
                    "path, then multiply by x − baseline.")
    return ("right on a saturated sigmoid unit and a tanh network: the attributions sum to "
            "f(x) − f(baseline) up to the midpoint rule's error.")
