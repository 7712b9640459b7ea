"""Character-level language models on real text, and a long-range dependency to test them on.

A closing bracket or quote can only be predicted by remembering its opener, which may lie many
characters back: :func:`bracket_pairs` finds every such pair in Python source, and
:func:`bracket_accuracy` scores a model's predictions of the closers by that distance.

The recurrent core of :class:`CharLM` is a :func:`vgcourse.sequence_model` (chapter 7), so the
trained weights can be replayed step by step with the hand-written cells and probed with
:func:`vgcourse.gradient_through_time`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ._validation import check_choice, check_int, check_positive
from .progress import progress
from .recurrent import CELLS, GradientThroughTime, gradient_through_time, sequence_model
from .training import _Adam

OPENERS = {"(": ")", "[": "]", "{": "}"}
QUOTES = ("'", '"')
CLOSERS = (")", "]", "}", "'", '"')
DISTANCE_BINS = (1, 5, 13, 33, 10**9)


class CharLM(nn.Module):
    """Embedding → one recurrent layer (RNN, LSTM or GRU) → linear read-out over the vocabulary.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    vocab_size : int
        Number of characters V.
    hidden : int, default 96
        Hidden units H.
    embed : int, default 32
        Size of the character embedding (the recurrent layer's input).
    seed : int, default 0
        Seeds the weight draw.

    Attributes
    ----------
    embed : nn.Embedding
    core : SequenceModel
        Built by :func:`vgcourse.sequence_model` (``output="all"``): ``core.recurrent`` is
        PyTorch's fused layer, ``core.readout`` the read-out, and ``core.states`` replays the
        same weights with the hand-written cells.
    """

    def __init__(self, cell: str, vocab_size: int, hidden: int = 96, embed: int = 32,
                 seed: int = 0):
        super().__init__()
        check_choice("cell", cell, CELLS)
        check_int("vocab_size", vocab_size, minimum=2)
        check_int("hidden", hidden)
        check_int("embed", embed)
        self.cell = cell
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.embed = nn.Embedding(vocab_size, embed)
        self.core = sequence_model(cell, input_size=embed, hidden_size=hidden,
                                   output_size=vocab_size, output="all", seed=seed)

    def forward(self, ids: torch.Tensor, state=None):
        """Logits (batch, T, V) for the next character at every position, and the final
        recurrent state (to carry on reading where ``ids`` ends)."""
        hidden, state = self.core.recurrent(self.embed(ids), state)
        return self.core.readout(hidden), state


@dataclass
class LMRun:
    """A trained character model and its learning curve (losses in nats per character).

    Attributes
    ----------
    model : CharLM
    steps : list of int
        The optimiser steps at which the losses were recorded.
    train_loss : list of float
        Mean training loss over the steps since the previous record.
    val_loss : list of float
        Validation loss at each recorded step (see :func:`evaluate`).
    """

    model: CharLM
    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)


def train_char_lm(cell: str, train_ids: torch.Tensor, val_ids: torch.Tensor, vocab_size: int,
                  steps: int = 250, seq_len: int = 96, batch: int = 32, lr: float = 3e-3,
                  clip: float = 1.0, hidden: int = 96, embed: int = 32, eval_every: int = 50,
                  seed: int = 0, show_progress: bool = True,
                  eval_context: int | None = None, model: nn.Module | None = None) -> LMRun:
    """Train a :class:`CharLM` with Adam, truncated backpropagation through time and clipping.

    Each step reads ``batch`` windows of ``seq_len + 1`` characters at random offsets of
    ``train_ids``, predicts every next character, and backpropagates through the whole window
    (so no gradient crosses more than ``seq_len`` steps). The global gradient norm is clipped
    to ``clip``.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    train_ids, val_ids : Tensor of int64
        Character ids (see :meth:`vgcourse.data.Corpus.encode`).
    vocab_size : int
    steps, seq_len, batch : int
        Optimiser steps, window length (the BPTT truncation) and windows per step.
    lr : float, default 3e-3
        Adam's learning rate.
    clip : float, default 1.0
        Maximum global gradient norm.
    hidden, embed : int
        Sizes of :class:`CharLM`.
    eval_every : int, default 50
        Record the losses every this many steps (and at the last step).
    seed : int, default 0
        Seeds the weights and the window draws.
    show_progress : bool, default True
    eval_context : int, optional
        Passed to :func:`evaluate` as ``context`` for the validation loss: ``None`` reads the
        validation text in one pass, an integer in zero-state windows like the training ones.
    model : nn.Module, optional
        Train this model instead of a new :class:`CharLM` (``cell``, ``hidden`` and ``embed``
        are then ignored): any module whose ``forward(ids)`` returns ``(logits, state)``,
        such as :class:`vgcourse.architectures.CausalTransformer`.

    Returns
    -------
    LMRun
    """
    if model is None:
        check_choice("cell", cell, CELLS)
    check_int("steps", steps)
    check_int("seq_len", seq_len, minimum=2)
    check_int("batch", batch)
    check_int("eval_every", eval_every)
    check_positive("lr", lr)
    check_positive("clip", clip)
    if len(train_ids) <= seq_len + 1:
        raise ValueError(f"seq_len={seq_len!r} is not allowed for a training text of "
                         f"{len(train_ids)} characters; expected at most {len(train_ids) - 2}.")
    label = cell if model is None else type(model).__name__
    if model is None:
        model = CharLM(cell, vocab_size, hidden=hidden, embed=embed, seed=seed)
    elif not isinstance(model, nn.Module):
        raise ValueError(f"model={type(model).__name__} is not allowed; expected None or an "
                         "nn.Module whose forward(ids) returns (logits, state).")
    opt = _Adam(model.parameters(), lr=lr)  # torch.optim.Adam's update, bit for bit
    generator = torch.Generator().manual_seed(seed)
    offsets = torch.arange(seq_len + 1)
    run, running = LMRun(model), []
    for step in progress(range(1, steps + 1), desc=f"training {label}", disable=not show_progress):
        starts = torch.randint(len(train_ids) - seq_len - 1, (batch, 1), generator=generator)
        window = train_ids[starts + offsets]
        logits, _ = model(window[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, vocab_size),
                                           window[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        running.append(loss.item())
        if step % eval_every == 0 or step == steps:
            run.steps.append(step)
            run.train_loss.append(sum(running) / len(running))
            run.val_loss.append(evaluate(model, val_ids, context=eval_context))
            running = []
    return run


@torch.no_grad()
def predictions(model: CharLM, ids: torch.Tensor, chunk: int = 512,
                context: int | None = None) -> torch.Tensor:
    """Log-probabilities of the next character at every position of ``ids``.

    Parameters
    ----------
    model : CharLM
    ids : Tensor of int64, shape (n,)
    chunk : int, default 512
        With ``context=None``: characters read per call (the state is carried across chunks,
        so the context is the whole text so far). With ``context``: windows per batch.
    context : int, optional
        Read the text in windows that start from a zero state, as training does: the positions
        are cut into blocks of ``context``, and each block is predicted after a warm-up on the
        ``context`` characters before it (the first ``2 * context`` positions are read from the
        start of the text). So every prediction sees between ``context + 1`` and
        ``2 * context`` characters (fewer only at the start of the text), and the state never
        runs more than ``2 * context`` steps from zero. With ``context=seq_len`` of training,
        the opener of every pair that training can connect is in view.

    Returns
    -------
    Tensor (len(ids), V)
        Row p is the model's distribution for the character at p + 1.
    """
    check_int("chunk", chunk)
    if context is not None:
        check_int("context", context)
    was_training = model.training
    model.eval()
    try:
        if context is None:
            out, state = [], None
            for start in range(0, len(ids), chunk):
                logits, state = model(ids[start: start + chunk].unsqueeze(0), state)
                out.append(torch.log_softmax(logits[0], dim=-1))
            return torch.cat(out)
        n, k = len(ids), context
        first = min(n, 2 * k)
        logits, _ = model(ids[:first].unsqueeze(0))
        out = torch.empty(n, logits.shape[-1], dtype=logits.dtype)
        out[:first] = torch.log_softmax(logits[0], dim=-1)
        starts = list(range(2 * k, n, k))
        full = [s for s in starts if s + k <= n]
        offsets = torch.arange(-k, k)
        for b in range(0, len(full), chunk):
            block = torch.tensor(full[b: b + chunk])
            logits, _ = model(ids[block[:, None] + offsets])
            rows = (block[:, None] + torch.arange(k)).reshape(-1)
            out[rows] = torch.log_softmax(logits[:, k:], dim=-1).reshape(-1, logits.shape[-1])
        if len(full) < len(starts):  # a last, shorter block
            s = starts[-1]
            logits, _ = model(ids[s - k:].unsqueeze(0))
            out[s:] = torch.log_softmax(logits[0, k:], dim=-1)
        return out
    finally:
        model.train(was_training)


def evaluate(model: CharLM, ids: torch.Tensor, context: int | None = None) -> float:
    """Cross-entropy of the next character in nats per character.

    ``context=None`` reads ``ids`` in one pass; an integer reads it in zero-state windows
    (see :func:`predictions`).
    """
    logp = predictions(model, ids[:-1], context=context)
    return float(nn.functional.nll_loss(logp, ids[1:]))


def bracket_pairs(text: str) -> list[tuple[int, int, str]]:
    """Every closing bracket or quote of Python source ``text`` whose opener is on record.

    A small scanner: comments (``#`` to the end of the line) and triple-quoted strings are
    skipped; a ``'`` or ``"`` opens a one-line string that ends at the same unescaped quote
    (a string still open at the end of the line is dropped) and hides the brackets inside it;
    ``()``, ``[]`` and ``{}`` are matched with a stack, which is emptied at a closer that does
    not match (unbalanced text starts afresh rather than mismatching).

    Returns
    -------
    list of (position of the closer, distance back to its opener, closer), by position.

    Examples
    --------
    >>> bracket_pairs("f(a[1], 'x')")
    [(5, 2, ']'), (10, 2, "'"), (11, 10, ')')]
    """
    pairs, stack = [], []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch in QUOTES:
            if text.startswith(ch * 3, i):
                end = text.find(ch * 3, i + 3)
                i = n if end < 0 else end + 3
                continue
            j = i + 1
            while j < n and text[j] not in (ch, "\n"):
                j += 2 if text[j] == "\\" else 1
            if j < n and text[j] == ch:
                pairs.append((j, j - i, ch))
            i = j + 1
            continue
        if ch in OPENERS:
            stack.append((ch, i))
        elif ch in CLOSERS[:3]:
            if stack and OPENERS[stack[-1][0]] == ch:
                pairs.append((i, i - stack.pop()[1], ch))
            else:
                stack.clear()
        i += 1
    return sorted(pairs)


def bracket_depth(text: str) -> torch.Tensor:
    """How many brackets ``(``, ``[``, ``{`` are open after each character of ``text``.

    The brackets are the pairs that :func:`bracket_pairs` matches, so the same rules hold:
    brackets inside strings and comments do not count, quotes are not brackets, and an opener
    that is never closed (unbalanced text, or the end of ``text``) does not count either.
    ``depth[i]`` is the number of pairs whose opener is at or before ``i`` and whose closer is
    after it: an opener raises the depth at its own position, a closer lowers it at its own.

    Parameters
    ----------
    text : str
        Python source.

    Returns
    -------
    Tensor of int64, shape (len(text),)

    Examples
    --------
    >>> bracket_depth("f(a[1]) # (").tolist()
    [0, 1, 1, 2, 2, 1, 0, 0, 0, 0, 0]
    """
    if not isinstance(text, str):
        raise ValueError(f"text={type(text).__name__} is not allowed; expected a str.")
    change = [0] * (len(text) + 1)
    for position, distance, closer in bracket_pairs(text):
        if closer in OPENERS.values():
            change[position - distance] += 1
            change[position] -= 1
    return torch.tensor(change[:-1], dtype=torch.long).cumsum(0)


@dataclass
class BracketScore:
    """How well a model predicts closers whose opener is ``low`` to ``high`` characters back.

    Attributes
    ----------
    label : str
        The distance bin, e.g. ``"5–12"``.
    low, high : int
        The bin is low ≤ distance < high.
    count : int
        Closers in the bin.
    accuracy : float
        Fraction where the model's most likely next character is the closer (it must know
        both *that* the bracket closes here and *which* closer it is).
    closer_accuracy : float
        Fraction where, among the five closers ) ] } ' ", the model ranks the right one first:
        *which* opener is pending, whatever the timing.
    baseline : float
        The closer accuracy of always naming the bin's most common closer.
    """

    label: str
    low: int
    high: int
    count: int
    accuracy: float
    closer_accuracy: float
    baseline: float


def bracket_accuracy(model, text: str, vocab: list[str], bins=DISTANCE_BINS,
                     logp: torch.Tensor | None = None) -> list[BracketScore]:
    """Score a model's predictions of the closers of :func:`bracket_pairs`, by distance bin.

    Parameters
    ----------
    model : CharLM
        Read along ``text`` in one pass (ignored if ``logp`` is given).
    text : str
        Python source; characters outside ``vocab`` count as ``"?"``.
    vocab : list of str
        The model's characters; must contain the five closers and ``"?"``.
    bins : sequence of int, default (1, 5, 13, 33, 10**9)
        Increasing bin edges; bin i is bins[i] ≤ distance < bins[i + 1].
    logp : Tensor (len(text), V), optional
        Precomputed :func:`predictions` of ``model`` on ``text``.

    Returns
    -------
    list of BracketScore, one per bin (NaN accuracies for an empty bin).
    """
    bins = [int(b) for b in bins]
    if len(bins) < 2 or any(b <= a for a, b in zip(bins, bins[1:])) or bins[0] < 1:
        raise ValueError(f"bins={bins!r} is not allowed; expected at least two increasing "
                         "integers, the first >= 1.")
    index = {c: i for i, c in enumerate(vocab)}
    missing = [c for c in CLOSERS + ("?",) if c not in index]
    if missing:
        raise ValueError(f"vocab lacks {missing}; expected the closers and '?' in it.")
    if logp is None:
        ids = torch.tensor([index.get(c, index["?"]) for c in text], dtype=torch.long)
        logp = predictions(model, ids)
    if logp.shape[0] != len(text):
        raise ValueError(f"logp has {logp.shape[0]} rows; expected one per character of text "
                         f"({len(text)}).")
    guesses = logp.argmax(dim=-1).tolist()  # guesses[p] predicts the character at p + 1
    closer_ids = [index[c] for c in CLOSERS]
    closer_guess = logp[:, closer_ids].argmax(dim=-1).tolist()
    pairs = [(p, d, c) for p, d, c in bracket_pairs(text) if p > 0]
    rows = []
    for lo, hi in zip(bins[:-1], bins[1:]):
        chosen = [(p, c) for p, d, c in pairs if lo <= d < hi]
        label = f"{lo}–{hi - 1}" if hi < 10**9 else f"{lo}+"
        if not chosen:
            rows.append(BracketScore(label, lo, hi, 0, math.nan, math.nan, math.nan))
            continue
        hits = sum(guesses[p - 1] == index[c] for p, c in chosen)
        which = sum(CLOSERS[closer_guess[p - 1]] == c for p, c in chosen)
        common = max(sum(c == k for _, c in chosen) for k in CLOSERS)
        n = len(chosen)
        rows.append(BracketScore(label, lo, hi, n, hits / n, which / n, common / n))
    return rows


def local_closer_baseline(train_text: str, text: str, k: int = 4,
                          bins=DISTANCE_BINS) -> list[float]:
    """Closer accuracy, by distance bin, of a predictor with no memory beyond ``k`` characters.

    It is told that a closer comes next and names the one that most often followed the same
    last ``k`` characters at the closers of :func:`bracket_pairs` in ``train_text``: a newline
    and an indentation before ``)``, a letter before ``'`` and so on. A context never seen in
    training backs off to its last ``k - 1``, then ``k - 2``, … characters, and with no match
    at all to the most common closer of the bin (the baseline of :func:`bracket_accuracy`).
    Ties go to the closer listed first in ``CLOSERS``. A model that carries *which* opener is
    pending beyond the last few characters must beat this score.

    Parameters
    ----------
    train_text : str
        Where the counts come from.
    text : str
        Scored on the same closers as :func:`bracket_accuracy` (every pair with position > 0).
    k : int, default 4
        The longest context used, in characters.
    bins : sequence of int, default (1, 5, 13, 33, 10**9)
        Bin edges as in :func:`bracket_accuracy`.

    Returns
    -------
    list of float
        The fraction of the bin's closers named right (NaN for an empty bin).

    Examples
    --------
    >>> local_closer_baseline("f(x) g[y]", "h(x) a[y] b[x]", k=1, bins=(1, 100))  # b[x] fools it
    [0.6666666666666666]
    """
    check_int("k", k)
    bins = [int(b) for b in bins]
    if len(bins) < 2 or any(b <= a for a, b in zip(bins, bins[1:])) or bins[0] < 1:
        raise ValueError(f"bins={bins!r} is not allowed; expected at least two increasing "
                         "integers, the first >= 1.")
    counts: dict[str, dict[str, int]] = {}
    for p, _, c in bracket_pairs(train_text):
        for j in range(1, min(k, p) + 1):
            seen = counts.setdefault(train_text[p - j: p], {})
            seen[c] = seen.get(c, 0) + 1

    def guess(p):
        for j in range(min(k, p), 0, -1):
            seen = counts.get(text[p - j: p])
            if seen:
                return max(CLOSERS, key=lambda c: (seen.get(c, 0), -CLOSERS.index(c)))
        return None

    pairs = [(p, d, c) for p, d, c in bracket_pairs(text) if p > 0]
    out = []
    for lo, hi in zip(bins[:-1], bins[1:]):
        chosen = [(p, c) for p, d, c in pairs if lo <= d < hi]
        if not chosen:
            out.append(math.nan)
            continue
        common = max(CLOSERS, key=lambda k_: (sum(c == k_ for _, c in chosen),
                                              -CLOSERS.index(k_)))
        hits = sum((guess(p) or common) == c for p, c in chosen)
        out.append(hits / len(chosen))
    return out


def text_gradient_through_time(model: CharLM, ids: torch.Tensor, state: str = "h",
                               seed: int = 0) -> GradientThroughTime:
    """:func:`vgcourse.gradient_through_time` of a trained :class:`CharLM` reading ``ids``.

    The characters are embedded with the model's own embedding and the recurrent weights are
    replayed step by step (float64) with chapter 7's hand-written cells.

    Parameters
    ----------
    model : CharLM
    ids : Tensor of int64, shape (batch, T)
        Windows of text.
    state : {"h", "c"}, default "h"
        ``"c"`` only for the LSTM.
    seed : int, default 0
        Seeds the random direction v of ‖∂(v·s_T)/∂s_t‖.

    Returns
    -------
    GradientThroughTime
    """
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2:
        raise ValueError(f"ids with shape {getattr(ids, 'shape', None)} is not allowed; "
                         "expected a tensor of shape (batch, T).")
    with torch.no_grad():
        x = model.embed(ids)
    return gradient_through_time(model.core, x, state=state, seed=seed)


def sample(model: CharLM, vocab: list[str], prompt: str, length: int = 120,
           temperature: float = 0.8, seed: int = 0) -> str:
    """Continue ``prompt`` by ``length`` characters drawn from the model (seeded).

    Parameters
    ----------
    model : CharLM
    vocab : list of str
    prompt : str
        At least one character, all in ``vocab``.
    length : int, default 120
    temperature : float, default 0.8
        Divides the logits; below 1 sharpens the distribution.
    seed : int, default 0

    Returns
    -------
    str
        The prompt followed by the sampled characters.
    """
    check_int("length", length, minimum=0)
    check_positive("temperature", temperature)
    if not prompt:
        raise ValueError("prompt='' is not allowed; expected at least one character.")
    char_id = {c: i for i, c in enumerate(vocab)}
    unknown = sorted({c for c in prompt if c not in char_id})
    if unknown:
        raise ValueError(f"prompt has characters {unknown} outside the vocabulary.")
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits, state = model(torch.tensor([[char_id[c] for c in prompt]]))
        out = []
        for _ in range(length):
            probs = torch.softmax(logits[0, -1] / temperature, dim=-1)
            nxt = int(torch.multinomial(probs, 1, generator=generator))
            out.append(vocab[nxt])
            logits, state = model(torch.tensor([[nxt]]), state)
    model.train(was_training)
    return prompt + "".join(out)


# -- reading one LSTM unit (chapter 13) -----------------------------------------------------------
def _check_lstm_model(model) -> None:
    """Raise ``ValueError`` unless ``model`` is a :class:`CharLM` with an LSTM core."""
    if not isinstance(model, CharLM) or model.cell != "lstm":
        what = getattr(model, "cell", type(model).__name__)
        raise ValueError(f"model={what!r} is not allowed; expected a CharLM with cell='lstm'.")


def _clamp_arrays(clamp, hidden: int):
    """The units and values of a ``clamp`` mapping, checked; ``(None, None)`` when empty."""
    if clamp is None:
        return None, None
    if not isinstance(clamp, dict):
        raise ValueError(f"clamp={clamp!r} is not allowed; expected None or a dict "
                         "{unit: value}.")
    for unit, value in clamp.items():
        ok_unit = isinstance(unit, int) and not isinstance(unit, bool) and 0 <= unit < hidden
        ok_value = (isinstance(value, (int, float)) and not isinstance(value, bool)
                    and math.isfinite(value))
        if not (ok_unit and ok_value):
            raise ValueError(f"clamp={clamp!r} is not allowed; expected units that are "
                             f"integers in [0, {hidden - 1}] and finite values.")
    if not clamp:
        return None, None
    return list(clamp), list(clamp.values())


@torch.no_grad()
def lstm_states(model: CharLM, ids: torch.Tensor, state: tuple | None = None,
                clamp: dict | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Read ``ids`` with an LSTM :class:`CharLM` step by step, recording every h_t and c_t.

    The steps are chapter 7's hand-written cell (``model.core.step``) with the model's own
    weights, so without ``clamp`` the logits are those of ``model(ids)`` up to round-off.
    With ``clamp``, each listed unit's cell state is set to its value after every step, before
    it reaches the unit's output ``h = o ⊙ tanh(c)`` and the next step: the unit then carries
    nothing from one character to the next, and its output varies only through its output gate.

    Parameters
    ----------
    model : CharLM
        With ``cell="lstm"``.
    ids : Tensor of int64, shape (batch, T)
        Windows of text, T ≥ 1.
    state : tuple (h, c) of Tensor (batch, H), optional
        The state to start from (zeros by default), e.g. the last column of a previous call.
    clamp : dict {unit: value}, optional
        Cell-state units (integers in [0, H)) and the values they are held at.

    Returns
    -------
    logits : Tensor (batch, T, V)
        The prediction of the next character at every position.
    h, c : Tensor (batch, T, H)
        The hidden and cell states after each character.
    """
    _check_lstm_model(model)
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.shape[1] < 1:
        raise ValueError(f"ids with shape {getattr(ids, 'shape', None)} is not allowed; "
                         "expected a tensor of shape (batch, T) with T >= 1.")
    core = model.core
    units, values = _clamp_arrays(clamp, core.hidden_size)
    x = model.embed(ids)
    state = core.initial_state(ids.shape[0]) if state is None else tuple(state)
    if units is not None:
        values = torch.tensor(values, dtype=state[1].dtype)
    hs, cs = [], []
    for t in range(ids.shape[1]):
        gates = {}
        h, c = core.step(x[:, t], state, gates=gates)
        if units is not None:
            c = c.clone()
            c[:, units] = values
            h = gates["o"] * torch.tanh(c)
        state = (h, c)
        hs.append(h)
        cs.append(c)
    h, c = torch.stack(hs, dim=1), torch.stack(cs, dim=1)
    return core.readout(h), h, c


