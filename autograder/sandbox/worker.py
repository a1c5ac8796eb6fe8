"""The untrusted side: an interpreter that runs probes against one student submission.

Workers are forks of the worker zygote, ``python -I -B KIT/autograder/sandbox/worker.py SOCKET``
started by :mod:`autograder.workers` from a copy of the worker-side kit: it imports the libraries
once (:data:`PRELOADED`), holds nothing else (no kit, no reference, no submission), and for each request
forks a handler that enters fresh namespaces and forks the worker, pid 1 of its own pid namespace
(:func:`serve_zygote`). Before any student code runs, :func:`confine` applies the worker handle's
:class:`~autograder.sandbox.plan.Plan` (trusted code, still root inside the fresh namespaces): its cgroup, a
root of its own, limits, its own uid, a fresh session keyring, no capability, no_new_privs and a seccomp
filter (:data:`SYSCALLS`); then :func:`main` imports the kit's probe modules (a fault there is the worker's
start failure, the grader's). Student output (fd 1 and 2) goes to a log file the worker handle reads. Each request names a probe function inside the
``autograder`` package and its keyword arguments; the reply is plain data (see
:mod:`autograder.sandbox.wire`) or an error message.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import gc
import glob
import importlib
import json
import os
import resource
import select
import shutil
import signal
import socket
import sys
import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autograder.sandbox.plan import Plan

#: The libraries the worker zygote imports once (the grader zygote shares them: see :func:`serve_zygote`)
PRELOADED = ("numpy", "torch", "torch.nn", "torch.nn.functional", "torch.optim")
#: Libraries it imports too unless told which of them an assignment uses (``--preload``: each costs
#: 30-90 MB, which Gradescope's 768 MB container cannot spare when nothing uses it)
OPTIONAL = ("torchvision", "timm", "sklearn.svm")
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_NOATIME, MS_NODIRATIME = 1, 2, 4, 8, 32, 1024, 2048
MS_BIND, MS_REC, MS_PRIVATE, MS_RELATIME, MNT_DETACH = 4096, 16384, 1 << 18, 1 << 21, 2
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}  # syscall numbers (glibc has no wrapper)
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x8000000, 0x10000000, 0x20000000, 0x40000000
NAMESPACES = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET
MAX_REQUEST = 1 << 20
PR_SET_PDEATHSIG, PR_SET_SECCOMP, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 22, 24, 38
CAPABILITY_VERSION_3 = 0x20080522
KEYCTL_JOIN_SESSION_KEYRING = 1
SECCOMP_MODE_FILTER, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 2, 0x7FFF0000, 0x00050000
#: The system calls student code is refused (EPERM), per architecture: new namespaces, mounts, keyrings,
#: eBPF, tracing and reading other processes, perf events, io_uring, userfaultfd, modules, kexec, swap,
#: reboot; ``clone`` only with a CLONE_NEW* flag; ``socket`` of any family but AF_UNIX (no network, even
#: where there is no network namespace); ``clone3`` (whose flags the filter cannot read) answers ENOSYS, so
#: that the C library falls back to ``clone``.
SYSCALLS = {
    "x86_64": {"audit_arch": 0xC000003E, "clone": 56, "clone3": 435, "keyctl": 250, "socket": 41, "denied": {
        "ptrace": 101, "pivot_root": 155, "chroot": 161, "acct": 163, "mount": 165, "umount2": 166, "swapon": 167,
        "swapoff": 168, "reboot": 169, "init_module": 175, "delete_module": 176, "kexec_load": 246, "add_key": 248,
        "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298, "setns": 308,
        "process_vm_readv": 310, "process_vm_writev": 311, "finit_module": 313, "kexec_file_load": 320, "bpf": 321,
        "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
        "mount_setattr": 442}},
    "aarch64": {"audit_arch": 0xC00000B7, "clone": 220, "clone3": 435, "keyctl": 219, "socket": 198, "denied": {
        "umount2": 39, "mount": 40, "pivot_root": 41, "chroot": 51, "acct": 89, "unshare": 97, "kexec_load": 104,
        "init_module": 105, "delete_module": 106, "ptrace": 117, "reboot": 142, "add_key": 217, "request_key": 218,
        "keyctl": 219, "swapon": 224, "swapoff": 225, "perf_event_open": 241, "setns": 268,
        "process_vm_readv": 270, "process_vm_writev": 271, "finit_module": 273, "bpf": 280, "userfaultfd": 282,
        "kexec_file_load": 294, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
        "mount_setattr": 442}},
}
X32_SYSCALL_BIT = 0x40000000  # x86_64's x32 ABI: the same calls under other numbers, all refused
CLONE_NEW_FLAGS = 0x20000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000


MAX_ERROR_CHARS = 200_000  # of an error message sent back (the grader cuts it further)


def serve(submission: str, requests_fd: int, replies_fd: int) -> None:
    """Answer requests until the channel closes."""
    from autograder.sandbox import wire
    from autograder.sandbox.probing import (
        StudentError,
        resolve_probe,
        seed_everything,
        student_traceback,
        to_plain,
    )

    wire.send(replies_fd, {"ready": True})
    while True:
        try:
            request = wire.receive(requests_fd, limit=wire.MAX_MESSAGE_BYTES, trusted=True)
        except EOFError:
            return
        try:
            probe = resolve_probe(request["probe"])
            seed = int(request.get("seed", 0))
            seed_everything(seed)
            value = to_plain(probe(**request.get("args", {})))
            reply = {"ok": True, "value": value}
        except StudentError as error:
            reply = {"ok": False, "error": str(error)}
        except BaseException as error:  # noqa: BLE001 - student code may raise anything, SystemExit included
            reply = {"ok": False, "error": student_traceback(error, submission)}
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # e.g. the log hit the file size limit
                stream.flush()
        if not reply["ok"] and len(reply["error"]) > MAX_ERROR_CHARS:  # within the grader's reply caps
            text, half = reply["error"], MAX_ERROR_CHARS // 2
            reply["error"] = f"{text[:half]} [... {len(text) - 2 * half} characters cut ...] {text[-half:]}"
        try:
            wire.send(replies_fd, reply)
        except wire.WireError as error:
            wire.send(replies_fd, {"ok": False, "error": f"the result cannot be sent back: {error}"})


_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def encode(text: str | None) -> bytes | None:
        return text.encode() if text is not None else None

    _check(_libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)),
           f"mount {target}")


def _bind(source: str, target: str, read_only: bool) -> None:
    """Bind ``source`` (and the mounts below it) on ``target``; read-only keeps the flags the OS locked."""
    _mount(source, target, None, MS_BIND | MS_REC)
    if read_only:
        locked = os.statvfs(target).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME
                                              | MS_RELATIME)
        _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | locked)


def _build_root(plan: Plan) -> None:
    """The worker's root at ``plan.root``: ``plan.system`` and the interpreter (``plan.keep``) read-only, the
    ``plan.hide`` paths inside them covered, /dev and /sys, a fresh /proc, fresh scratch tmpfs
    (``plan.scratch``) and a copy of the box."""
    new = plan.root
    originals = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in [*plan.keep, plan.box]}
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    for path in plan.system:
        if os.path.islink(path):
            os.symlink(os.readlink(path), new + path)
        elif os.path.isdir(path):
            os.makedirs(new + path)
            _bind(path, new + path, read_only=True)
    for path in plan.hide:  # only what lies inside a bound folder is there to cover
        if os.path.isdir(new + path):
            _mount("tmpfs", new + path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
        elif os.path.isfile(new + path):
            _mount("/dev/null", new + path, None, MS_BIND)
    for path in ("/dev", "/sys"):
        os.makedirs(new + path, exist_ok=True)
        _bind(path, new + path, read_only=False)
    os.makedirs(new + "/proc")
    _mount("proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for path in plan.scratch:
        os.makedirs(new + path, exist_ok=True)
        _mount("tmpfs", new + path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={plan.scratch_mb}m,mode=1777")
    for path in plan.keep:  # after the scratch space: an interpreter under /tmp stays visible
        os.makedirs(new + path, exist_ok=True)
        _bind(f"/proc/self/fd/{originals[path]}", new + path, read_only=True)
    os.makedirs(new + plan.box, mode=0o700)
    shutil.copytree(f"/proc/self/fd/{originals[plan.box]}", new + plan.box, dirs_exist_ok=True)
    for descriptor in originals.values():
        os.close(descriptor)  # no handle on the machine's folders survives


def confine(plan: Plan) -> None:
    """Apply the worker handle's plan; trusted code, run before any student code.

    First, join the cgroup of ``plan.cgroups`` (none where the handle could make none). With
    ``plan.namespaces`` (we are root in fresh mount/pid/net namespaces): build the worker's root on an empty
    tmpfs at ``plan.root`` (:func:`_build_root`) and move into it for good. With ``plan.uid``: hand the box to
    that uid and switch to it. Always: ``plan.rlimits`` (set while still privileged, so they cannot be raised
    again), no capability left, a fresh session keyring, no_new_privs, and the seccomp filter of
    :func:`seccomp_program`.
    """
    box, uid = plan.box, plan.uid
    for procs in plan.cgroups:  # the worker's own cgroup (memory, processes, CPU weight), for all it starts
        with open(procs, "w") as handle:
            handle.write("0")
    if plan.namespaces:
        _build_root(plan)
        os.chdir(plan.root)
        _check(_libc.syscall(PIVOT_ROOT[os.uname().machine], b".", b"."), "pivot_root")
        _check(_libc.umount2(b".", MNT_DETACH), "umount the old root")  # the machine's root is gone
        os.chdir("/")
    for name, value in plan.rlimits.items():
        resource.setrlimit(getattr(resource, name), (value, value))
    if uid is not None:
        for folder, _, files in os.walk(box):
            for path in (folder, *(os.path.join(folder, name) for name in files)):
                os.chown(path, uid, uid, follow_symlinks=False)
    if sys.platform == "linux":  # elsewhere (a student's `autograder check` on macOS): rlimits only
        _drop_capabilities(uid)
        _join_fresh_keyring()
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl")
        _filter_system_calls()


def _drop_capabilities(uid: int | None) -> None:
    """Switch to ``uid`` (if given) and keep no capability, now or after an exec: otherwise the root of a
    user namespace could unmount what hides the kit."""
    if os.geteuid() == 0:
        for capability in range(64):  # the bounding set (an exec as uid 0 would regain it)
            if _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                break  # EINVAL: past the last capability this kernel knows
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        # a change of uid clears the parent-death signal that `unshare --kill-child` set: set it again
        _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
    header = (ctypes.c_uint32 * 2)(CAPABILITY_VERSION_3, 0)
    _check(_libc.capset(header, (ctypes.c_uint32 * 6)()), "capset")  # effective, permitted, inheritable: none


def _join_fresh_keyring() -> None:
    """Leave the grader's session keyring for a new anonymous one (of the worker's uid): no key of the
    teacher's login is reachable, none added outlives the worker. Where keyctl itself is refused (e.g.
    Docker's seccomp profile), student code cannot reach any keyring either."""
    machine = SYSCALLS.get(os.uname().machine)
    if machine is None:
        raise OSError(f"no system call table for {os.uname().machine}: the worker cannot be confined")
    if _libc.syscall(ctypes.c_long(machine["keyctl"]), ctypes.c_long(KEYCTL_JOIN_SESSION_KEYRING), None) < 0:
        error = ctypes.get_errno()
        if error not in (errno.EPERM, errno.ENOSYS, errno.EACCES):
            raise OSError(error, f"keyctl(JOIN_SESSION_KEYRING): {os.strerror(error)}")


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def seccomp_program(machine: str) -> list[tuple[int, int, int, int]]:
    """The classic-BPF seccomp filter (code, jt, jf, k) refusing :data:`SYSCALLS` on ``machine``; it reads
    ``struct seccomp_data``: nr at offset 0, arch at 4, the low half of args[0] at 16."""
    load, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06  # BPF_LD|W|ABS, BPF_JMP|{JEQ,JGE,JSET}|K, BPF_RET|K
    table = SYSCALLS[machine]
    program: list[tuple[int, object, object, int]] = [(load, 0, 0, 4), (jeq, 0, "deny", table["audit_arch"]),
                                                      (load, 0, 0, 0)]
    if machine == "x86_64":
        program.append((jge, "deny", 0, X32_SYSCALL_BIT))
    program += [(jeq, "deny", 0, number) for number in sorted(set(table["denied"].values()))]
    program += [(jeq, 0, 2, table["socket"]), (load, 0, 0, 16), (jeq, "allow", "deny", socket.AF_UNIX)]
    program += [(jeq, "enosys", 0, table["clone3"]), (jeq, 0, "allow", table["clone"]), (load, 0, 0, 16),
                (jset, "deny", "allow", CLONE_NEW_FLAGS)]
    labels = {"allow": len(program), "deny": len(program) + 1, "enosys": len(program) + 2}
    program += [(ret, 0, 0, SECCOMP_RET_ALLOW), (ret, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM),
                (ret, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS)]

    def offset(index: int, target) -> int:
        return labels[target] - index - 1 if isinstance(target, str) else target

    return [(code, offset(i, jt), offset(i, jf), k) for i, (code, jt, jf, k) in enumerate(program)]


