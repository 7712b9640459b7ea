"""Mutation testing as a measurement (``make mutation``): how many small, plausible bugs do the
fast unit tests of each core module catch?

A *mutant* is a copy of the package with one operator changed in one module. The mutant is
*killed* when the module's fast unit tests fail (or hang) on it, and *survives* when they pass.
The score of a module is killed / total. Nothing here is a gate: the result is written to
``benchmarks/mutation.json`` (score per module, every surviving mutant with its line) and the
exit status is 0 whatever the scores.

Operators (deliberately few, so the whole run fits in about an hour on two cores):

- comparison flips: ``<`` ↔ ``<=``, ``>`` ↔ ``>=``, ``==`` ↔ ``!=``;
- arithmetic swaps: ``+`` ↔ ``-``, ``*`` ↔ ``/``, ``**`` → ``*``;
- dropped factor: ``a * b`` → ``a`` (and → ``b``);
- numeric constants: ``k`` → ``k + 1`` for integers, ``x`` → ``2 x`` for floats (0 → 1);
- off-by-one in indices: ``a[i]`` → ``a[i + 1]`` where ``i`` is a name, an integer or an
  arithmetic expression (``q[layer - 1]`` → ``q[layer - 1 + 1]``), and ``range(..., n)`` →
  ``range(..., n - 1)``;
- unary minus dropped: ``-x`` → ``x``.

Not mutated: docstrings and other strings, the arguments of ``raise`` (messages), decorators,
default values of keyword arguments in signatures (a changed default is rarely a bug a unit
test should pin), and lines marked ``# pragma: no mutate``.

How a mutant runs: the package and the tests are copied to a scratch directory once per worker;
the worker imports the heavy third-party libraries once (torch, numpy, matplotlib, pytest), and
for every mutant writes the mutated module into its copy, forks, and runs pytest on the module's
fast tests in the child (``-x``: the first failure kills the mutant) with the copy first on
``sys.path``. Running from the repository would import the working tree instead of the copy.
A child that runs longer than ``--timeout`` seconds counts as killed (an infinite loop is a
caught bug). Two workers run in parallel. The unmutated baseline gets ``max(--timeout, 600)``
seconds: on a loaded machine it can take minutes, and a slow baseline is not a caught bug.

Which tests: each module's own unit tests, and ``tests/test_references.py`` and
``tests/test_mutation_survivors.py`` (hand-computed references written against survivors).
The student-edition generator (``assign``) runs ``tests/test_assign.py`` without
``test_student_notebook_runs_and_every_self_check_waits``: that test executes every chapter's
student notebook in a kernel (minutes per mutant, and the baseline alone outlasted the
timeout), while the generator's logic (markers, stubs, removed solution cells, metadata) is
pinned by the file's other tests on every chapter's source and on small hand-made notebooks.
Chapter tests that only run self-checks are fast and count as the module's own when they pin
its behaviour (``tests/test_ch07_recurrent.py`` for ``recurrent``).

Equivalent mutants: a mutant that cannot change any behaviour (``<`` ↔ ``<=`` on a continuous
value that is never equal to the bound, a quadrature node count one higher, ...) can be killed
by no test. Each one judged so is listed in ``EQUIVALENT`` below with its reason; it is matched
by module, operator, before/after text and the text of its source line (not the line number,
which moves as the module is edited), left out of the sample and of the score, and listed under
``"equivalent"`` in the report.

Usage::

    python tools/mutation.py                       # every core module
    python tools/mutation.py activations init      # some modules
    python tools/mutation.py --list theory         # print the mutants, run nothing
    python tools/mutation.py --max-mutants 150     # sample at most 150 per module (seeded)
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from multiprocessing import Process, Queue
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "mutation.json"
README = ROOT / "README.md"
BEGIN, END = "<!-- mutation:begin", "<!-- mutation:end -->"

# module (path under vgcourse/) -> its fast unit tests, most targeted first (pytest -x stops at
# the first failure, so the order only changes the run time, not the score).
MODULES = {
    "activations": ("activations.py", ["tests/test_activations.py", "tests/test_references.py",
                                     "tests/test_mutation_survivors.py"]),
    "init": ("init.py", ["tests/test_init.py", "tests/test_references.py",
                         "tests/test_mutation_survivors.py"]),
    "probe": ("probe.py", ["tests/test_references.py", "tests/test_probe.py",
                           "tests/test_mutation_survivors.py"]),
    "theory": ("theory.py", ["tests/test_references.py", "tests/test_mutation_survivors.py",
                             "tests/test_theory.py"]),
    "doctor": ("doctor.py", ["tests/test_diagnose.py", "tests/test_references.py",
                             "tests/test_mutation_survivors.py"]),
    "recurrent": ("recurrent.py", ["tests/test_references.py", "tests/test_recurrent.py",
                                   "tests/test_ch07_recurrent.py",
                                   "tests/test_mutation_survivors.py"]),
    "normalization": ("normalization.py", ["tests/test_ch05_batch_norm.py",
                                           "tests/test_mutation_survivors.py"]),
    "explore": ("exploring.py", ["tests/test_explore.py", "tests/test_references.py",
                                 "tests/test_mutation_survivors.py"]),
    "check": ("checking.py", ["tests/test_checks.py"]),
    "assign": ("authoring/assign.py", ["tests/test_assign.py",
                                       "tests/test_mutation_survivors.py"]),
}
# Extra pytest arguments per module (see the module docstring for why).
PYTEST_ARGS = {
    "assign": ["-k", "not test_student_notebook_runs_and_every_self_check_waits"],
}
# Mutants judged equivalent: no input the module accepts behaves differently. Matched on
# (module, operator, before, after) and a piece of the original source line.
EQUIVALENT = [
    dict(module="theory", operator="constant", before="96", after="97",
         line="leggauss(96)",
         reason="97 Gauss-Legendre nodes per half-line are as exact as 96 (~1e-13) for the "
                "smooth integrands the module takes; results move by float round-off only"),
    dict(module="theory", operator="compare Gt->GtE", before="new > 1000000000000.0",
         after="new >= 1000000000000.0", line="new > 1e12",
         reason="the divergence guard: a variance exactly 1e12 is never produced by the map"),
    dict(module="theory", operator="compare LtE->Lt", before="abs(new - q) <= tol * max(1.0, q)",
         after="abs(new - q) < tol * max(1.0, q)", line="abs(new - q) <= tol",
         reason="stopping rule on a continuous change: equality with the tolerance has "
                "probability zero, and one more step moves q by less than tol"),
    dict(module="theory", operator="compare Gt->GtE", before="hi - lo > tol",
         after="hi - lo >= tol", line="while hi - lo > tol",
         reason="bisection width equal to tol exactly does not occur (halvings of hi - lo)"),
    dict(module="theory", operator="compare Lt->LtE", before="chi(mid) < 1",
         after="chi(mid) <= 1", line="if chi(mid) < 1",
         reason="χ(mid) exactly 1 at a bisection midpoint does not occur; either side keeps "
                "the edge inside the bracket"),
    dict(module="theory", operator="constant", before="1.0", after="2.0",
         line="h = 1.0  # tanh(w·h) − h is concave",
         reason="Newton's start: from any h > h* the iteration on the concave tanh(w·h) − h "
                "decreases monotonically to the same root"),
    dict(module="theory", operator="range stop -1", before="range(100)", after="range(100 - 1)",
         line="for _ in range(100):",
         reason="Newton for h = tanh(w·h) stops on its 1e-15 step test after about 40 steps "
                "even for w − 1 = 1e-15; the 100th iteration is never reached"),
    dict(module="theory", operator="compare Lt->LtE", before="abs(step) < 1e-15",
         after="abs(step) <= 1e-15", line="if abs(step) < 1e-15",
         reason="a Newton step of exactly 1e-15 does not occur, and one more step changes h by "
                "less than 1e-15"),
    dict(module="theory", operator="compare Lt->LtE", before="layer * math.log(factor) < 709",
         after="layer * math.log(factor) <= 709", line="< 709 else math.inf",
         reason="l·log(factor) exactly 709 does not occur for a float factor"),
    dict(module="doctor", operator="compare Lt->LtE",
         before="slope < SATURATION_THRESHOLD * act.derivative_sup",
         after="slope <= SATURATION_THRESHOLD * act.derivative_sup", line="slope < SATURATION",
         reason="a slope exactly 5 % of the supremum (e.g. 1 − tanh²(u) = 0.05) is not hit by "
                "any float pre-activation tested or met in practice"),
    dict(module="doctor", operator="constant", before="0", after="1",
         line="activation_calls: int = 0",
         reason="a dataclass default the doctor never uses: every LayerReport it builds sets "
                "activation_calls"),
    dict(module="doctor", operator="compare Lt->LtE",
         before="r.activation_std * RATIO_SPREAD < signal",
         after="r.activation_std * RATIO_SPREAD <= signal", line="RATIO_SPREAD < signal",
         reason="a layer's std exactly 1/100 of the first layer's does not occur"),
    dict(module="doctor", operator="compare Gt->GtE",
         before="r.grad_to_weight > RATIO_SPREAD * out_ratio",
         after="r.grad_to_weight >= RATIO_SPREAD * out_ratio", line="> RATIO_SPREAD * out_ratio",
         reason="a gradient-to-weight ratio exactly 100× the read-out's does not occur"),
    dict(module="doctor", operator="compare Gt->GtE",
         before="reference / r.grad_to_weight > RATIO_SPREAD",
         after="reference / r.grad_to_weight >= RATIO_SPREAD", line="> RATIO_SPREAD",
         reason="a ratio exactly 100× below the best layer's does not occur"),
    dict(module="doctor", operator="compare Gt->GtE", before="ratio > RATIO_SPREAD",
         after="ratio >= RATIO_SPREAD", line="ratio > RATIO_SPREAD",
         reason="a first/last step gradient ratio of exactly 100 does not occur"),
    dict(module="doctor", operator="compare Lt->LtE", before="ratio < 1 / RATIO_SPREAD",
         after="ratio <= 1 / RATIO_SPREAD", line="ratio < 1 / RATIO_SPREAD",
         reason="a first/last step gradient ratio of exactly 1/100 does not occur"),
    dict(module="probe", operator="index +1", before="w.shape[0]", after="w.shape[0 + 1]",
         line="n = w.shape[0]",
         reason="product_log_singular_values refuses every non-square matrix on the line "
                "before, so w.shape[1] is w.shape[0]"),
    dict(module="probe", operator="index +1", before="w.shape[0]", after="w.shape[0 + 1]",
         line="and w.shape[0] != n:",
         reason="product_log_singular_values refuses every non-square matrix on the line "
                "before, so w.shape[1] is w.shape[0]"),
    dict(module="probe", operator="constant", before="0", after="1", line="n = w.shape[0]",
         reason="the same index mutated as a constant: w is square, w.shape[1] is w.shape[0]"),
    dict(module="probe", operator="constant", before="0", after="1",
         line="and w.shape[0] != n:",
         reason="the same index mutated as a constant: w is square, w.shape[1] is w.shape[0]"),
    dict(module="probe", operator="constant", before="0", after="1",
         line="t = torch.zeros(0, n_in, dtype=torch.float64)",
         reason="jacobian_log_spectrum: once a layer has no active unit, q has no columns, so "
                "every later layer takes this branch again and t is never read"),
    dict(module="probe", operator="compare Lt->LtE",
         before="slope < SATURATION_THRESHOLD * act.derivative_sup",
         after="slope <= SATURATION_THRESHOLD * act.derivative_sup",
         line="slope < SATURATION_THRESHOLD * act.derivative_sup",
         reason="only sigmoid and tanh saturate, and neither slope is ever exactly 5 % of its "
                "supremum: tanh's 1 − h² is a multiple of 2⁻⁵³ (2⁻²⁴ in float32) and 0.05 is "
                "not; for the sigmoid a search of every float16/bfloat16 input, 4·10⁵ float32 "
                "and 10⁵ float64 inputs around each crossing, computed both in float64 and in "
                "the input's dtype, finds none"),
    dict(module="probe", operator="compare LtE->Lt",
         before="slope.abs().amax(dim=1) <= DEAD_THRESHOLD * act.derivative_sup",
         after="slope.abs().amax(dim=1) < DEAD_THRESHOLD * act.derivative_sup",
         line="dead = (slope.abs().amax(dim=1) <= DEAD_THRESHOLD",
         reason="the stacked path computes φ' in float64, where no registered activation's "
                "slope is exactly 10⁻³ of its supremum: piecewise-linear slopes are 0 or ≥ 0.01, "
                "1 − h², h + 1 and h + λα are multiples of 2⁻⁵³ or 2⁻⁵² and 10⁻³·sup is not, and "
                "a search around each crossing (every float16/bfloat16 input, 4·10⁵ float32 and "
                "10⁵ float64 inputs) finds none for sigmoid, GELU and SiLU. (In float32 the "
                "per-layer path can hit it: test_a_float32_slope_exactly_at_the_dead_threshold)"),
]
# Shared test helpers (conftest.py, and every tests/_*.py such as _book.py) are copied too.
COPY_TESTS = ["tests/conftest.py", "tests/__init__.py"]
PRELOAD = ["numpy", "torch", "matplotlib", "matplotlib.pyplot", "pytest", "yaml", "nbformat",
           "ipywidgets", "sklearn.datasets", "scipy.special", "PIL.Image", "tqdm.auto"]


@dataclass
class Mutant:
    module: str
    index: int
    line: int
    operator: str
    before: str
    after: str
    source: str = ""  # the original source line, stripped
    status: str = ""  # killed | survived | timeout | error
    seconds: float = 0.0


# --------------------------------------------------------------------------- finding mutants
_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
        ast.NotEq: ast.Eq}
_BIN = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
        ast.Pow: ast.Mult, ast.FloorDiv: ast.Mult}


def _protected(tree: ast.Module, source_lines: list[str]) -> set[int]:
    """ids of nodes that are never mutated: docstrings, raise statements, decorators,
    signature defaults, annotations, and lines marked ``# pragma: no mutate``."""
    skip: set[int] = set()

    def protect(node):
        for sub in ast.walk(node):
            skip.add(id(sub))

    for node in ast.walk(tree):
        if isinstance(node, (ast.Raise, ast.Assert)):
            protect(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for d in node.decorator_list:
                protect(d)
            if not isinstance(node, ast.ClassDef):
                for d in node.args.defaults + [d for d in node.args.kw_defaults if d]:
                    protect(d)
                if node.returns:
                    protect(node.returns)
                for a in node.args.args + node.args.kwonlyargs:
                    if a.annotation:
                        protect(a.annotation)
        if isinstance(node, ast.AnnAssign):
            protect(node.annotation)
        if isinstance(node, (ast.JoinedStr,)):
            protect(node)
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)):
            protect(node)
        lineno = getattr(node, "lineno", None)
        if lineno and "pragma: no mutate" in source_lines[lineno - 1]:
            protect(node)
    return skip


