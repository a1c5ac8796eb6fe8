"""Part 1 (conv_math.py): sizes and weight counts against real PyTorch layers, receptive fields against the
gradient of one output pixel. Cases are drawn from the check's seed."""

from autograder.graders.tp2_cnn import _reference as ref
from autograder.judges import CheckFailed


def _judge(got, cases: list, expected: list[int], function: str) -> None:
    if not isinstance(got, list) or len(got) != len(cases):
        raise CheckFailed(f"conv_math.{function}: could not evaluate the cases")
    for (args, kwargs), value, want in zip(cases, got, expected):
        shown = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
        if not isinstance(value, int):
            raise CheckFailed(f"conv_math.{function}({shown}) returned {value}, expected the integer {want}")
        if value != want:
            raise CheckFailed(f"conv_math.{function}({shown}) = {value}, expected {want}")


def test_conv_output_size(probe, rng):
    cases = [[[32, 5, 2, 1], {}], [[32, 5, 2, 2], {}]]
    while len(cases) < 14:
        x, k, p, s = int(rng.integers(5, 41)), int(rng.integers(1, 8)), int(rng.integers(0, 4)), int(rng.integers(1, 5))
        if x + 2 * p >= k:
            cases.append([[x, k, p, s], {}])
    expected = [ref.conv_output_size(*args) for args, _ in cases]
    _judge(probe("conv_math", function="conv_output_size", cases=cases), cases, expected, "conv_output_size")


def test_conv_weights(probe, rng):
    cases = [[[5, 3, 1], {}]]
    for _ in range(6):
        k, z, m = int(rng.integers(1, 8)), int(rng.integers(1, 65)), int(rng.integers(1, 65))
        cases.append([[k, z, m], {"bias": bool(rng.integers(2))}])
    expected = [ref.conv_weights(*args, kwargs.get("bias", True)) for args, kwargs in cases]
    _judge(probe("conv_math", function="conv_weights", cases=cases), cases, expected, "conv_weights")


def test_fc_equivalent_weights(probe, rng):
    cases = []
    for _ in range(5):
        x, y, z = int(rng.integers(2, 13)), int(rng.integers(2, 13)), int(rng.integers(1, 5))
        cases.append([[x, y, z, int(rng.integers(1, x + 1)), int(rng.integers(1, y + 1))],
                      {"bias": bool(rng.integers(2))}])
    cases.append([[8, 8, 3, 8, 8], {}])
    expected = [ref.fc_equivalent_weights(*args, kwargs.get("bias", True)) for args, kwargs in cases]
    _judge(probe("conv_math", function="fc_equivalent_weights", cases=cases), cases, expected,
           "fc_equivalent_weights")


def test_unshared_conv_weights(probe, rng):
    cases = []
    for _ in range(5):
        C, H, W, Q = (int(v) for v in rng.integers(1, 17, size=4))
        cases.append([[C, H, W, Q], {"k": int(rng.choice([1, 3, 5, 7]))}])
    cases.append([[3, 8, 8, 4], {}])
    expected = [ref.unshared_conv_weights(*args, kwargs.get("k", 5)) for args, kwargs in cases]
    _judge(probe("conv_math", function="unshared_conv_weights", cases=cases), cases, expected,
           "unshared_conv_weights")


def test_receptive_field(probe, rng):
    cases = [[[[]], {}], [[[[5, 1], [5, 1]]], {}]]
    for _ in range(8):
        depth = int(rng.integers(1, 5))
        cases.append([[[[int(rng.integers(1, 8)), int(rng.integers(1, 4))] for _ in range(depth)]], {}])
    expected = [ref.receptive_field([tuple(layer) for layer in args[0]]) for args, _ in cases]
    _judge(probe("conv_math", function="receptive_field", cases=cases), cases, expected, "receptive_field")
