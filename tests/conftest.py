"""Shared fixtures of the kit's own tests."""

from __future__ import annotations

import os

import pytest

from autograder import config

os.environ.setdefault("MPLBACKEND", "Agg")


def assignments_with_graders() -> list[str]:
    """Assignments of grading.yml whose grader folder exists."""
    return [a for a in config.load().assignments if (config.GRADERS / a).is_dir()]


@pytest.fixture(scope="session")
def grading() -> config.Grading:
    return config.load()
