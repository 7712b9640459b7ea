"""The performance suite: ``make bench`` (or ``.venv/bin/python benchmarks/run.py``).

One run measures, prints a table, and writes ``benchmarks/results.json``:

1. the whole ``make book`` from an empty cache (into a temporary directory, one chapter at a
   time: ``JOBS=1``), each chapter's execution time (from that build's jupyter-cache), how
   ``make book`` grows with the number of chapters (fixed cost + a mean per chapter), and the
   latency of a live ``explore`` update for every panel in the book: the build's kernels load
   an IPython start-up file that, after each static sweep, replays the sweep's settings
   through a fresh panel's ``Explorer.render`` (compute, lay out, draw to PNG: what moving a
   slider costs; the first update lays the figure out from scratch), records every update,
   and subtracts the replay from the chapter's time;
2. ``gradient_flow`` time divided by a bare forward+backward of the same float64 model on the
   same batch, at depths 10, 50 and 100, and how its time grows with depth (linear fit);
3. ``diagnose`` divided by a bare forward+backward on the doctor's regression zoo
   (tests/_zoo.py), its growth with depth (linear fit, sigmoid MLPs of depth 10, 50, 100), and
   the first call's extra time in a fresh process;
4. the design choices the README's "Performance" section explains, side by side: one vs two
   torch threads, float32 vs float64, and with and without flushing subnormal numbers
   (``torch.set_flush_denormal``).

Timings are medians of interleaved repeats (A, B, A, B, ...). Each is taken twice: wall-clock
time, and the CPU time of this process, which a shared machine's other work barely changes;
the ratios are given on both clocks, with the load average. The previous ``results.json`` is
kept under ``"previous"``, and the table shows its figures beside the new ones. No test asserts
a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.json"
TARGETS = {"gradient_flow_ratio": 1.3, "panel_median_ms": 100.0, "panel_p95_ms": 200.0,
           "chapter_seconds": 30.0, "doctor_ratio": 3.0, "doctor_first_call_ms": 500.0}

# Loaded by every kernel of the benchmark's book build (IPYTHONDIR points at it).
RECORDER = '''
import json as _json, os as _os, time as _time
_path = _os.environ.get("VGCOURSE_BENCH_RECORD")
if _path:
    from vgcourse.exploring import Explorer as _Explorer
    _figure, _static_html, _compute = _Explorer.figure, _Explorer.static_html, [0.0]
    def _timed_figure(self, **params):
        start = _time.perf_counter()
        fig = _figure(self, **params)
        _compute[0] += _time.perf_counter() - start
        return fig
    def _replayed_static_html(self):
        start = _time.perf_counter()
        page = _static_html(self)
        sweep = _time.perf_counter() - start
        # A reader moving the sliders of a live panel: a fresh panel (empty cache, no layout
        # yet), one update per setting of the sweep, the default first.
        live, rows = _Explorer(self.fn, self.grid, self.defaults, self.description), []
        replay = _time.perf_counter()
        for setting in self.frames():
            _compute[0] = 0.0
            wall, cpu = _time.perf_counter(), _time.process_time()
            live.render(**setting)
            rows.append({"seconds": _time.perf_counter() - wall,
                         "cpu_seconds": _time.process_time() - cpu,
                         "compute_seconds": _compute[0]})
        with open(_path, "a") as f:
            f.write(_json.dumps({"panel": getattr(self.fn, "__name__", "fn"),
                                 "description": self.description, "pid": _os.getpid(),
                                 "sweep_seconds": sweep, "frames": len(rows),
                                 "replay_seconds": _time.perf_counter() - replay,
                                 "updates": rows}) + "\\n")
        return page
    _Explorer.figure, _Explorer.static_html = _timed_figure, _replayed_static_html
'''


def load() -> float:
    return os.getloadavg()[0]


def percentile(values, q):
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


# -- 1. the book ----------------------------------------------------------------------------
def chapter_of(panel: str) -> str:
    """The notebook that defines the panel function ``panel``."""
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        if re.search(rf"def {re.escape(panel)}\(", nb.read_text(encoding="utf-8")):
            return nb.stem
    return "?"


def bench_book(toc: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="vgcourse-bench-") as tmp:
        tmp = Path(tmp)
        startup = tmp / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-vgcourse-bench.py").write_text(RECORDER)
        record = tmp / "renders.jsonl"
        env = {**os.environ, "IPYTHONDIR": str(tmp / "ipython"),
               "VGCOURSE_BENCH_RECORD": str(record)}
        load_before = load()
        start = time.perf_counter()
        # JOBS=1: one chapter at a time, so each chapter's time and each panel's latency is
        # measured on an otherwise idle machine (make book runs two at a time by default).
        proc = subprocess.run(["make", "--no-print-directory", "book", f"TOC={toc}",
                               f"OUT={tmp}", "JOBS=1"], cwd=ROOT, env=env, capture_output=True,
                              text=True)
        wall = time.perf_counter() - start
        if proc.returncode:  # timings still count; say why the build failed
            problems = [line for line in (proc.stdout + proc.stderr).splitlines()
                        if re.search(r"WARNING: (?!Kernel)|ERROR|Error ", line)]
            print(f"make book exited with {proc.returncode}:", *problems[-20:], sep="\n",
                  file=sys.stderr)
        from jupyter_cache import get_cache

        chapters = {}
        cache = tmp / "_build" / ".jupyter_cache"
        if cache.exists():
            for rec in get_cache(str(cache)).list_cache_records():
                chapters[Path(rec.uri).stem] = rec.data.get("execution_seconds", 0.0)
        sweeps = [json.loads(line) for line in record.read_text().splitlines()] \
            if record.exists() else []
    panel_rows, replayed = {}, {}
    for sweep in sweeps:
        name, updates = sweep["panel"], sweep["updates"]
        chapter = chapter_of(name)
        replayed[chapter] = replayed.get(chapter, 0.0) + sweep["replay_seconds"]
        ms = [u["seconds"] * 1000 for u in updates]
        cpu_ms = [u["cpu_seconds"] * 1000 for u in updates]
        panel_rows[name] = {"chapter": chapter, "updates": len(ms),
                            "median_ms": round(statistics.median(ms), 1),
                            "p95_ms": round(percentile(ms, 0.95), 1),
                            "cpu_median_ms": round(statistics.median(cpu_ms), 1),
                            "cpu_p95_ms": round(percentile(cpu_ms, 0.95), 1),
                            "first_update_ms": round(ms[0], 1),
                            "compute_median_ms": round(statistics.median(
                                u["compute_seconds"] for u in updates) * 1000, 1),
                            "static_sweep_seconds": round(sweep["sweep_seconds"], 2),
                            "description": sweep["description"]}
    # The replay is the benchmark's own addition: a chapter's time is the build's without it.
    chapters = {name: round(s - replayed.get(name, 0.0), 2) for name, s in sorted(chapters.items())}
    replay_total = sum(replayed.values())
    return {"make_book_seconds": round(wall - replay_total, 1),
            "make_book_exit_code": proc.returncode,
            "benchmark_replay_seconds": round(replay_total, 1),
            "load_average_before": round(load_before, 2), "load_average_after": round(load(), 2),
            "chapter_seconds": chapters, "growth": book_growth(wall - replay_total, chapters),
            "panels": panel_rows}


def book_growth(wall: float, chapters: dict) -> dict:
    """``make book`` as a fixed cost (Sphinx, the venv check, writing the pages) plus the
    chapters' execution: the time for n chapters of the mean cost, by that split."""
    if not chapters:
        return {}
    executed = sum(chapters.values())
    mean = executed / len(chapters)
    fixed = wall - executed
    return {"chapters": len(chapters), "executing_seconds": round(executed, 1),
            "fixed_seconds": round(fixed, 1), "mean_chapter_seconds": round(mean, 1),
            "estimate_seconds": {n: round(fixed + n * mean) for n in (10, 15, 20)}}


