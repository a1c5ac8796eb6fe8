"""The trusted side: start, feed, time out and kill the worker that runs one submission's code.

``Worker(submission).call("autograder.graders.tp1_mlp.probes:forward", 30, nx=2, ...)`` (timeout 30 s) returns
the probe's plain-data value or raises :class:`ProbeFailed` with a message for the student. A worker that
times out, crashes or breaks the protocol is killed with everything it started, and started afresh by
the next call. The grader never imports student code.

Isolation (what :func:`isolation` finds this machine allows, decided once per process; its level,
"namespaces", "own uid" or "none", is in every results.json and the CLI's output):

* Always: a worker of its own per submission, forked by the worker zygote (:class:`WorkerZygote`, a fresh
  ``python -I -B`` that has imported the libraries (numpy, torch, ...) and nothing of the kit, so a worker
  is ready in a fraction of a second), in its own session, with rlimits (address space, CPU seconds,
  processes, open files, file size, no core file), a scrubbed environment, a wall-clock timeout on every
  call, a temporary working copy of the submission, and beside it a copy of the worker-side part of the kit
  only (:data:`WORKER_FILES`: ``autograder/sandbox`` and each grader's ``probes.py``), which is what the
  worker imports, and the worker's :class:`~autograder.sandbox.plan.Plan` (what it applies to itself);
  ``no_new_privs`` (setuid programs gain nothing); a fresh anonymous session
  keyring (no key of the grader's login); a seccomp filter refusing new namespaces, mounts, keyrings, eBPF,
  ptrace and reading other processes, perf events, io_uring, modules, and every socket but AF_UNIX (no
  network, namespace or not; :data:`worker.SYSCALLS`). Where this process may make cgroups (v1 or v2, as
  root), a cgroup of its own: ``Limits.resident_mb`` of memory, what it writes to tmpfs and memfds
  included (an OOM kill is reported as out of memory), at most ``Limits.processes`` tasks, the default
  CPU weight (its processes share one worker's CPU share); elsewhere the rlimits alone bound it.
* Namespaces, when permitted (as root; otherwise inside an unprivileged user namespace; probed once with
  ``unshare``): fresh mount, PID, network and IPC namespaces, the worker being PID 1 of its own. It sees
  only its own processes, has no network (a new network namespace whose loopback is down), and dies
  with everything it started when the grader kills it. Before any student code runs it moves into a root of
  its own (``pivot_root``) that holds only what Python needs: the system folders (:data:`SYSTEM_PATHS`) and
  the interpreter's folders read-only, ``/dev``, ``/sys``, a fresh ``/proc``, and fresh tmpfs of
  ``Limits.scratch_mb`` for the temporary folder, ``/dev/shm`` and ``/var/tmp`` holding only its own
  copy. Everything else on the machine is absent: the kit and any other checkout of it, home folders,
  ``/srv``, ``/opt``, the grader's data. Inside what is kept, the kit, the installed package and the data
  sets (``/usr/share/datasets``, ``$AUTOGRADER_DATA``, ``hide=``) are covered by empty tmpfs.
* A uid of its own, whenever the grader runs as root, one no worker had before (:func:`_new_uid`): the
  worker drops to it (no groups) after that setup, so it can signal no other process, write nowhere but
  its copy and its scratch space, read nothing private to root, and RLIMIT_NPROC counts its own
  processes only (a fork bomb starves nobody else). ``close()`` kills every process of that uid, which
  also catches double-forked daemons when there is no PID namespace.

Without namespaces (e.g. a container under Docker's default seccomp profile), as root ("own uid"): the
worker sees the machine's files and processes, so before the first worker the grader checks for real, as
such a uid (:func:`require_private`), that it can read the interpreter and can neither read nor write the
kit's secrets (:func:`secret_paths`: solutions, graders, grading.yml, data) nor the original submissions
(:func:`autograder.grade.grade_one`), nor write the grader's copy of the submission or the output
folder; otherwise every check is the grader's error, naming the paths and the ``chmod`` that fixes them
(the Gradescope setup.sh and run_autograder run it). Without namespaces and without
root ("none"): the worker runs as the grader's user, a process that leaves its session can outlive it, and
hidden checks are refused unless the staff pass ``--allow-unisolated`` (:mod:`autograder.plugin`). Tests
that need the full isolation skip on such machines and say why; ``AUTOGRADER_NO_NAMESPACES=1`` in the
grader's environment emulates a machine without namespaces.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from autograder.config import ROOT
from autograder.judges import GraderFault, OutOfTime, ProbeFailed
from autograder.sandbox import wire
from autograder.sandbox.plan import Plan
from autograder.submissions import copy_tree

LOG_TAIL_BYTES = 2000
MAX_ERROR_CHARS = 4000  # feedback from the worker is cut to this (its head and its tail)
STARTUP_TIMEOUT = 120.0
SAFE_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
PACKAGE = Path(__file__).resolve().parent
#: The part of the kit the worker imports (globs relative to the package), copied next to the submission.
WORKER_FILES = ("__init__.py", "sandbox/*.py", "graders/__init__.py", "graders/*/__init__.py", "graders/*/probes.py")
#: Data sets hidden from the worker wherever they are (the grader sends it the images it needs).
DATA_PATHS = (Path("/usr/share/datasets"),)
#: What the worker's root holds besides the interpreter (read-only binds; symbolic links such as
#: /bin -> usr/bin are recreated as links), then /dev and /sys (bound), /proc (fresh) and scratch tmpfs.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
NAMESPACES = ("--pid", "--fork", "--kill-child", "--mount-proc", "--net", "--mount", "--ipc")
#: The machine's folders every user may write to: the worker's scratch space (fresh tmpfs with namespaces)
SCRATCH_PATHS = (tempfile.gettempdir(), "/dev/shm", "/var/tmp")
#: Workers get uids from here up, each one no worker had before (:func:`_new_uid`).
UID_BASE = 2**30
#: The count of worker uids handed out on this machine (root's: only the grader as root writes it).
UID_COUNTER = Path("/run" if os.path.isdir("/run") else "/var/lib") / "autograder-worker-uids"
#: The uid the grader checks what a worker without namespaces could read as (:func:`require_private`).
PROBE_UID = UID_BASE - 1
#: At most this many files under each secret folder are tried by :func:`require_private`.
MAX_CHECKED_FILES = 2000


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker process (its children inherit them)."""

    memory_mb: int | None = 6144  # address space (torch alone maps ~1.5 GiB); None: unlimited, for CUDA,
    #                               which reserves far more virtual memory than it uses
    cpu_seconds: int = 1800     # CPU time over the worker's whole life
    processes: int = 512        # RLIMIT_NPROC counts threads, and torch starts some
    open_files: int = 256
    file_mb: int = 64           # largest file the worker may write (its output log included)
    threads: int = 1            # torch / BLAS threads
    scratch_mb: int = 1024      # size of each writable tmpfs (with namespaces)
    resident_mb: int = 6144     # memory of the worker's cgroup, on both tiers: what it writes to tmpfs and
    #                             memfds included (where cgroups are writable; elsewhere memory_mb alone)