def _candidates(tree: ast.Module, skip: set[int]):
    """Yield (node, operator name, a function that mutates that node in place) for every site."""
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in _CMP:
                    def flip(n, i=i):
                        n.ops[i] = _CMP[type(n.ops[i])]()
                    yield node, f"compare {type(op).__name__}->{_CMP[type(op)].__name__}", flip
        elif isinstance(node, ast.BinOp) and type(node.op) in _BIN:
            def swap(n):
                n.op = _BIN[type(n.op)]()
            yield node, f"binop {type(node.op).__name__}->{_BIN[type(node.op)].__name__}", swap
            if isinstance(node.op, ast.Mult):
                yield node, "drop factor (right)", ("replace", "left")
                yield node, "drop factor (left)", ("replace", "right")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            yield node, "drop unary minus", ("replace", "operand")
        elif (isinstance(node, ast.Constant) and type(node.value) in (int, float)
              and not isinstance(node.value, bool)):
            def bump(n):
                if isinstance(n.value, int):
                    n.value = n.value + 1
                else:
                    n.value = 1.0 if n.value == 0 else 2 * n.value
            yield node, "constant", bump
        elif (isinstance(node, ast.Subscript) and not isinstance(node.value, ast.Dict)
              and (isinstance(node.slice, (ast.BinOp, ast.Name))
                   or (isinstance(node.slice, ast.Constant) and type(node.slice.value) is int))):
            # integer-looking indices only: a string key + 1 would be a trivially killed mutant
            def shift(n):
                n.slice = ast.BinOp(left=n.slice, op=ast.Add(), right=ast.Constant(1))
            yield node, "index +1", shift
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "range" and node.args):
            def stop(n):
                k = 1 if len(n.args) > 1 else 0
                n.args[k] = ast.BinOp(left=n.args[k], op=ast.Sub(), right=ast.Constant(1))
            yield node, "range stop -1", stop


