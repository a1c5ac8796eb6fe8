"""Student notebooks: otter-grader master notebooks whose check cells call the student kit's runner.

A master notebook is built with nbformat from ``assignments/<a>/statement.md`` (the handout, in order, ★
kept) and ``assignments/<a>/notebook.py`` (the setup cell, the experiment cells and where the public checks
go). Every paragraph of the handout that asks for a *(written answer)* becomes an otter **manual** question
with an answer cell; every group of public checks becomes an otter autograded question whose test cases
call :func:`autograder.selfcheck.run_check`, which runs the grader's own pytest test function in-process:
same probes (``autograder.graders.<a>.probes``), same judges (``autograder.judges``), in the student kit
with the reference values recorded at release. Nothing is re-implemented; otter is the notebook /
self-check layer and the authoritative grade comes from ``autograder grade`` (isolated worker).

Only public cheap checks go into the notebook: cpu tier, no training ``budget``. Numeric answers live in
``answers.yml`` beside the notebook; the ``answers`` question checks their format.

otter itself (``otter assign``, ``otter run``) is driven by :mod:`autograder.otter_runs`.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

from autograder import config
from autograder.reference import SOLUTIONS

ASSIGNMENTS = config.ROOT / "assignments"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
TINY_VARIABLE = "AUTOGRADER_TINY"  # "1": experiments run with tiny budgets (the kit's tests, the release gate)
STUDENT_SEED = 0
RESPONSE = "_Type your answer here, replacing this text._"
NOT_IN_NOTEBOOK = "budget"  # checks that train for a budget stay with `autograder grade`


class NotebookError(RuntimeError):
    """A notebook cannot be built, assigned or run; the message says which and why."""


# --------------------------------------------------------------------------------------------------------
# Cells a notebook.py declares
# --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Code:
    """A code cell (an experiment, a plot, a table)."""

    source: str


@dataclass(frozen=True)
class Markdown:
    """A Markdown cell of the notebook's own (not from the handout)."""

    source: str


@dataclass(frozen=True)
class Checks:
    """An otter autograded question named ``name`` holding the grading.yml checks matching ``patterns``
    (``fnmatch`` patterns on check ids, e.g. ``"test_manual.py::*"``)."""

    name: str
    patterns: tuple[str, ...]
    title: str = ""

    def __init__(self, name: str, patterns: str | list[str] | tuple[str, ...], title: str = ""):
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "patterns", (patterns,) if isinstance(patterns, str) else tuple(patterns))
        object.__setattr__(self, "title", title)


Cell = Code | Markdown | Checks


# --------------------------------------------------------------------------------------------------------
# The handout: statement.md split into blocks
# --------------------------------------------------------------------------------------------------------

@dataclass
class Block:
    """A heading, a horizontal rule or a paragraph (list, table, code block) of the statement."""

    kind: str  # "heading" | "rule" | "text"
    text: str
    level: int = 0

    @property
    def first_line(self) -> str:
        return self.text.strip().splitlines()[0] if self.text.strip() else ""


HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")
RULE = re.compile(r"^\s*(-{3,}|\*{3,}|_{3,})\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
WRITTEN = re.compile(r"\(\s*\**\s*written answer", re.IGNORECASE)
CONTINUATION = re.compile(r"^(\s*([-*+]|\d+[.)])\s|    |\s*```)")  # a list, an indented or fenced block


def parse_statement(text: str) -> list[Block]:
    """Blocks of a Markdown statement; fenced code blocks stay whole (blank lines included)."""
    blocks: list[Block] = []
    current: list[str] = []
    fenced = False

    def flush() -> None:
        if any(line.strip() for line in current):
            blocks.append(Block("text", "\n".join(current).strip("\n")))
        current.clear()

    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            current.append(line)
            continue
        if fenced:
            current.append(line)
            continue
        heading = HEADING.match(line)
        if heading:
            flush()
            blocks.append(Block("heading", line.strip(), len(heading.group(1))))
        elif RULE.match(line):
            flush()
            blocks.append(Block("rule", "---"))
        elif not line.strip():
            flush()
        else:
            current.append(line)
    if fenced:
        raise NotebookError("the statement has an unclosed ``` code block")
    flush()
    return blocks


LABELS = [(r"^(?:#+|\*\*)\s*Task\s+([\d.]+)", "task"), (r"^\*\*\s*Question\s+(\d+(?:[-.]\w+)?)", "q"),
          (r"^\*\*\s*(\d+)", "q"), (r"^#+\s*Part\s+([\w.-]+)", "part"), (r"^#+\s*(\d+(?:\.\d+)*)", "s"),
          (r"^\*\*\s*((?!question\b)[a-z][a-z ]{2,20}?)\s*\*\*", "")]


def label_of(text: str) -> str:
    """``q4``, ``q8_d``, ``task1_6``... from a question's label (bold ``Question N``/``N.``, ``Task N.M``)."""
    for pattern, prefix in LABELS:
        match = re.match(pattern, text.strip(), flags=re.IGNORECASE)
        if match:
            return prefix + re.sub(r"\W+", "_", match.group(1)).strip("_").lower()
    return ""


def question_name(block_text: str, taken: set[str], context: str = "") -> str:
    """An otter question name from the label of a written question, else of the labelled heading or
    paragraph it belongs to (``context``), else ``written``; made unique with a suffix."""
    name = label_of(block_text) or label_of(context) or "written"
    if name in taken or name == "written":
        index = 1
        while f"{name}_{index}" in taken:
            index += 1
        name = f"{name}_{index}"
    taken.add(name)
    return name


@dataclass
class _Section:
    """What the builder emits, in order: Markdown text, written questions, inserted cells."""

    kind: str  # "markdown" | "question" | "insert"
    text: str = ""
    cells: list[Cell] = field(default_factory=list)
    context: str = ""  # the last labelled heading or paragraph before it (names unlabelled questions)


def _anchor_index(blocks: list[Block], anchor: str, paragraph: bool = False) -> int:
    """Index of the block after which an anchor's cells go: the last block of the section of the one heading
    containing ``anchor`` (before a closing rule), else the one paragraph containing it. (With a
    ``before:`` prefix, handled by the caller, the cells go before the paragraph instead.)"""
    headings = [i for i, b in enumerate(blocks) if b.kind == "heading"]
    hits = [i for i in headings if anchor in blocks[i].text]
    if len(hits) == 1 and not paragraph:
        end = next((j for j in headings if j > hits[0]), len(blocks)) - 1
        while end > hits[0] and blocks[end].kind == "rule":
            end -= 1
        return end
    if not hits or paragraph:
        hits = [i for i, b in enumerate(blocks) if b.kind == "text" and anchor in b.text]
    if len(hits) != 1:
        raise NotebookError(f"notebook anchor {anchor!r} matches {len(hits)} headings or paragraphs of the "
                            "statement, expected exactly one")
    return hits[0]


def _sections(blocks: list[Block], inserts: dict[str, list[Cell]], intro_end: int = 0) -> list[_Section]:
    """Handout blocks → Markdown cells (one per heading section) and written questions, with ``inserts``
    (anchor → cells) placed after the block their anchor designates (see :func:`_anchor_index`).

    A written question is a paragraph asking for a *(written answer)* (with the lists and code blocks that
    follow it), or a heading asking for one: its section stays Markdown (cells inserted in it included) and
    an answer question closes it.
    Blocks before ``intro_end`` (the introduction) hold no question.
    """
    items: list[tuple[str, str, int]] = []  # (kind, text, index of its last block)
    pending: tuple[str, int] | None = None  # the answer question closing a heading that asks for one
    index = 0
    while index < len(blocks):
        block = blocks[index]
        asks = index >= intro_end and bool(WRITTEN.search(block.text))
        if block.kind == "heading" and asks:
            end = next((j for j in range(index + 1, len(blocks)) if blocks[j].kind == "heading"), len(blocks)) - 1
            while end > index and blocks[end].kind == "rule":
                end -= 1
            pending = (f"**{block.text.lstrip('#').strip()}** — your answer:", end)
            items.append(("heading", block.text, index))
            index += 1
        elif block.kind == "text" and asks:
            last = index + 1
            while last < len(blocks) and blocks[last].kind == "text" and CONTINUATION.match(blocks[last].text):
                last += 1
            items.append(("question", "\n\n".join(b.text for b in blocks[index:last]), last - 1))
            index = last
        else:
            items.append((block.kind, block.text, index))
            index += 1
        if pending is not None and index > pending[1]:
            items.append(("question", *pending))
            pending = None
    placed: dict[int, list[list[Cell]]] = {}
    before: dict[int, list[list[Cell]]] = {}
    for anchor, cells in inserts.items():
        ahead = anchor.startswith("before:")
        target = _anchor_index(blocks, anchor.removeprefix("before:"), paragraph=ahead)
        owner = next(position for position, item in enumerate(items) if item[2] >= target)
        (before if ahead else placed).setdefault(owner, []).append(list(cells))

    sections: list[_Section] = []
    markdown: list[str] = []

    def flush() -> None:
        if markdown:
            sections.append(_Section("markdown", "\n\n".join(markdown)))
            markdown.clear()

    context = ""
    for position, (kind, text, _) in enumerate(items):
        for cells in before.get(position, []):
            flush()
            sections.append(_Section("insert", cells=cells))
        if kind == "heading" or (kind == "text" and label_of(text)):
            context = text
        if kind == "question":
            flush()
            sections.append(_Section("question", text, context=context))
        else:
            if kind == "heading" and any(part != "---" for part in markdown):
                flush()
            markdown.append(text)
        for cells in placed.get(position, []):
            flush()
            sections.append(_Section("insert", cells=cells))
    flush()
    return sections


# --------------------------------------------------------------------------------------------------------
# The master notebook
# --------------------------------------------------------------------------------------------------------

def notebook_checks(assignment: str, grading: config.Grading | None = None) -> list[config.Check]:
    """The checks a notebook runs: the public ones without a training budget, as the student kit has them
    (hidden and training checks stay with `autograder grade`)."""
    grading = grading or config.load()
    return [c for c in grading.assignment(assignment).selected("cpu", "public") if not c.budget]


def _raw(source: str):
    return nbformat.v4.new_raw_cell(source)


def _test_cell(assignment: str, check: config.Check) -> str:
    function = "test_" + re.sub(r"\W+", "_", check.name.removeprefix("test_")).strip("_")
    return (f'""" # BEGIN TEST CONFIG\npoints: {check.points:g}\nhidden: {str(check.visibility == "hidden").lower()}\n'
            f'""" # END TEST CONFIG\n'
            f"def {function}(env):\n"
            f"    from autograder.selfcheck import run_check\n"
            f"    run_check({assignment!r}, {check.id!r}, env)\n")


def _question_cells(assignment: str, group: Checks, checks: list[config.Check]) -> list:
    public = [c for c in checks if c.visibility == "public"]
    title = group.title or f"Checks `{group.name}`"
    if public:
        lines = [(f"**{title}.** The next cell runs {len(public)} public check{'s' * (len(public) > 1)} on "
                  "your modules (hidden checks run at grading only):")]
        lines += [f"- `{c.id}` ({c.points:g} pt)" for c in public]
    else:
        lines = [f"**{title}.** Hidden checks: they run at grading only."]
    cells = [_raw(f"# BEGIN QUESTION\nname: {group.name}"), nbformat.v4.new_markdown_cell("\n".join(lines)),
             _raw("# BEGIN TESTS")]
    cells += [nbformat.v4.new_code_cell(_test_cell(assignment, c)) for c in checks]
    cells += [_raw("# END TESTS"), _raw("# END QUESTION")]
    return cells


def _manual_cells(name: str, text: str) -> list:
    return [_raw(f"# BEGIN QUESTION\nname: {name}\nmanual: true"), nbformat.v4.new_markdown_cell(text),
            _raw("# BEGIN PROMPT"), nbformat.v4.new_markdown_cell(RESPONSE), _raw("# END PROMPT"),
            _raw("# END QUESTION")]


def assignment_config(assignment: str, student_files: list[str], autograder_files: list[str],
                      requirements: list[str] | None = None) -> dict:
    """otter assign's configuration (facts checked against otter-grader 7.0.0's own Assignment keys)."""
    grading = config.load()
    settings = {
        "name": assignment,
        "init_cell": True,
        "check_all_cell": False,
        "export_cell": {"pdf": False, "run_tests": False, "ignore_log": True,
                        "instructions": "The zip holds this notebook, your modules and `answers.yml`: upload it "
                                        "as your submission (see README.md)."},
        "seed": {"variable": "SEED", "autograder_value": grading.seed, "student_value": STUDENT_SEED},
        "tests": {"files": True, "ok_format": False},
        "python_version": "3.11",  # top-level key: otter ignores `generate: {python_version: ...}` silently
        "generate": {"show_stdout": False, "show_hidden": False, "pdf": False, "zips": False},
        "student_files": student_files,  # graded files written by students: never `files:` (copied verbatim)
        "autograder_files": autograder_files,
    }
    if requirements:
        settings["requirements"] = requirements
    return settings


def setup(imports: str, data_root: str, then: str) -> Code:
    """The first code cell of every notebook: autoreload and inline plots, ``imports``, the student's
    ``SEED``, the ``TINY`` switch of the kit's own tests with ``budget(normal, tiny)``, ``DATA`` (the
    torchvision data root, holding ``data_root``), ``DEVICE``, then ``then`` (helpers, first data)."""
    return Code(f"""
%load_ext autoreload
%autoreload 2
%matplotlib inline
{imports.strip()}

SEED = 0  # seed of your runs (the grader uses its own)
TINY = os.environ.get("AUTOGRADER_TINY") == "1"  # tiny budgets: the kit's own tests
DATA = os.environ.get("AUTOGRADER_DATA", "data")  # torchvision data root: {data_root}
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(SEED)


def budget(normal, tiny):
    \"\"\"The notebook's (small) budget, or a tiny one when the kit tests this notebook.\"\"\"
    return tiny if TINY else normal


{then.strip()}
""")


def handout(assignment: str, setup: Code, inserts: dict[str, list[Cell]], closing: list[Cell] | None = None,
            grading: config.Grading | None = None) -> nbformat.NotebookNode:
    """The master notebook of ``assignment``: the handout (``statement.md``) in order, written questions as
    otter manual questions, ``inserts`` (anchor → cells) placed at their anchors, then the numeric answers,
    and any check not placed by a :class:`Checks` group in a final ``other_checks`` question.

    The first raw cell is a placeholder ``# ASSIGNMENT CONFIG`` that :func:`write_master` fills in.
    """
    grading = grading or config.load()
    statement = ASSIGNMENTS / assignment / "statement.md"
    blocks = parse_statement(statement.read_text(encoding="utf-8"))
    checks = notebook_checks(assignment, grading)
    placed: set[str] = set()
    taken: set[str] = set()

    def group_checks(group: Checks) -> list[config.Check]:
        chosen = [c for c in checks if c.id not in placed and any(fnmatch.fnmatchcase(c.id, p) for p in group.patterns)]
        placed.update(c.id for c in chosen)
        return chosen

    def emit(cell: Cell) -> list:
        if isinstance(cell, Code):
            return [nbformat.v4.new_code_cell(cell.source.strip("\n"))]
        if isinstance(cell, Markdown):
            return [nbformat.v4.new_markdown_cell(cell.source.strip("\n"))]
        if cell.name in taken:
            raise NotebookError(f"{assignment}: two questions are named {cell.name!r}")
        taken.add(cell.name)
        chosen = group_checks(cell)
        return _question_cells(assignment, cell, chosen) if chosen else []

    headings = [i for i, b in enumerate(blocks) if b.kind == "heading"]
    intro_end = headings[1] if len(headings) > 1 else len(blocks)
    intro = [b.text for b in blocks[:intro_end] if b.kind != "rule"] or [f"# {assignment}"]
    cells = [_raw("# ASSIGNMENT CONFIG\n{}"),
             nbformat.v4.new_markdown_cell("\n\n".join(intro + [_HOW_TO.format(a=assignment)])),
             nbformat.v4.new_code_cell(setup.source.strip("\n"))]
    for section in _sections(blocks[intro_end:], inserts):
        if section.kind == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(section.text))
        elif section.kind == "question":
            cells += _manual_cells(question_name(section.text, taken, section.context), section.text)
        else:
            for cell in section.cells:
                cells += emit(cell)
    cells.append(nbformat.v4.new_markdown_cell(_ANSWERS))
    cells.append(nbformat.v4.new_code_cell("from autograder.selfcheck import show_answers\n\nshow_answers()"))
    if "answers" not in taken:
        cells += emit(Checks("answers", ["test_answers.py::*"], title="Numeric answers (answers.yml)"))
    for cell in closing or []:
        cells += emit(cell)
    rest = [c for c in checks if c.id not in placed]
    if rest:
        cells += _question_cells(assignment, Checks("other_checks", ["*"], title="Other checks"), rest)
        placed.update(c.id for c in rest)
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


