"""Instructors can grade: the nbgrader course of `make nbgrader`, end to end.

The end-to-end test writes an exercise-only course for three chapters (chapter 10 among them),
releases it with nbgrader, autogrades four submissions per chapter (correct, one answer wrong,
blank, and a blank one that replaces ``vgcourse.check``) and reads the grades nbgrader exports.
Exercise-only assignments keep it fast: chapter 10's exercises need none of its training, so
its extract runs in seconds. nbgrader runs through this interpreter (``python -m nbgrader``).
"""

import csv
import json
import re
import sys
from pathlib import Path

import pytest

from vgcourse.authoring.grading import (
    CODE_STUB,
    POINTS,
    autograder_source,
    cell_names,
    cell_timeout,
    course_notebook,
    nbgrader,
    write_course,
)
from vgcourse.authoring.syllabus import BEGIN, source, toc_notebooks

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ["01_mathematics", "08_diagnosing", "10_case_study_text"]
# One answer per chapter made wrong: (answer cell's grade_id, wrong code, points it loses).
WRONG = {
    "01_mathematics": ("ex-01-tanh-chain", "prediction = 0.25**20", POINTS["prediction"]),
    # one run of five misdiagnosed: partial credit within the cell
    "08_diagnosing": ("ex-08-mysteries",
                      'diagnosis_a, diagnosis_b, diagnosis_c = "vanishing", "exploding", '
                      '"vanishing"\ndiagnosis_d, diagnosis_e = "exploding", "dead units"',
                      POINTS["prediction"]),
    "10_case_study_text": ("ex-10-bptt-horizon", "horizon = 63", POINTS["prediction"]),
}
# Autograded points of each chapter's exercises, hand-counted from the notebooks when this test
# was written (predictions 1 point, functions 2; the open question's 3 points graded by hand);
# the exact totals are read from the notebooks' nbgrader metadata.
AUTO = {"01_mathematics": 1 + 2 + 2, "08_diagnosing": 5 * 1 + 2, "10_case_study_text": 1 + 2 + 2}
MANUAL = {"01_mathematics": 3, "08_diagnosing": 3, "10_case_study_text": 3}
CHEAT = "import vgcourse\nvgcourse.check = lambda exercise, answer: True\n"


def read(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write(notebook, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1))