def _filter_system_calls() -> None:
    """Install :func:`seccomp_program` for this process and all it starts (needs no_new_privs)."""
    program = seccomp_program(os.uname().machine)
    instructions = (_SockFilter * len(program))(*(_SockFilter(*instruction) for instruction in program))
    fprog = _SockFprog(len(program), instructions)
    _check(_libc.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog), 0, 0), "seccomp")


def main(argv: list[str]) -> None:
    """``REQUESTS_FD REPLIES_FD PLAN`` (:meth:`Plan.to_json`): confine, then serve probes on the box's
    submission until the channel closes."""
    requests_fd, replies_fd, text = int(argv[0]), int(argv[1]), argv[2]
    box = json.loads(text)["box"]
    kit, submission = os.path.join(box, "kit"), os.path.join(box, "submission")
    sys.path.insert(0, kit)  # the box keeps its path in the worker's root: these modules stay the kit's
    from autograder.sandbox.plan import Plan

    confine(Plan.from_json(text))
    os.chdir(submission)
    threads = int(os.environ.get("AUTOGRADER_THREADS", "1"))
    os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    for name in PRELOADED:  # imported before the submission is on sys.path: a student torch.py shadows nothing
        importlib.import_module(name)
    import torch

    torch.set_num_threads(threads)
    import autograder.sandbox.probing  # preload the worker-side helpers

    if not autograder.sandbox.probing.__file__.startswith(kit + os.sep):
        raise ImportError(f"the worker imported the kit from {autograder.sandbox.probing.__file__}, not {kit}")
    # every probe module too, before any student code: a fault of the kit or its environment (an import
    # error) stops the worker's start, the grader's error, never a probe's failure charged to the student
    for probes in sorted(glob.glob(os.path.join(kit, "autograder", "graders", "*", "probes.py"))):
        importlib.import_module(f"autograder.graders.{os.path.basename(os.path.dirname(probes))}.probes")
    sys.path.insert(0, submission)
    serve(submission, requests_fd, replies_fd)


