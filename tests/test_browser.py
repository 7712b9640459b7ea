"""The rendered book in a real browser (Playwright for Python driving Chromium), as a reader
meets it: every page of ``_toc.yml``, served from ``_build/html`` on 127.0.0.1 with every request
to another host refused, so these tests also prove that the book works offline.

Each page is loaded once (and screenshotted to ``_build/screenshots/``); the tests then query
that loaded page, so the suite grows by one page load per chapter.

``make test`` builds the book first. Without Chromium these tests skip with a message saying how
to enable them; in CI (``CI`` set, as ``.ci/run`` does) a skip is a failure.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _book import colab_url, notebook_pages, pages, require_book, skip_or_fail

PAGES = pages()
NOTEBOOKS = notebook_pages()
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 120_000  # a loaded machine typesets a long chapter slowly; nothing is timed here


def chromium_path() -> str | None:
    """Chromium to drive: ``$VGCOURSE_CHROMIUM``, else Debian's ``chromium`` on the PATH."""
    candidate = os.environ.get("VGCOURSE_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser")
    return candidate if candidate and Path(candidate).exists() else None


HOW_TO_ENABLE = (
    "browser tests need Playwright for Python (in requirements.txt) and a Chromium: "
    "`sudo apt-get install chromium` on Debian/Ubuntu, or set VGCOURSE_CHROMIUM=/path/to/chromium"
)


@pytest.fixture(scope="module")
def html() -> Path:
    return require_book()


