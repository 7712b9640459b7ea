"""An nbgrader course from the chapters (``make nbgrader``).

``python -m vgcourse.authoring.grading`` writes it.

The course directory it writes (default ``nbgrader_course/``, gitignored) is ready for nbgrader:

- ``nbgrader_config.py``: solution markers and stub text, the ``solution`` cells removed from the
  release, and a cell timeout set from the longest chapter execution the book build recorded;
- ``source/<chapter>/<chapter>.ipynb`` for every chapter of the table of contents, in which

  - every self-check cell is a locked autograder test with points: the visible test is the
    self-check, whose hint becomes the assertion message; the hidden test (``### BEGIN HIDDEN
    TESTS``) asks ``autograder/hidden_grader.py`` for the verdict, which loads the checkers
    afresh from the course's own copy of the package, so replacing ``vgcourse.check`` in the
    kernel earns nothing;
  - every open question (an exercise whose solution holds no code) gains a manually graded
    answer cell with points, holding the solution text as the model answer (the release
    replaces it with ``YOUR ANSWER HERE``);
  - a top-level answer region such as ``prediction = 1.0`` is preceded by ``prediction = ...``,
    so the release, whose regions become ``# YOUR CODE HERE`` and ``pass``, still runs from top
    to bottom;

- ``autograder/``: the hidden tests' grader and the package copy it loads;
- ``rubrics/<chapter>.md``: a rubric (full, partial, missing) per open question, drafted from
  the solution text, for the instructor only;
- ``answer_key/<chapter>.ipynb``: the chapters executed with their solutions (the book build's
  executed notebooks, when present);
- ``release/``, ``gradebook.db``: written by ``nbgrader generate_assignment`` for every
  assignment (skip with ``--no-release``).

nbgrader runs through this interpreter (``python -m nbgrader``) with the interpreter's folder
first on ``PATH`` (nbgrader calls ``alembic`` by name), so nothing depends on an activated venv.
"""

from __future__ import annotations

import argparse
import builtins
import copy
import json
import math
import os
import re
import shutil
import sqlite3
import subprocess
import symtable
import sys
from pathlib import Path

from .assign import SOLUTION_TAG, _bound_names, _read, _tags, _write, has_markers
from .syllabus import BEGIN, END, check_ids, source, toc_notebooks

#: Points per kind of exercise: a predicted number, a function to complete, an open question.
POINTS = {"prediction": 1, "code": 2, "open": 3}
#: The stub nbgrader puts in place of a solution region: a comment and ``pass``, valid at the
#: top level of a cell and as a function's whole body, so the cell still runs.
CODE_STUB = "# YOUR CODE HERE\npass"
TEXT_STUB = "YOUR ANSWER HERE"
#: The cell timeout is this many times the longest chapter execution the book build recorded:
#: no cell takes longer than its whole chapter, and a loaded machine runs two to three times
#: slower than the build that measured it.
TIMEOUT_MARGIN = 4
#: Cell timeout when no book build has been recorded: the book's own ``execute.timeout``.
DEFAULT_TIMEOUT = 300
MIN_TIMEOUT = 120
_HIDDEN_GRADER = Path(__file__).with_name("hidden_grader.py")
_EXERCISE = re.compile(r"\{exercise\}[ \t]*(?P<title>.*?)\n(?:.*\n)*?:label:[ \t]*(?P<label>\S+)",
                       re.M)
_FENCE = re.compile(r"^`{3,}\{solution-(start|end)\}.*$|^:class:.*$|^`{3,}[ \t]*$", re.M)
_IPYTHON_NAMES = {"display", "get_ipython", "In", "Out"}


# ------------------------------------------------------------------------ reading the cells