@dataclass(frozen=True)
class Isolation:
    """What this machine lets the grader apply: fresh namespaces, and a uid of its own per worker."""

    namespaces: bool
    own_uid: bool

    @property
    def level(self) -> str:
        """"namespaces", "own uid" (root without namespaces) or "none" (the grader's own uid, unconfined)."""
        return "namespaces" if self.namespaces else "own uid" if self.own_uid else "none"


@functools.cache
def isolation() -> Isolation:
    """Try the namespaces once with ``unshare`` (as root directly, otherwise inside a user namespace).
    ``AUTOGRADER_NO_NAMESPACES=1`` in the grader's environment makes the probe fail (tests emulate a
    container that refuses them)."""
    root = os.geteuid() == 0
    command = ("unshare", *([] if root else ["--user", "--map-root-user"]), *NAMESPACES)
    try:
        works = os.environ.get("AUTOGRADER_NO_NAMESPACES") != "1" and shutil.which("unshare") is not None and \
            subprocess.run([*command, "true"], stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                           check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        works = False
    return Isolation(namespaces=works, own_uid=root)


def _rlimits(limits: Limits) -> dict[str, int]:
    """The rlimits the worker sets on itself (soft = hard) before it drops privileges."""
    mb = 2**20
    memory = limits.memory_mb * mb if limits.memory_mb is not None else resource.RLIM_INFINITY
    return {"RLIMIT_AS": memory, "RLIMIT_CPU": limits.cpu_seconds, "RLIMIT_NPROC": limits.processes,
            "RLIMIT_NOFILE": limits.open_files, "RLIMIT_FSIZE": limits.file_mb * mb, "RLIMIT_CORE": 0}


def interpreter_paths() -> list[Path]:
    """The folders the worker's interpreter needs: the environment and the Python it is built on."""
    paths = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    return sorted(paths)


def secret_paths(extra: tuple[Path, ...] = ()) -> list[Path]:
    """What student code must never read: the reference solutions, the kit's history, grading.yml, the
    installed package (graders, ``_reference``), the data sets and ``extra`` (those that exist)."""
    candidates = [ROOT / "solutions", ROOT / ".git", ROOT / "grading.yml", PACKAGE, *DATA_PATHS, *extra]
    if os.environ.get("AUTOGRADER_DATA"):
        candidates.append(Path(os.environ["AUTOGRADER_DATA"]))
    return [path for path in dict.fromkeys(Path(p).resolve() for p in candidates) if path.exists()]


def mount_plan(extra: tuple[Path, ...] = ()) -> tuple[list[str], list[str]]:
    """(hide, keep) for a worker with namespaces. ``keep``: the interpreter's folders, bound into the
    worker's root next to :data:`SYSTEM_PATHS`. ``hide``: the whole kit checkout and the secrets
    (:func:`secret_paths`), covered with empty tmpfs wherever they lie inside what is bound (deepest first,
    before ``keep`` is bound, so that the environment inside the checkout stays usable)."""
    hide = [str(path) for path in dict.fromkeys([ROOT.resolve(), *secret_paths(extra)])]
    hide.sort(key=lambda path: -len(Path(path).parts))
    return hide, [str(path) for path in interpreter_paths()]


def require_private(secret: tuple[Path, ...], unwritable: tuple[Path, ...] = ()) -> None:
    """For a worker with a uid of its own but no namespaces: check for real, as such a uid (no groups),
    that it can read the interpreter and can neither read nor write ``secret``, nor write ``unwritable``; raise
    :class:`GraderFault` naming the paths and the fix otherwise. A success is kept for the process."""
    problems = _private_problems(tuple(secret), ()) + _private_problems((), tuple(unwritable))
    if problems:
        _private_problems.cache_clear()  # only a success is kept: the staff may fix the modes and grade again
        raise GraderFault("student code cannot be isolated here (no namespaces: it would run under a uid of its "
                          "own on the machine's files): " + "; ".join(problems))


def _sample(path: Path) -> list[str]:
    """``path`` and, for a folder, its folders and files (up to :data:`MAX_CHECKED_FILES`)."""
    found = [str(path)]
    for folder, folders, files in os.walk(path):
        found += [os.path.join(folder, name) for name in folders + files]
        if len(found) > MAX_CHECKED_FILES:
            break
    return found[:MAX_CHECKED_FILES]


@functools.lru_cache(maxsize=64)
def _private_problems(secret: tuple[Path, ...], unwritable: tuple[Path, ...]) -> list[str]:
    needed = [*interpreter_paths(), Path(os.__file__).parent] if secret else []
    tried = {"needed": [str(p) for p in needed], "secret": {str(p): _sample(p) for p in secret},
            "unwritable": {str(p): _sample(p) for p in unwritable}}
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # only os calls from here: the grader may have threads
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(PROBE_UID)
            os.setuid(PROBE_UID)
            found = {"unreachable": [p for p in tried["needed"] if not os.access(p, os.R_OK | os.X_OK)],
                     "readable": [next((p for p in paths if _readable(p) or os.access(p, os.W_OK)), None)
                                  for paths in tried["secret"].values()],
                     "writable": [next((p for p in paths if os.access(p, os.W_OK)), None)
                                  for paths in tried["unwritable"].values()]}
            os.write(write_end, json.dumps(found).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        found = json.loads(pipe.read() or b"{}")
    os.waitpid(child, 0)
    if not found:
        return ["the check of what a worker's uid can read failed"]
    problems = []
    if found["unreachable"]:
        problems.append(f"that uid cannot read Python at {', '.join(found['unreachable'])} (a folder above it is "
                        "closed to other users): install Python and its environment where every user may read them")
    readable = [f"{top} ({path})" if path != top else top for top, path in zip(tried["secret"], found["readable"]) if path]
    if readable:
        tops = " ".join(top for top, path in zip(tried["secret"], found["readable"]) if path)
        problems.append(f"that uid can read (or write) {', '.join(readable)}: make them private to the grader "
                        f"(`chmod -R go-rwx {tops}`, as the Gradescope setup.sh does)")
    writable = [path for path in found["writable"] if path]
    if writable:
        problems.append(f"that uid can write {', '.join(writable)}: make them writable by the grader only "
                        f"(`chmod -R go-w {' '.join(writable)}`)")
    return problems


def _readable(path: str) -> bool:
    """Whether this process may list the folder or open the file ``path``."""
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW))
    except OSError:
        return False
    return True


