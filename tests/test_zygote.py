"""The grader zygote: forked graders get exactly their cwd, environment and output file, report their exit
code, run side by side, and are killed with their session at the timeout."""

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from autograder import zygote

TESTS = '''
import os, sys, time

def test_cwd_and_environment():
    assert os.getcwd() == os.environ["EXPECTED_CWD"]
    assert "LEAKED" not in os.environ
    print("marker-" + os.environ["MARK"])

def test_exit():
    sys.stdout.flush()
    os._exit(3)

def test_worker_from_a_grader():
    import autograder.plugin  # the grader holds the kit; the worker it starts must not
    from autograder.workers import Worker

    with Worker(os.environ["SUBMISSION"]) as worker:
        seen = worker.call("autograder.sandbox.probing:call", 60, module_name="student", function="modules")
    assert seen["kit"] == [] and "autograder.plugin" not in seen["all"]
    assert {"torch", "torchvision"} <= set(seen["all"])  # preloaded by the zygote both were forked from

def test_sleep():
    import subprocess
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    open(os.environ["PIDS"], "w").write(f"{os.getpid()} {child.pid}")
    time.sleep(60)
'''


@pytest.fixture(scope="module")
def tests_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("zygote") / "test_probe.py"
    path.write_text(TESTS)
    return path


def run(tests_file, test, env=None, timeout=60.0):
    folder = tests_file.parent
    output = folder / f"{test}.out"
    argv = [f"{tests_file}::{test}", "-q", "-s", "-p", "no:cacheprovider", "--rootdir", str(folder)]
    environment = {"PATH": os.environ["PATH"], "EXPECTED_CWD": str(folder), "MARK": test, **(env or {})}
    status = zygote.shared().run(argv, folder, environment, output, timeout=timeout)
    return status, output.read_text()


def test_a_grader_gets_its_cwd_environment_and_output_file(tests_file):
    os.environ["LEAKED"] = "the parent's environment must not reach the grader"
    try:
        status, output = run(tests_file, "test_cwd_and_environment")
    finally:
        del os.environ["LEAKED"]
    assert status == 0, output
    assert "marker-test_cwd_and_environment" in output and "1 passed" in output


def test_the_exit_code_comes_back(tests_file):
    assert run(tests_file, "test_exit")[0] == 3


def test_graders_run_side_by_side(tests_file):
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: run(tests_file, "test_cwd_and_environment")[0], range(4)))
    assert outcomes == [0, 0, 0, 0]


def test_a_worker_started_by_a_grader_holds_nothing_of_the_kit(tests_file):
    """The worker zygote shares the grader zygote's libraries but was forked before it imported the kit:
    a worker holds the worker-side modules of its own copy only."""
    submission = tests_file.parent / "submission"
    submission.mkdir(exist_ok=True)
    (submission / "student.py").write_text(
        "import os, sys\n\ndef modules():\n"
        "    own = os.path.dirname(os.getcwd()) + '/kit/'\n"
        "    return {'all': sorted(sys.modules), 'kit': sorted(n for n, m in sys.modules.items() if n.startswith("
        "'autograder') and not (getattr(m, '__file__', None) or '').startswith(own))}\n")
    status, output = run(tests_file, "test_worker_from_a_grader", env={"SUBMISSION": str(submission)})
    assert status == 0, output


def test_a_grader_past_its_timeout_is_killed_with_its_session(tests_file):
    pids = tests_file.parent / "pids"
    started = time.monotonic()
    status, _ = run(tests_file, "test_sleep", env={"PIDS": str(pids)}, timeout=5)
    assert status is None and time.monotonic() - started < 30
    for pid in map(int, pids.read_text().split()):
        assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"  # a zombie is dead, not yet reaped
    except FileNotFoundError:
        return False


def test_a_closed_zygote_leaves_no_process_or_folder_behind():
    """One folder and one process group for the grader zygote and the worker zygote it forked."""
    grader_zygote = zygote.Zygote()
    group = grader_zygote.process.pid
    members = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc"))) if _group(pid) == group]
    assert len(members) >= 2 and grader_zygote.folder.is_dir()
    grader_zygote.close()
    assert not grader_zygote.folder.exists()
    assert not any(map(_alive, members))


def _group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None