def _python(code: str) -> str:
    """A cell's code with IPython syntax (``%pip``, ``!ls``) turned into plain Python."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(code)


def cell_names(code: str) -> tuple:
    """``(binds, uses)``: the global names a code cell binds, and those it reads from earlier
    cells (builtins and IPython's ``display`` excluded). Code that does not parse binds and
    uses nothing."""
    try:
        table = symtable.symtable(_python(code), "<cell>", "exec")
    except SyntaxError:
        return set(), set()
    binds = {s.get_name() for s in table.get_symbols()
             if s.is_assigned() or s.is_imported() or s.is_namespace()}
    uses = set()

    def walk(scope, top):
        for symbol in scope.get_symbols():
            name = symbol.get_name()
            if (symbol.is_referenced() and (top or symbol.is_global())
                    and name not in binds):
                uses.add(name)
        for child in scope.get_children():
            walk(child, False)

    walk(table, True)
    return binds, uses - set(dir(builtins)) - _IPYTHON_NAMES


def _exercise_blocks(cells) -> list:
    """``(label, title, start, stop)`` for each ``{exercise}`` cell: the exercise's cells are
    ``cells[start:stop]``, up to the next exercise or the next ``## `` heading."""
    found = []
    for index, cell in enumerate(cells):
        if cell.get("cell_type") == "markdown":
            match = _EXERCISE.search(source(cell))
            if match:
                found.append([match.group("label"), match.group("title").strip(), index, None])
    for number, block in enumerate(found):
        limit = found[number + 1][2] if number + 1 < len(found) else len(cells)
        stop = limit
        for index in range(block[2] + 1, limit):
            if cells[index].get("cell_type") == "markdown" and \
                    source(cells[index]).lstrip().startswith("## "):
                stop = index
                break
        block[3] = stop
    return [tuple(b) for b in found]


def _solution_text(cells) -> str:
    """The prose of a solution dropdown: its markdown cells without the directive fences."""
    text = "\n\n".join(source(c) for c in cells
                       if c.get("cell_type") == "markdown" and SOLUTION_TAG in _tags(c))
    return re.sub(r"\n{3,}", "\n\n", _FENCE.sub("", text)).strip()


def _check_call(code: str):
    """``(exercise, answer source)`` if the cell is one ``vgcourse.check("<id>", answer)``
    call, else ``None``."""
    import ast

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return None
    call = tree.body[0].value
    if (isinstance(call, ast.Call) and ast.unparse(call.func) == "vgcourse.check"
            and len(call.args) == 2 and not call.keywords
            and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)):
        return call.args[0].value, ast.get_source_segment(code, call.args[1])
    return None


# ----------------------------------------------------------------------- the graded cells


def _metadata(grade_id: str, *, grade: bool, solution: bool, locked: bool, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


_LOADER = '''\
def _hidden_grader():
    """The course's grader, loaded by path (autograder/hidden_grader.py)."""
    import importlib.util
    from pathlib import Path

    here = Path.cwd()
    for folder in [here, *here.parents, Path({course!r})]:
        path = folder / "autograder" / "hidden_grader.py"
        if path.is_file():
            spec = importlib.util.spec_from_file_location("_vgcourse_hidden", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise FileNotFoundError("autograder/hidden_grader.py of the nbgrader course")

'''


def autograder_source(code: str, exercises: list, points_each: int, course: str) -> str:
    """The source of the autograder test cell that replaces a self-check cell.

    Parameters
    ----------
    code : str
        The chapter's self-check cell.
    exercises : list of str
        The self-check identifiers it checks.
    points_each : int
        Points per exercise.
    course : str
        The course directory, a last resort for finding the grader (the test looks in the
        folders above the notebook first).

    Returns
    -------
    str
        One ``vgcourse.check`` call: the visible test asserts its verdict with the hint as the
        message, and the hidden test requires the course grader's verdict. Several calls (a
        loop): the visible test shows each verdict, and the hidden test's last line is the
        points earned, one share per exercise the course grader accepts (partial credit).
    """
    single = _check_call(code)
    loader = _LOADER.format(course=str(course))
    if single and len(exercises) == 1:
        exercise, answer = single
        return (f"# Autograder test, {points_each} point(s): the self-check of {exercise}.\n"
                f"_feedback = vgcourse.check({exercise!r}, {answer})\n"
                "assert _feedback, str(_feedback)\n"
                "### BEGIN HIDDEN TESTS\n"
                f"{loader}\n"
                f"_hidden_grader().require({exercise!r}, {answer})\n"
                "### END HIDDEN TESTS")
    return (f"# Autograder test, {points_each} point(s) for each of {', '.join(exercises)}.\n"
            f"{code.rstrip()}\n"
            "### BEGIN HIDDEN TESTS\n"
            f"{loader}\n"
            f"_hidden_grader().score(\n    {code!r},\n    globals(),\n    {exercises!r},\n"
            f"    {points_each},\n)\n"
            "### END HIDDEN TESTS")


def _stub_names(cell) -> None:
    """Precede each top-level solution region with ``name = ...`` for every name it binds, so
    that nbgrader's stub (a comment) leaves the names defined and the cell runnable."""
    lines, out, region, slot = source(cell).split("\n"), [], None, 0
    for line in lines:
        if BEGIN in line and not line[: len(line) - len(line.lstrip())]:
            region, slot = [], len(out)
            out.append(None)  # placeholder for the stub lines
            out.append(line)
        elif END in line and region is not None:
            names = [n for n in _bound_names("\n".join(region)) if not n.startswith("_")]
            out[slot] = "\n".join(f"{n} = ...  # your answer" for n in names) or None
            out.append(line)
            region = None
        else:
            if region is not None:
                region.append(line)
            out.append(line)
    cell["source"] = "\n".join(line for line in out if line is not None)


def _cleared(code: str) -> str:
    """``code`` as nbgrader's ``ClearSolutions`` leaves it (each region becomes the stub)."""
    out, inside = [], False
    for line in code.split("\n"):
        if BEGIN in line:
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + stub for stub in CODE_STUB.split("\n")]
        elif END in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def _rubric(label: str, title: str, question: str, solution: str, points: int) -> str:
    """A rubric drafted from the solution text: its sentences are the points to look for."""
    prose = re.sub(r"```.*?```", " ", solution, flags=re.S)
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(])", " ".join(prose.split()))
                 if len(s.split()) > 3]
    keys = "\n".join(f"   - {s}" for s in sentences)
    return (f"**{title}** ({label}, {points} points)\n\n"
            f"**Question.** {' '.join(question.split())}\n\n"
            f"- **Full ({points} points):** the answer makes the solution's points, with reasons:\n"
            f"{keys}\n"
            f"- **Partial ({points - 2}–{points - 1} points):** the main mechanism (the first "
            "point) is right but later points are missing or unsupported, or the points are "
            "stated without reasons. One point per point made with its reason, at most "
            f"{points - 1}.\n"
            "- **Missing (0 points):** no answer, or none of these points (restating the "
            "question, or a claim the chapter's measurements contradict).\n")


