"""Progress bars that suit where the code runs.

In a live notebook ``tqdm.auto`` draws a widget bar. While the book is built
(``VGCOURSE_EXPLORE=static``) a widget would be a dead ``Loading widget…`` box on the page,
so the plain text bar is used instead; it goes to stderr, which the book drops.
``VGCOURSE_PROGRESS=off`` turns the bars off (``make test`` does, so that nbval compares the
printed numbers of a chapter with the book's without progress output in between).
"""

from __future__ import annotations

import os


def static_mode() -> bool:
    """True when outputs are rendered for a page without a kernel (the book build)."""
    return os.environ.get("VGCOURSE_EXPLORE", "live") == "static"


def progress(iterable=None, **kwargs):
    """A ``tqdm`` progress bar: the notebook widget live, plain text in the book build."""
    if static_mode():
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm
    kwargs.setdefault("mininterval", 0.2)
    if os.environ.get("VGCOURSE_PROGRESS") == "off":
        kwargs["disable"] = True
    return tqdm(iterable, **kwargs)
