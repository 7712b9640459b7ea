"""No measured number is typed into a chapter's prose: it comes from the output (`vgcourse.say`).

A Markdown cell outside the solutions, or the template of a `say(...)` call, may contain a
decimal, a percentage or a power of ten only when it is a documented constant of that chapter
in `book/constants.yml` (a closed form such as ln 10 ≈ 2.30, or a parameter the code sets, such
as the learning rate), each with the reason it may be typed. Integers are not checked: counts,
depths, steps and years are parameters or facts, not measurements. Code spans, code blocks,
HTML comments, link targets and directive options are not prose and are skipped.
"""

from __future__ import annotations

import ast
import json
import math
import re
import string
from pathlib import Path

import pytest
import yaml

from vgcourse.prose import ClaimError, claim, format_number, sentence

ROOT = Path(__file__).resolve().parents[1]
CONSTANTS = ROOT / "book" / "constants.yml"

_NOT_PROSE = [
    re.compile(r"```.*?```|~~~.*?~~~", re.S),  # fenced blocks (MyST directives are prose-like,
    re.compile(r"<!--.*?-->", re.S),             # but their bodies are handled below)
    re.compile(r"`[^`\n]*`"),                    # inline code, including role targets
    re.compile(r"\]\([^)]*\)"),                  # link targets
    re.compile(r"^:\w[\w-]*:.*$", re.M),         # directive options (:label: ex-01-…)
    re.compile(r"https?://\S+"),
]
_DIRECTIVE = re.compile(r"^(`{3,}|~{3,})\{[^}]+\}.*?^\1\s*$", re.S | re.M)
_NUMBER = re.compile(
    r"\d+(?:\.\d+)?\s*(?:\\?%)"              # percentages: 58.8 %, 5\%
    r"|\d+(?:\.\d+)?[eE][-+]?\d+"            # 1e-3
    r"|10\s*\^\s*\{?\s*[-−]?\s*\d+\s*\}?"    # 10^{-3}
    r"|10[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+"                 # 10⁻³
    r"|(?<![\d.])\d+\.\d+(?![\d.])"          # decimals
)


def prose_of_cell(source: str) -> str:
    """The text of a Markdown cell that a reader reads as prose (directive bodies included)."""
    # Keep the bodies of MyST directives ({exercise}, {note}, …): they are prose. Drop their
    # fence lines and options, then drop every other fenced block as code.
    text = _DIRECTIVE.sub(lambda m: "\n".join(m.group(0).splitlines()[1:-1]), source)
    for pattern in _NOT_PROSE:
        text = pattern.sub(" ", text)
    return text


def normalise(token: str) -> str:
    """One spelling per number: no spaces or braces, ASCII minus, `%` for `\\%`."""
    token = token.replace("\\%", "%").replace("−", "-")
    return re.sub(r"[\s{}]", "", token)


def typed_numbers(text: str) -> list[str]:
    """The decimals, percentages and powers of ten in a piece of prose, normalised."""
    return [normalise(m.group(0)) for m in _NUMBER.finditer(text)]


def say_templates(source: str, fields: bool = False) -> list[str]:
    """The literal template strings of the `say(...)` calls in a code cell: only their typed
    text, or with ``fields`` the templates as written."""
    try:
        tree = ast.parse("\n".join(line for line in source.splitlines()
                                   if not line.lstrip().startswith(("%", "!"))))
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and node.args
                and getattr(node.func, "id", getattr(node.func, "attr", None)) == "say"
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            if fields:
                found.append(node.args[0].value)
                continue
            # The {fields} are filled from the output; only the literal text is typed ({{ and }}
            # are literal braces, as in LaTeX's 10^{{-3}}).
            template = node.args[0].value.replace("{{", "\x00").replace("}}", "\x01")
            template = re.sub(r"\{[^{}]*\}", " ", template)
            found.append(template.replace("\x00", "{").replace("\x01", "}"))
    return found


