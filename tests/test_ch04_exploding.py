"""Chapter 4's self-checks: the reference answers pass, the usual mistakes get a named hint."""

import math

import pytest
import torch

import vgcourse


def test_all_chapter_4_checks_are_registered():
    assert {"04-value-clip-cosine", "04-clip-by-norm",
            "04-loss-scale-exponent"} <= set(vgcourse.exercises())


def test_value_clip_cosine():
    assert vgcourse.check("04-value-clip-cosine", 7 / (5 * math.sqrt(2)))
    assert vgcourse.check("04-value-clip-cosine", torch.tensor(0.98995))
    for wrong, hint in [(1.0, "norm clipping"), (70.0, "dot product"), (50.0, "norm"),
                        (8.13, "angle"), (3.0, "between -1 and 1"), ("x", "expected a number")]:
        feedback = vgcourse.check("04-value-clip-cosine", wrong)
        assert not feedback and hint in feedback.message, (wrong, feedback.message)
    assert not vgcourse.check("04-value-clip-cosine", ...).solved


def _reference(g, tau):
    return g * min(1.0, tau / float(g.norm()))


def test_clip_by_norm():
    assert vgcourse.check("04-clip-by-norm", _reference)
    wrong_answers = [
        (lambda g, tau: g.clamp(-tau, tau), "by value"),
        (lambda g, tau: g * tau / g.norm(), "the min"),
        (lambda g, tau: torch.flip(_reference(g, tau), [0]), "direction"),
        (lambda g, tau: float(_reference(g, tau).norm()), "return a tensor"),
        (lambda g, tau: _reference(g, tau)[:2], "shape"),
    ]
    for answer, hint in wrong_answers:
        feedback = vgcourse.check("04-clip-by-norm", answer)
        assert not feedback and hint in feedback.message, (hint, feedback.message)

    def stub(g, tau):
        raise NotImplementedError

    assert not vgcourse.check("04-clip-by-norm", stub).solved


def test_loss_scale_exponent():
    assert vgcourse.check("04-loss-scale-exponent", 5)
    for wrong, hint in [(32, "scale"), (6, "smallest"), (4, "half the smallest subnormal"),
                        (1, "too small"), (5.5, "whole number")]:
        feedback = vgcourse.check("04-loss-scale-exponent", wrong)
        assert not feedback and hint in feedback.message, (wrong, feedback.message)


@pytest.mark.parametrize("exercise", ["04-value-clip-cosine", "04-loss-scale-exponent"])
def test_unsolved_stub_is_not_an_error(exercise):
    feedback = vgcourse.check(exercise, None)
    assert not feedback and not feedback.solved
