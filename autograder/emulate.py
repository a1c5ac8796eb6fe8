"""Run a Gradescope autograder zip as Gradescope does, on this machine: the zip unpacked under
``<root>/source``, the submission in ``<root>/submission``, the real ``run_autograder`` with
``AUTOGRADER_GRADESCOPE_DIR=<root>``, inside a memory cgroup (and a CPU quota) like Gradescope's container.

Cgroup v1 (``memory``, ``cpu`` and ``pids`` hierarchies) or v2, whichever is writable here;
:func:`cgroup_problem` says why none is. The cgroup is made below the one this process is in and removed
afterwards. (:class:`Cgroup` also bounds each grader, :mod:`autograder.zygote`, and each worker,
:mod:`autograder.workers`.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")
#: This process's cgroups before it joined one of its own (:func:`join`): where the cgroups it makes go
_home: dict[str, str] = {}


def _cgroups() -> dict[str, str]:
    """This process's cgroup path per controller (v1), and its v2 path under ``""``."""
    paths = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        paths.update(dict.fromkeys(controllers.split(","), path.lstrip("/")))
    return paths


def _own(controller: str) -> str:
    """The path in ``controller``'s hierarchy (v1), or the v2 path for ``""``, below which this process makes
    cgroups: its own, or the one it was in before it joined one (:func:`join`)."""
    path = (_home or _cgroups()).get(controller)
    if path is None:
        raise OSError(f"no {controller or 'v2'} cgroup")
    return path


def join(procs: list[str]) -> None:
    """Move the calling process into the cgroup whose ``cgroup.procs`` files are ``procs``. The cgroups it
    makes afterwards (a grader's workers') go beside that one, where the process was: below it, cgroup v2
    would refuse them controllers and v1 would charge their memory to it."""
    if not _home:
        _home.update(_cgroups())
    for path in procs:
        Path(path).write_text("0")