def course_notebook(notebook: dict, course=".", exercises_only: bool = False) -> tuple:
    """The nbgrader source of one chapter, and the rubrics of its open questions.

    Parameters
    ----------
    notebook : dict
        A chapter notebook (marked with ``python -m vgcourse.authoring.assign --mark``).
    course : str or path-like, default "."
        The course directory (named in the hidden tests as a last resort).
    exercises_only : bool, default False
        Keep only the exercises and the earlier cells they need (the set-up cell and every cell
        that binds a name an exercise cell reads, transitively): a short assignment that runs in
        seconds, also for a chapter whose experiments take long.

    Returns
    -------
    tuple (dict, list of str)
        The source notebook (a new dict) and one Markdown rubric per open question.
    """
    nb = copy.deepcopy(dict(notebook))
    cells = nb["cells"]
    blocks = _exercise_blocks(cells)
    if not blocks:
        raise ValueError("notebook has no {exercise} block; expected a chapter with exercises.")
    if exercises_only:
        keep = _exercise_cells(cells, blocks)
    else:
        keep = list(range(len(cells)))
    graded, rubrics, inserts = {}, [], {}
    for label, title, start, stop in blocks:
        block = cells[start:stop]
        code = [c for c in block if has_markers(c)]
        if not code:  # an open question: a manually graded answer cell after its solution
            solution = _solution_text(block)
            last = max((i for i in range(start, stop) if SOLUTION_TAG in _tags(cells[i])),
                       default=start)
            question = re.sub(r"^`{3,}.*$|^:label:.*$", "", source(cells[start]), flags=re.M)
            question = question.split("{exercise}")[-1].strip()
            answer = {"cell_type": "markdown", "id": f"{label}-answer",
                      "metadata": _metadata(f"{label}-answer", grade=True, solution=True,
                                            locked=False, points=POINTS["open"]),
                      "source": f"**Your answer** ({title}):\n\n{solution}"}
            inserts[last] = answer
            rubrics.append(_rubric(label, title, question, solution, POINTS["open"]))
            continue
        kind = "code" if any(BEGIN in line and line[:1].isspace()
                             for c in code for line in source(c).split("\n")) else "prediction"
        for index in range(start, stop):
            cell = cells[index]
            if has_markers(cell):
                _stub_names(cell)
                try:
                    compile(_python(_cleared(source(cell))), "<cell>", "exec")
                except SyntaxError as error:
                    raise ValueError(f"exercise {label}: with its regions replaced by "
                                     f"{CODE_STUB!r} the answer cell does not parse ({error})."
                                     ) from None
            elif (cell.get("cell_type") == "code" and SOLUTION_TAG not in _tags(cell)
                  and check_ids(source(cell))):
                graded[index] = (label, kind)
    out = []
    for index in keep:
        cell = cells[index]
        if index in graded:
            label, kind = graded[index]
            exercises = check_ids(source(cell))
            cell = {"cell_type": "code", "execution_count": None, "outputs": [],
                    "id": f"test-{exercises[0]}",
                    "metadata": _metadata(f"test-{exercises[0]}", grade=True, solution=False,
                                          locked=True, points=POINTS[kind] * len(exercises)),
                    "source": autograder_source(source(cell), exercises, POINTS[kind],
                                          str(Path(course).resolve()))}
        elif cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        out.append(cell)
        if index in inserts:
            out.append(inserts[index])
    nb["cells"] = out
    return nb, rubrics


