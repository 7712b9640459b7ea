"""The built book as the tests see it: its pages (from ``_toc.yml``), where the HTML is, and the
Colab link each page should carry (from ``_config.yml``). Shared by test_book.py and
test_browser.py; nothing here hard-codes a chapter.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def tool(name: str):
    """``tools/<name>.py`` imported as a module (``tools/`` is a folder of scripts, not a
    package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"tools_{name}", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def in_ci() -> bool:
    """True in CI, where a skipped book or browser test is a failure (``.ci/run`` sets CI)."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def skip_or_fail(message: str):
    """Skip on a laptop; fail in CI, where every book test must run."""
    if in_ci():
        pytest.fail(f"{message} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(message)


RENDER_WAIT_SECONDS = 1800


def wait_for_render() -> None:
    """Under ``make test`` the book renders while the first tests run (``make render`` in the
    background writes its exit status to ``$VGCOURSE_RENDER_STATUS``): wait for that status,
    and fail if the rendering failed or never finished."""
    status = os.environ.get("VGCOURSE_RENDER_STATUS")
    if not status:
        return
    path, deadline = Path(status), time.monotonic() + RENDER_WAIT_SECONDS
    while not path.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"the book's rendering did not finish in {RENDER_WAIT_SECONDS} s "
                        f"(no {path})", pytrace=False)
        time.sleep(0.5)
    code = path.read_text().strip()
    if code != "0":
        pytest.fail(f"the book's rendering failed (exit status {code}); its log: "
                    f"{path.parent / 'render.log'}", pytrace=False)


def html_dir() -> Path:
    """The built HTML: ``$VGCOURSE_BOOK_HTML`` if set, else ``_build/html`` of the repository;
    once the rendering ``make test`` runs beside the tests has finished."""
    wait_for_render()
    return Path(os.environ.get("VGCOURSE_BOOK_HTML", ROOT / "_build" / "html")).resolve()


def executed_notebook(source: Path) -> Path:
    """The book build's executed copy of the notebook ``source`` (under ``jupyter_execute``
    beside the HTML, its outputs restored by tools/execute.py), or skip (fail in CI)."""
    path = html_dir().parent / "jupyter_execute" / Path(source).resolve().relative_to(ROOT)
    if not path.exists():
        skip_or_fail(f"no executed copy of {Path(source).name} at {path}; `make book` writes it")
    return path


def toc_path() -> Path:
    """The table of contents the book was built from: ``$VGCOURSE_TOC`` or ``_toc.yml``."""
    return Path(os.environ.get("VGCOURSE_TOC", ROOT / "_toc.yml")).resolve()


def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def _entries(node):
    for entry in node.get("chapters", []) + node.get("sections", []):
        yield entry
        yield from _entries(entry)
    for part in node.get("parts", []):
        yield from _entries(part)


@dataclass(frozen=True)
class Page:
    """One page of the table of contents."""

    file: str  # as in _toc.yml, without extension, e.g. "book/01_mathematics"

    @property
    def source(self) -> Path:
        for suffix in (".ipynb", ".md", ".rst"):
            if (ROOT / (self.file + suffix)).exists():
                return ROOT / (self.file + suffix)
        return ROOT / self.file

    @property
    def is_notebook(self) -> bool:
        return self.source.suffix == ".ipynb"

    @property
    def html(self) -> str:
        """Path of the page inside the HTML output."""
        return self.file + ".html"

    @property
    def name(self) -> str:
        return Path(self.file).name

    def __str__(self) -> str:
        return self.name


def pages() -> list[Page]:
    """Every page the table of contents lists, root first, in reading order."""
    toc = yaml.safe_load(toc_path().read_text())
    files = [toc["root"]] + [e["file"] for e in _entries(toc) if "file" in e]
    return [Page(re.sub(r"\.(ipynb|md|rst)$", "", f)) for f in files]


def notebook_pages() -> list[Page]:
    return [p for p in pages() if p.is_notebook]


def colab_url(page: Page) -> str:
    """The Colab link a notebook page must carry, derived from ``_config.yml``."""
    cfg = config()
    repo = cfg["repository"]
    match = re.match(r"https?://github\.com/([^/]+/[^/]+?)/?$", repo["url"])
    assert match, f"repository.url={repo['url']!r} in _config.yml is not a GitHub repository"
    base = (repo.get("path_to_book") or "").strip("/")
    path = "/".join(x for x in (base, page.file + ".ipynb") if x)
    colab = cfg["launch_buttons"]["colab_url"].rstrip("/")
    return f"{colab}/github/{match.group(1)}/blob/{repo.get('branch', 'main')}/{path}"


def require_book() -> Path:
    """The HTML directory, or skip (fail in CI) when the book has not been built."""
    root = html_dir()
    missing = [p.html for p in pages() if not (root / p.html).exists()]
    if missing:
        skip_or_fail(f"the book is not built at {root} (missing {', '.join(missing[:3])}); "
                     "run `make book` first (`make test` does)")
    return root


@contextlib.contextmanager
def serve(directory: Path):
    """Serve ``directory`` over HTTP on 127.0.0.1 (a free port) and yield its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
