"""Student editions of the chapters: ``python -m vgcourse.authoring.assign`` (``make student``).

A chapter marks its exercises the way ``CONTRIBUTING.md`` describes: the answer code sits
between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` lines (the nbgrader convention), and the
cells that open, explain and close a solution dropdown are tagged ``solution``. The
student edition of a notebook

- replaces each marked region with a stub: inside a function, a ``raise NotImplementedError``
  that names the exercise; at the top level of a cell, ``name = ...`` for every name the region
  assigns, so that the cell still runs and the self-check says "not yet solved";
- removes the cells tagged ``solution``;
- clears every output, and keeps everything else, self-check cells included.

``python -m vgcourse.authoring.assign --mark`` writes the nbgrader cell metadata
(``solution: true`` and a unique ``grade_id``) that nbgrader's ``ClearSolutions`` requires on
every cell holding markers.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import re
import sys
from pathlib import Path

from .syllabus import BEGIN, END, check_ids, source, toc_notebooks

#: The tag of the cells (markdown or code) of a solution; the student edition drops them.
SOLUTION_TAG = "solution"
_SOLUTION_START = re.compile(r"\{solution-start\}[ \t]*(\S+)")
_LABEL = re.compile(r"^:label:[ \t]*(\S+)", re.M)


def has_markers(cell) -> bool:
    """True if a code cell holds a ``### BEGIN SOLUTION`` marker."""
    return cell.get("cell_type") == "code" and BEGIN in source(cell)


def _tags(cell) -> list:
    return cell.get("metadata", {}).get("tags", [])


def _exercise_of(cells, index: int) -> str:
    """The label of the exercise that the code cell at ``index`` answers."""
    for cell in reversed(cells[:index]):
        if cell.get("cell_type") != "markdown":
            continue
        text = source(cell)
        match = _SOLUTION_START.search(text) or _LABEL.search(text)
        if match:
            return match.group(1)
    return f"cell {index}"