def rubrics(root=".", toc="_toc.yml") -> list:
    """``(notebook path, [rubric, ...])`` for every chapter of the table of contents: the
    Markdown rubrics of its open questions, as ``make nbgrader`` writes them to ``rubrics/``."""
    return [(path, course_notebook(_read(path))[1]) for path in toc_notebooks(root, toc)]


def exercise_extract(notebook: dict, to_end: bool = False) -> dict:
    """A copy of a chapter with only its exercise-only extract (as ``exercises_only`` of
    :func:`course_notebook` keeps): the title, the set-up cell, the exercises and every earlier
    cell whose names they read, transitively; with ``to_end``, also every cell after the last
    exercise (and what it reads). The cells keep their sources, tags and outputs.

    Raises ``ValueError`` for a notebook without an ``{exercise}`` block.
    """
    cells = notebook["cells"]
    blocks = _exercise_blocks(cells)
    if not blocks:
        raise ValueError("notebook has no {exercise} block; expected a chapter with exercises.")
    keep = _exercise_cells(cells, blocks, stop=len(cells) if to_end else None)
    nb = copy.deepcopy(dict(notebook))
    nb["cells"] = [nb["cells"][i] for i in keep]
    return nb


def _exercise_cells(cells, blocks, stop=None) -> list:
    """Indices of the exercise-only extract: the title, the set-up cell, the exercises (without
    solution demonstrations in code; up to ``stop`` if given) and every earlier cell whose
    names they read."""
    first, last = blocks[0][2], blocks[-1][3] if stop is None else stop
    heading = first - 1
    if heading >= 0 and cells[heading].get("cell_type") == "markdown" and \
            source(cells[heading]).strip() == "## Exercises":
        first = heading
    section = [i for i in range(first, last)
               if not (cells[i].get("cell_type") == "code" and SOLUTION_TAG in _tags(cells[i])
                       and not has_markers(cells[i]))]
    needed = set()
    for i in section:
        if cells[i].get("cell_type") == "code":
            needed |= cell_names(source(cells[i]))[1]
    setup = next(i for i, c in enumerate(cells) if c.get("cell_type") == "code")
    chosen = {0, setup}
    for i in range(first - 1, -1, -1):
        if cells[i].get("cell_type") != "code":
            continue
        binds, uses = cell_names(source(cells[i]))
        if binds & needed:
            chosen.add(i)
            needed = (needed - binds) | uses
    return sorted(chosen) + section


# ------------------------------------------------------------------------------ the course


def cell_timeout(cache_db=None) -> tuple:
    """``(seconds, reason)``: the cell timeout for executing the chapters under nbgrader.

    ``TIMEOUT_MARGIN`` times the longest chapter execution recorded in the book build's
    jupyter-cache database (``_build/.jupyter_cache/global.db``), at least ``MIN_TIMEOUT``;
    ``DEFAULT_TIMEOUT`` when there is no record.
    """
    longest = 0.0
    if cache_db and Path(cache_db).is_file():
        with sqlite3.connect(cache_db) as db:
            for (data,) in db.execute("SELECT data FROM nbcache"):
                longest = max(longest, float(json.loads(data or "{}").get("execution_seconds", 0)))
    if longest <= 0:
        return DEFAULT_TIMEOUT, "no book build recorded; the book's own execute.timeout"
    seconds = max(MIN_TIMEOUT, math.ceil(TIMEOUT_MARGIN * longest))
    return seconds, (f"{TIMEOUT_MARGIN} x the longest chapter execution of the last book build "
                     f"({longest:.1f} s, {cache_db}), at least {MIN_TIMEOUT} s")


