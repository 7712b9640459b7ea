"""Write chapter 10's corpus, shipped with the package, from an interpreter's standard library.

Chapter 10 trains on Python source: the public top-level modules of CPython's standard library.
Read from the running interpreter, that text changes with the Python version (Colab runs another
one than the book's build), and so would every number the chapter prints. The text is therefore
taken once, from the interpreter named below, and shipped in ``vgcourse/corpus/``::

    python tools/corpus.py        # rewrite vgcourse/corpus/ from this interpreter's stdlib

It must be run with the Python of ``PYTHON`` (the book's): it refuses any other.
``vgcourse.data.source_text`` reads the shipped file; ``tests/test_language.py`` checks the file
against the checksums recorded in ``vgcourse/corpus/PROVENANCE.md``.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import platform
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "vgcourse" / "corpus"
PYTHON = "3.11.7"  # the interpreter the book is built with (requirements.txt, .venv)
# Files are shipped in alphabetical order until the ones source_text's default length limits
# keep hold this many characters: more than chapter 10 reads (500 000).
SHIP_SELECTED_CHARS = 600_000
DEFAULT_LIMITS = (2_000, 60_000)


def stdlib_files(stdlib: Path) -> list[tuple[str, str]]:
    """``(name, text)`` of the public top-level modules, alphabetically, as far as shipped."""
    files, selected = [], 0
    for path in sorted(stdlib.glob("*.py")):
        if path.name.startswith("_"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        files.append((path.name, text))
        if DEFAULT_LIMITS[0] <= len(text.replace("\t", "    ")) <= DEFAULT_LIMITS[1]:
            selected += len(text)
        if selected >= SHIP_SELECTED_CHARS:
            break
    return files


def main() -> int:
    """Write the compressed corpus and its licence; print the checksums for PROVENANCE.md."""
    if platform.python_version() != PYTHON:
        print(f"run this with Python {PYTHON}, not {platform.python_version()}")
        return 1
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = stdlib_files(stdlib)
    payload = json.dumps({"python_version": PYTHON, "files": files}, ensure_ascii=False,
                         indent=0).encode("utf-8")
    # xz with fixed settings and no timestamps: the same input gives the same bytes.
    packed = lzma.compress(payload, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64,
                           preset=9 | lzma.PRESET_EXTREME)
    FOLDER.mkdir(exist_ok=True)
    (FOLDER / f"stdlib-{PYTHON}.json.xz").write_bytes(packed)
    (FOLDER / "LICENSE-PSF.txt").write_text((stdlib / "LICENSE.txt").read_text())
    print(f"{len(files)} files, {files[0][0]} to {files[-1][0]}")
    print(f"json sha256 {hashlib.sha256(payload).hexdigest()}, {len(payload)} bytes")
    print(f"xz sha256 {hashlib.sha256(packed).hexdigest()}, {len(packed)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
