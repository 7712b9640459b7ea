"""Running a chapter again prints the same numbers: the seeds are fixed end to end.

The first chapter of ``_toc.yml`` is executed once more in a fresh kernel of this environment,
as the book build executes it (``VGCOURSE_EXPLORE=static``), and everything it prints (stdout
and the plain-text value of each cell) must match the book build's executed copy character for
character. The Colab parity test compares every chapter too, but across two environments, where
the last digits of a float64 may differ; here nothing may. Progress bars go to stderr and are
not compared. ``VGCOURSE_DETERMINISM_CHAPTER=book/NN_x`` picks another chapter.
"""

from __future__ import annotations

import os
import re

import nbformat
import pytest
from _book import ROOT, executed_notebook, notebook_pages
from nbclient import NotebookClient

# Memory addresses and similar run-dependent text that is not a result.
VOLATILE = re.compile(r" at 0x[0-9a-f]+")


def printed(nb) -> list[tuple[int, str]]:
    """(cell index, text) of everything an executed notebook printed to stdout or returned."""
    out = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            if o.output_type == "stream" and o.name == "stdout":
                out.append((i, o.text))
            elif o.output_type == "execute_result" and "text/plain" in o.get("data", {}):
                out.append((i, VOLATILE.sub(" at 0x…", o.data["text/plain"])))
    return out


def execute(path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


@pytest.fixture
def chapter():
    name = os.environ.get("VGCOURSE_DETERMINISM_CHAPTER")
    if name:
        return ROOT / f"{name}.ipynb"
    chapters = notebook_pages()
    assert chapters, "the table of contents lists no notebook"
    return chapters[0].source


def test_a_chapter_prints_what_the_book_build_printed(chapter, monkeypatch):
    book = executed_notebook(chapter)
    monkeypatch.setenv("VGCOURSE_EXPLORE", "static")  # as the book build runs it
    first, again = printed(nbformat.read(book, as_version=4)), printed(execute(chapter))
    numbers = [n for _, text in first for n in re.findall(r"\d+\.\d+|\d+e[-+]\d+", text)]
    assert numbers, f"{chapter.name} prints no numbers; the comparison would test nothing"
    for (cell_a, a), (cell_b, b) in zip(first, again):
        assert (cell_a, a) == (cell_b, b), f"{chapter.name}, cell {cell_a}: {a!r} then {b!r}"
    assert len(first) == len(again)