CONFIG = '''\
# nbgrader configuration of the vgcourse course, written by `make nbgrader`
# (python -m vgcourse.authoring.grading); regenerate it rather than edit it.
from nbconvert.preprocessors import TagRemovePreprocessor
from nbgrader.converters import GenerateAssignment

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "vgcourse"

# The markdown (and demonstration code) cells of a solution dropdown are tagged "solution":
# remove them from the release before nbgrader's own preprocessors run.
c.GenerateAssignment.preprocessors = [
    TagRemovePreprocessor,
    *GenerateAssignment.class_traits()["preprocessors"].default(),
]
c.TagRemovePreprocessor.enabled = True
c.TagRemovePreprocessor.remove_cell_tags = {{"solution"}}

# Solution regions and hidden tests use nbgrader's default markers.
c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"
c.ClearSolutions.end_solution_delimeter = "END SOLUTION"
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"
# A region becomes a comment and `pass`, and a top-level answer keeps a `name = ...` line
# outside the markers, so the release runs from top to bottom.
c.ClearSolutions.code_stub = {{"python": {code_stub!r}}}
c.ClearSolutions.text_stub = {text_stub!r}

# Cell timeout: {reason}.
c.Execute.timeout = {timeout}
c.ExecutePreprocessor.timeout = {timeout}
'''


