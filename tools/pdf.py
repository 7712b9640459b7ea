"""The whole book as one PDF, offline: ``make pdf`` (after ``make book``).

Every page of the table of contents is opened from the built HTML (``file://``, no network) in
Debian's Chromium through Playwright, its math typeset by the book's own MathJax, and printed to
PDF; each sweep prints its default frame with a caption naming its grid. A title page with a
table of contents (each chapter's first page) goes first, every page gets its number in the
footer, the PDF gets bookmarks, and pypdf merges the lot into ``<build>/pdf/vgcourse.pdf``.

    python tools/pdf.py [--html _build/html] [--toc _toc.yml] [--out _build/pdf/vgcourse.pdf]
"""

from __future__ import annotations

import argparse
import hashlib
import html as htmlmod
import io
import os
import re
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PDF_NAME = "vgcourse.pdf"
MARGIN = {"top": "16mm", "bottom": "18mm", "left": "14mm", "right": "14mm"}

# Run in each page before printing: every sweep shows its default frame and, instead of its
# controls, a caption naming the grid it sweeps; folded solutions stay folded.
PREPARE = r"""() => {
  document.querySelectorAll("div.vgx-sweep").forEach(sweep => {
    const data = JSON.parse(sweep.querySelector(".vgx-data").textContent);
    const key = data.names.map(n => data.defaults[n]).join(",");
    const img = sweep.querySelector("img.vgx-frame");
    img.src = data.frames[key];
    if (data.alts) img.alt = data.alts[key];
    const grid = data.names.map(n => n + " ∈ {" + data.labels[n].join(", ") + "}").join("; ");
    const shown = data.names.map(n => n + " = " + data.labels[n][data.defaults[n]]).join(", ");
    const caption = document.createElement("p");
    caption.className = "vgx-print-caption";
    caption.style.cssText = "font-size: 0.85em; font-style: italic; margin-top: 0.3em";
    caption.textContent = "Interactive sweep over " + grid + ". Printed at its default setting: "
      + shown + ". Open the web book or the notebook to explore the other frames.";
    sweep.querySelector(".vgx-controls").style.display = "none";
    sweep.querySelectorAll(".vgx-status, .vgx-note").forEach(e => e.style.display = "none");
    img.after(caption);
  });
  document.querySelectorAll("img[loading=lazy]").forEach(img => img.loading = "eager");
  return Promise.all(Array.from(document.images).filter(i => !i.complete)
    .map(i => new Promise(r => { i.onload = i.onerror = r; })));
}"""


def toc_files(toc: Path) -> list[str]:
    data = yaml.safe_load(toc.read_text())

    def walk(node):
        for entry in node.get("chapters", []) + node.get("sections", []):
            if "file" in entry:
                yield entry["file"]
            yield from walk(entry)
        for part in node.get("parts", []):
            yield from walk(part)

    return [re.sub(r"\.(ipynb|md|rst)$", "", f) for f in [data["root"], *walk(data)]]


def chromium() -> str:
    path = os.environ.get("VGCOURSE_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser")
    if not path:
        sys.exit("make pdf needs Debian's chromium: `sudo apt-get install chromium`")
    return path


def _print(tab, **extra) -> bytes:
    return tab.pdf(format="A4", print_background=True, margin=MARGIN, **extra)


def _title_and_toc(title: str, chapters: list[tuple[str, int]]) -> str:
    rows = "".join(
        f"<tr><td>{htmlmod.escape(name)}</td><td class='n'>{page}</td></tr>"
        for name, page in chapters)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><style>
