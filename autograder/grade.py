"""Grade submissions: one trusted pytest grader process per submission (forked from the grader zygote,
:mod:`autograder.zygote`), which drives one isolated worker.

Every submission ends with a results.json, even when its grader or worker crashed or ran out of time.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm.auto import tqdm

from autograder import config, results, zygote
from autograder.check_context import OUT_OF_TIME
from autograder.config import GRADERS, Tier
from autograder.submissions import Submission
from autograder.workers import isolation, require_private

GRADER_OVERHEAD_SECONDS = 120
#: with a deadline, the grader is stopped this long before it, so that results.json is written in time
DEADLINE_MARGIN_SECONDS = 10


@dataclass(frozen=True)
class Options:
    """How to grade: tier, visibility, seed, threads per worker, data root, grading.yml."""

    tier: Tier = "cpu"
    visibility: str = "all"
    seed: int | None = None
    threads: int = 1
    data: Path | None = None
    grading_path: Path | None = None
    only: tuple[str, ...] = ()  # check ids to run (default: every selected check)
    deadline: float | None = None  # seconds each submission's grading may take, results.json included
    #: the grading's secret (held-out data and hidden inputs derive from it; never sent to the worker):
    #: None draws a fresh one per submission; results.json records it so that a grading can be reproduced
    key: str | None = None
    #: grade hidden checks even where student code runs unisolated (no namespaces, not root: isolation "none")
    allow_unisolated: bool = False

    def checks(self, grading: config.Grading, assignment: str) -> list[config.Check]:
        """The checks this run grades."""
        selected = grading.assignment(assignment).selected(self.tier, self.visibility)
        return [c for c in selected if not self.only or c.id in self.only]


def run_grader(folder: Path, name: str, assignment: str, options: Options) -> tuple[dict[str, dict], str, float]:
    """Run the checks of ``options`` (:meth:`Options.checks`, each named to pytest by its node id, in
    grading.yml's order) of ``assignment`` on ``folder`` (submission ``name``); return (records, note,
    seconds)."""
    started = time.monotonic()
    checks = options.checks(config.load(options.grading_path), assignment)
    budget = sum(c.timeout for c in checks) + GRADER_OVERHEAD_SECONDS
    ends = None if options.deadline is None else time.time() + options.deadline - DEADLINE_MARGIN_SECONDS
    targets = [str(GRADERS / assignment / c.id) for c in checks]
    with tempfile.TemporaryDirectory(prefix="autograder-grade-") as scratch:
        report = Path(scratch) / "report.json"
        key_file = Path(scratch) / "key"
        key_file.touch(mode=0o600)
        key_file.write_text(options.key or new_key())
        # no cache, no third-party plugins, none of the plugins whose end-of-session gc.collect() passes cost
        # half a second with torch loaded
        command = [*targets, "-p", "autograder.plugin", "-p", "no:cacheprovider", "-p", "no:unraisableexception",
                   "-p", "no:threadexception", "-q", "--no-header", "-o", "addopts=", "--rootdir", str(GRADERS),
                   f"--submission={folder}", f"--submission-name={name}", f"--tier={options.tier}",
                   f"--report={report}", f"--threads={options.threads}", f"--key-file={key_file}"]
        command += [f"--seed={options.seed}"] * (options.seed is not None)
        command += [f"--data={options.data}"] * (options.data is not None)
        command += [f"--grading={options.grading_path}"] * (options.grading_path is not None)
        command += [f"--deadline={ends}"] * (ends is not None)
        command += ["--allow-unisolated"] * options.allow_unisolated
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        output = Path(scratch) / "output.txt"
        grader_zygote = zygote.shared()
        if ends is not None:
            budget = max(1.0, min(budget, ends - time.time()))
        try:
            status = grader_zygote.run(command, Path(scratch), env, output, timeout=budget)
            note = "" if status is not None else OUT_OF_TIME if ends is not None and time.time() >= ends else \
                f"grading stopped after {budget:g} s"
        except zygote.GraderOutOfMemory as error:  # the checks it reported before stay
            status, note = None, str(error)
        seconds = time.monotonic() - started
        try:
            records = {r["id"]: r for r in json.loads(report.read_text())["checks"]}
        except (OSError, ValueError, KeyError):
            records = {}
            tail = output.read_bytes()[-1500:].decode("utf-8", "replace") if output.exists() else ""
            note = note or f"the grader stopped before reporting ({zygote.describe_exit(status)}):\n{tail}"
    return records, note, seconds


def new_key() -> str:
    """A fresh secret key for one grading."""
    return secrets.token_hex(16)


def grade_one(submission: Submission, out: Path, options: Options) -> dict:
    """Grade one submission into ``out/<name>/results.json`` and return the results (a fresh key unless
    ``options.key`` names one)."""
    options = replace(options, key=options.key or new_key())
    try:
        with submission.unpacked() as (folder, problems):
            if problems:
                records, note, seconds = {}, "; ".join(problems), 0.0
            else:
                if isolation().level == "own uid":  # student code runs on the machine's files: the original
                    # submissions (this student's and, beside it, the class's) and --out are within reach too
                    require_private((submission.path.resolve(),), unwritable=(out.resolve(),))
                records, note, seconds = run_grader(folder, submission.name, submission.assignment, options)
    except Exception as error:  # noqa: BLE001 - whatever happens, the submission gets a record
        records, note, seconds = {}, f"grading failed: {type(error).__name__}: {error}", 0.0
    return write_record(submission, out, options, records, note, seconds)


def write_record(submission: Submission, out: Path, options: Options, records: dict[str, dict], note: str = "",
                 seconds: float = 0.0) -> dict:
    """Write the results of ``options``' checks into ``out/<name>/results.json``, keeping the tests of
    the other checks already there (the other tier's), and return the whole record."""
    grading = config.load(options.grading_path)
    assignment = grading.assignment(submission.assignment)
    target = out / submission.folder / "results.json"
    previous = read_record(target)
    document = results.build(submission.assignment, assignment.title, options.checks(grading, submission.assignment),
                             options.tier, records, seed=options.seed if options.seed is not None else grading.seed,
                             seconds=seconds, note=note, previous=previous,
                             order=[c.id for c in assignment.checks])
    document["extra_data"]["submission"] = submission.name
    document["extra_data"]["isolation"] = isolation().level
    if options.key is not None:  # per tier: `autograder grade --key KEY --tier TIER` grades it again alike
        keys = (previous or {}).get("extra_data", {}).get("keys")
        document["extra_data"]["keys"] = {**(keys if isinstance(keys, dict) else {}), options.tier: options.key}
    results.write(target, document)
    return document


def read_record(path: Path) -> dict | None:
    """A results.json written before, or None (none, unreadable, or not a record: graded again)."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return document if results.problem(document) is None else None


def to_grade(submissions: list[Submission], out: Path, options: Options,
             force: bool = False) -> tuple[dict[str, dict], list[tuple[Submission, Options]]]:
    """Split ``submissions`` into those whose record in ``out`` holds every check of this run (name ->
    record) and those to grade, each with options for what it lacks: checks without a test, checks whose
    cluster task died, and with ``force`` every check of the run's tier (a rerun of a tier replaces only
    that tier's tests)."""
    names = [s.name for s in submissions]
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"submission names must be unique (they name the output folders): "
                         f"{', '.join(twice)} given more than once")
    grading = config.load(options.grading_path)
    done: dict[str, dict] = {}
    todo: list[tuple[Submission, Options]] = []
    for submission in submissions:
        record = read_record(out / submission.folder / "results.json")
        outcomes = {t["name"]: t.get("extra_data", {}).get("outcome") for t in record["tests"]} if record else {}
        checks = options.checks(grading, submission.assignment)
        missing = [c for c in checks if outcomes.get(c.id, "died") == "died" or (force and c.tier == options.tier)]
        if not missing:
            done[submission.name] = record
        elif missing == checks:
            todo.append((submission, options))
        else:
            todo.append((submission, replace(options, only=tuple(c.id for c in missing))))
    return done, todo


def grade_many(submissions: list[Submission], out: Path, options: Options, jobs: int = 1, force: bool = False,
               quiet: bool = False) -> dict[str, dict]:
    """Grade in parallel (``jobs`` graders at a time) what :func:`to_grade` finds missing in ``out``;
    writes ``out/grades.csv`` and returns name -> results."""
    graded, todo = to_grade(submissions, out, options, force)
    out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool, \
            tqdm(total=len(todo), desc="grading", unit="submission", disable=quiet) as bar:
        for (submission, _), document in zip(todo, pool.map(lambda entry: grade_one(entry[0], out, entry[1]), todo)):
            graded[submission.name] = document
            bar.update()
    results.write_grades_csv(out / "grades.csv", graded)
    return graded
