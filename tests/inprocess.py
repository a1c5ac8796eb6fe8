"""Run any cheap check (public or hidden, no training budget) in this process on a folder, with the seed
``autograder grade`` would draw for a given submission name: fast enough for thousands of names.

The test functions, probes and judges are those of ``autograder grade``; only the fixtures are built here,
as :mod:`autograder.selfcheck` builds them for the public checks, with the seed and generator of
:mod:`autograder.check_context` that ``autograder grade`` gives them.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from autograder import config, data, selfcheck
from autograder.check_context import check_seed as seed_of  # noqa: F401 - the seed `autograder grade` draws
from autograder.judges import CheckFailed, ProbeFailed, gradients, values

#: the key of the gradings in the kit's tests (deterministic draws; a real grading draws a fresh one)
TEST_KEY = "kit-tests"


def cheap_checks(assignment: str) -> list[config.Check]:
    """The cpu-tier checks of ``assignment`` without a training budget, public and hidden."""
    return [c for c in config.load().assignment(assignment).checks if c.tier == "cpu" and not c.budget]


class Runner:
    """The checks of ``assignment`` on the modules of ``folder`` (imported once, kept between checks)."""

    def __init__(self, assignment: str, folder: Path):
        self.assignment, self.folder = assignment, Path(folder).resolve()
        self.entries = {c.id: c for c in config.load().assignment(assignment).checks}
        self.modules = config.load().assignment(assignment).modules
        self.student: dict = {}  # the folder's modules, imported once and kept between checks
        self.margins: dict[str, float] = {}  # check id -> largest error / tolerance seen in its judges

    def _usage(self, check_id: str, ratio: float) -> None:
        self.margins[check_id] = max(self.margins.get(check_id, 0.0), float(ratio))

    def _measured(self, module, check_id: str) -> dict:
        """Wrappers of the tolerance judges the test module uses, recording how much of the tolerance the
        values use (1 = at the limit)."""
        def assert_close(actual, expected, what, rtol=1e-5, atol=1e-7):
            actual_array = np.asarray(actual, dtype=np.float64)
            if actual_array.shape == np.shape(expected) and np.all(np.isfinite(actual_array)):
                want = np.asarray(expected, dtype=np.float64)
                self._usage(check_id, np.max(np.abs(actual_array - want) / (atol + rtol * np.abs(want)), initial=0))
            return values.assert_close(actual, expected, what, rtol=rtol, atol=atol)

        def assert_gradients(student, expected, where, tolerance=gradients.TOLERANCE):
            for name, want in expected.items():
                got = np.asarray(student.get(name, np.nan) if isinstance(student, dict) else np.nan, dtype=float)
                if got.shape == np.shape(want):
                    self._usage(check_id, np.max(gradients.rel_error(got, want), initial=0) / tolerance)
            return gradients.assert_gradients(student, expected, where, tolerance)

        wrappers = {"assert_close": assert_close, "assert_gradients": assert_gradients}
        return {name: wrapper for name, wrapper in wrappers.items() if hasattr(module, name)}

    @contextlib.contextmanager
    def _patched(self, module, check_id: str):
        """Within: the tolerance judges of test ``module`` measure how much of their tolerance is used."""
        saved = {name: getattr(module, name) for name in self._measured(module, check_id)}
        for name, wrapper in self._measured(module, check_id).items():
            setattr(module, name, wrapper)
        try:
            yield
        finally:
            for name, original in saved.items():
                setattr(module, name, original)

    def run(self, check_id: str, seed: int, key: str = TEST_KEY) -> str | None:
        """None when the check passes under ``seed`` in a grading of secret ``key``, else its feedback."""
        fixtures = {"check": lambda: self.entries[check_id], "data_root": data.root}
        try:
            selfcheck.execute(self.assignment, check_id, self.folder, self.modules, seed,
                              patch=lambda module: self._patched(module, check_id), key=key,
                              fixtures=fixtures, student=self.student)
        except (CheckFailed, ProbeFailed, AssertionError) as error:
            return str(error) or type(error).__name__
        return None
