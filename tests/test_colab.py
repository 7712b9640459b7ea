"""Colab without Colab: every chapter installs itself into Colab's recorded image and runs there.

For each chapter of ``_toc.yml``, in a virtual environment that mirrors the Colab runtime recorded
in ``tests/colab_snapshot.toml`` (its Python minor version, 3.13, and its versions of ipywidgets
7.7.1, IPython 7.34, ipykernel, jupyter_client, traitlets, matplotlib, numpy, tqdm, scikit-learn
and scipy, with the date and source of the record; torch 2.13.0 as the course uses, where Colab
has its own), with a stand-in ``google.colab`` imported at kernel start as Colab does:

1. the chapter's own first cell runs, with only ``VGCOURSE_REPO``/``VGCOURSE_REF`` pointed at a
   local clone of this repository at its committed ``HEAD`` (or ``$VGCOURSE_PARITY_REF``),
   tagged, so its own ``%pip install "vgcourse @ git+{VGCOURSE_REPO}@{VGCOURSE_REF}"`` line
   does the install. What a learner gets is the committed tree: an uncommitted or untracked
   module, or a chapter not yet committed, is not in the clone and fails the test. The chapter
   executed is the clone's copy too;
2. the rest of the chapter executes in the same kernel, without errors, its panels and progress
   bars live (ipywidgets 7.7.1), as a Colab reader runs it;
3. the environment afterwards holds exactly what it held before plus ``vgcourse``: torch,
   matplotlib, ipywidgets and every other distribution keep their version and their files
   (a reinstall of the same version replaces the ``.dist-info`` folder, which is compared too);
4. chapter 10's corpus, read by the installed package under Colab's Python, is the book's;
   every chapter prints the book's numbers (``book/golden_numbers.json``), and every cell marked
   ``# NBVAL_CHECK_OUTPUT`` prints what it printed in the book build (numbers within float64's
   last digits): one execution per chapter proves both Colab parity and determinism across two
   independent runs, so ``make test`` does not run nbval separately.

The Python 3.13 interpreter is found in ``$VGCOURSE_PARITY_PYTHON``, ``python3.13`` on ``PATH``
or pyenv's versions. The environment is built once and cached (``$VGCOURSE_PARITY_CACHE``,
default ``~/.cache/vgcourse/colab-parity``), keyed by this recipe, the interpreter's version and
the snapshot file. Each test first uninstalls ``vgcourse`` from it and checks the remaining
versions against the ones recorded when it was built, rebuilding it if they drifted, so a cached
environment is as fresh as a new one for what the test asserts. Its package versions are printed
(``pytest -s``); each chapter's summary (versions, time, printed numbers that differ from the
book's) and its executed notebook are written to ``last-run/`` in the cache folder.
``VGCOURSE_SKIP_COLAB=1`` skips it for a quick local run.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
import tomllib
from _book import executed_notebook, tool
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _colab_tools():
    """tools/colab.py: the chapters of _toc.yml and the Colab snapshot (the rules it owns)."""
    return tool("colab")


def _chapter_notebooks() -> list[Path]:
    """The notebooks of _toc.yml, in order."""
    return _colab_tools().chapter_notebooks(ROOT)


# The Colab image mirrored: its date, source, Python and package versions, in one file.
SNAPSHOT_FILE = _colab_tools().SNAPSHOT
RECIPE_VERSION = "4"  # bump to force a rebuild of cached environments
KERNEL = "vgcourse-colab-parity"
SNAPSHOT_TAG = "colab-parity-snapshot"


def snapshot() -> dict:
    """The parsed ``tests/colab_snapshot.toml``."""
    return tomllib.loads(SNAPSHOT_FILE.read_text())


def snapshot_requirements() -> list[str]:
    """``name==version`` for every package of the snapshot and its departures (torch)."""
    pinned = _colab_tools().snapshot_pins(SNAPSHOT_FILE)
    return [name if version == "*" else f"{name}=={version}" for name, version in pinned.items()]


SNAP = snapshot()
PREINSTALLED = [_name for _name in SNAP["packages"]]  # what Colab has before a chapter runs
TORCH = f"torch=={SNAP['departures']['torch']}"
WATCHED = ["torch", "matplotlib", "ipywidgets"]  # the three; every other is checked too

COLAB_STAND_IN = '''"""Stand-in for Colab's ``google.colab`` (tests/test_colab.py).

