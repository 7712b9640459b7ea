"""Every self-check passes its reference solution and catches the typical wrong answers.

To add a chapter's exercises: append its reference answers to ``REFERENCES`` and its typical
mistakes to ``WRONG`` (exercise id, the wrong answer, a phrase the hint must contain). A test
fails if a registered exercise has no reference or no wrong answer here.
"""

import math
import re

import pytest
import torch

import vgcourse
from vgcourse.checking import Feedback
from vgcourse.checks import Wrong, register

# ---------------------------------------------------------------- chapter 1: the mathematics


def _sigmoid_derivative(x):
    s = torch.sigmoid(x)
    return s * (1 - s)


def _singular_values(weights):
    return torch.linalg.svdvals(torch.linalg.multi_dot(weights[::-1]))


# Reference answers: each must pass. The functions are written independently of the notebook's
# solutions (the notebook's own solutions are run by nbval and by test_assign.py).
REFERENCES = [
    ("01-tanh-chain", 1.0),
    ("01-tanh-chain", 1.0 + 1e-5),  # a rounded prediction is still right
    ("01-sigmoid-derivative", _sigmoid_derivative),
    ("01-sigmoid-derivative", lambda x: torch.exp(-x) / (1 + torch.exp(-x)) ** 2),
    ("01-jacobian-singular-values", _singular_values),
    ("01-jacobian-singular-values",  # ascending order is accepted: the check sorts
     lambda ws: torch.linalg.svdvals(torch.linalg.multi_dot(ws[::-1])).flip(0)),
]

# Typical mistakes: (exercise, wrong answer, phrase the hint must contain).
WRONG = [
    ("01-tanh-chain", 0.25**20, "sigmoid chain's bound"),
    ("01-tanh-chain", 20.0, "multiplies"),
    ("01-tanh-chain", 0.25, "largest value of tanh'"),
    ("01-tanh-chain", 2.0, "can exceed 1"),
    ("01-tanh-chain", 0.5, "it is attained"),
    ("01-tanh-chain", "a lot", "expected a number"),
    ("01-sigmoid-derivative", torch.sigmoid, "σ(x) itself"),
    ("01-sigmoid-derivative", lambda x: x * (1 - x), "uses σ(x), not x"),
    ("01-sigmoid-derivative", lambda x: -torch.sigmoid(x) * (1 - torch.sigmoid(x)), "sign"),
    ("01-sigmoid-derivative", lambda x: torch.exp(-x) / (1 + torch.exp(-x)), "squared"),
    ("01-sigmoid-derivative", lambda x: _sigmoid_derivative(x).numpy(), "return a tensor"),
    ("01-sigmoid-derivative", lambda x: _sigmoid_derivative(x)[:-1], "shape"),
    ("01-sigmoid-derivative", lambda x: 0.25 * torch.ones_like(x), "x = 0"),
    ("01-jacobian-singular-values",
     lambda ws: torch.linalg.svdvals(torch.linalg.multi_dot(ws)), "order is reversed"),
    ("01-jacobian-singular-values",
     lambda ws: torch.linalg.eigvals(torch.linalg.multi_dot(ws[::-1])).abs(), "eigenvalues"),
    ("01-jacobian-singular-values",
     lambda ws: torch.tensor([math.prod(torch.linalg.svdvals(w)[0].item() for w in ws)] * 5,
                             dtype=torch.float64), "only bounds"),
    ("01-jacobian-singular-values", lambda ws: _singular_values(ws)[:2], "expected 5"),
    ("01-jacobian-singular-values", lambda ws: _singular_values(ws).tolist(), "tensor"),
    # An answer that crashes is reported, not raised.
    ("01-jacobian-singular-values", lambda ws: ws @ ws, "raised TypeError"),
]

# ---------------------------------------------------------------- chapter 2: activations

REFERENCES += [
    ("02-selu-steep", 0.5 * (1 + math.erf(math.log(1.0507009873554805 * 1.6732632423543772)
                                          / math.sqrt(2)))),
    ("02-selu-steep", 0.71),  # a rounded prediction is still right
    ("02-selu-steep", torch.tensor(0.7137)),  # a 0-d tensor is a number
    ("02-dead-fraction", lambda p: float((p <= 0).all(dim=0).double().mean())),
    ("02-dead-fraction", lambda p: (torch.relu(p).amax(dim=0) == 0).double().mean()),
]