body {{ font-family: "DejaVu Sans", sans-serif; margin: 0; }}
h1 {{ font-size: 28pt; margin: 40mm 0 8mm; }} h2 {{ margin-top: 14mm; }}
table {{ width: 100%; border-collapse: collapse; font-size: 11pt; }}
td {{ padding: 1.6mm 0; border-bottom: 0.2mm dotted #888; }} td.n {{ text-align: right; }}
</style></head><body><h1>{htmlmod.escape(title)}</h1>
<p>The course as one document, printed from the web book. Interactive sweeps appear at their
default setting, with the grid they explore named below each.</p>
<h2>Contents</h2><table>{rows}</table></body></html>"""


def _numbers(count: int) -> str:
    pages = "".join(
        f"<div class='p'><span>{i}</span></div>" for i in range(1, count + 1))
    return f"""<!doctype html><html><head><style>
@page {{ size: A4; margin: 0; }} body {{ margin: 0; }}
.p {{ height: 297mm; position: relative; page-break-after: always; }}
.p span {{ position: absolute; bottom: 8mm; width: 100%; text-align: center;
  font: 9pt "DejaVu Sans", sans-serif; color: #444; }}
</style></head><body>{pages}</body></html>"""


def inputs_digest(html_dir: Path, files: list[str], title: str) -> str:
    """A digest of everything the PDF is printed from: the pages in order, their images and
    stylesheets, the title and this tool. Equal digests print equal PDFs."""
    digest = hashlib.sha256(title.encode() + Path(__file__).read_bytes())
    assets = sorted(p for folder in ("_images", "_static") if (html_dir / folder).is_dir()
                    for p in (html_dir / folder).rglob("*") if p.is_file())
    for path in [html_dir / f"{f}.html" for f in files] + assets:
        digest.update(str(path.relative_to(html_dir)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build(html_dir: Path, toc: Path, out: Path) -> Path:
    """Print the book built at ``html_dir`` (the pages of ``toc``) to one PDF at ``out``; skipped
    when ``out`` was printed from the same pages, images and stylesheets (a digest is kept
    beside it), so an unchanged book costs no second print."""
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader, PdfWriter

    files = toc_files(toc)
    missing = [f for f in files if not (html_dir / f"{f}.html").exists()]
    if missing:
        sys.exit(f"the book is not built at {html_dir} (missing {missing[:3]}): run `make book`")
    title = yaml.safe_load((ROOT / "_config.yml").read_text()).get("title", "vgcourse")
    stamp = out.parent / f".{out.name}.inputs"
    digest = inputs_digest(html_dir, files, title)
    if out.exists() and stamp.exists() and stamp.read_text() == digest:
        print(f"{out}: up to date (the pages it was printed from have not changed)")
        return out
    chapters = []  # (title, pdf bytes)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=LAUNCH_ARGS)
        tab = browser.new_page()
        tab.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:"))
                  else r.abort())
        for f in files:
            tab.goto((html_dir / f"{f}.html").resolve().as_uri(), wait_until="load")
            tab.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise "
                         ": null")
            tab.evaluate(PREPARE)
            heading = tab.evaluate("() => (document.querySelector('article h1') || "
                                   "{textContent: document.title}).textContent")
            name = re.sub(r"\s+", " ", heading.replace("#", "")).strip()
            tab.emulate_media(media="print")
            chapters.append((name, _print(tab)))
            tab.emulate_media(media="screen")
            print(f"printed {f}: {name}", flush=True)
        counts = [len(PdfReader(io.BytesIO(data)).pages) for _, data in chapters]
        # The contents page(s) first; its length decides where every chapter starts.
        front = 1
        for _ in range(3):
            starts, page = [], front + 1
            for c in counts:
                starts.append(page)
                page += c
            tab.set_content(_title_and_toc(title, [(n, s) for (n, _), s in zip(chapters, starts)]))
            contents = _print(tab)
            if len(PdfReader(io.BytesIO(contents)).pages) == front:
                break
            front = len(PdfReader(io.BytesIO(contents)).pages)
        total = front + sum(counts)
        tab.set_content(_numbers(total))
        numbers = PdfReader(io.BytesIO(tab.pdf(format="A4", margin={k: "0" for k in MARGIN})))
        browser.close()

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(contents)).pages:
        writer.add_page(page)
    for name, data in chapters:
        first = len(writer.pages)
        for page in PdfReader(io.BytesIO(data)).pages:
            writer.add_page(page)
        writer.add_outline_item(title=name, page_number=first)
    for index, page in enumerate(writer.pages):
        if index:  # the title page carries no number
            page.merge_page(numbers.pages[index])
    writer.add_metadata({"/Title": title})
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as handle:
        writer.write(handle)
    stamp.write_text(digest)
    print(f"{out}: {total} pages, {len(chapters)} chapters")
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--toc", type=Path, default=ROOT / "_toc.yml")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or args.html.parent / "pdf" / PDF_NAME
    build(args.html.resolve(), args.toc.resolve(), out)


if __name__ == "__main__":
    main()
