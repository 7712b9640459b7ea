"""Greedy layer-wise pretraining (Hinton et al. 2006; Bengio et al. 2007), autoencoder version.

Before good initialisations, rectifiers and normalisation, deep networks were trained in two
stages: first each hidden layer, one at a time and from the bottom up, learns to reconstruct its
own input (an autoencoder whose encoder is the layer); then the whole stack is fine-tuned with
backpropagation on the labelled task. :func:`pretrain_layerwise` is the first stage.

The same idea, one level at a time and without labels, was first aimed at depth in *time*:
Schmidhuber (1992)'s history compression. A lower level learns to predict the next symbol;
only the symbols it fails to predict, with their time stamps, are passed up, so the level above
reads a much shorter sequence that still holds all the information (the lower level can
rebuild the rest). :func:`fit_predictor` is a count-based lower level, :func:`compress` and
:func:`decompress` the passing up and the rebuilding, and :func:`gradient_at_lags` measures
the gradient a recurrent network carries back to a given step at either level.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ._validation import check_dtype, check_int, check_positive, check_seed
from .progress import progress
from .training import _Adam  # torch.optim.Adam's update, bit for bit, without its overhead


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
        opt = _Adam(list(layer.parameters()) + list(decoder.parameters()), lr=lr)
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



# -- history compression (Schmidhuber 1992) --------------------------------------------------------
def _check_symbols(name: str, symbols, vocab: int | None = None) -> torch.Tensor:
    """``symbols`` as a 2-D int64 tensor of values in [0, vocab), or a ValueError naming it."""
    ok = isinstance(symbols, torch.Tensor) and symbols.dim() == 2 and symbols.numel() > 0
    ok = ok and not symbols.dtype.is_floating_point and not symbols.dtype.is_complex
    ok = ok and symbols.dtype != torch.bool
    if ok:
        low, high = int(symbols.min()), int(symbols.max())
        ok = low >= 0 and (vocab is None or high < vocab)
    if not ok:
        allowed = f"in [0, {vocab})" if vocab is not None else ">= 0"
        raise ValueError(f"{name} with shape {tuple(getattr(symbols, 'shape', ()))} and dtype "
                         f"{getattr(symbols, 'dtype', type(symbols).__name__)} is not allowed; "
                         f"expected a non-empty integer tensor (n, T) of symbols {allowed}.")
    return symbols.long().cpu()


@dataclass
class NgramPredictor:
    """A count-based next-symbol predictor: the lower level of a history compressor.

    Built by :func:`fit_predictor`. At step t it predicts the symbol that most often followed
    the ``context`` symbols before t in the training sequences (a start symbol pads the first
    steps); a context never seen predicts nothing (−1), so that step always counts as a surprise.

    Attributes
    ----------
    context : int
        Number of earlier symbols the prediction depends on (0: always the most common symbol).
    vocab : int
        Number of symbols, 0..vocab − 1; the start symbol is ``vocab``.
    table : Tensor of int64, shape ((vocab + 1) ** context,)
        The predicted symbol for each context, −1 where the context was never seen.
    """

    context: int
    vocab: int
    table: torch.Tensor

    def _contexts(self, padded: torch.Tensor, length: int) -> torch.Tensor:
        """The context index of each of ``length`` steps of start-padded sequences."""
        index = torch.zeros(padded.shape[0], length, dtype=torch.int64)
        for j in range(1, self.context + 1):  # the symbol j steps back has weight (V+1)^(j−1)
            back = padded[:, self.context - j:self.context - j + length]
            index += back * (self.vocab + 1) ** (j - 1)
        return index

    def predict(self, symbols: torch.Tensor) -> torch.Tensor:
        """The prediction for every step of ``symbols`` (n, T) from the symbols before it.

        Returns a tensor of int64 of the same shape, −1 where the context was never seen.
        """
        symbols = _check_symbols("symbols", symbols, self.vocab)
        start = torch.full((symbols.shape[0], self.context), self.vocab, dtype=torch.int64)
        padded = torch.cat([start, symbols], dim=1)
        return self.table[self._contexts(padded, symbols.shape[1])]


def fit_predictor(symbols: torch.Tensor, vocab: int | None = None, context: int = 2
                  ) -> NgramPredictor:
    """Count which symbol follows each context of ``context`` symbols in ``symbols``.

    The honest stand-in for Schmidhuber's lower-level network: it learns, without labels, to
    predict the next symbol, and its failures are what is passed up. Ties go to the smaller
    symbol.

    Parameters
    ----------
    symbols : Tensor of int64, shape (n, T)
        Training sequences, symbols in [0, vocab).
    vocab : int, optional
        Number of symbols; default the largest symbol + 1.
    context : int, default 2
        Number of earlier symbols to condition on, 0 to 4.

    Returns
    -------
    NgramPredictor

    Examples
    --------
    >>> p = fit_predictor(torch.tensor([[0, 1, 0, 1, 0, 1]]), context=1)
    >>> p.predict(torch.tensor([[1, 0, 1]])).tolist()  # after 1 comes 0, after 0 comes 1
    [[0, 0, 1]]
    """
    if vocab is not None:
        check_int("vocab", vocab)
    check_int("context", context, minimum=0)
    if context > 4:
        raise ValueError(f"context={context!r} is not allowed; expected an integer from 0 to 4 "
                         "(the table has (vocab + 1) ** context rows).")
    symbols = _check_symbols("symbols", symbols, vocab)
    vocab = int(symbols.max()) + 1 if vocab is None else vocab
    if (vocab + 1) ** context * vocab > 10**7:
        raise ValueError(f"vocab={vocab} with context={context} is not allowed: the count table "
                         f"would have {(vocab + 1) ** context * vocab} cells; expected at most "
                         "10**7 (fewer symbols or a shorter context).")
    predictor = NgramPredictor(context, vocab, torch.empty(0, dtype=torch.int64))
    start = torch.full((symbols.shape[0], context), vocab, dtype=torch.int64)
    index = predictor._contexts(torch.cat([start, symbols], dim=1), symbols.shape[1])
    rows = (vocab + 1) ** context
    counts = torch.bincount((index * vocab + symbols).flatten(), minlength=rows * vocab)
    counts = counts.reshape(rows, vocab)
    table = counts.argmax(dim=1)  # the first of equal maxima: ties go to the smaller symbol
    table[counts.sum(dim=1) == 0] = -1
    predictor.table = table
    return predictor


@dataclass
class Compressed:
    """Sequences as a higher level of a history compressor sees them.

    Built by :func:`compress`: for each sequence, the symbols the lower level failed to predict
    and the steps (time stamps) at which they occurred.

    Attributes
    ----------
    symbols : list of Tensor (int64)
        The symbols passed up, one 1-D tensor per sequence.
    times : list of Tensor (int64)
        Their positions 0..length − 1 in the original sequence.
    length : int
        T, the length of the original sequences.
    vocab : int
        Number of symbols.
    """

    symbols: list[torch.Tensor]
    times: list[torch.Tensor]
    length: int
    vocab: int

    @property
    def sizes(self) -> list[int]:
        """The number of steps each sequence has at this level."""
        return [len(s) for s in self.symbols]

    @property
    def ratio(self) -> float:
        """Compression ratio: all the original steps over all the steps passed up."""
        return len(self.symbols) * self.length / sum(self.sizes)

    def inputs(self, steps: int | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The sequences as recurrent-network inputs of shape (n, steps, vocab + 1).

        Step j of a sequence is the one-hot code of its symbol and, in the last channel, its
        time stamp t / length. Shorter sequences are padded with zero vectors at the front, so
        every sequence ends at the last step, where the network is read out.

        Parameters
        ----------
        steps : int, optional
            Padded length, at least the longest sequence; default the longest sequence.
        dtype : torch.dtype, default torch.float32
        """
        check_dtype("dtype", dtype)
        longest = max(self.sizes)
        steps = longest if steps is None else steps
        check_int("steps", steps, minimum=longest)
        sizes = torch.tensor(self.sizes)
        row = torch.repeat_interleave(torch.arange(len(sizes)), sizes)
        within = torch.arange(len(row)) - torch.repeat_interleave(sizes.cumsum(0) - sizes, sizes)
        column = steps - sizes[row] + within
        x = torch.zeros(len(sizes), steps, self.vocab + 1, dtype=dtype)
        x[row, column, torch.cat(self.symbols)] = 1
        x[row, column, self.vocab] = (torch.cat(self.times) / self.length).to(dtype)
        return x

    def lags(self, symbols) -> list[int]:
        """For each sequence, the steps from the first of ``symbols`` to the end, at this level.

        A lag of L means the symbol's step is followed by L more steps: a recurrent network
        read out at the end carries its gradient back through L Jacobians.
        """
        try:
            wanted = torch.tensor(sorted({int(s) for s in symbols}), dtype=torch.int64)
        except (TypeError, ValueError):
            raise ValueError(f"symbols={symbols!r} is not allowed; expected a list of integer "
                             "symbols.") from None
        out = []
        for i, seq in enumerate(self.symbols):
            hits = torch.isin(seq, wanted).nonzero()
            if len(hits) == 0:
                raise ValueError(f"symbols={sorted(wanted.tolist())} do not occur in sequence "
                                 f"{i}; expected each sequence to hold one of them.")
            out.append(len(seq) - 1 - int(hits[0]))
        return out