WRONG += [
    ("02-selu-steep", 0.5, "negative side"),
    ("02-selu-steep", 0.286, "below"),
    ("02-selu-steep", 0.214, "positive side"),
    ("02-selu-steep", 1.758, "between 0 and 1"),
    ("02-selu-steep", "most", "expected a number"),
    ("02-selu-steep", 0.5 * (1 + math.erf(math.log(1.6732632423543772) / math.sqrt(2))),
     "λ multiplies"),
    ("02-selu-steep", 0.9, "standard normal"),
    ("02-dead-fraction", lambda p: "dead", "one number"),
    ("02-dead-fraction", lambda p: 0.5, "2×2"),
    ("02-dead-fraction", lambda p: float((p <= 0).double().mean()), "unit-examples"),
    ("02-dead-fraction", lambda p: float((p <= 0).any(dim=0).double().mean()), "just one"),
    ("02-dead-fraction", lambda p: float((p < 0).all(dim=0).double().mean()), "<= 0"),
    ("02-dead-fraction", lambda p: float((p <= 0).all(dim=1).double().mean()), "wrong axis"),
    ("02-dead-fraction", lambda p: float((p <= 0).all(dim=0).sum()), "count"),
]


# ---------------------------------------------------------------- chapter 3: initialisation


def _relu_variances(q1, w2, b2, depth):
    q = [q1]
    while len(q) < depth:
        q.append(w2 * q[-1] / 2 + b2)
    return q


def _he_normal(weight, std=lambda w: math.sqrt(2 / w.shape[1])):
    with torch.no_grad():
        weight.normal_(0.0, std(weight))


def _conv_fans(weight):
    """By hand: C_in and C_out times the product of the kernel's sizes."""
    receptive = 1
    for k in weight.shape[2:]:
        receptive *= k
    return weight.shape[1] * receptive, weight.shape[0] * receptive


def _he_uniform(weight):  # any zero-mean law with variance 2/fan_in is He's variance
    bound = math.sqrt(6 / weight.shape[1])
    with torch.no_grad():
        weight.uniform_(-bound, bound)


REFERENCES += [
    ("03-default-tanh-factor", 1 / 3),
    ("03-default-tanh-factor", 0.33),  # a rounded prediction is still right
    ("03-relu-variances", _relu_variances),
    ("03-he-init", _he_normal),
    ("03-he-init", _he_uniform),
    ("03-he-init", lambda w: torch.nn.init.kaiming_normal_(w, nonlinearity="relu")),
    ("03-conv-fans", _conv_fans),
    ("03-conv-fans", torch.nn.init._calculate_fan_in_and_fan_out),
]

WRONG += [
    ("03-default-tanh-factor", 1 / 6, "half of them"),
    ("03-default-tanh-factor", math.sqrt(1 / 3), "squared norm"),
    ("03-default-tanh-factor", (1 / 3) ** 19, "one layer's"),
    ("03-default-tanh-factor", 1.0, "shrinks"),
    ("03-default-tanh-factor", "tiny", "expected a number"),
    ("03-relu-variances", lambda q1, w2, b2, d: [q1 * w2**k for k in range(d)], "half"),
    ("03-relu-variances", lambda q1, w2, b2, d: [q1 * (w2 / 2) ** k for k in range(d)], "bias"),
    ("03-relu-variances", lambda q1, w2, b2, d: _relu_variances(q1, w2, b2, d + 1), "return"),
    ("03-he-init", lambda w: _he_normal(w, lambda w: math.sqrt(2 / w.shape[0])), "fan_out"),
    ("03-he-init", lambda w: _he_normal(w, lambda w: 2 / w.shape[1]), "square root"),
    ("03-he-init", lambda w: _he_normal(w, lambda w: math.sqrt(1 / w.shape[1])), "LeCun"),
    ("03-he-init", lambda w: _he_normal(w, lambda w: math.sqrt(2 / sum(w.shape))), "Xavier"),
    ("03-he-init", lambda w: None, "in place"),
    ("03-conv-fans", lambda w: _conv_fans(w)[::-1], "swapped"),
    ("03-conv-fans", lambda w: (w.shape[1], w.shape[0]), "kernel's size"),
    ("03-conv-fans", lambda w: (_conv_fans(w)[0], w.shape[0]), "fan_out counts"),
    ("03-conv-fans", lambda w: (w.shape[1] * w.shape[2] * w.shape[-1] if w.dim() > 2
                                else w.shape[1], _conv_fans(w)[1]), "three dimensions"),
    ("03-conv-fans", lambda w: 5, "pair"),
    ("03-conv-fans", 144, "function"),
]