def _bound_names(code: str) -> list:
    """Names a top-level block of code binds (assignments, defs, imports, loop targets)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    names = []

    def targets(node):
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                targets(element)
        elif isinstance(node, ast.Starred):
            targets(node.value)

    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                targets(target)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets(node.target)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            targets(node.target)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names += [(a.asname or a.name).split(".")[0] for a in node.names]
    return list(dict.fromkeys(names))


def stub_source(code: str, exercise: str) -> str:
    """Replace every ``### BEGIN/END SOLUTION`` region of ``code`` with a stub.

    Parameters
    ----------
    code : str
        A code cell's source.
    exercise : str
        The exercise's label, named in the stub so that the learner knows where to look.

    Returns
    -------
    str
        The source with each region replaced: indented regions (a function body) by
        ``raise NotImplementedError("...")``; top-level regions by ``# YOUR CODE HERE`` and
        ``name = ...`` for each name the region binds, so the cell still runs.
    """
    lines, out, region, indent = code.split("\n"), [], None, ""
    for number, line in enumerate(lines, start=1):
        if BEGIN in line:
            if region is not None:
                raise ValueError(f"code has a nested {BEGIN!r} at line {number} "
                                 f"(exercise {exercise}); expected one END per BEGIN.")
            region, indent = [], line[: len(line) - len(line.lstrip())]
        elif END in line:
            if region is None:
                raise ValueError(f"code has {END!r} without a BEGIN at line {number} "
                                 f"(exercise {exercise}).")
            out.append(f"{indent}# YOUR CODE HERE (exercise {exercise})")
            if indent:
                out.append(f'{indent}raise NotImplementedError("exercise {exercise}: '
                           'write your code here")')
            else:
                out += [f"{name} = ..." for name in _bound_names("\n".join(region))
                        if not name.startswith("_")]  # loop dummies such as `_` need no stub
            region = None
        elif region is not None:
            region.append(line)
        else:
            out.append(line)
    if region is not None:
        raise ValueError(f"code has a {BEGIN!r} without an {END!r} (exercise {exercise}).")
    return "\n".join(out)


def student_notebook(notebook: dict) -> dict:
    """The student edition of a notebook (a new dict; the argument is not modified).

    Parameters
    ----------
    notebook : dict
        A notebook as read by ``json.load`` or ``nbformat.read``.

    Returns
    -------
    dict
        Solution regions stubbed (:func:`stub_source`), cells tagged ``solution`` removed,
        outputs and execution counts cleared.
    """
    nb = copy.deepcopy(dict(notebook))
    cells = nb["cells"]
    kept = []
    for index, cell in enumerate(cells):
        if SOLUTION_TAG in _tags(cell):
            continue
        if cell.get("cell_type") == "markdown" and re.search(r"\{solution-(start|end)\}",
                                                             source(cell)):
            raise ValueError(f"cell {index} opens or closes a solution but is not tagged "
                             f"{SOLUTION_TAG!r}; tag it so the student edition removes it.")
        if has_markers(cell):
            cell["source"] = stub_source(source(cell), _exercise_of(cells, index))
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        kept.append(cell)
    nb["cells"] = kept
    return nb


def mark_solutions(notebook: dict) -> int:
    """Write nbgrader's solution metadata on every cell that holds solution markers.

    nbgrader's ``ClearSolutions`` refuses a marker cell without ``nbgrader.solution: true``
    and a ``grade_id`` unique in the notebook. The ``grade_id`` is the exercise's label
    (``-2``, ``-3``… when an exercise has several marker cells).

    Parameters
    ----------
    notebook : dict
        Modified in place.

    Returns
    -------
    int
        The number of cells whose metadata changed.
    """
    cells, changed, used = notebook["cells"], 0, set()
    for index, cell in enumerate(cells):
        if not has_markers(cell):
            continue
        base = _exercise_of(cells, index).replace(" ", "-")
        grade_id, n = base, 1
        while grade_id in used:
            n += 1
            grade_id = f"{base}-{n}"
        used.add(grade_id)
        wanted = {"grade": False, "grade_id": grade_id, "locked": False,
                  "schema_version": 3, "solution": True, "task": False}
        if cell.setdefault("metadata", {}).get("nbgrader") != wanted:
            cell["metadata"]["nbgrader"] = wanted
            changed += 1
    return changed


def unmarked_cells(notebook: dict) -> list:
    """Indices of cells with solution markers but without nbgrader solution metadata."""
    return [i for i, c in enumerate(notebook["cells"]) if has_markers(c)
            and not c.get("metadata", {}).get("nbgrader", {}).get("solution")]


def self_checks(notebook: dict) -> list:
    """The self-check identifiers the notebook's code cells call, in order
    (see :func:`vgcourse.authoring.syllabus.check_ids`)."""
    return [m for c in notebook["cells"] if c.get("cell_type") == "code"
            for m in check_ids(source(c))]


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _write(notebook: dict, path: Path) -> None:
    # The layout nbformat writes (indent 1, sorted keys, UTF-8), so that diffs stay small.
    text = json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def student_site(target, root=".", toc="_toc.yml") -> list:
    """Write the source tree of the student website: the book with student notebooks.

    The tree mirrors the repository (``_config.yml``, ``_toc.yml``, ``book/``) so that every
    relative link and path keeps working; ``jupyter-book build <target>`` builds it. Pages
    for instructors (``book/instructors``) are left out of its table of contents, and the Colab
    launch button is switched off (the student notebooks have no public address; the page's
    download button serves the student notebook itself).

    Parameters
    ----------
    target : str or path-like
        Folder to (re)write, e.g. ``"_build/student/src"``.
    root : str or path-like, default "."
        The book's root folder.
    toc : str or path-like, default "_toc.yml"
        The table of contents to follow, relative to ``root``.

    Returns
    -------
    list of pathlib.Path
        The student notebooks written.
    """
    import shutil

    import yaml

    root, target = Path(root), Path(target)
    if target.resolve() in (root.resolve(), (root / "book").resolve()):
        raise ValueError(f"target={str(target)!r} would overwrite the book; expected a new folder.")
    config = yaml.safe_load((root / "_config.yml").read_text())
    contents = yaml.safe_load((root / toc).read_text())
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(root / "book", target / "book", ignore=shutil.ignore_patterns("*.ipynb"))

    def keep(entries):
        return [dict(e, **({"sections": keep(e["sections"])} if "sections" in e else {}))
                for e in entries or [] if not str(e.get("file", "")).endswith("instructors")]

    if "chapters" in contents:
        contents["chapters"] = keep(contents["chapters"])
    for part in contents.get("parts", []) or []:
        part["chapters"] = keep(part.get("chapters"))
    (target / "_toc.yml").write_text(yaml.safe_dump(contents, sort_keys=False))
    config["title"] = f"{config.get('title', 'vgcourse')} (student edition)"
    config.get("launch_buttons", {}).pop("colab_url", None)
    (target / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False,
                                                       allow_unicode=True))
    written = []
    for path in toc_notebooks(root, toc):
        out = target / path.relative_to(root)
        _write(student_notebook(_read(path)), out)
        written.append(out)
    return written


def main(argv=None) -> int:
    """Command line: ``python -m vgcourse.authoring.assign [--mark] [--out DIR] [notebook ...]``."""
    parser = argparse.ArgumentParser(
        prog="python -m vgcourse.authoring.assign",
        description="Write student editions of the chapter notebooks (solutions stubbed, "
                    "solution cells removed, outputs cleared), or with --mark write the "
                    "nbgrader metadata that marker cells need.")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to process (default: every notebook of the toc)")
    parser.add_argument("--toc", default="_toc.yml", help="table of contents (default %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("student"),
                        help="folder for the student notebooks (default %(default)s)")
    parser.add_argument("--mark", action="store_true",
                        help="write nbgrader solution metadata into the notebooks, in place")
    parser.add_argument("--site", type=Path, metavar="DIR",
                        help="also write the student website's source tree to DIR")
    args = parser.parse_args(argv)
    paths = args.notebooks or toc_notebooks(".", args.toc)
    if args.site and not args.mark:
        written = student_site(args.site, ".", args.toc)
        print(f"{args.site}: student website source with {len(written)} notebook(s)")
    for path in paths:
        notebook = _read(path)
        if args.mark:
            changed = mark_solutions(notebook)
            if changed:
                _write(notebook, path)
            print(f"{path}: nbgrader metadata on {changed} more cell(s)")
            continue
        student = student_notebook(notebook)
        args.out.mkdir(parents=True, exist_ok=True)
        target = args.out / path.name
        _write(student, target)
        stubs = sum(has_markers(c) for c in notebook["cells"])
        removed = len(notebook["cells"]) - len(student["cells"])
        print(f"{target}: {stubs} solution region cell(s) stubbed, {removed} solution cell(s) "
              f"removed, {len(self_checks(student))} self-check(s) kept")
    return 0


if __name__ == "__main__":
    sys.exit(main())
