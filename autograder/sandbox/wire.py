"""The plain-data protocol between grader and worker: JSON plus ``.npy`` blobs, never pickle.

A message is ``[8-byte big-endian length][JSON]`` followed by one ``[length][npy bytes]`` frame per array.
In the JSON, arrays appear as ``{"__array__": index}``; tuples travel as lists.
Allowed values: None, bool, int, float, str, list/tuple, dict with str keys, numpy arrays (no object
dtype) and numpy scalars. Torch tensors are converted by the worker before sending.

What the grader receives is bounded before it is decoded: :data:`MAX_REPLY_BYTES` in all, a JSON part of
at most :data:`MAX_JSON_BYTES` with at most :data:`MAX_ELEMENTS` containers and items and nesting at most
:data:`MAX_DEPTH` deep (the grader's own requests to the worker may be larger: :data:`MAX_MESSAGE_BYTES`).
"""

from __future__ import annotations

import io
import json
import math
import os
import select
import struct
import time

import numpy as np

MAX_MESSAGE_BYTES = 512 * 2**20  # a request of the grader (trusted: images it sends to the worker)
MAX_REPLY_BYTES = 64 * 2**20  # a reply of the worker, arrays included
MAX_JSON_BYTES = 8 * 2**20
MAX_ELEMENTS = 1_000_000
MAX_DEPTH = 64
MAX_ARRAYS = 10_000
_LENGTH = struct.Struct(">Q")


class WireError(ValueError):
    """A value that cannot travel, or a malformed message."""


def _encode(value, blobs: list[bytes]):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise WireError("arrays of Python objects cannot be sent")
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        blobs.append(buffer.getvalue())
        return {"__array__": len(blobs) - 1}
    if isinstance(value, (list, tuple)):
        return [_encode(item, blobs) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise WireError("dictionary keys must be strings")
        return {key: _encode(item, blobs) for key, item in value.items()}
    raise WireError(f"a value of type {type(value).__name__} cannot be sent")


def _decode(value, blobs: list[bytes], depth: int = 0):
    if depth > MAX_DEPTH:
        raise WireError(f"values nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, list):
        return [_decode(item, blobs, depth + 1) for item in value]
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return np.load(io.BytesIO(blobs[value["__array__"]]), allow_pickle=False)
        if set(value) == {"__float__"}:
            return float(value["__float__"])
        return {key: _decode(item, blobs, depth + 1) for key, item in value.items()}
    return value


def _elements(header: bytes) -> int:
    """An upper bound of the containers and items in a JSON text (brackets and commas, strings included)."""
    return header.count(b"[") + header.count(b"{") + header.count(b",")


def round_trip(value):
    """``value`` as the other side of the wire reads it (tuples as lists, numpy scalars as Python numbers)."""
    blobs: list[bytes] = []
    return _decode(json.loads(json.dumps(_encode(value, blobs))), blobs)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def send(fd: int, value, limit: int = MAX_MESSAGE_BYTES) -> None:
    """Write one message holding ``value`` (at most ``limit`` bytes) to file descriptor ``fd``."""
    blobs: list[bytes] = []
    header = json.dumps(_encode(value, blobs)).encode()
    frames = [header, *blobs]
    if sum(map(len, frames)) > limit:
        raise WireError(f"message larger than {limit // 2**20} MiB")
    _write_all(fd, _LENGTH.pack(len(blobs)) + b"".join(_LENGTH.pack(len(f)) + f for f in frames))


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    chunks, left = [], size
    while left:
        if deadline is not None:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(fd: int, deadline: float | None = None, limit: int = MAX_REPLY_BYTES, trusted: bool = False):
    """Read one message of at most ``limit`` bytes from ``fd`` and return its value; TimeoutError past
    ``deadline`` (monotonic). Unless ``trusted``, its JSON part is held to the size and structure caps."""
    (count,) = _LENGTH.unpack(_read_exact(fd, _LENGTH.size, deadline))
    if count > MAX_ARRAYS:
        raise WireError(f"message with more than {MAX_ARRAYS} arrays")
    frames, total = [], 0
    for index in range(count + 1):
        (size,) = _LENGTH.unpack(_read_exact(fd, _LENGTH.size, deadline))
        total += size
        if total > limit:
            raise WireError(f"message larger than {limit // 2**20} MiB")
        if index == 0 and not trusted and size > MAX_JSON_BYTES:
            raise WireError(f"message whose plain-data part is larger than {MAX_JSON_BYTES // 2**20} MiB "
                            "(send large numbers as arrays)")
        frames.append(_read_exact(fd, size, deadline))
    if not trusted and _elements(frames[0]) > MAX_ELEMENTS:
        raise WireError(f"message with more than {MAX_ELEMENTS:,} values (send large numbers as arrays)")
    try:
        header = json.loads(frames[0])
    except (ValueError, RecursionError) as error:
        raise WireError(f"malformed message: {error}") from None
    return _decode(header, frames[1:])
