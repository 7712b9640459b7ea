"""The rendered book in a real browser (Playwright for Python driving Chromium), as a reader
meets it: every page of ``_toc.yml``, served from ``_build/html`` on 127.0.0.1 with every request
to another host refused, so these tests also prove that the book works offline.

Each page is loaded once (and screenshotted to ``_build/screenshots/``: its first screen, or the
whole page with ``VGCOURSE_SCREENSHOTS=full``); the tests then query that loaded page, so the
suite grows by one page load per chapter.

``make test`` builds the book first. Without Chromium these tests skip with a message saying how
to enable them; in CI (``CI`` set, as ``.ci/run`` does) a skip is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _book import colab_url, notebook_pages, pages, require_book, serve, skip_or_fail

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
    with serve(html) as url:
        yield url


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
    screenshot: Path | None = None  # the page as first loaded


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


JPEG_MAX_PX = 60_000
# Every check here is measured in the page, so a screenshot is for a reviewer's eyes: the first
# screen by default, the whole page with VGCOURSE_SCREENSHOTS=full (full-page captures of every
# page in three views were a third of the browser tests' time).
FULL_PAGE = os.environ.get("VGCOURSE_SCREENSHOTS") == "full"


def screenshot(tab, stem: Path, full_page: bool = False) -> Path:
    """The page for review, written to ``stem`` + ".jpg" and returned: the first screen, or with
    ``full_page`` the whole page (a chapter is about 30 000 px tall; JPEG encodes it in half
    the time PNG takes) cut at 60 000 px (Chromium writes an empty JPEG near the format's
    65 535 px limit; only the API reference is taller)."""
    path = stem.with_suffix(".jpg")
    clip = None
    if full_page:
        height = tab.evaluate("() => document.documentElement.scrollHeight")
        width = tab.viewport_size["width"]
        clip = {"x": 0, "y": 0, "width": width, "height": min(height, JPEG_MAX_PX)}
    else:
        tab.evaluate("() => window.scrollTo(0, 0)")
    tab.screenshot(path=str(path), full_page=full_page, clip=clip, type="jpeg", quality=80)
    return path


@pytest.fixture(scope="module")
def visit(browser, server, html):
    """``visit(page)``: the page loaded once per module, screenshotted on first load."""
    shots = html.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    loaded = {}

    def get(page) -> Visit:
        if page not in loaded:
            loaded[page] = open_page(browser, server + page.html, server)
            loaded[page].screenshot = screenshot(loaded[page].page, shots / page.name,
                                                 full_page=FULL_PAGE)
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
    assert v.screenshot.stat().st_size > 10_000


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


# -- every reader: screen reader, keyboard, dark mode, phone (issue 17) ----------------------
# These run after the tests above (pytest keeps a module's order) on the same loaded pages; each
# restores what it changes (theme, viewport).
AXE = Path(__file__).resolve().parents[1] / ".node" / "node_modules" / "axe-core" / "axe.min.js"
BAD_ALT = re.compile(r"^\s*$|\.(png|jpe?g|gif|svg|webp)\s*$|^data:|_images/|<Figure size|"
                     r"^(figure|image|plot|experiment figure)$", re.IGNORECASE)


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_every_figure_has_alt_text_that_says_what_it_shows(visit, page):
    images = visit(page).page.eval_on_selector_all(
        "article img", "els => els.map(e => [e.getAttribute('alt'), e.src.slice(0, 60)])")
    bad = [(alt, src) for alt, src in images if alt is None or BAD_ALT.search(alt)
           or len(alt) < 20]
    assert not bad, f"{page.html}: {len(bad)} of {len(images)} images lack a description: {bad[:3]}"


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_axe_finds_no_serious_or_critical_violation(visit, html, page):
    """axe-core (npm, installed into .node/ by `make axe`; no CDN) over the whole page. The
    moderate and minor findings are written to ``_build/axe/<page>.json`` for review."""
    import json

    if not AXE.exists():
        skip_or_fail(f"axe-core is not installed at {AXE}; run `make axe` (needs npm)")
    violations = axe_violations(visit(page).page)
    out = html.parent / "axe"
    out.mkdir(exist_ok=True)
    (out / f"{page.name}.json").write_text(json.dumps(violations, indent=1))
    assert_nothing_grave(violations, page.html)


# Code is coloured by one stylesheet (pygments.css) on every page, and checking each of its
# thousands of tokens was three quarters of axe's time on a chapter: axe's colour-contrast rule
# skips code blocks on the pages, and test_every_code_colour_is_legible_in_both_themes checks
# every colour that stylesheet defines, in both themes.
PER_PAGE_AXE = """async () => {
  const report = r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")), count: v.nodes.length}));
  const all = await axe.run(document, {resultTypes: ["violations"],
                                       rules: {"color-contrast": {enabled: false}}});
  const contrast = await axe.run({exclude: [["div.highlight"]]},
                                 {resultTypes: ["violations"], runOnly: ["color-contrast"]});
  return report(all).concat(report(contrast));
}"""


def _load_axe(tab) -> None:
    if not tab.evaluate("() => typeof window.axe !== 'undefined'"):
        tab.add_script_tag(path=str(AXE))


def axe_violations(tab) -> list[dict]:
    """axe-core's violations on the loaded page ``tab`` (id, impact, help, first nodes, count):
    every rule over the whole page, colour contrast outside code blocks."""
    _load_axe(tab)
    return tab.evaluate(PER_PAGE_AXE)


def assert_nothing_grave(violations: list[dict], where: str) -> None:
    """No serious or critical axe finding; the message lists each with its first nodes."""
    grave = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not grave, f"{where}: " + "\n".join(
        f"{v['impact']} {v['id']} ({v['count']}×): {v['help']} — {v['nodes']}" for v in grave)


TOKEN_PROBE = """() => {
  // one span per token class the code stylesheet colours, in a copy of the page's first code
  // cell (so the probe sits where code sits), plus the block's own untokenised text
  const classes = new Set();
  for (const sheet of document.styleSheets) {
    let rules;
    try { rules = sheet.cssRules; } catch (e) { continue; }
    for (const rule of rules) {
      const m = (rule.selectorText || "").match(
        /^html\\[data-theme="(?:light|dark)"\\] \\.highlight \\.([A-Za-z0-9]+)$/);
      if (m && rule.style.color) classes.add(m[1]);
    }
  }
  const cell = document.querySelector("article div.cell_input div.highlight").closest(
    "div.cell_input");
  const probe = cell.cloneNode(true);
  probe.id = "vgx-token-probe";
  probe.querySelector("pre").innerHTML = "plain text\\n" + Array.from(classes)
    .map(c => `<span class="${c}">token_${c}</span>`).join("\\n");
  cell.after(probe);
  return classes.size;
}"""

PROBE_CONTRAST = """async () => {
  const r = await axe.run({include: [["#vgx-token-probe"]]}, {runOnly: ["color-contrast"]});
  const checked = r.passes.concat(r.violations).reduce((n, v) => n + v.nodes.length, 0);
  return {checked, low: r.violations.flatMap(v => v.nodes.map(n =>
    n.target.join(" ") + ": " + n.any.map(a => a.message).join("; ")))};
}"""


def test_every_code_colour_is_legible_in_both_themes(visit):
    """Every token colour of the code stylesheet, on the code background, passes axe's
    colour-contrast rule (WCAG AA, 4.5:1) in the light and in the dark theme: the check the
    per-page axe run leaves out for code blocks, done once for all of them."""
    if not AXE.exists():
        skip_or_fail(f"axe-core is not installed at {AXE}; run `make axe` (needs npm)")
    tab = visit(NOTEBOOKS[0]).page
    _load_axe(tab)
    classes = tab.evaluate(TOKEN_PROBE)
    assert classes >= 20, f"only {classes} token colours found in the code stylesheet"
    try:
        light = tab.evaluate(PROBE_CONTRAST)
        tab.emulate_media(color_scheme="dark")
        _set_theme(tab, "dark")
        dark = tab.evaluate(PROBE_CONTRAST)
    finally:
        tab.emulate_media(color_scheme="light")
        _set_theme(tab, "light")
        tab.evaluate("() => document.getElementById('vgx-token-probe').remove()")
    for theme, result in (("light", light), ("dark", dark)):
        assert result["checked"] > classes, f"{theme}: axe checked {result['checked']} tokens"
        assert not result["low"], f"{theme} theme, low-contrast code colours: {result['low']}"


SWEEP_STATE = """sweep => ({src: sweep.querySelector('img.vgx-frame').src,
  alt: sweep.querySelector('img.vgx-frame').alt})"""


@pytest.mark.parametrize("page", NOTEBOOKS, ids=str)
def test_sweeps_work_from_the_keyboard_and_never_play_by_themselves(visit, page):
    tab = visit(page).page
    sweeps = tab.locator("div.vgx-sweep")
    for i in range(sweeps.count()):
        sweep = sweeps.nth(i)
        start = sweep.evaluate(SWEEP_STATE)
        tab.wait_for_timeout(300)
        assert sweep.evaluate(SWEEP_STATE) == start, f"{page.html}: sweep {i + 1} plays by itself"
        controls = sweep.locator("input[type=range][data-name], select[data-name]")
        for j in range(controls.count()):
            control = controls.nth(j)
            original = control.input_value()
            last = control.evaluate("el => el.tagName === 'SELECT' ? el.options.length - 1 "
                                    ": Number(el.max)")
            key = "ArrowLeft" if str(original) == str(last) else "ArrowRight"
            if control.evaluate("el => el.tagName") == "SELECT":
                key = "ArrowUp" if str(original) == str(last) else "ArrowDown"
            control.focus()
            assert control.evaluate("el => document.activeElement === el")
            control.press(key)
            after = sweep.evaluate(SWEEP_STATE)
            name = control.get_attribute("data-name")
            assert control.input_value() != original, f"{page.html}: {key} did not move {name}"
            assert after["src"] != start["src"], f"{page.html}: {key} on {name}: same frame"
            assert after["alt"] != start["alt"] and f"{name} = " in after["alt"], after["alt"]
            if control.evaluate("el => el.type") == "range":  # announced as the value, not index
                text = control.get_attribute("aria-valuetext") or ""
                assert text.startswith(f"{name} = ") and text.split(" = ", 1)[1] in after["alt"]
            control.press("ArrowLeft" if key == "ArrowRight" else
                          "ArrowRight" if key == "ArrowLeft" else
                          "ArrowDown" if key == "ArrowUp" else "ArrowUp")
            assert control.input_value() == original
            assert sweep.evaluate(SWEEP_STATE) == start


# Code a reader reads (chapter cells, examples in the text); printed output may scroll.
CLIPPED_CODE = """() => Array.from(document.querySelectorAll(
    "article div.cell_input div.highlight pre, article div.highlight-python pre"))
  .filter(pre => pre.offsetParent !== null && pre.scrollWidth > pre.clientWidth + 1)
  .map(pre => [pre.scrollWidth, pre.clientWidth,
               pre.textContent.split("\\n").reduce((a, b) => a.length >= b.length ? a : b)])"""


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_no_code_block_is_wider_than_its_box(visit, page):
    """The reader sees every line of code whole (`make format` fits the chapters to the page)."""
    clipped = visit(page).page.evaluate(CLIPPED_CODE)
    assert not clipped, f"{page.html}: {len(clipped)} code blocks overflow; widest lines: " + \
        "; ".join(repr(line) for *_, line in clipped[:3])


def _contrast(fg, bg) -> float:
    def lum(rgb):
        c = [v / 255 for v in rgb]
        c = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    hi, lo = sorted((lum(fg), lum(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# Text colour and the colour actually behind it for the article's paragraphs, list items and
# headings; and the corner pixel of every loaded figure (an opaque, light background).
DARK_CHECK = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const behind = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const text = Array.from(document.querySelectorAll(
      "article p, article li, article h1, article h2"))
    .filter(el => el.offsetParent !== null && el.textContent.trim())
    .slice(0, 200).map(el => [rgb(getComputedStyle(el).color).slice(0, 3), behind(el),
                               el.textContent.trim().slice(0, 40)]);
  const figures = Array.from(document.querySelectorAll("article img"))
    .filter(img => img.complete && img.naturalWidth > 0 && !img.src.endsWith(".svg"))
    .map(img => {
      const c = document.createElement("canvas");
      c.width = img.naturalWidth; c.height = img.naturalHeight;
      const g = c.getContext("2d"); g.drawImage(img, 0, 0);
      return [img.src.slice(-40), Array.from(g.getImageData(1, 1, 1, 1).data)];
    });
  return {text, figures};
}"""


