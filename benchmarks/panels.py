"""Where a live ``explore`` update spends its time, phase by phase, without building the book.

Usage::

    .venv/bin/python benchmarks/panels.py book/04_exploding_gradients.ipynb [more chapters]
        [--panel recall_panel] [--repeats 3] [--no-sweep] [--json out.json]

For each chapter it executes the notebook's code cells in this process (with
``VGCOURSE_EXPLORE=static`` and the Agg backend, as the book build does), up to the last cell
that makes an ``explore`` panel, then replays every panel the way ``make bench``
(``benchmarks/run.py``) does: the static sweep first (``--no-sweep`` skips it), then a fresh
panel (empty frame cache, no layout yet) rendering each setting of the sweep once, the
default first. ``--repeats`` replays with a new fresh panel each time.

Each update is split into phases, timed in CPU time of this process
(``time.process_time()``, which other users of a shared machine barely change) and wall time:
``compute`` (the experiment: ``Explorer.figure``), ``layout`` (``_Layout.fit``), ``draw``
(the canvas draw), ``gc`` (the garbage collector's pauses within the update) and ``rest``
(PNG encoding and the alt text). It prints one line per update, then per panel the median and
95th percentile of the total (in CPU milliseconds; the bench's ``p95`` is computed the same way)
beside the targets: median < 100 ms, p95 < 200 ms. No test asserts these timings.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from run import TARGETS, percentile  # noqa: E402  (the bench's own targets and percentile)


class Clock:
    """Accumulates CPU and wall seconds per phase while an update runs."""

    def __init__(self):
        self.cpu, self.wall, self.depth = {}, {}, {}

    def reset(self):
        self.cpu.clear()
        self.wall.clear()

    def wrap(self, phase, fn):
        clock = self

        def timed(*args, **kwargs):
            # A phase inside itself (a nested call) counts once.
            if clock.depth.get(phase):
                return fn(*args, **kwargs)
            clock.depth[phase] = 1
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                clock.depth[phase] = 0
                clock.cpu[phase] = clock.cpu.get(phase, 0.0) + time.process_time() - cpu
                clock.wall[phase] = clock.wall.get(phase, 0.0) + time.perf_counter() - wall

        timed.__wrapped__ = fn
        return timed

    def gc_callback(self, phase, info):
        if phase == "start":
            self._gc = time.process_time(), time.perf_counter()
        elif getattr(self, "_gc", None):
            cpu, wall = self._gc
            self.cpu["gc"] = self.cpu.get("gc", 0.0) + time.process_time() - cpu
            self.wall["gc"] = self.wall.get("gc", 0.0) + time.perf_counter() - wall
            self._gc = None


def instrument(clock: Clock) -> None:
    """Time the phases of an update, and append every new Explorer to ``MADE``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from vgcourse import exploring

    init = exploring.Explorer.__init__

    def recording_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        MADE.append(self)

    exploring.Explorer.__init__ = recording_init
    exploring.Explorer.figure = clock.wrap("compute", exploring.Explorer.figure)
    exploring._Layout.fit = clock.wrap("layout", exploring._Layout.fit)
    FigureCanvasAgg.draw = clock.wrap("draw", FigureCanvasAgg.draw)
    gc.callbacks.append(clock.gc_callback)


