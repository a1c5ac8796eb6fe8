"""The trusted side: start, feed, time out and kill the worker that runs one submission's code.

``Worker(submission).call("autograder.graders.tp1_mlp.probes:forward", timeout=30, nx=2, ...)`` returns
the probe's plain-data value or raises :class:`ProbeFailed` with a message for the student. A worker that
times out, crashes or breaks the protocol is killed with its whole process group and started afresh by
the next call. The grader never imports student code.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.sandbox import wire
from autograder.submissions import copy_tree

LOG_TAIL_BYTES = 2000
STARTUP_TIMEOUT = 120.0
SAFE_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


class ProbeFailed(Exception):
    """A probe that did not produce a value: student exception, timeout, crash or bad reply."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker process (its children inherit them)."""

    memory_mb: int = 6144       # address space; torch alone maps ~1.5 GiB
    cpu_seconds: int = 1800     # CPU time over the worker's whole life
    processes: int = 512        # RLIMIT_NPROC counts threads, and torch starts some
    open_files: int = 256
    file_mb: int = 64           # largest file the worker may write (its output log included)
    threads: int = 1            # torch / BLAS threads


def _apply_limits(limits: Limits) -> None:
    """Run in the child between fork and exec: own session, rlimits."""
    os.setsid()
    mb = 2**20
    for name, value in ((resource.RLIMIT_AS, limits.memory_mb * mb), (resource.RLIMIT_CPU, limits.cpu_seconds),
                        (resource.RLIMIT_NPROC, limits.processes), (resource.RLIMIT_NOFILE, limits.open_files),
                        (resource.RLIMIT_FSIZE, limits.file_mb * mb), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(name, (value, value))


class Worker:
    """One isolated interpreter for one submission, restarted after any failure."""

    def __init__(self, submission: Path, limits: Limits = Limits()):
        self.source = Path(submission).resolve()
        self.limits = limits
        self.process: subprocess.Popen | None = None
        self.home: Path | None = None
        self.starts = 0

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="autograder-worker-"))
        copy = self.home / "submission"
        copy_tree(self.source, copy)
        env = {key: os.environ[key] for key in SAFE_ENVIRONMENT if key in os.environ}
        env.update(HOME=str(self.home), TMPDIR=str(self.home), PYTHONDONTWRITEBYTECODE="1",
                   AUTOGRADER_THREADS=str(self.limits.threads), MPLBACKEND="Agg", PYTHONHASHSEED="0")
        requests_read, self._requests = os.pipe()
        self._replies, replies_write = os.pipe()
        self.log_path = self.home / "output.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-m", "autograder.sandbox.worker", str(copy),
                 str(requests_read), str(replies_write)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=copy, env=env,
                pass_fds=(requests_read, replies_write),
                preexec_fn=lambda: _apply_limits(self.limits))
        os.close(requests_read)
        os.close(replies_write)
        self.starts += 1
        try:
            hello = wire.receive(self._replies, deadline=time.monotonic() + STARTUP_TIMEOUT)
        except (TimeoutError, EOFError, wire.WireError) as error:
            self.close()
            raise ProbeFailed(f"the worker failed to start ({type(error).__name__})") from None
        if hello != {"ready": True}:
            self.close()
            raise ProbeFailed("the worker failed to start (unexpected greeting)")

    def call(self, probe: str, timeout: float, seed: int = 0, **args):
        """Run ``probe(**args)`` in the worker and return its value; raise ProbeFailed otherwise."""
        if self.process is None:
            self._start()
        started = time.monotonic()
        try:
            wire.send(self._requests, {"probe": probe, "args": args, "seed": seed})
            reply = wire.receive(self._replies, deadline=started + timeout)
        except TimeoutError:
            self.close()
            raise ProbeFailed(f"timed out after {timeout:g} s (an infinite loop, or too slow?)") from None
        except (BrokenPipeError, EOFError):
            status = self.process.wait(timeout=5) if self.process else None
            self.close()
            raise ProbeFailed(f"the worker running the submission stopped ({_describe_exit(status)})"
                              f"{self._log_excerpt()}") from None
        except (wire.WireError, KeyError, ValueError, IndexError) as error:
            self.close()
            raise ProbeFailed(f"the worker sent back an invalid reply ({error})") from None
        if not isinstance(reply, dict) or "ok" not in reply:
            self.close()
            raise ProbeFailed("the worker sent back an invalid reply")
        if not reply["ok"]:
            raise ProbeFailed(str(reply.get("error", "unknown error")))
        return reply.get("value")

    def _log_excerpt(self) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(max(0, os.path.getsize(self.log_path) - LOG_TAIL_BYTES))
                text = log.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""
        return f"; its last output:\n{text}" if text else ""

    def close(self) -> None:
        """Kill the worker's whole process group and remove its working copy."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process.wait()
            for fd in (self._requests, self._replies):
                os.close(fd)
            self.process = None
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None



def _describe_exit(status: int | None) -> str:
    if status is None:
        return "it did not exit"
    if status < 0:
        name = signal.Signals(-status).name
        reason = {"SIGKILL": "killed, e.g. out of memory or CPU time", "SIGXCPU": "CPU time limit",
                  "SIGSEGV": "crashed", "SIGXFSZ": "wrote a file over the size limit"}.get(name, "signal")
        return f"{name}: {reason}"
    return f"exit code {status}, e.g. sys.exit() or os._exit() in student code"
