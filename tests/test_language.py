"""The text corpus, the long-range dependency metric and the character models of chapter 10."""

import math

import pytest
import torch

from vgcourse import data
from vgcourse.language import (
    CLOSERS,
    CharLM,
    ClampedLSTM,
    bracket_accuracy,
    bracket_depth,
    bracket_pairs,
    evaluate,
    local_closer_baseline,
    lstm_states,
    predictions,
    sample,
    text_gradient_through_time,
    train_char_lm,
    unit_correlations,
)

OPENER_OF = {")": "(", "]": "[", "}": "{", "'": "'", '"': '"'}


def test_bracket_pairs_on_a_hand_made_string():
    text = "f(a[1], 'x')\ng = {'k': (1, 2)}"
    pairs = bracket_pairs(text)
    # counted by hand: ] 2 back, ' 2 back, ) 10 back; then ' 2, ) 5 and } 12 on line two
    assert [(text[p], d) for p, d, _ in pairs] == [
        ("]", 2), ("'", 2), (")", 10), ("'", 2), (")", 5), ("}", 12)]
    assert [p for p, _, _ in pairs] == sorted(p for p, _, _ in pairs)
    # the opener of every pair is the matching character, exactly d positions back
    assert all(text[p - d] == OPENER_OF[c] for p, d, c in pairs)


def test_strings_comments_and_docstrings_hide_brackets():
    assert bracket_pairs("x = '(\n)") == []  # an unterminated quote does not cross lines
    assert bracket_pairs('s = "a)b"') == [(8, 4, '"')]
    assert bracket_pairs('s = "a\\"b"') == [(9, 5, '"')]  # an escaped quote does not close
    assert bracket_pairs("f(x)  # g(y\n") == [(3, 2, ")")]
    doc = 'def f(a):\n    """Return (a."""\n    return [a]'
    assert [(doc[p], d) for p, d, _ in bracket_pairs(doc)] == [(")", 2), ("]", 2)]
    multi = "x = (\n    1,\n    2)"
    assert bracket_pairs(multi) == [(len(multi) - 1, len(multi) - 5, ")")]


def test_unbalanced_closers_reset_the_stack():
    assert bracket_pairs("(]x)") == []


def test_corpus_is_deterministic_and_bounded():
    first = data.source_text(max_chars=50_000)
    second = data.source_text(max_chars=50_000)
    assert first == second
    assert len(first.train_text) + len(first.val_text) == 50_000
    assert len(first.val_text) == pytest.approx(5_000, abs=1, rel=0)
    assert len(first.vocab) <= 97 and "?" in first.vocab and "\t" not in first.vocab
    assert first.files == sorted(first.files) and not any(f.startswith("_") for f in first.files)
    assert first.python_version.count(".") == 2
    ids = first.encode(first.val_text)
    assert "".join(first.vocab[i] for i in ids.tolist()) == first.val_text
    # a longer corpus extends the shorter one: the file order does not depend on the size
    longer = data.source_text(max_chars=80_000)
    assert (longer.train_text + longer.val_text).startswith(first.train_text + first.val_text)


def _oracle(vocab):
    class Oracle(CharLM):
        """Predicts the true next character with certainty (within each chunk)."""

        def forward(self, x, state=None):
            nxt = torch.cat([x[0, 1:], x[0, :1]])
            return 50.0 * torch.nn.functional.one_hot(nxt, len(vocab)).float()[None], None

    return Oracle("rnn", len(vocab), hidden=2, embed=2)