def constants() -> dict[str, set[str]]:
    """Documented constants per chapter stem (`all` applies to every chapter)."""
    data = yaml.safe_load(CONSTANTS.read_text()) or {}
    table = {}
    for chapter, entries in data.items():
        table[chapter] = set()
        for entry in entries or []:
            if not str(entry.get("why", "")).strip():
                raise ValueError(f"{CONSTANTS.name}: {chapter}: {entry} has no reason (why:)")
            table[chapter].add(normalise(str(entry["number"])))
    return table


def undocumented_numbers(nb: dict, stem: str, table: dict[str, set[str]]) -> list[str]:
    """Every typed number of a notebook's prose that is not a documented constant."""
    allowed = table.get("all", set()) | table.get(stem, set())
    problems = []
    for index, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        if "solution" in cell.get("metadata", {}).get("tags", []):
            continue
        if cell["cell_type"] == "markdown":
            texts = [prose_of_cell(source)]
        elif cell["cell_type"] == "code":
            texts = say_templates(source)
        else:
            continue
        for text in texts:
            for token in typed_numbers(text):
                if token not in allowed:
                    problems.append(f"cell {index}: {token!r}")
    return problems


def notebooks():
    return sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_no_hand_typed_measured_number_in_the_prose(path):
    problems = undocumented_numbers(json.loads(path.read_text()), path.stem, constants())
    assert not problems, (
        f"{path.name}: numbers typed into the prose: {', '.join(problems)}. A measured number "
        "must come from the output (vgcourse.say); a closed-form constant or a parameter the "
        f"code sets goes into {CONSTANTS.relative_to(ROOT)} with its reason.")


@pytest.mark.parametrize("planted", ["58.8 %", "58.8\\%", "$2.8 \\times 10^{-1}$", "3e-4",
                                     "0.136"])
def test_a_planted_number_in_the_prose_is_caught(planted):
    """Plant a stale number into chapter 9's prose: the check must report it."""
    path = ROOT / "book" / "09_case_studies.ipynb"
    nb = json.loads(path.read_text())
    table = constants()
    before = undocumented_numbers(nb, path.stem, table)
    cell = next(c for c in nb["cells"] if c["cell_type"] == "markdown"
                and "solution" not in c.get("metadata", {}).get("tags", []))
    cell["source"] = "".join(cell["source"]) + f"\n\nThe RNN ends at {planted} accuracy.\n"
    after = undocumented_numbers(nb, path.stem, table)
    assert len(after) > len(before)


def test_a_number_typed_into_a_say_template_is_caught():
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source":
                     'say(r"accuracy {a:.1pct}, loss 1.08, guide $10^{{-3}}$", a=acc)'}]}
    assert undocumented_numbers(nb, "99_x", {}) == ["cell 0: '1.08'", "cell 0: '10^-3'"]


def test_code_spans_directive_options_and_comments_are_not_prose():
    text = prose_of_cell(
        "Run `train(lr=0.05)`.\n<!-- 1.5 -->\n````{exercise} Title\n:label: ex-01-2.5\n\n"
        "Predict $0.25$.\n````\n```python\nx = 3.5\n```\n")
    assert typed_numbers(text) == ["0.25"]


def test_every_constant_has_a_reason_and_names_a_chapter():
    stems = {p.stem for p in notebooks()} | {"all"}
    data = yaml.safe_load(CONSTANTS.read_text()) or {}
    assert set(data) <= stems, f"unknown chapters in {CONSTANTS.name}: {set(data) - stems}"
    constants()  # raises on an entry without a reason


def test_say_formats_percentages_powers_and_scientific_notation():
    assert format_number(0.5876, ".1pct") == "58.8 %"
    assert format_number(0.0372, ".2sci") == "$3.7 \\times 10^{-2}$"
    assert format_number(9.96e-3, ".2sci") == "$1.0 \\times 10^{-2}$"
    assert format_number(2.5, ".2sci") == "$2.5$"
    assert format_number(3.4e-10, "pow") == "$10^{-9}$"  # log10(3.4e-10) = -9.47 → -9
    assert format_number(1.0, ".3f") == "1.000"
    assert format_number(float("inf"), ".2sci") == "diverged (inf/NaN)"
    assert format_number(1.81e-320, ".2sci") == "$1.8 \\times 10^{-320}$"  # subnormal
    assert format_number(-0.00372, ".2sci") == "$-3.7 \\times 10^{-3}$"


