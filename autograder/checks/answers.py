"""Numeric written answers: the student's answers.yml against the key in solutions/<a>/answers.yml."""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from autograder.checks import CheckFailed

MAX_BYTES = 64 * 1024


def load_key(path: Path) -> dict[str, dict]:
    """The answer key: ``{key: {question, prompt, answer, tolerance?, wrong?}}``."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def student_template(key: dict[str, dict]) -> dict[str, dict]:
    """What students receive: question and prompt kept, answer blank, feedback removed."""
    return {name: {"question": entry["question"], "prompt": entry["prompt"], "answer": None}
            for name, entry in key.items()}


def load_submitted(submission: Path) -> dict:
    """The submitted answers.yml, read as text (size-capped) and parsed safely."""
    path = submission / "answers.yml"
    if not path.is_file():
        raise CheckFailed("answers.yml was not found in the submission")
    if path.stat().st_size > MAX_BYTES:
        raise CheckFailed(f"answers.yml is larger than {MAX_BYTES // 1024} KiB")
    try:
        data = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise CheckFailed(f"answers.yml could not be read: {str(error).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise CheckFailed("answers.yml should map each question key to its entry")
    return data


def _numbers(value) -> list[float] | None:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    return [float(v) for v in values]


def judge(submitted: dict, key: dict[str, dict]) -> list[str]:
    """One feedback line per wrong, missing or malformed answer (empty when all are right)."""
    problems = []
    for name, entry in key.items():
        given = submitted.get(name)
        given = given.get("answer") if isinstance(given, dict) else given
        label = f"{name} (question {entry['question']})"
        if given is None:
            problems.append(f"{label}: no answer")
            continue
        got, want = _numbers(given), _numbers(entry["answer"])
        if got is None:
            problems.append(f"{label}: expected a number{' list' if len(want) > 1 else ''}, got {given!r}")
            continue
        tolerance = float(entry.get("tolerance", 0))
        if len(got) == len(want) and all(math.isclose(g, w, abs_tol=tolerance + 1e-9) for g, w in zip(got, want)):
            continue
        hint = next((text for wrong, text in (entry.get("wrong") or {}).items()
                     if _numbers(wrong) == got), None)
        problems.append(f"{label}: {given!r} is not right" + (f" — {hint}" if hint else ""))
    return problems


def assert_answers(submission: Path, key_path: Path, keys: list[str] | None = None) -> None:
    """All (or the listed) answers right; the message lists every wrong one with targeted feedback."""
    key = load_key(key_path)
    if keys is not None:
        key = {name: key[name] for name in keys}
    problems = judge(load_submitted(submission), key)
    if problems:
        raise CheckFailed("written answers:\n" + "\n".join(problems))
