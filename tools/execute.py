"""Execute the book's chapters in parallel into jupyter-book's cache (``make book`` calls it).

jupyter-book 1 executes the notebooks of a build one after another. On a machine with two
cores and chapters that each use one torch thread, half of the machine waits. This tool runs
before ``jupyter-book build``: it executes every notebook of the table of contents that the
build's jupyter-cache does not hold yet, ``--jobs`` at a time, the slowest first (by the times
the cache recorded last), exactly as myst-nb's ``cache`` mode would (same working directory, the
notebook's directory; same timeout; errors not allowed; the same environment), and stores each
executed notebook in the cache with its execution time. The build that follows then finds every
notebook cached and only renders.

A notebook that fails is not cached: the build executes it again and reports the error with its
traceback, as it would without this step.

After the build, ``--executed DIR`` writes every notebook's cached execution (its current file
with the cached outputs merged in) to ``DIR``, where jupyter-book keeps the executed copies that
the golden numbers, the Colab parity test, nbval and the nbgrader answer key read: for a notebook
it takes from the cache, myst-nb writes the file there without its outputs.

Usage::

    python tools/execute.py --toc _toc.yml --cache _build/.jupyter_cache --jobs 2
    python tools/execute.py --toc _toc.yml --cache _build/.jupyter_cache \
        --executed _build/jupyter_execute
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat
import yaml
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from jupyter_cache.executors.utils import single_nb_execution

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from vgcourse.authoring.syllabus import toc_notebooks  # noqa: E402


def _execute(path: str, timeout: int) -> tuple:
    """Run one notebook in a fresh kernel; (path, executed notebook or None, seconds, error)."""
    nb = nbformat.read(path, as_version=4)
    result = single_nb_execution(nb, cwd=str(Path(path).parent), timeout=timeout,
                                 allow_errors=False, meta_override=True)
    if result.err is not None:
        return path, None, result.time, f"{type(result.err).__name__}: {result.err}"[:2000]
    return path, result.nb, result.time, None


def _store(cache, path: str, nb, seconds: float) -> None:
    """Cache an executed notebook under its path, with its execution time, as myst-nb does."""
    bundle = CacheBundleIn(nb, path, data={"execution_seconds": seconds})
    cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)


def _recorded_seconds(cache) -> dict:
    """The execution time the cache recorded for each notebook (by URI), if any."""
    seconds = {}
    for record in cache.list_cache_records():
        seconds[str(Path(record.uri).resolve())] = record.data.get("execution_seconds", 0.0)
    return seconds


def write_executed(cache, notebooks, folder: Path) -> int:
    """Write each notebook with its cached outputs to ``folder`` (paths relative to the
    repository, as jupyter-book lays them out); returns how many were written."""
    written = 0
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        try:
            _, executed = cache.merge_match_into_notebook(nb)
        except KeyError:
            continue  # not cached: jupyter-book executed it itself and wrote it with outputs
        out = folder / Path(path).resolve().relative_to(ROOT)
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(executed, out)
        written += 1
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--toc", default="_toc.yml", help="table of contents (default _toc.yml)")
    parser.add_argument("--cache", default="_build/.jupyter_cache",
                        help="jupyter-cache directory of the build (default _build/.jupyter_cache)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks at a time (default 2)")
    parser.add_argument("--executed", type=Path, metavar="DIR",
                        help="after the build: write the cached executions to DIR instead")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    cache = get_cache(args.cache)
    notebooks = toc_notebooks(ROOT, args.toc)
    if args.executed is not None:
        written = write_executed(cache, notebooks, args.executed)
        print(f"wrote {written} executed notebook(s) to {args.executed}")
        return 0
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    timeout = int(config.get("execute", {}).get("timeout", 300))
    todo = []
    for path in notebooks:
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            todo.append(str(path.resolve()))
    if not todo:
        print("every notebook is cached")
        return 0
    recorded = _recorded_seconds(cache)
    todo.sort(key=lambda p: -recorded.get(p, 0.0))  # the slowest first: the jobs end together
    print(f"executing {len(todo)} notebook(s), {args.jobs} at a time ...", flush=True)
    start, failed = time.perf_counter(), 0
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(_execute, path, timeout) for path in todo]
        for future in as_completed(futures):
            path, nb, seconds, error = future.result()
            name = Path(path).name
            if error:
                failed += 1
                print(f"  {name}: failed after {seconds:.1f} s (the build will report it): "
                      f"{error.splitlines()[0]}", flush=True)
                continue
            _store(cache, path, nb, seconds)
            print(f"  {name}: {seconds:.1f} s", flush=True)
    print(f"executed in {time.perf_counter() - start:.1f} s ({failed} failed)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