# --- the zygote -------------------------------------------------------------------------------------
def serve_zygote(address: str, grader_zygote: bool = False, optional: tuple[str, ...] = OPTIONAL) -> None:
    """Import :data:`PRELOADED` and ``optional``, then fork one handler per connection on the Unix socket
    ``address``.

    With ``grader_zygote``, this process forks the worker zygote as soon as the libraries are imported, then
    becomes the grader zygote that the JSON line on stdin describes (:func:`autograder.zygote.serve`): the
    two share the libraries' memory pages, and the worker zygote is a fork of a process that had imported
    nothing of the kit, the reference or a submission."""
    if sys.platform == "linux":
        _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")  # dies with its owner
    for name in (*PRELOADED, *optional):
        importlib.import_module(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(address)
    os.chmod(address, 0o600)
    gc.freeze()  # the imported objects stay out of the collector's passes: their pages stay shared
    if not grader_zygote:
        serve_forks(listener, _handle)
    workers = os.fork()
    if workers == 0:
        if sys.platform == "linux":
            _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")  # dies with the grader zygote
        os.dup2(os.open(os.devnull, os.O_RDWR), 0)
        os.dup2(0, 1)  # "ready" is the grader zygote's to say
        serve_forks(listener, _handle)
    listener.close()
    request = json.loads(sys.stdin.readline())
    sys.path[:] = request["path"]
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    from autograder import zygote

    zygote.serve(request["address"], workers=(address, workers))


def serve_forks(listener: socket.socket, handle) -> None:
    """Say ``ready`` on stdout, then fork ``handle(connection)`` (which never returns) for each connection on
    ``listener``, forever. The handlers are reaped by the kernel; each waits for what it forks itself.
    (The grader zygote, :mod:`autograder.zygote`, serves the same way.)"""
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    print("ready", flush=True)
    while True:
        connection, _ = listener.accept()
        if os.fork() == 0:
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            handle(connection)
        connection.close()


def _handle(connection: socket.socket) -> None:
    """Receive ``{"plan", "env", "namespaces"}`` with the worker's three descriptors (requests, replies,
    log), enter fresh namespaces (as root, or inside a user namespace mapping this user to root), fork the
    worker, answer ``{"pid"}`` (this handler: the worker's session leader) and ``{"status"}`` (its exit code,
    negative for a signal) when it ended. Never returns."""
    try:
        os.setsid()
        message, descriptors, _, _ = socket.recv_fds(connection, MAX_REQUEST, 3)
        request = json.loads(message)
        if request["namespaces"]:
            _enter_namespaces()
        pid = os.fork()
        if pid == 0:
            connection.close()
            _become_worker(request, descriptors)
        for descriptor in descriptors:
            os.close(descriptor)
        connection.send(json.dumps({"pid": os.getpid()}).encode())
        status = _wait_unless_abandoned(pid, connection)
        connection.send(json.dumps({"status": os.waitstatus_to_exitcode(status)}).encode())
    finally:
        os._exit(0)


def _wait_unless_abandoned(pid: int, connection: socket.socket) -> int:
    """The worker's wait status; if the grader hangs up first (it died: a deadline, a crash), kill the worker
    and this session instead, so that no student code outlives the grader that drives it."""
    watcher = select.poll()
    exited = os.pidfd_open(pid)
    watcher.register(exited, select.POLLIN)
    watcher.register(connection, select.POLLIN | select.POLLHUP)
    if exited not in dict(watcher.poll()):  # the grader never writes again: readable means it hung up
        os.kill(pid, signal.SIGKILL)  # pid 1 of its namespace: everything in it goes too
        os.killpg(os.getpid(), signal.SIGKILL)  # what stayed in this session, this handler included
    return os.waitpid(pid, 0)[1]


def _enter_namespaces() -> None:
    uid, gid = os.getuid(), os.getgid()
    if uid == 0:
        _check(_libc.unshare(NAMESPACES), "unshare")
        return
    _check(_libc.unshare(NAMESPACES | CLONE_NEWUSER), "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)


def _become_worker(request: dict, descriptors: list[int]) -> None:
    """In the fork that is pid 1 of the new pid namespace: the worker's descriptors, environment and cwd,
    then :func:`main`. Never returns."""
    code = 0
    try:
        if sys.platform == "linux":
            _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")  # dies with its handler
        requests, replies, log = descriptors
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.chdir("/")
        os.environ.clear()
        os.environ.update(request["env"])
        main([str(requests), str(replies), request["plan"]])
    except BaseException:  # noqa: BLE001 - the worker handle reads the log and the exit code
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("address")
    parser.add_argument("--grader-zygote", action="store_true")
    parser.add_argument("--preload", default=",".join(OPTIONAL), help="optional libraries, comma-separated")
    arguments = parser.parse_args()
    serve_zygote(arguments.address, arguments.grader_zygote, tuple(filter(None, arguments.preload.split(","))))