def _new_uid() -> int:
    """A worker uid no worker had before on this machine (until :data:`UID_COUNTER` is reset at boot): a
    counter in a file of root's, incremented under a lock, so that neither a recycled grader pid nor a
    second grader hands out a uid (and the keys, files and processes it may have left) twice."""
    descriptor = os.open(UID_COUNTER, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        if os.fstat(descriptor).st_uid != os.geteuid():
            raise GraderFault(f"{UID_COUNTER} is not the grader's: remove it")
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        used = int(os.read(descriptor, 32).strip() or b"0")
        os.lseek(descriptor, 0, os.SEEK_SET)
        os.ftruncate(descriptor, 0)
        os.write(descriptor, str(used + 1).encode())
    finally:
        os.close(descriptor)
    return UID_BASE + used % (2**31 - UID_BASE)


def _copy_worker_kit(target: Path) -> None:
    """The worker-side modules of the kit (:data:`WORKER_FILES`) under ``target/autograder``."""
    for pattern in WORKER_FILES:
        for source in PACKAGE.glob(pattern):
            destination = target / "autograder" / source.relative_to(PACKAGE)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)


class _Forked:
    """A worker forked by the zygote: ``pid`` is its handler (the leader of its session), ``wait`` its exit
    code (negative for a signal; SIGKILL when the handler itself was killed)."""

    def __init__(self, pid: int, connection: socket.socket):
        self.pid, self.connection, self.returncode = pid, connection, None

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.connection.settimeout(timeout)
            try:
                message = self.connection.recv(4096)
            except TimeoutError:
                raise subprocess.TimeoutExpired("worker", timeout) from None
            self.returncode = json.loads(message)["status"] if message else -signal.SIGKILL
            self.connection.close()
        return self.returncode