# -- 2., 3. and 4. the measurement itself -------------------------------------------------------
CPU = {}  # the CPU-time medians of the last timed() call, by name


def timed(fns: dict, repeats: int) -> dict:
    """Median wall-clock seconds of each function; the functions run interleaved, after one
    warm-up. The CPU-time medians of the same calls are left in ``CPU``.

    A value may be ``(setting, fn)``: ``setting()`` runs untimed before each call of ``fn``.
    """
    fns = {name: fn if isinstance(fn, tuple) else (lambda: None, fn) for name, fn in fns.items()}
    times = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    for setting, fn in fns.values():
        setting()
        fn()
    for _ in range(repeats):
        for name, (setting, fn) in fns.items():
            setting()
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    CPU.clear()
    CPU.update({name: statistics.median(t) for name, t in cpu.items()})
    return {name: statistics.median(t) for name, t in times.items()}


def linear_fit(xs, ys) -> dict:
    """Least squares ``y = a + b x``: slope, intercept and R² (linear when close to 1)."""
    slope, intercept = statistics.linear_regression(xs, ys)
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys))
    ss_tot = sum((y - statistics.mean(ys)) ** 2 for y in ys) or 1.0
    return {"ms_per_layer": round(slope, 3), "intercept_ms": round(intercept, 2),
            "linear_fit_r2": round(1 - ss_res / ss_tot, 4)}


