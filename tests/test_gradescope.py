"""Gradescope as it runs: the grading deadline, faults of the grading machine reported as such, and the
zip's real run_autograder in a memory/CPU cgroup like Gradescope's container (:mod:`autograder.emulate`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import bundle, check_context, config, data, emulate, release, samples, workers, zygote
from autograder.grade import Options, grade_one
from autograder.judges import GraderFault, ProbeFailed
from autograder.submissions import Submission

A = "tp1_mlp"
FIRST, LOOPING = "test_manual.py::test_init_params", "test_manual.py::test_forward"
AFTER = ("test_torch.py::test_optimizer_settings", "test_answers.py::test_numeric_answers")
CHEAP = ("test_manual.py::test_forward", "test_torch.py::test_optimizer_settings",
         "test_answers.py::test_numeric_answers")
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}
#: cgroup limit of the emulation: Gradescope's default container (bench/gradescope.py measures the peak of a
#: whole grading per assignment: bench/RESULTS.md)
MEMORY_MB = 768


def _looping(target: Path) -> Path:
    """The reference whose manual.forward never returns."""
    samples.reference_copy(A, target)
    with open(target / "manual.py", "a", encoding="utf-8") as module:
        module.write("\n\ndef forward(params, X):\n    while True:\n        pass\n")
    return target


def _outcomes(document: dict) -> dict[str, tuple[float, str, str]]:
    """Check id -> (score, outcome, feedback), of a record or of Gradescope's view (which titles the tests)."""
    return {t["extra_data"].get("check", t["name"]): (t["score"], t["extra_data"]["outcome"], t["output"])
            for t in document["tests"]}


def test_a_looping_submission_gets_its_results_before_the_deadline(tmp_path):
    zygote.shared()  # started once per test session: not part of this submission's time
    only = (FIRST, LOOPING, *AFTER)
    started = time.monotonic()
    document = grade_one(Submission("looping", _looping(tmp_path / "looping"), A), tmp_path / "out",
                         Options(only=only, deadline=25))
    assert time.monotonic() - started < 25
    assert json.loads((tmp_path / "out" / "looping" / "results.json").read_text()) == document
    outcomes = _outcomes(document)
    assert outcomes[FIRST][:2] == (config.load().assignment(A).check(FIRST).points, "passed"), outcomes
    score, outcome, output = outcomes[LOOPING]
    assert (score, outcome) == (0, "not run") and "the grading time ran out" in output, outcomes
    for check in AFTER:
        assert outcomes[check] == (0, "not run", check_context.OUT_OF_TIME), outcomes
    assert document["extra_data"]["grader_errors"] == 1 + len(AFTER)


def test_a_worker_that_cannot_start_is_a_grader_error(tmp_path, monkeypatch):
    class Broken:
        def fork(self, *args):
            raise OSError("the worker zygote could not start a worker: no memory left")

    monkeypatch.setattr(workers, "worker_zygote", lambda: Broken())
    with workers.Worker(samples.reference_copy(A, tmp_path / "submission")) as worker, \
            pytest.raises(GraderFault, match="no memory left") as error:
        worker.call("autograder.graders.tp1_mlp.probes:forward", 10)
    status, message = check_context.outcome(error.value)
    assert status == "error" and message.startswith(check_context.INTERNAL) and "no memory left" in message
    assert issubclass(GraderFault, ProbeFailed)  # graders that catch ProbeFailed still do


def test_a_grader_zygote_that_cannot_start_blames_the_machine(tmp_path):
    """A broken library of the grading environment (pytest, imported by the grader zygote only): every check
    is a grader error, and the output says why (the zygote's exit status and its log)."""
    broken = tmp_path / "site" / "pytest"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('pytest is broken on this machine')\n")
    environment = {**os.environ, "PYTHONPATH": str(broken.parent)}
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(samples.reference_copy(A, tmp_path / "s")),
                           "--assignment", A, "--out", str(tmp_path / "out"), "--no-report", "--quiet"],
                          env=environment, capture_output=True, text=True, timeout=300, check=False)
    document = json.loads((tmp_path / "out" / "s" / "results.json").read_text())
    assert document["score"] == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert document["extra_data"]["grader_errors"] == len(document["tests"]) > 0
    assert {t["extra_data"]["outcome"] for t in document["tests"]} == {"not run"}
    assert "the grader zygote failed to start (exit code 1)" in document["output"]
    assert "pytest is broken on this machine" in document["output"]


