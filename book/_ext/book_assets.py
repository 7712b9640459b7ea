"""What the rendered book loads in a reader's browser: local, and free of console errors.

1. MathJax is served from the built book itself, so math renders with no network.

The files come from the PyPI package ``django-static-mathjax`` (pinned in requirements.txt),
which ships MathJax's own npm build (``mathjax-full``, version checked below). After a build
this copies the part of its ``es5`` directory that ``tex-mml-chtml.js`` loads (the combined
component, the CommonHTML fonts, the TeX extensions it autoloads, the accessibility menu and
its speech rules) to ``_static/mathjax`` of the HTML output; ``_config.yml`` points
``mathjax_path`` there. A missing or different package stops the build with the command to fix it.

2. sphinx-thebe 0.3.1 adds its inline configuration script twice to every page under Jupyter
Book 1; the second copy redeclares ``const THEBE_JS_URL`` and throws a SyntaxError in the reader's
console. Duplicate inline scripts are dropped from each page.

3. pydata-sphinx-theme logs "Got invalid theme mode" on a reader's first visit when no default
mode is configured; ``html_context["default_mode"]`` is set to "auto" (follow the system),
which it falls back to anyway.

4. A figure's alt text: myst-nb 1.4 takes an image output's ``width`` and ``height`` from the
output's metadata but not its ``alt`` (that only comes from cell metadata, so every figure's alt
was its own file path). ``vgcourse.setup()`` puts ``{"image/png": {"alt": ...}}`` on every figure
a chapter displays (:func:`vgcourse.plots.install_figure_alt_text`); ``render_image`` is wrapped
here to write it to the image. Cell metadata (``mystnb: image: alt:``) still wins.

6. ``static/vgcourse.css`` (added to every page): API signatures wrap on a phone, sweeps fit
the screen, and figures keep their white background in dark mode.

5. Docutils marks the bibliography ``<div role="list">`` with ``role="doc-biblioentry"``
children, which ARIA 1.2 deprecates: a screen reader finds a list without items (axe-core:
critical, aria-required-children). The entries are made list items.
"""

from __future__ import annotations

import json
import shutil
from importlib.util import find_spec
from pathlib import Path

MATHJAX_VERSION = "3.2.2"
COMPONENT = "tex-mml-chtml.js"
# What tex-mml-chtml.js fetches at run time: fonts, autoloaded TeX packages, menu and a11y parts.
NEEDED = [COMPONENT, "output/chtml", "output/chtml.js", "input", "ui", "a11y", "sre", "adaptors"]


def mathjax_es5() -> Path:
    """The ``es5`` directory of the installed MathJax build; raise if it is missing or wrong."""
    spec = find_spec("mathjax")
    hint = "run `make setup` (requirements.txt pins django-static-mathjax)"
    if spec is None or spec.origin is None:
        raise RuntimeError(f"MathJax is not installed; {hint}.")
    root = Path(spec.origin).parent / "static" / "mathjax"
    package = root / "package.json"
    version = json.loads(package.read_text())["version"] if package.exists() else None
    if version != MATHJAX_VERSION:
        raise RuntimeError(
            f"expected MathJax {MATHJAX_VERSION} at {root}, found {version}; {hint}.")
    return root / "es5"


def copy_mathjax(app, exception) -> None:
    """Copy the MathJax files into ``<html>/_static/mathjax`` (once per version)."""
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    stamp = target / ".version"
    if stamp.exists() and stamp.read_text() == MATHJAX_VERSION:
        return
    source = mathjax_es5()
    shutil.rmtree(target, ignore_errors=True)
    for name in NEEDED:
        src, dst = source / name, target / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
    stamp.write_text(MATHJAX_VERSION)


def drop_duplicate_inline_scripts(app, pagename, templatename, context, doctree) -> None:
    """Keep the first of several identical inline ``<script>`` bodies on a page."""
    scripts, seen = context.get("script_files"), set()
    if not scripts:
        return
    kept = []
    for script in scripts:
        body = None if isinstance(script, str) else getattr(script, "attributes", {}).get("body")
        if body:
            if body in seen:
                continue
            seen.add(body)
        kept.append(script)
    context["script_files"] = kept


def bibliography_list_items(app, pagename, templatename, context, doctree) -> None:
    """Give the entries of a ``role="list"`` bibliography the role ``listitem`` (see 5.)."""
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


def default_theme_mode(app, config) -> None:
    """Give pydata-sphinx-theme an explicit default colour mode ("auto"), via html_context."""
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")
    config.html_context = context
    config.html_static_path = [*config.html_static_path, str(Path(__file__).parent / "static")]


def use_output_alt_text() -> None:
    """Make myst-nb write an image output's ``alt`` metadata to the image (see 4. above)."""
    from myst_nb.core.render import NbElementRenderer

    render = NbElementRenderer.render_image
    if getattr(render, "vgcourse_alt", False):
        return

    def render_image(self, data):
        nodes = render(self, data)
        alt = data.output_metadata.get(data.mime_type, {}).get("alt")
        cell_alt = self.renderer.get_cell_level_config(
            "render_image_options", data.cell_metadata, line=data.line).get("alt")
        if alt and not cell_alt:
            for node in nodes:
                node["alt"] = str(alt)
        return nodes

    render_image.vgcourse_alt = True
    NbElementRenderer.render_image = render_image


def setup(app):
    use_output_alt_text()
    mathjax_es5()  # fail at the start of the build, not after executing every notebook
    app.connect("config-inited", default_theme_mode)
    app.connect("html-page-context", drop_duplicate_inline_scripts)
    app.connect("html-page-context", bibliography_list_items)
    app.connect("build-finished", copy_mathjax)
    app.add_css_file("vgcourse.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