class WorkerZygote:
    """The process every worker is forked from (:func:`autograder.sandbox.worker.serve_zygote`): a fresh
    ``python -I -B`` with a scrubbed environment, started from its own copy of the worker-side kit, that
    imports numpy and torch once and nothing of the kit, the reference or any submission.

    ``WorkerZygote()`` starts one; ``WorkerZygote(address, pid)`` is one that another process started (the
    grader zygote's, :mod:`autograder.zygote`, which is the parent of its worker zygote)."""

    def __init__(self, address: str | None = None, pid: int | None = None):
        self.process: subprocess.Popen | None = None
        if address is None:
            folder = Path(tempfile.mkdtemp(prefix="autograder-worker-zygote-"))
            self.process = self.launch(folder)
            address, pid = str(folder / "socket"), self.process.pid
        self.address, self.pid, self.folder = address, pid, Path(address).parent
        self.owner = os.getpid() if self.process else None
        if self.process and self.process.stdout.readline().strip() != b"ready":
            self.close()
            raise OSError(f"the worker zygote failed to start: {self.log_tail()}")

    @staticmethod
    def launch(folder: Path, grader_zygote: bool = False) -> subprocess.Popen:
        """Start ``python -I -B FOLDER/kit/autograder/sandbox/worker.py FOLDER/socket`` from a fresh copy of
        the worker-side kit, stderr in ``FOLDER/zygote.log``. With ``grader_zygote``, it forks the worker
        zygote, then waits on stdin for the grader zygote's request and becomes it (its own process group: a
        ``killpg`` stops both). ``AUTOGRADER_PRELOAD`` (comma-separated, set by the Gradescope script) names
        the optional libraries it imports (:data:`autograder.sandbox.worker.OPTIONAL`; default: all)."""
        _copy_worker_kit(folder / "kit")
        env = {key: os.environ[key] for key in SAFE_ENVIRONMENT if key in os.environ}
        preload = ["--preload", os.environ["AUTOGRADER_PRELOAD"]] if "AUTOGRADER_PRELOAD" in os.environ else []
        with open(folder / "zygote.log", "wb") as log:
            return subprocess.Popen(
                [sys.executable, "-I", "-B", str(folder / "kit" / "autograder" / "sandbox" / "worker.py"),
                 str(folder / "socket"), *(["--grader-zygote"] if grader_zygote else []), *preload],
                stdin=subprocess.PIPE if grader_zygote else subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                cwd="/", env=env, start_new_session=True)

    def log_tail(self) -> str:
        return (self.folder / "zygote.log").read_bytes()[-LOG_TAIL_BYTES:].decode("utf-8", "replace")

    def alive(self) -> bool:
        if os.getpid() == self.owner:
            return self.process.poll() is None
        try:  # started elsewhere, or a fork of its owner (a grader): not its parent, so no poll()
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def fork(self, plan: Plan, env: dict[str, str], descriptors: list[int]) -> _Forked:
        """A new worker running ``worker.main`` on ``plan`` with ``descriptors`` (requests, replies, log) and
        exactly ``env``, in fresh namespaces when ``plan.namespaces``."""
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            connection.settimeout(STARTUP_TIMEOUT)
            connection.connect(self.address)
            request = {"plan": plan.to_json(), "env": env, "namespaces": plan.namespaces}
            socket.send_fds(connection, [json.dumps(request).encode()], descriptors)
            message = connection.recv(4096)
            if not message:
                raise OSError(f"the worker zygote could not start a worker: {self.log_tail()}")
            return _Forked(json.loads(message)["pid"], connection)
        except BaseException:
            connection.close()
            raise

    def close(self) -> None:
        """Stop the zygote (only in the process that started it; its forks leave it running)."""
        if os.getpid() != self.owner:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_zygote: WorkerZygote | None = None