def _set_theme(tab, mode: str) -> None:
    tab.evaluate("mode => { document.documentElement.dataset.theme = mode; "
                 "document.documentElement.dataset.mode = mode; }", mode)


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_dark_mode_is_legible_and_screenshotted(visit, html, page):
    """The theme's dark mode (as its toggle sets it): text contrast at least 4.5:1 (WCAG AA)
    and every figure on an opaque light background; its first screen in screenshots/dark/."""
    tab = visit(page).page
    shots = html.parent / "screenshots" / "dark"
    shots.mkdir(parents=True, exist_ok=True)
    tab.emulate_media(color_scheme="dark")
    _set_theme(tab, "dark")
    try:
        tab.wait_for_timeout(100)
        found = tab.evaluate(DARK_CHECK)
        shot = screenshot(tab, shots / page.name)
    finally:
        tab.emulate_media(color_scheme="light")
        _set_theme(tab, "light")
    low = [(round(_contrast(fg, bg), 2), words) for fg, bg, words in found["text"]
           if _contrast(fg, bg) < 4.5]
    assert found["text"] and not low, f"{page.html}: low contrast in dark mode: {low[:5]}"
    see_through = [src for src, (r, g, b, a) in found["figures"] if a < 255 or r + g + b < 600]
    assert not see_through, f"{page.html}: figures without an opaque light background: " \
        f"{see_through[:3]}"
    assert shot.stat().st_size > 10_000


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_phone_width_has_no_horizontal_overflow(visit, html, page):
    """At 390 px wide (a phone) the page does not scroll sideways, figures and sweeps fit, and
    the sweep controls stay usable; its first screen in screenshots/mobile/."""
    tab = visit(page).page
    shots = html.parent / "screenshots" / "mobile"
    shots.mkdir(parents=True, exist_ok=True)
    tab.set_viewport_size({"width": 390, "height": 844})
    try:
        tab.wait_for_timeout(200)
        found = tab.evaluate("""() => {
          // inside a box that scrolls sideways on its own (a wide table), not the page
          const scrolls = el => { for (; el && el !== document.body; el = el.parentElement) {
            if (/auto|scroll/.test(getComputedStyle(el).overflowX)
                && el.getBoundingClientRect().right <= 391) return true; } return false; };
          return {
          page: document.documentElement.scrollWidth,
          wide: Array.from(document.querySelectorAll("article img, div.vgx-sweep, table"))
            .filter(e => e.offsetParent !== null && e.getBoundingClientRect().right > 391
                         && !scrolls(e.parentElement))
            .map(e => e.tagName + "." + e.className + " "
                      + Math.round(e.getBoundingClientRect().right)),
          controls: Array.from(document.querySelectorAll("div.vgx-sweep [data-name]"))
            .filter(e => { const r = e.getBoundingClientRect();
                           return r.width < 24 || r.height < 16 || r.right > 391; })
            .map(e => e.dataset.name),
        }; }""")
        screenshot(tab, shots / page.name)
    finally:
        tab.set_viewport_size({"width": 1280, "height": 900})
    assert found["page"] <= 390, f"{page.html}: the page is {found['page']} px wide at 390 px"
    assert not found["wide"], f"{page.html}: wider than the phone: {found['wide'][:5]}"
    assert not found["controls"], f"{page.html}: sweep controls too small or off screen: " \
        f"{found['controls']}"
