"""Meta-learning: the gradient through an inner optimisation loop.

MAML (Finn et al. 2017) adapts parameters θ₀ to a task by K steps of gradient descent on the
task's training loss, θ_{k+1} = θ_k − α ∇L_in(θ_k), and learns θ₀ by differentiating the loss
after adaptation, L_out(θ_K), through all K steps. The chain rule gives

    ∂L_out/∂θ₀ = (I − α H_0)(I − α H_1) ··· (I − α H_{K−1}) ∇L_out(θ_K),

with H_k the inner loss's Hessian at θ_k: a product of K factors, one per inner step, like the
product of Jacobians of backpropagation through time. It vanishes when the factors contract
(α·λ small and positive for every curvature λ), and explodes when α·λ > 2 for some curvature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from ._validation import check_bool, check_int, check_positive, check_seed


def unrolled_metagradient(theta0: torch.Tensor, inner_loss, outer_loss, lr: float, steps: int,
                          first_order: bool = False) -> torch.Tensor:
    """The gradient of ``outer_loss(θ_K)`` with respect to θ₀, through K steps of inner GD.

    Parameters
    ----------
    theta0 : Tensor
        The starting parameters (any shape); not modified.
    inner_loss, outer_loss : callable
        Map a tensor shaped like ``theta0`` to a scalar.
    lr : float
        The inner learning rate α (> 0).
    steps : int
        The number of inner steps K (>= 0).
    first_order : bool, default False
        Drop the second derivatives (first-order MAML): every factor (I − α H_k) becomes I,
        so the result is just ∇L_out(θ_K).

    Returns
    -------
    Tensor
        ∂L_out(θ_K)/∂θ₀, shaped like ``theta0``.
    """
    check_positive("lr", lr)
    check_int("steps", steps, minimum=0)
    check_bool("first_order", first_order)
    start = theta0.detach().clone().requires_grad_(True)
    theta = start
    for _ in range(steps):
        (grad,) = torch.autograd.grad(inner_loss(theta), theta, create_graph=not first_order)
        theta = theta - lr * grad
        if first_order:
            theta = theta.detach().requires_grad_(True)
            start = theta
    (meta,) = torch.autograd.grad(outer_loss(theta), start)
    return meta


@dataclass(frozen=True)
class SineTask:
    """One regression task of Finn et al.'s sinusoid benchmark: y = amplitude·sin(x + phase).

    ``support`` (inputs, targets) is the inner loop's training set, ``query`` the outer loss's.
    """

    amplitude: float
    phase: float
    support: tuple[torch.Tensor, torch.Tensor]
    query: tuple[torch.Tensor, torch.Tensor]


def sine_tasks(count: int, shots: int = 10, seed: int = 0,
               dtype: torch.dtype = torch.float64) -> list[SineTask]:
    """``count`` sinusoid tasks: amplitude in [0.1, 5], phase in [0, π], x in [−5, 5].

    The ranges are those of Finn et al. (2017), section 5.1; each task gets ``shots`` support
    points and ``shots`` query points, drawn uniformly from a generator seeded by ``seed``.
    """
    check_int("count", count)
    check_int("shots", shots)
    check_seed("seed", seed)
    gen = torch.Generator().manual_seed(seed)
    tasks = []
    for _ in range(count):
        amplitude = 0.1 + 4.9 * float(torch.rand((), generator=gen, dtype=torch.float64))
        phase = math.pi * float(torch.rand((), generator=gen, dtype=torch.float64))
        sets = []
        for _ in range(2):
            xs = (10 * torch.rand(shots, 1, generator=gen, dtype=torch.float64) - 5).to(dtype)
            sets.append((xs, amplitude * torch.sin(xs + phase)))
        tasks.append(SineTask(amplitude, phase, sets[0], sets[1]))
    return tasks


def sine_network(hidden: int = 40, seed: int = 0, dtype: torch.dtype = torch.float64) -> nn.Module:
    """Finn et al.'s sinusoid regressor: 1 → hidden → hidden → 1 with ReLU.

    PyTorch's default initialisation, drawn from a generator seeded by ``seed`` (the global
    random state is restored afterwards).
    """
    check_int("hidden", hidden)
    check_seed("seed", seed)
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        net = nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                            nn.ReLU(), nn.Linear(hidden, 1)).to(dtype)
    finally:
        torch.random.set_rng_state(torch_state)
    return net


def maml_metagradient_norms(net: nn.Module, tasks: list[SineTask], lr: float, steps,
                            first_order: bool = False) -> list[float]:
    """‖∂L_out/∂θ₀‖ of MAML for ``net``, averaged over ``tasks``, after each number of inner
    steps in ``steps``: K inner GD steps on each task's support set (mean squared error), the
    outer loss on its query set. One unrolled inner loop per task serves every K.

    Parameters
    ----------
    net : nn.Module
        Its parameters are θ₀ (left untouched).
    tasks : list of SineTask
    lr : float
        Inner learning rate α.
    steps : sequence of int
        The inner step counts K (each >= 0) at which to report.
    first_order : bool, default False
        First-order MAML: no second derivatives, the meta-gradient is ∇L_out(θ_K).

    Returns
    -------
    list of float
        One norm per entry of ``steps``: the norm of the mean over tasks of each task's
        meta-gradient; inf or NaN once the inner loop has diverged.
    """
    check_positive("lr", lr)
    steps = list(steps)
    if not steps:
        raise ValueError("steps=[] is not allowed; expected at least one step count.")
    for k in steps:
        check_int("steps", k, minimum=0)
    check_bool("first_order", first_order)
    if not tasks:
        raise ValueError("tasks=[] is not allowed; expected at least one SineTask.")
    names = [n for n, _ in net.named_parameters()]
    start = [p.detach().clone().requires_grad_(True) for p in net.parameters()]
    totals = {k: [torch.zeros_like(p) for p in start] for k in steps}

    def loss(params, data):
        x, y = data
        out = functional_call(net, dict(zip(names, params)), (x,))
        return nn.functional.mse_loss(out, y)

    for task in tasks:
        params = start
        for k in range(max(steps) + 1):
            if k in totals:
                if first_order:
                    leaf = [p.detach().requires_grad_(True) for p in params]
                    grads = torch.autograd.grad(loss(leaf, task.query), leaf)
                else:
                    grads = torch.autograd.grad(loss(params, task.query), start,
                                                retain_graph=True)
                totals[k] = [t + g.detach() / len(tasks) for t, g in zip(totals[k], grads)]
            if k == max(steps):
                break
            grads = torch.autograd.grad(loss(params, task.support), params,
                                        create_graph=not first_order)
            params = [p - lr * g for p, g in zip(params, grads)]
            if first_order:
                params = [p.detach().requires_grad_(True) for p in params]
    return [float(torch.sqrt(sum((g.double() ** 2).sum() for g in totals[k]))) for k in steps]


def largest_curvature(net: nn.Module, data: tuple[torch.Tensor, torch.Tensor],
                      iterations: int = 50, seed: int = 0) -> float:
    """The largest eigenvalue of the Hessian of the mean squared error of ``net`` on ``data``
    at its current parameters, by power iteration on Hessian-vector products.

    Power iteration converges to the eigenvalue of largest size; for a loss near a random
    initialisation this is the largest positive curvature, the one that sets the inner
    learning rate's limit α < 2/λ_max.
    """
    check_int("iterations", iterations)
    check_seed("seed", seed)
    params = [p for p in net.parameters() if p.requires_grad]
    x, y = data
    grads = torch.autograd.grad(nn.functional.mse_loss(net(x), y), params, create_graph=True)
    gen = torch.Generator().manual_seed(seed)
    v = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]
    value = 0.0
    for _ in range(iterations):
        norm = torch.sqrt(sum((u**2).sum() for u in v))
        v = [u / norm for u in v]
        hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
        value = float(sum((a * b).sum() for a, b in zip(hv, v)))
        v = [h.detach() for h in hv]
    return value
