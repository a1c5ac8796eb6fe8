"""Every grader against the reference (100%), the blank template (0 everywhere) and its corpus of buggy
submissions (each caught by the checks its entry names), on the cpu tier, through the real isolated path."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from autograder import release, samples
from autograder.grade import Options, grade_one
from autograder.submissions import Submission
from tests.conftest import assignments_with_graders

ASSIGNMENTS = assignments_with_graders()
MUTATIONS = [(a, m) for a in ASSIGNMENTS for m in samples.mutations(a)]


@pytest.fixture(scope="session")
def graded(tmp_path_factory) -> dict[tuple[str, str], dict]:
    """Grade reference, template and every mutation (on its caught_by checks), two at a time."""
    root = tmp_path_factory.mktemp("graded")
    jobs = []
    for assignment in ASSIGNMENTS:
        jobs.append((assignment, "reference", samples.reference_copy(assignment, root / assignment / "reference"),
                     Options()))
        jobs.append((assignment, "template", release.write_template(assignment, root / assignment / "template"),
                     Options()))
    for assignment, mutation in MUTATIONS:
        folder = samples.build(assignment, mutation, root / assignment / mutation.name)
        jobs.append((assignment, mutation.name, folder, Options(only=tuple(mutation.caught_by))))

    def run(job):
        assignment, name, folder, options = job
        return (assignment, name), grade_one(Submission(name, folder, assignment), root / "out" / assignment, options)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, jobs))


def _failures(document: dict) -> dict[str, str]:
    return {t["name"]: t["output"] for t in document["tests"] if t["status"] != "passed"}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_scores_full_marks(graded, assignment):
    document = graded[assignment, "reference"]
    assert not _failures(document), _failures(document)
    assert document["score"] == document["extra_data"]["max_score"] > 0


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blank_template_scores_zero_with_messages_naming_the_function(graded, assignment):
    document = graded[assignment, "template"]
    passed = [t["name"] for t in document["tests"] if t["status"] == "passed"]
    assert not passed, f"the blank template passes {passed}"
    assert document["score"] == 0
    unexplained = [t["name"] for t in document["tests"] if not t["output"].strip()]
    assert not unexplained


@pytest.mark.parametrize("assignment, mutation", MUTATIONS, ids=[f"{a}-{m.name}" for a, m in MUTATIONS])
def test_buggy_submission_is_caught_by_the_expected_checks(graded, assignment, mutation):
    document = graded[assignment, mutation.name]
    outcome = {t["name"]: t for t in document["tests"]}
    assert set(outcome) == set(mutation.caught_by)
    escaped = [name for name, test in outcome.items() if test["status"] == "passed"]
    assert not escaped, f"{mutation.name} passes {escaped}"
    for name, test in outcome.items():
        assert test["output"] and "grader error" not in test["output"], f"{name}: {test['output']!r}"
