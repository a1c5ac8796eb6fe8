"""Sample submissions built from the reference: each one is the solution with one realistic bug.

A corpus file ``tests/submissions/<assignment>.yml`` lists mutations::

    - name: missing_tanh_derivative
      file: manual.py
      find: "* (1 - outputs[\\"h\\"] ** 2)"
      replace: ""
      caught_by: [test_manual.py::test_backward_finite_differences]

``find`` must occur exactly once in the file, so a mutation can never silently do nothing. ``files`` (optional)
maps paths to the text of extra files written into the submission (a helper module the mutation imports).

``tests/submissions/<assignment>_correct.yml`` lists *correct* variants in the same form (unusual but
correct code: view vs reshape vs flatten, in-place ops where legal, functional vs module forms), with
``passes``, the checks they touch, each of which must give them full marks.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from autograder.config import ROOT

CORPUS = ROOT / "tests" / "submissions"


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    find: str
    replace: str
    caught_by: list[str]
    demo: bool = False
    files: dict[str, str] = field(default_factory=dict)  # extra files written into the submission (helpers)


@dataclass(frozen=True)
class Variant:
    """Unusual but correct code: the reference with ``find`` replaced; every check of ``passes`` must pass."""

    name: str
    file: str
    find: str
    replace: str
    passes: list[str]


def variants(assignment: str) -> list[Variant]:
    path = CORPUS / f"{assignment}_correct.yml"
    return [Variant(**entry) for entry in yaml.safe_load(path.read_text(encoding="utf-8"))] if path.is_file() else []


def mutations(assignment: str) -> list[Mutation]:
    path = CORPUS / f"{assignment}.yml"
    return [Mutation(**entry) for entry in yaml.safe_load(path.read_text(encoding="utf-8"))]


def reference_copy(assignment: str, target: Path) -> Path:
    """The reference solution as a student would hand it in (markers are comments: kept)."""
    shutil.copytree(ROOT / "solutions" / assignment, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def build(assignment: str, mutation: Mutation | Variant, target: Path) -> Path:
    """Write the reference with ``mutation`` (or a correct variant) applied into ``target``."""
    reference_copy(assignment, target)
    path = target / mutation.file
    text = path.read_text(encoding="utf-8")
    if text.count(mutation.find) != 1:
        raise ValueError(f"{CORPUS / assignment}.yml: mutation {mutation.name!r}: {mutation.find!r} occurs "
                         f"{text.count(mutation.find)} times in {mutation.file}, expected exactly once")
    path.write_text(text.replace(mutation.find, mutation.replace), encoding="utf-8")
    for name, content in getattr(mutation, "files", {}).items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(content, encoding="utf-8")
    return target