Colab imports this package when a runtime starts; notebooks detect Colab by finding it in
``sys.modules``. The few calls a notebook might make are no-ops here.
"""


class _Output:
    def enable_custom_widget_manager(self):
        """Colab: allow third-party widgets. Here: nothing to do."""

    def disable_custom_widget_manager(self):
        """Colab: the reverse. Here: nothing to do."""


output = _Output()
IS_STAND_IN = True
'''


# -- the parity environment -------------------------------------------------------------------
def requirement_pins() -> dict[str, str]:
    """``name -> version`` for every ``name==version`` line of requirements.txt."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)", line.strip())
        if match:
            pins[_canonical(match.group(1))] = match.group(2)
    return pins


def _release(version: str) -> str:
    """The public release: "2.13.0+cpu" and "2.13.0" are the same torch."""
    return Version(version).public


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _python_version(python: str) -> str | None:
    try:
        done = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                              capture_output=True, text=True, timeout=60)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def parity_interpreter() -> tuple[str, str]:
    """A Python of the snapshot's minor version (3.13): its path and its full version.

    Looked for in ``$VGCOURSE_PARITY_PYTHON``, then ``python3.13`` on ``PATH``, then pyenv's
    versions (``$PYENV_ROOT``, default ``~/.pyenv``), newest first.
    """
    minor = ".".join(SNAP["snapshot"]["python"].split(".")[:2])
    candidates = [os.environ.get("VGCOURSE_PARITY_PYTHON"), shutil.which(f"python{minor}")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = [p for p in pyenv.glob(f"{minor}.*/bin/python") if re.fullmatch(
        rf"{re.escape(minor)}\.\d+", p.parents[1].name)]
    candidates += [str(p) for p in sorted(found, key=lambda p: Version(p.parents[1].name),
                                          reverse=True)]
    for python in filter(None, candidates):
        version = _python_version(python)
        if version and version.startswith(minor + "."):
            return python, version
    pytest.fail(f"the Colab parity test needs Python {minor} (Colab's, see {SNAPSHOT_FILE.name}); "
                f"none found in $VGCOURSE_PARITY_PYTHON, python{minor} on PATH or {pyenv}. "
                f"Install it (e.g. `pyenv install {minor}`) or point VGCOURSE_PARITY_PYTHON at it.")


def cache_root() -> Path:
    default = Path.home() / ".cache" / "vgcourse" / "colab-parity"
    return Path(os.environ.get("VGCOURSE_PARITY_CACHE", default))


def venv_dir() -> Path:
    """The cached environment's folder, keyed by this recipe, the interpreter and the snapshot."""
    key = hashlib.sha256(json.dumps(
        [RECIPE_VERSION, parity_interpreter()[1], SNAPSHOT_FILE.read_text()]
    ).encode()).hexdigest()[:12]
    return cache_root() / f"venv-{key}"


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def site_packages(venv: Path) -> Path:
    found = list((venv / "lib").glob("python3*/site-packages"))
    assert len(found) == 1, f"expected one site-packages in {venv}, found {found}"
    return found[0]


def distributions(venv: Path) -> dict[str, dict]:
    """Every distribution in the environment: version, its .dist-info folder's name and identity.

    A reinstall, even of the same version, deletes and recreates the folder: its inode and its
    METADATA's modification time change.
    """
    found = {}
    for dist in metadata.distributions(path=[str(site_packages(venv))]):
        info = Path(dist._path)  # the .dist-info folder
        found[_canonical(dist.metadata["Name"])] = {
            "version": dist.version,
            "dist_info": info.name,
            "inode": info.stat().st_ino,
            "mtime_ns": (info / "METADATA").stat().st_mtime_ns,
        }
    return found


def versions(dists: dict[str, dict]) -> dict[str, str]:
    return {name: d["version"] for name, d in sorted(dists.items())}


def _pip(venv: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv_python(venv)), "-m", "pip", *args], capture_output=True,
                          text=True, env=_clean_env(), **kwargs)