_HOW_TO = """\
**How this notebook works.** Your code goes in the Python modules next to this notebook (the notebook
imports them; edits are picked up automatically thanks to `%autoreload`). Run the cells top to bottom:
they run the experiments of the handout with small budgets (raise them for your report).

- **Written answers**: in the answer cells (*Type your answer here*) after each question.
- **Numeric answers**: in `answers.yml` beside this notebook (replace each `answer: null`); the
  `answers` check near the end of the notebook reads them.
- **Checks**: each `grader.check("...")` cell runs the public checks of one part on your modules (the same
  checks as `autograder check {a}` in a terminal). Hidden checks and the training checks run only at grading,
  in an isolated process, on other random inputs: the public checks passing is necessary, not sufficient.
- **Submitting**: run the last cell; it writes a zip with this notebook, your modules and `answers.yml`
  (see README.md)."""

_ANSWERS = """\
## Numeric answers (`answers.yml`)

The numeric questions of the handout are answered in `answers.yml` beside this notebook (a number, or a
list of numbers for a shape). The cell below lists what you have filled in; the check after it compares
your answers with the key (with a hint for the usual mistakes)."""


def _load_source(assignment: str):
    path = ASSIGNMENTS / assignment / "notebook.py"
    if not path.is_file():
        raise NotebookError(f"{path}: no notebook source for {assignment}")
    spec = importlib.util.spec_from_file_location(f"autograder_notebook_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "build", None)):
        raise NotebookError(f"{path} defines no build() function returning the master notebook")
    return module


def master(assignment: str) -> nbformat.NotebookNode:
    """The master notebook of ``assignment`` as ``assignments/<a>/notebook.py``'s ``build()`` returns it."""
    notebook = _load_source(assignment).build()
    nbformat.validate(notebook)
    return notebook


def write_master(assignment: str, folder: Path, kit: Path | None = None) -> Path:
    """Write ``<folder>/<assignment>.ipynb`` with the solution modules and the answer key beside it (the
    otter ``student_files``), and the kit's copy ``kit`` as an autograder file when given."""
    folder.mkdir(parents=True, exist_ok=True)
    source = SOLUTIONS / assignment
    student_files = []
    for path in sorted(source.iterdir()):
        if path.is_file() and (path.suffix == ".py" or path.name == "answers.yml"):
            shutil.copyfile(path, folder / path.name)
            student_files.append(path.name)
    autograder_files, requirements = [], None
    if kit is not None:
        shutil.copytree(kit, folder / "kit", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        autograder_files = ["kit"]
        requirements = ["-e /autograder/source/files/kit"]
    notebook = master(assignment)
    settings = assignment_config(assignment, student_files, autograder_files, requirements)
    notebook.cells[0] = _raw("# ASSIGNMENT CONFIG\n" + yaml.safe_dump(settings, sort_keys=False))
    path = folder / f"{assignment}.ipynb"
    nbformat.write(notebook, path)
    return path