def test_bracket_accuracy_scores_a_perfect_oracle_and_a_constant_guess():
    text = "f(a[1], 'x')\n" * 20
    vocab = sorted(set(text) | set(CLOSERS) | {"?"})
    rows = bracket_accuracy(_oracle(vocab), text, vocab, bins=(1, 5, 100))
    # 260 characters fit in one chunk of predictions(), so the oracle is right at every closer
    assert [(r.count, r.accuracy, r.closer_accuracy) for r in rows] == [(40, 1.0, 1.0),
                                                                          (20, 1.0, 1.0)]
    assert rows[0].baseline == 0.5 and rows[1].baseline == 1.0  # ] and ' tie; ) alone
    # a model that always says ")" with certainty: right at every ")" and nowhere else
    logp = torch.full((len(text), len(vocab)), -30.0)
    logp[:, vocab.index(")")] = 0.0
    rows = bracket_accuracy(None, text, vocab, bins=(1, 5, 100), logp=logp)
    assert [(r.accuracy, r.closer_accuracy) for r in rows] == [(0.0, 0.0), (1.0, 1.0)]
    empty = bracket_accuracy(None, text, vocab, bins=(200, 300), logp=logp)[0]
    assert empty.count == 0 and math.isnan(empty.accuracy)


def test_training_lowers_the_loss_and_the_tools_run_on_the_model():
    corpus = data.source_text(max_chars=20_000)
    train, val = corpus.encode(corpus.train_text), corpus.encode(corpus.val_text[:2000])
    vocab_size = len(corpus.vocab)
    run = train_char_lm("gru", train, val, vocab_size, steps=30, seq_len=20, batch=8, lr=1e-2,
                        hidden=16, embed=8, eval_every=15, show_progress=False)
    assert run.steps == [15, 30]
    # uniform guessing costs ln V ≈ 4.5 nats; 30 steps of Adam learn the character frequencies
    assert run.val_loss[-1] < math.log(vocab_size) - 1.0
    assert evaluate(run.model, val) == pytest.approx(run.val_loss[-1])
    # reading in chunks carries the state: the same log-probabilities as one pass (float32
    # log-probabilities down to about -10: round-off ~1e-6, so 1e-5 absolute)
    assert torch.allclose(predictions(run.model, val, chunk=7), predictions(run.model, val),
                          rtol=0, atol=1e-5)
    g = text_gradient_through_time(run.model, val[:60].reshape(3, 20))
    assert g.lag == list(range(21)) and g.norm[0] == pytest.approx(1.0)
    rows = bracket_accuracy(run.model, corpus.val_text[:2000], corpus.vocab)
    assert sum(r.count for r in rows) == len([p for p in bracket_pairs(corpus.val_text[:2000])
                                              if p[0] > 0])


def test_local_closer_baseline_reads_only_the_last_characters():
    train = "f(x)\ng[y]\nh('a')\n"
    # k=1: after x comes ), after y ], after a ' ; the opener itself is never looked at
    assert local_closer_baseline(train, "q(x) r[y] s[x]", k=1, bins=(1, 100)) == [2 / 3]
    # an unseen context backs off to shorter ones, then to the bin's most common closer
    assert local_closer_baseline(train, "u(zy) v(zz) w(zz)", k=2, bins=(1, 100)) == [2 / 3]
    # with a longer context it tells the cases apart that one character cannot
    train = "f(ab) g[cb]\n" * 3
    assert local_closer_baseline(train, "h(ab) i[cb]", k=1, bins=(1, 100)) == [0.5]
    assert local_closer_baseline(train, "h(ab) i[cb]", k=2, bins=(1, 100)) == [1.0]
    # it scores the same closers, in the same bins, as bracket_accuracy
    text = "f(a[1], 'x')\n" * 5
    assert len(local_closer_baseline(train, text, bins=(1, 5, 100, 200))) == 3
    assert math.isnan(local_closer_baseline(train, text, bins=(1, 5, 100, 200))[2])
    with pytest.raises(ValueError, match="k=0"):
        local_closer_baseline(train, text, k=0)