def _build(venv: Path) -> None:
    for stale in venv.parent.glob("venv-*"):  # environments of earlier recipes: GBs each
        shutil.rmtree(stale, ignore_errors=True)
    subprocess.run([parity_interpreter()[0], "-m", "venv", str(venv)], check=True)
    # Colab keeps a recent pip; the one venv bundles may reject `name @ git+file:///...`
    # requirements, which the local clone needs.
    upgraded = _pip(venv, "install", "--quiet", "--upgrade", "pip")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    done = _pip(venv, "install", "--quiet", *snapshot_requirements())
    if done.returncode != 0:
        raise RuntimeError(f"building the parity environment failed:\n{done.stdout}{done.stderr}")
    (venv / "baseline.json").write_text(json.dumps(versions(distributions(venv)), indent=1))


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fresh_parity_venv() -> Path:
    """The cached environment, without vgcourse, exactly as built; rebuilt when it drifted."""
    venv = venv_dir()
    with _locked(cache_root() / "build.lock"):
        if (venv / "baseline.json").exists() and venv_python(venv).exists():
            _pip(venv, "uninstall", "--yes", "--quiet", "vgcourse")
            baseline = json.loads((venv / "baseline.json").read_text())
            if versions(distributions(venv)) != baseline:
                _build(venv)
        else:
            _build(venv)
    return venv


def _clean_env() -> dict[str, str]:
    """The environment of this process minus what would leak .venv or the book build into it."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "MPLBACKEND", "VGCOURSE_EXPLORE",
                 "JUPYTER_PATH", "PIP_REQUIRE_VIRTUALENV", "PYTEST_CURRENT_TEST"):
        env.pop(name, None)
    bin_dir = str(ROOT / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != bin_dir)
    return env


# -- the repository, as Colab would fetch it ----------------------------------------------------
def snapshot_clone(destination: Path, ref: str | None = None) -> Path:
    """A clone of this repository, checked out and tagged at a committed ``ref``.

    ``ref`` defaults to ``$VGCOURSE_PARITY_REF`` or ``HEAD``. Only committed files are in it:
    the working tree's uncommitted changes and untracked files are not what Colab fetches.
    """
    ref = ref or os.environ.get("VGCOURSE_PARITY_REF", "HEAD")
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{ref}^{{commit}}"],
                            check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(destination)],
                   check=True)
    run = {"cwd": destination, "check": True, "capture_output": True}
    subprocess.run(["git", "-c", "advice.detachedHead=false", "checkout", "--quiet", commit],
                   **run)
    subprocess.run(["git", "-c", "tag.gpgsign=false", "tag", SNAPSHOT_TAG, commit], **run)
    return destination


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    if shutil.which("git") is None:
        pytest.fail("git is required: Colab installs vgcourse with `pip install git+...`")
    return snapshot_clone(tmp_path_factory.mktemp("colab-clone") / "vgcourse")


# -- the chapter, run as Colab would -------------------------------------------------------------
def colab_notebook(path: Path, repo_url: str, ref: str) -> nbformat.NotebookNode:
    """The chapter with only its set-up cell's two settings changed, plus a final report cell."""
    nb = nbformat.read(path, as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    source, n_repo = re.subn(r'(?m)^VGCOURSE_REPO = ".*"$', f"VGCOURSE_REPO = {repo_url!r}",
                             setup.source)
    source, n_ref = re.subn(r'(?m)^VGCOURSE_REF = ".*"$', f"VGCOURSE_REF = {ref!r}", source)
    assert (n_repo, n_ref) == (1, 1), f"{path.name}: the set-up cell must set both, once"
    assert "%pip install" in source, f"{path.name}: the set-up cell has no %pip install line"
    setup.source = source
    nb.cells.append(nbformat.v4.new_code_cell(
        "import dataclasses, hashlib, json, platform, sys, importlib.metadata as md\n"
        "import vgcourse\n"
        "from vgcourse import data as _data\n"
        "_corpus = _data.source_text(max_chars=500_000, val_fraction=0.2)\n"
        "print('PARITY ' + json.dumps({'vgcourse_file': vgcourse.__file__,\n"
        "    'colab': 'google.colab' in sys.modules, 'executable': sys.executable,\n"
        "    'python': platform.python_version(),\n"
        "    'corpus': hashlib.sha256(json.dumps(dataclasses.asdict(_corpus),\n"
        "                                        sort_keys=True).encode()).hexdigest(),\n"
        "    'versions': {n: md.version(n) for n in ('vgcourse', 'torch', 'matplotlib',\n"
        "                                            'ipywidgets', 'numpy', 'ipykernel')}}))"))
    return nb


def kernel_manager(venv: Path, spec_dir: Path, stand_in_dir: Path) -> KernelManager:
    """A kernel on the parity environment's Python that imports google.colab at start, as Colab."""
    spec = spec_dir / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(venv_python(venv)), "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.exec_lines=['import google.colab']"],
        "display_name": "Colab parity",
        "language": "python",
        "env": {"PYTHONPATH": str(stand_in_dir)},
    }))
    return KernelManager(kernel_name=KERNEL,
                         kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir)]))