def mutants_of(module: str, path: Path) -> tuple[list[Mutant], list[str]]:
    """Every mutant of one module, and the mutated source of each (same order)."""
    source = path.read_text()
    lines = source.splitlines()
    base = ast.parse(source)
    found, sources = [], []
    count = sum(1 for _ in _candidates(base, _protected(base, lines)))
    for k in range(count):
        tree = ast.parse(source)
        sites = list(_candidates(tree, _protected(tree, lines)))
        node, name, action = sites[k]
        before = ast.unparse(node)
        if isinstance(action, tuple):  # replace the node by one of its children
            child = getattr(node, action[1])
            replaced = _replace(tree, node, child)
            after = ast.unparse(child)
            if not replaced:
                continue
        else:
            action(node)
            after = ast.unparse(node)
        if before == after:
            continue
        ast.fix_missing_locations(tree)
        try:
            mutated = ast.unparse(tree)
            compile(mutated, str(path), "exec")
        except (SyntaxError, ValueError):
            continue
        found.append(Mutant(module, len(found), node.lineno, name, before[:120], after[:120],
                            lines[node.lineno - 1].strip()[:160]))
        sources.append(mutated)
    return found, sources


def equivalent_reason(mutant: Mutant) -> str | None:
    """The reason recorded in ``EQUIVALENT`` for this mutant, or None."""
    for entry in EQUIVALENT:
        if (entry["module"] == mutant.module and entry["operator"] == mutant.operator
                and entry["before"] == mutant.before and entry["after"] == mutant.after
                and entry["line"] in mutant.source):
            return entry["reason"]
    return None


