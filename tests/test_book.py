"""The built HTML, checked without a browser: every page of ``_toc.yml`` is there, its links,
citations and assets resolve locally, nothing is loaded from a CDN, each chapter carries the
right Colab link, and the API page documents every public name.

These read ``_build/html`` (``make test`` builds it first); they skip when the book is not built,
and fail instead in CI.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from _book import ROOT, colab_url, executed_notebook, pages, require_book
from bs4 import BeautifulSoup

import vgcourse

PAGES = pages()


@cache
def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


@cache
def ids(path: Path) -> frozenset[str]:
    return frozenset(el["id"] for el in soup(path).find_all(id=True))


def local_target(page: Path, ref: str) -> tuple[Path, str] | None:
    """The file and fragment a relative ``href``/``src`` points to, or None if it is external."""
    parts = urlsplit(ref)
    if parts.scheme or parts.netloc or ref.startswith(("data:", "mailto:", "javascript:")):
        return None
    target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
    return target, unquote(parts.fragment)


@pytest.fixture(scope="module")
def html() -> Path:
    return require_book()


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_internal_links_and_assets_resolve(html, page):
    path = html / page.html
    broken = []
    for tag, attr in (("a", "href"), ("img", "src"), ("script", "src"), ("link", "href")):
        for el in soup(path).find_all(tag, attrs={attr: True}):
            target = local_target(path, el[attr])
            if target is None:
                continue
            file, fragment = target
            if not file.exists():
                broken.append(f"<{tag} {attr}={el[attr]!r}>: no file {file}")
            elif fragment and file.suffix == ".html" and fragment not in ids(file):
                broken.append(f"<{tag} {attr}={el[attr]!r}>: no id {fragment!r} in {file.name}")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_nothing_is_loaded_from_another_host(html, page):
    """Scripts, styles and images come from the build itself, so the book works offline."""
    s = soup(html / page.html)
    remote = [el.get("src") or el.get("href") for el in s.find_all(["script", "img", "link"])
              if re.match(r"(https?:)?//", el.get("src") or "")
              or (el.name == "link" and "stylesheet" in (el.get("rel") or [])
                  and re.match(r"(https?:)?//", el.get("href") or ""))]
    assert not remote, f"{page.html} loads {remote}; serve them from the build (see _config.yml)"


def test_mathjax_is_served_by_the_book(html):
    math_pages = [p for p in PAGES if soup(html / p.html).select("div.math, span.math")]
    assert math_pages, "no page has math; the check below would not test anything"
    for page in math_pages:
        scripts = [el["src"] for el in soup(html / page.html).find_all("script", src=True)
                   if "mathjax" in el["src"].lower()]
        assert scripts, f"{page.html} has math but loads no MathJax"
        for src in scripts:
            file, _ = local_target(html / page.html, src)
            assert file.is_relative_to(html / "_static" / "mathjax"), src
            assert file.stat().st_size > 100_000, f"{src} is not the MathJax component"
    fonts = list((html / "_static" / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff"))
    assert fonts, "MathJax's CommonHTML fonts are missing from _static/mathjax"


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_colab_button_only_on_notebooks_and_pointing_at_them(html, page):
    # the theme's launch menu; links in the text (the instructors' table) are not buttons
    links = {a["href"] for a in soup(html / page.html).select(
        ".dropdown-menu a[href*='colab.research.google.com']")}
    if page.is_notebook:
        assert links == {colab_url(page)}
    else:
        assert not links, f"{page.html} is not a notebook but has a Colab link {links}"


def cited_keys(page) -> set[str]:
    """The keys of every {cite}, {cite:t}, {cite:p} role in a page's source."""
    text = page.source.read_text(encoding="utf-8")
    if page.is_notebook:
        text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
    roles = re.findall(r"\{cite(?::[a-z]+)?\}`([^`]+)`", text)
    return {key.strip() for role in roles for key in role.split(",")}


def test_every_citation_resolves_to_a_bibliography_entry(html):
    bib_keys = set(re.findall(r"^@\w+\s*\{\s*([^,\s]+)\s*,",
                              (ROOT / "book" / "references.bib").read_text(), re.M))
    bibliography = [p for p in PAGES if soup(html / p.html).select("div.citation")]
    assert bibliography, "no page of the table of contents lists the bibliography"
    checked = 0
    for page in PAGES:
        missing = cited_keys(page) - bib_keys
        assert not missing, f"{page.source.name} cites {missing}, absent from references.bib"
        path = html / page.html
        text = soup(path).get_text()
        assert "{cite" not in text, f"{page.html} shows an unrendered citation role"
        for a in soup(path).select("a[href*='#']"):
            file, fragment = local_target(path, a["href"]) or (None, None)
            if file is None or file == path or not fragment or not any(
                    file == html / b.html for b in bibliography):
                continue  # not a citation: external, within the page, or elsewhere
            entry = soup(file).find(id=fragment)
            assert entry is not None and "citation" in entry.get("class", []), a
            checked += 1
        if cited_keys(page):
            assert checked, f"{page.html} cites sources but links to no bibliography entry"


