"""The grader zygote: one process that imports the grader's libraries once and forks a fresh grader
process per submission, so that a grader starts in a fraction of a second instead of paying for
Python, pytest and torch every time.

Trusted code only. The zygote and its children never run student code: each grader drives its own
isolated worker, a fork of the worker zygote (:mod:`autograder.workers`). Both zygotes come from
one fresh interpreter that imported the libraries (numpy, torch and the optional ones the assignment
uses: :data:`autograder.sandbox.worker.OPTIONAL`), forked the worker zygote, and only then became this
zygote and imported the kit: the libraries' memory pages are shared by every grader and every worker (one
grading fits in Gradescope's 768 MB container), and a worker is never a fork of a process that held the
kit, the reference solutions or a submission. Nothing is shared between two graders but the imported
modules: each is a fork of the zygote, which imports libraries and runs nothing else.

Protocol, on a Unix socket in a private folder (one connection per grader): the client sends one JSON line
``{"argv", "cwd", "env", "output"}``; the zygote forks a handler, which forks the grader (its own session,
stdout and stderr to ``output``, ``pytest.main(argv)`` in ``cwd`` with exactly ``env``), answers
``{"pid": ...}``, then ``{"status": ...}`` (the exit code, negative for a signal) when the grader ended.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

#: Imported once by the zygote, after the libraries it shares with the worker zygote
#: (:data:`autograder.sandbox.worker.PRELOADED`): the kit's trusted modules, never a submission. (Not the
#: reference solutions: a grader imports those of its own assignment by their plain module names.)
PRELOAD = ("yaml", "pydantic", "pytest", "autograder.plugin", "autograder.checks.accuracy",
           "autograder.checks.answers", "autograder.checks.gradients", "autograder.checks.models",
           "autograder.checks.static", "autograder.checks.values", "autograder.data", "autograder.reference")
START_TIMEOUT = 120.0
#: cgroup peak (page cache included) of the reference's grading at ½ CPU, the highest of the four assignments
#: (bench/gradescope.py, bench/RESULTS.md: 641-697 MB); a submission's own code can need more
NEEDED_MEMORY_MB = 700
INTERNAL_ERROR = 70  # exit code of a grader that failed before pytest could run


class Zygote:
    """A running zygote; ``run`` grades through it.

    It starts as a worker zygote (:meth:`WorkerZygote.launch <autograder.workers.WorkerZygote.launch>`):
    a fresh ``python -I -B`` imports the libraries, forks the worker zygote, then reads this process's
    environment and ``sys.path`` on its stdin, imports :data:`PRELOAD` and serves graders. Both zygotes
    share the libraries' memory pages (copy-on-write); graders are forks of this one, workers of the other.
    """

    def __init__(self):
        from autograder.workers import WorkerZygote

        self.folder = Path(tempfile.mkdtemp(prefix="autograder-zygote-"))
        self.address = str(self.folder / "grader.socket")
        self.process = WorkerZygote.launch(self.folder, grader_zygote=True)
        request = {"address": self.address, "path": sys.path, "env": dict(os.environ), "cwd": str(self.folder)}
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.close()
        if self.process.stdout.readline().strip() != b"ready":
            errors = (self.folder / "zygote.log").read_bytes()[-2000:].decode(errors="replace").strip()
            self.close()
            raise RuntimeError(f"the grader zygote failed to start ({describe_exit(self.process.returncode)})"
                               + (f":\n{errors}" if errors else ""))

    def run(self, argv: list[str], cwd: Path, env: dict[str, str], output: Path, timeout: float) -> int | None:
        """Run ``pytest.main(argv)`` in a fresh grader; its exit code, or None when killed at ``timeout``."""
        deadline = time.monotonic() + timeout
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(START_TIMEOUT)
            connection.connect(self.address)
            connection.sendall(json.dumps({"argv": argv, "cwd": str(cwd), "env": env, "output": str(output)}).encode()
                               + b"\n")
            pid = _reply(connection, "pid")
            connection.settimeout(max(0.0, deadline - time.monotonic()))
            try:
                return _reply(connection, "status")
            except TimeoutError:
                os.killpg(pid, signal.SIGKILL)  # the grader, and anything of its session
                connection.settimeout(START_TIMEOUT)
                _reply(connection, "status")  # its handler reports once it has reaped it
                return None

    def close(self) -> None:
        """Stop both zygotes (one process group) and remove their folder."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _memory_cgroup() -> Path | None:
    """This process's memory cgroup folder (v1 ``memory`` hierarchy, else v2), or None."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return Path("/sys/fs/cgroup/memory", path.lstrip("/"))
    for line in lines:
        if line.startswith("0::"):
            return Path("/sys/fs/cgroup", line[3:].lstrip("/"))
    return None


def container_memory_mb() -> float | None:
    """The memory limit of this process's cgroup in MB, or None when it has none."""
    folder = _memory_cgroup()
    for name in ("memory.limit_in_bytes", "memory.max"):
        try:
            text = (folder / name).read_text().strip()
        except (OSError, TypeError):
            continue
        return int(text) / 2**20 if text != "max" and int(text) < 2**60 else None
    return None