# --- the Gradescope emulation -------------------------------------------------------------------------
def _valid(results: dict) -> dict:
    """``results`` has Gradescope's documented fields with their types (autograder_samples docs/specs.md),
    nothing grades past max, tests are numbered and titled, hidden checks are shown after publication
    only, and the output gives the visible checks' score, never the total that includes hidden ones."""
    assert isinstance(results["score"], (int, float)) and isinstance(results["output"], str)
    assert isinstance(results["execution_time"], (int, float)) and results["execution_time"] >= 0
    assert results.get("visibility", "visible") in VISIBILITY
    assert results.get("stdout_visibility", "hidden") in VISIBILITY
    assert results.get("output_format", "simple_format") in FORMATS
    numbers = [test["number"] for test in results["tests"]]
    assert len(set(numbers)) == len(numbers) and all(n.replace(".", "").isdigit() for n in numbers), numbers
    for test in results["tests"]:
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        words = test["extra_data"]["check"].split("::")[1].removeprefix("test_").split("[")[0].replace("_", " ")
        assert words in test["name"] and "::" not in test["name"], test
        assert 0 <= test["score"] <= test["max_score"]
        assert test["visibility"] in VISIBILITY and test.get("status", "passed") in {"passed", "failed"}
        assert test.get("output_format", "text") in FORMATS
        assert isinstance(test["execution_time"], (int, float))
    assert results["score"] == sum(t["score"] for t in results["tests"])
    visible = [t for t in results["tests"] if t["visibility"] == "visible"]
    shown = f"{sum(t['score'] for t in visible):g} / {sum(t['max_score'] for t in visible):g}"
    assert f"Public checks: **{shown}**" in results["output"], results["output"]
    if len(visible) < len(results["tests"]):
        total = sum(t["max_score"] for t in results["tests"])
        assert f"/ {total:g}" not in results["output"] and "publish" in results["output"]
    return results


@pytest.fixture(scope="module")
def gradescope_zip(tmp_path_factory):
    problem = emulate.cgroup_problem()
    if problem:
        pytest.skip(f"Gradescope emulation needs a memory cgroup: {problem}")
    return bundle.gradescope_zip(A, tmp_path_factory.mktemp("zip") / f"{A}-gradescope.zip")


def _emulate(zip_path: Path, root: Path, submission, memory_mb: int = MEMORY_MB, **env: str) -> emulate.Run:
    emulate.unpack(zip_path, root)
    emulate.copy_submission(submission, root)
    environment = {"AUTOGRADER_PYTHON": sys.executable, "AUTOGRADER_DATA": str(data.root()),
                   "AUTOGRADER_ONLY": ",".join(CHEAP), **env}
    return emulate.run_autograder(root, environment, memory_mb=memory_mb, cpus=0.5, timeout=600)


def test_gradescope_emulation_reference_and_template(gradescope_zip, tmp_path):
    points = {c.id: c.points for c in config.load().assignment(A).checks}
    reference = _emulate(gradescope_zip, tmp_path / "reference", config.ROOT / "solutions" / A)
    assert reference.results is not None, reference.stderr[-2000:]
    assert not reference.oom_killed and reference.peak_mb < MEMORY_MB
    assert _valid(reference.results)["score"] == sum(points[c] for c in CHEAP) > 0, reference.results
    assert {t["visibility"] for t in reference.results["tests"]} == {"visible", "after_published"}
    assert {t["output_format"] for t in reference.results["tests"]} == {"md"} == {reference.results["output_format"]}
    template = _emulate(gradescope_zip, tmp_path / "template", release.template_files(A))
    assert _valid(template.results)["score"] == 0 and len(template.results["tests"]) == len(CHEAP)
    assert template.results["extra_data"]["grader_errors"] == 0


def test_gradescope_emulation_meets_the_deadline(gradescope_zip, tmp_path):
    deadline = 40
    run = _emulate(gradescope_zip, tmp_path / "looping", _looping(tmp_path / "submission"),
                   AUTOGRADER_DEADLINE=str(deadline))
    assert run.seconds < deadline and run.results is not None, run.stderr[-2000:]
    outcomes = _outcomes(_valid(run.results))
    assert outcomes[LOOPING][0] == 0 and "time" in outcomes[LOOPING][2], outcomes
    assert set(outcomes) == set(CHEAP)


