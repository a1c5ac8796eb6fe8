"""grading.yml: points, tier, visibility, timeout, budget and threshold of every check.

Validated at load: a wrong value or unknown key is an error naming the line. Whether every check id
names a real grader test (and every grader test has an entry) is checked by :func:`check_ids`.
"""

from __future__ import annotations

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
    points: float = Field(gt=0)
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


class _LineLoader(yaml.SafeLoader):
    """A YAML loader that records the line of each mapping under the key ``line``."""

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        if "id" in mapping:
            mapping.setdefault("line", node.start_mark.line + 1)
        return mapping


def _line_of(raw: Any, location: tuple) -> int | None:
    """Best line number for a pydantic error location inside the raw YAML data."""
    node, line = raw, None
    for key in location:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and "line" in node:
            line = node["line"]
    return line


def load(path: Path | None = None) -> Grading:
    """Read and validate grading.yml (default: the repository's)."""
    path = Path(path or ROOT / "grading.yml")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML ({getattr(error, 'problem', error)})") from None
    try:
        return Grading.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        line = _line_of(raw, first["loc"])
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
