"""Grading where the OS refuses namespaces (as under Docker's default seccomp profile), emulated with
``AUTOGRADER_NO_NAMESPACES=1`` in the grader's environment: as root, every worker runs under a uid of its
own and the grader first checks, as such a uid, that the kit's secrets are private; as an unprivileged
grader, student code runs unisolated and hidden checks are refused unless the staff pass
``--allow-unisolated``.

Each grading runs in a subprocess, in a private mount namespace where the test shapes the machine as a
grading container is shaped: the system folders and the interpreter, readable by every uid (this
machine's may lie under a folder closed to others, such as /root); every other top-level folder empty (no
other copy of the kit anywhere); /usr/share/datasets private. The kit is a copy of the
checkout's grading parts in a world-readable folder, made private by the test as setup.sh does.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from autograder.config import ROOT
from autograder.workers import UID_BASE, interpreter_paths, isolation
from tests.adversarial.corpus import MANUAL, UNISOLATED_CHEAT, F, I, S, folder
from tests.adversarial.test_adversarial import Listener

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not isolation().namespaces,
                                reason="emulating a machine without namespaces needs root and a mount namespace")

HIDDEN = "test_manual.py::test_backward_matches_autograd"
CHECKS = (I, F, S, HIDDEN)
GRADER_UID = UID_BASE - 2  # the unprivileged grader: a uid no one else has
#: grades each run of the job given as JSON (its checks, out, allow, folders made private first)
GRADE = """
import json, subprocess, sys
from pathlib import Path
from autograder.grade import Options, grade_many
from autograder.submissions import Submission
job, graded = json.loads(sys.argv[1]), []
for run in job["runs"]:
    if run["private"]:
        subprocess.run(["chmod", "-R", "go-rwx", *run["private"]], check=True)
    submissions = [Submission(name, Path(path), "tp1_mlp") for name, path in job["submissions"].items()]
    options = Options(only=tuple(run["checks"]), allow_unisolated=run["allow"])
    graded.append(grade_many(submissions, Path(run["out"]), options, jobs=2, quiet=True))