def test_sentence_names_a_missing_or_unused_value():
    with pytest.raises(KeyError, match="'b'"):
        sentence("{a} and {b}", a=1)
    with pytest.raises(ValueError, match="'c'"):
        sentence("{a}", a=1, c=2)


def test_claim_raises_with_the_claim_and_its_evidence():
    claim("He beats Xavier", True, he=0.99, xavier=0.2)
    with pytest.raises(ClaimError, match=r'"He beats Xavier".*he=0\.2, xavier=0\.99'):
        claim("He beats Xavier", False, he=0.2, xavier=0.99)
    with pytest.raises(TypeError, match="holds must be a bool"):
        claim("x", 0.5)


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_every_say_cell_hides_its_input_in_the_book(path):
    """The reader of the book sees the paragraph, not the code that fills it in."""
    nb = json.loads(path.read_text())
    shown = [index for index, cell in enumerate(nb["cells"])
             if cell["cell_type"] == "code" and say_templates("".join(cell["source"]))
             and not {"remove-input", "remove-cell"} & set(cell["metadata"].get("tags", []))]
    assert not shown, f"{path.name}: cells {shown} call say() without the tag remove-input"


# -- bounds are rounded towards the side they promise ---------------------------------------------
# "at least {x}" with x = 4.17 printed as 4.2 says more than the output shows; so does "within
# {x}" printing 5.2 % for 5.24 %. The phrases are matched next to the field, words and units
# (decades, times, nats, %) may sit between a number and "or more". "Below" and "under" are left
# out: "{q} of the norms are below {p}" bounds a measurement, "below {t} it loses precision"
# names a threshold, which rounds the other way.
_LOWER = (re.compile(r"\b(at least|no less than|no fewer than)\s*(a factor (?:of )?\s*)?$"),
          re.compile(r"^[^.,;:()]{0,24}?\b(or more|or above|or longer|or larger|or higher)\b"))
_UPPER = (re.compile(r"\b(at most|within|no more than|up to|less than)\s*"
                     r"(a factor (?:of )?\s*)?$"),
          re.compile(r"^[^.,;:()]{0,24}?\b(or less|or fewer|or below|or lower|or smaller)\b"))
_PRINTED = re.compile(r"^\$?(-?\d+(?:\.\d*)?)(?: \\times 10\^\{(-?\d+)\})?\$?( %)?$")


def printed_value(text: str) -> float | None:
    """The number a formatted field shows (``'5.2 %'`` → 0.052), or None for other text."""
    try:
        return float(text)  # Python's own formats: 4.2, 8.5e-06
    except ValueError:
        match = _PRINTED.match(text.strip())
    if match is None:
        return None
    value = float(match[1]) * 10 ** int(match[2] or 0)
    return value / 100 if match[3] else value


def bound_fields(template: str) -> list[tuple[str, str, str, str]]:
    """``(name, spec, side, context)`` of every field of a template that states a bound."""
    found = []
    flat = " ".join(template.split())
    for _, name, spec, _ in string.Formatter().parse(flat):
        if not name:
            continue
        at = flat.index("{" + name + (":" + spec if spec else "") + "}")
        before, after = flat[:at], flat[at + len(name) + len(spec) + 2 + bool(spec):]
        side = ("lower" if _LOWER[0].search(before) or _LOWER[1].search(after) else
                "upper" if _UPPER[0].search(before) or _UPPER[1].search(after) else None)
        if side:
            found.append((name, spec, side, f"...{before[-40:]}[{name}]{after[:30]}..."))
    return found


def undirected_bounds(template: str) -> list[str]:
    """Bound fields whose spec rounds to a precision but not towards the bound's side."""
    found = []
    for name, spec, side, context in bound_fields(template):
        base, _, direction = spec.partition(":")
        rounds = bool(re.search(r"\.\d+(f|e|E|%|pct|sci)$|^(pct|sci)$", base))
        want = "down" if side == "lower" else "up"
        if rounds and direction != want:
            found.append(f"{{{name}:{spec}}} is a{'n' if side == 'upper' else ''} {side} bound: "
                         f"write {{{name}:{base}:{want}}}: {context}")
    return found


