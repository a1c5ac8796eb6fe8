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


def _from_file(tmp_path, frames: list[bytes], arrays: int = 0):
    """receive() on a file holding one raw message made of ``frames`` (JSON first, then .npy blobs)."""
    import struct

    path = tmp_path / "message"
    path.write_bytes(struct.pack(">Q", arrays) + b"".join(struct.pack(">Q", len(f)) + f for f in frames))
    fd = os.open(path, os.O_RDONLY)
    try:
        return wire.receive(fd)
    finally:
        os.close(fd)


def test_largest_legitimate_replies_fit(tmp_path):
    """A state dict of ~1.2M float32 (tp2's CifarNet) as arrays, and a 5000-point training history."""
    state = {f"layer{i}.weight": np.ones(120_000, dtype=np.float32) for i in range(10)}
    history = {key: [0.5] * 5000 for key in ("train_loss", "test_loss", "train_acc", "test_acc")}
    path = tmp_path / "reply"
    with open(path, "wb") as handle:
        wire.send(handle.fileno(), {"ok": True, "value": {"state": state, "history": history}},
                  limit=wire.MAX_REPLY_BYTES)
    fd = os.open(path, os.O_RDONLY)
    try:
        got = wire.receive(fd)["value"]
    finally:
        os.close(fd)
    assert got["state"]["layer9.weight"].shape == (120_000,) and len(got["history"]["test_acc"]) == 5000


@pytest.mark.parametrize(("frames", "arrays", "message"), [
    ([b"[" + b"[]," * (wire.MAX_ELEMENTS // 2) + b"[]]"], 0, "more than 1,000,000 values"),
    ([b"[" * (wire.MAX_DEPTH + 2) + b"]" * (wire.MAX_DEPTH + 2)], 0, "nested more than 64 levels"),
    ([b'"' + b"x" * wire.MAX_JSON_BYTES + b'"'], 0, "plain-data part is larger than 8 MiB"),
    ([b"[]", b"\0" * (wire.MAX_REPLY_BYTES // 2), b"\0" * (wire.MAX_REPLY_BYTES // 2)], 2, "larger than 64 MiB"),
])
def test_replies_over_the_caps_are_refused_before_decoding(tmp_path, frames, arrays, message):
    with pytest.raises(wire.WireError, match=message):
        _from_file(tmp_path, frames, arrays)


def test_send_refuses_a_message_over_its_limit():
    with pytest.raises(wire.WireError, match="larger than 64 MiB"):
        wire.send(-1, {"value": np.zeros(wire.MAX_REPLY_BYTES // 8 + 1)}, limit=wire.MAX_REPLY_BYTES)
