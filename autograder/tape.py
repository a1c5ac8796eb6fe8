"""Reference values recorded at release and replayed by the student kit's public checks.

A public check calls the grader's reference (``ref.forward(params, X)``, ``reference.answer_formats(a)``)
on inputs it draws from a fixed public seed. At release, :class:`Recording` wraps those reference modules,
runs each public check on the reference solution and stores every call (a fingerprint of its arguments)
with its result in a :class:`Tape`. The student kit holds the tape instead of the reference: :class:`Replay`
answers the same calls with the same results, so the check's own judges run unchanged on the student's
code. A call whose arguments were never recorded (they depend on what the student's code returned) raises
:class:`NotRecorded`. Only plain data travels (the wire's JSON and ``.npy`` encoding): never pickle.
"""

from __future__ import annotations

import hashlib
import json
import types
import zipfile
from pathlib import Path

import numpy as np

from autograder.sandbox import wire


class NotRecorded(LookupError):
    """The reference was called with arguments the tape does not hold."""


def _plain(value):
    """``value`` as wire data; tensors and numpy generators tagged so that replay gives them back."""
    if isinstance(value, np.random.Generator):
        return {"__rng__": value.bit_generator.state}
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        return {"__tensor__": value.detach().cpu().numpy().copy()}
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, Path):
        raise TypeError("paths cannot be recorded: return the data the check needs instead")
    return value


def _canonical(value):
    """Plain data as it reads back from a tape (tuples become lists, numpy scalars Python numbers)."""
    return wire.round_trip(_plain(value))


def _restore(value):
    """The inverse of :func:`_plain` on decoded wire data (fresh objects: checks may modify them)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [_restore(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"__tensor__"}:
            import torch

            return torch.from_numpy(np.array(value["__tensor__"], copy=True))
        return {key: _restore(item) for key, item in value.items()}
    return value


def _generators(args) -> list[np.random.Generator]:
    found: list[np.random.Generator] = []

    def walk(value):
        if isinstance(value, np.random.Generator):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(args)
    return found


def _digest(value, loose: bool = False) -> str:
    """A fingerprint of canonical arguments; ``loose`` rounds floats to float32, so that a last-digit
    difference of another machine's arithmetic still finds the recorded call."""
    digest = hashlib.sha256()

    def feed(item) -> None:
        if isinstance(item, np.ndarray):
            array = item.astype(np.float32) if loose and item.dtype.kind == "f" else item
            digest.update(f"array{array.dtype.str}{array.shape}".encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        elif isinstance(item, float):
            digest.update(b"float" + (np.float32(item) if loose else np.float64(item)).tobytes())
        elif isinstance(item, list):
            digest.update(b"[")
            for element in item:
                feed(element)
            digest.update(b"]")
        elif isinstance(item, dict):
            digest.update(b"{")
            for key, element in item.items():
                digest.update(key.encode() + b":")
                feed(element)
            digest.update(b"}")
        else:
            digest.update(repr((type(item).__name__, item)).encode())

    feed(value)
    return digest.hexdigest()


class Tape:
    """Recorded reference calls ``{"path", "key", "loose", "result", "rngs"}`` (the arguments only as
    fingerprints) and constants ``{path: value}``."""

    def __init__(self, calls: list[dict] | None = None, constants: dict | None = None):
        self.calls = calls or []
        self.constants = constants or {}
        self._keys = {(call["path"], call["key"]): call for call in self.calls}
        self._loose = {(call["path"], call["loose"]): call for call in self.calls}

    def add(self, path: str, args, result, rngs: list) -> None:
        entry = {"path": path, "key": _digest(args), "loose": _digest(args, loose=True), "result": result,
                 "rngs": rngs}
        if (path, entry["key"]) not in self._keys:
            self.calls.append(entry)
            self._keys[path, entry["key"]] = entry
            self._loose.setdefault((path, entry["loose"]), entry)

    def find(self, path: str, args) -> dict:
        found = self._keys.get((path, _digest(args))) or self._loose.get((path, _digest(args, loose=True)))
        if found is None:
            raise NotRecorded(path)
        return found

    def save(self, target: Path) -> Path:
        """One zip: ``tape.json`` (the calls, arrays by index) and ``<index>.npy`` per array."""
        blobs: list[bytes] = []
        header = json.dumps(wire._encode({"calls": self.calls, "constants": self.constants}, blobs))
        unique: dict[bytes, int] = {}
        for blob in blobs:  # a value recorded twice (e.g. a state sent, then returned) is stored once
            unique.setdefault(blob, len(unique))
        index = [unique[blob] for blob in blobs]
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("tape.json", json.dumps({"document": json.loads(header), "blobs": index}))
            for position, blob in enumerate(unique):
                archive.writestr(f"{position}.npy", blob)
        return target

    @classmethod
    def load(cls, source: Path) -> Tape:
        with zipfile.ZipFile(source) as archive:
            header = json.loads(archive.read("tape.json"))
            stored = [archive.read(f"{position}.npy") for position in range(len(archive.namelist()) - 1)]
        document = wire._decode(header["document"], [stored[position] for position in header["blobs"]])
        return cls(document["calls"], document["constants"])


class Recording:
    """The live reference module ``target``; every call and constant read through it lands on ``tape``."""

    def __init__(self, target: types.ModuleType, tape: Tape, prefix: str):
        self._target, self._tape, self._prefix = target, tape, prefix

    def __getattr__(self, name: str):
        value = getattr(self._target, name)
        path = f"{self._prefix}.{name}"
        if isinstance(value, types.ModuleType):
            return Recording(value, self._tape, path)
        if not callable(value):
            self._tape.constants[path] = _canonical(value)
            return value

        def record(*args, **kwargs):
            before = _canonical([list(args), kwargs])
            result = value(*args, **kwargs)
            rngs = [g.bit_generator.state for g in _generators([args, kwargs])]
            self._tape.add(path, before, _canonical(result), _canonical(rngs))
            return result

        return record


class Replay:
    """Stands where the reference module was: answers from ``tape`` what :class:`Recording` saw."""

    def __init__(self, tape: Tape, prefix: str):
        self._tape, self._prefix = tape, prefix

    def __getattr__(self, name: str):
        path = f"{self._prefix}.{name}"
        if path in self._tape.constants:
            return _restore(self._tape.constants[path])
        if any(call["path"].startswith(path + ".") for call in self._tape.calls) or any(
                key.startswith(path + ".") for key in self._tape.constants):
            return Replay(self._tape, path)

        def replay(*args, **kwargs):
            entry = self._tape.find(path, _canonical([list(args), kwargs]))
            for generator, state in zip(_generators([args, kwargs]), entry["rngs"]):
                generator.bit_generator.state = state
            return _restore(entry["result"])

        return replay


_TAPES: dict[str, Tape] = {}


def replay(assignment: str, name: str) -> Replay:
    """The reference global ``name`` (``ref``, ``reference``) of ``assignment``'s public checks in the
    student kit, answered from the tape shipped beside them."""
    if assignment not in _TAPES:
        _TAPES[assignment] = Tape.load(Path(__file__).resolve().parent / "graders" / assignment / "public_tape.zip")
    return Replay(_TAPES[assignment], name)
