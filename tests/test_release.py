"""Templates: committed copies are fresh, import cleanly, leak nothing; leaks and bad markers stop a release."""

import pytest

from autograder import reference, release, studentkit
from tests.conftest import assignments_with_graders


@pytest.mark.parametrize("assignment", assignments_with_graders())
def test_committed_template_is_up_to_date(assignment):
    expected = release.template_files(assignment)
    folder = release.TEMPLATES / assignment
    committed = {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
                 for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    stale = sorted(set(expected) ^ set(committed) | {k for k in expected if committed.get(k) != expected[k]})
    assert not stale, f"student_template/{assignment} is stale ({', '.join(stale)}): run `make release`"


@pytest.mark.parametrize("assignment", assignments_with_graders())
def test_template_imports_and_every_stub_names_itself(assignment, tmp_path):
    target = release.write_template(assignment, tmp_path / assignment)
    for module in target.glob("*.py"):
        for line in module.read_text().splitlines():
            if "raise NotImplementedError(" in line:
                assert f'NotImplementedError("{module.stem}.' in line, f"{module.name}: {line.strip()}"


def test_leak_into_a_released_file_stops_the_release(tmp_path, monkeypatch):
    solution = tmp_path / "solutions" / "toy"
    solution.mkdir(parents=True)
    (solution / "m.py").write_text("def f(x):\n    # BEGIN SOLUTION\n    return torch.tanh(x) * secret_scale\n"
                                   "    # END SOLUTION\n\n\ndef g(x):\n    return torch.tanh(x) * secret_scale\n")
    monkeypatch.setattr(release, "SOLUTIONS", tmp_path / "solutions")
    monkeypatch.setattr(release, "ASSIGNMENTS", tmp_path / "assignments")
    with pytest.raises(release.ReleaseError, match=r"leaks into released files:\nm.py:6: return torch.tanh"):
        release.template_files("toy")


def test_bad_markers_stop_the_release_with_file_and_line(tmp_path, monkeypatch):
    solution = tmp_path / "solutions" / "toy"
    solution.mkdir(parents=True)
    (solution / "m.py").write_text("def f(x):\n    # BEGIN SOLUTION\n    return x\n")
    monkeypatch.setattr(release, "SOLUTIONS", tmp_path / "solutions")
    with pytest.raises(ValueError, match=r"m.py:2: '# BEGIN SOLUTION' is never closed"):
        release.template_files("toy")


@pytest.mark.parametrize("assignment", assignments_with_graders())
def test_nothing_students_read_gives_an_answer_away(assignment):
    assert studentkit.give_aways(assignment) == []


KEY = {"flat": {"answer": 3200}, "shape": {"answer": [16, 3, 5, 5]}, "size": {"answer": [24, 32], "prompt": "a 24 x 32 image"},
       "patches": {"answer": 16}, "known": {"answer": 258058, "given": True}, "small": {"answer": 28}}


@pytest.mark.parametrize("line, key", [
    ("flatten -> (B, 3,200)", "flat"), ("conv1.weight is torch.Size([16, 3, 5, 5])", "shape"),
    ("16 x 3 x 5 x 5 weights", "shape"), ("output (1, 10, 24, 32)", "size"), ("(28/7)^2 of them", "patches"),
    ("N = 4x4 + 0", "patches"), ("16 patches", "patches"), ("(32 - 5 + 1) * 2", None),
    ("an image of 24 x 32 pixels", None), ("(1, 3, 24, 32) after unsqueeze", None), ("258,058 in all", None),
    ("Conv2d(3, 16, 5): 28 x 28 maps, 4x4 patches", None), ("bs = 16", None)])
def test_the_gate_finds_answers_as_values_shapes_and_formulas(monkeypatch, line, key):
    monkeypatch.setattr(reference, "answer_key", lambda assignment: KEY)
    found = studentkit.answer_leaks("toy", line, "f.md")
    assert [leak.split(" (")[0] for leak in found] == ([f"f.md:1: gives the answer of {key}"] if key else [])


def test_the_gate_finds_a_hint_that_is_the_solution(tmp_path):
    solution = tmp_path / "m.py"
    solution.write_text("def loss():\n    \"\"\"The loss.\"\"\"\n    # BEGIN SOLUTION: nn.CrossEntropyLoss()\n"
                        "    return nn.CrossEntropyLoss()\n    # END SOLUTION\n\n\n"
                        "def step(model, eta):\n    \"\"\"One step of size eta.\"\"\"\n"
                        "    # BEGIN SOLUTION: the update of the course, outside the graph\n"
                        "    with torch.no_grad():\n        for p in model.parameters():\n            p -= eta * p.grad\n"
                        "    # END SOLUTION\n")
    assert [leak.split(": the hint")[0] for leak in studentkit.hints_that_are_solutions(solution)] == [f"{solution}:3"]
