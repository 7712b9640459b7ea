"""The student edition: nbgrader-compatible markers, stubs that run, self-checks that wait.

Every notebook the table of contents lists is covered; a new chapter is tested as soon as it
is in ``_toc.yml``. The student notebooks run from their first exercise on (with the earlier
cells the exercises read), a few seconds each.
"""

import copy
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert.preprocessors import TagRemovePreprocessor
from nbgrader.preprocessors import ClearSolutions

from vgcourse.authoring.assign import (
    has_markers,
    main,
    mark_solutions,
    self_checks,
    stub_source,
    student_notebook,
    unmarked_cells,
)
from vgcourse.authoring.grading import exercise_extract
from vgcourse.authoring.syllabus import BEGIN, END, check_ids, source, toc_notebooks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = toc_notebooks(ROOT)
ids = [p.name for p in NOTEBOOKS]


def read(path):
    return json.loads(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------- the chapter notebooks


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_every_marker_cell_carries_nbgrader_solution_metadata(path):
    nb = read(path)
    missing = unmarked_cells(nb)
    assert not missing, (
        f"{path.name}: cells {missing} hold {BEGIN!r} but no nbgrader metadata; run "
        f"`.venv/bin/python -m vgcourse.authoring.assign --mark book/{path.name}`")
    grade_ids = [c["metadata"]["nbgrader"]["grade_id"] for c in nb["cells"] if has_markers(c)]
    assert len(grade_ids) == len(set(grade_ids)), f"{path.name}: grade_ids repeat: {grade_ids}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_nbgrader_clear_solutions_accepts_the_notebook(path):
    """nbgrader's own preprocessor, with its metadata enforcement on, clears every region."""
    nb = nbformat.read(path, as_version=4)
    regions = sum(source(c).count(BEGIN) for c in nb.cells if c.cell_type == "code")
    # The tag removal is the step an nbgrader course adds for the `solution` markdown cells.
    nb, _ = TagRemovePreprocessor(remove_cell_tags={"solution"}).preprocess(nb, {})
    nb, _ = ClearSolutions(enforce_metadata=True).preprocess(nb, {})
    text = "\n".join(c.source for c in nb.cells)
    assert BEGIN not in text and END not in text
    assert "{solution-start}" not in text and "{solution-end}" not in text
    assert text.count("raise NotImplementedError()") == regions


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_every_exercise_cell_is_followed_by_its_self_check(path):
    nb = read(path)
    cells = nb["cells"]
    for index, cell in enumerate(cells):
        if has_markers(cell):
            later = [c for c in cells[index + 1:] if c["cell_type"] == "code"
                     and "solution" not in c["metadata"].get("tags", [])]
            assert later and "vgcourse.check(" in source(later[0]), (
                f"{path.name}: cell {index} is an exercise, but the next code cell is not "
                "its vgcourse.check(...)")


# ---------------------------------------------------------------- the student notebooks


def execute(nb, cwd):
    node = nbformat.reads(json.dumps(nb), as_version=4)  # sources as strings
    NotebookClient(node, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return node


def text_of(outputs):
    parts = []
    for out in outputs:
        if out.get("output_type") == "stream":
            parts.append(out["text"])
        elif out.get("output_type") == "error":
            parts.append(f"{out['ename']}: {out['evalue']}")
        else:
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_student_notebook_runs_and_every_self_check_waits(path, tmp_path):
    """The student edition runs, and every self-check in it waits for an answer.

    What is executed is the student edition of the chapter from its first exercise to its end,
    with the set-up cell and every earlier cell those cells read
    (``grading.exercise_extract(..., to_end=True)``): the edition leaves every cell before the
    first exercise as the book has it (asserted here), and the book build executes those.
    """
    book = read(path)
    nb = student_notebook(book)
    checks = self_checks(nb)
    assert checks == self_checks(book), "the student edition lost a self-check"
    assert BEGIN not in json.dumps(nb)
    first = next(i for i, c in enumerate(book["cells"]) if "{exercise}" in source(c))
    assert [source(c) for c in nb["cells"][:first]] == \
        [source(c) for c in book["cells"][:first]], "the edition changed an earlier cell"
    extract = student_notebook(exercise_extract(book, to_end=True))
    assert self_checks(extract) == checks, "the extract lost a self-check"
    done = execute(extract, ROOT / "book")
    errors = [(i, text_of(c.outputs)) for i, c in enumerate(done.cells)
              if c.cell_type == "code" and any(o.output_type == "error" for o in c.outputs)]
    assert not errors, f"{path.name} (student edition) raised: {errors}"
    verdicts = [(c.source, text_of(c.outputs)) for c in done.cells
                if c.cell_type == "code" and "vgcourse.check(" in c.source]
    assert verdicts, f"{path.name} has no self-check cell"
    for code, verdict in verdicts:
        # One "not yet solved" per check the cell makes, and no verdict on a real answer.
        waiting = verdict.count("Not yet solved")
        assert waiting >= max(1, len(check_ids(code))), f"{code!r} printed {verdict!r}"
        assert "Correct" not in verdict and verdict.count("Not yet") == waiting, verdict


# ----------------------------------------------------------------------- the tool itself


def test_top_level_region_becomes_an_ellipsis_per_name():
    code = f"{BEGIN}\nprediction = 0.25**20\na, (b, *c) = 1, (2, 3)\n{END}\nprint('after')"
    stub = stub_source(code, "ex-x")
    assert stub.splitlines() == ["# YOUR CODE HERE (exercise ex-x)", "prediction = ...",
                                 "a = ...", "b = ...", "c = ...", "print('after')"]
    exec(compile(stub, "stub", "exec"), {})  # it runs


def test_indented_region_becomes_a_pointed_not_implemented_error():
    code = f'def f(x):\n    """Doc."""\n    {BEGIN}\n    return 2 * x\n    {END}'
    stub = stub_source(code, "ex-f")
    assert "return 2 * x" not in stub and '"""Doc."""' in stub
    namespace = {}
    exec(compile(stub, "stub", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="exercise ex-f"):
        namespace["f"](1)


@pytest.mark.parametrize("code", [f"{BEGIN}\nx = 1", f"x = 1\n{END}",
                                  f"{BEGIN}\n{BEGIN}\nx = 1\n{END}\n{END}"])
def test_unbalanced_markers_are_refused(code):
    with pytest.raises(ValueError, match="code has"):
        stub_source(code, "ex")


def toy_notebook():
    md = lambda text, tags=(): {"cell_type": "markdown", "metadata": {"tags": list(tags)},  # noqa: E731
                                "source": text}
    code = lambda text: {"cell_type": "code", "metadata": {}, "source": text,  # noqa: E731
                         "outputs": [{"output_type": "stream", "name": "stdout", "text": "1"}],
                         "execution_count": 3}
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        md("````{exercise} Guess\n:label: ex-toy\n\nGuess.\n````"),
        md("````{solution-start} ex-toy\n:class: dropdown\n````", tags=["solution"]),
        code(f"{BEGIN}\nguess = 4\n{END}"),
        md("Because.\n\n````{solution-end}\n````", tags=["solution"]),
        code('vgcourse.check("00-toy", guess)'),
    ]}


def test_student_notebook_removes_solution_cells_and_clears_outputs():
    original = toy_notebook()
    before = copy.deepcopy(original)
    student = student_notebook(original)
    assert original == before, "the source notebook must not be modified"
    assert [c["cell_type"] for c in student["cells"]] == ["markdown", "code", "code"]
    assert student["cells"][1]["source"].endswith("guess = ...")
    assert "ex-toy" in student["cells"][1]["source"]
    assert all(c["outputs"] == [] and c["execution_count"] is None
               for c in student["cells"] if c["cell_type"] == "code")
    assert self_checks(student) == ["00-toy"]


def test_an_untagged_solution_dropdown_is_refused():
    nb = toy_notebook()
    nb["cells"][1]["metadata"]["tags"] = []
    with pytest.raises(ValueError, match="cell 1 .* not tagged 'solution'"):
        student_notebook(nb)


def test_mark_solutions_writes_unique_grade_ids_once():
    nb = toy_notebook()
    nb["cells"].insert(3, copy.deepcopy(nb["cells"][2]))
    assert unmarked_cells(nb) == [2, 3]
    assert mark_solutions(nb) == 2
    assert unmarked_cells(nb) == []
    assert [nb["cells"][i]["metadata"]["nbgrader"]["grade_id"] for i in (2, 3)] == [
        "ex-toy", "ex-toy-2"]
    assert mark_solutions(nb) == 0  # idempotent


def test_command_line_writes_student_notebooks(tmp_path, capsys):
    source_path = tmp_path / "99_toy.ipynb"
    source_path.write_text(json.dumps(toy_notebook()))
    assert main(["--out", str(tmp_path / "student"), str(source_path)]) == 0
    written = read(tmp_path / "student" / "99_toy.ipynb")
    assert len(written["cells"]) == 3
    assert "1 self-check(s) kept" in capsys.readouterr().out
    assert main(["--mark", str(source_path)]) == 0
    assert unmarked_cells(read(source_path)) == []


def test_a_code_cell_tagged_solution_is_removed_too():
    """Chapter 10's decay-rate solution prints every model's rate from a code cell tagged
    `solution`: the student edition must drop it like the Markdown of the dropdown."""
    nb = toy_notebook()
    leak = {"cell_type": "code", "metadata": {"tags": ["solution"]}, "outputs": [],
            "execution_count": None, "source": "print('the answer is', guess)"}
    nb["cells"].insert(3, leak)
    student = student_notebook(nb)
    assert not any("the answer is" in "".join(c["source"]) for c in student["cells"])
    assert [c["cell_type"] for c in student["cells"]] == ["markdown", "code", "code"]


def test_a_region_of_imports_stubs_the_names_they_bind():
    """``import os.path`` binds ``os``; ``import numpy.linalg as la`` binds ``la``."""
    code = f"{BEGIN}\nimport os.path\nimport numpy.linalg as la\nfrom math import pi\n{END}"
    assert stub_source(code, "ex").splitlines() == [
        "# YOUR CODE HERE (exercise ex)", "os = ...", "la = ...", "pi = ..."]


@pytest.mark.parametrize("code, line", [(f"x = 1\ny = 2\n{END}", 3),
                                        (f"{BEGIN}\n{BEGIN}\n{END}", 2)])
def test_unbalanced_markers_name_their_line_counted_from_one(code, line):
    with pytest.raises(ValueError, match=f"at line {line} "):
        stub_source(code, "ex")


def test_mark_solutions_writes_nbgraders_schema_3_metadata():
    """The metadata nbgrader (schema version 3) expects of an answer cell, exactly."""
    nb = toy_notebook()
    assert mark_solutions(nb) == 1
    assert nb["cells"][2]["metadata"]["nbgrader"] == {
        "grade": False, "grade_id": "ex-toy", "locked": False, "schema_version": 3,
        "solution": True, "task": False}


def test_marked_notebook_is_written_in_nbformats_layout(tmp_path):
    """--mark rewrites the notebook as nbformat does: one space of indent per level, keys
    sorted, non-ASCII characters as they are, a final newline."""
    nb = toy_notebook()
    nb["cells"][0]["source"] += "\nσ′(u)"
    path = tmp_path / "99_toy.ipynb"
    path.write_text(json.dumps(nb))
    assert main(["--mark", str(path)]) == 0
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    assert lines[0] == "{" and lines[1] == ' "cells": [' and lines[2] == "  {"
    assert lines[-2:] == ["}", ""]
    assert "σ′(u)" in text
    mark_solutions(nb)
    assert json.loads(text) == nb
