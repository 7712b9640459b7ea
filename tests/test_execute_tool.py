"""tools/execute.py: the chapters ``make book`` executes in parallel reach jupyter-book's cache.

The build only renders when every notebook it reads matches a cached one, so the contract that
matters is jupyter-cache's: a notebook executed and stored by the tool is found again from the
unexecuted file, as myst-nb's ``cache`` mode looks it up; a notebook that fails is not stored,
so the build executes it again and reports its error.
"""

from pathlib import Path

import nbformat
import pytest
from _book import tool
from jupyter_cache import get_cache


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def test_an_executed_notebook_is_found_in_the_cache_from_its_unexecuted_file(tmp_path):
    execute = tool("execute")
    path = _notebook(tmp_path / "ok.ipynb", "import os\nprint(os.getcwd())", "6 * 7")
    name, nb, seconds, error = execute._execute(str(path), timeout=60)
    assert error is None and seconds > 0
    assert nb.cells[0].outputs[0]["text"].strip() == str(tmp_path)  # run in its own folder
    assert nb.cells[1].outputs[0]["data"]["text/plain"] == "42"
    cache = get_cache(str(tmp_path / "cache"))
    execute._store(cache, name, nb, seconds)
    record = cache.match_cache_notebook(nbformat.read(path, as_version=4))
    assert record.data["execution_seconds"] == seconds
    assert execute._recorded_seconds(cache) == {str(path.resolve()): seconds}


def test_a_failing_notebook_is_reported_and_not_cached(tmp_path):
    execute = tool("execute")
    path = _notebook(tmp_path / "bad.ipynb", "1 / 0")
    _, nb, _, error = execute._execute(str(path), timeout=60)
    assert nb is None and error.startswith("CellExecutionError") and "ZeroDivisionError" in error
    with pytest.raises(KeyError):
        get_cache(str(tmp_path / "cache")).match_cache_notebook(nbformat.read(path, as_version=4))


def test_the_executed_copies_carry_the_cached_outputs(tmp_path, monkeypatch):
    """After the build, ``--executed`` writes each cached notebook with its outputs (myst-nb
    writes a notebook it took from the cache without them); one not cached is left alone."""
    execute = tool("execute")
    monkeypatch.setattr(execute, "ROOT", tmp_path)
    (tmp_path / "book").mkdir()
    cached = _notebook(tmp_path / "book" / "a.ipynb", "print(3 * 5)")
    other = _notebook(tmp_path / "book" / "b.ipynb", "print('never run')")
    cache = get_cache(str(tmp_path / "cache"))
    name, nb, seconds, _ = execute._execute(str(cached), timeout=60)
    execute._store(cache, name, nb, seconds)
    out = tmp_path / "jupyter_execute"
    assert execute.write_executed(cache, [cached, other], out) == 1
    written = nbformat.read(out / "book" / "a.ipynb", as_version=4)
    assert written.cells[0].outputs[0]["text"] == "15\n"
    assert not (out / "book" / "b.ipynb").exists()
