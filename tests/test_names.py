"""The reference scores full marks on every cheap (non-training) check under many submission names and
grading keys: the seeds ``autograder grade`` derives from each name, with the private draws of each key,
give well-posed inputs. In process (``tests.inprocess``),
so that thousands of names stay affordable: ``AUTOGRADER_NAMES`` names per check (3 by default, to keep
the suite fast; ``AUTOGRADER_NAMES=1000`` for the release figures). Checks that draw nothing (no ``rng`` or
``seed`` fixture) are the same under every name and are left out."""

from __future__ import annotations

import ast
import os

import pytest

from autograder import config, reference
from tests.conftest import assignments_with_graders
from tests.inprocess import Runner, cheap_checks, seed_of

NAMES = int(os.environ.get("AUTOGRADER_NAMES", "3"))


def _draws(assignment: str, check_id: str) -> bool:
    """Whether the check's test function takes ``rng`` or ``seed`` (read from its source, not imported)."""
    file_name, _, test_name = check_id.partition("::")
    tree = ast.parse((config.GRADERS / assignment / file_name).read_text(encoding="utf-8"))
    function = next(node for node in tree.body if isinstance(node, ast.FunctionDef)
                    and node.name == test_name.partition("[")[0])
    return bool({"rng", "seed"} & {argument.arg for argument in function.args.args})


CHECKS = [(a, c.id) for a in assignments_with_graders() for c in cheap_checks(a) if _draws(a, c.id)]
_RUNNERS: dict[str, Runner] = {}


@pytest.mark.parametrize("assignment, check_id", CHECKS, ids=[f"{a}-{c}" for a, c in CHECKS])
def test_reference_passes_under_every_name(assignment, check_id):
    runner = _RUNNERS.setdefault(assignment, Runner(assignment, reference.SOLUTIONS / assignment))
    base = config.load().seed
    failed = {}
    for index in range(NAMES):
        name = f"student-{index:04d}"
        message = runner.run(check_id, seed_of(base, name, check_id), key=f"key-{index:04d}")
        if message:
            failed[name] = message
    margin = runner.margins.get(check_id)
    print(f"{assignment} {check_id}: {NAMES - len(failed)}/{NAMES} names pass"
          + (f", worst error at {margin:.3g} of the tolerance" if margin is not None else ""))
    assert not failed, f"{len(failed)}/{NAMES} names fail, e.g. {next(iter(failed.items()))}"
