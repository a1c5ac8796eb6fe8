"""Numeric written answers of the handout (answers.yml)."""

from autograder import reference
from autograder.checks.answers import assert_answers


def test_written_answers(submission):
    assert_answers(submission, reference.SOLUTIONS / "tp3_vit" / "answers.yml")
