"""Numeric written answers of the handout (answers.yml): part 1 (questions 1–9) and the network (10–11)."""

import pytest

from autograder import reference
from autograder.judges.answers import assert_answer_formats, assert_answers

GROUPS = {"conv": ("q1_", "q6_", "q7_", "q8_", "q9_"), "network": ("q10_", "q11_")}


def test_answers_format(submission):
    assert_answer_formats(submission, reference.answer_formats("tp2_cnn"))


@pytest.mark.parametrize("group", GROUPS)
def test_numeric_answers(submission, group):
    key = reference.answer_key("tp2_cnn")
    assert_answers(submission, {name: entry for name, entry in key.items() if name.startswith(GROUPS[group])})
