"""The two GitHub workflows of a release.

* :func:`student_workflow` — ``.github/workflows/classroom.yml`` of a student's repository: on every push,
  on a GitHub-hosted runner and with no secret, it installs the student kit (``kit/labcheck-*.whl``) and
  runs each public check as one step of Classroom's command grader, whose points Classroom's grading
  reporter sends to GitHub Classroom. Students can edit it: these points are feedback, not the grade.
* :func:`staff_workflow` — ``.github/workflows/grade.yml`` of the staff's private grading repository (this
  kit; no student can push there): on manual dispatch it clones every student repository of an assignment
  into one folder and grades it with ``autograder grade`` (cpu tier on a hosted runner; gpu tier on the
  staff's self-hosted runner), the authoritative grades.
"""

from __future__ import annotations

import math
import re
import shlex

import yaml

from autograder import config

CHECKOUT = "actions/checkout@v7"
SETUP_PYTHON = "actions/setup-python@v7"
UPLOAD_ARTIFACT = "actions/upload-artifact@v7"
DOWNLOAD_ARTIFACT = "actions/download-artifact@v8"
COMMAND_GRADER = "classroom-resources/autograding-command-grader@v1"
GRADING_REPORTER = "classroom-resources/autograding-grading-reporter@v1"
#: The grading reporter sends points to Classroom only from a workflow of this name and a job of this id.
REPORTED_WORKFLOW, REPORTED_JOB = "Autograding Tests", "run-autograding-tests"
#: The staff's secret: a token that can read every student repository of the organisation.
CLASS_TOKEN = "CLASS_REPOS_TOKEN"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
STEP_ID = re.compile(r"[a-z][a-z0-9-]*")


def step_id(check_id: str) -> str:
    """The Classroom step (and runner) id of a check: ``test_manual.py::test_forward`` → ``manual-forward``,
    ``test_models.py::test_output_shapes[28_ceil_mode]`` → ``models-output-shapes-28-ceil-mode``."""
    words = re.sub(r"\btest_|\.py\b", "", check_id).lower()
    name = re.sub(r"[^a-z0-9]+", "-", words).strip("-")
    if not STEP_ID.fullmatch(name):
        raise ValueError(f"grading.yml: check {check_id!r} gives no valid GitHub step id ({name!r})")
    return name


def _checkout_and_python(title: str, version: str, cache_key: str) -> list[dict]:
    """The first two steps of a job: check out (no credentials kept) and Python ``version`` with pip's cache."""
    return [{"name": title, "uses": CHECKOUT, "with": {"persist-credentials": False}},
            {"name": "Set up Python", "uses": SETUP_PYTHON,
             "with": {"python-version": version, "cache": "pip", "cache-dependency-path": cache_key}}]


def student_workflow(assignment: str) -> str:
    """``.github/workflows/classroom.yml`` of the student repository of ``assignment``."""
    checks = config.load().assignment(assignment).selected("cpu", "public")
    ids = [step_id(check.id) for check in checks]
    if len(set(ids)) != len(ids):
        raise ValueError(f"grading.yml: two public checks of {assignment} give the same step id: {ids}")
    graders = [{"name": check.id, "id": sid, "uses": COMMAND_GRADER,
                "with": {"test-name": check.id,
                         "command": f"labcheck check {assignment} --only {shlex.quote(check.id)}",
                         # minutes: the check's own limit, plus one for the interpreter and torch to start
                         "timeout": math.ceil(check.timeout / 60) + 1,
                         "max-score": _number(check.points)}}
               for check, sid in zip(checks, ids)]
    reporter = {"name": "Autograding Reporter", "uses": GRADING_REPORTER,
                "env": {f"{sid.upper()}_RESULTS": f"${{{{ steps.{sid}.outputs.result }}}}" for sid in ids},
                "with": {"runners": ",".join(ids)}}
    workflow = {
        "name": REPORTED_WORKFLOW,
        "on": ["push", "workflow_dispatch", "repository_dispatch"],
        "permissions": {"checks": "write", "actions": "read", "contents": "read"},
        "concurrency": {"group": "${{ github.workflow }}-${{ github.ref }}", "cancel-in-progress": True},
        "jobs": {REPORTED_JOB: {
            "runs-on": "ubuntu-latest",
            "if": "github.actor != 'github-classroom[bot]'",
            "steps": [
                *_checkout_and_python("Check out", "3.12", "kit/labcheck-*.whl"),
                {"name": "Install torch (CPU build), what the lab imports and the student kit",
                 "run": f"python -m pip install torch torchvision --index-url {TORCH_CPU_INDEX}\n"
                        "python -m pip install -r requirements.txt kit/labcheck-*.whl\n"},
                *graders,
                reporter,
            ]}},
    }
    points = sum(check.points for check in checks)
    header = (f"GitHub Classroom autograding of {assignment}: the student kit's {len(checks)} public checks "
              f"({points:g} points)\non a GitHub-hosted runner, with no secret. These points are feedback: the "
              "student can edit this\nfile; the grade comes from the staff's `autograder grade` on the class's "
              "repositories. Classroom's\ngrading reporter needs the workflow name "
              f"{REPORTED_WORKFLOW!r} and the single job {REPORTED_JOB!r}.")
    return _dump(header, workflow)


