"""The pytest plugin that turns ``autograder/graders/<assignment>/`` into a grader.

It runs the checks it is given (``autograder grade`` names each by its node id; a collected test without a
grading.yml entry is refused), gives each test its fixtures (``probe`` runs student code in the isolated
worker, ``check`` is its grading.yml entry, ``seed`` and ``rng`` those of :mod:`autograder.check_context`,
``record`` stores figures data for the report) and writes one JSON record per test.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from pathlib import Path

import numpy as np
import pytest

from autograder import check_context
from autograder.check_context import OUT_OF_TIME
from autograder.config import Check, load
from autograder.judges import GraderFault, OutOfTime, ProbeFailed
from autograder.workers import Limits, Worker

UNISOLATED = ("hidden check not run: student code cannot be isolated on this machine (no namespaces, and the "
              "grader is not root); grade as root or where namespaces are permitted, or pass --allow-unisolated")
#: seconds kept, before ``--deadline``, for pytest to finish and write its report
GRACE_SECONDS = 5.0
MIN_CHECK_SECONDS = 1.0  # a check that would get less than this is not started


def pytest_addoption(parser) -> None:
    group = parser.getgroup("autograder")
    group.addoption("--submission", type=Path, help="folder holding the student's modules")
    group.addoption("--submission-name", default=None, help="the submission's name (seeds depend on it)")
    group.addoption("--tier", choices=("cpu", "gpu"), default="cpu",
                    help="tier of the checks given (gpu: the worker's memory is not limited, for CUDA)")
    group.addoption("--seed", type=int, default=None, help="base seed (default: grading.yml's)")
    group.addoption("--key-file", type=Path, default=None,
                    help="file holding this grading's secret key (default: a fresh random key)")
    group.addoption("--grading", type=Path, default=None, help="grading.yml to use")
    group.addoption("--report", type=Path, default=None, help="write per-check records (JSON) here")
    group.addoption("--threads", type=int, default=1, help="torch threads in the worker")
    group.addoption("--data", type=Path, default=None, help="data folder (torchvision layout)")
    group.addoption("--deadline", type=float, default=None,
                    help="time (seconds since the epoch) by which the report must be written")
    group.addoption("--allow-unisolated", action="store_true",
                    help="run hidden checks even where student code cannot be isolated (isolation 'none')")


def assignment_of(item) -> str:
    return Path(item.fspath).parent.name


def check_id(item) -> str:
    return f"{Path(item.fspath).name}::{item.name}"


class Grader:
    """Per-session state: configuration, the worker, and the records written at the end."""

    def __init__(self, options):
        self.options = options
        self.grading = load(options.grading)
        self.records: dict[str, dict] = {}
        self.worker: Worker  # set by pytest_configure
        #: the grading's secret: the private generators derive from it; the worker never sees it
        self.key = options.key_file.read_text().strip() if options.key_file else secrets.token_hex(16)

    def entry(self, item) -> Check:
        return self.grading.assignment(assignment_of(item)).check(check_id(item))

    def time_left(self) -> float:
        """Seconds left for checks before the deadline (infinite without one)."""
        if self.options.deadline is None:
            return float("inf")
        return self.options.deadline - GRACE_SECONDS - time.time()


def pytest_configure(config) -> None:
    """With ``--submission``: register the grader and start the submission's worker at once, so that it
    sets itself up (namespaces, its own root, limits) while this process collects the graders."""
    if config.getoption("submission") is not None:
        from autograder import data

        grader = Grader(config.option)
        limits = Limits(threads=grader.options.threads, memory_mb=None if grader.options.tier == "gpu" else 6144)
        private = (data.root(grader.options.data), *([grader.options.grading] if grader.options.grading else []))
        grader.worker = Worker(grader.options.submission, limits, hide=private)
        if grader.options.deadline is not None:
            grader.worker.deadline = grader.options.deadline - GRACE_SECONDS
        with contextlib.suppress(ProbeFailed):  # reported by the first probe, which tries again
            grader.worker.start()
        config.pluginmanager.register(grader, "autograder-grader")


def pytest_unconfigure(config) -> None:
    grader = config.pluginmanager.get_plugin("autograder-grader")
    if grader is not None:
        grader.worker.close()


def _grader(config) -> Grader:
    grader = config.pluginmanager.get_plugin("autograder-grader")
    if grader is None:
        raise pytest.UsageError("the graders need --submission PATH")
    return grader


def pytest_collection_modifyitems(session, config, items) -> None:
    grader = config.pluginmanager.get_plugin("autograder-grader")
    if grader is None:
        return
    for item in items:
        try:
            grader.entry(item)
        except KeyError:
            raise pytest.UsageError(f"grading.yml has no entry for {assignment_of(item)} {check_id(item)}; "
                                    "each test the graders collect needs one") from None


@pytest.fixture(scope="session")
def submission(request) -> Path:
    """The student's folder (read-only use in the grader: static rules read its source text)."""
    return _grader(request.config).options.submission.resolve()