def run_like_colab(path: Path, venv: Path, clone: Path, work: Path) -> tuple[dict, list, Path]:
    """Execute the chapter in the parity kernel.

    Returns the report cell's data, the chapter's executed cells, and the executed notebook
    (written to ``last-run/`` in the cache folder).
    """
    stand_in = work / "stand-in"
    (stand_in / "google" / "colab").mkdir(parents=True)
    (stand_in / "google" / "colab" / "__init__.py").write_text(COLAB_STAND_IN)
    content = work / "content"  # Colab's working folder holds nothing of the repository
    content.mkdir()
    nb = colab_notebook(path, clone.as_uri(), SNAPSHOT_TAG)
    km = kernel_manager(venv, work / "kernels", stand_in)
    client = NotebookClient(nb, km=km, timeout=600, allow_errors=False,
                            resources={"metadata": {"path": str(content)}})
    try:
        client.execute(env=_clean_env())
    finally:  # nbclient leaves a kernel it was handed running (about 1 GB each)
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    report = [o["text"] for o in nb.cells[-1].outputs if o.get("name") == "stdout"]
    line = next(x for x in "".join(report).splitlines() if x.startswith("PARITY "))
    nb.cells.pop()  # the report cell: not the chapter's
    executed = cache_root() / "last-run" / path.name  # the chapter as it ran, for comparisons
    executed.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, executed)
    return json.loads(line[len("PARITY "):]), nb.cells, executed


def _golden():
    """tools/golden.py: the numbers the book's prose prints, and how they are compared."""
    return tool("golden")


# Every chapter prints the book's numbers under the snapshot: its data ship with the package
# (chapter 10's corpus included), so only arithmetic could move them. Tolerance as in
# tests/test_golden.py: the last digits of float64 reductions, nothing of substance.
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# The @jupyter-widgets/controls model version each ipywidgets major version emits.
CONTROLS_MODULE_VERSION = {"7": "1.5.0", "8": "2.0.0"}
GOLDEN_RTOL, GOLDEN_ATOL = 1e-6, 1e-12


# A number as Python prints it; the text around numbers must match exactly, the numbers within
# the golden tolerance (numpy's and torch's builds differ in the last float64 digits: ch 2
# printed E[selu(z)] = +5.46e-16 in one and +3.19e-16 in the other, ch 3 "-0.000" vs "0.000").
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
TEXT_TYPES = ("text/plain", "text/markdown")


def checked_texts(cells) -> list[str]:
    """What each cell marked ``# NBVAL_CHECK_OUTPUT`` printed (stdout and text results)."""
    texts = []
    for cell in cells:
        if cell.get("cell_type") != "code" or \
                not "".join(cell.get("source", "")).lstrip().startswith("# NBVAL_CHECK_OUTPUT"):
            continue
        parts = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                parts.append("".join(out.get("text", "")))
            for kind in TEXT_TYPES:
                if kind in out.get("data", {}):
                    parts.append("".join(out["data"][kind]))
        texts.append("".join(parts))
    return texts