_zygote_lock = threading.Lock()


def worker_zygote(adopt: WorkerZygote | None = None) -> WorkerZygote:
    """This process's worker zygote: ``adopt`` when given (the grader zygote's), else the one inherited from
    the grader zygote, or one started here on first use."""
    global _zygote
    with _zygote_lock:
        if adopt is not None:
            _zygote = adopt
        elif _zygote is None or not _zygote.alive():
            _zygote = WorkerZygote()
            atexit.register(_zygote.close)
        return _zygote


class Worker:
    """The isolated worker of one submission (a fork of the worker zygote), restarted after any failure.

    ``hide``: more paths the worker must not see (e.g. the grader's data root and grading.yml): covered
    with namespaces, checked unreadable by the worker's uid without.
    """

    def __init__(self, submission: Path, limits: Limits = Limits(), hide: tuple[Path, ...] = ()):
        self.source = Path(submission).resolve()
        self.limits = limits
        self.hide = tuple(Path(p) for p in hide)
        self.isolation = isolation()
        self.uid: int | None = None  # its own, when the grader is root (given at the first start)
        self.process: _Forked | None = None
        self.home: Path | None = None
        self.cgroup = None  # the running worker's cgroup, where this machine lets the grader make one
        self.starts = 0
        self.waited = 0.0  # seconds the grader spent waiting for a worker to be ready
        self.deadline: float | None = None  # time.time() past which no probe runs (the grading deadline)
        self._ready = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Start the worker without waiting for it (it sets itself up while the grader gets ready)."""
        if self.process is not None:
            return
        # home (grader's, 0711: the worker's uid may cross it, not list it): output.log, box/
        # box (the worker's): kit/ (worker-side modules), submission/ (working copy, the cwd), HOME, TMPDIR
        if self.isolation.own_uid and not self.isolation.namespaces:
            require_private(tuple(secret_paths(self.hide)), unwritable=(self.source,))
        if self.isolation.own_uid and self.uid is None:
            try:
                self.uid = _new_uid()
            except OSError as error:
                raise GraderFault(f"no uid could be handed to the worker ({error})") from None
        self.home = Path(tempfile.mkdtemp(prefix="autograder-worker-"))
        self.home.chmod(0o711)
        box = self.home / "box"
        copy_tree(self.source, box / "submission")
        _copy_worker_kit(box / "kit")
        hide, keep = mount_plan(self.hide) if self.isolation.namespaces else ([], [])
        (self.home / "root").mkdir()
        self.cgroup = _worker_cgroup(self.limits, self.home.name)
        plan = Plan(box=str(box), uid=self.uid, namespaces=self.isolation.namespaces, root=str(self.home / "root"),
                    system=SYSTEM_PATHS, keep=tuple(keep), hide=tuple(hide), scratch=SCRATCH_PATHS,
                    scratch_mb=self.limits.scratch_mb, rlimits=_rlimits(self.limits),
                    cgroups=tuple(str(path) for path in self.cgroup.procs) if self.cgroup else ())
        env = {key: os.environ[key] for key in SAFE_ENVIRONMENT if key in os.environ}
        env.update(HOME=str(box), TMPDIR=str(box), USER="student", LOGNAME="student", MPLBACKEND="Agg",
                   AUTOGRADER_THREADS=str(self.limits.threads), PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
        requests_read, self._requests = os.pipe()
        self._replies, replies_write = os.pipe()
        self.log_path = self.home / "output.log"
        log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            self.process = worker_zygote().fork(plan, env, [requests_read, replies_write, log])
        except OSError as error:
            for descriptor in (self._requests, self._replies):
                os.close(descriptor)
            self.close()
            raise GraderFault(f"the worker failed to start ({error})") from None
        finally:
            for descriptor in (requests_read, replies_write, log):
                os.close(descriptor)
        self.starts += 1
        self._ready = False

    def _wait_until_ready(self) -> None:
        started = time.monotonic()
        wait = min(STARTUP_TIMEOUT, self._time_left())
        try:
            hello = wire.receive(self._replies, deadline=time.monotonic() + wait)
        except (TimeoutError, EOFError, wire.WireError) as error:
            try:
                status = self.process.wait(timeout=1) if self.process and not isinstance(error, TimeoutError) else None
            except subprocess.TimeoutExpired:
                status = None
            excerpt = self._log_excerpt()
            cause = self._exit_cause(status) if status is not None else type(error).__name__
            self.close()
            if isinstance(error, TimeoutError) and wait < STARTUP_TIMEOUT:
                raise OutOfTime("not run: the grading time ran out while the worker started") from None
            raise GraderFault(f"the worker failed to start ({cause}){excerpt}") from None
        if hello != {"ready": True}:
            self.close()
            raise GraderFault("the worker failed to start (unexpected greeting)")
        self._ready = True
        self.waited += time.monotonic() - started

    def _time_left(self) -> float:
        return float("inf") if self.deadline is None else max(0.0, self.deadline - time.time())

    def call(self, probe: str, timeout: float, seed: int = 0, /, **args):
        """Run ``probe(**args)`` in the worker and return its value; raise ProbeFailed otherwise (OutOfTime
        when the grading deadline, not ``timeout``, stopped it)."""
        self.start()
        if not self._ready:
            self._wait_until_ready()
        capped = self._time_left() < timeout
        timeout = min(timeout, self._time_left())
        started = time.monotonic()
        try:
            wire.send(self._requests, {"probe": probe, "args": args, "seed": seed})
            reply = wire.receive(self._replies, deadline=started + timeout)
        except TimeoutError:
            self.close()
            if capped:
                raise OutOfTime(f"stopped after {timeout:.0f} s: the grading time ran out (the submission's "
                                "code was still running)") from None
            raise ProbeFailed(f"timed out after {timeout:g} s (an infinite loop, or too slow?)") from None
        except (BrokenPipeError, EOFError):
            try:
                status = self.process.wait(timeout=5) if self.process else None
            except subprocess.TimeoutExpired:
                status = None
            excerpt, cause = self._log_excerpt(), self._exit_cause(status)
            self.close()
            raise ProbeFailed(f"the worker running the submission stopped ({cause}){excerpt}") from None
        except (wire.WireError, KeyError, ValueError, IndexError) as error:
            self.close()
            raise ProbeFailed(f"the worker sent back an invalid reply ({error})") from None
        if not isinstance(reply, dict) or "ok" not in reply:
            self.close()
            raise ProbeFailed("the worker sent back an invalid reply")
        if not reply["ok"]:
            raise ProbeFailed(_shortened(str(reply.get("error", "unknown error"))))
        return reply.get("value")

    def _exit_cause(self, status: int | None) -> str:
        """Why the worker stopped: out of memory when its cgroup says so, else its exit status."""
        with contextlib.suppress(OSError, ValueError):
            if self.cgroup is not None and self.cgroup.oom_killed:
                return (f"killed: out of memory, over its limit of {self.limits.resident_mb} MiB (files written "
                        "in memory included)")
        return _describe_exit(status)

    def _log_excerpt(self) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(max(0, os.path.getsize(self.log_path) - LOG_TAIL_BYTES))
                text = log.read().decode("utf-8", "replace").strip()
        except (OSError, AttributeError):
            return ""
        return f"; its last output:\n{text}" if text else ""

    def close(self) -> None:
        """Kill the worker and everything it started, and remove its working copy."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # the worker's handler and its session
            except (ProcessLookupError, PermissionError):
                pass
            if self.uid is not None:
                _kill_uid(self.uid)
            self.process.wait()
            if self.uid is not None and not self.isolation.namespaces:
                _remove_files_of(self.uid)
            for fd in (self._requests, self._replies):
                os.close(fd)
            self.process = None
        if self.cgroup is not None:
            with contextlib.suppress(OSError):  # a folder left behind costs nothing to the grading
                self.cgroup.close()  # kills whatever of it is left, even processes that left its session
            self.cgroup = None
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None


