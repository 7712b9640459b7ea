"""Greedy layer-wise pretraining (Hinton et al. 2006; Bengio et al. 2007), autoencoder version.

Before good initialisations, rectifiers and normalisation, deep networks were trained in two
stages: first each hidden layer, one at a time and from the bottom up, learns to reconstruct its
own input (an autoencoder whose encoder is the layer); then the whole stack is fine-tuned with
backpropagation on the labelled task. :func:`pretrain_layerwise` is the first stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ._validation import check_int, check_positive
from .progress import progress


@dataclass
class Pretraining:
    """What :func:`pretrain_layerwise` did, one entry per hidden layer (input first).

    Attributes
    ----------
    error : list of float
        Mean squared reconstruction error of each layer's autoencoder after its training.
    baseline : list of float
        The error of the best constant reconstruction (each input feature's mean): the mean
        variance of the layer's input. An autoencoder that learnt nothing scores this.
    steps : int
        Optimiser steps per layer.
    """

    error: list[float]
    baseline: list[float]
    steps: int


def pretrain_layerwise(
    model: nn.Module,
    x: torch.Tensor,
    steps: int = 200,
    lr: float = 1e-2,
    seed: int = 0,
    show_progress: bool = True,
) -> Pretraining:
    """Pretrain the hidden layers of a plain MLP greedily, bottom up, as autoencoders.

    For layer l, with h_{l−1} the (fixed) output of the layers below on ``x``, the encoder is the
    layer itself, h_l = φ(W_l h_{l−1} + b_l), and a fresh linear decoder maps h_l back to
    h_{l−1}. Both are trained with Adam, on the whole of ``x`` at every step, to minimise the
    mean squared reconstruction error. The decoder is then thrown away and the next layer is
    trained on h_l. No label is used (Bengio et al. 2007's autoencoder variant of Hinton et al.
    2006's stack of restricted Boltzmann machines).

    Parameters
    ----------
    model : MLP
        A plain MLP from :func:`vgcourse.mlp` (no normalisation, not residual); its hidden
        layers are changed in place, its read-out is left alone.
    x : Tensor of shape (n, in_features)
        Unlabelled inputs.
    steps : int, default 200
        Adam steps per layer.
    lr : float, default 1e-2
        Adam's learning rate.
    seed : int, default 0
        Seeds the decoders' initial weights.
    show_progress : bool, default True

    Returns
    -------
    Pretraining
        Reconstruction error and its trivial baseline, per layer.

    Examples
    --------
    >>> import vgcourse
    >>> net = vgcourse.mlp(3, 16, activation="sigmoid", in_features=8, out_features=2)
    >>> result = pretrain_layerwise(net, torch.rand(64, 8), steps=50, show_progress=False)
    >>> len(result.error)
    3
    """
    from .models import HiddenLayer

    layers = list(getattr(model, "hidden", []))
    if not layers or not all(isinstance(layer, HiddenLayer) for layer in layers):
        raise ValueError(f"model={type(model).__name__} is not allowed; expected a plain MLP "
                         "from vgcourse.mlp (no norm, residual=False).")
    check_int("steps", steps)
    check_positive("lr", lr)
    dtype = layers[0].linear.weight.dtype
    h = x.detach().to(dtype)
    generator = torch.Generator().manual_seed(seed)
    errors, baselines = [], []
    bar = progress(total=steps * len(layers), desc="pretraining", disable=not show_progress)
    for layer in layers:
        n_in, n_out = layer.linear.in_features, layer.linear.out_features
        decoder = nn.Linear(n_out, n_in).to(dtype)
        with torch.no_grad():
            bound = 1.0 / n_out ** 0.5
            decoder.weight.copy_((torch.rand(n_in, n_out, generator=generator) * 2 - 1) * bound)
            decoder.bias.copy_(h.mean(dim=0))
        opt = torch.optim.Adam(list(layer.parameters()) + list(decoder.parameters()), lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            loss = nn.functional.mse_loss(decoder(layer(h)), h)
            loss.backward()
            opt.step()
            bar.update(1)
        with torch.no_grad():
            errors.append(float(nn.functional.mse_loss(decoder(layer(h)), h)))
            baselines.append(float(h.var(dim=0, unbiased=False).mean()))
            h = layer(h)
    bar.close()
    return Pretraining(error=errors, baseline=baselines, steps=steps)