def flow_case(depth, width=128, batch=64, dtype=None, activation="tanh", init="lecun", gain=1.0):
    import torch

    import vgcourse

    dtype = dtype or torch.float64
    model = vgcourse.mlp(depth, width, activation=activation, init=init, gain=gain, dtype=dtype)
    x, y = vgcourse.data.gaussian_batch(batch=batch, features=width, seed=0)
    x, y = x.to(dtype), y.to(dtype)
    params = [p for p in model.parameters()]

    def flow():
        vgcourse.gradient_flow(model, x, y, dtype=dtype)

    def bare():
        loss = torch.nn.functional.mse_loss(model(x), y)
        torch.autograd.grad(loss, params)

    return flow, bare


def bench_gradient_flow(depths=(10, 50, 100), repeats=15) -> dict:
    rows = {}
    for depth in depths:
        flow, bare = flow_case(depth)
        # At least 0.6 s of calls at every depth: 15 calls of 3 ms at depth 10 left its ratio
        # to this VM's noise (1.21 to 1.38 between runs of the same code).
        t = timed({"gradient_flow": flow, "bare": bare}, max(repeats, 2000 // depth))
        rows[depth] = {"gradient_flow_ms": round(t["gradient_flow"] * 1000, 2),
                       "bare_forward_backward_ms": round(t["bare"] * 1000, 2),
                       "ratio": round(t["gradient_flow"] / t["bare"], 3),
                       "cpu_ratio": round(CPU["gradient_flow"] / CPU["bare"], 3)}
    # Growth with depth: least squares t = a + b * depth; linear when R^2 is close to 1.
    return {"width": 128, "batch": 64, "activation": "tanh", "dtype": "float64",
            "depths": rows, **linear_fit(list(depths), [rows[d]["gradient_flow_ms"]
                                                        for d in depths])}


def bench_choices(repeats=15) -> dict:
    import torch

    out = {}
    flow64, _ = flow_case(50)
    t = timed({threads: (lambda n=threads: torch.set_num_threads(n), flow64)
               for threads in (1, 2)}, repeats)
    torch.set_num_threads(1)
    out["threads"] = {"case": "gradient_flow, tanh MLP depth 50, width 128, batch 64, float64",
                      "one_thread_ms": round(t[1] * 1000, 2),
                      "two_threads_ms": round(t[2] * 1000, 2)}
    flow32, _ = flow_case(50, dtype=torch.float32)
    t = timed({"float32": flow32, "float64": flow64}, repeats)
    out["precision"] = {"case": "gradient_flow, tanh MLP depth 50, width 128, batch 64",
                        "float32_ms": round(t["float32"] * 1000, 2),
                        "float64_ms": round(t["float64"] * 1000, 2)}
    # A float32 deep linear network (orthogonal, gain 0.7) of depth 300: the signal and the
    # gradient shrink by 0.7 per layer and cross float32's subnormal range (1.2e-38 to 1.4e-45)
    # over about 45 layers each way.
    sub, _ = flow_case(300, width=64, dtype=torch.float32, activation="identity",
                       init="orthogonal", gain=0.7)
    normal, _ = flow_case(300, width=64, dtype=torch.float32, activation="identity",
                          init="orthogonal", gain=1.0)
    runs = {(flush, name): (lambda f=flush: torch.set_flush_denormal(f), fn)
            for flush in (False, True) for name, fn in (("sub", sub), ("normal", normal))}
    measured = timed(runs, repeats)
    torch.set_flush_denormal(False)
    t = {flush: {name: measured[(flush, name)] for name in ("sub", "normal")}
         for flush in (False, True)}
    out["subnormals"] = {
        "case": "gradient_flow, identity MLP depth 300, width 64, batch 64, float32, gain 0.7 "
                "(crosses the subnormal range) vs gain 1.0 (never does)",
        "flush_supported": torch.set_flush_denormal(False),
        "gain_0.7_no_flush_ms": round(t[False]["sub"] * 1000, 2),
        "gain_0.7_flush_ms": round(t[True]["sub"] * 1000, 2),
        "gain_1.0_no_flush_ms": round(t[False]["normal"] * 1000, 2),
        "gain_1.0_flush_ms": round(t[True]["normal"] * 1000, 2)}
    return out


def bench_doctor(repeats=15) -> dict:
    """``diagnose`` against a bare forward+backward of the same model on the same batch, on the
    regression zoo of tests/_zoo.py (float32, as readers bring them), and the first call's extra
    cost in a fresh process (after torch's own first forward and backward, which any model has
    run before it is diagnosed; that one costs seconds on a loaded machine whoever calls it)."""
    import torch

    sys.path.insert(0, str(ROOT / "tests"))
    from _zoo import Mixer, PlainCNN, ResNet, SeqClassifier, TransformerLM

    import vgcourse

    g = torch.Generator().manual_seed(0)
    images = (torch.randn(16, 1, 16, 16, generator=g), torch.arange(16) % 10)
    tokens = (torch.randint(0, 50, (8, 16), generator=g), torch.randint(0, 50, (128,), generator=g))
    seqs = (torch.randint(0, 20, (16, 8), generator=g), torch.arange(16) % 4)
    torch.manual_seed(0)
    zoo = {"resnet": (ResNet(), images), "transformer LM": (TransformerLM(), tokens),
           "LSTM": (SeqClassifier("lstm"), seqs), "GRU": (SeqClassifier("gru"), seqs),
           "MLP-Mixer": (Mixer(), images), "deep plain CNN": (PlainCNN(depth=20), images),
           "sigmoid MLP 12x64": (vgcourse.mlp(12, 64, activation="sigmoid", in_features=16,
                                              out_features=10),
                                 (torch.randn(64, 16, generator=g), torch.arange(64) % 10))}
    rows = {}
    for name, (model, (x, y)) in zoo.items():
        params = [p for p in model.parameters() if p.requires_grad]

        def bare(model=model, x=x, y=y, params=params):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            torch.autograd.grad(loss, params)

        t = timed({"doctor": lambda m=model, x=x, y=y: vgcourse.diagnose(m, x, y),
                   "bare": bare}, repeats)
        rows[name] = {"diagnose_ms": round(t["doctor"] * 1000, 2),
                      "bare_forward_backward_ms": round(t["bare"] * 1000, 2),
                      "ratio": round(t["doctor"] / t["bare"], 3),
                      "cpu_ratio": round(CPU["doctor"] / CPU["bare"], 3)}
    depths = (10, 50, 100)
    by_depth = {}
    for depth in depths:  # growth with depth: sigmoid MLPs of width 64
        model = vgcourse.mlp(depth, 64, activation="sigmoid", in_features=16, out_features=10)
        x, y = torch.randn(64, 16, generator=g), torch.arange(64) % 10
        t = timed({"doctor": lambda m=model, x=x, y=y: vgcourse.diagnose(m, x, y)}, repeats)
        by_depth[depth] = round(t["doctor"] * 1000, 2)
    growth = {"case": "sigmoid MLP, width 64, batch 64", "diagnose_ms": by_depth,
              **linear_fit(list(depths), [by_depth[d] for d in depths])}
    first = subprocess.run(
        [sys.executable, "-c",
         "import time, torch, vgcourse\n"
         "m = vgcourse.mlp(12, 64, in_features=16, out_features=10)\n"
         "x, y = torch.randn(64, 16), torch.arange(64) % 10\n"
         "torch.set_num_threads(1)\n"
         "for _ in range(2):  # torch's own first forward and backward, which any user has run\n"
         "    loss = torch.nn.functional.cross_entropy(m(x), y)\n"
         "    torch.autograd.grad(loss, list(m.parameters()))\n"
         "ts = []\n"
         "for _ in range(6):\n"
         "    t = time.perf_counter(); vgcourse.diagnose(m, x, y)\n"
         "    ts.append(time.perf_counter() - t)\n"
         "print(ts[0], sorted(ts[1:])[2])"],
        capture_output=True, text=True, check=True).stdout.split()
    return {"models": rows, "median_ratio": round(statistics.median(
                r["ratio"] for r in rows.values()), 3), "growth": growth,
            "first_call_ms": round(float(first[0]) * 1000, 1),
            "later_call_ms": round(float(first[1]) * 1000, 1),
            "first_call_extra_ms": round((float(first[0]) - float(first[1])) * 1000, 1)}


# -- report ---------------------------------------------------------------------------------
def _was(previous: dict, *path, fmt="{:.1f}") -> str:
    """A previous figure formatted for the table, or "–" when the previous run lacks it."""
    value = previous
    for key in path:
        if not isinstance(value, dict) or str(key) not in value:
            return "–"
        value = value[str(key)]
    return fmt.format(value) if isinstance(value, (int, float)) else "–"


def table(results: dict) -> str:
    """The results as Markdown tables, each figure beside the previous run's ("before")."""
    lines = []
    add = lines.append
    before = results.get("previous", {})
    add(f"previous run: {before.get('date', 'none')}, load average "
        f"{before.get('load_average_at_start', float('nan')):.1f}; this run: {results['date']}, "
        f"load average {results['load_average_at_start']:.1f} -> "
        f"{results.get('load_average_at_end', float('nan')):.1f}")
    add("")
    book = results.get("book")
    if book:
        add(f"make book from an empty cache: {book['make_book_seconds']:.0f} s, before "
            f"{_was(before, 'book', 'make_book_seconds', fmt='{:.0f}')} s (exit code "
            f"{book['make_book_exit_code']}, load average {book['load_average_before']:.1f} -> "
            f"{book['load_average_after']:.1f})")
        growth = book.get("growth")
        if growth:
            add(f"growth: {growth['fixed_seconds']:.0f} s fixed + "
                f"{growth['mean_chapter_seconds']:.1f} s per chapter on average; estimated "
                + ", ".join(f"{n} chapters {s} s" for n, s in growth["estimate_seconds"].items()))
        add("")
        add("| chapter | execution (s) | before (s) | target |")
        add("|---|---:|---:|---|")
        for name, s in book["chapter_seconds"].items():
            ok = "ok" if s < TARGETS["chapter_seconds"] else "OVER"
            add(f"| {name} | {s:.1f} | {_was(before, 'book', 'chapter_seconds', name)} | "
                f"{ok} < 30 s |")
        add("")
        add("| explore panel | chapter | updates | median (ms) | p95 (ms) | CPU median / p95 (ms) "
            "| first update (ms) | compute, median (ms) | before: median / p95 (ms) | target |")
        add("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for name, p in book["panels"].items():
            ok = ("ok" if p["median_ms"] < TARGETS["panel_median_ms"]
                  and p["p95_ms"] < TARGETS["panel_p95_ms"] else "OVER")
            add(f"| {name} | {p['chapter']} | {p['updates']} | {p['median_ms']:.0f} | "
                f"{p['p95_ms']:.0f} | {p.get('cpu_median_ms', float('nan')):.0f} / "
                f"{p.get('cpu_p95_ms', float('nan')):.0f} | "
                f"{p.get('first_update_ms', float('nan')):.0f} | {p['compute_median_ms']:.0f} | "
                f"{_was(before, 'book', 'panels', name, 'median_ms', fmt='{:.0f}')} / "
                f"{_was(before, 'book', 'panels', name, 'p95_ms', fmt='{:.0f}')} | "
                f"{ok} < 100 / 200 ms |")
        add("")
    gf = results["gradient_flow"]
    add("| depth | gradient_flow (ms) | bare fwd+bwd (ms) | ratio | CPU-time ratio | ratio before "
        "| target |")
    add("|---:|---:|---:|---:|---:|---:|---|")
    for depth, r in gf["depths"].items():
        ok = "ok" if r["ratio"] <= TARGETS["gradient_flow_ratio"] else "OVER"
        add(f"| {depth} | {r['gradient_flow_ms']:.1f} | {r['bare_forward_backward_ms']:.1f} | "
            f"{r['ratio']:.2f} | {r.get('cpu_ratio', float('nan')):.2f} | "
            f"{_was(before, 'gradient_flow', 'depths', depth, 'ratio', fmt='{:.2f}')} | "
            f"{ok} <= 1.3 |")
    add(f"growth: {gf['ms_per_layer']:.3f} ms per layer + {gf['intercept_ms']:.1f} ms, "
        f"linear fit R^2 = {gf['linear_fit_r2']:.3f} (before "
        f"{_was(before, 'gradient_flow', 'ms_per_layer', fmt='{:.3f}')} ms per layer)")
    add("")
    d = results.get("doctor")
    if d:
        add("| doctor on | diagnose (ms) | bare fwd+bwd (ms) | ratio | CPU-time ratio | "
            "ratio before | target |")
        add("|---|---:|---:|---:|---:|---:|---|")
        for name, r in d["models"].items():
            ok = "ok" if r["ratio"] <= TARGETS["doctor_ratio"] else "OVER"
            add(f"| {name} | {r['diagnose_ms']:.1f} | {r['bare_forward_backward_ms']:.1f} | "
                f"{r['ratio']:.2f} | {r.get('cpu_ratio', float('nan')):.2f} | "
                f"{_was(before, 'doctor', 'models', name, 'ratio', fmt='{:.2f}')} | "
                f"{ok} <= 3 |")
        ok = "ok" if d["first_call_extra_ms"] <= TARGETS["doctor_first_call_ms"] else "OVER"
        add(f"median ratio {d['median_ratio']:.2f}; first call in a fresh process "
            f"{d['first_call_ms']:.0f} ms, later calls {d['later_call_ms']:.0f} ms: "
            f"{d['first_call_extra_ms']:.0f} ms extra ({ok} <= 500 ms)")
        growth = d.get("growth")
        if growth:
            add(f"growth ({growth['case']}): "
                + ", ".join(f"depth {k}: {v:.1f} ms" for k, v in growth["diagnose_ms"].items())
                + f"; {growth['ms_per_layer']:.3f} ms per layer + {growth['intercept_ms']:.1f} ms,"
                f" linear fit R^2 = {growth['linear_fit_r2']:.3f}")
        add("")
    c = results["choices"]
    add("| choice | setting A | setting B |")
    add("|---|---:|---:|")
    add(f"| torch threads (1 / 2) | {c['threads']['one_thread_ms']:.1f} ms | "
        f"{c['threads']['two_threads_ms']:.1f} ms |")
    add(f"| precision (float32 / float64) | {c['precision']['float32_ms']:.1f} ms | "
        f"{c['precision']['float64_ms']:.1f} ms |")
    s = c["subnormals"]
    add(f"| subnormals, gain 0.7 (no flush / flush) | {s['gain_0.7_no_flush_ms']:.1f} ms | "
        f"{s['gain_0.7_flush_ms']:.1f} ms |")
    add(f"| no subnormals, gain 1.0 (no flush / flush) | {s['gain_1.0_no_flush_ms']:.1f} ms | "
        f"{s['gain_1.0_flush_ms']:.1f} ms |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--toc", default="_toc.yml", help="table of contents to build")
    parser.add_argument("--skip-book", action="store_true",
                        help="skip the empty-cache book build (keeps the book part of the "
                             "previous results.json)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    import torch

    import vgcourse

    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "command": " ".join(["benchmarks/run.py", *(argv if argv is not None
                                                          else sys.argv[1:])]),
               "machine": f"{platform.machine()}, "
               f"{os.cpu_count()} CPUs", "torch": torch.__version__,
               "load_average_at_start": round(load(), 2)}
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    previous.pop("previous", None)
    results["previous"] = previous  # shown beside the new figures
    if args.skip_book:
        if "book" in previous:
            results["book"] = previous["book"]
            results["book_measured_on"] = previous.get("book_measured_on", previous["date"])
    else:
        print(f"building the book from an empty cache ({args.toc}) ...", flush=True)
        results["book"] = bench_book(args.toc)
    vgcourse.setup(seed=0)
    print("timing gradient_flow ...", flush=True)
    results["gradient_flow"] = bench_gradient_flow(repeats=args.repeats)
    print("timing the gradient doctor on the zoo ...", flush=True)
    results["doctor"] = bench_doctor(repeats=args.repeats)
    print("timing the design choices ...", flush=True)
    results["choices"] = bench_choices(repeats=args.repeats)
    results["load_average_at_end"] = round(load(), 2)
    results = {k: v for k, v in results.items() if k != "previous"} | {"previous": previous}
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(args.out)
    print()
    print(table(results))
    print(f"\nload average {results['load_average_at_start']:.1f} at start, "
          f"{results['load_average_at_end']:.1f} at end; written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
