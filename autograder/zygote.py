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

Each grader runs under :class:`GraderLimits`: a cgroup of its own where this machine lets the client make
one, rlimits always. A grader out of memory is the grader's error, never the student's: a check that ran it
out of memory is a grader error that says so, a grader its cgroup killed raises :class:`GraderOutOfMemory`.

Protocol, on a Unix socket in a private folder (one connection per grader): the client sends one JSON line
``{"argv", "cwd", "env", "output", "limits", "cgroups"}``; the zygote forks a handler, which forks the grader
(its own session, its cgroup and limits, stdout and stderr to ``output``, ``pytest.main(argv)`` in ``cwd``
with exactly ``env``), answers ``{"pid": ...}``, then ``{"status": ...}`` (the exit code, negative for a
signal) when the grader ended.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import json
import os
import resource
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

#: Imported once by the zygote, after the libraries it shares with the worker zygote
#: (:data:`autograder.sandbox.worker.PRELOADED`): the kit's trusted modules, never a submission. (Not the
#: reference solutions: a grader imports those of its own assignment by their plain module names.)
PRELOAD = ("yaml", "pydantic", "pytest", "autograder.plugin", "autograder.judges.accuracy",
           "autograder.judges.answers", "autograder.judges.gradients", "autograder.judges.models",
           "autograder.judges.static", "autograder.judges.values", "autograder.data", "autograder.reference")
START_TIMEOUT = 120.0
#: cgroup peak (page cache included) of the reference's grading at ½ CPU, the highest of the four assignments
#: (bench/gradescope.py, bench/RESULTS.md: 641-697 MB); a submission's own code can need more
NEEDED_MEMORY_MB = 700
INTERNAL_ERROR = 70  # exit code of a grader that failed before pytest could run


@dataclass(frozen=True)
class GraderLimits:
    """The limits of each grader process: trusted code, but it decodes the worker's replies and parses the
    submission's files, so a hostile submission must not make it take the machine's memory.

    ``memory_mb``: the memory it may take beyond what it shares with the zygote: its cgroup's memory.max
    (where cgroups are writable) and always its RLIMIT_DATA, set to the private memory it has mapped when
    forked plus ``memory_mb`` (not RLIMIT_AS, which counts the address space CUDA builds of torch reserve).
    ``AUTOGRADER_GRADER_MEMORY_MB`` sets it. Grading a reference (cpu tier), a grader's cgroup peaks at
    86-106 MB (page cache included) and it maps 58-108 MB beyond the zygote's ~1050 MB (tp1_mlp 91/58,
    tp2_cnn 106/98, tp3_vit 99/108, recvis_a2 86/78); the default leaves room for a GPU tier grader's CUDA
    (not measured)."""

    memory_mb: int = 2048
    processes: int = 512  # its cgroup's pids.max, threads included (RLIMIT_NPROC would count its whole user)
    open_files: int = 4096
    file_mb: int = 1024  # the largest file it may write (its report, its output)

    @classmethod
    def configured(cls) -> GraderLimits:
        """The defaults, with ``AUTOGRADER_GRADER_MEMORY_MB`` from this process's environment when set."""
        text = os.environ.get("AUTOGRADER_GRADER_MEMORY_MB")
        if text is None:
            return cls()
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"AUTOGRADER_GRADER_MEMORY_MB must be a number of MB, not {text!r}")
        return cls(memory_mb=int(text))


class GraderOutOfMemory(RuntimeError):
    """The grader's cgroup killed it for memory: every check it had not reported is the grader's error."""