class Cgroup:
    """A fresh cgroup with ``memory_mb`` (memory in files in memory included, no swap), ``cpus`` (a fraction
    of one CPU), at most ``processes`` tasks and a CPU ``weight`` (100: the default share; these two where the
    machine has their controllers); ``peak_mb`` and ``oom_killed`` once its processes ran; ``close``
    removes it. ``add`` is meant for a child's ``preexec_fn``; ``procs`` are the files a process joins it
    by writing its pid (0: itself)."""

    def __init__(self, name: str, memory_mb: int | None, cpus: float | None, processes: int | None = None,
                 weight: int | None = None):
        self.folders: list[Path] = []
        self.v2 = not (CGROUP / "memory" / "memory.limit_in_bytes").exists()
        try:
            if self.v2:
                self.memory = self.cpu = self._make(CGROUP / _own("") / name)
                if processes and (self.memory / "pids.max").exists():  # where the controllers are enabled
                    (self.memory / "pids.max").write_text(str(processes))
                if weight and (self.cpu / "cpu.weight").exists():
                    (self.cpu / "cpu.weight").write_text(str(weight))
                if memory_mb:
                    (self.memory / "memory.max").write_text(str(memory_mb * 2**20))
                    (self.memory / "memory.swap.max").write_text("0")
                if cpus:
                    (self.cpu / "cpu.max").write_text(f"{int(cpus * 100000)} 100000")
            else:
                self.memory = self._make(CGROUP / "memory" / _own("memory") / name)
                self.cpu = self._make(CGROUP / "cpu" / _own("cpu") / name)
                if memory_mb:
                    (self.memory / "memory.limit_in_bytes").write_text(str(memory_mb * 2**20))
                    if (self.memory / "memory.memsw.limit_in_bytes").exists():
                        (self.memory / "memory.memsw.limit_in_bytes").write_text(str(memory_mb * 2**20))
                if cpus:
                    (self.cpu / "cpu.cfs_period_us").write_text("100000")
                    (self.cpu / "cpu.cfs_quota_us").write_text(str(int(cpus * 100000)))
                if weight:
                    (self.cpu / "cpu.shares").write_text(str(weight * 1024 // 100))
                if processes and (CGROUP / "pids").is_dir():
                    (self._make(CGROUP / "pids" / _own("pids") / name) / "pids.max").write_text(str(processes))
        except OSError:
            self.close()
            raise

    def _make(self, folder: Path) -> Path:
        folder.mkdir()
        self.folders.append(folder)
        return folder

    @property
    def procs(self) -> list[Path]:
        return [folder / "cgroup.procs" for folder in self.folders]

    def add(self) -> None:
        """Move the calling process into the cgroup (:func:`join`)."""
        join([str(path) for path in self.procs])

    @property
    def peak_mb(self) -> float:
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        return int((self.memory / name).read_text()) / 2**20

    @property
    def oom_killed(self) -> bool:
        if self.v2:
            events = dict(line.split() for line in (self.memory / "memory.events").read_text().splitlines())
            return int(events.get("oom_kill", 0)) > 0
        control = dict(line.split() for line in (self.memory / "memory.oom_control").read_text().splitlines())
        return int(control.get("oom_kill", 0)) > 0

    def close(self) -> None:
        """Kill what is left in it and remove it, cgroups made below it first (a worker's, left by a grader
        killed at the deadline). Processes may take a while to exit (a fork bomb's hundreds on a busy
        machine): killed again until each folder can be removed, for up to 30 s."""
        deadline = time.monotonic() + 30
        below = [path for top in self.folders for path in top.rglob("*") if path.is_dir()]
        for folder in [*sorted(below, key=lambda path: -len(path.parts)), *reversed(self.folders)]:
            while True:
                for pid in map(int, (folder / "cgroup.procs").read_text().split()):
                    try:
                        os.kill(pid, 9)
                    except ProcessLookupError:
                        pass
                try:
                    folder.rmdir()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        self.folders = []


def cgroup_problem() -> str | None:
    """Why no memory cgroup can be made here, or None."""
    try:
        Cgroup(f"autograder-probe-{os.getpid()}", 512, 0.5).close()
    except OSError as error:
        return f"no writable memory/cpu cgroup under {CGROUP} ({type(error).__name__}: {error})"
    return None


@dataclass
class Run:
    """One emulated grading: results.json (None if absent), peak memory, wall time, exit code, OOM kill."""

    results: dict | None
    peak_mb: float
    seconds: float
    returncode: int
    oom_killed: bool
    stderr: str


def unpack(gradescope_zip: Path, root: Path) -> Path:
    """``root`` laid out like Gradescope's /autograder: source/ (the zip) and an empty submission/."""
    with zipfile.ZipFile(gradescope_zip) as archive:
        archive.extractall(root / "source")
    for name in ("run_autograder", "setup.sh"):
        (root / "source" / name).chmod(0o755)
    (root / "submission").mkdir(exist_ok=True)
    return root


def run_autograder(root: Path, env: dict[str, str], memory_mb: int | None = 768, cpus: float | None = 0.5,
                   timeout: float = 900) -> Run:
    """Run ``root/source/run_autograder`` in a fresh cgroup (``env`` completes the caller's environment)."""
    environment = {**os.environ, "AUTOGRADER_GRADESCOPE_DIR": str(root), **env}
    group = Cgroup(f"autograder-gradescope-{os.getpid()}-{time.monotonic_ns()}", memory_mb, cpus)
    try:
        started = time.monotonic()
        done = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=environment,
                              preexec_fn=group.add, capture_output=True, text=True, timeout=timeout, check=False)
        seconds = time.monotonic() - started
        peak, oom = group.peak_mb, group.oom_killed
    finally:
        group.close()
    path = root / "results" / "results.json"
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError):
        results = None
    return Run(results, peak, seconds, done.returncode, oom, done.stderr)


def copy_submission(files: dict[str, str] | Path, root: Path) -> None:
    """Put ``files`` (relative path -> text, or a folder to copy) into ``root/submission``."""
    target = root / "submission"
    if isinstance(files, Path):
        shutil.copytree(files, target, dirs_exist_ok=True)
        return
    for relative, text in files.items():
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).write_text(text, encoding="utf-8")