def compress(symbols: torch.Tensor, predictor: NgramPredictor | None = None,
             vocab: int | None = None) -> Compressed:
    """Pass up only the symbols ``predictor`` fails to predict, with their time stamps.

    Without a predictor every symbol is passed up: the sequences as the lowest level sees them,
    in the same format, so both levels can be fed to the same network.

    Parameters
    ----------
    symbols : Tensor of int64, shape (n, T)
    predictor : NgramPredictor, optional
        The lower level, from :func:`fit_predictor`.
    vocab : int, optional
        Number of symbols; default the predictor's, or without one the largest symbol + 1.

    Returns
    -------
    Compressed

    Examples
    --------
    >>> p = fit_predictor(torch.tensor([[0, 1, 2, 0, 1, 2]]), context=1)
    >>> top = compress(torch.tensor([[0, 1, 2, 2, 0, 1]]), p)
    >>> top.symbols[0].tolist(), top.times[0].tolist()  # only the repeated 2 is a surprise
    ([2], [3])
    """
    if predictor is not None and not isinstance(predictor, NgramPredictor):
        raise ValueError(f"predictor={type(predictor).__name__} is not allowed; expected None or "
                         "an NgramPredictor from fit_predictor.")
    if vocab is not None:
        check_int("vocab", vocab)
        if predictor is not None and vocab != predictor.vocab:
            raise ValueError(f"vocab={vocab!r} is not allowed with a predictor of "
                             f"{predictor.vocab} symbols; expected None or {predictor.vocab}.")
    vocab = predictor.vocab if predictor is not None else vocab
    symbols = _check_symbols("symbols", symbols, vocab)
    if predictor is None:
        surprise = torch.ones_like(symbols, dtype=torch.bool)
        vocab = int(symbols.max()) + 1 if vocab is None else vocab
    else:
        surprise = predictor.predict(symbols) != symbols
    times = torch.arange(symbols.shape[1]).expand_as(symbols)
    counts = surprise.sum(dim=1).tolist()  # one selection for all rows, split row by row
    return Compressed(symbols=list(symbols[surprise].split(counts)),
                      times=list(times[surprise].split(counts)),
                      length=symbols.shape[1], vocab=vocab)


