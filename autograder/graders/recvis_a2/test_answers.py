"""Numeric written answers of the handout (answers.yml): Part 2 output sizes, Part 3 shapes and counts."""

from autograder import reference
from autograder.judges.answers import assert_answer_formats, assert_answers


def test_answers_format(submission):
    assert_answer_formats(submission, reference.answer_formats("recvis_a2"))


def test_numeric_answers(submission):
    assert_answers(submission, reference.answer_key("recvis_a2"))
