"""Numeric written answers: the student's answers.yml, its format (public) and against the answer key."""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from autograder.judges import CheckFailed

MAX_BYTES = 64 * 1024
MAX_QUOTED = 80  # characters of a given answer quoted back in feedback


class _NoAliases(yaml.SafeLoader):
    """A safe loader that refuses anchors and aliases (``&a`` / ``*a``): a few bytes of them expand into
    millions of values."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(None, None, "anchors and aliases (& and *) are not allowed in "
                                              "answers.yml", event.start_mark)
        return super().compose_node(parent, index)


def _quoted(value) -> str:
    """``repr(value)``, short (a huge integer or a long list is cut)."""
    try:
        text = repr(value)
    except ValueError:  # an integer past Python's digit limit
        return "a number too large to show"
    return text if len(text) <= MAX_QUOTED else text[:MAX_QUOTED] + "..."


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
        data = yaml.load(path.read_bytes().decode("utf-8"), Loader=_NoAliases)
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as error:
        raise CheckFailed(f"answers.yml could not be read: {str(error).splitlines()[0][:200]}") from None
    except ValueError:  # int() of more digits than Python converts (4300 by default)
        raise CheckFailed("answers.yml could not be read: a number has too many digits") from None
    if not isinstance(data, dict):
        raise CheckFailed("answers.yml should map each question key to its entry")
    return data


def _numbers(value) -> list[float] | None:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    try:
        numbers = [float(v) for v in values]
    except OverflowError:  # an integer beyond float's range
        return None
    return numbers if all(math.isfinite(v) for v in numbers) else None


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
            problems.append(f"{label}: expected a number{' list' if len(want) > 1 else ''}, "
                            f"got {_quoted(given)}")
            continue
        tolerance = float(entry.get("tolerance", 0))
        if len(got) == len(want) and all(math.isclose(g, w, abs_tol=tolerance + 1e-9) for g, w in zip(got, want)):
            continue
        hint = next((text for wrong, text in (entry.get("wrong") or {}).items()
                     if _numbers(wrong) == got), None)
        problems.append(f"{label}: {_quoted(given)} is not right" + (f" — {hint}" if hint else ""))
    return problems


def formats(key: dict[str, dict]) -> dict[str, dict]:
    """What a well-formed answer looks like, without the answer: ``{key: {question, values}}`` where
    ``values`` is how many numbers the answer holds (1: a number; more: a list of that length)."""
    return {name: {"question": entry["question"], "values": len(_numbers(entry["answer"]) or [None])}
            for name, entry in key.items()}


def assert_answer_formats(submission: Path, expected: dict[str, dict]) -> None:
    """Every answer present and well-formed (a number, or a list of numbers of the right length); says
    nothing of whether it is right."""
    submitted = load_submitted(submission)
    problems = []
    for name, entry in expected.items():
        given = submitted.get(name)
        given = given.get("answer") if isinstance(given, dict) else given
        label = f"{name} (question {entry['question']})"
        count = entry["values"]
        wanted = "a number" if count == 1 else f"a list of {count} numbers"
        got = None if given is None else _numbers(given)
        if given is None:
            problems.append(f"{label}: no answer yet ({wanted})")
        elif got is None or len(got) != count or (count > 1 and not isinstance(given, list)):
            problems.append(f"{label}: expected {wanted}, got {_quoted(given)}")
    if problems:
        raise CheckFailed("answers.yml (format only: whether the answers are right is checked at grading):\n"
                          + "\n".join(problems))


def assert_answers(submission: Path, key: dict[str, dict]) -> None:
    """All answers of ``key`` right; the message lists every wrong one with targeted feedback."""
    problems = judge(load_submitted(submission), key)
    if problems:
        raise CheckFailed("numeric answers:\n" + "\n".join(problems))
