"""A real single-node Slurm for the tests, from Debian's packages: munged (as the munge user), MariaDB
and slurmdbd (submitit reads job states with ``sacct``, which needs the accounting daemon), slurmctld
and slurmd, all listening on 127.0.0.1 only, configured and logging under one temporary folder.

:func:`start` returns a :class:`Cluster` once ``sinfo`` shows the node idle; :meth:`Cluster.stop`
ends every daemon it started (by pid) and waits for each.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "slurmdbd", "munge", "mariadb-server")
COMMANDS = ("slurmctld", "slurmd", "slurmdbd", "sinfo", "sacct", "munged", "mariadbd", "mariadb-install-db")
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")


class Unavailable(RuntimeError):
    """Slurm is missing and cannot be installed here (the message says why)."""


class StartFailed(RuntimeError):
    """Installing failed, or a daemon exited or did not come up (the message says which, with its log)."""


def install() -> None:
    """Install the Debian packages when a command is missing (root and apt-get required)."""
    if all(shutil.which(c) for c in COMMANDS):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable("Slurm is not installed and installing it needs root and apt-get "
                          f"(apt-get install {' '.join(PACKAGES)})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *PACKAGES]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode:
            raise StartFailed(f"{' '.join(command)} failed: {done.stderr[-800:]}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(what: str, ready, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise StartFailed(f"{what} was not ready after {seconds:g} s")
        time.sleep(0.2)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Cluster:
    """The running daemons; ``env`` is the environment for Slurm clients (sbatch, sacct, submitit)."""

    root: Path
    env: dict[str, str]
    daemons: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def spawn(self, name: str, command: list[str], **popen) -> subprocess.Popen:
        log = open(self.root / f"{name}.out", "wb")  # noqa: SIM115 - the daemon holds it until it ends
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env, **popen)
        self.daemons.append((name, process))
        return process

    def alive(self, name: str) -> None:
        for daemon, process in self.daemons:
            if daemon == name and process.poll() is not None:
                log = (self.root / f"{name}.out").read_text(errors="replace")[-1500:]
                raise StartFailed(f"{name} exited with code {process.returncode}:\n{log}")

    def run(self, *command: str) -> str:
        return subprocess.run(command, env=self.env, capture_output=True, text=True, check=True).stdout

    def steps(self) -> list[int]:
        """Pids of the slurmstepd processes of this cluster (slurmd starts them detached, with its
        environment)."""
        found = []
        for folder in Path("/proc").iterdir():
            try:
                if folder.name.isdigit() and (folder / "comm").read_text().strip() == "slurmstepd" and \
                        f"SLURM_CONF={self.env['SLURM_CONF']}".encode() in (folder / "environ").read_bytes():
                    found.append(int(folder.name))
            except OSError:
                continue  # it ended meanwhile
        return found

    def stop(self) -> None:
        """Cancel every job and wait for its job steps to end, then terminate the daemons, last started
        first, and wait for each."""
        if any(name == "slurmd" and process.poll() is None for name, process in self.daemons):
            subprocess.run(["scancel", "--user=root"], env=self.env, capture_output=True, check=False)
            try:
                wait_for("the job steps to end", lambda: not self.steps(), seconds=30)
            except StartFailed:
                for pid in self.steps():
                    os.kill(pid, signal.SIGKILL)
                wait_for("the killed job steps to end", lambda: not self.steps(), seconds=10)
        for _, process in reversed(self.daemons):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.daemons.clear()


def _succeeds(*command: str, env: dict[str, str], **run) -> bool:
    return subprocess.run(command, env=env, capture_output=True, check=False, **run).returncode == 0


def _munge_works(env: dict[str, str]) -> bool:
    encoded = subprocess.run(["munge", "-n"], capture_output=True, env=env, check=False)
    return encoded.returncode == 0 and _succeeds("unmunge", env=env, input=encoded.stdout)


def _start_munge(cluster: Cluster) -> None:
    """Use the host's munged when one answers; otherwise start one as the munge user."""
    if _munge_works(cluster.env):
        return
    key = Path("/etc/munge/munge.key")
    if not key.exists():
        subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True)
        shutil.chown(key, "munge", "munge")
    MUNGE_SOCKET.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    shutil.chown(MUNGE_SOCKET.parent, "munge", "munge")
    cluster.spawn("munged", ["munged", "--foreground", "--force"], user="munge", group="munge")
    wait_for("munged", lambda: cluster.alive("munged") or _munge_works(cluster.env))