class ClampedLSTM(nn.Module):
    """An LSTM :class:`CharLM` read with some cell-state units held at fixed values.

    ``forward(ids, state)`` returns ``(logits, state)`` like :class:`CharLM`, so the clamped
    model goes wherever a model does: :func:`predictions`, :func:`evaluate`,
    :func:`bracket_accuracy`. Clamping a unit to its mean over some text (a *mean ablation*)
    removes what the unit carries while keeping its average contribution; see
    :func:`lstm_states` for what exactly is held.

    Parameters
    ----------
    model : CharLM
        With ``cell="lstm"``; its weights are shared, not copied.
    clamp : dict {unit: value}
        Cell-state units and their values; ``{}`` reads the model unchanged (through the same
        step-by-step code, a like-for-like reference).
    """

    def __init__(self, model: CharLM, clamp: dict):
        super().__init__()
        _check_lstm_model(model)
        if clamp is None:
            raise ValueError("clamp=None is not allowed; expected a dict {unit: value} "
                             "({} for no clamp).")
        _clamp_arrays(clamp, model.core.hidden_size)
        self.model = model
        self.clamp = dict(clamp)

    def forward(self, ids: torch.Tensor, state=None):
        """Logits (batch, T, V) and the final state ``(h, c)``, each (batch, H)."""
        logits, h, c = lstm_states(self.model, ids, state, self.clamp)
        return logits, (h[:, -1], c[:, -1])


