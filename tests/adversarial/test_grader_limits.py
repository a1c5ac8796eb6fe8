"""Each grader process (trusted, but it decodes what student code sends) runs under limits of its own
(:class:`autograder.zygote.GraderLimits`): its own cgroup where the grader may make one, rlimits always. A
grader that runs out of memory is the grader's error, saying so, and the grading goes on.

Through the real path: the grader zygote forks a grader that runs a small pytest file (instead of an
assignment's graders) which reports what it sees from inside: as root with namespaces (a cgroup, and a
worker whose cgroup lies beside the grader's), and where the OS refuses namespaces
(``AUTOGRADER_NO_NAMESPACES=1``, in the emulated container of test_unisolated.py) as an unprivileged grader
(no cgroup: its rlimits alone). About 30 s on a busy 2-core machine: two zygote starts, one worker, three
graders.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder import zygote
from autograder.config import ROOT
from autograder.emulate import cgroup_problem
from autograder.workers import isolation
from tests.adversarial.test_unisolated import GRADER_UID, _container_shape

LIMIT_MB = 300
#: run in a limited grader: what it sees of its limits, then a judge that asks for more memory than it has
INSIDE = '''
import json, os, resource
from pathlib import Path

def test_what_the_grader_sees():
    seen = {"rlimits": {name: resource.getrlimit(getattr(resource, name))
                        for name in ("RLIMIT_DATA", "RLIMIT_NOFILE", "RLIMIT_FSIZE", "RLIMIT_CORE")},
            "mapped": int(next(line for line in open("/proc/self/status") if line.startswith("VmData:")).split()[1]),
            "cgroups": dict(line.split(":", 2)[1:] for line in Path("/proc/self/cgroup").read_text().splitlines())}
    memory = seen["cgroups"].get("memory")
    if memory is not None and "autograder-grader-" in memory:
        seen["memory_max"] = int(Path("/sys/fs/cgroup/memory", memory.lstrip("/"), "memory.limit_in_bytes").read_text())
        seen["pids_max"] = Path("/sys/fs/cgroup/pids", seen["cgroups"]["pids"].lstrip("/"), "pids.max").read_text().strip()
    if os.environ.get("WORKER"):  # a worker this grader starts gets a cgroup of its own, beside the grader's
        from autograder.workers import Worker
        with Worker(Path(os.environ["WORKER"])) as worker:
            seen["worker"] = worker.call("autograder.sandbox.probing:call", 60, module_name="student",
                                         function="cgroups")
    Path(os.environ["SEEN"]).write_text(json.dumps(seen))

def test_a_judge_past_the_memory_limit():
    held = bytearray(int(os.environ["AUTOGRADER_GRADER_MEMORY_MB"]) * 2**20)
'''
#: run in a limited grader: memory its RLIMIT_DATA does not count (a file in memory); its cgroup does
FILES_IN_MEMORY = '''
import os

def test_files_in_memory():
    descriptor, chunk = os.memfd_create("fill"), b"x" * 2**20
    for _ in range(int(os.environ["AUTOGRADER_GRADER_MEMORY_MB"]) + 200):
        os.write(descriptor, chunk)
'''
STUDENT = "def cgroups():\n    return open('/proc/self/cgroup').read()\n"
#: runs the files named (inside, files) through the grader zygote (as the CLI does), prints what happened as JSON
RUN = """
import json, os, sys
from pathlib import Path
from autograder import zygote
folder, done = Path(sys.argv[1]), {}
for name in sys.argv[2:]:
    env = {**os.environ, "SEEN": str(folder / f"{name}.json")}
    try:
        done[name] = zygote.shared().run([str(folder / f"test_{name}.py"), "-q", "-p", "no:cacheprovider"], folder,
                                         env, folder / f"{name}.txt", timeout=300)
    except zygote.GraderOutOfMemory as error:
        done[name] = str(error)
    done[name + "_output"] = (folder / f"{name}.txt").read_text()