# ---------------------------------------------------------------- chapter 5: group norm


def _group_norm(x, groups, eps=1e-5):
    """Written out per example and group with explicit loops, independently of the notebook."""
    out = torch.empty_like(x)
    size = x.shape[1] // groups
    for n in range(x.shape[0]):
        for g in range(groups):
            block = x[n, g * size:(g + 1) * size]
            mean = block.sum() / block.numel()
            var = ((block - mean) ** 2).sum() / block.numel()
            out[n, g * size:(g + 1) * size] = (block - mean) / torch.sqrt(var + eps)
    return out


def _group_norm_of(groups_of):
    """A group norm whose channel c belongs to group groups_of(c, C, G) (for the slips)."""
    def norm(x, groups, eps=1e-5):
        out = torch.empty_like(x)
        group = groups_of(torch.arange(x.shape[1]), x.shape[1], groups)
        for n in range(x.shape[0]):
            for g in group.unique():
                mask = group == g
                block = x[n, mask]
                out[n, mask] = (block - block.mean()) / torch.sqrt(
                    block.var(unbiased=False) + eps)
        return out
    return norm


REFERENCES += [
    ("05-group-norm", _group_norm),
    ("05-group-norm", lambda x, groups, eps=1e-5: torch.nn.functional.group_norm(
        x, groups, eps=eps)),
]

WRONG += [
    ("05-group-norm", _group_norm_of(lambda c, C, G: c % G), "consecutive"),
    ("05-group-norm", _group_norm_of(lambda c, C, G: 0 * c), "layer norm"),
    ("05-group-norm", lambda x, groups: torch.nn.functional.instance_norm(x), "instance norm"),
    ("05-group-norm", lambda x, groups: (x - x.mean(dim=(0, 2, 3), keepdim=True))
     / torch.sqrt(x.var(dim=(0, 2, 3), unbiased=False, keepdim=True) + 1e-5), "batch"),
    ("05-group-norm", lambda x, groups: _group_norm(x, groups).numpy(), "return a tensor"),
    ("05-group-norm", lambda x, groups: _group_norm(x, groups)[:, :1], "shape"),
]

# ---------------------------------------------------------------- chapter 8: diagnosing


def _update_to_data(before, after):
    return [float((a - b).norm() / b.norm()) for b, a in zip(before, after)]


REFERENCES += [
    ("08-mystery-a", "vanishing"),
    ("08-mystery-a", "Vanishing gradients"),  # case and a common long form are accepted
    ("08-mystery-b", "exploding"),
    ("08-mystery-c", "healthy"),
    ("08-mystery-d", "Exploding gradients"),
    ("08-mystery-e", "dying ReLU"),
    ("08-update-to-data", _update_to_data),
    ("08-momentum-factor", 10.0),  # 1 + 0.9 + 0.81 + ... = 1 / (1 - 0.9)
    ("08-momentum-factor", torch.tensor(1 / (1 - 0.9))),
]

