"""The book as one PDF (``make book`` prints it to ``_build/html/vgcourse.pdf`` with
tools/pdf.py): read back with poppler's pdftotext and pdfimages, its first pages rendered to PNG
with pdftoppm into ``_build/pdf-pages/``.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from _book import pages, require_book, skip_or_fail, tool

PAGES = pages()


@pytest.fixture(scope="module")
def pdf():
    html = require_book()
    path = html / "vgcourse.pdf"
    if not path.exists():
        skip_or_fail(f"no PDF at {path}; `make book` prints it (tools/pdf.py)")
    missing = [t for t in ("pdftotext", "pdfimages", "pdftoppm") if shutil.which(t) is None]
    if missing:
        skip_or_fail(f"{', '.join(missing)} missing: `sudo apt-get install poppler-utils`")
    return path


def _text(pdf, first=None, last=None) -> str:
    pages_ = ["-f", str(first), "-l", str(last)] if first else []
    return subprocess.run(["pdftotext", "-layout", *pages_, str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout


def _outline(pdf):
    """(title, first page 1-based) of each chapter, from the PDF's bookmarks."""
    from pypdf import PdfReader

    reader = PdfReader(str(pdf))
    marks = [(item.title, reader.get_destination_page_number(item) + 1)
             for item in reader.outline if not isinstance(item, list)]
    return marks, len(reader.pages)


def _h1(page) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup((require_book() / page.html).read_text(), "html.parser")
    h1 = soup.select_one("article h1")
    return re.sub(r"\s+", " ", h1.get_text(" ").replace("#", "")).strip()


def test_every_page_is_in_the_pdf_with_its_title_in_the_contents(pdf):
    marks, total = _outline(pdf)
    titles = [_h1(p) for p in PAGES]
    assert [t for t, _ in marks] == titles
    contents = re.sub(r"\s+", " ", _text(pdf, 1, 1))
    for title, start in marks:  # the contents page names each chapter with its first page
        assert re.search(re.escape(title) + r" \.*\s*" + str(start), contents) or (
            title in contents and str(start) in contents), (title, start)
    text = re.sub(r"\s+", " ", _text(pdf))
    for title in titles:
        assert title in text, f"{title!r} is not in the PDF's text"
    assert 1 < marks[0][1] < marks[-1][1] <= total


def test_every_figure_is_printed_and_every_sweep_names_its_grid(pdf):
    from bs4 import BeautifulSoup

    marks, total = _outline(pdf)
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], check=True, capture_output=True,
                             text=True).stdout.splitlines()[2:]
    images_on = [int(line.split()[0]) for line in listing if line.strip()]
    ends = [start for _, start in marks[1:]] + [total + 1]
    for page, (title, start), end in zip(PAGES, marks, ends):
        soup = BeautifulSoup((require_book() / page.html).read_text(), "html.parser")
        figures = len(soup.select("article div.cell_output img, article div.vgx-sweep img"))
        printed = sum(start <= n < end for n in images_on)
        assert printed >= figures, f"{title}: {figures} figures on the page, {printed} printed"
        sweeps = len(soup.select("div.vgx-sweep"))
        captions = re.sub(r"\s+", " ", _text(pdf, start, end - 1)).count(
            "Interactive sweep over")
        assert captions == sweeps, f"{title}: {sweeps} sweeps, {captions} grid captions"


def test_pages_are_numbered_and_math_is_typeset(pdf):
    marks, total = _outline(pdf)
    for number in sorted({2, marks[-1][1], total}):
        lines = [x.strip() for x in _text(pdf, number, number).splitlines() if x.strip()]
        assert lines and lines[-1] == str(number), f"page {number} ends with {lines[-1:]}"
    # the notation page is all math and no code: typeset, it has symbols and no TeX left
    ends = dict(zip([t for t, _ in marks], [s for _, s in marks[1:]] + [total + 1]))
    starts = dict(marks)
    notation = next((t for t in starts if t == "Notation"), None)
    if notation is None:
        pytest.skip("this build has no notation page")
    text = _text(pdf, starts[notation], ends[notation] - 1)
    assert "δ" in text and "σ" in text and "∂" in text
    assert "$" not in text and "\\" not in text, "raw TeX in the printed notation page"


def test_the_first_pages_render_to_png(pdf, tmp_path):
    out = pdf.parent.parent / "pdf-pages"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "3", str(pdf),
                    str(out / "page")], check=True)
    pngs = sorted(out.glob("page-*.png"))
    assert len(pngs) == 3 and all(p.stat().st_size > 5_000 for p in pngs), pngs


def test_the_pdf_is_printed_again_only_when_what_it_shows_changed(tmp_path):
    """``make book`` skips the print when the digest of the pages, images and stylesheets is
    the one recorded beside the PDF: any of them changing changes the digest."""
    pdf_tool = tool("pdf")
    html = tmp_path / "html"
    for name, text in {"intro.html": "<h1>Intro</h1>", "_images/fig.png": "png",
                       "_static/book.css": "h1 {}"}.items():
        (html / name).parent.mkdir(parents=True, exist_ok=True)
        (html / name).write_text(text)
    first = pdf_tool.inputs_digest(html, ["intro"], "vgcourse")
    assert pdf_tool.inputs_digest(html, ["intro"], "vgcourse") == first
    changes = [lambda: (html / "intro.html").write_text("<h1>Intro, revised</h1>"),
               lambda: (html / "_images" / "fig.png").write_text("another figure"),
               lambda: (html / "_static" / "book.css").write_text("h1 { color: red }")]
    seen = {first, pdf_tool.inputs_digest(html, ["intro"], "another title")}
    for change in changes:
        change()
        seen.add(pdf_tool.inputs_digest(html, ["intro"], "vgcourse"))
    assert len(seen) == 2 + len(changes)
