"""grading.yml: points, tier, visibility, timeout, budget and threshold of every check.

Validated at load: a wrong value or unknown key is an error naming the line. Whether every check id
names a real grader test (and every grader test has an entry) is checked by :func:`check_ids`.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ROOT = Path(os.environ.get("AUTOGRADER_ROOT", Path(__file__).resolve().parent.parent))
GRADERS = Path(__file__).resolve().parent / "graders"
Tier = Literal["cpu", "gpu"]


class ConfigError(ValueError):
    """grading.yml is invalid; the message names the file and line."""


class Check(BaseModel):
    """One graded check: a pytest test of ``autograder/graders/<assignment>/``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^test_\w+\.py::test_\w+(\[[\w.-]+\])?$")
    points: float = Field(ge=0)
    visibility: Literal["public", "hidden"]
    tier: Tier = "cpu"
    timeout: float = Field(default=60, gt=0, le=3600)
    budget: dict[str, Any] = Field(default_factory=dict)
    threshold: float | None = None
    calibration: str | None = None
    line: int = 0

    @property
    def name(self) -> str:
        """The test function name (with its parameter, if any)."""
        return self.id.split("::", 1)[1]


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    title: str
    modules: list[str]
    checks: list[Check]

    @field_validator("checks")
    @classmethod
    def unique_ids(cls, checks: list[Check]) -> list[Check]:
        seen: set[str] = set()
        for check in checks:
            if check.id in seen:
                raise ValueError(f"line {check.line}: check {check.id!r} is listed twice")
            seen.add(check.id)
        return checks

    def selected(self, tier: Tier, visibility: str = "all") -> list[Check]:
        """Checks run for ``tier`` (the gpu tier includes the cpu checks) and ``visibility``."""
        tiers = {"cpu"} if tier == "cpu" else {"cpu", "gpu"}
        return [c for c in self.checks
                if c.tier in tiers and (visibility == "all" or c.visibility == visibility)]

    def check(self, check_id: str) -> Check:
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(check_id)

    def max_score(self, tier: Tier) -> float:
        return sum(c.points for c in self.selected(tier))


class Grading(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    seed: int
    assignments: dict[str, Assignment]

    def assignment(self, name: str) -> Assignment:
        if name not in self.assignments:
            raise ConfigError(f"grading.yml has no assignment {name!r}; known: {', '.join(self.assignments)}")
        return self.assignments[name]


def _line_of(root: yaml.Node | None, location: tuple) -> int | None:
    """Line of the deepest key or item of ``location`` (a pydantic error location) in the YAML tree."""
    node, line = root, None
    for key in location:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(key)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _number_checks(raw: Any, root: yaml.Node) -> None:
    """Give every check mapping its ``line`` (used in messages about its id)."""
    assignments = raw.get("assignments") if isinstance(raw, dict) else None
    for name, assignment in (assignments or {}).items() if isinstance(assignments, dict) else ():
        checks = assignment.get("checks") if isinstance(assignment, dict) else None
        for index, check in enumerate(checks if isinstance(checks, list) else ()):
            if isinstance(check, dict):
                check.setdefault("line", _line_of(root, ("assignments", name, "checks", index)))


def load(path: Path | None = None) -> Grading:
    """Read and validate grading.yml (default: the repository's); parsed once per process while the file
    stays the same (the result is frozen)."""
    path = Path(path or ROOT / "grading.yml").resolve()
    try:
        status = path.stat()
    except FileNotFoundError:
        hint = "" if path.parent != ROOT.resolve() else (" (the grading kit reads grading.yml, solutions/ and assignments/ "
                                               "from its checkout: install it editable, or set AUTOGRADER_ROOT)")
        raise ConfigError(f"{path}: file not found{hint}") from None
    return _parse(path, status.st_mtime_ns, status.st_size, status.st_ino)


@functools.lru_cache(maxsize=8)
def _parse(path: Path, *identity: int) -> Grading:
    """grading.yml at ``path`` validated; ``identity`` (mtime, size, inode) keys the cache."""
    try:
        text = path.read_text(encoding="utf-8")
        raw, root = yaml.safe_load(text), yaml.compose(text)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML ({getattr(error, 'problem', error)})") from None
    _number_checks(raw, root)
    try:
        return Grading.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        line = _line_of(root, first["loc"])
        where = f"{path}:{line}" if line else str(path)
        field = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{where}: {field}: {first['msg']}") from None


def check_ids(grading: Grading, assignment: str, collected: set[str], path: Path | None = None) -> None:
    """Every check id must be a collected grader test, and every grader test must have a check."""
    where = path or ROOT / "grading.yml"
    for check in grading.assignment(assignment).checks:
        if check.id not in collected:
            raise ConfigError(f"{where}:{check.line}: {assignment} check {check.id!r} matches no test in "
                              f"autograder/graders/{assignment}/")
    missing = collected - {c.id for c in grading.assignment(assignment).checks}
    if missing:
        raise ConfigError(f"{where}: {assignment} has grader tests without an entry: {', '.join(sorted(missing))}")
