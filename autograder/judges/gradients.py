"""Gradient checks: central finite differences in float64 and the CS231n relative error."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder.judges import CheckFailed
from autograder.judges.values import expect_array

TOLERANCE = 1e-6


def rel_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise ``|a - b| / max(1e-8, |a| + |b|)``."""
    return np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))


def numeric_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar ``f()`` with respect to the float64 array ``x`` (changed in
    place and restored): ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)``, same shape as ``x``."""
    grad = np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + eps
        plus = f()
        x[index] = saved - eps
        minus = f()
        x[index] = saved
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def assert_gradients(student: dict, expected: dict[str, np.ndarray], where: str,
                     tolerance: float = TOLERANCE) -> None:
    """Each ``student[name]`` matches ``expected[name]`` with max rel. error ≤ ``tolerance``."""
    if not isinstance(student, dict):
        raise CheckFailed(f"{where} should return a dict of gradients, got {type(student).__name__}")
    for name, want in expected.items():
        if name not in student:
            raise CheckFailed(f"{where}: the gradient of {name} is missing (keys: {sorted(student)})")
        got = student[name]
        if isinstance(got, np.ndarray) and want.ndim == 2 and got.shape == want.shape[::-1] != want.shape:
            raise CheckFailed(f"{where}: gradient of {name} has shape {got.shape}, expected {want.shape}: "
                              "it is transposed (a gradient has the shape of its parameter)")
        got = expect_array(got, f"{where}: gradient of {name}", want.shape)
        errors = rel_error(got.astype(np.float64), want)
        worst = np.unravel_index(int(np.argmax(errors)), errors.shape) if errors.ndim else ()
        if errors[worst] > tolerance:
            raise CheckFailed(f"{where}: gradient of {name} is wrong: relative error "
                              f"{errors[worst]:.2e} > {tolerance:.0e} at index {list(map(int, worst))} "
                              f"(got {got[worst]:.6g}, expected {want[worst]:.6g})")
