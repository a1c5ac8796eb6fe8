"""The worker: isolation, limits, failures that stay inside one probe, restarts."""

import os
import textwrap
import time

import numpy as np
import pytest

from autograder.sandbox.client import Limits, ProbeFailed, Worker

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
    return worker.call(CALL, timeout=timeout, module_name="student", function=function, **kwargs)


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
                        "OPENBLAS_L2_SIZE", "LC_CTYPE"}
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
        worker.call(CALL, timeout=10, module_name="broken", function="f")
    with pytest.raises(ProbeFailed, match="missing.py was not found"):
        worker.call(CALL, timeout=10, module_name="missing", function="f")
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
        worker.call("os:system", timeout=5, command="true")
