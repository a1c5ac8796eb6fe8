"""Numeric written answers of the handout (answers.yml): part 1 (questions 1–9) and the network (10–11)."""

import pytest

from autograder import reference
from autograder.checks.answers import assert_answers, load_key

KEY = reference.SOLUTIONS / "tp2_cnn" / "answers.yml"
GROUPS = {"conv": ("q1_", "q6_", "q7_", "q8_", "q9_"), "network": ("q10_", "q11_")}


@pytest.mark.parametrize("group", GROUPS)
def test_written_answers(submission, group):
    keys = [name for name in load_key(KEY) if name.startswith(GROUPS[group])]
    assert_answers(submission, KEY, keys=keys)
