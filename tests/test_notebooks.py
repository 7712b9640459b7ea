"""Hygiene of the chapter notebooks: listed in the table of contents, stripped, Colab-ready."""

import json
import re
from pathlib import Path

import pytest
import yaml
from _book import html_dir, skip_or_fail, tool

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


# -- Colab: launch links, the README table, pinning a release (issue 9) --------------------------
colab_tools = tool("colab")


class _Config(dict):
    __getattr__ = dict.__getitem__


def theme_colab_url(notebook: Path) -> str:
    """The Colab URL sphinx-book-theme itself puts on the page of ``notebook``.

    _config.yml goes through Jupyter Book's own translation to Sphinx settings, then the theme's
    own context and launch-button functions run on a minimal stand-in for the Sphinx app.
    """
    from types import SimpleNamespace

    from jupyter_book.config import yaml_to_sphinx
    from sphinx_book_theme.header_buttons import update_context_with_repository_info
    from sphinx_book_theme.header_buttons.launch import add_launch_buttons

    options = yaml_to_sphinx(config())[0]["html_theme_options"]
    app = SimpleNamespace(builder=None, outdir=str(ROOT / "_build" / "html"),
                          config=_Config(html_theme_options=options, html_context={}))
    update_context_with_repository_info(app)
    pagename = notebook.relative_to(ROOT).with_suffix("").as_posix()
    app.env = SimpleNamespace(doc2path=lambda name: str(ROOT / f"{name}.ipynb"),
                              metadata={pagename: {"kernelspec": {"name": "python3"}}})
    context = {"pagename": pagename, "header_buttons": [], "sourcename": f"{pagename}.ipynb",
               "page_source_suffix": ".ipynb", **app.config.html_context}
    add_launch_buttons(app, pagename, "page.html", context, None)
    links = [b["url"] for group in context["header_buttons"] if group.get("label") ==
             "launch-buttons" for b in group["buttons"] if b.get("text") == "Colab"]
    assert len(links) == 1, f"sphinx-book-theme made {len(links)} Colab buttons for {pagename}"
    return links[0]


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.name)
def test_colab_launch_url_is_the_themes_and_points_at_the_notebook(path):
    url = colab_tools.colab_url(path)
    assert url == theme_colab_url(path)
    repo = config()["repository"]
    org_repo = repo["url"].rstrip("/").split("github.com/")[-1]
    prefix = f"{config()['launch_buttons']['colab_url'].rstrip('/')}/github/{org_repo}/blob/"
    assert url.startswith(prefix + f"{repo['branch']}/"), url
    # The link names this very file, at its place in the repository: a renamed or moved
    # notebook changes it, and the README table check below then fails until regenerated.
    assert ROOT / url[len(prefix) + len(str(repo["branch"])) + 1:] == path


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.name)
def test_rendered_page_carries_the_same_colab_link(path):
    # The build under test: $VGCOURSE_BOOK_HTML (make test OUT=...) or _build/html. Missing or
    # stale, it skips on a laptop and fails in CI (tests/_book.py).
    page = html_dir() / path.relative_to(ROOT).with_suffix(".html")
    sources = [ROOT / "_config.yml", path]
    if not page.exists() or page.stat().st_mtime < max(s.stat().st_mtime for s in sources):
        skip_or_fail(f"no built page newer than its sources for {path.name} at {page} "
                     "(run `make book`)")
    links = set(re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"',
                           page.read_text()))
    assert links == {colab_tools.colab_url(path)}


def test_contributing_chapter_map_is_generated_from_the_notebooks():
    """Issue 13: the map chapter → notebook → modules → checks → tests is generated and current."""
    chapter_map = tool("chapter_map")
    text = (ROOT / "CONTRIBUTING.md").read_text()
    assert text == chapter_map.with_map(text), (
        "CONTRIBUTING.md's chapter map differs from the notebooks: run "
        "`python tools/chapter_map.py`")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "book/" in line]
    assert len(rows) == len(chapter_map.chapter_notebooks(ROOT))
    # the recurrent chapter's row names its topic module and the module's own tests
    assert any("07_lstm_gru" in r and "`recurrent`" in r and "test_recurrent.py" in r
               for r in rows)


def test_readme_colab_table_is_generated_from_the_toc():
    text = (ROOT / "README.md").read_text()
    assert text == colab_tools.readme_with_table(ROOT), (
        "README.md's Open in Colab table differs from _toc.yml: run `python tools/colab.py readme`"
    )
    table = text.split(colab_tools.README_BEGIN)[1].split(colab_tools.README_END)[0]
    rows = [line for line in table.splitlines() if "colab.research.google.com/github" in line]
    assert len(rows) == len(chapter_notebooks()) >= 1
    for row, path in zip(rows, chapter_notebooks()):
        assert f"({colab_tools.colab_url(path)})" in row
        assert colab_tools.chapter_title(path) in row


@pytest.fixture
def repo_copy(tmp_path):
    """The files pinning touches, copied: _config.yml, _toc.yml, README.md and the notebooks."""
    for rel in ["_config.yml", "_toc.yml", "README.md"] + [
            p.relative_to(ROOT).as_posix() for p in chapter_notebooks()]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes((ROOT / rel).read_bytes())
    for rel in toc_files():  # the toc's markdown pages only need to exist
        if not (tmp_path / f"{rel}.ipynb").exists():
            (tmp_path / f"{rel}.md").parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / f"{rel}.md").write_text("# page\n")
    return tmp_path


@pytest.mark.parametrize("ref", ["v1.0", "1.10", "3f2c9ab0d1e4"])
def test_pin_sets_one_ref_for_config_notebooks_and_readme(repo_copy, ref):
    before = {p: p.read_text() for p in repo_copy.rglob("*") if p.is_file()}
    changed = colab_tools.pin(ref, repo_copy)
    cfg = colab_tools.config(repo_copy)
    assert str(cfg["repository"]["branch"]) == ref and isinstance(cfg["repository"]["branch"], str)
    notebooks = colab_tools.chapter_notebooks(repo_copy)
    for nb in notebooks:
        cell = next(c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
        assert f'VGCOURSE_REF = "{ref}"\n' in cell["source"]
        # Only that one line changed in the notebook file.
        old, new = before[nb].splitlines(), nb.read_text().splitlines()
        assert len(old) == len(new) and sum(a != b for a, b in zip(old, new)) == 1
    assert set(changed) == {repo_copy / "_config.yml", repo_copy / "README.md", *notebooks}
    readme = (repo_copy / "README.md").read_text()
    assert readme == colab_tools.readme_with_table(repo_copy) and f"/blob/{ref}/book/" in readme
    assert colab_tools.pin(ref, repo_copy) == []  # idempotent


@pytest.mark.parametrize("ref", ["", "-rf", "v1 .0", 'v1"', "a..b", "main.lock", "x@{1}"])
def test_pin_rejects_what_is_not_a_git_ref(repo_copy, ref):
    with pytest.raises(ValueError, match="ref="):
        colab_tools.pin(ref, repo_copy)
    assert colab_tools.config(repo_copy)["repository"]["branch"] == config()["repository"]["branch"]