@pytest.fixture(scope="session")
def worker(request) -> Worker:
    """The submission's worker (started when the session began, restarted after any failure)."""
    return _grader(request.config).worker


@pytest.fixture
def check(request) -> Check:
    """This test's grading.yml entry (points, timeout, budget, threshold)."""
    return _grader(request.config).entry(request.node)


@pytest.fixture
def seed(request, check) -> int:
    """Seed of this check for this run (:func:`~autograder.check_context.check_seed`)."""
    grader = _grader(request.config)
    base = grader.options.seed if grader.options.seed is not None else grader.grading.seed
    name = grader.options.submission_name or grader.options.submission.name
    return check_context.check_seed(base, name, check.id)


@pytest.fixture
def rng(request, seed) -> np.random.Generator:
    """The grader's private generator (:func:`~autograder.check_context.check_rng` of the grading's secret
    key, fresh for every grading unless ``--key-file`` names one): draw inputs and held-out data from it."""
    return check_context.check_rng(seed, _grader(request.config).key)


@pytest.fixture
def record(request) -> dict:
    """Plain data a test stores for the report (e.g. learning curves)."""
    request.node.autograder_record = {}
    return request.node.autograder_record


@pytest.fixture
def data_root(request) -> Path:
    from autograder import data

    return data.root(_grader(request.config).options.data)


@pytest.fixture
def gpu_data_root(request, data_root, check):
    """For gpu-tier checks: ``gpu_data_root(name)`` ("MNIST" or "CIFAR10") is the data root holding that
    data set; the check is skipped with the reason when the budget asks for CUDA and there is none, or
    when the data set is missing."""
    from autograder import data

    def ensure(name: str) -> Path:
        name = {"cifar-10-batches-py": "CIFAR10"}.get(name, name)
        if check.budget.get("device", "cuda") == "cuda":
            import torch

            if not torch.cuda.is_available():
                pytest.skip("gpu tier: no CUDA device on this machine")
        if not data.present(data_root, name):
            pytest.skip(f"gpu tier: {name} not found under {data_root / data.LAYOUT[name]} "
                        "(run `autograder data fetch` on a machine with internet)")
        return data_root

    return ensure


@pytest.fixture
def probe(request, worker, check, seed):
    """``probe(name, **args)`` runs ``autograder.graders.<assignment>.probes:<name>`` in the worker."""
    grader = _grader(request.config)
    assignment = assignment_of(request.node)

    def run(name: str, /, **args):
        left = grader.time_left()
        if left < MIN_CHECK_SECONDS:
            raise OutOfTime(OUT_OF_TIME)
        return worker.call(check_context.probe_target(assignment, name), min(check.timeout, left), seed, **args)

    return run


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    grader = item.config.pluginmanager.get_plugin("autograder-grader")
    if grader is not None:
        item.autograder_waited = grader.worker.waited
        if grader.time_left() < MIN_CHECK_SECONDS:
            raise OutOfTime(OUT_OF_TIME)
        if grader.entry(item).visibility == "hidden" and grader.worker.isolation.level == "none" \
                and not grader.options.allow_unisolated:
            raise GraderFault(UNISOLATED)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """One record per check; its seconds leave out the time spent waiting for a worker to start."""
    outcome = yield
    grader = item.config.pluginmanager.get_plugin("autograder-grader")
    report = outcome.get_result()
    if grader is None or report.when not in ("setup", "call"):
        return
    key = check_id(item)
    entry = grader.records.setdefault(key, {"id": key, "status": "passed", "output": "", "seconds": 0.0})
    waited = grader.worker.waited - item.autograder_waited
    item.autograder_waited = grader.worker.waited
    entry["seconds"] += max(0.0, call.duration - waited)
    if not report.passed:
        status, message = check_context.outcome(call.excinfo.value)
        entry.update(status=status, output=message)
    if report.when == "call" or not report.passed:
        entry["record"] = getattr(item, "autograder_record", {})
        _write_report(grader)  # so far: a grader stopped at the deadline keeps what it graded


def _write_report(grader: Grader) -> None:
    if grader.options.report is None:
        return
    payload = {"checks": list(grader.records.values()), "finished": time.time(), "key": grader.key,
               "worker_starts": grader.worker.starts, "worker_wait_seconds": grader.worker.waited}
    partial = grader.options.report.with_suffix(".partial")
    partial.write_text(json.dumps(payload, indent=1, default=_jsonable))
    partial.replace(grader.options.report)


def pytest_sessionfinish(session) -> None:
    grader = session.config.pluginmanager.get_plugin("autograder-grader")
    if grader is not None:
        _write_report(grader)


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value).__name__)
