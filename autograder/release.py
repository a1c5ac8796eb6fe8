"""Build student templates from the reference solutions, and the release gates.

``write_template`` strips ``solutions/<a>/`` into ``student_template/<a>/`` (answers.yml blanked, the
written answers' key left out) and refuses a template that does not import; ``verify`` refuses a release
where the reference does not score 100% or the blank template more than 0. The leak gates (solution lines,
answers students would read) are :func:`autograder.studentkit.refuse_give_aways` and the bundle's.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from autograder import config, strip, written
from autograder.judges.answers import load_key, student_template
from autograder.reference import SOLUTIONS

TEMPLATES = config.ROOT / "student_template"
ASSIGNMENTS = config.ROOT / "assignments"


class ReleaseError(RuntimeError):
    """A release gate failed; the message says which and where."""


def template_files(assignment: str) -> dict[str, str]:
    """Relative path -> text of every file of the student template of ``assignment``."""
    source = SOLUTIONS / assignment
    if not source.is_dir():
        raise ReleaseError(f"{source}: no such solution folder")
    files: dict[str, str] = {}
    secrets: set[str] = set()
    for path in sorted(source.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(source).as_posix()
        if relative == written.KEY_FILE:  # the staff's model answers and rubrics: grading kit only
            continue
        if path.suffix == ".py":
            text, regions = strip.strip_source(path.read_text(encoding="utf-8"), str(path))
            secrets |= strip.solution_lines(regions)
            files[relative] = text
        elif relative == "answers.yml":
            blank = student_template(load_key(path))
            files[relative] = ("# Numeric written answers: replace each `answer: null` by your number "
                               "(or list of numbers).\n" + yaml.safe_dump(blank, sort_keys=False, allow_unicode=True))
        else:
            files[relative] = path.read_text(encoding="utf-8")
    leaks = [leak for relative, text in files.items() for leak in strip.find_leaks(secrets, text, relative)]
    statement = ASSIGNMENTS / assignment / "statement.md"
    if statement.exists():
        leaks += strip.find_leaks(secrets, statement.read_text(encoding="utf-8"), str(statement))
    if leaks:
        raise ReleaseError(f"{assignment}: solution code leaks into released files:\n" + "\n".join(leaks[:10]))
    return files


def write_template(assignment: str, target: Path | None = None) -> Path:
    """Write the template of ``assignment`` (default ``student_template/<a>/``) and check it imports; refuse
    when the written answers' key does not match the notebook's hand-graded questions."""
    target = target or TEMPLATES / assignment
    files = template_files(assignment)
    if written.key_path(assignment).is_file() and written.key_problems(assignment):
        raise ReleaseError("\n".join(written.key_problems(assignment)))
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.rglob("*"):
        if stale.is_file() and stale.relative_to(target).as_posix() not in files:
            stale.unlink()
    for relative, text in files.items():
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).write_text(text, encoding="utf-8")
    check_imports(target, config.load().assignment(assignment).modules)
    return target


def check_imports(folder: Path, modules: list[str]) -> None:
    """Every module of ``folder`` imports cleanly in a fresh interpreter."""
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)"
    done = subprocess.run([sys.executable, "-c", code, *modules], cwd=folder, capture_output=True, text=True, check=False,
                          env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"})
    if done.returncode:
        last = done.stderr.strip().splitlines()[-1:] or ["unknown error"]
        raise ReleaseError(f"{folder}: the template does not import cleanly: {last[0]}")


def verify(assignment: str, quiet: bool = False) -> None:
    """Release gate: the reference scores 100% and the blank template 0 on the cpu tier."""
    import tempfile

    from autograder import samples
    from autograder.grade import Options, grade_many
    from autograder.submissions import Submission

    with tempfile.TemporaryDirectory(prefix="autograder-release-") as scratch:
        reference = samples.reference_copy(assignment, Path(scratch) / "reference")
        entries = [Submission("reference", reference, assignment),
                   Submission("template", TEMPLATES / assignment, assignment)]
        graded = grade_many(entries, Path(scratch) / "graded", Options(), jobs=2, force=True, quiet=quiet)
    failed = [f"{t['name']}: {t['output']}" for t in graded["reference"]["tests"] if t["status"] != "passed"]
    if failed:
        raise ReleaseError(f"{assignment}: the reference solution does not score 100%:\n" + "\n".join(failed))
    passing = [t["name"] for t in graded["template"]["tests"] if t["status"] == "passed"]
    if passing:
        raise ReleaseError(f"{assignment}: the blank template passes checks: {', '.join(passing)}")
    print(f"{assignment}: reference {graded['reference']['score']:g}/{graded['reference']['extra_data']['max_score']:g},"
          f" template 0 — release gates passed")
