"""The worker: isolation, limits, failures that stay inside one probe, restarts."""

import os
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from autograder import samples, workers
from autograder.config import ROOT
from autograder.emulate import cgroup_problem
from autograder.grade import Options, grade_one
from autograder.submissions import Submission
from autograder.workers import (
    UID_BASE,
    GraderFault,
    Limits,
    ProbeFailed,
    Worker,
    interpreter_paths,
    isolation,
    worker_zygote,
)

FULL_ISOLATION = isolation().namespaces and isolation().own_uid
NEEDS_ISOLATION = "needs namespaces and an own uid (run as root where unshare is permitted)"

CALL = "autograder.sandbox.probing:call"
STUDENT = '''
import os, sys, time
import numpy as np
import torch

def add(a, b):
    return torch.tensor(a) + b

def slow():
    time.sleep(60)

def spin():
    while True:
        pass

def hard_exit():
    os._exit(3)

def soft_exit():
    sys.exit(0)

def chatty():
    print("noise " * 100000)
    sys.stderr.write("more noise\\n")
    return {"ok": [1, (2, 3.5)]}

def environment():
    return dict(os.environ)

def where():
    return os.getcwd()

def hog():
    blocks = []
    while True:
        blocks.append(np.ones(50_000_000))

def unpicklable():
    return object()

def nan():
    return torch.tensor([float("nan")])

def view(kit):
    import socket
    try:
        socket.create_connection(("127.0.0.1", 22), timeout=2).close()
        network = "connected"
    except OSError as error:
        network = os.strerror(error.errno or 0)
    return {"uid": os.getuid(), "kit": sorted(os.listdir(kit)), "processes": sorted(p for p in os.listdir("/proc") if p.isdigit()),
            "solutions": os.path.exists(os.path.join(kit, "solutions")), "network": network,
            "tmp": os.listdir(os.path.dirname(os.path.dirname(os.path.dirname(os.getcwd())))),
            "top": sorted(os.listdir("/")), "beside_kit": sorted(os.listdir(os.path.dirname(kit)))}

def leave_a_trace():
    torch.autograder_trace = "left by a previous submission"
    np.autograder_trace = "left by a previous submission"
    return True

def traces_and_modules():
    return {"traces": [hasattr(torch, "autograder_trace"), hasattr(np, "autograder_trace")],
            "kit_modules": sorted(name for name, module in sys.modules.items()
                                  if name.startswith("autograder") and not (getattr(module, "__file__", None) or "")
                                  .startswith(os.path.dirname(os.getcwd()) + "/kit/"))}

def fill_memory(kind, mark):
    """Write 1 GiB, 48 MiB per memfd or file under /dev/shm (each under the file size limit), kept open."""
    chunk, files = b"x" * 2**24, []
    for number in range(21):
        if kind == "memfd":
            files.append(os.memfd_create("fill"))
        else:
            files.append(os.open(f"/dev/shm/{mark}-{number}", os.O_CREAT | os.O_WRONLY, 0o600))
        for _ in range(3):
            os.write(files[-1], chunk)
    return "wrote 1 GiB"

def cgroups():
    with open("/proc/self/cgroup") as handle:
        return handle.read()

def daemon(mark):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", mark])
        os._exit(0)
    return True
'''


@pytest.fixture(scope="module")
def submission(tmp_path_factory):
    folder = tmp_path_factory.mktemp("student")
    (folder / "student.py").write_text(textwrap.dedent(STUDENT))
    (folder / "broken.py").write_text("def f(:\n")
    return folder


@pytest.fixture(scope="module")
def worker(submission):
    with Worker(submission, Limits(memory_mb=4096)) as running:
        yield running


def call(worker, function, timeout=30, **kwargs):
    return worker.call(CALL, timeout, module_name="student", function=function, **kwargs)


def test_values_come_back_as_plain_data(worker):
    got = call(worker, "add", a=[1.0, 2.0], b=3)
    assert type(got) is np.ndarray and got.tolist() == [4.0, 5.0]


def test_student_output_does_not_corrupt_the_channel(worker):
    assert call(worker, "chatty") == {"ok": [1, [2, 3.5]]}


