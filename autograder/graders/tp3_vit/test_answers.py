"""Numeric written answers of the handout (answers.yml)."""

from autograder import reference
from autograder.judges.answers import assert_answer_formats, assert_answers


def test_answers_format(submission):
    assert_answer_formats(submission, reference.answer_formats("tp3_vit"))


def test_numeric_answers(submission):
    assert_answers(submission, reference.answer_key("tp3_vit"))
