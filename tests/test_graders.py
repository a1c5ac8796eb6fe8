"""Every grader against the reference (100%), the blank template (0 everywhere), its corpus of buggy
submissions (each caught by the checks its entry names) and its corpus of unusual but correct ones (full
marks on the checks each entry names), on the cpu tier, through the real isolated path;
and the student kit's public checks give the same verdicts as ``autograder grade``'s on all of them."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from autograder import release, samples, selfcheck, studentkit
from autograder.grade import Options, grade_one
from autograder.submissions import Submission
from tests.conftest import assignments_with_graders

ASSIGNMENTS = assignments_with_graders()
MUTATIONS = [(a, m) for a in ASSIGNMENTS for m in samples.mutations(a)]
VARIANTS = [(a, v) for a in ASSIGNMENTS for v in samples.variants(a)]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> list[tuple[str, str, Path, Options]]:
    """(assignment, name, folder, options) of reference, template and every mutation (graded on its
    caught_by checks and the public checks of the student kit)."""
    root = tmp_path_factory.mktemp("corpus")
    jobs = []
    for assignment in ASSIGNMENTS:
        jobs.append((assignment, "reference", samples.reference_copy(assignment, root / assignment / "reference"),
                     Options()))
        jobs.append((assignment, "template", release.write_template(assignment, root / assignment / "template"),
                     Options()))
    for assignment, mutation in MUTATIONS:
        folder = samples.build(assignment, mutation, root / assignment / mutation.name)
        public = [c["id"] for c in selfcheck.assignment_info(assignment)["checks"]]
        jobs.append((assignment, mutation.name, folder, Options(only=tuple(dict.fromkeys([*mutation.caught_by,
                                                                                             *public])))))
    for assignment, variant in VARIANTS:
        folder = samples.build(assignment, variant, root / assignment / f"correct-{variant.name}")
        public = [c["id"] for c in selfcheck.assignment_info(assignment)["checks"]]
        jobs.append((assignment, f"correct-{variant.name}", folder,
                     Options(only=tuple(dict.fromkeys([*variant.passes, *public])))))
    return jobs


@pytest.fixture(scope="session")
def graded(corpus, tmp_path_factory) -> dict[tuple[str, str], dict]:
    """Every job of ``corpus`` graded by ``autograder grade``'s path, two at a time."""
    out = tmp_path_factory.mktemp("graded")

    def run(job):
        assignment, name, folder, options = job
        return (assignment, name), grade_one(Submission(name, folder, assignment), out / assignment, options)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, corpus))


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
    outcome = {t["name"]: t for t in document["tests"] if t["name"] in mutation.caught_by}
    assert set(outcome) == set(mutation.caught_by)
    escaped = [name for name, test in outcome.items() if test["status"] == "passed"]
    assert not escaped, f"{mutation.name} passes {escaped}"
    for name, test in outcome.items():
        assert test["output"] and "grader error" not in test["output"], f"{name}: {test['output']!r}"


@pytest.mark.parametrize("assignment, variant", VARIANTS, ids=[f"{a}-{v.name}" for a, v in VARIANTS])
def test_unusual_but_correct_submission_scores_full_marks(graded, assignment, variant):
    document = graded[assignment, f"correct-{variant.name}"]
    assert set(variant.passes) <= {t["name"] for t in document["tests"]}
    assert not _failures(document), _failures(document)


_KIT_RUN = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import autograder
from autograder import selfcheck
assert Path(autograder.__file__).is_relative_to(sys.argv[1]), autograder.__file__
jobs = json.loads(Path(sys.argv[2]).read_text())
verdicts = {key: {t["id"]: t["passed"] for t in selfcheck.check_folder(a, folder)["tests"]} for key, a, folder in jobs}
Path(sys.argv[3]).write_text(json.dumps(verdicts))
"""


@pytest.fixture(scope="session")
def student_kit_verdicts(corpus, tmp_path_factory) -> dict[str, dict[str, bool]]:
    """Public verdicts of the student kit (its wheel unpacked, nothing of the grading kit importable) on
    every folder of ``corpus``: ``"<assignment>/<name>" -> {check id: passed}``."""
    root = tmp_path_factory.mktemp("student-kit")
    with zipfile.ZipFile(studentkit.build(root / "wheel", ASSIGNMENTS)) as wheel:
        wheel.extractall(root / "kit")
    jobs = [[f"{a}/{name}", a, str(folder)] for a, name, folder, _ in corpus]
    (root / "jobs.json").write_text(json.dumps(jobs))
    done = subprocess.run([sys.executable, "-I", "-c", _KIT_RUN, str(root / "kit"), str(root / "jobs.json"),
                           str(root / "verdicts.json")], cwd=root, capture_output=True, text=True, timeout=1200,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((root / "verdicts.json").read_text())


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_kit_and_autograder_grade_agree_on_every_public_check(graded, student_kit_verdicts, assignment):
    disagreements = []
    for (graded_assignment, name), document in graded.items():
        if graded_assignment != assignment:
            continue
        kit = student_kit_verdicts[f"{assignment}/{name}"]
        grade = {t["name"]: t["status"] == "passed" for t in document["tests"] if t["name"] in kit}
        assert set(grade) == set(kit), name
        disagreements += [f"{name} {check}: grade {grade[check]}, student kit {kit[check]}"
                          for check in kit if grade[check] != kit[check]]
    assert not disagreements, "\n".join(disagreements)