def _replace(tree, old, new) -> bool:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return True
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new
                        return True
    return False


# --------------------------------------------------------------------------- running mutants
def _scratch(root: Path) -> Path:
    work = Path(tempfile.mkdtemp(prefix="vgmut-"))
    shutil.copytree(root / "vgcourse", work / "vgcourse",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (work / "tests").mkdir()
    tests = {t for _, ts in MODULES.values() for t in ts} | set(COPY_TESTS) | {
        p.relative_to(root).as_posix() for p in (root / "tests").glob("_*.py")}
    for t in tests:
        if (root / t).exists():
            shutil.copy2(root / t, work / t)
    for extra in ("pyproject.toml", "_config.yml", "_toc.yml"):
        if (root / extra).exists():
            shutil.copy2(root / extra, work / extra)
    if (root / "book").exists():  # the student-edition and checks tests read the chapters
        shutil.copytree(root / "book", work / "book",
                        ignore=shutil.ignore_patterns("_build", "__pycache__"))
    return work


class _Failures:
    """pytest plugin: writes the node ids of the failing tests (the baseline's) to a file."""

    def __init__(self, path: str):
        self.path, self.failed = path, []

    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.failed.append(report.nodeid)

    def pytest_sessionfinish(self):
        Path(self.path).write_text(json.dumps(self.failed))


def _run_pytest(work: Path, tests: list[str], timeout: float, deselect=(),
                record: str | None = None) -> tuple[str, float]:
    """Fork, run pytest in the child on the scratch copy; 'killed', 'survived' or 'timeout'.

    ``deselect``: tests that already fail without a mutation (work in progress elsewhere in
    the tree); ``record``: run them all (no -x) and write the failing ones to this file."""
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.chdir(work)
            sys.path.insert(0, str(work))
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            import pytest

            args = ["-q", "-p", "no:xdist", "--no-header", *tests]
            args += [f"--deselect={d}" for d in deselect]
            plugins = [_Failures(record)] if record else []
            rc = pytest.main(args if record else ["-x", *args], plugins=plugins)
            os._exit(int(rc))
        except BaseException:  # noqa: BLE001 - any failure to even run counts as caught
            os._exit(99)
    deadline = start + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            rc = os.waitstatus_to_exitcode(status)
            return ("survived" if rc == 0 else "killed"), time.monotonic() - start
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout", time.monotonic() - start
        time.sleep(0.05)


def _worker(jobs: list[tuple[Mutant, str, str]], timeout: float, queue: Queue,
            deselect=(), record: str | None = None) -> None:
    os.environ.setdefault("VGCOURSE_PROGRESS", "off")
    os.environ.setdefault("MPLBACKEND", "Agg")
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass
    import torch

    torch.set_num_threads(1)
    work = _scratch(ROOT)
    try:
        originals: dict[str, str] = {}
        for mutant, relpath, source in jobs:
            target = work / "vgcourse" / relpath
            originals.setdefault(relpath, target.read_text())
            target.write_text(source)
            for cache in target.parent.glob("__pycache__"):
                shutil.rmtree(cache, ignore_errors=True)
            tests = MODULES[mutant.module][1] + PYTEST_ARGS.get(mutant.module, [])
            mutant.status, mutant.seconds = _run_pytest(work, tests, timeout, deselect, record)
            target.write_text(originals[relpath])
            queue.put(asdict(mutant))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        queue.put(None)


def baseline(module: str, timeout: float) -> tuple[str, float, list[str]]:
    """Run the unmutated tests; those that fail already are deselected for every mutant (or
    every mutant would look killed), and listed in the report."""
    queue: Queue = Queue()
    relpath, _ = MODULES[module]
    source = (ROOT / "vgcourse" / relpath).read_text()
    probe = Mutant(module, -1, 0, "none", "", "")
    with tempfile.NamedTemporaryFile(suffix=".json") as record:
        p = Process(target=_worker, args=([(probe, relpath, source)], timeout, queue, (),
                                          record.name))
        p.start()
        result = queue.get()
        queue.get()
        p.join()
        text = Path(record.name).read_text()
        failing = json.loads(text) if text else []
    return result["status"], result["seconds"], failing


def write(report: dict, out: Path) -> None:
    """Write the report, keeping the modules of earlier runs that this one did not measure."""
    merged = dict(report)
    if out.exists():
        old = json.loads(out.read_text()).get("modules", {})
        merged["modules"] = {**old, **report["modules"]}
    merged["modules"] = dict(sorted(merged["modules"].items()))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(merged, indent=1, ensure_ascii=False) + "\n")


