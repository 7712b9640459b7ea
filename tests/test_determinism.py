"""Running a chapter twice prints the same numbers: the seeds are fixed end to end.

The first chapter of ``_toc.yml`` is executed twice, each time in a fresh kernel, and everything
it prints (stdout and the plain-text value of each cell) must match character for character.
Progress bars go to stderr and are not compared. ``VGCOURSE_DETERMINISM_CHAPTER=book/NN_x``
picks another chapter.
"""

from __future__ import annotations

import os
import re

import nbformat
import pytest
from _book import ROOT, notebook_pages
from nbclient import NotebookClient

# Memory addresses and similar run-dependent text that is not a result.
VOLATILE = re.compile(r" at 0x[0-9a-f]+")


def printed(path) -> list[tuple[int, str]]:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    out = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            if o.output_type == "stream" and o.name == "stdout":
                out.append((i, o.text))
            elif o.output_type == "execute_result" and "text/plain" in o.get("data", {}):
                out.append((i, VOLATILE.sub(" at 0x…", o.data["text/plain"])))
    return out


@pytest.fixture
def chapter():
    name = os.environ.get("VGCOURSE_DETERMINISM_CHAPTER")
    if name:
        return ROOT / f"{name}.ipynb"
    chapters = notebook_pages()
    assert chapters, "the table of contents lists no notebook"
    return chapters[0].source


def test_a_chapter_prints_the_same_numbers_twice(chapter, monkeypatch):
    monkeypatch.setenv("VGCOURSE_EXPLORE", "live")  # no sweep rendering: the numbers are printed
    first, second = printed(chapter), printed(chapter)
    numbers = [n for _, text in first for n in re.findall(r"\d+\.\d+|\d+e[-+]\d+", text)]
    assert numbers, f"{chapter.name} prints no numbers; the comparison would test nothing"
    for (cell_a, a), (cell_b, b) in zip(first, second):
        assert (cell_a, a) == (cell_b, b), f"{chapter.name}, cell {cell_a}: {a!r} then {b!r}"
    assert len(first) == len(second)
