"""Numeric written answers of the handout (answers.yml): Part 2 output sizes, Part 3 shapes and counts."""

from autograder import reference
from autograder.checks.answers import assert_answers


def test_written_answers(submission):
    assert_answers(submission, reference.SOLUTIONS / "recvis_a2" / "answers.yml")