def test_gradescope_emulation_out_of_memory_says_why(gradescope_zip, tmp_path):
    """A container too small for the kit (300 MB: torch alone takes most of it): the results say so, how
    much the container had, what grading needs, where to raise it."""
    run = _emulate(gradescope_zip, tmp_path / "small", config.ROOT / "solutions" / A, memory_mb=300)
    assert run.oom_killed and run.results is not None, run.stderr[-2000:]
    results = _valid(run.results)
    assert results["score"] == 0
    text = json.dumps(results)
    assert f"{zygote.NEEDED_MEMORY_MB} MB" in text and "Gradescope's autograder settings" in text, text
    assert "300 MB" in text or str(300 * 2**20) in text, text


def test_setup_installs_the_pinned_cpu_torch_or_fails(tmp_path):
    """setup.sh uses the base image's Python (no PPA), names the CPU builds of pyproject's torch pins, from
    the CPU index only (no --extra-index-url through which pip could pick the CUDA build), installs the kit
    with the shipped constraints (every dependency of pyproject pinned, torch and torchvision as their CPU
    builds), and stops when a CUDA build got in anyway."""
    root = emulate.unpack(bundle.gradescope_zip(A, tmp_path / "gs.zip"), tmp_path / "ag")
    setup = (root / "source" / "setup.sh").read_text()
    pins = bundle._pins("torch", "torchvision")
    assert f'"{pins["torch"]}+cpu" "{pins["torchvision"]}+cpu"' in setup
    assert "--extra-index-url" not in setup and "{{" not in setup
    assert "ppa:" not in setup and "add-apt-repository" not in setup
    assert "torch.version.cuda is not None" in setup
    constraints = root / "source" / "kit" / "autograder" / "templates" / "gradescope-constraints.txt"
    assert f'-c "$KIT/{constraints.relative_to(root / "source" / "kit")}"' in setup
    pinned = dict(line.split("==") for line in constraints.read_text().splitlines() if not line.startswith("#"))
    assert pinned["torch"] == pins["torch"].split("==")[1] + "+cpu"
    assert pinned["torchvision"] == pins["torchvision"].split("==")[1] + "+cpu"
    import tomllib

    for requirement in tomllib.loads((config.ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        name = requirement.split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower()
        assert name in pinned, f"{name} is not pinned in {constraints.name}"
    assert subprocess.run(["bash", "-n", str(root / "source" / "setup.sh")], check=False).returncode == 0
    assert subprocess.run(["bash", "-n", str(root / "source" / "run_autograder")], check=False).returncode == 0


def test_gradescope_view_fences_feedback_and_shows_learning_curves():
    """Student text stays inside its code block (a fence longer than its backticks), a training check's
    learning curves become a table beside the reference's, and the hidden checks' points are not summed
    into the output (Gradescope hides the total while tests are hidden)."""
    from autograder import results

    checks = [c for c in config.load().assignment(A).checks if c.tier == "cpu"]
    curve = "test_accuracy.py::test_circles[autograd]"
    records = {c.id: {"status": "passed", "output": "", "seconds": 0.1} for c in checks}
    records["test_manual.py::test_forward"] = {"status": "failed", "seconds": 0.1,
                                               "output": "manual.forward: ```\n# not a title\n``` [link](x)"}
    records[curve]["record"] = {"history": {"test_acc": [0.5 + i / 300 for i in range(150)]}}
    document = results.build(A, "tp1", checks, "cpu", records, seed=0, seconds=1.0)
    view = _valid(results.gradescope_view(document, {curve: {"seeds": 5, "history": {"test_acc": [0.9] * 150}}}))
    tests = {t["extra_data"]["check"]: t for t in view["tests"]}
    feedback = tests["test_manual.py::test_forward"]["output"]
    assert "\n````\nmanual.forward: ```\n# not a title\n``` [link](x)\n````" in feedback
    assert tests["test_manual.py::test_forward"]["number"] == "1.2"
    table = tests[curve]["output"]
    assert "| epoch | test_acc | test_acc (reference) |" in table and "| 150 | 0.9967 | 0.9 |" in table
    assert table.count("\n| ") == 1 + results.CURVE_ROWS and "mean of 5 seeds" in table