def decompress(compressed: Compressed, predictor: NgramPredictor) -> torch.Tensor:
    """Rebuild the original sequences from what was passed up, step by step.

    At each step the symbol passed up is used where there is one; elsewhere the predictor's
    prediction from the rebuilt symbols before it, which is what the compressor checked. So
    ``decompress(compress(x, p), p)`` equals ``x``: the higher level lost no information.

    Parameters
    ----------
    compressed : Compressed
        From :func:`compress` with the same ``predictor``.
    predictor : NgramPredictor

    Returns
    -------
    Tensor of int64, shape (n, T)
    """
    if not isinstance(compressed, Compressed):
        raise ValueError(f"compressed={type(compressed).__name__} is not allowed; expected a "
                         "Compressed from compress.")
    if not isinstance(predictor, NgramPredictor):
        raise ValueError(f"predictor={type(predictor).__name__} is not allowed; expected an "
                         "NgramPredictor from fit_predictor.")
    n, length, k = len(compressed.symbols), compressed.length, predictor.context
    given = torch.full((n, length), -1, dtype=torch.int64)
    for i, (s, t) in enumerate(zip(compressed.symbols, compressed.times)):
        given[i, t] = s
    out = torch.full((n, k + length), predictor.vocab, dtype=torch.int64)  # start symbols first
    for t in range(length):
        guess = predictor.table[predictor._contexts(out[:, t:t + k], 1)[:, 0]]
        step = torch.where(given[:, t] >= 0, given[:, t], guess)
        if (step < 0).any():
            raise ValueError(f"compressed lacks the symbol of step {t} where the predictor has no "
                             "prediction; expected it to come from compress with this predictor.")
        out[:, k + t] = step
    return out[:, k:]


def gradient_at_lags(model: nn.Module, x: torch.Tensor, lags, seed: int = 0) -> list[float]:
    """‖∂(v·h_T)/∂h_{T−lag}‖ of each sequence at its own lag, in float64.

    The per-sequence reading of :func:`vgcourse.gradient_through_time` (same unit vector v,
    drawn with ``seed``): how much of a change of the hidden state right after a given input
    reaches the last state, through ``lag`` Jacobians. For an RNN whose W_hh has all singular
    values ρ it is at most ρ^lag (:func:`vgcourse.theory.rnn_gradient_bound`).

    Parameters
    ----------
    model : SequenceModel
        From :func:`vgcourse.sequence_model`; copied, not changed.
    x : Tensor (n, T, input_size)
    lags : sequence of int
        One lag per sequence, 0..T (lag L is the state after input T − 1 − L).
    seed : int, default 0

    Returns
    -------
    list of float
    """
    from .recurrent import gradient_through_time

    check_seed("seed", seed)
    result = gradient_through_time(model, x, seed=seed)
    steps = x.shape[1]
    if (not isinstance(lags, (list, tuple)) or len(lags) != x.shape[0]
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= steps
                       for v in lags)):
        raise ValueError(f"lags={lags!r} is not allowed; expected {x.shape[0]} integers "
                         f"from 0 to {steps}, one per sequence.")
    return [float(result.gradient[lag, i].norm()) for i, lag in enumerate(lags)]
