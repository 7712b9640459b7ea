"""Chapter 10's claims about training on text, at small sizes so the file stays fast.

The chapter's own runs (three cells on three seeds) take most of its time budget; the claims
tested here do not depend on the size: the truncation horizon of the training windows, and
Pascanu et al.'s bound on the gradient through time of a trained tanh RNN.
"""

import pytest
import torch

from vgcourse import data, theory
from vgcourse.language import CharLM, text_gradient_through_time, train_char_lm


@pytest.fixture(scope="module")
def corpus():
    return data.source_text(max_chars=20_000)


def test_the_training_window_connects_pairs_up_to_seq_len_apart():
    """Exercise 10-bptt-horizon: the loss at the window's last target reaches its first input,
    seq_len characters earlier, and the check accepts exactly that number."""
    seq_len = 64
    model = CharLM("rnn", 10, hidden=8, embed=4).double()
    window = torch.randint(10, (1, seq_len + 1), generator=torch.Generator().manual_seed(0))
    x = model.embed(window[:, :-1]).detach().requires_grad_()
    hidden, _ = model.core.recurrent(x)
    logits = model.core.readout(hidden)
    loss_last = torch.nn.functional.cross_entropy(logits[0, -1:], window[0, -1:])
    (grad,) = torch.autograd.grad(loss_last, x, retain_graph=True)
    # the target at window position seq_len depends on the input at position 0 ...
    assert grad[0, 0].abs().sum() > 0
    # ... and the first target does not depend on any later input (causality)
    loss_first = torch.nn.functional.cross_entropy(logits[0, :1], window[0, 1:2])
    (grad,) = torch.autograd.grad(loss_first, x)
    assert grad[0, 1:].abs().sum() == 0 and grad[0, 0].abs().sum() > 0


def test_trained_rnn_obeys_the_pascanu_bound(corpus):
    """‖vᵀ ∂h_T/∂h_t‖ ≤ σ_max(W_hh)^(T−t) for a tanh RNN (γ = 1), for trained weights too.

    The bound holds exactly for every input; the tolerance 1e-9 (relative) only absorbs float64
    rounding in the product of up to 40 Jacobians.
    """
    train, val = corpus.encode(corpus.train_text), corpus.encode(corpus.val_text)
    run = train_char_lm("rnn", train, val[:500], len(corpus.vocab), steps=20, seq_len=20,
                        batch=8, lr=1e-2, hidden=24, embed=8, eval_every=20,
                        show_progress=False)
    flow = text_gradient_through_time(run.model, val[:160].reshape(4, 40))
    sigma = torch.linalg.matrix_norm(run.model.core.weight_hh.double(), ord=2).item()
    for lag, norm in zip(flow.lag, flow.norm):
        assert norm <= theory.rnn_gradient_bound(sigma, lag) * (1 + 1e-9), (lag, norm, sigma)
    # the measurement is not trivially zero: the gradient reaches back at least one step
    assert flow.norm[1] > 0


def test_gated_models_replay_their_fused_layer_exactly(corpus):
    """The gradient through time is measured on the hand-written cells; they must reproduce the
    fused layer the model was trained with, or the curves would describe another network."""
    ids = corpus.encode(corpus.val_text[:90]).reshape(3, 30)
    for cell in ("rnn", "lstm", "gru"):
        model = CharLM(cell, len(corpus.vocab), hidden=12, embed=6, seed=2).double()
        x = model.embed(ids)
        fused, _ = model.core.recurrent(x)
        replayed = torch.stack([s[0] for s in model.core.states(x)[1:]], dim=1)
        assert torch.allclose(fused, replayed, rtol=0, atol=1e-12), cell  # float64, |h| < 1