seen = folder / "inside.json"
print(json.dumps({**done, "seen": json.loads(seen.read_text()) if seen.exists() else None}))
"""


def _files(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test_inside.py").write_text(INSIDE)
    (folder / "test_files.py").write_text(FILES_IN_MEMORY)
    (folder / "student.py").write_text(STUDENT)
    folder.chmod(0o777)
    return folder


def _check(done: dict, cgroup: bool, worker: bool = False) -> None:
    """What a grader under LIMIT_MB must have seen and done."""
    seen = done["seen"]
    assert seen is not None, done["inside_output"]
    data_soft, data_hard = seen["rlimits"]["RLIMIT_DATA"]
    assert data_soft == data_hard and 0 < data_soft - seen["mapped"] * 1024 <= LIMIT_MB * 2**20, seen
    assert seen["rlimits"]["RLIMIT_NOFILE"] == [4096, 4096] and seen["rlimits"]["RLIMIT_CORE"] == [0, 0]
    assert seen["rlimits"]["RLIMIT_FSIZE"] == [2**30, 2**30]
    assert "the grader ran out of memory (limit 300 MB)" in done["inside_output"], done["inside_output"]
    assert "1 failed, 1 passed" in done["inside_output"]  # the other check went on
    if cgroup:
        assert seen["memory_max"] == LIMIT_MB * 2**20 and seen["pids_max"] == "512", seen
        assert done["files"] == zygote.out_of_memory(LIMIT_MB), done  # killed by its cgroup, the grader's error
    else:
        assert "memory_max" not in seen, seen
    if worker:
        grader = seen["cgroups"]["memory"]
        (mine,) = [line.split(":", 2)[2] for line in seen["worker"].splitlines() if ":memory:" in line]
        assert "autograder-worker-" in mine and grader not in mine and Path(mine).parent == Path(grader).parent


@pytest.mark.skipif(os.geteuid() != 0 or not isolation().namespaces or cgroup_problem() is not None,
                    reason="needs root, namespaces and a writable cgroup")
def test_a_grader_as_root_has_its_own_cgroup_and_rlimits_and_its_workers_a_cgroup_beside_it(tmp_path, monkeypatch):
    folder = _files(tmp_path / "grader")
    monkeypatch.setenv("AUTOGRADER_GRADER_MEMORY_MB", str(LIMIT_MB))
    monkeypatch.setenv("WORKER", str(folder))
    done = subprocess.run([sys.executable, "-c", RUN, str(folder), "inside", "files"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    _check(json.loads(done.stdout.splitlines()[-1]), cgroup=True, worker=True)


@pytest.mark.skipif(os.geteuid() != 0 or not isolation().namespaces,
                    reason="emulating a machine without namespaces needs root and a mount namespace")
def test_without_namespaces_and_without_root_a_grader_is_limited_by_its_rlimits():
    top = Path(tempfile.mkdtemp(prefix="ag-limits-"))
    try:
        top.chmod(0o755)
        shutil.copytree(ROOT / "autograder", top / "kit" / "autograder",
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        env = {key: os.environ[key] for key in ("PATH", "LANG") if key in os.environ}
        env.update(PYTHONPATH=str(top / "kit"), AUTOGRADER_ROOT=str(top / "kit"), AUTOGRADER_NO_NAMESPACES="1",
                   AUTOGRADER_GRADER_MEMORY_MB=str(LIMIT_MB), HOME=str(top))
        folder = _files(top / "grader")
        user = ["setpriv", f"--reuid={GRADER_UID}", f"--regid={GRADER_UID}", "--clear-groups"]
        command = shlex.join([*user, sys.executable, "-c", RUN, str(folder), "inside"])
        done = subprocess.run(["unshare", "--mount", "sh", "-c", f"{_container_shape(top)}\nexec {command}"],
                              env=env, cwd=top, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        _check(json.loads(done.stdout.splitlines()[-1]), cgroup=False)
    finally:
        shutil.rmtree(top, ignore_errors=True)