def _start_database(cluster: Cluster, port: int) -> None:
    """A throwaway MariaDB for slurmdbd: 127.0.0.1 only, no grant tables (nothing else can reach it)."""
    data = cluster.root / "mariadb"
    subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
                    "--skip-test-db", "--auth-root-authentication-method=normal"],
                   check=True, capture_output=True)
    cluster.spawn("mariadbd", ["mariadbd", "--no-defaults", f"--datadir={data}", "--user=root",
                               "--skip-grant-tables", "--bind-address=127.0.0.1", f"--port={port}",
                               f"--socket={cluster.root / 'mariadb.sock'}", f"--pid-file={cluster.root / 'mariadb.pid'}",
                               "--innodb-buffer-pool-size=32M", "--skip-log-bin"])
    wait_for("mariadbd", lambda: cluster.alive("mariadbd") or listening(port))


def _write_configuration(root: Path, host: str, ports: dict[str, int]) -> Path:
    cpus = min(2, os.cpu_count() or 1)
    memory_mb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                         if line.startswith("MemTotal:"))) // 1024 - 512
    for folder in ("state", "spool"):
        (root / folder).mkdir()
    dbd = root / "slurmdbd.conf"
    dbd.write_text(f"""AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={ports['slurmdbd']}
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={ports['mariadbd']}
StorageUser=root
StorageLoc=slurm_acct_db
PidFile={root}/slurmdbd.pid
LogFile={root}/slurmdbd.log
""")
    dbd.chmod(0o600)
    conf = root / "slurm.conf"
    conf.write_text(f"""ClusterName=autograder
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ports['slurmctld']}
SlurmdPort={ports['slurmd']}
SlurmUser=root
AuthType=auth/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort={ports['slurmdbd']}
KillWait=5
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
    return conf


def _node_state(cluster: Cluster) -> str:
    done = subprocess.run(["sinfo", "--noheader", "--format=%T"], env=cluster.env, capture_output=True, text=True,
                          check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def start(root: Path) -> Cluster:
    """Install when needed, configure under ``root`` and start the daemons; stop them on any failure."""
    if os.geteuid() != 0:
        raise Unavailable("starting slurmd, slurmctld and munged needs root")
    install()
    host = subprocess.run(["hostname", "-s"], capture_output=True, text=True, check=True).stdout.strip()
    ports = {name: free_port() for name in ("slurmctld", "slurmd", "slurmdbd", "mariadbd")}
    conf = _write_configuration(root, host, ports)
    cluster = Cluster(root, {**os.environ, "SLURM_CONF": str(conf)})
    try:
        _start_munge(cluster)
        _start_database(cluster, ports["mariadbd"])
        cluster.spawn("slurmdbd", ["slurmdbd", "-D"])
        wait_for("slurmdbd", lambda: cluster.alive("slurmdbd") or listening(ports["slurmdbd"]))
        cluster.spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", str(conf)])
        wait_for("slurmctld", lambda: cluster.alive("slurmctld") or listening(ports["slurmctld"]))
        cluster.spawn("slurmd", ["slurmd", "-D", "-f", str(conf)])
        wait_for("an idle node in sinfo", lambda: cluster.alive("slurmd") or _node_state(cluster) == "idle")
        wait_for("sacct", lambda: _succeeds("sacct", "-n", env=cluster.env))
    except BaseException:
        cluster.stop()
        raise
    return cluster