WRONG += [
    ("08-mystery-a", "saturated", "decades apart"),
    ("08-mystery-b", "vanishing", "just before the run stopped"),
    ("08-mystery-c", "vanishing", "Where does the loss end?"),
    ("08-mystery-c", "exploding", "Look at the loss first"),
    ("08-mystery-d", "saturation", "do end up saturated, but is that where the run started"),
    ("08-mystery-d", "vanishing", "which way it grows across the layers"),
    ("08-mystery-e", "vanishing", "exactly 0 is not the same as a small one"),
    ("08-mystery-e", "healthy", "exactly 0 is not the same as a small one"),
    ("08-mystery-a", "broken", "not a diagnosis"),
    ("08-mystery-a", 3, "as a string"),
    ("08-update-to-data", lambda b, a: [float((y - x).norm()) for x, y in zip(b, a)],
     "divide by the size of the weights"),
    ("08-update-to-data", lambda b, a: [float((y - x).norm() / y.norm()) for x, y in zip(b, a)],
     "before the step"),
    ("08-update-to-data", lambda b, a: [abs(float(y.norm() / x.norm()) - 1)
                                        for x, y in zip(b, a)], "norm of the change"),
    ("08-update-to-data", lambda b, a: [float((y - x).norm() / x.norm()) ** 2
                                        for x, y in zip(b, a)], "square"),
    ("08-update-to-data", lambda b, a: 0.001, "one number per layer"),
    ("08-momentum-factor", 1, "first step"),
    ("08-momentum-factor", 9, "left out the current gradient"),
    ("08-momentum-factor", 0.1, "1 − β"),
    ("08-momentum-factor", 0.5, "larger than 1"),
    ("08-momentum-factor", 3.0, "geometric series"),
    ("08-momentum-factor", "ten", "expected a number"),
]

# ---------------------------------------------------------------- chapter 9: case studies


def _columns(images):
    return images.reshape(-1, 8, 8).permute(0, 2, 1).reshape(-1, 64, 1)


