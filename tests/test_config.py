"""grading.yml: validation with line numbers, and one entry per grader test."""

import subprocess
import sys
import textwrap

import pytest

from autograder import config
from tests.conftest import assignments_with_graders

VALID = """\
seed: 1
assignments:
  demo:
    title: Demo
    modules: [m]
    checks:
      - {id: test_a.py::test_one, points: 2, visibility: public}
      - id: test_a.py::test_two
        points: 1
        visibility: hidden
        tier: gpu
        budget: {epochs: 3}
        threshold: 0.9
"""


def write(tmp_path, text):
    path = tmp_path / "grading.yml"
    path.write_text(textwrap.dedent(text))
    return path


def test_valid_file_loads_with_defaults(tmp_path):
    grading = config.load(write(tmp_path, VALID))
    demo = grading.assignment("demo")
    assert [c.id for c in demo.selected("cpu")] == ["test_a.py::test_one"]
    assert demo.max_score("gpu") == 3 and demo.checks[0].timeout == 60
    assert demo.checks[1].line == 8


@pytest.mark.parametrize("change, line, words", [
    (("points: 1", "points: -1"), 9, "points"),
    (("tier: gpu", "tier: tpu"), 11, "tier"),
    (("visibility: hidden", "visibility: secret"), 10, "visibility"),
    (("threshold: 0.9", "threshold: 0.9\n        treshold: 0.8"), 14, "treshold"),
    (("test_a.py::test_two", "test_a.py::test_one"), None, "listed twice"),
    (("id: test_a.py::test_two", "id: not a test id"), 8, "id"),
])
def test_bad_values_are_errors_naming_the_line(tmp_path, change, line, words):
    path = write(tmp_path, VALID.replace(*change))
    with pytest.raises(config.ConfigError) as error:
        config.load(path)
    assert words in str(error.value)
    if line:
        assert f"grading.yml:{line}:" in str(error.value)


def test_invalid_yaml_names_the_line(tmp_path):
    with pytest.raises(config.ConfigError, match=r"grading.yml:3: invalid YAML"):
        config.load(write(tmp_path, "seed: 1\nassignments:\n\tx: 1\n"))


def test_unknown_assignment_is_a_clear_error(grading):
    with pytest.raises(config.ConfigError, match="no assignment 'nope'"):
        grading.assignment("nope")


def _collected(assignment: str) -> set[str]:
    done = subprocess.run([sys.executable, "-m", "pytest", str(config.GRADERS / assignment), "--collect-only",
                           "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", str(config.GRADERS)],
                          capture_output=True, text=True, check=True)
    return {line.split("/", 1)[-1].replace(f"{assignment}/", "", 1) for line in done.stdout.splitlines()
            if "::" in line}


@pytest.mark.parametrize("assignment", assignments_with_graders())
def test_every_check_has_a_test_and_every_test_a_check(grading, assignment):
    config.check_ids(grading, assignment, _collected(assignment))


def test_check_ids_reports_unknown_and_missing(grading):
    with pytest.raises(config.ConfigError, match="matches no test"):
        config.check_ids(grading, "tp1_mlp", set())
    ids = {c.id for c in grading.assignment("tp1_mlp").checks}
    with pytest.raises(config.ConfigError, match="without an entry: test_x.py::test_y"):
        config.check_ids(grading, "tp1_mlp", ids | {"test_x.py::test_y"})