def test_environment_is_scrubbed_and_cwd_is_a_copy(worker, submission):
    env = call(worker, "environment")
    assert not {k for k in env if k.startswith(("AUTOGRADER_DATA", "CI", "GITHUB", "PYTEST"))}
    assert set(env) <= {"PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "PYTHONDONTWRITEBYTECODE", "AUTOGRADER_THREADS",
                        "MPLBACKEND", "PYTHONHASHSEED", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE",
                        "OPENBLAS_L2_SIZE", "LC_CTYPE", "USER", "LOGNAME"}
    assert call(worker, "where") != str(submission)


@pytest.mark.parametrize("function, timeout, words", [
    ("slow", 1, "timed out after 1 s"),
    ("spin", 1, "timed out after 1 s"),
    ("hard_exit", 10, "exit code 3"),
    ("soft_exit", 10, "SystemExit"),
    ("unpicklable", 10, "cannot be sent back"),
])
def test_a_failing_probe_fails_alone_and_the_next_call_works(worker, function, timeout, words):
    started = time.monotonic()
    with pytest.raises(ProbeFailed, match=words):
        call(worker, function, timeout=timeout)
    assert time.monotonic() - started < timeout + 10
    assert call(worker, "add", a=[1.0], b=1).tolist() == [2.0]


def test_memory_hog_is_stopped(worker):
    with pytest.raises(ProbeFailed, match="MemoryError|stopped"):
        call(worker, "hog", timeout=60)
    assert call(worker, "add", a=[0.0], b=1).tolist() == [1.0]


def test_student_errors_are_reported_with_file_and_line(worker):
    with pytest.raises(ProbeFailed, match="SyntaxError"):
        worker.call(CALL, 10, module_name="broken", function="f")
    with pytest.raises(ProbeFailed, match="missing.py was not found"):
        worker.call(CALL, 10, module_name="missing", function="f")
    with pytest.raises(ProbeFailed, match="has no function nothing"):
        call(worker, "nothing")
    with pytest.raises(ProbeFailed, match="cannot be called as the handout specifies"):
        call(worker, "add", a=1)


def test_nan_arrives_as_data_for_the_judge(worker):
    assert np.isnan(call(worker, "nan")).all()


def test_worker_process_group_is_killed_on_close(submission):
    worker = Worker(submission)
    call(worker, "add", a=[1.0], b=1)
    pid = worker.process.pid
    worker.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_only_probes_of_the_kit_can_be_called(worker):
    with pytest.raises(ProbeFailed, match="not a probe name"):
        worker.call("os:system", 5, command="true")


@pytest.mark.skipif(not FULL_ISOLATION, reason=NEEDS_ISOLATION)
def test_worker_sees_no_kit_no_network_no_other_process(worker):
    seen = call(worker, "view", kit=str(ROOT))
    assert seen["uid"] >= UID_BASE
    assert not seen["solutions"] and seen["kit"] == [".venv"]  # only the Python environment is left
    assert seen["processes"] == ["1"]
    assert seen["network"] == "Operation not permitted"  # no socket but AF_UNIX (seccomp)
    # in the temporary folder: its own folder, and the folder of the interpreter if it lives there (a
    # checkout under /tmp); not the other workers' or the grader's
    scratch = Path(tempfile.gettempdir()).resolve()
    own = [name for name in seen["tmp"] if name.startswith("autograder-worker-")]
    assert len(own) == 1
    assert set(seen["tmp"]) - set(own) <= {p.relative_to(scratch).parts[0] for p in interpreter_paths()
                                           if scratch in p.parents}
    # a root of its own: system folders, the interpreter's, scratch; nothing else of the machine (e.g. a
    # second checkout of the kit next to this one, home folders, /srv, /opt)
    interpreter = {path.parts[1] for path in interpreter_paths()}
    assert set(seen["top"]) <= {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "dev", "sys",
                                "proc", "tmp", "var", *interpreter}
    assert set(seen["beside_kit"]) - set(own) == {ROOT.name}


def test_workers_share_no_state_and_hold_no_kit_module_but_their_own(submission):
    with Worker(submission) as first:
        assert call(first, "leave_a_trace")
    with Worker(submission) as second:
        seen = call(second, "traces_and_modules")
    assert seen["traces"] == [False, False]
    # the grader's modules (plugin, reference, checks) were never in the zygote the worker was forked from
    assert seen["kit_modules"] == []