def _oom_killed() -> bool:
    """Whether the kernel reports an OOM kill in this process's memory cgroup."""
    folder = _memory_cgroup()
    for name in ("memory.oom_control", "memory.events"):
        try:
            values = dict(line.split() for line in (folder / name).read_text().splitlines())
        except (OSError, TypeError, ValueError):
            continue
        return int(values.get("oom_kill", 0)) > 0
    return False


def describe_exit(status: int | None) -> str:
    """An exit status in words; a SIGKILL names the likely cause, out of memory, with the container's limit
    and what the kit needs (:data:`NEEDED_MEMORY_MB`)."""
    if status is None:
        return "it did not exit"
    if status >= 0:
        return f"exit code {status}"
    try:
        name = signal.Signals(-status).name
    except ValueError:
        return f"signal {-status}"
    if name != "SIGKILL":
        return name
    limit = container_memory_mb()
    has = f"this container has {limit:.0f} MB" if limit else "the machine's memory limit"
    return (f"SIGKILL: most likely killed for memory ({has}; grading needs about {NEEDED_MEMORY_MB} MB, more if "
            "the submission's own code allocates much: raise the memory in Gradescope's autograder settings, or "
            "the machine's)")


def _reply(connection: socket.socket, key: str):
    """``key`` of the handler's next line. An unbuffered reader, new each time: it reads no further than the
    line, and one that timed out cannot be read again."""
    line = connection.makefile("rb", buffering=0).readline()
    if not line:
        raise RuntimeError("the grader zygote stopped while grading"
                           + (f" ({describe_exit(-signal.SIGKILL)})" if _oom_killed() else ""))
    return json.loads(line)[key]


_shared: Zygote | None = None
_lock = threading.Lock()


def shared() -> Zygote:
    """This process's zygote, started on first use (thread-safe) and stopped at exit."""
    global _shared
    with _lock:
        if _shared is None or _shared.process.poll() is not None:
            _shared = Zygote()
            atexit.register(_shared.close)
        return _shared


# --- the zygote process ---------------------------------------------------------------------------
def serve(address: str, workers: tuple[str, int]) -> None:
    """Import :data:`PRELOAD` and serve graders on ``address``; ``workers``: the address and pid of the worker
    zygote this process forked (:func:`autograder.sandbox.worker.serve_zygote`) before it imported any of the
    kit."""
    from autograder.sandbox.worker import serve_forks
    from autograder.workers import WorkerZygote, isolation, worker_zygote

    for name in PRELOAD:
        importlib.import_module(name)
    isolation()  # what this machine allows, probed once for every grader
    worker_zygote(adopt=WorkerZygote(*workers))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    gc.freeze()
    serve_forks(listener, _handle)


def _handle(connection: socket.socket) -> None:
    """One grader: fork it, report its pid, wait for it, report its exit code. Never returns."""
    try:
        request = json.loads(connection.makefile("rb").readline())
        pid = os.fork()
        if pid == 0:
            connection.close()
            _grade(request)
        connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        _, status = os.waitpid(pid, 0)
        connection.sendall(json.dumps({"status": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
    finally:
        os._exit(0)


def _grade(request: dict) -> None:
    code = INTERNAL_ERROR
    try:
        os.setsid()
        output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        import pytest

        code = int(pytest.main(request["argv"]))
    except BaseException:  # noqa: BLE001 - reported in the output, the exit code says it failed
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