def _columns_by_index(images):  # pixel t of the sequence is row t % 8, column t // 8
    index = torch.tensor([8 * (t % 8) + t // 8 for t in range(64)])
    return images[:, index].unsqueeze(-1)


REFERENCES += [
    ("09-total-change", 2e-3),  # 1000 r0 (1 + 1/2 + 1/4 + ...)
    ("09-total-change", 1000 * 1e-6 * sum(0.5**k for k in range(60))),
    ("09-column-sequences", _columns),
    ("09-column-sequences", _columns_by_index),
]

WRONG += [
    ("09-total-change", 1e-3, "only the first 1000 steps"),
    ("09-total-change", 1e-6, "count the steps"),
    ("09-total-change", float("inf"), "grow without limit"),
    ("09-total-change", 0.5, "stays finite"),
    ("09-total-change", 5e-3, "block by block"),
    ("09-total-change", "forever", "expected a number"),
    ("09-column-sequences", lambda x: x.reshape(-1, 64, 1), "row-by-row"),
    ("09-column-sequences", lambda x: _columns(x).flip(1), "reversed"),
    ("09-column-sequences", lambda x: _columns(x).squeeze(-1), "(batch, 64 steps, 1 feature)"),
    ("09-column-sequences", lambda x: _columns(x)[:, :32], "expected (batch, 64, 1)"),
    ("09-column-sequences", lambda x: _columns(x).numpy(), "return a tensor"),
    ("09-column-sequences", lambda x: x.reshape(-1, 64, 1).flip(1), "backwards"),
    ("09-column-sequences",
     lambda x: x.reshape(-1, 8, 8).flip(2).permute(0, 2, 1).reshape(-1, 64, 1), "wrong order"),
]

# ---------------------------------------------------------------- chapter 10: text


def _distances_by_depth(text):  # record each opener at its nesting depth, close at the depth
    open_at, out = {}, []
    for i, ch in enumerate(text):
        if ch in "([{":
            open_at[len(open_at)] = i
        elif ch in ")]}":
            out.append(i - open_at.pop(len(open_at) - 1))
    return out


def _distances_fifo(text):  # a queue instead of a stack: the first opener still open
    queue, out = [], []
    for i, ch in enumerate(text):
        if ch in "([{":
            queue.append(i)
        elif ch in ")]}":
            out.append(i - queue.pop(0))
    return out


def _decay_polyfit(norms):
    import numpy as np

    return float(np.exp(np.polyfit(np.arange(1, len(norms)), np.log(norms[1:]), 1)[0]))


REFERENCES += [
    ("10-bptt-horizon", 64),
    ("10-bptt-horizon", 64.0),
    ("10-bracket-distances", _distances_by_depth),
    ("10-bracket-distances", lambda t: tuple(_distances_by_depth(t))),  # any sequence of ints
    ("10-decay-rate", _decay_polyfit),
]

WRONG += [
    ("10-bptt-horizon", 63, "recurrent steps"),
    ("10-bptt-horizon", 65, "never an input"),
    ("10-bptt-horizon", 128, "starts from zero"),
    ("10-bptt-horizon", 32, "where in a window"),
    ("10-bptt-horizon", "sixty-four", "expected a number"),
    ("10-bracket-distances", lambda t: [d + 1 for d in _distances_by_depth(t)], "off by one"),
    ("10-bracket-distances", lambda t: [i for i, c in enumerate(t) if c in ")]}"],
     "positions of the closers"),
    ("10-bracket-distances", lambda t: [i - d for i, d in zip(
        [i for i, c in enumerate(t) if c in ")]}"], _distances_by_depth(t))],
     "positions of the openers"),
    ("10-bracket-distances", _distances_fifo, "a stack"),
    ("10-bracket-distances", lambda t: _distances_by_depth(t)[:-1], "one per closer"),
    ("10-bracket-distances", lambda t: None, "return a list"),
    ("10-decay-rate", lambda n: math.log(_decay_polyfit(n)), "exponential"),
    ("10-decay-rate", lambda n: 1 / _decay_polyfit(n), "1/ρ"),
    ("10-decay-rate", lambda n: n[2] / n[1], "two points"),
    ("10-decay-rate", lambda n: (n[-1] / n[1]) ** (1 / (len(n) - 2)), "two points"),
    ("10-decay-rate", lambda n: _decay_polyfit([1.0] + list(n)), "lag 0"),
    ("10-decay-rate", lambda n: 10 ** math.log(_decay_polyfit(n)), "natural logarithms"),
]

# ---------------------------------------------------------------- chapter 12: meta-learning


def _meta_by_autograd(hessian, theta0, a, b, lr, steps, create_graph=True):
    """MAML's meta-gradient by autograd through the unrolled inner loop (or, without
    create_graph, first-order MAML)."""
    start = theta0.clone().requires_grad_(True)
    theta = start
    for _ in range(steps):
        (g,) = torch.autograd.grad(0.5 * (theta - a) @ hessian @ (theta - a), theta,
                                   create_graph=create_graph)
        theta = theta - lr * g
        if not create_graph:
            theta = theta.detach().requires_grad_(True)
            start = theta
    (meta,) = torch.autograd.grad(0.5 * ((theta - b) ** 2).sum(), start)
    return meta


def _meta_by_factors(hessian, theta0, a, b, lr, steps, power=None, sign=-1.0):
    """(I + sign·αH)^power (θ_K − b), θ_K from the same factor: the closed form and its slips."""
    m = torch.eye(len(theta0), dtype=hessian.dtype) + sign * lr * hessian
    theta_k = a + torch.linalg.matrix_power(m, steps) @ (theta0 - a)
    return torch.linalg.matrix_power(m, steps if power is None else power) @ (theta_k - b)


REFERENCES += [
    ("12-maml-factor", 1.4**10),
    ("12-maml-factor", 28.93),  # rounded to four significant digits
    ("12-meta-gradient", _meta_by_autograd),
    ("12-meta-gradient", _meta_by_factors),
    ("12-meta-gradient", lambda *args: _meta_by_autograd(*args).float()),
]

WRONG += [
    ("12-maml-factor", -(1.4**10), "sign"),
    ("12-maml-factor", 0.7**10, "soft direction"),
    ("12-maml-factor", 2.4**10, "not by αH"),
    ("12-maml-factor", 1.4, "one inner step"),
    ("12-maml-factor", 1.4**9, "count the factors"),
    ("12-maml-factor", 0.01, "larger than 1"),
    ("12-maml-factor", 100.0, "raise its size"),
    ("12-maml-factor", "huge", "expected a number"),
    ("12-meta-gradient", lambda *args: _meta_by_autograd(*args, create_graph=False),
     "first-order MAML"),
    ("12-meta-gradient", lambda h, t, a, b, lr, k: _meta_by_factors(h, t, a, b, lr, k, k - 1),
     "too many or too few"),
    ("12-meta-gradient", lambda *args: -_meta_by_autograd(*args), "sign is flipped"),
    ("12-meta-gradient", lambda *args: _meta_by_factors(*args, sign=1.0), "subtracts"),
    ("12-meta-gradient", lambda *args: _meta_by_autograd(*args).numpy(), "return a tensor"),
    ("12-meta-gradient", lambda *args: _meta_by_autograd(*args)[:2], "shaped like"),
    ("12-meta-gradient", lambda *args: 2 * _meta_by_autograd(*args), "compare with steps = 1"),
    ("12-meta-gradient", lambda h, t, a, b, lr, k: (_meta_by_autograd(h, t, a, b, lr, k)
                                                    if k else torch.zeros_like(t)),
     "steps = 0"),
]


# ---------------------------------------------------------------- chapter 11: after the fixes
def _growth_block_by_block(alphas):  # the law applied one block at a time
    q = 1.0
    for a in alphas:
        q += 2 * a * a * q
    return q


REFERENCES += [
    ("11-horizon-eigenvalue", math.exp(-math.log(10) / 200)),
    ("11-horizon-eigenvalue", torch.tensor(0.1, dtype=torch.float64) ** (1 / 200)),
    ("11-rezero-growth", _growth_block_by_block),
    ("11-rezero-growth", lambda a: torch.prod(1 + 2 * torch.tensor(a) ** 2)),  # float32
]

WRONG += [
    ("11-horizon-eigenvalue", 1 - 1 / 200, "e^(−1)"),
    ("11-horizon-eigenvalue", 0.1 / 200, "T-th root"),
    ("11-horizon-eigenvalue", 0.1 ** (1 / 199), "off by one"),
    ("11-horizon-eigenvalue", 1 - math.log(10) / 200, "approximation"),
    ("11-horizon-eigenvalue", 0.9886, "approximation"),
    ("11-horizon-eigenvalue", 0.98, "must be larger"),
    ("11-horizon-eigenvalue", 0.999, "smaller λ"),
    ("11-horizon-eigenvalue", 1.5, "0 < λ < 1"),
    ("11-rezero-growth", lambda a: 1 + sum(2 * x * x for x in a), "multiply"),
    ("11-rezero-growth", lambda a: math.prod(1 + 2 * abs(x) for x in a), "squared"),
    ("11-rezero-growth", lambda a: math.prod(1 + x * x for x in a), "factor is missing"),
    ("11-rezero-growth", lambda a: math.sqrt(_growth_block_by_block(a)), "squared norm"),
    ("11-rezero-growth", lambda a: 2.0, "its own factor"),
]


# ---------------------------------------------------------------- chapter 13: explanations
def _ig_rule(model, x, baseline, steps, where=lambda k, m: (k + 0.5) / m, times=None):
    """Integrated gradients by a Riemann rule, times x − baseline (or ``times``)."""
    from vgcourse.attribution import saliency

    mean = sum(saliency(model, baseline + where(k, steps) * (x - baseline))
               for k in range(steps)) / steps
    return (x - baseline if times is None else times(x, baseline)) * mean


def _ig_package(model, x, baseline, steps):
    from vgcourse.attribution import integrated_gradients

    return integrated_gradients(model, x, baseline=baseline, steps=steps)


REFERENCES += [
    ("13-integrated-gradients", _ig_package),
    ("13-integrated-gradients", _ig_rule),
    ("13-integrated-gradients", lambda *args: _ig_rule(*args).float()),
]

WRONG += [
    ("13-integrated-gradients", lambda *args: _ig_rule(*args, times=lambda x, b: 1.0),
     "x − baseline (the chain rule"),
    ("13-integrated-gradients", lambda m, x, b, k: k * _ig_rule(m, x, b, k), "average"),
    ("13-integrated-gradients", lambda m, x, b, k: _ig_rule(m, x, b, k, where=lambda i, n: i / n),
     "left-hand"),
    ("13-integrated-gradients", lambda m, x, b, k: _ig_rule(m, x, b, k, times=lambda x, b: x),
     "not by x"),
    ("13-integrated-gradients", lambda m, x, b, k: _ig_rule(m, x, 0 * x, 1, where=lambda i, n: 1),
     "gradient × input"),
    ("13-integrated-gradients", lambda m, x, b, k: _ig_rule(m, x, b, k).numpy(), "a tensor"),
    ("13-integrated-gradients", lambda m, x, b, k: _ig_rule(m, x, b, k).sum(1), "shaped like"),
    ("13-integrated-gradients", lambda m, x, b, k: _ig_rule(m, x, b, 2 * k), "midpoints"),
]


@pytest.mark.parametrize(("exercise", "answer"), REFERENCES,
                         ids=[f"{e}-{i}" for i, (e, _) in enumerate(REFERENCES)])
def test_reference_answer_passes(exercise, answer):
    feedback = vgcourse.check(exercise, answer)
    assert feedback.passed and feedback.solved, str(feedback)
    assert "Correct" in str(feedback)


@pytest.mark.parametrize(("exercise", "answer", "hint"), WRONG,
                         ids=[f"{e}-{h}" for e, _, h in WRONG])
def test_typical_wrong_answer_gets_its_hint(exercise, answer, hint):
    feedback = vgcourse.check(exercise, answer)
    assert not feedback.passed and feedback.solved, str(feedback)
    assert hint in feedback.message, str(feedback)


def test_every_registered_exercise_is_tested():
    """A chapter that registers a checker must test its reference and a mistake: in the tables
    above, or in its own chapter test module (tests/test_chNN_*.py), where the exercise id must
    appear in at least two `check(` calls (the reference and a wrong answer), never in both."""
    from pathlib import Path

    registered = set(vgcourse.exercises())
    tables = {"REFERENCES": {r[0] for r in REFERENCES}, "WRONG": {r[0] for r in WRONG}}
    chapter_tests = "\n".join(p.read_text() for p in Path(__file__).parent.glob("test_ch[0-9]*.py"))
    for table, rows in tables.items():
        assert not rows - registered, f"{table} names unregistered {sorted(rows - registered)}"
        for exercise in sorted(registered - rows):
            calls = chapter_tests.count(f'check("{exercise}"')
            assert calls >= 2, f"add rows for {exercise!r} to {table} (or test it in its chapter)"
    # one place each: a checker tested in these tables is not tested again in its chapter
    twice = sorted(e for e in tables["REFERENCES"] | tables["WRONG"]
                   if f'check("{e}"' in chapter_tests)
    assert not twice, f"tested here and in a chapter test module: {twice}"


@pytest.mark.parametrize("exercise", vgcourse.exercises())
def test_the_student_stubs_are_not_yet_solved(exercise):
    def stub(*args, **kwargs):
        raise NotImplementedError("exercise: write your code here")

    function_answer = any(callable(a) for e, a in REFERENCES if e == exercise)
    for answer in (..., None, stub) if function_answer else (..., None):
        feedback = vgcourse.check(exercise, answer)
        assert not feedback and not feedback.solved, str(feedback)
        assert "Not yet solved" in str(feedback)


def test_hints_do_not_print_the_reference_number():
    feedback = vgcourse.check("01-tanh-chain", 0.25)
    assert not re.search(r"(?<![\w.])1(\.0*)?(?![\w.])", feedback.message), feedback.message


def test_unknown_exercise_names_the_argument():
    with pytest.raises(ValueError, match="exercise='01-nope'"):
        vgcourse.check("01-nope", 1.0)


def test_register_refuses_a_duplicate_and_a_malformed_identifier():
    with pytest.raises(ValueError, match="already has a checker"):
        register("01-tanh-chain")(lambda answer: "ok")
    with pytest.raises(ValueError, match="exercise='sigmoid'"):
        register("sigmoid")


def test_feedback_displays_as_text_and_html():
    right = Feedback("01-x", True, "fine")
    wrong = Feedback("01-x", False, "a <hint>")
    assert bool(right) and not bool(wrong)
    assert "<hint>" not in wrong._repr_html_() and "&lt;hint&gt;" in wrong._repr_html_()
    from IPython.lib.pretty import pretty

    assert pretty(wrong) == str(wrong) == "❌ Not yet [01-x]: a <hint>"


def test_wrong_is_an_exception_with_the_hint():
    assert str(Wrong("a hint")) == "a hint"