def overstated_bounds(template: str, values: dict) -> list[str]:
    """The fields of a ``say`` template that print a bound past the measurement it bounds."""
    found = []
    for name, spec, side, context in bound_fields(template):
        value = values.get(name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) \
                or not math.isfinite(value):
            continue
        shown = printed_value(format_number(value, spec or ""))
        if shown is None:
            continue
        past = shown - value if side == "lower" else value - shown
        if past > 1e-12 * abs(value):
            found.append(f"{{{name}:{spec}}} is a {side} bound but prints "
                         f"{format_number(value, spec)} for {value:.6g}: {context}")
    return found


def test_a_bound_rounded_the_wrong_way_is_caught():
    assert overstated_bounds("by {x:.1f} decades or more on every seed", {"x": 4.17})
    assert not overstated_bounds("by {x:.1f:down} decades or more on every seed", {"x": 4.17})
    assert overstated_bounds("within {e:.1pct} on every seed", {"e": 0.05244})
    assert not overstated_bounds("within {e:.1pct:up} on every seed", {"e": 0.05244})
    assert overstated_bounds("is at least {g:.1sci}, more", {"g": 0.015457})
    assert overstated_bounds("at most {f:.2f} of the bound", {"f": 0.93257})
    assert overstated_bounds("within {d:.1e}, inside the bound", {"d": 8.54e-6})
    # not bounds: a plain value, and a range
    assert not overstated_bounds("the loss is {x:.1f} after training", {"x": 4.17})
    assert not overstated_bounds("from {a:.1f} to {b:.1f}", {"a": 4.17, "b": 5.16})


def test_a_bound_without_its_rounding_direction_is_caught():
    assert undirected_bounds("by {x:.1f} decades or more")
    assert undirected_bounds("within {e:.1pct:down} on every seed")  # the wrong side
    assert not undirected_bounds("within {e:.1pct:up}, at least {n} steps, {g:.2f} after")
    assert not undirected_bounds("at least {n:d} of {m} seeds")  # integers are not rounded


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_every_bound_in_a_say_template_rounds_towards_its_side(path):
    """"at least {x:.1f}" must be written {x:.1f:down}: whatever the next build measures, the
    printed bound then never says more than the output (tested on the built book below)."""
    nb = json.loads(path.read_text())
    found = [problem for cell in nb["cells"] if cell["cell_type"] == "code"
             for template in say_templates("".join(cell["source"]), fields=True)
             for problem in undirected_bounds(template)]
    assert not found, f"{path.name}:\n" + "\n".join(found)


def test_say_rounds_a_bound_towards_its_side():
    assert format_number(4.17, ".1f:down") == "4.1" and format_number(4.11, ".1f:up") == "4.2"
    assert format_number(0.05244, ".1pct:up") == "5.3 %"
    assert format_number(0.015457, ".1sci:down") == "$1 \\times 10^{-2}$"
    assert format_number(9.97e-3, ".2sci:up") == "$1.0 \\times 10^{-2}$"
    assert format_number(0.29, ".2f:down") == "0.29"  # the decimal the float stands for
    assert format_number(-3.17, ".1f:down") == "-3.2"
    with pytest.raises(ValueError, match="spec='pow'"):
        format_number(3e-10, "pow:down")
    with pytest.raises(ValueError, match="direction='sideways'"):
        format_number(1.5, ".1f:sideways")


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_every_bound_the_book_prints_is_rounded_towards_its_side(path):
    from _book import executed_notebook

    executed = executed_notebook(path)
    found = []
    for cell in json.loads(executed.read_text())["cells"]:
        for output in cell.get("outputs", []):
            said = output.get("metadata", {}).get("vgcourse", {})
            if "template" in said:
                found += overstated_bounds(said["template"], said["values"])
    assert not found, f"{path.name}: bounds rounded past what the output shows " \
        "(round them with :down or :up, vgcourse.prose):\n" + "\n".join(found)
