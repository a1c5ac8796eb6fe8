"""Mutation-style audit: every student-written function (a ``# BEGIN SOLUTION`` region of solutions/<a>/)
has a cheap check (no training budget) that fails when that function alone is blank (the reference with
only its regions stripped). Checks run in process (``tests.inprocess``), cheapest first, stopping at the first that fails."""

from __future__ import annotations

import shutil

import pytest

from autograder import reference, strip
from tests.conftest import assignments_with_graders
from tests.inprocess import Runner, cheap_checks


def student_functions(assignment: str) -> list[tuple[str, str]]:
    """``(file, qualified name)`` of every function holding a solution region, in file order."""
    found = []
    for path in sorted((reference.SOLUTIONS / assignment).glob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            match = strip.BEGIN.match(line)
            if match:
                name = strip._enclosing_name(lines, number, match["indent"])
                if (path.name, name) not in found:
                    found.append((path.name, name))
    return found


def blank_one(assignment: str, file: str, name: str, target) -> None:
    """The reference in ``target`` with only the regions of ``name`` in ``file`` stripped (the markers of
    the other regions dropped, their code kept)."""
    shutil.copytree(reference.SOLUTIONS / assignment, target, ignore=shutil.ignore_patterns("__pycache__"))
    lines = (target / file).read_text(encoding="utf-8").splitlines()
    kept, opened = [], None
    for number, line in enumerate(lines):
        begin, end = strip.BEGIN.match(line), strip.END.match(line)
        if begin:
            opened = strip._enclosing_name(lines, number, begin["indent"]) == name
        if (begin or end) and not opened:
            continue
        kept.append(line)
    (target / file).write_text(strip.strip_source("\n".join(kept) + "\n", file)[0], encoding="utf-8")


FUNCTIONS = [(a, f, n) for a in assignments_with_graders() for f, n in student_functions(a)]


@pytest.mark.parametrize("assignment, file, name", FUNCTIONS, ids=[f"{a}-{f[:-3]}.{n}" for a, f, n in FUNCTIONS])
def test_every_student_function_has_a_check_that_fails_without_it(assignment, file, name, tmp_path):
    blank_one(assignment, file, name, tmp_path / "submission")
    runner = Runner(assignment, tmp_path / "submission")
    for entry in cheap_checks(assignment):  # an accuracy check alone would only report a low score
        if runner.run(entry.id, 1) is not None:
            return
    pytest.fail(f"no cheap (non-training) check of {assignment} fails when {file[:-3]}.{name} is left blank")
