"""The worker's plan: what the trusted side (:class:`autograder.workers.Worker`) decides for one worker and the
worker applies to itself before any student code runs (:func:`autograder.sandbox.worker.confine`).

Both sides import this module (standard library only). The plan travels as JSON; :meth:`Plan.from_json`
refuses anything but exactly these fields with these types.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class Plan:
    """One worker's confinement (paths are absolute paths on the grading machine)."""

    box: str
    """The worker's folder: ``kit/`` (the worker-side modules it imports) and ``submission/`` (its working
    copy, the worker's cwd); the same path inside the worker's root."""
    uid: int | None
    """The uid the worker switches to (no groups) once confined; None: it keeps the grader's (not root)."""
    namespaces: bool
    """Whether the worker is root in fresh mount/pid/net/ipc namespaces, and so builds a root of its own."""
    root: str
    """An empty folder where that root is built (with namespaces), before ``pivot_root`` into it."""
    system: tuple[str, ...]
    """The system folders bound read-only into that root (symbolic links such as /bin are recreated)."""
    keep: tuple[str, ...]
    """The interpreter's folders, bound read-only into that root after everything else."""
    hide: tuple[str, ...]
    """Paths covered with empty tmpfs (folders) or /dev/null (files) wherever they lie inside what is bound:
    the kit's checkout, the reference, grading.yml, the data sets."""
    scratch: tuple[str, ...]
    """Folders every user may write to (the temporary folder, /dev/shm, /var/tmp), each a fresh tmpfs."""
    scratch_mb: int
    """The size of each of those tmpfs, in MiB."""
    rlimits: dict[str, int]
    """``resource`` limit names (``RLIMIT_AS``, ...) to the value set as both soft and hard limit."""
    cgroups: tuple[str, ...]
    """The ``cgroup.procs`` files of the worker's own cgroup (one per v1 hierarchy), empty where the grader
    could make none."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not _fits(value, field.type):
                raise ValueError(f"worker plan: {field.name} must be {field.type}, not {value!r}")
        if not all(name.startswith("RLIMIT_") for name in self.rlimits):
            raise ValueError(f"worker plan: rlimits names a limit that is not one: {sorted(self.rlimits)}")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """The plan ``text`` holds; ValueError unless it has exactly the fields of a plan, each of its type."""
        raw = json.loads(text)
        names = {field.name for field in fields(cls)}
        if not isinstance(raw, dict) or set(raw) != names:
            got = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
            raise ValueError(f"worker plan: expected the fields {sorted(names)}, got {got}")
        return cls(**{name: tuple(value) if isinstance(value, list) else value for name, value in raw.items()})


def _fits(value: object, kind: str) -> bool:
    """Whether ``value`` is of the annotated type ``kind`` (the few this module uses)."""
    if kind.endswith(" | None"):
        return value is None or _fits(value, kind.removesuffix(" | None"))
    if kind == "tuple[str, ...]":
        return isinstance(value, tuple) and all(isinstance(item, str) for item in value)
    if kind == "dict[str, int]":
        return isinstance(value, dict) and all(isinstance(k, str) and _fits(v, "int") for k, v in value.items())
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return type(value).__name__ == kind  # str, bool
