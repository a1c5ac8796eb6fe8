"""What a check sees and how its end is told, the same in every runner of the checks: the pytest plugin of
``autograder grade`` (:mod:`autograder.plugin`, student code in the isolated worker) and the in-process
runner of the notebooks and ``labcheck`` (:mod:`autograder.selfcheck`). Both give a check its seed and its
generator from here, find its probes by the same names, and turn what it raised into the same status and
feedback.

Ships in the student kit: nothing here is secret (the grading's key is an argument, which only the grader
holds) and it imports only modules the student kit ships.
"""

from __future__ import annotations

import hashlib

import numpy as np

from autograder.judges import CheckFailed, GraderFault, OutOfTime, ProbeFailed
from autograder.tape import NotRecorded

INTERNAL = "grader error (not your fault; tell the course staff)"
OUT_OF_TIME = "not run: the grading time ran out"


def _hashed(text: str, size: int) -> int:
    """The first ``size`` bytes of the SHA-256 of ``text``, as an integer."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:size], "big")


def check_seed(base: int, submission: str, check_id: str) -> int:
    """Seed of check ``check_id`` when ``autograder grade`` grades submission ``submission`` (its name) with
    base seed ``base``. Public: the worker seeds random, numpy and torch with it before each probe."""
    return _hashed(f"{base}|{submission}|{check_id}", 4)


def public_seed(check_id: str) -> int:
    """The fixed seed of a public check in the notebook and ``labcheck``: the same for every student, so
    that the student kit can replay the reference values recorded at release (:mod:`autograder.tape`)."""
    return _hashed(f"public|{check_id}", 4)


def private_rng(key: str, seed: int) -> np.random.Generator:
    """The private generator of the check of ``seed`` in the grading of secret ``key``."""
    return np.random.default_rng(_hashed(f"{key}|{seed}", 8))


def check_rng(seed: int, key: str | None) -> np.random.Generator:
    """The generator a check draws its inputs and held-out data from. In a grading it derives from the
    grading's secret ``key`` (:func:`private_rng`): ``seed`` is public, so nothing secret may derive from
    ``seed`` alone. Without a key (the public checks of the student kit, whose inputs are public) it is the
    generator of ``seed``."""
    return np.random.default_rng(seed) if key is None else private_rng(key, seed)


def probe_target(assignment: str, name: str) -> str:
    """``module:function`` of the probe a check calls ``name``: a bare name is a function of
    ``autograder.graders.<assignment>.probes``."""
    return name if ":" in name else f"autograder.graders.{assignment}.probes:{name}"


def outcome(error: BaseException) -> tuple[str, str]:
    """(status, feedback) of a check that raised ``error``: "failed" (the student's: the judge's message,
    without pytest's rewritten assertion), "skipped" (its reason), "error" (the grader broke, or the grading
    machine did: never charged to the student) or "not run" (the grading time ran out)."""
    import pytest  # the grader tests' own library; imported here, when a check has ended

    if isinstance(error, OutOfTime):
        return "not run", str(error)
    if isinstance(error, GraderFault):
        return "error", f"{INTERNAL}: {error}"
    if isinstance(error, pytest.skip.Exception):
        return "skipped", str(error.msg)
    if isinstance(error, NotRecorded):
        return "failed", (f"your code gave values this offline check has no reference for (reference call "
                          f"{error}); it is checked when your work is graded")
    if isinstance(error, (CheckFailed, ProbeFailed)):
        return "failed", str(error)
    if isinstance(error, AssertionError):
        return "failed", str(error).split("\nassert ")[0]
    return "error", f"{INTERNAL}: {type(error).__name__}: {error}"
