"""The numbers the book prints in its prose, recorded so that a change to any of them shows.

Every measured number in a chapter's prose comes from a ``vgcourse.say`` call, which stores its
values in the output's metadata. This script collects them from the book build's executed
notebooks into ``book/golden_numbers.json``; ``tests/test_golden.py`` compares every build with
that file, so a change to a printed number is a deliberate edit that shows in the diff::

    python tools/golden.py update          # after `make book`: rewrite the file from the build
    python tools/golden.py update --out _build/my_build  # another build directory

A value is keyed by chapter, then ``"<n>.<name>"``: the n-th ``say`` output of the chapter (from
1) and the name of the value in that call.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "book" / "golden_numbers.json"


def printed_numbers(executed: Path) -> dict[str, float | str]:
    """The values of every ``say`` output of one executed notebook, keyed ``"<n>.<name>"``."""
    nb = json.loads(executed.read_text(encoding="utf-8"))
    found, count = {}, 0
    for cell in nb["cells"]:
        for output in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            values = output.get("metadata", {}).get("vgcourse", {}).get("values")
            if values is None:
                continue
            count += 1
            for name, value in values.items():
                found[f"{count}.{name}"] = value
    return found


def collect(build: Path) -> dict[str, dict]:
    """Every chapter's printed numbers from ``build/jupyter_execute/book``."""
    folder = build / "jupyter_execute" / "book"
    found = {}
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        if not any(cell.get("outputs") for cell in cells):
            # myst-nb writes the executed copy without outputs when it serves a notebook from
            # jupyter-cache after a change to its Markdown only; the page itself is right.
            raise RuntimeError(f"{path} has no outputs (a notebook served from jupyter-cache); "
                               "`make clean book` executes every chapter afresh")
        found[path.stem] = printed_numbers(path)
    return found


def differences(golden: dict, built: dict, rtol: float, atol: float) -> list[str]:
    """Human-readable differences between the recorded numbers and a build's."""
    problems = []
    for chapter in sorted(set(golden) | set(built)):
        want, got = golden.get(chapter, {}), built.get(chapter, {})
        for key in sorted(set(want) | set(got)):
            if key not in got:
                problems.append(f"{chapter} {key}: recorded {want[key]!r}, no longer printed")
            elif key not in want:
                problems.append(f"{chapter} {key}: printed {got[key]!r}, not recorded")
            elif not same(want[key], got[key], rtol, atol):
                problems.append(f"{chapter} {key}: recorded {want[key]!r}, printed {got[key]!r}")
    return problems


def same(a, b, rtol: float, atol: float) -> bool:
    """Equal numbers within tolerance (NaN equals NaN), or equal other values."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
            and not isinstance(a, bool) and not isinstance(b, bool):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y, rtol, atol) for x, y in zip(a, b))
    return a == b


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["update"])
    parser.add_argument("--out", type=Path, default=ROOT / "_build",
                        help="the build directory (default: _build)")
    args = parser.parse_args(argv)
    numbers = collect(args.out)
    if not numbers:
        parser.error(f"no executed chapters under {args.out}/jupyter_execute/book; "
                     "run `make book` first")
    GOLDEN.write_text(json.dumps(numbers, indent=1, sort_keys=True) + "\n")
    total = sum(len(v) for v in numbers.values())
    print(f"wrote {total} numbers of {len(numbers)} chapters to {GOLDEN.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