def out_of_memory(limit_mb: int) -> str:
    """What a grader that ran out of memory reports (its checks are grader errors, not the student's)."""
    return (f"the grader ran out of memory (limit {limit_mb} MB) judging this submission, not your fault: the "
            "course staff can raise AUTOGRADER_GRADER_MEMORY_MB")


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
        """Run ``pytest.main(argv)`` in a fresh grader under :class:`GraderLimits`; its exit code, or None when
        killed at ``timeout``; :class:`GraderOutOfMemory` when its cgroup killed it for memory."""
        deadline = time.monotonic() + timeout
        limits = GraderLimits.configured()
        group = _grader_cgroup(limits)
        request = {"argv": argv, "cwd": str(cwd), "env": env, "output": str(output), "limits": asdict(limits),
                   "cgroups": [str(path) for path in group.procs] if group else []}
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.settimeout(START_TIMEOUT)
                connection.connect(self.address)
                connection.sendall(json.dumps(request).encode() + b"\n")
                pid = _reply(connection, "pid")
                connection.settimeout(max(0.0, deadline - time.monotonic()))
                try:
                    status = _reply(connection, "status")
                except TimeoutError:
                    os.killpg(pid, signal.SIGKILL)  # the grader, and anything of its session
                    connection.settimeout(START_TIMEOUT)
                    _reply(connection, "status")  # its handler reports once it has reaped it
                    return None
            killed = False
            with contextlib.suppress(OSError, ValueError):  # where its files do not say, the status does
                killed = status != 0 and group is not None and group.oom_killed
            if killed:
                raise GraderOutOfMemory(out_of_memory(limits.memory_mb))
            return status
        finally:
            if group is not None:
                with contextlib.suppress(OSError):  # a folder left behind costs nothing to the grading
                    group.close()

    def close(self) -> None:
        """Stop both zygotes (one process group) and remove their folder; return once every process of the
        group is dead (the worker zygote is not this process's child: a kill reaches it a moment later)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)
        ends = time.monotonic() + 10
        while _living_members(self.process.pid) and time.monotonic() < ends:
            time.sleep(0.01)


def _living_members(group: int) -> list[int]:
    """Processes of process group ``group`` that are not zombies."""
    living = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == group:  # state, ppid, pgrp
            living.append(int(name))
    return living


def _grader_cgroup(limits: GraderLimits):
    """A fresh cgroup for one grader (``memory_mb``, ``processes``), or None where this process may not make
    one (its rlimits alone bound the grader then)."""
    from autograder.emulate import Cgroup

    try:
        return Cgroup(f"autograder-grader-{os.getpid()}-{time.monotonic_ns()}", limits.memory_mb, None,
                      processes=limits.processes)
    except (OSError, ValueError):
        return None


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
        limits = GraderLimits(**request["limits"])
        _limit(limits, request["cgroups"])
        output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        import pytest

        code = int(pytest.main(request["argv"], plugins=[_memory_errors(limits.memory_mb)]))
    except BaseException:  # noqa: BLE001 - reported in the output, the exit code says it failed
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _limit(limits: GraderLimits, cgroups: list[str]) -> None:
    """Put this grader into its cgroup (``cgroups``: its ``cgroup.procs`` files, none where the client could
    make none; the workers' cgroups go beside it) and under ``limits``' rlimits (soft = hard, never above a
    hard limit already lower)."""
    from autograder.emulate import join

    join(cgroups)
    mb = 2**20
    for name, value in (("RLIMIT_DATA", _mapped_data() + limits.memory_mb * mb), ("RLIMIT_NOFILE", limits.open_files),
                        ("RLIMIT_FSIZE", limits.file_mb * mb), ("RLIMIT_CORE", 0)):
        hard = resource.getrlimit(getattr(resource, name))[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(getattr(resource, name), (value, value))


def _mapped_data() -> int:
    """The private writable memory this process has mapped (what RLIMIT_DATA counts), in bytes; 0 where
    /proc does not say."""
    with contextlib.suppress(OSError, StopIteration, ValueError), open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmData:")).split()[1]) * 1024
    return 0


def _memory_errors(limit_mb: int):
    """A pytest plugin for the grader: a check (its fixtures or its judge) that ran the grader out of memory
    fails as the grader's error, saying so."""
    import pytest

    from autograder.judges import GraderFault

    @pytest.hookimpl(wrapper=True)
    def translated(item):
        try:
            return (yield)
        except MemoryError:
            raise GraderFault(out_of_memory(limit_mb)) from None

    class MemoryErrors:
        pytest_runtest_setup = pytest_runtest_call = staticmethod(translated)

    return MemoryErrors()

