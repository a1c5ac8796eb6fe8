"""The student kit (``labcheck``): recorded reference values replayed by the same checks, no secret inside,
and the release gate run where students work: a fresh ``python3.12 -m venv`` with torch from the package
index, the kit's wheel only, every public check of every assignment through the terminal command."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder import config, samples, selfcheck, studentkit
from autograder.tape import NotRecorded, Recording, Replay, Tape

ASSIGNMENTS = sorted(config.load().assignments)
PYENV = Path.home() / ".pyenv" / "versions"


class _Reference:
    """A stand-in reference module: a generator-driven draw and a pure function."""

    @staticmethod
    def draw(rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.normal(0, 1, n)

    @staticmethod
    def square(x):
        return np.asarray(x) ** 2


def _module():
    import types

    module = types.ModuleType("fake_reference")
    module.draw, module.square, module.SIZE = _Reference.draw, _Reference.square, 3
    return module


def test_a_tape_replays_results_and_random_state(tmp_path):
    tape = Tape()
    live = Recording(_module(), tape, "ref")
    rng = np.random.default_rng(5)
    first = live.draw(rng, live.SIZE)
    after = rng.normal()
    square = live.square(first)
    stored = Tape.load(tape.save(tmp_path / "tape.zip"))
    replay = Replay(stored, "ref")
    rng = np.random.default_rng(5)
    again = replay.draw(rng, replay.SIZE)
    np.testing.assert_array_equal(again, first)
    assert rng.normal() == after  # the generator moved on exactly as the reference moved it
    np.testing.assert_array_equal(replay.square(again), square)
    np.testing.assert_array_equal(replay.square(again * (1 + 1e-13)), square)  # another machine's rounding
    with pytest.raises(NotRecorded, match="ref.square"):
        replay.square(again + 1)
    with pytest.raises(NotRecorded):
        replay.draw(np.random.default_rng(6), 3)


def test_the_student_kit_holds_no_secret_of_the_grading_kit():
    files = studentkit.package_files(ASSIGNMENTS)
    assert not [name for name in files if "_reference" in name or "solutions" in name or name.endswith(".yml")]
    for assignment in ASSIGNMENTS:
        public = {c.id.split("::")[0] for c in config.load().assignment(assignment).selected("cpu", "public")}
        shipped = {name.rsplit("/", 1)[1] for name in files if f"graders/{assignment}/test_" in name}
        assert shipped == public
        info = json.loads(files[f"autograder/graders/{assignment}/public.json"])
        assert all(set(check) == {"id", "points", "timeout"} for check in info["checks"])
    assert studentkit.scan(files, ASSIGNMENTS) == []


def test_the_student_kit_imports_only_what_it_ships():
    """(< 0.1 s) The shipped modules import no module of the grading kit, but where the code says it is
    reached in the grading kit only (grading.yml without public.json, the reference solutions)."""
    from tests.test_architecture import imported

    files = sorted({path for pattern in studentkit.SHIPPED for path in studentkit.PACKAGE.glob(pattern)})
    shipped = {"autograder." + path.relative_to(studentkit.PACKAGE).with_suffix("").as_posix().replace("/", ".")
               for path in files}
    shipped = {name.removesuffix(".__init__") for name in shipped}
    grading_kit_only = {("selfcheck.py", "autograder.config"), ("selfcheck.py", "autograder.reference"),
                        ("data.py", "autograder.config")}
    wrong = {(path.relative_to(studentkit.PACKAGE).as_posix(), name) for path in files for name in imported(path)
             if name.startswith("autograder") and name not in shipped} - grading_kit_only
    assert not wrong, f"shipped modules import what the student kit lacks: {sorted(wrong)}"
    assert "autograder.check_context" in shipped and "autograder.plugin" not in shipped


def test_the_scan_finds_each_kind_of_secret():
    grading = config.load()
    hidden = next(c for c in grading.assignment("tp2_cnn").checks if c.visibility == "hidden").name.partition("[")[0]
    solution = (config.ROOT / "solutions" / "tp1_mlp" / "manual.py").read_text()
    line = next(text for text in solution.split("# BEGIN SOLUTION")[1].splitlines()[1:] if len(text.strip()) > 30)
    files = {"autograder/graders/tp2_cnn/notes.py": f"# {hidden}\ntotal = 1,191,170\nshape = (1024 + 1) * 1000\n".encode(),
             "autograder/graders/tp1_mlp/helper.py": f"{line}\nfrom autograder.graders import _reference\n".encode()}
    found = "\n".join(studentkit.scan(files, ["tp1_mlp", "tp2_cnn"]))
    assert f"names the hidden check {hidden}" in found
    assert "gives the answer of q11_total_params ('1,191,170')" in found
    assert "gives the answer of q10_fc4_weights (formula '(1024 + 1) * 1000')" in found
    assert "helper.py:1:" in found and "mentions '_reference'" in found


def _python(version: str) -> Path | None:
    found = shutil.which(f"python{version}")
    candidates = [Path(found)] if found else []
    candidates += sorted(PYENV.glob(f"{version}.*/bin/python{version}"))
    for candidate in candidates:
        if subprocess.run([str(candidate), "-c", "pass"], capture_output=True, check=False).returncode == 0:
            return candidate
    return None


def _venv(python: Path, target: Path, *torch: str) -> Path:
    """A fresh virtual environment as a student has it: their torch and what the labs' code imports
    (``requirements.txt`` of the student folders), from the package index."""
    subprocess.run([str(python), "-m", "venv", str(target)], check=True, capture_output=True)
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    labs = sorted({name for a in ASSIGNMENTS for name in studentkit.lab_requirements(a)} - {"torchvision", "timm"})
    labs += ["timm"] if any(spec.startswith("torchvision") for spec in torch) else []
    done = subprocess.run([*pip, *torch, *labs, "pyyaml", "pytest", "ipykernel", "nbclient"], capture_output=True,
                          text=True, check=False)
    if done.returncode:
        pytest.skip(f"{torch} cannot be installed for {python.name} from the package index here: "
                    f"{done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")
    torch_version = subprocess.run([str(target / "bin" / "python"), "-c", "import torch; print(torch.__version__)"],
                                   capture_output=True, text=True, check=True).stdout.strip()
    print(f"{python.name}: torch {torch_version}")
    return target


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return studentkit.build(tmp_path_factory.mktemp("kit"), ASSIGNMENTS)


def _labcheck(venv: Path, folder: Path, assignment: str, out: Path) -> dict:
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(out.parent), "MPLBACKEND": "Agg"}
    done = subprocess.run([str(venv / "bin" / "labcheck"), "check", assignment, "--json", str(out)], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode in (0, 1) and out.is_file(), done.stdout + done.stderr
    report = json.loads(out.read_text())
    assert (done.returncode == 0) == all(t["passed"] for t in report["tests"])
    return report


def _gate(venv: Path, wheel: Path, root: Path, missing: tuple[str, ...] = ()) -> dict[str, tuple]:
    """Install the wheel alone (nothing else may be downloaded) and grade reference and template of every
    assignment with the ``labcheck`` command, outside the grading kit: the reference passes every check,
    the template none. Packages deliberately ``missing`` from the environment: a reference failure that
    names one of them sets that check aside (printed); returns the scores and the checks set aside."""
    root.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-index", "--quiet", str(wheel)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    probe = "import autograder, os; print(os.path.dirname(autograder.__file__))"
    installed = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True,
                               check=True, cwd=root).stdout.strip()
    assert not Path(installed).is_relative_to(config.ROOT)
    scores = {}
    for assignment in ASSIGNMENTS:
        reference = samples.reference_copy(assignment, root / assignment / "reference")
        template = shutil.copytree(config.ROOT / "student_template" / assignment, root / assignment / "template")
        good = _labcheck(venv, reference, assignment, root / assignment / "reference.json")
        blank = _labcheck(venv, template, assignment, root / assignment / "template.json")
        aside = {t["id"] for t in good["tests"] if not t["passed"]
                 and any(f"No module named '{package}" in t["output"] for package in missing)}
        assert [t["id"] for t in good["tests"] if not t["passed"] and t["id"] not in aside] == [], good
        assert [t["id"] for t in blank["tests"] if t["passed"]] == [], blank
        run = [c for c in selfcheck.assignment_info(assignment)["checks"] if c["id"] not in aside]
        assert good["score"] == sum(c["points"] for c in run) and blank["score"] == 0
        scores[assignment] = (good["score"], blank["score"], round(sum(t["seconds"] for t in good["tests"]), 1),
                              sorted(aside))
    return scores


_NOTEBOOK_CHECKS = """
import json, sys
import nbformat
from nbclient import NotebookClient
source = nbformat.read(sys.argv[1], as_version=4)
cells = [c.source for c in source.cells if c.cell_type == "code" and ("otter.Notebook(" in c.source
                                                                        or c.source.startswith("grader.check("))]
notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell) for cell in cells])
NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
print(json.dumps({cell.source.split('"')[1]: "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                                                    for o in cell.outputs) for cell in notebook.cells[1:]}))
"""


def _notebook_gate(venv: Path, student: Path, assignment: str, root: Path) -> None:
    """The released notebook's otter init cell and every ``grader.check`` cell, run by nbclient in the
    student's environment on the reference (all pass) and on the released template (none passes)."""
    for case in ("reference", "template"):
        folder = shutil.copytree(student, root / f"{assignment}-notebook-{case}")
        if case == "reference":
            for path in (config.ROOT / "solutions" / assignment).iterdir():
                if path.suffix == ".py" or path.name == "answers.yml":
                    shutil.copyfile(path, folder / path.name)
        done = subprocess.run([str(venv / "bin" / "python"), "-c", _NOTEBOOK_CHECKS, f"{assignment}.ipynb",
                               str(folder)], cwd=folder, capture_output=True, text=True, timeout=900, check=False,
                              env={"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(root), "MPLBACKEND": "Agg"})
        assert done.returncode == 0, done.stderr[-3000:]
        verdicts = json.loads(done.stdout.strip().splitlines()[-1])
        assert verdicts, f"{assignment}: no grader.check cell"
        passed = {question for question, text in verdicts.items() if "All test cases passed" in text}
        assert passed == (set(verdicts) if case == "reference" else set()), (case, verdicts)


def test_release_gate_in_a_fresh_python312_venv(wheel, tmp_path):
    """What a student does: a fresh venv with their torch and the labs' requirements, the kit's wheel, then
    the terminal command and the released notebook's check cells on every assignment."""
    from tests.test_notebooks import built_bundle

    python = _python("3.12")
    if python is None:
        pytest.skip("no python3.12 on this machine (Ubuntu 24.04's default Python)")
    venv = _venv(python, tmp_path / "venv", "torch", "torchvision")
    scores = _gate(venv, wheel, tmp_path / "work")
    assert not any(aside for *_, aside in scores.values())
    print(f"python3.12 venv, labcheck (public points of reference, template, seconds): {scores}")
    bundle = built_bundle()
    for assignment in ASSIGNMENTS:
        _notebook_gate(venv, bundle / assignment / "student", assignment, tmp_path / "work")


def test_release_gate_with_another_torch(wheel, tmp_path):
    """The kit pins no torch: a student's torch 2.13 (the CPU build on this machine's disk) gives the same
    verdicts. The package index has no torchvision for it (PyPI's 0.28 is a CUDA build that fails to import
    beside a CPU torch: 'operator torchvision::nms does not exist'), so this environment has neither
    torchvision nor timm: the checks that need them are set aside, by their message, and listed."""
    python = _python(f"{sys.version_info.major}.{sys.version_info.minor}")
    venv = _venv(python, tmp_path / "venv", "torch==2.13.0")
    version = subprocess.run([str(venv / "bin" / "python"), "-c", "import torch; print(torch.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version.startswith("2.13.0")
    scores = _gate(venv, wheel, tmp_path / "work", missing=("torchvision", "timm"))
    print(f"torch {version} (public points of reference, template, seconds, set aside): {scores}")
    assert sum(len(selfcheck.assignment_info(a)["checks"]) - len(aside) for a, (*_, aside) in scores.items()) >= 40


def test_the_wheel_is_a_valid_pure_python_wheel(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read("labcheck-1.0.0.dist-info/METADATA").decode()
        entry_points = archive.read("labcheck-1.0.0.dist-info/entry_points.txt").decode()
    assert "Requires-Python: >=3.10" in metadata and "Requires-Dist: torch>=2.1" in metadata
    assert "==" not in metadata
    assert "labcheck = autograder.selfcheck:main" in entry_points
    assert "labcheck-1.0.0.dist-info/RECORD" in names