print(json.dumps(graded))
"""


#: top-level folders a grading container keeps from this machine; every other one (home folders, /tmp,
#: /opt, this checkout and any other copy of the kit wherever it lies) is covered by an empty tmpfs
SYSTEM_FOLDERS = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "proc", "sys", "dev", "run", "var",
                  "mnt", "boot"}


def _container_shape(place: Path) -> str:
    """Shell commands (run in a fresh mount namespace) that shape this machine as a grading container: the
    system folders, the interpreter (reachable by every uid) and ``place``; every other top-level folder
    empty (a mode-755 tmpfs, 1777 for the temporary folder), and /usr/share/datasets private."""
    covered = sorted(path for path in Path("/").iterdir()
                     if path.name not in SYSTEM_FOLDERS and path.is_dir() and not path.is_symlink())
    kept = [path for path in [*interpreter_paths(), place] if any(folder in path.parents for folder in covered)]
    commands = ["set -e", "mount --make-rprivate /", "mount -t tmpfs tmpfs /mnt"]
    for index, path in enumerate(kept):
        commands += [f"mkdir -p /mnt/{index}", f"mount --bind {shlex.quote(str(path))} /mnt/{index}"]
    commands += [f"mount -t tmpfs -o mode={1777 if path == Path(tempfile.gettempdir()) else 755} tmpfs "
                 f"{shlex.quote(str(path))}" for path in covered]
    for index, path in enumerate(kept):
        commands += [f"mkdir -p {shlex.quote(str(path))}", f"mount --bind /mnt/{index} {shlex.quote(str(path))}"]
    if Path("/usr/share/datasets").is_dir():
        commands.append("mount -t tmpfs -o mode=0700 tmpfs /usr/share/datasets")
    return "\n".join(commands)


def _grade(kit: Path, job: dict, uid: int | None = None) -> list[dict]:
    """Run GRADE on ``job`` with the kit copy ``kit``, no namespaces, as root or as ``uid``."""
    env = {key: os.environ[key] for key in ("PATH", "LANG") if key in os.environ}
    env.update(AUTOGRADER_ROOT=str(kit), PYTHONPATH=str(kit), AUTOGRADER_NO_NAMESPACES="1", HOME=str(kit.parent / "home"),
               AUTOGRADER_DATA=str(kit.parent / "data"), AUTOGRADER_ADVERSARIAL_SECRET="the grader's secret")
    user = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] if uid is not None else []
    grade = shlex.join([*user, sys.executable, "-c", GRADE, json.dumps(job)])
    done = subprocess.run(["unshare", "--mount", "sh", "-c", f"{_container_shape(kit.parent)}\nexec {grade}"], env=env,
                          cwd=kit, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def place():
    """A world-readable folder with a copy of the kit's grading parts, the submissions and a home."""
    top = Path(tempfile.mkdtemp(prefix="ag-"))  # short: the cheat's search goes four folders down
    top.chmod(0o755)
    kit = top / "kit"
    for name in ("autograder", "solutions", "student_template", "assignments"):
        shutil.copytree(ROOT / name, kit / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("grading.yml", "pyproject.toml"):
        shutil.copyfile(ROOT / name, kit / name)
    for name in ("home", "data", "out"):
        (top / name).mkdir()
    listener = Listener()
    context = {"ROOT": kit, "OUT": top / "out", "NAME": "cheat", "PORT": listener.port,
               "MARK": f"autograder-unisolated-{uuid.uuid4().hex}"}
    submissions = {"reference": str(folder()(top / "submissions" / "reference", context)),
                   "cheat": str(folder(append={"manual.py": UNISOLATED_CHEAT})(top / "submissions" / "cheat", context))}
    yield top, kit, submissions, listener, context["MARK"]
    listener.close()
    shutil.rmtree(top, ignore_errors=True)


def _tests(document: dict) -> dict[str, dict]:
    return {test["name"]: test for test in document["tests"]}


def test_as_root_workers_get_their_own_uid_and_the_grader_refuses_a_readable_kit(place):
    top, kit, submissions, listener, mark = place
    job = {"submissions": submissions,
           "runs": [{"checks": CHECKS, "out": str(top / "out" / "readable"), "allow": False, "private": []},
                    {"checks": CHECKS, "out": str(top / "out" / "kit-readable"), "allow": False,
                     "private": [str(top / "submissions")]},
                    {"checks": CHECKS, "out": str(top / "out"), "allow": False,
                     "private": [*(str(kit / name) for name in ("solutions", "autograder", "grading.yml")),
                                 str(top / "data")]}]}
    readable, kit_readable, private = _grade(kit, job)
    # nothing ran: every check is the grader's error, naming what the worker's uid could read and the fix
    for runs, secret in ((readable, lambda name: top / "submissions" / name), (kit_readable, lambda name: kit / "solutions")):
        for name, document in runs.items():
            assert document["score"] == 0 and document["extra_data"]["grader_errors"] == len(CHECKS)
            for test in document["tests"]:
                assert f"can read (or write) {secret(name)}" in test["output"] and "chmod -R go-rwx" in test["output"], test
    assert all(document["extra_data"]["isolation"] == "own uid" for document in private.values())
    assert all(test["status"] == "passed" for test in private["reference"]["tests"]), [t["output"] for t in private["reference"]["tests"]]
    cheat = _tests(private["cheat"])
    assert [name for name, test in cheat.items() if test["score"]] == [HIDDEN], cheat  # its honest part only
    assert b"FORGED" not in (kit / "grading.yml").read_bytes()
    assert not (top / "out" / "FORGED").exists()
    assert "FORGED" not in json.dumps(private)
    assert listener.connections == 0  # no network namespace, yet no network
    assert not Path(f"/dev/shm/{mark}").exists()  # the machine's: removed with the worker


def test_unprivileged_without_namespaces_hidden_checks_need_allow_unisolated(place):
    top, kit, submissions, _, _ = place
    for path in (kit, top / "home", top / "out", top / "submissions"):
        subprocess.run(["chown", "-R", f"{GRADER_UID}:{GRADER_UID}", str(path)], check=True)
    job = {"submissions": {"reference": submissions["reference"]},
           "runs": [{"checks": CHECKS, "out": str(top / "out" / "refused"), "allow": False, "private": []},
                    {"checks": (HIDDEN,), "out": str(top / "out" / "allowed"), "allow": True, "private": []}]}
    refused, allowed = _grade(kit, job, uid=GRADER_UID)
    document = refused["reference"]
    assert document["extra_data"]["isolation"] == "none"
    tests = _tests(document)
    assert tests[HIDDEN]["score"] == 0 and "student code cannot be isolated" in tests[HIDDEN]["output"]
    assert "--allow-unisolated" in tests[HIDDEN]["output"] and document["extra_data"]["grader_errors"] == 1
    assert all(tests[check]["status"] == "passed" for check in MANUAL if check in tests)
    assert all(test["status"] == "passed" for test in allowed["reference"]["tests"])