def text_differences(book: list[str], here: list[str], rtol: float, atol: float) -> list[str]:
    """Where two runs' checked texts differ: other words, or numbers beyond the tolerance."""
    if len(book) != len(here):
        return [f"{len(here)} checked cells here, {len(book)} in the book"]
    found = []
    for k, (a, b) in enumerate(zip(book, here)):
        # columns padded for a sign ("  -0.000" vs "   0.000") differ only in white space
        words_a, words_b = ([" ".join(w.split()) for w in NUMBER.split(t)] for t in (a, b))
        numbers_a, numbers_b = NUMBER.findall(a), NUMBER.findall(b)
        close = len(numbers_a) == len(numbers_b) and all(
            abs(float(x) - float(y)) <= atol + rtol * abs(float(x))
            for x, y in zip(numbers_a, numbers_b))
        if words_a != words_b or not close:
            found.append(f"checked cell {k + 1}:\n  book: {a.strip()[:300]}\n"
                         f"  here: {b.strip()[:300]}")
    return found


@pytest.fixture(scope="module")
def book_corpus():
    """The sha256 of chapter 10's corpus as this interpreter (the book's) reads it."""
    import dataclasses

    from vgcourse import data

    corpus = dataclasses.asdict(data.source_text(max_chars=500_000, val_fraction=0.2))
    return hashlib.sha256(json.dumps(corpus, sort_keys=True).encode()).hexdigest()


@pytest.mark.skipif(os.environ.get("VGCOURSE_SKIP_COLAB") == "1",
                    reason="VGCOURSE_SKIP_COLAB=1 (the parity test runs in make test and CI)")
@pytest.mark.parametrize("path", _chapter_notebooks(), ids=lambda p: p.name)
def test_chapter_installs_and_runs_like_in_colab(path, clone, tmp_path, book_corpus):
    venv = fresh_parity_venv()
    before = distributions(venv)
    assert "vgcourse" not in before, "the parity environment must start without vgcourse"
    for requirement in snapshot_requirements():  # the environment is the recorded Colab image
        name, _, version = requirement.partition("==")
        if version:
            assert _release(before[_canonical(name)]["version"]) == version, \
                f"{name}: {before[_canonical(name)]['version']}, the snapshot has {version}"
    committed = clone / path.relative_to(ROOT)
    assert committed.exists(), f"{path.name} is not committed at the tested ref; Colab opens " \
        "the committed notebook"
    start = time.perf_counter()
    report, cells, executed = run_like_colab(committed, venv, clone, tmp_path)
    seconds = time.perf_counter() - start
    after = distributions(venv)

    # The install went through the cell's own %pip line, into the parity environment.
    setup_cell = next(c for c in cells if c.cell_type == "code")
    setup_text = "".join(o.get("text", "") for o in setup_cell.outputs)
    assert "ERROR" not in setup_text, f"pip reported an error in the set-up cell:\n{setup_text}"
    assert report["colab"], "google.colab was not in sys.modules: the install path did not run"
    assert Path(report["vgcourse_file"]).is_relative_to(site_packages(venv)), report
    assert Path(report["executable"]).parent == venv / "bin", report
    minor = ".".join(SNAP["snapshot"]["python"].split(".")[:2])
    assert report["python"].startswith(minor + "."), report["python"]

    # Panels and progress bars are live widgets of Colab's ipywidgets (7.7.1: model module
    # @jupyter-widgets/controls 1.5.0, where 8 emits 2.0.0), and every figure has its alt text.
    ran = nbformat.read(executed, as_version=4)
    state = ran.metadata.get("widgets", {}).get(
        "application/vnd.jupyter.widget-state+json", {}).get("state", {})
    outputs = [o for c in cells if c.cell_type == "code" for o in c.get("outputs", [])]
    views = [o["data"][WIDGET_VIEW]["model_id"] for o in outputs
             if WIDGET_VIEW in o.get("data", {})]
    expected = CONTROLS_MODULE_VERSION[SNAP["packages"]["ipywidgets"].split(".")[0]]
    assert all(state[v]["model_module_version"] == expected for v in views), \
        {v: state.get(v, {}).get("model_module_version") for v in views}
    if any("explore(" in c.source for c in cells if c.cell_type == "code"):
        assert any(state[v]["model_name"] == "VBoxModel" for v in views), "no live panel shown"
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert all(o.get("metadata", {}).get("image/png", {}).get("alt") for o in figures), \
        f"{path.name}: a figure without alt text under IPython {SNAP['packages']['ipython']}"
    assert report["corpus"] == book_corpus, "chapter 10's corpus differs under Colab's Python"

    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(n for n in set(before) & set(after) if before[n] != after[n])
    assert added == ["vgcourse"], f"the install added {added}; only vgcourse may be added"
    assert not removed, f"the install removed {removed}"
    for name in WATCHED:  # named first: these are the ones Colab users would lose
        assert before[name] == after[name], f"{name} was reinstalled or changed: " \
            f"{before[name]} -> {after[name]}"
    assert not changed, f"the install reinstalled or changed {changed}"

    pins = requirement_pins()
    parity = versions(before)
    same = sorted(n for n, v in parity.items() if n in pins and _release(v) == _release(pins[n]))
    differing = sorted(n for n in parity if n in pins and n not in same)
    assert {"matplotlib", "ipywidgets"} <= set(differing), \
        "the parity environment must differ from requirements.txt where it matters most"

    # The numbers the prose prints, against the book's (book/golden_numbers.json).
    golden = _golden()
    recorded = json.loads(golden.GOLDEN.read_text()).get(path.stem, {})
    printed = golden.printed_numbers(executed)
    moved = golden.differences({path.stem: recorded}, {path.stem: printed},
                               GOLDEN_RTOL, GOLDEN_ATOL)
    summary = {"chapter": path.name, "seconds": round(seconds, 1), "venv": str(venv),
               "python": report["python"], "snapshot": SNAP["snapshot"],
               "vgcourse": report["versions"]["vgcourse"], "parity_versions": parity,
               "differ_from_requirements": differing, "same_as_requirements": same,
               "printed_numbers": len(printed), "differ_from_golden": moved}
    (cache_root() / "last-run" / f"{path.stem}.json").write_text(json.dumps(summary, indent=1))
    assert not moved, f"{path.name} prints other numbers under the Colab snapshot than " \
        "the book's:\n" + "\n".join(moved[:20])
    # Determinism across two independent runs in two environments: every cell marked
    # NBVAL_CHECK_OUTPUT prints here what it printed in the book build (this replaces a second
    # nbval execution in .venv; `pytest --nbval-lax _build/jupyter_execute/book` still does it).
    book = nbformat.read(executed_notebook(path), as_version=4)
    reference = checked_texts(book.cells)
    assert not reference or any(reference), f"the book's {path.name} has no outputs in its " \
        "checked cells: jupyter-cache served a copy without outputs; rebuild with `make clean book`"
    differ = text_differences(reference, checked_texts(cells), GOLDEN_RTOL, GOLDEN_ATOL)
    assert not differ, f"{path.name} printed other output under the Colab snapshot than in " \
        "the book:\n" + "\n".join(differ[:10])
    print(f"\n{path.name}: installed and ran like Colab (Python {report['python']}) in "
          f"{seconds:.0f} s; {len(moved)} of {len(printed)} printed numbers differ from the "
          "book's; parity versions:")
    for name in WATCHED + ["numpy", "ipykernel", "tqdm"]:
        print(f"  {name:<11} {parity[name]:<14} (requirements.txt: {pins.get(name)})")


