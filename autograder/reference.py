"""The trusted reference: solution modules imported in the grader process (never in the worker)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from autograder.config import ROOT
from autograder.judges import answers

SOLUTIONS = ROOT / "solutions"


def module(assignment: str, name: str):
    """``solutions/<assignment>/<name>.py`` as a module (sibling imports resolve inside the same folder).

    A grader process grades one assignment, so the reference folder goes first on ``sys.path``.
    """
    folder = str(SOLUTIONS / assignment)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    loaded = importlib.import_module(name)
    if Path(loaded.__file__).resolve().parent != Path(folder).resolve():
        raise ImportError(f"reference module {name!r} of {assignment} resolved to {loaded.__file__}")
    return loaded


def answer_key(assignment: str) -> dict[str, dict]:
    """``solutions/<assignment>/answers.yml``: the key of the numeric written answers."""
    return answers.load_key(SOLUTIONS / assignment / "answers.yml")


def answer_formats(assignment: str) -> dict[str, dict]:
    """How many numbers each numeric answer holds (public: the student kit checks the format only)."""
    return answers.formats(answer_key(assignment))
