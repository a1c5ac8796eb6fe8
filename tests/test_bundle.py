"""The release bundle: its tree, otter run on the blank template, `autograder grade` on a notebook export
zip, hostile exports (a crafted .OTTER_LOG, a foreign kernelspec) and the Gradescope zip's run_autograder
on a fake /autograder tree. The bundle itself is built once per session (tests/test_notebooks.py)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from autograder import bundle, config, data, otter_runs, release, samples, studentkit
from autograder.grade import Options, grade_one
from autograder.release import ReleaseError
from autograder.submissions import Submission
from tests.test_notebooks import ASSIGNMENTS, built_bundle

A = "tp1_mlp"
CHEAP = ("test_manual.py::test_forward", "test_torch.py::test_optimizer_settings",
         "test_answers.py::test_numeric_answers")


class _Exploit:
    """Unpickling this writes a file: a .OTTER_LOG that otter would load runs it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


def _export(tmp: Path, name: str, modules: dict[str, str], marker: Path) -> Path:
    """A hostile notebook export: the student notebook with an R kernelspec, the given modules and
    answers.yml, and a .OTTER_LOG that runs code when unpickled."""
    folder = tmp / f"{name}-files"
    folder.mkdir()
    notebook = nbformat.read(built_bundle() / A / "student" / f"{A}.ipynb", as_version=4)
    notebook.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    nbformat.write(notebook, folder / f"{A}.ipynb")
    for relative, text in modules.items():
        (folder / relative).write_text(text, encoding="utf-8")
    (folder / ".OTTER_LOG").write_bytes(pickle.dumps(_Exploit(marker)))
    return otter_runs.export_zip(folder, f"{A}.ipynb", [*sorted(modules), ".OTTER_LOG"], tmp / f"{name}.zip")


def _reference_files() -> dict[str, str]:
    source = config.ROOT / "solutions" / A
    return {p.name: p.read_text(encoding="utf-8") for p in source.iterdir()
            if p.is_file() and (p.suffix == ".py" or p.name == "answers.yml")}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_bundle_tree(assignment):
    root = built_bundle() / assignment
    student, staff = root / "student", root / "autograder"
    template = release.template_files(assignment)
    for relative, text in template.items():
        assert (student / relative).read_text(encoding="utf-8") == text
    for name in (f"{assignment}.ipynb", "README.md", ".gitignore", ".github/workflows/classroom.yml"):
        assert (student / name).is_file(), name
    assert f"labcheck check {assignment}" in (student / "README.md").read_text()
    bundle.check_leaks(assignment, student)
    wheels = list((student / "kit").glob("labcheck-*-py3-none-any.whl"))
    assert len(wheels) == 1
    with zipfile.ZipFile(wheels[0]) as wheel:
        shipped = {name: wheel.read(name) for name in wheel.namelist()}
    assert f"autograder/graders/{assignment}/public_tape.zip" in shipped
    assert not [name for name in shipped if "_reference" in name or name.startswith("solutions")]
    assert studentkit.scan(shipped, [assignment]) == []
    with zipfile.ZipFile(staff / f"{assignment}-gradescope.zip") as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert {"run_autograder", "setup.sh", "kit/grading.yml", "kit/pyproject.toml",
            "kit/autograder/bundle.py"} <= names
    assert {f"kit/solutions/{assignment}/{p}" for p in template if p.endswith(".py")} <= names
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    with zipfile.ZipFile(staff / f"{assignment}-otter.zip") as archive:
        names = set(archive.namelist())
    assert "otter_config.json" in names and any(n.startswith("tests/") for n in names)
    assert not {p for p in template if p.endswith(".py")} & names, "solution modules must not be otter files"
    assert (staff / f"{assignment}-solution.ipynb").is_file()


def test_a_solution_line_in_the_notebook_stops_the_release(tmp_path):
    secret = next(iter(sorted(bundle._secrets(A), key=len, reverse=True)))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"x = 1\n{secret}\n")])
    nbformat.write(notebook, tmp_path / "leaky.ipynb")
    with pytest.raises(ReleaseError, match=r"leaks into the student bundle:\nleaky.ipynb:2"):
        bundle.check_leaks(A, tmp_path)


def test_a_notebook_that_fails_stops_the_release(tmp_path, monkeypatch):
    """The gate's wiring (a real failing run is `otter run --debug`'s CellExecutionError, exit code 1)."""
    def fake_assign(master: Path, out: Path):
        autograder, student = out / "autograder", out / "student"
        autograder.mkdir(parents=True)
        student.mkdir()
        shutil.copyfile(master, autograder / master.name)
        (autograder / f"{A}-autograder_2026.zip").write_bytes(b"")
        return autograder, student

    failure = {"score": 0.0, "tests": [], "output": "otter run failed (exit code 1):\nCellExecutionError: boom"}
    monkeypatch.setattr(bundle, "otter_assign", fake_assign)
    monkeypatch.setattr(bundle, "otter_run", lambda *args, **kwargs: failure)
    with pytest.raises(ReleaseError, match=r"(?s)does not run cleanly.*CellExecutionError: boom"):
        bundle.build_assignment(A, tmp_path / "out", quiet=True)
    assert not (tmp_path / "out").exists()


