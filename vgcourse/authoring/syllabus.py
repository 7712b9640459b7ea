"""What each chapter teaches, read from the notebooks themselves (never typed twice).

The instructor guide's overview table (``book/instructors.md``) and the student edition
(:mod:`vgcourse.authoring.assign`) both read the chapters through this module: the table of
contents (``_toc.yml``), each notebook's title, learning objectives, prerequisites and exercises.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

#: Reading speed assumed by :attr:`Chapter.minutes` (words per minute of technical prose).
WORDS_PER_MINUTE = 120
#: Time assumed per exercise by :attr:`Chapter.minutes` (a predict-then-run or a short function).
MINUTES_PER_EXERCISE = 10

_EXERCISE = re.compile(r"^`{3,}\{exercise\}[ \t]*(?P<title>.*?)[ \t]*\n(?P<body>.*?)^`{3,}[ \t]*$",
                       re.M | re.S)
_LABEL = re.compile(r"^:label:[ \t]*(\S+)", re.M)
_CHECK = re.compile(r"""vgcourse\.check\(\s*(f?)["']([^"']+)["']""")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


@dataclass
class Exercise:
    """One ``{exercise}`` block of a chapter.

    Attributes
    ----------
    label : str
        The block's ``:label:`` (used by ``{solution-start}`` and in links).
    title : str
        The block's title, e.g. ``"Predict, then run"``.
    checks : list of str
        The self-check identifiers (``vgcourse.check("<id>", ...)``) that follow it.
    """

    label: str
    title: str
    checks: list = field(default_factory=list)


@dataclass
class Chapter:
    """What one chapter notebook says about itself.

    Attributes
    ----------
    path : pathlib.Path
        The notebook.
    docname : str
        Its name in the table of contents, e.g. ``"book/01_mathematics"``.
    title : str
        The first ``#`` heading.
    objectives : list of str
        The numbered learning objectives (MyST markdown).
    prerequisites : str
        The prerequisites paragraph (MyST markdown), ``""`` if the chapter has none.
    exercises : list of Exercise
        The exercises, in order.
    words : int
        Words of prose in the markdown cells (for the reading-time estimate).
    """

    path: Path
    docname: str
    title: str
    objectives: list
    prerequisites: str
    exercises: list
    words: int

    @property
    def minutes(self) -> int:
        """Estimated study time in minutes: the prose read at ``WORDS_PER_MINUTE`` plus
        ``MINUTES_PER_EXERCISE`` per exercise, rounded up to a multiple of 5."""
        raw = self.words / WORDS_PER_MINUTE + MINUTES_PER_EXERCISE * len(self.exercises)
        return int(5 * -(-raw // 5))


def toc_files(root=".", toc="_toc.yml") -> list:
    """Every file the table of contents lists, in order, without extension.

    Parameters
    ----------
    root : str or path-like, default "."
        The book's root folder (where ``_config.yml`` lives).
    toc : str or path-like, default "_toc.yml"
        The table of contents, relative to ``root`` unless absolute.
    """
    import yaml

    path = Path(root) / toc
    if not path.is_file():
        raise ValueError(f"toc={str(toc)!r} is not a file under root={str(root)!r}; "
                         "expected a Jupyter Book _toc.yml.")
    data = yaml.safe_load(path.read_text())
    files = [data["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    walk(data.get("chapters"))
    for part in data.get("parts", []) or []:
        walk(part.get("chapters"))
    return [str(Path(f).with_suffix("")) if f.endswith((".md", ".ipynb")) else f for f in files]


def toc_notebooks(root=".", toc="_toc.yml") -> list:
    """The notebooks (``pathlib.Path``) the table of contents lists, in order."""
    root = Path(root)
    return [root / f"{f}.ipynb" for f in toc_files(root, toc) if (root / f"{f}.ipynb").is_file()]


def source(cell) -> str:
    """A cell's source as one string (notebooks store it as a string or a list of lines)."""
    text = cell.get("source", "")
    return text if isinstance(text, str) else "".join(text)


def check_ids(code: str) -> list:
    """The self-check identifiers that ``vgcourse.check(...)`` calls in ``code`` name.

    A literal identifier is returned as written; an f-string such as ``f"08-mystery-{name}"``
    stands for every registered identifier it can produce (or itself if none is registered).
    """
    found = []
    for is_fstring, name in _CHECK.findall(code):
        if is_fstring and "{" in name:
            from ..checking import exercises as registered

            pattern = re.compile(re.sub(r"\\\{[^}]*\\\}", r"[\\w.-]+", re.escape(name)))
            found += [e for e in registered() if pattern.fullmatch(e)] or [name]
        else:
            found.append(name)
    return list(dict.fromkeys(found))


def exercises(cells) -> list:
    """The exercises of a list of notebook cells, each with the self-checks that follow it."""
    found = []
    for cell in cells:
        text = source(cell)
        if cell.get("cell_type") == "markdown":
            for match in _EXERCISE.finditer(text):
                label = _LABEL.search(match.group("body"))
                found.append(Exercise(label.group(1) if label else "", match.group("title")))
        elif cell.get("cell_type") == "code" and found:
            found[-1].checks += [c for c in check_ids(text) if c not in found[-1].checks]
    return found


def _paragraph_after(text: str, marker: str) -> str:
    """The paragraph of ``text`` that starts with ``marker`` (marker removed)."""
    for block in re.split(r"\n\s*\n", text):
        if block.lstrip().startswith(marker):
            return " ".join(block.strip()[len(marker):].split())
    return ""


def _numbered_items(text: str, marker: str) -> list:
    """The numbered list that follows the paragraph starting with ``marker``."""
    start = text.find(marker)
    if start < 0:
        return []
    items = []
    for line in text[start:].splitlines()[1:]:
        item = re.match(r"^\s*\d+\.\s+(.*)", line)
        if item:
            items.append(item.group(1).strip())
        elif items and line.strip() and line.startswith(" "):
            items[-1] += " " + line.strip()
        elif items:
            break
    return items


def read_chapter(path, docname: str | None = None) -> Chapter:
    """Read a chapter notebook's title, objectives, prerequisites and exercises.

    Parameters
    ----------
    path : str or path-like
        A chapter notebook (``.ipynb``) following ``CONTRIBUTING.md``: its first markdown cell
        holds ``# N. Title``, a ``**Learning objectives.**`` paragraph followed by a numbered
        list, and a ``**Prerequisites.**`` paragraph.
    docname : str, optional
        Its name in the table of contents; defaults to the path without extension.

    Returns
    -------
    Chapter
    """
    path = Path(path)
    if path.suffix != ".ipynb" or not path.is_file():
        raise ValueError(f"path={str(path)!r} is not a notebook file; expected an existing .ipynb.")
    cells = json.loads(path.read_text())["cells"]
    markdown = [source(c) for c in cells if c.get("cell_type") == "markdown"]
    first = markdown[0] if markdown else ""
    title = re.search(r"^#\s+(.+)$", first, re.M)
    prose = "\n".join(re.sub(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`|\{[^}]*\}", " ", m, flags=re.S)
                      for m in markdown)
    return Chapter(
        path=path,
        docname=docname or str(path.with_suffix("")),
        title=title.group(1).strip() if title else path.stem,
        objectives=_numbered_items(first, "**Learning objectives"),
        prerequisites=_paragraph_after(first, "**Prerequisites.**"),
        exercises=exercises(cells),
        words=len(re.findall(r"[A-Za-z]{2,}", prose)),
    )


def chapters(root=".", toc="_toc.yml") -> list:
    """:func:`read_chapter` for every notebook of the table of contents, in order."""
    root = Path(root)
    return [read_chapter(p, str(p.relative_to(root).with_suffix("")))
            for p in toc_notebooks(root, toc)]