@pytest.fixture(scope="module")
def server(html):
    """The built book over HTTP on 127.0.0.1 (a random free port), for this module."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(html)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail(HOW_TO_ENABLE)
    if executable is None:
        skip_or_fail(f"no Chromium found; {HOW_TO_ENABLE}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@dataclass
class Visit:
    """One page as loaded in the browser, with everything that went wrong while loading it."""

    page: object
    errors: list = field(default_factory=list)  # JS exceptions and console errors
    failed: list = field(default_factory=list)  # local requests that failed
    remote: list = field(default_factory=list)  # requests to another host (refused)


def open_page(browser, url: str, local: str) -> Visit:
    """Load ``url``; refuse (and record) every request that does not start with ``local``."""
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    tab.set_default_timeout(TIMEOUT_MS)
    visit = Visit(tab)

    def route(r):
        if r.request.url.startswith(local) or r.request.url.startswith("data:"):
            r.continue_()
        else:
            visit.remote.append(r.request.url)
            r.abort()

    tab.route("**/*", route)
    tab.on("pageerror", lambda e: visit.errors.append(f"exception: {e}"))
    tab.on("console", lambda m: m.type == "error" and visit.errors.append(f"console: {m.text}"))
    tab.on("requestfailed", lambda r: r.url.startswith(local)
           and visit.failed.append(f"{r.url}: {r.failure}"))
    tab.goto(url, wait_until="load")
    tab.wait_for_load_state("networkidle")
    # MathJax typesets after load; its startup promise resolves when the page is done.
    tab.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
    return visit


@pytest.fixture(scope="module")
def visit(browser, server, html):
    """``visit(page)``: the page loaded once per module, screenshotted on first load."""
    shots = html.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    loaded = {}

    def get(page) -> Visit:
        if page not in loaded:
            loaded[page] = open_page(browser, server + page.html, server)
            loaded[page].page.screenshot(path=str(shots / f"{page.name}.png"), full_page=True)
        return loaded[page]

    yield get
    for v in loaded.values():
        v.page.close()


# -- every page ------------------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES, ids=str)
def test_page_loads_without_errors_and_only_from_the_book(visit, html, page):
    v = visit(page)
    assert not v.errors, f"{page.html}: JavaScript errors\n" + "\n".join(v.errors)
    assert not v.failed, f"{page.html}: failed requests\n" + "\n".join(v.failed)
    assert not v.remote, f"{page.html}: requests to other hosts (offline: refused)\n" + \
        "\n".join(v.remote)
    assert (html.parent / "screenshots" / f"{page.name}.png").stat().st_size > 10_000


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_colab_button_names_the_chapter_notebook(visit, page):
    hrefs = visit(page).page.eval_on_selector_all(
        # the theme's launch menu (its tooltip script moves `title` away at run time)
        ".dropdown-menu a[href*='colab.research.google.com']", "els => els.map(e => e.href)")
    if page.is_notebook:
        assert set(hrefs) == {colab_url(page)}
    else:
        assert not hrefs, f"{page.html} is not a notebook but has a Colab button"


# Text a reader must never see: unrendered math (in the prose), and in outputs a widget without
# its kernel or a bare Python repr.
READER_TEXT = """() => {
  const main = document.querySelector("main article") || document.body;
  const copy = main.cloneNode(true);
  copy.querySelectorAll("pre, code, script, style, mjx-container, .highlight")
      .forEach(el => el.remove());
  return copy.textContent;
}"""
RAW_MATH = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|(?<![\w$])\$[^$\s][^$\n]{0,200}?\$(?![\w$])")
DEAD = re.compile(r"Loading widget|<function [\w.<>]+ at 0x|<[\w.]+ object at 0x|"
                  r"Explorer\(|Output\(\)|VBox\(|HBox\(")


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_math_is_rendered_and_no_raw_text_shows(visit, page):
    tab = visit(page).page
    text = tab.evaluate(READER_TEXT)
    raw = RAW_MATH.findall(text)
    assert not raw, f"{page.html}: raw math in the text: {raw[:5]}"
    outputs = tab.eval_on_selector_all("div.cell_output", "els => els.map(e => e.textContent)")
    dead = DEAD.findall("\n".join(outputs)) + re.findall("Loading widget", text)
    assert not dead, f"{page.html}: dead output: {dead[:5]}"
    math = tab.locator("span.math, div.math").count()
    if math:
        unrendered = tab.locator("span.math:not(:has(mjx-container)), "
                                 "div.math:not(:has(mjx-container))").count()
        assert unrendered == 0, f"{page.html}: {unrendered} of {math} formulas not typeset"
        assert tab.locator("mjx-container mjx-math").count() >= math


# -- chapters --------------------------------------------------------------------------------
@pytest.mark.parametrize("page", NOTEBOOKS, ids=str)
def test_chapter_shows_its_executed_figures_and_no_dead_widget(visit, page):
    tab = visit(page).page
    images = tab.locator("div.cell_output img")
    count = images.count()
    assert count > 0, f"{page.html}: no executed figure"
    broken = tab.eval_on_selector_all(
        "div.cell_output img", "els => els.filter(e => !(e.complete && e.naturalWidth > 0))"
        ".map(e => e.src.slice(0, 80))")
    assert not broken, f"{page.html}: {len(broken)} of {count} figures do not load: {broken}"
    widgets = tab.locator(".jupyter-widgets, .widget-area, "
                          "script[type='application/vnd.jupyter.widget-view+json']").count()
    assert widgets == 0, f"{page.html}: {widgets} ipywidgets outputs, dead without a kernel"


@pytest.mark.parametrize("page", NOTEBOOKS, ids=str)
def test_every_sweep_control_changes_the_frame(visit, page):
    tab = visit(page).page
    moved = tab.evaluate("""() => {
      const results = [];
      document.querySelectorAll("div.vgx-sweep").forEach(sweep => {
        const img = sweep.querySelector("img.vgx-frame");
        sweep.querySelectorAll("input[type=range][data-name], select[data-name]").forEach(el => {
          const before = img.src, original = el.value;
          const options = el.tagName === "SELECT"
            ? Array.from(el.options).map(o => o.value)
            : Array.from({length: Number(el.max) - Number(el.min) + 1},
                         (_, i) => String(Number(el.min) + i));
          const other = options.find(v => v !== original);
          if (other === undefined) { results.push([sweep.id, el.dataset.name, null]); return; }
          el.value = other;
          el.dispatchEvent(new Event("input", {bubbles: true}));
          results.push([sweep.id, el.dataset.name, img.src !== before]);
          el.value = original;
          el.dispatchEvent(new Event("input", {bubbles: true}));
        });
      });
      return results;
    }""")
    stuck = [f"{sweep} {name}" for sweep, name, changed in moved if changed is False]
    assert not stuck, f"{page.html}: moving these controls left the frame unchanged: {stuck}"


def test_the_book_has_sweeps_to_test(visit):
    """Guards the test above against passing vacuously when no chapter has a sweep."""
    assert sum(visit(p).page.locator("div.vgx-sweep").count() for p in NOTEBOOKS) > 0


@pytest.mark.parametrize("page", NOTEBOOKS, ids=str)
def test_exercises_are_shown_and_solutions_toggle(visit, page):
    tab = visit(page).page
    assert tab.locator("div.exercise").count() > 0, f"{page.html}: no exercise"
    solutions = tab.locator("div.solution.dropdown")
    assert solutions.count() > 0, f"{page.html}: no solution block"
    for i in range(solutions.count()):
        solution = solutions.nth(i)
        body = solution.locator(":scope > :not(.admonition-title)").first
        assert not body.is_visible(), f"{page.html}: solution {i + 1} is not hidden"
        toggle = solution.locator("button.toggle-button").first
        toggle.click()
        body.wait_for(state="visible")
        assert toggle.get_attribute("aria-expanded") == "true"
        toggle.click()
        body.wait_for(state="hidden")


# -- offline and search ----------------------------------------------------------------------
def test_math_renders_from_the_files_alone(browser, html):
    """Opened straight from disk (file://), no server and no network: math still renders."""
    page = next((p for p in PAGES if "class=\"math" in (html / p.html).read_text()), None)
    assert page is not None, "no page has math"
    v = open_page(browser, (html / page.html).as_uri(), "file://")
    try:
        assert not v.remote, f"requests to other hosts: {v.remote}"
        assert v.page.locator("mjx-container").count() > 0
        assert not RAW_MATH.findall(v.page.evaluate(READER_TEXT))
    finally:
        v.page.close()


@pytest.mark.parametrize("over", ["http", "file"])
def test_search_finds_a_chapter(browser, server, html, over):
    """Search works served, and opened straight from disk with no network."""
    chapter = NOTEBOOKS[0] if NOTEBOOKS else PAGES[0]
    base = server if over == "http" else html.as_uri() + "/"
    v = open_page(browser, base + "search.html?q=gradient", base)
    try:
        v.page.wait_for_selector("#search-results li a")
        links = v.page.eval_on_selector_all("#search-results li a", "els => els.map(e => e.href)")
        assert any(chapter.html in href for href in links), links[:5]
        assert not v.remote, v.remote
        # From file:// Chromium blocks Sphinx's fetch of each result page for its snippet (CORS):
        # the results are listed without summaries. Served, there must be no error at all.
        assert over == "file" or not v.errors, v.errors
    finally:
        v.page.close()


def _axis_line(slope, style):
    """A figure that draws its own parameters, so a frame can be told from another."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, slope], ls=style)
    ax.set_title(f"slope {slope}, {style}")
    return fig


def test_a_setting_the_sweep_lacks_is_announced_not_silently_reset(browser, tmp_path):
    """One-at-a-time sweep: asking for a combination it lacks shows the nearest precomputed frame
    (the moved control kept, the others at their defaults) and says so in a status line."""
    import vgcourse

    panel = vgcourse.explore(_axis_line, slope=list(range(1, 41)),
                             style=["solid", "dashed", "dotted"], defaults={"slope": 5})
    assert not panel.full_product
    page = tmp_path / "sweep.html"
    page.write_text(f"<!doctype html><html><body>{panel.static_html()}</body></html>")
    tab = browser.new_page()
    try:
        tab.goto(page.as_uri())
        result = tab.evaluate("""() => {
          const root = document.querySelector("div.vgx-sweep");
          const data = JSON.parse(root.querySelector(".vgx-data").textContent);
          const img = root.querySelector("img.vgx-frame");
          const status = root.querySelector(".vgx-status");
          const move = (name, value) => {
            const el = root.querySelector(`[data-name="${name}"]`);
            el.value = String(value);
            el.dispatchEvent(new Event("input", {bubbles: true}));
          };
          move("style", 1);  // slope 5 (default), dashed: precomputed
          const first = [img.src === data.frames["4,1"], status.textContent];
          move("slope", 9);  // slope 10, dashed: not precomputed
          const style = root.querySelector('[data-name="style"]').value;
          return {first, second: [img.src === data.frames["9,0"], status.textContent, style]};
        }""")
    finally:
        tab.close()
    assert result["first"] == [True, ""]
    shown_right_frame, status, style = result["second"]
    assert shown_right_frame and style == "0"
    assert "Not precomputed: slope = 10, style = dashed" in status
    assert "style = solid went back to the default" in status
