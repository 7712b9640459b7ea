"""The student website (``make book-student``) as a student meets it, in Chromium.

A small student site is built here from a table of contents with the introduction and
chapter 1 (the recipe is the Makefile's own; one chapter keeps the cost near a minute), then
served on 127.0.0.1 and checked like the book: axe-core finds no serious or critical
violation, the introduction's PDF link resolves to a PDF the build printed, no solution reaches
a page, and every self-check shows that it waits for an answer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _book import serve, skip_or_fail
from test_browser import (  # noqa: F401  (browser is a fixture)
    AXE,
    assert_nothing_grave,
    axe_violations,
    browser,
    open_page,
)

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "book/01_mathematics"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The student website of intro + chapter 1, built by ``make book-student``."""
    out = tmp_path_factory.mktemp("student-site")
    toc = out / "toc.yml"
    toc.write_text("format: jb-book\nroot: book/intro\nchapters:\n"
                   f"  - file: {CHAPTER}\n  - file: book/bibliography\n")
    run = subprocess.run(["make", "--no-print-directory", "book-student", f"TOC={toc}",
                          f"OUT={out}", f"PYTHON={sys.executable}"],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    html = out / "_build" / "student" / "_build" / "html"
    assert (html / "index.html").exists()
    return html


@pytest.fixture(scope="module")
def served(site):
    with serve(site) as url:
        yield url


def test_no_solution_reaches_the_student_pages(site):
    chapter = (site / f"{CHAPTER}.html").read_text()
    assert "BEGIN SOLUTION" not in chapter and "solution-start" not in chapter
    # the reference answer of the chapter's first exercise is stubbed out
    source = json.loads((ROOT / f"{CHAPTER}.ipynb").read_text())
    answers = ["".join(c["source"]) for c in source["cells"]
               if "### BEGIN SOLUTION" in "".join(c["source"])]
    assert answers, "chapter 1 has exercises"
    first = answers[0].split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0].strip()
    assert first.splitlines()[-1].strip() not in chapter
    assert "Not yet solved" in chapter or "not yet solved" in chapter


def test_the_intro_links_to_the_student_pdf(site, browser, served):  # noqa: F811
    visit = open_page(browser, served + "book/intro.html", served)
    href = visit.page.eval_on_selector("a[download]", "a => a.href")
    response = visit.page.request.get(href)
    assert response.ok, f"{href}: HTTP {response.status}"
    assert response.body()[:5] == b"%PDF-"
    visit.page.close()


@pytest.mark.parametrize("page", ["book/intro.html", f"{CHAPTER}.html"])
def test_axe_finds_no_serious_or_critical_violation_on_the_student_site(
        site, browser, served, page):  # noqa: F811
    if not AXE.exists():
        skip_or_fail(f"axe-core is not installed at {AXE}; run `make axe` (needs npm)")
    visit = open_page(browser, served + page, served)
    # the page's own load is clean (checked before axe runs: axe fetches the stylesheets again
    # to inspect them and resolves the theme's @import relative to the page, a harmless 404)
    assert not visit.errors and not visit.remote, (visit.errors, visit.remote)
    violations = axe_violations(visit.page)
    visit.page.close()
    assert_nothing_grave(violations, page)