def _answers(release, source_nb, kind, chapter):
    """A submission made from the release: ``kind`` is correct, wrong, blank or cheat."""
    nb = json.loads(json.dumps(release))
    solutions = {c["metadata"]["nbgrader"]["grade_id"]: source(c) for c in source_nb["cells"]
                 if c["metadata"].get("nbgrader", {}).get("solution")}
    first = True
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if not meta.get("solution"):
            continue
        grade_id = meta["grade_id"]
        if kind in ("correct", "wrong"):
            cell["source"] = solutions[grade_id]
            if kind == "wrong" and grade_id == WRONG[chapter][0]:
                cell["source"] = WRONG[chapter][1]
        elif kind == "cheat" and first and cell["cell_type"] == "code":
            cell["source"] = CHEAT + source(cell)
            first = False
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The course, released, with four submissions per chapter autograded and exported."""
    course = tmp_path_factory.mktemp("grading") / "course"
    write_course(course, ROOT, chapters=CHAPTERS, exercises_only=True)
    for chapter in CHAPTERS:
        release = read(course / "release" / chapter / f"{chapter}.ipynb")
        source_nb = read(course / "source" / chapter / f"{chapter}.ipynb")
        for kind in ("correct", "wrong", "blank", "cheat"):
            write(_answers(release, source_nb, kind, chapter),
                  course / "submitted" / kind / chapter / f"{chapter}.ipynb")
        nbgrader(["autograde", chapter], course)
    nbgrader(["export", "--to", "grades.csv"], course)
    return course


@pytest.fixture(scope="module")
def grades(course):
    with open(course / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {(r["assignment"], r["student_id"]): (float(r["score"]), float(r["max_score"]))
            for r in rows}


def test_exported_grades_for_the_four_submissions(course, grades):
    table = {}
    for chapter in CHAPTERS:
        meta = [c["metadata"].get("nbgrader", {}) for c in
                read(course / "source" / chapter / f"{chapter}.ipynb")["cells"]]
        auto = sum(m["points"] for m in meta if m.get("grade") and not m.get("solution"))
        manual = sum(m["points"] for m in meta if m.get("grade") and m.get("solution"))
        # at least the exercises counted by hand (chapters may gain exercises)
        assert auto >= AUTO[chapter] and manual >= MANUAL[chapter], (chapter, auto, manual)
        total = auto + manual
        table[chapter] = {"correct": (auto, total),  # the open question awaits its grader
                          "wrong": (auto - WRONG[chapter][2], total),
                          "blank": (0, total),
                          "cheat": (0, total)}
    got = {c: {k: grades[c, k] for k in table[c]} for c in CHAPTERS}
    print("\n".join(f"{c}: {got[c]}" for c in CHAPTERS))
    assert got == table


def test_no_cell_timed_out_and_the_hints_reach_the_grader(course):
    for chapter in CHAPTERS:
        for kind in ("correct", "wrong", "blank", "cheat"):
            text = (course / "autograded" / kind / chapter / f"{chapter}.ipynb").read_text()
            assert "CellTimeoutError" not in text and "Timeout" not in text, (chapter, kind)
    wrong = read(course / "autograded" / "wrong" / "01_mathematics" / "01_mathematics.ipynb")
    failed = [o for c in wrong["cells"] if c["metadata"].get("nbgrader", {}).get("grade")
              for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert len(failed) == 1, failed
    # The visible test's assertion message is the self-check's hint, not a bare assert.
    assert failed[0]["ename"] == "AssertionError"
    assert "sigmoid chain's bound" in failed[0]["evalue"], failed[0]["evalue"]


def test_the_cheat_passes_the_visible_tests_and_fails_the_hidden_ones(course):
    nb = read(course / "autograded" / "cheat" / "10_case_study_text" / "10_case_study_text.ipynb")
    errors = [o["evalue"] for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")
              for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert errors and all(e.startswith("hidden test of 10-") for e in errors), errors


def test_the_release_holds_no_solution_hidden_test_or_model_answer(course):
    for chapter in CHAPTERS:
        release = read(course / "release" / chapter / f"{chapter}.ipynb")
        text = json.dumps(release)
        assert BEGIN not in text and "HIDDEN TESTS" not in text and "hidden_grader" not in text
        assert '"solution"' not in json.dumps([c["metadata"].get("tags", [])
                                                for c in release["cells"]])
        answers = [source(c) for c in release["cells"] if c["cell_type"] == "markdown"
                   and c["metadata"].get("nbgrader", {}).get("solution")]
        assert answers == ["YOUR ANSWER HERE"], answers
    # and the answer key, rubrics and grader stay in the instructor's folders
    assert (course / "rubrics" / "10_case_study_text.md").is_file()
    assert (course / "autograder" / "vgcourse_reference" / "checks" / "ch10_text.py").is_file()
    assert not (course / "autograder" / "vgcourse_reference" / "authoring").exists()


def test_the_whole_course_releases_every_chapter(tmp_path):
    """What `make nbgrader` writes, without the book build: every chapter of the table of
    contents as a full assignment, released by nbgrader (not executed)."""
    names = write_course(tmp_path / "c", ROOT)
    assert names == [p.stem for p in toc_notebooks(ROOT) if "{exercise}" in p.read_text()]
    for name in names:
        text = (tmp_path / "c" / "release" / name / f"{name}.ipynb").read_text()
        assert BEGIN not in text and "HIDDEN TESTS" not in text, name
    config = (tmp_path / "c" / "nbgrader_config.py").read_text()
    assert "c.Execute.timeout = " in config and "remove_cell_tags" in config


# ----------------------------------------------------------------- the pieces, without nbgrader


def test_cell_names_reads_globals_and_ignores_locals_builtins_and_magics():
    binds, uses = cell_names("import math\ndef f(x):\n    return math.exp(x) * scale\n"
                             "y = f(base)\nprint(len(y))\n%pip install x\n")
    assert binds == {"math", "f", "y"}
    assert uses == {"scale", "base"}  # x is local; print, len are builtins; math is bound here
    assert cell_names("def (:") == (set(), set())


def test_the_exercise_extract_keeps_what_the_exercises_read_and_nothing_else():
    notebook = read(ROOT / "book" / "10_case_study_text.ipynb")
    extract, _ = course_notebook(notebook, "/tmp/course", exercises_only=True)
    code = "\n".join(source(c) for c in extract["cells"] if c["cell_type"] == "code")
    assert "vgcourse.setup(seed=0)" in code and "import torch" in code
    assert "train_char_lm(" not in code.split("from vgcourse.language import")[-1].split(")")[1]
    full, _ = course_notebook(notebook, "/tmp/course")
    assert len(extract["cells"]) < len(full["cells"]) == len(notebook["cells"]) + 1


def test_a_top_level_answer_gets_an_ellipsis_so_the_release_runs():
    notebook = read(ROOT / "book" / "01_mathematics.ipynb")
    nb, rubrics = course_notebook(notebook, "/tmp/course")
    cell = next(c for c in nb["cells"]
                if c["metadata"].get("nbgrader", {}).get("grade_id") == "ex-01-tanh-chain")
    assert source(cell).startswith("prediction = ...  # your answer\n" + BEGIN)
    assert len(rubrics) == 1 and "Full (3 points)" in rubrics[0]
    assert "Equal is not large" in rubrics[0]  # drafted from the solution's sentences
    assert CODE_STUB.startswith("#") and CODE_STUB.endswith("pass")
    compile("def f(x):\n" + "\n".join("    " + line for line in CODE_STUB.split("\n")), "", "exec")


def test_a_single_self_check_becomes_an_assertion_with_the_hint_and_a_hidden_check():
    text = autograder_source('vgcourse.check("01-tanh-chain", prediction)',
                             ["01-tanh-chain"], 1, "/c")
    visible, hidden = text.split("### BEGIN HIDDEN TESTS")
    assert "_feedback = vgcourse.check('01-tanh-chain', prediction)" in visible
    assert "assert _feedback, str(_feedback)" in visible
    assert "_hidden_grader().require('01-tanh-chain', prediction)" in hidden
    assert "vgcourse" not in hidden.replace("_vgcourse_hidden", "")
    compile(text, "<test>", "exec")


def test_the_hidden_grader_ignores_a_patched_check(tmp_path, monkeypatch):
    import vgcourse

    write_course(tmp_path / "c", ROOT, chapters=["10"], exercises_only=True, release=False)
    sys.path.insert(0, str(tmp_path / "c" / "autograder"))
    try:
        import hidden_grader
    finally:
        sys.path.remove(str(tmp_path / "c" / "autograder"))
        sys.modules.pop("hidden_grader", None)
    monkeypatch.setattr(vgcourse, "check", lambda exercise, answer: True)
    monkeypatch.setitem(vgcourse.checks.CHECKERS, "10-bptt-horizon", lambda answer: "ok")
    assert hidden_grader.verdict("10-bptt-horizon", 63)[0] is False
    assert hidden_grader.verdict("10-bptt-horizon", ...) == (False, "not answered.")
    with pytest.raises(AssertionError, match="hidden test of 10-bptt-horizon"):
        hidden_grader.require("10-bptt-horizon", 65)
    code = 'for n, a in zip("ab", [x, y]):\n    display(vgcourse.check(f"08-mystery-{n}", a))'
    assert hidden_grader.score(code, {"x": "vanishing", "y": "healthy"},
                               ["08-mystery-a", "08-mystery-b"], 1) == 1
    with pytest.raises(ValueError, match="exercise='nope'"):
        hidden_grader.verdict("nope", 1)


def test_cell_timeout_comes_from_the_longest_recorded_chapter(tmp_path):
    import sqlite3

    db = tmp_path / "global.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE nbcache (data TEXT)")
        con.executemany("INSERT INTO nbcache VALUES (?)",
                        [('{"execution_seconds": 12.5}',), ('{"execution_seconds": 41.2}',)])
    seconds, reason = cell_timeout(db)
    assert seconds == 165 and "41.2 s" in reason  # ceil(4 x 41.2)
    assert cell_timeout(tmp_path / "missing.db")[0] == 300


def test_every_chapter_becomes_a_source_notebook_with_graded_cells():
    for path in toc_notebooks(ROOT):
        if "{exercise}" not in path.read_text():
            continue
        nb, _ = course_notebook(read(path), "/tmp/course")
        meta = [c["metadata"].get("nbgrader", {}) for c in nb["cells"]]
        tests = [m for m in meta if m.get("grade") and not m.get("solution")]
        assert tests and all(m["locked"] and m["points"] > 0 for m in tests), path.name
        for cell in nb["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("grade") and cell["cell_type"] == "code":
                assert re.search(r"^_hidden_grader\(\)\.(require|score)\(", source(cell), re.M)


def test_command_line_refuses_an_unknown_chapter(tmp_path):
    from vgcourse.authoring.grading import main

    with pytest.raises(ValueError, match="chapters=\\['99'\\]"):
        main(["--out", str(tmp_path / "c"), "--chapters", "99", "--no-release"])


# ------------------------------------------------------- the package holds no readable answer


def test_a_fingerprint_accepts_the_tolerance_and_a_seal_opens_only_for_the_answer():
    from vgcourse.checks._registry import fingerprint, matches, seal, unseal

    stored = fingerprint("x-1", 2.0, rel=1e-3)
    for near in (2.0, 2.0 * (1 + 1e-3), 2.0 * (1 - 1e-3)):
        assert matches("x-1", near, stored, rel=1e-3)
    for far in (2.0 * (1 + 3e-3), 2.0 * (1 - 3e-3), -2.0, float("nan"), 0.0):
        assert matches("x-1", far, stored, rel=1e-3) is None
    assert matches("x-2", 2.0, stored, rel=1e-3) is None  # salted with the exercise
    assert matches("x-1", 64, fingerprint("x-1", 64)) == "64"
    assert matches("x-1", 64.0, fingerprint("x-1", 64)) and not matches("x-1", 63,
                                                                      fingerprint("x-1", 64))
    sealed = seal("x-1", 2.0, "because √2 squared", rel=1e-3)
    assert "because" not in bytes.fromhex(sealed).decode("latin-1")
    assert unseal("x-1", matches("x-1", 2.001, stored, rel=1e-3), sealed) == "because √2 squared"
    with pytest.raises(ValueError, match="answer=inf"):
        fingerprint("x-1", float("inf"))


@pytest.mark.parametrize("text", [
    "1.125**10", "7 / (5", "value == 64", "B = 46", "math.sqrt(2)):", "\"vanishing\", \"the first",
    "0.5 ** (1 / 100)", "first_block / (1 - 0.5)", "_phi(edge)", "close(value, 1.0, rel=1e-3)",
])
def test_the_checkers_hold_no_reference_answer_in_readable_form(text):
    checks = ROOT / "vgcourse" / "checks"
    assert not [p.name for p in checks.glob("ch*.py") if text in p.read_text()]


def test_the_sealed_explanations_still_reach_the_learner():
    import vgcourse

    assert "tanh'(u)" in str(vgcourse.check("01-tanh-chain", 1.0))
    assert "chaotic phase" in str(vgcourse.check("08-mystery-d", "exploding"))
    assert "one character after the last input" in str(vgcourse.check("10-bptt-horizon", 64))