def staff_workflow(assignments: list[str]) -> str:
    """``.github/workflows/grade.yml`` of the staff's private grading repository (the grading kit)."""
    grade = ('autograder grade submissions --assignment "$ASSIGNMENT" --tier {tier} --jobs {jobs} '
             '--out graded --quiet{data}\n')
    isolated = ('python -c "from autograder.workers import isolation; '
                "assert isolation().namespaces, 'no namespaces: student code would not be isolated'\"\n")
    download = {"name": "Download the class's repositories", "uses": DOWNLOAD_ARTIFACT,
                "with": {"name": "submissions"}}
    assignment = {"ASSIGNMENT": "${{ inputs.assignment }}"}

    def upload(tier: str) -> dict:
        return {"name": "Upload the grades", "if": "always()", "uses": UPLOAD_ARTIFACT,
                "with": {"name": f"graded-{tier}-${{{{ inputs.assignment }}}}", "path": "graded\ncommits.csv\n"}}

    clone = {
        "runs-on": "ubuntu-latest",
        "steps": [
            {"name": "Clone every repository of the assignment into submissions/",
             "env": {"GH_TOKEN": f"${{{{ secrets.{CLASS_TOKEN} }}}}",
                     "ORGANIZATION": "${{ inputs.organization }}", "PREFIX": "${{ inputs.prefix }}"},
             "run": 'gh repo list "$ORGANIZATION" --limit 10000 --json name --jq ".[].name" \\\n'
                    '  | awk -v prefix="$PREFIX-" \'index($0, prefix) == 1\' | sort > class.txt\n'
                    'if [ ! -s class.txt ]; then\n'
                    '  echo "::error::no repository of $ORGANIZATION is named $PREFIX-*"; exit 1\n'
                    'fi\n'
                    'mkdir submissions\n'
                    'echo "repository,commit" > commits.csv\n'
                    'while read -r name; do\n'
                    '  gh repo clone "$ORGANIZATION/$name" "submissions/$name" -- --depth 1 --quiet\n'
                    '  echo "$name,$(git -C "submissions/$name" rev-parse HEAD)" >> commits.csv\n'
                    '  rm -rf "submissions/$name/.git"\n'
                    'done < class.txt\n'},
            {"name": "Keep them for the grading jobs", "uses": UPLOAD_ARTIFACT,
             "with": {"name": "submissions", "path": "submissions\ncommits.csv\n"}},
        ]}
    cpu = {
        "needs": "clone",
        "runs-on": "ubuntu-latest",
        "env": assignment,
        "steps": [
            *_checkout_and_python("Check out the grading kit", "3.11", "pyproject.toml"),
            {"name": "Install the grading kit and Fashion-MNIST",
             "run": f"python -m pip install --extra-index-url {TORCH_CPU_INDEX} -e .\n"
                    "sudo apt-get update -qq && sudo apt-get install -y -qq dataset-fashion-mnist\n"
                    'autograder data prepare --data "$RUNNER_TEMP/data"\n'},
            {"name": "Let the sandbox use namespaces (Ubuntu 24.04 restricts them), or stop",
             "run": "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0\n" + isolated},
            download,
            {"name": "Grade (cpu tier)",
             "run": grade.format(tier="cpu", jobs=2, data=' --data "$RUNNER_TEMP/data"')},
            upload("cpu"),
        ]}
    gpu = {
        "needs": "clone",
        "if": "inputs.gpu_runner_label != ''",
        "runs-on": ["self-hosted", "${{ inputs.gpu_runner_label }}"],
        "env": assignment,
        "steps": [
            {"name": "Check out the grading kit", "uses": CHECKOUT, "with": {"persist-credentials": False}},
            {"name": "Install the grading kit",
             "run": 'python3.11 -m venv "$RUNNER_TEMP/grader"\n'
                    '"$RUNNER_TEMP/grader/bin/pip" install --quiet -e .\n'
                    'echo "$RUNNER_TEMP/grader/bin" >> "$GITHUB_PATH"\n'},
            {"name": "Check that the sandbox isolates student code", "run": isolated},
            download,
            {"name": "Grade (gpu tier)", "run": grade.format(tier="gpu", jobs=1, data="")},
            upload("gpu"),
        ]}
    workflow = {
        "name": "Grade the class",
        "on": {"workflow_dispatch": {"inputs": {
            "assignment": {"description": "Assignment to grade", "type": "choice", "options": list(assignments),
                           "required": True},
            "organization": {"description": "GitHub organisation holding the students' repositories",
                             "type": "string", "required": True},
            "prefix": {"description": "Name prefix of the assignment's repositories (GitHub Classroom: "
                                      "<prefix>-<student login>)", "type": "string", "required": True},
            "gpu_runner_label": {"description": "Label of the staff's self-hosted GPU runner (empty: no gpu tier)",
                                 "type": "string", "default": ""},
        }}},
        "permissions": {"contents": "read"},
        "concurrency": {"group": "grade-${{ inputs.assignment }}", "cancel-in-progress": False},
        "jobs": {"clone": clone, "cpu": cpu, "gpu": gpu},
    }
    header = ("Authoritative grading of a class, for the staff's private grading repository (this kit; no "
              "student can push\nthere), run by hand (Actions > Grade the class > Run workflow). The job "
              f"`clone` alone holds the secret\n{CLASS_TOKEN} (read access to the students' repositories); "
              "student code runs only in `cpu` and `gpu`, in\nthe sandbox. The gpu tier runs on the staff's "
              "self-hosted runner whose label is given: it needs CUDA,\nPython 3.11 and MNIST / CIFAR-10 "
              "under $AUTOGRADER_DATA (`autograder data fetch` once).")
    return _dump(header, workflow)


def _number(points: float) -> int | float:
    return int(points) if float(points).is_integer() else points


class _Dumper(yaml.SafeDumper):
    """Block style, multi-line strings as ``|`` literals, no anchors."""

    def ignore_aliases(self, data) -> bool:
        return True


_Dumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def _dump(header: str, workflow: dict) -> str:
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    return comment + yaml.dump(workflow, Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True)
