"""Hygiene of the chapter notebooks: listed in the table of contents, stripped, Colab-ready."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_files():
    """Every file the table of contents lists, in order (without extension)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for entry in toc.get("chapters", []):
        files.append(entry["file"])
    for part in toc.get("parts", []):
        files += [entry["file"] for entry in part.get("chapters", [])]
    return files


def chapter_notebooks():
    """The notebooks of the table of contents."""
    return [ROOT / f"{f}.ipynb" for f in toc_files() if (ROOT / f"{f}.ipynb").exists()]


def config():
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def test_every_notebook_in_book_is_in_the_toc_and_back():
    listed = {p.name for p in chapter_notebooks()}
    present = {p.name for p in (ROOT / "book").glob("*.ipynb")}
    assert present == listed
    for f in toc_files():
        assert (ROOT / f"{f}.ipynb").exists() or (ROOT / f"{f}.md").exists(), f


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
             and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; run `make strip`"


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.name)
def test_first_code_cell_installs_from_the_configured_repository(path):
    nb = json.loads(path.read_text())
    first = next(c for c in nb["cells"] if c["cell_type"] == "code")
    source = "".join(first["source"])
    assert "remove-cell" in first["metadata"].get("tags", [])
    repo = re.search(r'^VGCOURSE_REPO = "(.*)"$', source, re.M)
    ref = re.search(r'^VGCOURSE_REF = "(.*)"$', source, re.M)
    assert repo and ref, "the set-up cell must define VGCOURSE_REPO and VGCOURSE_REF"
    assert repo.group(1) == config()["repository"]["url"]
    assert ref.group(1) == config()["repository"]["branch"]
    assert '"google.colab" in sys.modules' in source
    assert "git+{VGCOURSE_REPO}@{VGCOURSE_REF}" in source
    assert "vgcourse.setup(" in source
