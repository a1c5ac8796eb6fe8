"""Type, shape and value checks on arrays that came back from a probe."""

from __future__ import annotations

import numpy as np

from autograder.judges import CheckFailed


def expect_array(value, what: str, shape: tuple[int, ...] | None = None, kind: str = "f") -> np.ndarray:
    """``value`` as a finite numpy array of dtype kind ``kind`` ('f' float, 'i' integer, 'b' bool)
    and of ``shape`` (None entries match any size); CheckFailed naming ``what`` otherwise."""
    if type(value) is not np.ndarray:
        raise CheckFailed(f"{what} should be a tensor, got {type(value).__name__}")
    kinds = {"f": "f", "i": "iu", "b": "b"}[kind]
    if value.dtype.kind not in kinds:
        expected = {"f": "floating point", "i": "integer", "b": "boolean"}[kind]
        raise CheckFailed(f"{what} should hold {expected} values, got dtype {value.dtype}")
    if shape is not None and (value.ndim != len(shape) or any(
            want is not None and got != want for got, want in zip(value.shape, shape))):
        pretty = tuple("*" if s is None else s for s in shape)
        raise CheckFailed(f"{what} should have shape {pretty}, got {value.shape}")
    if kind == "f" and not np.all(np.isfinite(value)):
        raise CheckFailed(f"{what} contains NaN or infinite values")
    return value


def expect_number(value, what: str) -> float:
    """A finite real number (a 0-d or 1-element array is accepted)."""
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "fiu":
        value = value.reshape(()).item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CheckFailed(f"{what} should be a number, got {type(value).__name__}")
    if not np.isfinite(value):
        raise CheckFailed(f"{what} is {value}, expected a finite number")
    return float(value)


def assert_close(actual: np.ndarray, expected: np.ndarray, what: str, rtol: float = 1e-5,
                 atol: float = 1e-7) -> None:
    """Element-wise closeness; the message gives the worst entry."""
    actual = expect_array(actual, what, tuple(np.shape(expected)))
    expected = np.asarray(expected, dtype=np.float64)
    gap = np.abs(actual.astype(np.float64) - expected) - rtol * np.abs(expected)
    if np.all(gap <= atol):
        return
    worst = np.unravel_index(int(np.argmax(gap)), expected.shape) if expected.ndim else ()
    index = list(map(int, worst))
    raise CheckFailed(f"{what} differs from the expected values: at index {index} got "
                      f"{actual[worst]:.6g}, expected {expected[worst]:.6g}")


def float_arrays(value):
    """Floats from a probe (scalar results) as 0-d float64 arrays, recursively through dicts and lists, so
    that :func:`expect_array` accepts them."""
    if isinstance(value, float):
        return np.array(value)
    if isinstance(value, dict):
        return {k: float_arrays(v) for k, v in value.items()}
    if isinstance(value, list):
        return [float_arrays(v) for v in value]
    return value


def expect_arrays(got: dict, shapes: dict[str, tuple], where: str) -> dict[str, np.ndarray]:
    """The arrays ``got[name]`` for each name of ``shapes``, each checked for its shape."""
    return {name: expect_array(got.get(name), f"{where}'s returned {name}", shape) for name, shape in shapes.items()}
