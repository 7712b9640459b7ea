"""The numbers the book's prose prints match the recorded ones (`book/golden_numbers.json`).

nbval proves that a chapter prints the same numbers twice; this proves they are the numbers the
authors read and wrote the prose around. A change to the package that moves a printed number
fails here until `python tools/golden.py update` records it, so the change shows in the diff.

Tolerance: the book is built with fixed seeds, one torch thread and the pinned torch, so the
same machine reproduces every number exactly (nbval compares printed text). A relative 1e-6
absorbs only the last-digit differences of float64 reductions across CPUs; any change of
substance (a wrong definition, an off-by-one) moves a printed number by far more.
"""

from __future__ import annotations

import json

import pytest
from _book import require_book, tool

golden = tool("golden")

RTOL, ATOL = 1e-6, 1e-12


def test_every_number_the_prose_prints_is_the_recorded_one():
    built = golden.collect(require_book().parent)
    recorded = json.loads(golden.GOLDEN.read_text())
    problems = golden.differences(recorded, built, RTOL, ATOL)
    assert not problems, ("printed numbers changed; if intended, run `python tools/golden.py "
                          "update` and commit the diff:\n" + "\n".join(problems[:40]))


def test_a_changed_number_is_reported():
    recorded = {"09": {"1.acc": 0.588, "1.verdict": "vanishing"}}
    assert golden.differences(recorded, {"09": {"1.acc": 0.588, "1.verdict": "vanishing"}},
                              RTOL, ATOL) == []
    assert golden.differences(recorded, {"09": {"1.acc": 0.62, "1.verdict": "vanishing"}},
                              RTOL, ATOL) == ["09 1.acc: recorded 0.588, printed 0.62"]
    assert golden.differences(recorded, {"09": {"1.acc": 0.588}}, RTOL, ATOL) == [
        "09 1.verdict: recorded 'vanishing', no longer printed"]


@pytest.mark.parametrize("a, b, equal", [(1.0, 1.0 + 1e-9, True), (1.0, 1.001, False),
                                         (float("nan"), float("nan"), True), ([1, 2], [1, 2], True),
                                         ([1, 2], [1, 3], False), (True, 1, False)])
def test_numbers_are_compared_within_the_stated_tolerance(a, b, equal):
    assert golden.same(a, b, RTOL, ATOL) is equal