def run_chapter(path: Path, panels: set | None) -> list:
    """Execute the chapter's code cells up to its last panel; return the Explorers it made,
    restricted to the functions named in ``panels`` when given."""
    import matplotlib.pyplot as plt
    import nbformat
    from IPython.core.inputtransformer2 import TransformerManager

    nb = nbformat.read(path, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    last = max((i for i, src in enumerate(cells) if "explore(" in src), default=-1)
    if last < 0:
        return []
    namespace = {"__name__": "__main__"}
    transform = TransformerManager().transform_cell
    start = time.perf_counter()
    before = len(MADE)
    cwd = os.getcwd()
    os.chdir(path.parent)  # as the book build runs a chapter
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for src in cells[: last + 1]:  # the chapter's own output is not shown
                exec(compile(transform(src), str(path), "exec"), namespace)
                plt.close("all")
    finally:
        os.chdir(cwd)
    found = MADE[before:]
    print(f"# {path.name}: executed {last + 1} code cells in "
          f"{time.perf_counter() - start:.1f} s; panels: "
          + ", ".join(e.fn.__name__ for e in found), flush=True)
    return [e for e in found if panels is None or e.fn.__name__ in panels]


def replay(explorer, repeats: int, sweep: bool) -> dict:
    """The bench's replay of one panel, phase by phase; returns its summary."""
    from vgcourse.exploring import Explorer

    name = explorer.fn.__name__
    if sweep:
        cpu = time.process_time()
        explorer.static_html()
        print(f"## {name}: static sweep of {len(explorer.frames())} frames "
              f"{time.process_time() - cpu:.2f} s CPU", flush=True)
    rows = []
    for repeat in range(repeats):
        live = Explorer(explorer.fn, explorer.grid, explorer.defaults, explorer.description)
        MADE.remove(live)
        for setting in explorer.frames():
            CLOCK.reset()
            cpu, wall = time.process_time(), time.perf_counter()
            live.render(**setting)
            row = {"repeat": repeat, "setting": setting,
                   "cpu_ms": (time.process_time() - cpu) * 1000,
                   "wall_ms": (time.perf_counter() - wall) * 1000}
            phases = {p: CLOCK.cpu.get(p, 0.0) * 1000
                      for p in ("compute", "layout", "draw", "gc")}
            # gc pauses inside a phase were counted there too: "rest" is what no phase holds
            inside = phases["compute"] + phases["layout"] + phases["draw"]
            phases["rest"] = max(row["cpu_ms"] - inside, 0.0)
            row.update({f"{p}_ms": v for p, v in phases.items()})
            rows.append(row)
            shown = ", ".join(f"{k}={v!r}" for k, v in setting.items())
            print(f"  {row['cpu_ms']:7.1f} ms CPU ({row['wall_ms']:6.1f} wall): "
                  + " ".join(f"{p} {v:5.1f}" for p, v in phases.items())
                  + f"  [{repeat}] {shown}", flush=True)
    total = [r["cpu_ms"] for r in rows]
    summary = {"panel": name, "updates": len(rows),
               "median_ms": round(statistics.median(total), 1),
               "p95_ms": round(percentile(total, 0.95), 1),
               "first_ms": round(rows[0]["cpu_ms"], 1)}
    for phase in ("compute", "layout", "draw", "gc", "rest"):
        summary[f"{phase}_median_ms"] = round(statistics.median(r[f"{phase}_ms"] for r in rows), 1)
    ok = (summary["median_ms"] < TARGETS["panel_median_ms"]
          and summary["p95_ms"] < TARGETS["panel_p95_ms"])
    print(f"## {name}: median {summary['median_ms']} ms, p95 {summary['p95_ms']} ms CPU "
          f"({'ok' if ok else 'OVER'}); phase medians: "
          + ", ".join(f"{p} {summary[f'{p}_median_ms']}" for p in
                      ("compute", "layout", "draw", "gc", "rest")), flush=True)
    summary["rows"] = rows
    return summary


CLOCK = Clock()
MADE: list = []


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="+",
                        help="chapter notebooks, e.g. book/05_batch_norm.ipynb")
    parser.add_argument("--panel", action="append", help="only this panel function (repeatable)")
    parser.add_argument("--repeats", type=int, default=1, help="fresh-panel replays per panel")
    parser.add_argument("--no-sweep", action="store_true", help="skip the static sweep first")
    parser.add_argument("--json", help="write the per-update rows and summaries here")
    args = parser.parse_args(argv)

    os.environ["VGCOURSE_EXPLORE"] = "static"
    os.environ["MPLBACKEND"] = "Agg"  # this process only: no notebook is built from it
    import matplotlib

    matplotlib.use("Agg")
    instrument(CLOCK)
    results = []
    for chapter in args.chapters:
        for explorer in run_chapter(Path(chapter).resolve(), set(args.panel or []) or None):
            results.append(replay(explorer, args.repeats, not args.no_sweep))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
