"""Templates: committed copies are fresh, import cleanly, leak nothing; leaks and bad markers stop a release."""

import pytest

from autograder import release
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
