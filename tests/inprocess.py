"""Run any cheap check (public or hidden, no training budget) in this process on a folder, with the seed
``autograder grade`` would draw for a given submission name: fast enough for thousands of names.

The test functions, probes and judges are those of ``autograder grade``; only the fixtures are built here,
as :mod:`autograder.selfcheck` builds them for the public checks (``plugin.py``'s seed and rng derivation).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from pathlib import Path

import numpy as np

from autograder import config, selfcheck
from autograder.checks import CheckFailed, ProbeFailed, gradients, values
from autograder.sandbox.probing import StudentError, resolve_probe, student_traceback, to_plain


def seed_of(base: int, name: str, check_id: str) -> int:
    """``plugin.seed``: base seed, submission name and check id hashed together."""
    return int.from_bytes(hashlib.sha256(f"{base}|{name}|{check_id}".encode()).digest()[:4], "big")


def rng_of(seed: int) -> np.random.Generator:
    """``plugin.rng``: the grader's private generator for ``seed``."""
    return np.random.default_rng(int.from_bytes(hashlib.sha256(f"{seed}|private".encode()).digest()[:8], "big"))


def cheap_checks(assignment: str) -> list[config.Check]:
    """The cpu-tier checks of ``assignment`` without a training budget, public and hidden."""
    return [c for c in config.load().assignment(assignment).checks if c.tier == "cpu" and not c.budget]


class Runner:
    """The checks of ``assignment`` on the modules of ``folder`` (imported once, kept between checks)."""

    def __init__(self, assignment: str, folder: Path):
        self.assignment, self.folder = assignment, Path(folder).resolve()
        self.entries = {c.id: c for c in config.load().assignment(assignment).checks}
        reference = selfcheck.SOLUTIONS / assignment
        self.names = selfcheck._managed_names(config.load().assignment(assignment).modules, [self.folder, reference])
        self.student: dict = {}
        self.reference: dict = selfcheck._STASH.setdefault(assignment, {})
        self.reference_folder = str(reference)
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

    def run(self, check_id: str, seed: int) -> str | None:
        """None when the check passes under ``seed``, else its feedback."""
        file_name, _, test_name = check_id.partition("::")

        def probe(name: str, /, **args):
            target = name if ":" in name else f"autograder.graders.{self.assignment}.probes:{name}"
            with selfcheck._modules(self.names, self.student, str(self.folder)), selfcheck._seeded(seed):
                try:
                    value = to_plain(resolve_probe(target)(**args))
                except StudentError as error:
                    raise ProbeFailed(str(error)) from None
                except Exception as error:  # noqa: BLE001 - student code may raise anything
                    raise ProbeFailed(student_traceback(error, str(self.folder))) from None
            return selfcheck._plain(value)

        fixtures = {"probe": lambda: probe, "seed": lambda: seed, "rng": lambda: rng_of(seed), "record": dict,
                    "submission": lambda: self.folder, "check": lambda: self.entries[check_id]}
        with selfcheck._modules(self.names, self.reference, self.reference_folder):
            module = importlib.import_module(f"autograder.graders.{self.assignment}.{file_name.removesuffix('.py')}")
            function = getattr(module, test_name.partition("[")[0])
            arguments = selfcheck._parameters(function, test_name)
            for parameter in inspect.signature(function).parameters:
                if parameter not in arguments:
                    arguments[parameter] = fixtures[parameter]()
            saved = self._measured(module, check_id)
            saved = {name: (getattr(module, name), wrapper) for name, wrapper in saved.items()}
            for name, (_, wrapper) in saved.items():
                setattr(module, name, wrapper)
            try:
                function(**arguments)
            except (CheckFailed, ProbeFailed, AssertionError) as error:
                return str(error) or type(error).__name__
            finally:
                for name, (original, _) in saved.items():
                    setattr(module, name, original)
        return None
