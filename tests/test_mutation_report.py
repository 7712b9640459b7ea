"""The README's mutation table is the one ``benchmarks/mutation.json`` gives, and the mutation
tool's bookkeeping (equivalent mutants, per-module pytest arguments) is what its docstring says."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import mutation  # noqa: E402


def test_readme_table_is_generated_from_the_report():
    report = json.loads((ROOT / "benchmarks" / "mutation.json").read_text())
    text = (ROOT / "README.md").read_text()
    block = text.split(mutation.BEGIN, 1)[1].split(mutation.END, 1)[0]
    assert block.split("-->", 1)[1].strip() == mutation.readme_table(report), (
        "README's mutation table is stale: run `python -c 'import sys; sys.path.insert(0, "
        "\"tools\"); import mutation, json; mutation.update_readme(json.load(open("
        "\"benchmarks/mutation.json\")))'` or `make mutation`")


def test_every_core_module_is_reported():
    report = json.loads((ROOT / "benchmarks" / "mutation.json").read_text())
    assert set(mutation.MODULES) <= set(report["modules"])


def test_readme_table_rows_by_hand(tmp_path):
    report = {"modules": {
        "a": {"tests": ["tests/test_a.py"], "mutants_found": 10, "mutants_run": 8,
              "equivalent": [{"reason": "x"}], "killed": 7, "score": 0.875},
        "b": {"tests": ["tests/test_b.py"], "error": "baseline timeout"}}}
    assert mutation.readme_table(report).splitlines()[2:] == [
        "| `a` | `test_a.py` | 8 (10) | 1 | 7 | 88 % |",
        "| `b` | `test_b.py` | not run: baseline timeout | | | |"]
    readme = tmp_path / "README.md"
    readme.write_text(f"x\n{mutation.BEGIN} note -->\nold\n{mutation.END}\ny\n")
    assert mutation.update_readme(report, readme)
    assert readme.read_text() == (f"x\n{mutation.BEGIN} note -->\n{mutation.readme_table(report)}"
                                  f"\n{mutation.END}\ny\n")
    assert not mutation.update_readme(report, tmp_path / "missing.md")


def test_equivalent_mutants_are_matched_by_text_not_line():
    entry = mutation.EQUIVALENT[0]
    m = mutation.Mutant(entry["module"], 0, 999, entry["operator"], entry["before"],
                        entry["after"], f"x = {entry['line']} + 1")
    assert mutation.equivalent_reason(m) == entry["reason"]
    m.after = m.after + "0"
    assert mutation.equivalent_reason(m) is None
    assert all(e["reason"] and e["line"] for e in mutation.EQUIVALENT)