def _worker_cgroup(limits: Limits, name: str):
    """A fresh cgroup for one worker (``resident_mb``, ``processes``, the default CPU weight: a worker with
    hundreds of spinning processes gets no more CPU than its neighbour), or None where this process may
    not make one (the rlimits alone bound the worker then)."""
    from autograder.emulate import Cgroup

    try:
        return Cgroup(name, limits.resident_mb, None, processes=limits.processes, weight=100)
    except (OSError, ValueError):
        return None


def _remove_files_of(uid: int) -> None:
    """Remove what ``uid`` left in the machine's scratch folders (:data:`SCRATCH_PATHS`; files in /dev/shm
    would keep their memory), where a worker without namespaces may write."""
    for folder in SCRATCH_PATHS:
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_uid != uid:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path)
                    else:
                        os.unlink(entry.path)


def _kill_uid(uid: int) -> None:
    """SIGKILL every process of ``uid``: kill(-1) sent by a forked child that took that uid (it spares itself)."""
    child = os.fork()
    if child == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(child, 0)


def _shortened(text: str) -> str:
    if len(text) <= MAX_ERROR_CHARS:
        return text
    half = MAX_ERROR_CHARS // 2
    return f"{text[:half]} [... {len(text) - 2 * half} characters cut ...] {text[-half:]}"


def _describe_exit(status: int | None) -> str:
    if status is None:
        return "it did not exit"
    if status < 0 or status > 128:  # unshare exits 128 + N when its child died of signal N
        number = -status if status < 0 else status - 128
        try:
            name = signal.Signals(number).name
        except ValueError:
            return f"exit code {status}"
        reason = {"SIGKILL": "killed, e.g. out of memory or CPU time", "SIGXCPU": "CPU time limit",
                  "SIGSEGV": "crashed", "SIGXFSZ": "wrote a file over the size limit"}.get(name, "signal")
        return f"{name}: {reason}"
    return f"exit code {status}, e.g. sys.exit() or os._exit() in student code"