def unit_correlations(states: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Pearson's r between every unit's state and ``target``, over all positions.

    Parameters
    ----------
    states : Tensor (..., H)
        A state per position and unit, e.g. the ``c`` of :func:`lstm_states`.
    target : Tensor (...)
        One number per position, same leading shape, e.g. :func:`bracket_depth`.

    Returns
    -------
    Tensor (H,) of float64
        r for each unit; 0 for a unit whose state never changes (there is no linear relation
        to measure).

    Examples
    --------
    >>> states = torch.tensor([[1.0, 2.0, 5.0], [2.0, 0.0, 5.0], [3.0, 1.0, 5.0]])
    >>> unit_correlations(states, torch.tensor([0, 1, 2])).tolist()
    [1.0, -0.5, 0.0]
    """
    if not isinstance(states, torch.Tensor) or states.dim() < 2:
        raise ValueError(f"states with shape {getattr(states, 'shape', None)} is not allowed; "
                         "expected a tensor of shape (..., H).")
    if not isinstance(target, torch.Tensor) or target.shape != states.shape[:-1]:
        raise ValueError(f"target with shape {getattr(target, 'shape', None)} is not allowed; "
                         f"expected the shape {tuple(states.shape[:-1])} of states without "
                         "its last axis.")
    s = states.reshape(-1, states.shape[-1]).double()
    y = target.reshape(-1).double()
    s, y = s - s.mean(0), y - y.mean()
    if not float(y.abs().max()) > 0:
        raise ValueError("target is constant; expected a target that varies, so that r is "
                         "defined.")
    spread = (s * s).sum(0)
    r = (s * y[:, None]).sum(0) / torch.sqrt(spread * (y * y).sum()).clamp_min(
        torch.finfo(s.dtype).tiny)
    return torch.where(spread > 0, r, torch.zeros_like(r))
