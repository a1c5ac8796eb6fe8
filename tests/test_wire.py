"""The plain-data protocol: round trips, no pickle, limits."""

import os

import numpy as np
import pytest

from autograder.sandbox import wire


def roundtrip(value):
    read, write = os.pipe()
    try:
        wire.send(write, value)
        return wire.receive(read)
    finally:
        os.close(read)
        os.close(write)


def test_values_and_arrays_round_trip():
    value = {"a": [1, 2.5, None, True, "x"], "t": (1, 2), "arr": np.arange(6, dtype=np.float32).reshape(2, 3),
             "nested": {"i": np.int64(3), "f": np.float64(float("nan")), "inf": float("-inf")}}
    got = roundtrip(value)
    assert got["a"] == [1, 2.5, None, True, "x"] and got["t"] == [1, 2]
    assert got["arr"].dtype == np.float32 and np.array_equal(got["arr"], value["arr"])
    assert got["nested"]["i"] == 3 and np.isnan(got["nested"]["f"]) and got["nested"]["inf"] == float("-inf")


@pytest.mark.parametrize("value", [object(), {1: "int key"}, np.array([object()]), {1, 2}])
def test_unsendable_values_are_refused(value):
    with pytest.raises(wire.WireError):
        roundtrip(value)


def test_receive_refuses_pickled_arrays():
    """A forged frame holding an object array must not be unpickled."""
    import io
    import struct

    buffer = io.BytesIO()
    np.save(buffer, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    header = b'{"__array__": 0}'
    frames = [header, buffer.getvalue()]
    message = struct.pack(">Q", 1) + b"".join(struct.pack(">Q", len(f)) + f for f in frames)
    read, write = os.pipe()
    os.write(write, message)
    with pytest.raises(ValueError, match="allow_pickle"):
        wire.receive(read)
    os.close(read)
    os.close(write)


def test_receive_times_out_on_a_silent_peer():
    import time

    read, write = os.pipe()
    with pytest.raises(TimeoutError):
        wire.receive(read, deadline=time.monotonic() + 0.2)
    os.close(read)
    os.close(write)
