"""Shared fixtures of the kit's own tests."""

from __future__ import annotations

import os

import pytest

from autograder import config

os.environ.setdefault("MPLBACKEND", "Agg")


def assignments_with_graders() -> list[str]:
    """Assignments of grading.yml whose grader folder exists."""
    return [a for a in config.load().assignments if (config.GRADERS / a).is_dir()]


@pytest.fixture(scope="session", autouse=True)
def fixed_grading_key():
    """Gradings in the kit's tests use one fixed key (deterministic draws); a real grading draws a fresh
    one per submission (``grade.new_key``)."""
    from autograder import grade
    from tests.inprocess import TEST_KEY

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grade, "new_key", lambda: TEST_KEY)
        yield


@pytest.fixture(scope="session")
def grading() -> config.Grading:
    return config.load()