def test_a_dead_worker_zygote_is_started_again(submission):
    zygote = worker_zygote()
    os.killpg(zygote.process.pid, 9)
    zygote.process.wait()
    with Worker(submission) as running:
        assert call(running, "add", a=[1.0], b=2).tolist() == [3.0]
    assert worker_zygote() is not zygote


@pytest.mark.skipif(not FULL_ISOLATION, reason=NEEDS_ISOLATION)
def test_daemons_left_by_student_code_die_with_the_worker(submission):
    mark = f"daemon-{uuid.uuid4().hex}".encode()
    with Worker(submission) as running:
        assert call(running, "daemon", mark=mark.decode())
    time.sleep(0.5)
    survivors = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline_has(p, mark)]
    assert not survivors


def _cmdline_has(pid: str, mark: bytes) -> bool:
    try:
        return mark in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@pytest.mark.skipif(cgroup_problem() is not None, reason=str(cgroup_problem()))
@pytest.mark.parametrize("kind", ["memfd", "shm"])
def test_memory_written_to_files_in_memory_counts_against_the_limit(submission, kind):
    mark = f"fill-{uuid.uuid4().hex}"
    try:
        with Worker(submission, Limits(resident_mb=256)) as running:
            mine = [line.split(":") for line in call(running, "cgroups").splitlines() if "autograder-worker-" in line]
            controllers = {name for _, names, _ in mine for name in names.split(",")}  # "" for cgroup v2
            hierarchies = {"memory", "cpu", *(["pids"] if Path("/sys/fs/cgroup/pids").is_dir() else [])}
            assert hierarchies <= controllers or "" in controllers, mine
            with pytest.raises(ProbeFailed, match="out of memory, over its limit of 256 MiB"):
                call(running, "fill_memory", kind=kind, mark=mark)
    finally:  # without namespaces /dev/shm is the machine's
        for path in Path("/dev/shm").glob(f"{mark}-*"):
            path.unlink()


def test_a_kit_module_that_cannot_be_imported_is_the_graders_fault(submission, monkeypatch):
    """A probe module of the kit that fails to import (a package missing on the grading machine) stops the
    worker's start, before any student code: a GraderFault with the cause, not a probe failure."""
    copy = workers._copy_worker_kit

    def broken_kit(target):
        copy(target)
        (target / "autograder" / "graders" / "tp1_mlp" / "probes.py").write_text("import a_package_not_installed\n")

    monkeypatch.setattr(workers, "_copy_worker_kit", broken_kit)
    with Worker(submission) as running, pytest.raises(GraderFault, match="a_package_not_installed"):
        call(running, "add", a=[1.0], b=1)


def test_missing_data_is_the_graders_fault(tmp_path):
    """A data set missing on the grading machine: the check is a grader error that names it."""
    check = "test_accuracy.py::test_fashion_mnist"
    document = grade_one(Submission("s", samples.reference_copy("tp1_mlp", tmp_path / "s"), "tp1_mlp"),
                         tmp_path / "out", Options(only=(check,), data=tmp_path / "no-data"))
    (test,) = document["tests"]
    assert test["extra_data"]["outcome"] == "error" and "FashionMNIST not found under" in test["output"], test
    assert document["extra_data"]["grader_errors"] == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="uids of their own are for the workers of a grader running as root")
def test_worker_uids_never_recur():
    """Handed out from a counter of root's, not from the grader's pid: no worker inherits another's keys,
    files or processes, whichever grader started it."""
    uids = [workers._new_uid() for _ in range(4)]
    assert uids == sorted(set(uids)) and uids[0] >= UID_BASE


def test_a_worker_dies_with_the_grader_that_drives_it(submission, tmp_path):
    """A grader killed mid-probe (its deadline, a crash) leaves no spinning worker behind."""
    script = tmp_path / "grader.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys, threading
        from autograder.workers import Worker
        worker = Worker({str(submission)!r})
        worker.start()
        worker._wait_until_ready()
        print(worker.process.pid, flush=True)
        worker.call({CALL!r}, 600, 0, module_name="student", function="spin")
    """))
    grader = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, cwd=ROOT, text=True)
    handler = int(grader.stdout.readline())
    time.sleep(2)  # the probe is spinning
    grader.kill()
    grader.wait()
    for _ in range(100):
        try:
            os.kill(handler, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail("the worker's handler (and its spinning worker) outlived the grader by 10 s")
