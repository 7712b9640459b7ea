"""Self-checks for chapter 1, the mathematics of backpropagation."""

from __future__ import annotations

import math

import torch

from ._registry import Wrong, as_float64, as_number, close, matches, register, unseal

# The reference answer as a fingerprint, and the explanation sealed with it (_registry.py).
_TANH_CHAIN = "05e88f41f99d0c881c62219c723cdeb9"
_TANH_CHAIN_WHY = (
    "1d5208499a15cdc7a13426a5717b04b1566bee0a0bd9b66bcd1b6acc0dab4322c5e10d6d5b039867218f0272ed1d"
    "e9df91ec864d5b8a1737df7eaf63e124b933da95f53353543d274c0a49b0f64c91fe85a4239bef33e64648b9a1a0"
    "3b03531d25d23826"
)


@register("01-tanh-chain")
def _tanh_chain(answer) -> str:
    """Largest |∂h_20/∂h_0| of the chain h ← tanh(w h + b) with |w| ≤ 1 (within 0.1 %)."""
    value = as_number(answer)
    key = matches("01-tanh-chain", value, _TANH_CHAIN, rel=1e-3)
    if key:
        return f"{value:.3g}: {unseal('01-tanh-chain', key, _TANH_CHAIN_WHY)}"
    if close(value, 0.25**20, rel=1e-3):
        raise Wrong("that is the sigmoid chain's bound; work out the largest slope of tanh "
                    "instead, and where it is reached.")
    if close(value, 0.25, rel=1e-3) or close(value, 0.5**20, rel=1e-3):
        raise Wrong("find the largest value of tanh'(u), and the pre-activation where it is "
                    "reached.")
    if close(value, 20.0, rel=1e-3):
        raise Wrong("the chain rule multiplies the layers' factors; it does not add them.")
    if value > 1:
        raise Wrong("no factor w·tanh'(u) can exceed 1 in size when |w| ≤ 1, so neither can "
                    "their product.")
    if value <= 0:
        raise Wrong("the bound is a size, positive; and it can be attained.")
    raise Wrong("not the largest value: it is attained, so find the best weights, biases and "
                "input, and multiply the 20 factors.")


@register("01-sigmoid-derivative")
def _sigmoid_derivative(answer) -> str:
    """A function computing σ'(x) elementwise on a tensor."""
    x = torch.linspace(-6, 6, 101, dtype=torch.float64)
    out = answer(x)
    if not isinstance(out, torch.Tensor):
        raise Wrong(f"return a tensor, not {type(out).__name__}.")
    if out.shape != x.shape:
        raise Wrong(f"the result has shape {tuple(out.shape)}; "
                    f"it should match x, {tuple(x.shape)}.")
    if not out.is_floating_point():
        raise Wrong(f"the result has dtype {out.dtype}; σ'(x) takes fractional values.")
    out, rtol = as_float64(out)  # a float32 answer is compared at float32's precision
    s = torch.sigmoid(x)
    if torch.allclose(out, s * (1 - s), rtol=rtol, atol=1e-12):
        return "σ'(x) = σ(x)(1 − σ(x)); its largest value, at x = 0, is 1/4."
    if torch.allclose(out, s, rtol=rtol):
        raise Wrong("that is σ(x) itself; differentiate it.")
    if torch.allclose(out, x * (1 - x), rtol=rtol):
        raise Wrong("the formula σ(1 − σ) uses σ(x), not x.")
    if torch.allclose(out, s * (1 + s), rtol=rtol) or torch.allclose(out, -s * (1 - s), rtol=rtol):
        raise Wrong("check the sign: d/dx 1/(1 + e^{-x}) = e^{-x}/(1 + e^{-x})² ≥ 0.")
    if torch.allclose(out, torch.exp(-x) / (1 + torch.exp(-x)), rtol=rtol):
        raise Wrong("the denominator is squared: e^{-x}/(1 + e^{-x})².")
    raise Wrong("not σ'(x) at every point; compare your values at x = 0 (should be 0.25).")


@register("01-jacobian-singular-values")
def _jacobian_singular_values(answer) -> str:
    """A function taking [W_1, ..., W_L] and returning the singular values of W_L ··· W_1."""
    g = torch.Generator().manual_seed(1)
    weights = [torch.randn(5, 5, generator=g, dtype=torch.float64) / math.sqrt(5)
               for _ in range(4)]
    out = answer(weights)
    if not isinstance(out, torch.Tensor):
        raise Wrong(f"return a tensor of singular values, not {type(out).__name__}.")
    jacobian = torch.linalg.multi_dot(weights[::-1])
    target = torch.linalg.svdvals(jacobian)
    if out.shape != target.shape:
        raise Wrong(f"expected {target.numel()} singular values, got shape {tuple(out.shape)}.")
    values = torch.sort(out.flatten(), descending=True).values
    if torch.allclose(values, target, rtol=1e-6):
        return "the Jacobian of a linear chain is W_L ··· W_1; its singular values are the gains."
    if torch.allclose(values, torch.linalg.svdvals(torch.linalg.multi_dot(weights)), rtol=1e-6):
        raise Wrong("the order is reversed: the first layer's matrix acts first, on the right.")
    eig = torch.sort(torch.linalg.eigvals(jacobian).abs(), descending=True).values
    if torch.allclose(values, eig, rtol=1e-6):
        raise Wrong("those are |eigenvalues|; singular values are the square roots of the "
                    "eigenvalues of JᵀJ.")
    product = math.prod(torch.linalg.svdvals(w)[0].item() for w in weights)
    if math.isclose(float(values[0]), product, rel_tol=1e-6):
        raise Wrong("the product of the layers' largest singular values only bounds the "
                    "largest singular value of the product; multiply the matrices first.")
    raise Wrong("not the singular values of W_L ··· W_1; check the product and the SVD.")