def test_windowed_predictions_start_every_block_from_a_zero_state():
    model = CharLM("gru", 7, hidden=6, embed=3, seed=1)
    ids = torch.randint(7, (103,), generator=torch.Generator().manual_seed(0))
    k = 10
    windowed = predictions(model, ids, context=k)
    assert windowed.shape == (103, 7)
    with torch.no_grad():
        # the first 2k positions are read from the start of the text (float32 log-probabilities
        # of a few units: round-off ~1e-7, so 1e-6 absolute)
        assert torch.allclose(windowed[: 2 * k], predictions(model, ids[: 2 * k]), rtol=0,
                              atol=1e-6)
        # block s..s+k-1 is predicted after a warm-up on the k characters before it
        for s in (20, 50, 100):
            ref = predictions(model, ids[s - k: s + k])[k:]
            assert torch.allclose(windowed[s: s + k], ref, rtol=0, atol=1e-6), s
    # far from the start it differs from reading the whole text in one pass
    assert not torch.allclose(windowed[60:], predictions(model, ids)[60:], atol=1e-6)
    assert evaluate(model, ids, context=k) == pytest.approx(
        float(torch.nn.functional.nll_loss(windowed[:-1], ids[1:])), rel=1e-6)
    with pytest.raises(ValueError, match="context=0"):
        predictions(model, ids, context=0)


