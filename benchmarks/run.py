"""The performance suite: ``make bench`` (or ``.venv/bin/python benchmarks/run.py``).

One run measures, prints a table, and writes ``benchmarks/results.json``:

1. the whole ``make book`` from an empty cache (into a temporary directory), each chapter's
   execution time (from that build's jupyter-cache), and the latency of one ``explore`` update
   (``Explorer.render``: compute + redraw to PNG, with the compute part, ``Explorer.figure``,
   shown apart) for every panel in the book. The panels are
   found by executing nothing twice: the build's kernels load an IPython start-up file that times
   every ``Explorer.render`` call of the static sweeps (each frame is one update) and appends it
   to a JSON-lines file;
2. ``gradient_flow`` time divided by a bare forward+backward of the same float64 model on the
   same batch, at depths 10, 50 and 100, and how its time grows with depth;
3. ``diagnose`` divided by a bare forward+backward on the doctor's regression zoo
   (tests/_zoo.py), and the first call's extra time in a fresh process;
4. the design choices the README's "Performance" section explains, side by side: one vs two
   torch threads, float32 vs float64, and with and without flushing subnormal numbers
   (``torch.set_flush_denormal``).

Timings are medians of interleaved repeats; the load average is recorded with them, since the
machine may be shared. No test asserts a timing.
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
TARGETS = {"gradient_flow_ratio": 1.3, "panel_median_ms": 150.0, "chapter_seconds": 60.0,
           "doctor_ratio": 3.0, "doctor_first_call_ms": 500.0}

# Loaded by every kernel of the benchmark's book build (IPYTHONDIR points at it).
RECORDER = '''
import json as _json, os as _os, time as _time
_path = _os.environ.get("VGCOURSE_BENCH_RECORD")
if _path:
    from vgcourse.exploring import Explorer as _Explorer
    _render, _figure, _compute = _Explorer.render, _Explorer.figure, [0.0]
    def _timed_figure(self, **params):
        start = _time.perf_counter()
        fig = _figure(self, **params)
        _compute[0] = _time.perf_counter() - start
        return fig
    def _timed_render(self, **params):
        start = _time.perf_counter()
        png = _render(self, **params)
        seconds = _time.perf_counter() - start
        with open(_path, "a") as f:
            f.write(_json.dumps({"panel": getattr(self.fn, "__name__", "fn"),
                                 "description": self.description, "pid": _os.getpid(),
                                 "seconds": seconds, "compute_seconds": _compute[0]}) + "\\n")
        return png
    _Explorer.figure, _Explorer.render = _timed_figure, _timed_render
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
        proc = subprocess.run(["make", "--no-print-directory", "book", f"TOC={toc}",
                               f"OUT={tmp}"], cwd=ROOT, env=env, capture_output=True, text=True)
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
                chapters[Path(rec.uri).stem] = round(rec.data.get("execution_seconds", 0.0), 2)
        renders = [json.loads(line) for line in record.read_text().splitlines()] \
            if record.exists() else []
    panels = {}
    for r in renders:
        panels.setdefault(r["panel"], {"description": r["description"], "seconds": [],
                                       "compute": []})
        panels[r["panel"]]["seconds"].append(r["seconds"])
        panels[r["panel"]]["compute"].append(r["compute_seconds"])
    panel_rows = {}
    for name, p in panels.items():
        ms = [s * 1000 for s in p["seconds"]]
        panel_rows[name] = {"chapter": chapter_of(name), "updates": len(ms),
                            "median_ms": round(statistics.median(ms), 1),
                            "p95_ms": round(percentile(ms, 0.95), 1),
                            "compute_median_ms": round(statistics.median(p["compute"]) * 1000, 1),
                            "description": p["description"]}
    return {"make_book_seconds": round(wall, 1), "make_book_exit_code": proc.returncode,
            "load_average_before": round(load_before, 2), "load_average_after": round(load(), 2),
            "chapter_seconds": dict(sorted(chapters.items())), "panels": panel_rows}


# -- 2., 3. and 4. the measurement itself -------------------------------------------------------
def timed(fns: dict, repeats: int) -> dict:
    """Median seconds of each function; the functions run interleaved, after one warm-up.

    A value may be ``(setting, fn)``: ``setting()`` runs untimed before each call of ``fn``.
    """
    fns = {name: fn if isinstance(fn, tuple) else (lambda: None, fn) for name, fn in fns.items()}
    times = {name: [] for name in fns}
    for setting, fn in fns.values():
        setting()
        fn()
    for _ in range(repeats):
        for name, (setting, fn) in fns.items():
            setting()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


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
        t = timed({"gradient_flow": flow, "bare": bare}, repeats)
        rows[depth] = {"gradient_flow_ms": round(t["gradient_flow"] * 1000, 2),
                       "bare_forward_backward_ms": round(t["bare"] * 1000, 2),
                       "ratio": round(t["gradient_flow"] / t["bare"], 3)}
    # Growth with depth: least squares t = a + b * depth; linear when R^2 is close to 1.
    xs = list(depths)
    ys = [rows[d]["gradient_flow_ms"] for d in depths]
    slope, intercept = statistics.linear_regression(xs, ys)
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys))
    ss_tot = sum((y - statistics.mean(ys)) ** 2 for y in ys) or 1.0
    return {"width": 128, "batch": 64, "activation": "tanh", "dtype": "float64",
            "depths": rows, "ms_per_layer": round(slope, 3), "intercept_ms": round(intercept, 2),
            "linear_fit_r2": round(1 - ss_res / ss_tot, 4)}


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
                      "ratio": round(t["doctor"] / t["bare"], 3)}
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
                r["ratio"] for r in rows.values()), 3),
            "first_call_ms": round(float(first[0]) * 1000, 1),
            "later_call_ms": round(float(first[1]) * 1000, 1),
            "first_call_extra_ms": round((float(first[0]) - float(first[1])) * 1000, 1)}


# -- report ---------------------------------------------------------------------------------
def table(results: dict) -> str:
    lines = []
    add = lines.append
    book = results.get("book")
    if book:
        add(f"make book from an empty cache: {book['make_book_seconds']:.0f} s "
            f"(exit code {book['make_book_exit_code']}, load average "
            f"{book['load_average_before']:.1f} -> {book['load_average_after']:.1f})")
        add("")
        add("| chapter | execution (s) | target |")
        add("|---|---:|---|")
        for name, s in book["chapter_seconds"].items():
            ok = "ok" if s < TARGETS["chapter_seconds"] else "OVER"
            add(f"| {name} | {s:.1f} | {ok} < 60 s |")
        add("")
        add("| explore panel | chapter | updates | median (ms) | p95 (ms) | of which compute, "
            "median (ms) | target |")
        add("|---|---|---:|---:|---:|---:|---|")
        for name, p in book["panels"].items():
            ok = "ok" if p["median_ms"] < TARGETS["panel_median_ms"] else "OVER"
            add(f"| {name} | {p['chapter']} | {p['updates']} | {p['median_ms']:.0f} | "
                f"{p['p95_ms']:.0f} | {p['compute_median_ms']:.0f} | {ok} < 150 ms |")
        add("")
    gf = results["gradient_flow"]
    add("| depth | gradient_flow (ms) | bare fwd+bwd (ms) | ratio | target |")
    add("|---:|---:|---:|---:|---|")
    for depth, r in gf["depths"].items():
        ok = "ok" if r["ratio"] <= TARGETS["gradient_flow_ratio"] else "OVER"
        add(f"| {depth} | {r['gradient_flow_ms']:.1f} | {r['bare_forward_backward_ms']:.1f} | "
            f"{r['ratio']:.2f} | {ok} <= 1.3 |")
    add(f"growth: {gf['ms_per_layer']:.3f} ms per layer + {gf['intercept_ms']:.1f} ms, "
        f"linear fit R^2 = {gf['linear_fit_r2']:.3f}")
    add("")
    d = results.get("doctor")
    if d:
        add("| doctor on | diagnose (ms) | bare fwd+bwd (ms) | ratio | target |")
        add("|---|---:|---:|---:|---|")
        for name, r in d["models"].items():
            ok = "ok" if r["ratio"] <= TARGETS["doctor_ratio"] else "OVER"
            add(f"| {name} | {r['diagnose_ms']:.1f} | {r['bare_forward_backward_ms']:.1f} | "
                f"{r['ratio']:.2f} | {ok} <= 3 |")
        ok = "ok" if d["first_call_extra_ms"] <= TARGETS["doctor_first_call_ms"] else "OVER"
        add(f"median ratio {d['median_ratio']:.2f}; first call in a fresh process "
            f"{d['first_call_ms']:.0f} ms, later calls {d['later_call_ms']:.0f} ms: "
            f"{d['first_call_extra_ms']:.0f} ms extra ({ok} <= 500 ms)")
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
    if args.skip_book:
        previous = json.loads(args.out.read_text()) if args.out.exists() else {}
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
