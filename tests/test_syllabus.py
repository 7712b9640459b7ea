"""What the chapters say about themselves: the source of the instructor guide's table."""

import json
from pathlib import Path

import pytest

from vgcourse.authoring import syllabus
from vgcourse.authoring.assign import self_checks
from vgcourse.authoring.sphinxext import colab_link

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = syllabus.toc_notebooks(ROOT)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_chapter_states_title_objectives_prerequisites_and_exercises(path):
    chapter = syllabus.read_chapter(path)
    assert chapter.title[0].isdigit(), f"{path.name}: the title should read '# N. Title'"
    assert len(chapter.objectives) >= 2, f"{path.name}: no numbered learning objectives found"
    assert chapter.prerequisites, f"{path.name}: no '**Prerequisites.**' paragraph found"
    assert chapter.exercises and all(e.label for e in chapter.exercises)
    # Every self-check the notebook calls is attributed to one of its exercises.
    nb = json.loads(path.read_text())
    assert [c for e in chapter.exercises for c in e.checks] == list(
        dict.fromkeys(self_checks(nb)))
    assert chapter.minutes % 5 == 0 and chapter.minutes >= 5 * len(chapter.exercises)


def test_chapter_one_is_read_as_written():
    chapter = syllabus.read_chapter(ROOT / "book" / "01_mathematics.ipynb")
    assert chapter.title == "1. Backpropagation as a product of Jacobians"
    assert len(chapter.objectives) == 7
    assert chapter.objectives[0].startswith("write the gradient of a deep network")
    assert chapter.objectives[2].endswith("weight gradient is the same size;")  # wrapped line
    assert chapter.prerequisites.startswith("The chain rule")
    assert [(e.label, e.checks) for e in chapter.exercises] == [
        ("ex-01-tanh-chain", ["01-tanh-chain"]),
        ("ex-01-sigmoid-derivative", ["01-sigmoid-derivative"]),
        ("ex-01-jacobian", ["01-jacobian-singular-values"]),
        ("ex-01-open", []),
    ]


def test_minutes_follow_the_stated_rule():
    chapter = syllabus.Chapter(Path("x.ipynb"), "x", "t", [], "", [None] * 2, words=1000)
    raw = 1000 / syllabus.WORDS_PER_MINUTE + 2 * syllabus.MINUTES_PER_EXERCISE
    assert chapter.minutes - 5 < raw <= chapter.minutes


def test_toc_files_walks_parts_and_sections(tmp_path):
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nparts:\n  - caption: A\n    chapters:\n"
        "      - file: a/one\n        sections:\n          - file: a/two.ipynb\n"
        "      - url: https://example.org\n")
    assert syllabus.toc_files(tmp_path) == ["intro", "a/one", "a/two"]
    assert syllabus.toc_notebooks(tmp_path) == []


def test_bad_paths_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="toc='nope.yml'"):
        syllabus.toc_files(tmp_path, "nope.yml")
    with pytest.raises(ValueError, match="path="):
        syllabus.read_chapter(tmp_path / "missing.ipynb")


def test_colab_link_follows_the_repository_settings():
    options = {"repository_url": "https://github.com/vgcourse/vgcourse",
               "repository_branch": "main", "path_to_docs": "",
               "launch_buttons": {"colab_url": "https://colab.research.google.com"}}
    assert colab_link(options, "book/01_mathematics") == (
        "https://colab.research.google.com/github/vgcourse/vgcourse/blob/main/"
        "book/01_mathematics.ipynb")
    assert colab_link({}, "book/01_mathematics") == ""