def nbgrader(args, course, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args>`` in ``course`` through this interpreter (``python -m nbgrader``),
    with the interpreter's folder first on ``PATH`` for the ``alembic`` nbgrader calls."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          check=check, capture_output=True, text=True)


def write_course(out, root=".", toc="_toc.yml", chapters=None, exercises_only=False,
                 answer_key=None, cache_db=None, release=True) -> list:
    """Write the nbgrader course directory (see the module's description).

    Parameters
    ----------
    out : str or path-like
        The course directory; ``source/``, ``autograder/``, ``rubrics/`` and ``answer_key/`` are
        rewritten, the gradebook and students' submissions are kept.
    root, toc : str or path-like
        The book's root folder and table of contents.
    chapters : list of str, optional
        Notebook stems or numbers (``"01_mathematics"`` or ``"01"``) to include; default all.
    exercises_only : bool, default False
        Write exercise-only assignments (see :func:`course_notebook`).
    answer_key : str or path-like, optional
        A folder of executed chapter notebooks (e.g. ``_build/jupyter_execute/book``) to copy
        into ``answer_key/``.
    cache_db : str or path-like, optional
        The book build's jupyter-cache database, for the cell timeout (:func:`cell_timeout`).
    release : bool, default True
        Run ``nbgrader generate_assignment`` for every assignment.

    Returns
    -------
    list of str
        The assignment names (notebook stems); a chapter without exercises has none.
    """
    root, out = Path(root), Path(out).resolve()
    paths = toc_notebooks(root, toc)
    if chapters:
        wanted = set(chapters)
        paths = [p for p in paths if p.stem in wanted or p.stem.split("_")[0] in wanted]
        if not paths:
            raise ValueError(f"chapters={chapters!r} match no notebook of {toc}; expected stems "
                             "such as '01_mathematics' or numbers such as '01'.")
    if out.resolve() in (root.resolve(), (root / "book").resolve()):
        raise ValueError(f"out={str(out)!r} would overwrite the book; expected a new folder.")
    for folder in ("source", "autograder", "rubrics", "answer_key"):
        shutil.rmtree(out / folder, ignore_errors=True)
    (out / "autograder").mkdir(parents=True)
    package = Path(__file__).resolve().parents[1]
    shutil.copytree(package, out / "autograder" / "vgcourse_reference",
                    ignore=shutil.ignore_patterns("authoring", "__pycache__", "*.pyc"))
    shutil.copy(_HIDDEN_GRADER, out / "autograder" / "hidden_grader.py")
    timeout, reason = cell_timeout(cache_db)
    (out / "nbgrader_config.py").write_text(CONFIG.format(
        code_stub=CODE_STUB, text_stub=TEXT_STUB, timeout=timeout, reason=reason))
    names, rubric_pages = [], []
    for path in paths:
        if not _exercise_blocks(_read(path)["cells"]):
            continue  # a chapter without exercises has nothing to grade
        notebook, rubrics = course_notebook(_read(path), out, exercises_only)
        name = path.stem
        (out / "source" / name).mkdir(parents=True)
        _write(notebook, out / "source" / name / f"{name}.ipynb")
        if rubrics:
            (out / "rubrics").mkdir(exist_ok=True)
            page = f"# Rubrics: {name}\n\n" + "\n".join(rubrics)
            (out / "rubrics" / f"{name}.md").write_text(page)
            rubric_pages.append(page)
        if answer_key and (Path(answer_key) / path.name).is_file():
            (out / "answer_key").mkdir(exist_ok=True)
            shutil.copy(Path(answer_key) / path.name, out / "answer_key" / path.name)
        names.append(name)
    (out / "README.md").write_text(_README.format(timeout=timeout, reason=reason,
                                                  names=", ".join(names)))
    if release:
        release_assignments(out, names)
    return names


_RELEASE = """\
import sys
from pathlib import Path

from nbgrader.converters import GenerateAssignment
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader

course = Path(sys.argv[1]).resolve()
config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
config.CourseDirectory.root = str(course)
for name in sys.argv[2:]:
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = name
    app = GenerateAssignment(coursedir=coursedir, config=config)
    app.force, app.create_assignment = True, True
    app.start()
"""


def release_assignments(course, names) -> None:
    """``nbgrader generate_assignment`` for each of ``names``, in one process of this
    interpreter (nbgrader's own converter, the course's ``nbgrader_config.py``): the releases
    go to ``release/`` and the assignments into ``gradebook.db``."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    done = subprocess.run([sys.executable, "-c", _RELEASE, str(course), *names], cwd=course,
                          env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"nbgrader generate_assignment failed in {course}:\n"
                           f"{done.stderr[-3000:]}")


_README = """\
# The vgcourse nbgrader course (instructor's copy: do not share)

Written by `make nbgrader` (`python -m vgcourse.authoring.grading`). Assignments: {names}.

- `source/<chapter>/`: the chapters with their solutions, autograder tests (visible and hidden)
  and manually graded answer cells; `release/<chapter>/`: what students get.
- `autograder/`: the grader the hidden tests load, and the package copy it reads the checkers
  from. The hidden tests find it by looking in the folders above the notebook being graded.
- `rubrics/`: one rubric per open question. `answer_key/`: the chapters executed with solutions.
- `nbgrader_config.py`: cell timeout {timeout} s ({reason}).

Grade (run from this folder, with the course's Python):

    python -m nbgrader collect <chapter>          # or copy into submitted/<student>/<chapter>/
    python -m nbgrader autograde <chapter>
    python -m nbgrader formgrader                 # or grade the open questions in the notebooks
    python -m nbgrader export                     # grades.csv
    python -m nbgrader generate_feedback <chapter>
"""


def main(argv=None) -> int:
    """Command line: ``python -m vgcourse.authoring.grading [--out DIR] [--chapters ...]``."""
    parser = argparse.ArgumentParser(
        prog="python -m vgcourse.authoring.grading",
        description="Write an nbgrader course directory from the chapters: autograder tests "
                    "with hidden tests, manually graded open questions, rubrics, answer key.")
    parser.add_argument("--out", type=Path, default=Path("nbgrader_course"),
                        help="course directory (default %(default)s)")
    parser.add_argument("--toc", default="_toc.yml", help="table of contents (default %(default)s)")
    parser.add_argument("--chapters", nargs="*", help="notebook stems or numbers (default all)")
    parser.add_argument("--exercises-only", action="store_true",
                        help="assignments of the exercises and the cells they need only")
    parser.add_argument("--build", type=Path, default=Path("_build"),
                        help="the book build: answer key and timings (default %(default)s)")
    parser.add_argument("--no-release", action="store_true",
                        help="do not run nbgrader generate_assignment")
    args = parser.parse_args(argv)
    names = write_course(args.out, ".", args.toc, args.chapters, args.exercises_only,
                         answer_key=args.build / "jupyter_execute" / "book",
                         cache_db=args.build / ".jupyter_cache" / "global.db",
                         release=not args.no_release)
    print(f"{args.out}: nbgrader course with {len(names)} assignment(s): {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