def test_checked_outputs_compare_words_exactly_and_numbers_within_float64_noise():
    """The comparison that replaces nbval's: rounding noise passes, anything else fails."""
    noise = text_differences(["E = +5.46e-16\nmean 0.000", "spread   0.000   0.000"],
                             ["E = +3.19e-16\nmean -0.000", "spread   0.000  -0.000"],
                             GOLDEN_RTOL, GOLDEN_ATOL)
    assert noise == []
    assert text_differences(["loss 0.123"], ["loss 0.124"], GOLDEN_RTOL, GOLDEN_ATOL)
    assert text_differences(["tanh vanishes"], ["relu vanishes"], GOLDEN_RTOL, GOLDEN_ATOL)
    assert text_differences(["a", "b"], ["a"], GOLDEN_RTOL, GOLDEN_ATOL)
    cells = [{"cell_type": "code", "source": "# NBVAL_CHECK_OUTPUT\nprint(1)",
              "outputs": [{"output_type": "stream", "name": "stdout", "text": "1\n"},
                          {"output_type": "stream", "name": "stderr", "text": "12 it/s\n"}]},
             {"cell_type": "code", "source": "print(2)",
              "outputs": [{"output_type": "stream", "name": "stdout", "text": "2\n"}]}]
    assert checked_texts(cells) == ["1\n"]  # stderr (progress timings) and unmarked cells skipped