def test_api_page_documents_every_public_name(html):
    api = [p for p in PAGES if p.name == "api"]
    assert api, "the table of contents has no API page (book/api.md)"
    s = soup(html / api[0].html)
    documented = set(ids(html / api[0].html))
    missing = []
    for name in vgcourse.__all__:
        obj = getattr(vgcourse, name)
        if isinstance(obj, type(vgcourse)):  # a module: its automodule anchor, or its members
            wanted = {f"module-{obj.__name__}"} | {
                i for i in documented if i.startswith(f"{obj.__name__}.")}
        else:
            module = getattr(obj, "__module__", None) or ""
            wanted = {f"vgcourse.{name}", f"{module}.{name}"} | {
                i for i in documented if i.startswith("vgcourse.") and i.endswith(f".{name}")}
        found = wanted & documented
        if not found:
            missing.append(name)
            continue
        dt = s.find(id=sorted(found)[0])
        if dt.name == "dt":  # the entry must carry its docstring, not just a signature
            dd = dt.find_next_sibling("dd")
            assert dd is not None and dd.get_text(strip=True), f"{name} has no rendered docstring"
    assert not missing, f"book/api.md does not document {missing}"


# -- the sentences that carry measured numbers (vgcourse.say) ---------------------------------
def say_outputs(page) -> list[str]:
    """The Markdown that the chapter's `say(...)` calls displayed, from the book's executed copy."""
    nb = json.loads(executed_notebook(page.source).read_text(encoding="utf-8"))
    return ["".join(output["data"]["text/markdown"])
            for cell in nb["cells"] if cell["cell_type"] == "code"
            for output in cell.get("outputs", [])
            if "vgcourse" in output.get("metadata", {})
            and "text/markdown" in output.get("data", {})]


def plain_words(markdown: str) -> list[str]:
    """The words of a Markdown sentence as the page shows them outside math."""
    text = re.sub(r"\$[^$]*\$", " ", markdown)
    text = re.sub(r"[*_`]", "", text).translate(str.maketrans("‘’“”–—", "''\"\"--"))
    return text.split()


@pytest.mark.parametrize("page", [p for p in PAGES if p.is_notebook], ids=str)
def test_glued_sentences_read_the_same_in_the_book_and_in_jupyter(html, page):
    """A `say` sentence is plain Markdown (no MyST role, which Jupyter and Colab would show as
    raw text), with balanced math, and the built page shows it as a paragraph."""
    page_text = soup(html / page.html).get_text(" ")
    page_text = re.sub(r"\\\(.*?\\\)|\\\[.*?\\\]", " ", page_text, flags=re.S)  # math
    # Sphinx turns quotes and dashes into typographic ones
    page_text = " ".join(page_text.split()).translate(str.maketrans("‘’“”–—", "''\"\"--"))
    for markdown in say_outputs(page):
        assert not re.search(r"\{[\w:-]+\}`|```\{", markdown), (
            f"{page}: a say() sentence uses MyST syntax, raw in Jupyter/Colab: {markdown[:80]}")
        assert markdown.count("$") % 2 == 0, f"{page}: unbalanced math in {markdown[:80]}"
        words = plain_words(markdown)
        for fragment in (words[:6], words[-6:]):
            assert " ".join(fragment) in page_text, (
                f"{page}: the page does not show the sentence {' '.join(fragment)!r}")


def test_book_tests_wait_for_the_rendering_and_fail_when_it_failed(tmp_path, monkeypatch):
    """`make test` renders the book beside the tests: html_dir() waits for make's exit status
    of that rendering, returns once it is 0, and fails the test when it is not."""
    import threading

    import _book

    status = tmp_path / ".render-status"
    monkeypatch.setenv("VGCOURSE_RENDER_STATUS", str(status))
    monkeypatch.setenv("VGCOURSE_BOOK_HTML", str(tmp_path / "html"))
    writer = threading.Timer(0.6, lambda: status.write_text("0\n"))
    writer.start()
    assert _book.html_dir() == (tmp_path / "html").resolve()
    assert status.exists(), "html_dir() returned before the rendering finished"
    status.write_text("2\n")
    with pytest.raises(pytest.fail.Exception, match="rendering failed"):
        _book.html_dir()