def test_lstm_cell_state_gradient_and_seeded_models():
    a, b = CharLM("lstm", 6, hidden=4, embed=3, seed=3), CharLM("lstm", 6, hidden=4, embed=3,
                                                                 seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    g = text_gradient_through_time(a, torch.tensor([[0, 1, 2, 3, 4, 5]]), state="c")
    assert g.state == "c" and len(g.norm) == 7


def test_sample_is_seeded_and_checks_its_prompt():
    model = CharLM("gru", 5, hidden=8)
    vocab = list("abcde")
    assert sample(model, vocab, "ab", 10, seed=1) == sample(model, vocab, "ab", 10, seed=1)
    assert len(sample(model, vocab, "ab", 10)) == 12
    with pytest.raises(ValueError, match="outside the vocabulary"):
        sample(model, vocab, "xyz")
    with pytest.raises(ValueError, match="prompt=''"):
        sample(model, vocab, "")


def test_bad_arguments():
    with pytest.raises(ValueError, match="cell='transformer'"):
        CharLM("transformer", 10)
    with pytest.raises(ValueError, match="val_fraction=1.5"):
        data.source_text(val_fraction=1.5)
    with pytest.raises(ValueError, match="bins="):
        bracket_accuracy(None, "()", list("()]}'\"?"), bins=(5, 3))
    with pytest.raises(ValueError, match="vocab lacks"):
        bracket_accuracy(None, "()", list("()"))
    with pytest.raises(ValueError, match="seq_len=50"):
        train_char_lm("rnn", torch.zeros(20, dtype=torch.long), torch.zeros(5, dtype=torch.long),
                      3, seq_len=50)
    with pytest.raises(ValueError, match="shape"):
        text_gradient_through_time(CharLM("rnn", 3), torch.tensor([0, 1]))
    assert math.isfinite(CharLM("lstm", 3)(torch.tensor([[0, 1, 2]]))[0].sum().item())


def test_source_text_checks_its_file_limits():
    with pytest.raises(ValueError, match="max_file_chars=10"):
        data.source_text(min_file_chars=100, max_file_chars=10)
    with pytest.raises(ValueError, match="max_chars=10"):
        data.source_text(max_chars=10)


# Chapter 10's text, as CPython 3.11.7's standard library held it (recorded when it was shipped,
# with the book's build): the sha256 of the chapter's 500 000 characters and of the shipped file.
CHAPTER_TEXT_SHA256 = "9e3575271000a35bffe92fd5ec4f2865133384bc7e4814054450cfbf8890ac29"
SHIPPED_SHA256 = "0f0401b244bb072e180d81c0e090a35624fdd026ba352c3399a6093201652fbd"


def test_corpus_is_the_shipped_text_not_the_running_pythons(monkeypatch, tmp_path):
    """The corpus is read from vgcourse/corpus/, so it is the same under any Python (Colab's
    3.13 included: tests/test_colab.py checks it there): pointing the interpreter's standard
    library at an empty folder changes nothing."""
    import hashlib
    import sysconfig
    from importlib import resources

    packed = resources.files("vgcourse").joinpath("corpus", data.CORPUS_FILE).read_bytes()
    assert hashlib.sha256(packed).hexdigest() == SHIPPED_SHA256
    provenance = resources.files("vgcourse").joinpath("corpus", "PROVENANCE.md").read_text()
    assert SHIPPED_SHA256 in provenance and "Python Software Foundation License" in provenance
    assert resources.files("vgcourse").joinpath("corpus", "LICENSE-PSF.txt").is_file()

    paths = sysconfig.get_paths()
    monkeypatch.setattr(sysconfig, "get_paths", lambda *a, **k: {**paths, "stdlib": str(tmp_path)})
    corpus = data.source_text(max_chars=500_000, val_fraction=0.2)  # chapter 10's call
    text = corpus.train_text + corpus.val_text
    assert hashlib.sha256(text.encode()).hexdigest() == CHAPTER_TEXT_SHA256
    assert corpus.python_version == "3.11.7"
    assert (corpus.files[0], corpus.files[-1], len(corpus.files)) == ("abc.py", "dis.py", 27)
    assert len(corpus.val_text) == 100_000


# -- chapter 13: bracket depth and one LSTM unit ----------------------------------------------
def test_bracket_depth_on_hand_made_strings():
    text = "f(a[1], 'x')\ng = {'k': (1, 2)}"
    # counted by hand, one digit per character: the opener raises the depth at its own
    # position, the closer lowers it at its own
    by_hand = "0112211111100" + "00001111112222210"
    assert bracket_depth(text).tolist() == [int(d) for d in by_hand]
    assert bracket_depth(text).dtype == torch.long
    # brackets in strings and comments, unclosed and mismatched openers do not count
    assert bracket_depth("x = '(' # [\nf()").tolist() == [0] * 13 + [1, 0]
    assert bracket_depth("g(x").tolist() == [0, 0, 0]
    assert bracket_depth("(]x)").tolist() == [0, 0, 0, 0]
    assert bracket_depth("").tolist() == []
    with pytest.raises(ValueError, match="text=int"):
        bracket_depth(5)


def _manual_lstm(model, ids, unit=None, value=None):
    """The LSTM written out from its weights, optionally holding c[unit] at value."""
    r = model.core.recurrent
    x = model.embed(ids)
    h = torch.zeros(ids.shape[0], r.hidden_size)
    c = torch.zeros_like(h)
    logits, cells = [], []
    for t in range(ids.shape[1]):
        z = x[:, t] @ r.weight_ih_l0.T + r.bias_ih_l0 + h @ r.weight_hh_l0.T + r.bias_hh_l0
        i, f, g, o = z.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        if unit is not None:
            c = torch.cat([c[:, :unit], torch.full_like(c[:, :1], value), c[:, unit + 1:]], 1)
        h = torch.sigmoid(o) * torch.tanh(c)
        logits.append(model.core.readout(h))
        cells.append(c)
    return torch.stack(logits, 1), torch.stack(cells, 1)


@torch.no_grad()
def test_lstm_states_replay_the_model_and_the_clamp_holds_the_unit():
    model = CharLM("lstm", 7, hidden=5, embed=3, seed=2)
    ids = torch.randint(7, (2, 9), generator=torch.Generator().manual_seed(0))
    logits, h, c = lstm_states(model, ids)
    fused, (h_n, c_n) = model(ids)
    # float32 round-off between PyTorch's fused layer and the step-by-step cell
    assert torch.allclose(logits, fused, rtol=0, atol=1e-6)
    assert torch.allclose(h[:, -1], h_n[0], atol=1e-6) and torch.allclose(c[:, -1], c_n[0],
                                                                          atol=1e-6)
    # starting from the state after 4 characters carries on where the first call stopped
    first = lstm_states(model, ids[:, :4])
    rest = lstm_states(model, ids[:, 4:], state=(first[1][:, -1], first[2][:, -1]))
    assert torch.allclose(torch.cat([first[0], rest[0]], 1), logits, rtol=0, atol=1e-6)
    # clamping unit 3 at 0.7: against the LSTM written out by hand
    clamped, _, c_clamped = lstm_states(model, ids, clamp={3: 0.7})
    ref_logits, ref_cells = _manual_lstm(model, ids, unit=3, value=0.7)
    assert torch.allclose(clamped, ref_logits, rtol=0, atol=1e-6)
    assert torch.allclose(c_clamped, ref_cells, rtol=0, atol=1e-6)
    assert torch.all(c_clamped[..., 3] == torch.tensor(0.7))
    assert not torch.allclose(clamped, logits, atol=1e-3)  # the clamp changes the prediction
    assert torch.allclose(_manual_lstm(model, ids)[0], logits, rtol=0, atol=1e-6)


@torch.no_grad()
def test_a_clamped_model_goes_where_a_model_goes():
    model = CharLM("lstm", 7, hidden=5, embed=3, seed=2)
    ids = torch.randint(7, (40,), generator=torch.Generator().manual_seed(1))
    same = ClampedLSTM(model, {})
    assert torch.allclose(predictions(same, ids), predictions(model, ids), rtol=0, atol=1e-5)
    held = ClampedLSTM(model, {1: -0.5, 4: 0.25})
    logits, _, c = lstm_states(model, ids[None], clamp={1: -0.5, 4: 0.25})
    assert torch.all(c[..., 1] == -0.5) and torch.all(c[..., 4] == 0.25)
    # chunks carry the clamped state: the same as one pass
    one_pass = torch.log_softmax(logits[0], -1)
    assert torch.allclose(predictions(held, ids, chunk=6), one_pass, rtol=0, atol=1e-5)
    # zero-state windows work too, and differ from one pass far from the start
    windowed = predictions(held, ids, context=5)
    assert torch.allclose(windowed[:10], one_pass[:10], rtol=0, atol=1e-5)
    assert not torch.allclose(windowed[20:], one_pass[20:], atol=1e-5)


def test_unit_correlations_by_hand():
    states = torch.tensor([[1.0, 2.0, 5.0], [2.0, 0.0, 5.0], [3.0, 1.0, 5.0]])
    # column 1 centred is (1, -1, 0), the target centred (-1, 0, 1): r = -1 / 2
    assert unit_correlations(states, torch.tensor([0, 1, 2])).tolist() == [1.0, -0.5, 0.0]
    # any leading shape; r is invariant to an affine map of the target and flips with its sign
    y = torch.tensor([[0.0, 3.0], [1.0, 1.0]])
    s = torch.stack([y, -2 * y + 1, torch.tensor([[1.0, 0.0], [0.0, 1.0]])], -1)
    r = unit_correlations(s, 10 * y - 4)
    # column 2: centred (0.5, -0.5, -0.5, 0.5) against y centred (-1.25, 1.75, -0.25, -0.25)
    by_hand = (-0.625 - 0.875 + 0.125 - 0.125) / math.sqrt(1.0 * 4.75)
    assert r[:2].tolist() == pytest.approx([1.0, -1.0]) and r[2].item() == pytest.approx(by_hand)
    with pytest.raises(ValueError, match="target is constant"):
        unit_correlations(states, torch.zeros(3))
    with pytest.raises(ValueError, match="target with shape"):
        unit_correlations(states, torch.zeros(4))
    with pytest.raises(ValueError, match="states with shape"):
        unit_correlations(torch.zeros(3), torch.zeros(3))


def test_lstm_tools_name_their_bad_arguments():
    model = CharLM("lstm", 4, hidden=3, embed=2)
    ids = torch.zeros(1, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="model='gru'"):
        lstm_states(CharLM("gru", 4, hidden=3), ids)
    with pytest.raises(ValueError, match="ids with shape"):
        lstm_states(model, torch.zeros(3, dtype=torch.long))
    for clamp in ({3: 0.0}, {-1: 0.0}, {0: math.nan}, {True: 0.0}, {0: "a"}, [0]):
        with pytest.raises(ValueError, match="clamp="):
            lstm_states(model, ids, clamp=clamp)
    with pytest.raises(ValueError, match="clamp=None"):
        ClampedLSTM(model, None)
    with pytest.raises(ValueError, match="model="):
        ClampedLSTM(torch.nn.Linear(2, 2), {})
