"""Lines of chapter code a reader would see clipped: shown code cells with a line wider than the
book's code column. ``make format`` (ruff) fits what it can; strings and comments it cannot split
are listed here for the author. Cells whose input the book hides (``remove-input``,
``remove-cell``) do not count.

    python tools/code_width.py [--width 77] book/*.ipynb   # exit status 1 when any line is wider
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HIDDEN = {"remove-input", "remove-cell"}


def long_lines(path: Path, width: int):
    """Yield ``(cell number, line number, line)`` for every shown code line wider than width."""
    cells = json.loads(path.read_text())["cells"]
    for number, cell in enumerate(cells, 1):
        if cell["cell_type"] != "code" or HIDDEN & set(cell.get("metadata", {}).get("tags", [])):
            continue
        for line_no, line in enumerate("".join(cell["source"]).splitlines(), 1):
            if len(line) > width:
                yield number, line_no, line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=77,
                        help="characters the code column shows (measured in the built book)")
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    found = 0
    for path in args.notebooks:
        for cell, line_no, line in long_lines(path, args.width):
            found += 1
            print(f"{path}:cell {cell}:{line_no}: {len(line)} > {args.width}: {line.strip()[:60]}")
    if found:
        print(f"{found} shown code lines wider than {args.width} characters: split them by hand")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