def readme_table(report: dict) -> str:
    """The README's table of mutation scores, one row per module of ``report["modules"]``."""
    rows = ["| module | tests | mutants run (of found) | equivalent | killed | score |",
            "|---|---|---|---|---|---|"]
    for module, entry in report["modules"].items():
        tests = ", ".join(f"`{Path(t).name}`" for t in entry.get("tests", []))
        if "error" in entry:
            rows.append(f"| `{module}` | {tests} | not run: {entry['error']} | | | |")
            continue
        rows.append(f"| `{module}` | {tests} | {entry['mutants_run']} "
                    f"({entry['mutants_found']}) | {len(entry.get('equivalent', []))} | "
                    f"{entry['killed']} | {100 * entry['score']:.0f} % |")
    return "\n".join(rows)


def update_readme(report: dict, readme: Path = README) -> bool:
    """Replace the table between the README's mutation markers; False if there are none."""
    text = readme.read_text() if readme.exists() else ""
    if BEGIN not in text or END not in text:
        return False
    head, rest = text.split(BEGIN, 1)
    marker, _ = rest.split("-->", 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}{marker}-->\n{readme_table(report)}\n{END}{tail}")
    return True


def run(modules: list[str], workers: int, timeout: float, max_mutants: int | None,
        seed: int, out: Path) -> dict:
    report = {"tool": "tools/mutation.py", "operators": __doc__.split("Operators")[1]
              .split("Not mutated")[0].strip(), "modules": {}}
    for module in modules:
        relpath, tests = MODULES[module]
        status, seconds, failing = baseline(module, max(timeout, 600.0))
        if status == "timeout" or (status == "killed" and not failing):
            print(f"{module}: the unmutated tests do not run ({status}); skipped", flush=True)
            report["modules"][module] = {"error": f"baseline {status}", "tests": tests}
            write(report, out)
            continue
        if failing:
            print(f"{module}: deselected, failing without a mutation: {failing}", flush=True)
        mutants, sources = mutants_of(module, ROOT / "vgcourse" / relpath)
        total_found = len(mutants)
        reasons = {m.index: equivalent_reason(m) for m in mutants}
        equivalent = [dict(line=m.line, operator=m.operator, before=m.before, after=m.after,
                           source=m.source, reason=reasons[m.index])
                      for m in mutants if reasons[m.index]]
        order = [m.index for m in mutants if not reasons[m.index]]
        if max_mutants and len(order) > max_mutants:
            order = sorted(random.Random(seed).sample(order, max_mutants))
        per = max(timeout, 4 * seconds + 10)
        queue: Queue = Queue()
        shards = [[(mutants[i], relpath, sources[i]) for i in order[w::workers]]
                  for w in range(workers)]
        procs = [Process(target=_worker, args=(s, per, queue, failing)) for s in shards if s]
        for p in procs:
            p.start()
        results, finished, start = [], 0, time.monotonic()
        while finished < len(procs):
            item = queue.get()
            if item is None:
                finished += 1
                continue
            results.append(item)
            if len(results) % 10 == 0:
                print(f"  {module}: {len(results)}/{len(order)} "
                      f"({time.monotonic() - start:.0f} s)", flush=True)
        for p in procs:
            p.join()
        results.sort(key=lambda r: r["index"])
        killed = sum(r["status"] in ("killed", "timeout") for r in results)
        entry = {
            "file": f"vgcourse/{relpath}",
            "tests": tests,
            "baseline_seconds": round(seconds, 1),
            "deselected_failing_at_baseline": failing,
            "mutants_found": total_found,
            "equivalent": equivalent,
            "mutants_run": len(results),
            "killed": killed,
            "score": round(killed / len(results), 3) if results else None,
            "seconds": round(time.monotonic() - start, 1),
            "survivors": [{k: r[k] for k in ("index", "line", "operator", "before", "after",
                                             "source")}
                          for r in results if r["status"] == "survived"],
        }
        report["modules"][module] = entry
        write(report, out)  # after every module: a long run interrupted keeps what it measured
        print(f"{module}: {killed}/{len(results)} killed ({100 * (entry['score'] or 0):.0f} %), "
              f"{len(entry['survivors'])} survived, {entry['seconds']:.0f} s", flush=True)
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"default: all of {', '.join(MODULES)}")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds before a mutant's test run counts as a hang (killed)")
    parser.add_argument("--max-mutants", type=int, default=None,
                        help="sample at most this many mutants per module (seeded)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--list", action="store_true", help="print the mutants, run nothing")
    parser.add_argument("--out", type=Path, default=OUT,
                        help="JSON report (merged with what is there: other modules are kept)")
    args = parser.parse_args(argv)
    modules = args.modules or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {unknown}; choose from {list(MODULES)}")
    if args.list:
        for module in modules:
            for m in mutants_of(module, ROOT / "vgcourse" / MODULES[module][0])[0]:
                note = "  (equivalent)" if equivalent_reason(m) else ""
                print(f"{module}:{m.line} [{m.index}] {m.operator}: {m.before} -> {m.after}{note}")
        return 0
    report = run(modules, args.workers, args.timeout, args.max_mutants, args.seed, args.out)
    write(report, args.out)
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    if args.out == OUT and update_readme(json.loads(OUT.read_text())):
        print("updated the mutation table in README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
