"""Hostile and malformed submissions (corpus.py) graded through the real path, in one batch.

One ``grade_many`` run (two graders at a time) grades every case on the fast checks of tp1_mlp (the
timeouts of forward and softmax cut to 10 s) plus cheap padding up to 100 submissions; each case then asserts its outcome: the attacked
checks score 0 with the expected feedback, every other check scores what the untouched base deserves,
and nothing leaks out (files under the watched folder, processes, connections, results).
"""

from __future__ import annotations

import csv
import ctypes
import json
import os
import re
import shutil
import socket
import threading
import uuid
from pathlib import Path

import pytest
import yaml

from autograder import report
from autograder.cli import score_table
from autograder.config import ROOT
from autograder.grade import Options, grade_many, grade_one
from autograder.results import cell
from autograder.submissions import Submission, folder_name
from autograder.workers import isolation
from tests.adversarial.corpus import CASES, CHECKS, HOSTILE_NAMES, REGENERATE_LABELS, Case, F, S

ASSIGNMENT = "tp1_mlp"
BATCH = 100
TIMEOUT = 10
FULL_ISOLATION = isolation().namespaces and isolation().own_uid
NEEDS_ISOLATION = "needs namespaces and an own uid (run as root where unshare is permitted)"


class Listener:
    """TCP and UDP servers on one port of 127.0.0.1 that count what reaches them (an accomplice student
    code must not reach)."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.5)
        self.port = self.server.getsockname()[1]
        self.datagrams = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.datagrams.bind(("127.0.0.1", self.port))
        self.datagrams.settimeout(0.5)
        self.connections = 0
        self.running = True
        self.threads = [threading.Thread(target=self._serve, daemon=True),
                        threading.Thread(target=self._receive, daemon=True)]
        for thread in self.threads:
            thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            connection.close()

    def _receive(self) -> None:
        while self.running:
            try:
                self.datagrams.recv(64)
            except OSError:
                continue
            self.connections += 1

    def close(self) -> None:
        self.running = False
        for thread in self.threads:
            thread.join()
        self.server.close()
        self.datagrams.close()
        self.server.close()


_libc = ctypes.CDLL(None, use_errno=True)
ADD_KEY, KEYCTL = {"x86_64": (248, 250), "aarch64": (217, 219)}.get(os.uname().machine, (None, None))
SESSION_KEYRING, USER_KEYRING, KEYCTL_SEARCH, KEYCTL_INVALIDATE = -3, -4, 10, 21


def add_key(description: str, payload: bytes) -> int:
    """A "user" key in this process's session keyring (what a teacher's login may hold); -1 if refused."""
    if ADD_KEY is None:
        return -1
    return _libc.syscall(ADD_KEY, b"user", description.encode(), payload, len(payload), SESSION_KEYRING)


def has_key(keyring: int, description: str) -> bool:
    return _libc.syscall(KEYCTL, KEYCTL_SEARCH, keyring, b"user", description.encode(), 0) > 0


def short_grading(path: Path) -> Path:
    """grading.yml with the timeouts of the checks the corpus attacks with loops and sleeps (forward,
    softmax) cut to TIMEOUT seconds; the others keep theirs (a first torch.optim call imports torch._dynamo,
    which takes seconds on a busy machine)."""
    grading = yaml.safe_load((ROOT / "grading.yml").read_text(encoding="utf-8"))
    for check in grading["assignments"][ASSIGNMENT]["checks"]:
        if check["id"] in (F, S, *REGENERATE_LABELS.attacked):
            check["timeout"] = TIMEOUT
    path.write_text(yaml.safe_dump(grading, sort_keys=False), encoding="utf-8")
    return path


def runnable(case: Case) -> bool:
    return FULL_ISOLATION or not case.isolation


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("adversarial")
    spy, out, built = root / "spy", root / "out", root / "submissions"
    spy.mkdir()
    (spy / "data" / "FashionMNIST" / "raw").mkdir(parents=True)
    (spy / "data" / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte").write_bytes(b"labels")
    other_clone = ROOT.parent / f".autograder-adversarial-copy-{uuid.uuid4().hex[:8]}"  # a teacher's
    if FULL_ISOLATION:  # for read_secrets, which runs only there (and may write beside the kit, as root)
        shutil.copytree(ROOT / "solutions" / "tp1_mlp", other_clone / "solutions" / "tp1_mlp")
        other_clone.chmod(0o755)
    listener = Listener()
    context = {"ROOT": ROOT, "COPY": other_clone, "OUT": out, "SPY": spy, "PORT": listener.port, "MARK": f"adversary-{uuid.uuid4().hex}"}
    submissions = []
    for case in filter(runnable, CASES):
        path = case.build(built / case.name, {**context, "NAME": case.name})
        submissions.append(Submission(case.name, path, ASSIGNMENT))
    cheap = [s for s in submissions if s.path.is_file()]  # refused at unpacking: no grader runs
    for index in range(BATCH - len(submissions)):
        original = cheap[index % len(cheap)].path
        copy = built / "padding" / f"pad{index:03d}{original.suffix}"
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(original, copy)
        submissions.append(Submission(f"zz_pad{index:03d}", copy, ASSIGNMENT))
    options = Options(only=CHECKS, grading_path=short_grading(root / "grading.yml"))
    saved = {key: os.environ.get(key) for key in ("AUTOGRADER_DATA", "AUTOGRADER_ADVERSARIAL_SECRET")}
    os.environ.update(AUTOGRADER_DATA=str(spy / "data"), AUTOGRADER_ADVERSARIAL_SECRET="the grader's secret")
    teacher_key = add_key(f"{context['MARK']}-teacher", b"the teacher's token")  # inherited by the grader
    try:
        documents = grade_many(submissions, out, options, jobs=2, force=True, quiet=True)
    finally:
        if teacher_key > 0:
            _libc.syscall(KEYCTL, KEYCTL_INVALIDATE, teacher_key)
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        listener.close()
        shutil.rmtree(other_clone, ignore_errors=True)
    return {"documents": documents, "context": context, "out": out, "spy": spy, "listener": listener,
            "submissions": submissions, "options": options, "root": root, "keyring": teacher_key > 0}


def _outcome(document: dict) -> dict[str, dict]:
    return {test["name"]: test for test in document["tests"]}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_is_graded_as_its_honest_content_deserves(batch, case):
    if not runnable(case):
        pytest.skip(NEEDS_ISOLATION)
    document = batch["documents"][case.name]
    outcome = _outcome(document)
    assert set(outcome) == set(CHECKS)
    if case.refused:
        assert document["score"] == 0
        assert re.search(case.refused, document["output"], re.DOTALL), document["output"]
        assert all(re.search(case.refused, t["output"], re.DOTALL) for t in outcome.values())
    for check, test in outcome.items():
        if check in case.attacked:
            assert test["score"] == 0, f"{case.name}: the attack on {check} scored"
            assert re.search(case.attacked[check], test["output"], re.DOTALL), f"{check}: {test['output']!r}"
            if case.kind == "malformed":
                assert "grader error" not in test["output"], test["output"]
        elif not case.refused:
            deserved = case.base == "solution"
            assert (test["status"] == "passed") is deserved, f"{case.name}: {check}: {test['output']!r}"
            assert test["output"] or deserved
    for name in case.spy:
        assert not (batch["spy"] / name).exists(), f"{case.name}: {name} was written"
    assert len(json.dumps(document)) < 200_000, "feedback should stay short whatever the submission prints"


def test_batch_of_100_submissions_ends_with_100_records(batch):
    names = [s.name for s in batch["submissions"]]
    assert len(names) == BATCH and set(batch["documents"]) == set(names)
    for name in names:
        on_disk = json.loads((batch["out"] / folder_name(name) / "results.json").read_text())
        assert on_disk == json.loads(json.dumps(batch["documents"][name]))
    with open(batch["out"] / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["submission"] for row in rows) == sorted(cell(name) for name in names)


def test_hostile_names_become_neither_class_files_formulas_links_nor_terminal_codes(batch):
    out, documents = batch["out"], batch["documents"]
    report.write_all(out, documents)
    for class_file in ("grades.csv", "index.html", "scores.png"):
        assert (out / class_file).is_file(), f"{class_file} is not a file"
    links = re.findall(r"href='([^']*)'", (out / "index.html").read_text(encoding="utf-8"))
    assert len(links) == len(documents) and all(re.fullmatch(r"[A-Za-z0-9_-]+/report\.html", link) for link in links)
    assert all((out / link).is_file() for link in links)
    with open(out / "grades.csv", newline="") as handle:
        cells = [row[0] for row in csv.reader(handle)]
    assert not [text for text in cells if text[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert {cell(name) for name in HOSTILE_NAMES} <= set(cells)
    table = score_table(documents)
    assert "\x1b" not in table and len(table.splitlines()) == len(documents) + 1
    assert "\\x1b[2J\\x1b[31mred\\nzz_fake 32/32" in table


def test_results_are_written_by_the_grader_only(batch):
    forged = [path for path in batch["out"].rglob("*") if path.is_file() and b"FORGED" in path.read_bytes()]
    assert not forged
    assert not (batch["out"] / "zz_victim").exists()
    assert not [path for folder in (ROOT, ROOT / "autograder", ROOT / "autograder" / "checks")
                for path in folder.glob("_pwned_*")]
    assert not Path("/autograder/results/results.json").exists() or b"FORGED" not in \
        Path("/autograder/results/results.json").read_bytes()


@pytest.mark.skipif(not FULL_ISOLATION, reason=NEEDS_ISOLATION)
def test_no_process_of_a_submission_outlives_its_grading(batch):
    mark = batch["context"]["MARK"].encode()
    survivors = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if mark in Path(f"/proc/{pid}/cmdline").read_bytes():
                survivors.append(pid)
        except OSError:
            pass
    assert not survivors


@pytest.mark.skipif(not FULL_ISOLATION, reason=NEEDS_ISOLATION)
def test_student_code_reaches_no_network(batch):
    assert batch["listener"].connections == 0


def test_student_code_leaves_no_key_in_the_graders_keyrings(batch):
    if not batch["keyring"]:
        pytest.skip("keyrings are refused to this process (e.g. by Docker's seccomp profile)")
    for keyring in (SESSION_KEYRING, USER_KEYRING):
        assert not has_key(keyring, f"{batch['context']['MARK']}-student")


def test_held_out_labels_cannot_be_regenerated_from_the_seed(batch):
    case = REGENERATE_LABELS
    path = case.build(batch["root"] / "submissions" / case.name, {**batch["context"], "NAME": case.name})
    options = Options(only=tuple(case.attacked), grading_path=batch["options"].grading_path)
    document = grade_one(Submission(case.name, path, ASSIGNMENT), batch["root"] / "out-regenerate", options)
    assert document["score"] == 0, _outcome(document)
