"""`autograder grade --executor slurm` on a real single-node Slurm (:mod:`single_node_slurm`): a small
class graded through one submitit job array gets the same records as ``--executor local``, a rerun
submits nothing, and a killed array task is reported and retried once (twice killed, its record says
so, and the next run grades it).

A grading.yml copy keeps three fast checks of tp1_mlp on the cpu tier (the others move to the gpu tier).
Skipped, with the reason, where Slurm is missing and cannot be installed (not root, or no apt-get).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time

import pytest
import single_node_slurm
import yaml

from autograder import cli, config, samples

FAST = ("test_manual.py::test_init_params", "test_manual.py::test_forward",
        "test_manual.py::test_backward_finite_differences")
HANG_TIMEOUT = 10  # seconds: test_init_params's timeout, which the hanging submission runs into


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """The running cluster; SLURM_CONF points sbatch, squeue and sacct (and submitit's calls) to it."""
    try:
        cluster = single_node_slurm.start(tmp_path_factory.mktemp("slurm"))
    except single_node_slurm.Unavailable as reason:
        pytest.skip(str(reason))
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SLURM_CONF", cluster.env["SLURM_CONF"])
            yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def grading(tmp_path_factory):
    raw = yaml.safe_load((config.ROOT / "grading.yml").read_text(encoding="utf-8"))
    for check in raw["assignments"]["tp1_mlp"]["checks"]:
        if check["id"] not in FAST:
            check["tier"] = "gpu"
        elif check["id"] == FAST[0]:
            check["timeout"] = HANG_TIMEOUT
    path = tmp_path_factory.mktemp("grading") / "grading.yml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    """The reference (a folder and a zip), the blank template, a buggy backward."""
    root = tmp_path_factory.mktemp("class")
    reference = samples.reference_copy("tp1_mlp", root / "alice")
    shutil.make_archive(str(root / "bob"), "zip", reference)
    shutil.copytree(samples.ROOT / "student_template" / "tp1_mlp", root / "carol")
    bug = next(m for m in samples.mutations("tp1_mlp") if m.name == "missing_tanh_derivative")
    samples.build("tp1_mlp", bug, root / "dave")
    return root


def grade(submissions, out, grading, *extra: str) -> int:
    return cli.main(["grade", str(submissions), "--assignment", "tp1_mlp", "--out", str(out),
                     "--grading", str(grading), "--quiet", *extra])


def on_slurm(submissions, out, grading) -> int:
    return grade(submissions, out, grading, "--executor", "slurm", "--cpus-per-task", "1", "--time", "5")


def array_tasks(cluster) -> list[tuple[str, str]]:
    """(array task id, state) of every autograder task Slurm accounted for."""
    lines = cluster.run("sacct", "--noheader", "--parsable2", "--name=autograder",
                        "--format=JobID,State").splitlines()
    return [tuple(line.split("|")) for line in lines if "." not in line.split("|")[0]]


def scores(out) -> dict[str, list[tuple[str, float]]]:
    return {path.parent.name: [(t["name"], t["score"]) for t in json.loads(path.read_text())["tests"]]
            for path in sorted(out.glob("*/results.json"))}


def test_class_graded_on_slurm_matches_local_and_a_rerun_submits_nothing(slurm, classroom, grading, tmp_path):
    started = time.monotonic()
    assert grade(classroom, tmp_path / "local", grading, "--jobs", "2") == 0
    local_seconds = time.monotonic() - started
    before = len(array_tasks(slurm))
    started = time.monotonic()
    assert on_slurm(classroom, tmp_path / "slurm", grading) == 0
    slurm_seconds = time.monotonic() - started
    print(f"\n4 submissions, {len(FAST)} checks: local --jobs 2 {local_seconds:.1f} s, slurm {slurm_seconds:.1f} s")

    graded = scores(tmp_path / "slurm")
    assert graded == scores(tmp_path / "local")
    assert sorted(graded) == ["alice", "bob", "carol", "dave"]
    assert [sum(score for _, score in graded[name]) for name in sorted(graded)] == [7, 7, 0, 3]
    single_node_slurm.wait_for("the array tasks to end", lambda: "RUNNING" not in dict(array_tasks(slurm)).values())
    tasks = array_tasks(slurm)[before:]  # a task ends shortly after its result is read
    assert len(tasks) == 4 and {state for _, state in tasks} == {"COMPLETED"}
    assert len({task.split("_")[0] for task, _ in tasks}) == 1  # one job array
    assert (tmp_path / "slurm" / "grades.csv").read_text() == (tmp_path / "local" / "grades.csv").read_text()
    assert "carol/report.html" in (tmp_path / "slurm" / "index.html").read_text()

    assert on_slurm(classroom, tmp_path / "slurm", grading) == 0
    assert len(array_tasks(slurm)) == before + 4
    assert scores(tmp_path / "slurm") == graded


class Killer(threading.Thread):
    """Cancels the first ``kills`` autograder array tasks it sees running."""

    def __init__(self, cluster, kills: int):
        super().__init__(daemon=True)
        self.cluster, self.kills, self.killed, self.done = cluster, kills, [], threading.Event()

    def run(self) -> None:
        while len(self.killed) < self.kills and not self.done.wait(0.2):
            for line in self.cluster.run("squeue", "--noheader", "--name=autograder", "--format=%i %T").splitlines():
                task, state = line.split()
                if state == "RUNNING" and task not in self.killed and len(self.killed) < self.kills:
                    subprocess.run(["scancel", task], env=self.cluster.env, check=True)
                    self.killed.append(task)


def grade_while_killing(cluster, submissions, out, grading, kills: int) -> list[str]:
    killer = Killer(cluster, kills)
    killer.start()
    try:
        assert on_slurm(submissions, out, grading) == 0
    finally:
        killer.done.set()
        killer.join()
    return killer.killed


def test_killed_task_is_reported_and_retried_once(slurm, grading, tmp_path, capfd):
    """The submission's init_params hangs (until its check's timeout): its task runs long enough to be
    cancelled while it grades."""
    hanging = samples.reference_copy("tp1_mlp", tmp_path / "class" / "erin")
    with open(hanging / "manual.py", "a") as module:
        module.write("\n\ndef init_params(*args, **kwargs):\n    import time\n    time.sleep(3600)\n")
    out = tmp_path / "out"

    killed = grade_while_killing(slurm, tmp_path / "class", out, grading, kills=2)
    assert len(killed) == 2 and len({task.split("_")[0] for task in killed}) == 2  # the first try and the retry
    reported = capfd.readouterr().err
    assert all(f"erin: Slurm job {task} died (CANCELLED" in reported for task in killed)
    record = json.loads((out / "erin" / "results.json").read_text())
    assert record["score"] == 0 and record["extra_data"]["grader_errors"] == len(FAST)
    assert "died twice" in record["output"] and "grader-side fault, not yours" in record["output"]
    assert {t["extra_data"]["outcome"] for t in record["tests"]} == {"died"}

    killed = grade_while_killing(slurm, tmp_path / "class", out, grading, kills=1)
    assert len(killed) == 1 and f"erin: Slurm job {killed[0]} died" in capfd.readouterr().err
    record = json.loads((out / "erin" / "results.json").read_text())
    tests = {t["name"]: t for t in record["tests"]}
    assert record["score"] == 6 and record["extra_data"]["grader_errors"] == 0
    assert tests[FAST[0]]["extra_data"]["outcome"] == "failed" and "timed out" in tests[FAST[0]]["output"]
    assert [state for task, state in array_tasks(slurm) if task.split("_")[0] in {*killed}] == ["CANCELLED by 0"]