def test_otter_run_on_the_blank_template_export_scores_zero(tmp_path):
    marker = tmp_path / "unpickled"
    export = _export(tmp_path, "template", release.template_files(A), marker)
    results = otter_runs.otter_run(built_bundle() / A / "autograder" / f"{A}-otter.zip", export, tiny=True)
    score, max_score = bundle.otter_score(results)
    assert max_score > 0 and score == 0, results
    assert not marker.exists(), "otter unpickled the submission's .OTTER_LOG"


def _outcome(document: dict) -> dict[str, tuple[str, float]]:
    """Check id -> (status, score), of a record or of Gradescope's view (which titles the tests)."""
    return {t["extra_data"].get("check", t["name"]): (t["status"], t["score"]) for t in document["tests"]}


def test_grade_on_a_notebook_export_zip_matches_the_module_folder(tmp_path):
    marker = tmp_path / "unpickled"
    submissions = [Submission("export", _export(tmp_path, "reference", _reference_files(), marker), A),
                   Submission("folder", samples.reference_copy(A, tmp_path / "folder"), A),
                   Submission("template", _export(tmp_path, "template", release.template_files(A), marker), A)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        from_zip, from_folder, blank = pool.map(
            lambda submission: grade_one(submission, tmp_path / "out", Options(only=CHEAP)), submissions)
    assert _outcome(from_zip) == _outcome(from_folder)
    assert all(status == "passed" for status, _ in _outcome(from_zip).values())
    assert blank["score"] == 0 and len(blank["tests"]) == len(CHEAP)
    assert not marker.exists()


def _gradescope_tree(tmp: Path) -> Path:
    root = tmp / "autograder"
    with zipfile.ZipFile(built_bundle() / A / "autograder" / f"{A}-gradescope.zip") as archive:
        archive.extractall(root / "source")
    for name in ("run_autograder", "setup.sh"):
        (root / "source" / name).chmod(0o755)
    (root / "submission").mkdir()
    return root


def _run_autograder(root: Path) -> dict:
    environment = {**os.environ, "AUTOGRADER_GRADESCOPE_DIR": str(root), "AUTOGRADER_PYTHON": sys.executable,
                   "AUTOGRADER_DATA": str(data.root()), "AUTOGRADER_ONLY": ",".join(CHEAP)}
    environment.pop("AUTOGRADER_ROOT", None)
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=environment, check=False,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((root / "results" / "results.json").read_text())


def test_gradescope_run_autograder_on_a_fake_tree(tmp_path):
    """A nested export with a crafted .OTTER_LOG grades like the reference; the kit shipped in the zip
    (grading.yml, solutions) is the one used."""
    root = _gradescope_tree(tmp_path)
    marker = tmp_path / "unpickled"
    with zipfile.ZipFile(_export(tmp_path, "reference", _reference_files(), marker)) as archive:
        archive.extractall(root / "submission" / "my-work")
    results = _run_autograder(root)
    points = {c.id: c.points for c in config.load().assignment(A).checks}
    assert results["score"] == sum(points[c] for c in CHEAP) > 0, results
    assert set(_outcome(results)) == set(CHEAP)
    assert not marker.exists()


def test_gradescope_ignores_symbolic_links_to_the_reference(tmp_path):
    root = _gradescope_tree(tmp_path)
    for relative, text in release.template_files(A).items():
        (root / "submission" / relative).write_text(text, encoding="utf-8")
    (root / "submission" / "manual.py").unlink()
    (root / "submission" / "manual.py").symlink_to(root / "source" / "kit" / "solutions" / A / "manual.py")
    shutil.copyfile(config.ROOT / "solutions" / A / "answers.yml", root / "submission" / "answers.yml")
    results = _run_autograder(root)
    outcome = _outcome(results)
    assert outcome["test_manual.py::test_forward"][0] == "failed"
    assert outcome["test_answers.py::test_numeric_answers"][0] == "passed"


def test_gradescope_without_the_modules_says_what_to_upload(tmp_path, monkeypatch):
    """The same rule as ``autograder grade`` finds the modules; none found: every check 0, saying what to upload."""
    monkeypatch.delenv("AUTOGRADER_ONLY", raising=False)
    monkeypatch.delenv("AUTOGRADER_DEADLINE", raising=False)
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "notes.txt").write_text("my answers are in the notebook\n")
    document = bundle.gradescope(A, tmp_path)
    assert json.loads((tmp_path / "results" / "results.json").read_text()) == document
    assert document["score"] == 0 and document["tests"]
    for test in document["tests"]:
        assert "none of the expected modules (data.py, manual.py" in test["output"], test
        assert "it holds: notes.txt" in test["output"] and "the zip the notebook's last cell writes" in test["output"]
