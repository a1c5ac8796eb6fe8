"""Gradescope ``results.json`` per submission and the class ``grades.csv``.

results.json follows Gradescope's schema (score, execution_time, output, tests[] with name, score,
max_score, status, output, visibility, execution_time); kit-specific data (assignment, tier, seed,
per-check records for the report) sits under ``extra_data``, which Gradescope ignores.

Everything that reaches a record comes from student code at one remove, so it is bounded here: feedback
cut at :data:`MAX_OUTPUT_CHARS`, and report data made plain, finite and small by :func:`clean`.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

from autograder.config import Check, Tier

VISIBILITY = {"public": "visible", "hidden": "after_published"}
#: outcomes of a check that are the grader's fault, not the student's
GRADER_FAULTS = ("error", "not run", "died")
MAX_OUTPUT_CHARS = 20_000  # feedback of one check
MAX_TEXT_CHARS = 1_000  # a string inside a report record (a layer's name, a key)
MAX_POINTS = 2_000  # items of one list in a report record (a learning curve is downsampled to this)
MAX_KEYS = 200  # entries of one dict in a report record
MAX_DEPTH = 6  # nesting of a report record
MAX_MAGNITUDE = 1e12  # numbers of a report record beyond this (or not finite) become None
CURVE_ROWS = 10  # epochs shown in a learning-curve table of Gradescope's feedback


def shorten(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    """``text`` cut at ``limit`` characters, with a note saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n... ({len(text) - limit:,} more characters cut)"


def clean(value, depth: int = 0):
    """A record for the report, made plain (None, bool, number, str, list, dict), finite and small: strings
    cut, long lists downsampled to :data:`MAX_POINTS` evenly spaced items (the last one kept), dicts cut to
    :data:`MAX_KEYS` entries, deeper levels and other types dropped (None)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            return None
        return value if math.isfinite(number) and abs(number) <= MAX_MAGNITUDE else None
    if isinstance(value, str):
        return shorten(value, MAX_TEXT_CHARS)
    if depth >= MAX_DEPTH:
        return None
    if isinstance(value, list):
        if len(value) > MAX_POINTS:
            step = (len(value) - 1) / (MAX_POINTS - 1)
            value = [value[round(i * step)] for i in range(MAX_POINTS)]
        return [clean(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {shorten(str(key), MAX_TEXT_CHARS): clean(item, depth + 1)
                for key, item in list(value.items())[:MAX_KEYS]}
    return None


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def problem(document) -> str | None:
    """Why ``document`` is not a results.json this kit can read back (None when it is)."""
    if not isinstance(document, dict) or not _number(document.get("score")):
        return "no score"
    if not isinstance(document.get("output"), str) or not _number(document.get("execution_time")):
        return "no output or execution_time"
    extra, tests = document.get("extra_data"), document.get("tests")
    if not isinstance(extra, dict) or not _number(extra.get("max_score")) \
            or not isinstance(extra.get("assignment"), str) or not isinstance(extra.get("tier"), str) \
            or not isinstance(extra.get("records", {}), dict):
        return "no extra_data (assignment, tier, max_score, records)"
    if not isinstance(tests, list) or not all(
            isinstance(t, dict) and isinstance(t.get("name"), str) and _number(t.get("score"))
            and _number(t.get("max_score")) and isinstance(t.get("output"), str)
            and isinstance(t.get("status"), str) and _number(t.get("execution_time"))
            and isinstance(t.get("extra_data", {}), dict) for t in tests):
        return "malformed tests"
    return None


def build(assignment: str, title: str, checks: list[Check], tier: Tier, records: dict[str, dict], *,
          seed: int, seconds: float, note: str = "", previous: dict | None = None, order: list[str] = ()) -> dict:
    """One results.json document: every check graded gets a test entry, run or not, marked with the check's
    tier and its outcome (the grader's status, "not run", or "died" when the cluster task grading it died).

    With ``previous`` (the submission's record so far), its tests of the other checks listed in ``order``
    (the assignment's check ids) are kept: the cpu and gpu tiers of a submission make one record.
    """
    tests = []
    for check in checks:
        record = records.get(check.id) or {"status": "not run", "output": note or "this check did not run",
                                           "seconds": 0.0}
        passed = record["status"] == "passed"
        output = shorten(str(record["output"])) if not passed else ""
        if record["status"] == "skipped":
            output = f"skipped: {output}"
        tests.append({"name": check.id, "score": check.points if passed else 0.0, "max_score": check.points,
                      "status": "passed" if passed else "failed", "output": output,
                      "visibility": VISIBILITY[check.visibility],
                      "execution_time": round(float(record.get("seconds", 0.0)), 3),
                      "extra_data": {"tier": check.tier, "outcome": record["status"]}})
    kept_records = {}
    if previous:
        graded = {t["name"] for t in tests}
        kept = [t for t in previous["tests"] if t["name"] in order and t["name"] not in graded]
        tests = sorted(tests + kept, key=lambda t: order.index(t["name"]))
        kept_records = {t["name"]: previous["extra_data"]["records"][t["name"]] for t in kept
                        if t["name"] in previous["extra_data"]["records"]}
        tier = "gpu" if "gpu" in (tier, previous["extra_data"]["tier"]) else "cpu"
        seconds += previous["execution_time"]
    score = sum(t["score"] for t in tests)
    max_score = sum(t["max_score"] for t in tests)
    errors = [t["name"] for t in tests if t.get("extra_data", {}).get("outcome") in GRADER_FAULTS]
    summary = f"{title}: {score:g} / {max_score:g} ({tier} tier)"
    if note:
        summary += f"\n{shorten(note)}"
    return {"score": score, "execution_time": round(seconds, 3), "output": summary, "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests,
            "extra_data": {"assignment": assignment, "tier": tier, "seed": seed, "max_score": max_score,
                           "grader_errors": len(errors),
                           "records": {**kept_records, **{k: clean(v.get("record", {})) for k, v in records.items()}}}}


def gradescope_view(document: dict, reference_curves: dict[str, dict] | None = None) -> dict:
    """The results.json Gradescope shows, from a record of :func:`build`: tests numbered ``file.check`` in
    grading.yml's order with a human title (``"1.2"``, ``"forward (tp1_mlp manual)"``; the check id moves to
    the test's ``extra_data["check"]``), feedback as Markdown (``output_format: "md"``: student text in code
    fences, learning curves as a table beside ``reference_curves``, check id -> ``{"seeds", "history"}``;
    Gradescope's Markdown shows no image), and a top-level output that states only the score of the
    visible checks: hidden checks are ``after_published``, and Gradescope shows no total while any test is
    hidden, so the output must not give it away."""
    assignment = document["extra_data"]["assignment"]
    groups: dict[str, list[str]] = {}  # test file -> its checks so far
    tests = []
    for test in document["tests"]:
        check = test["name"]
        file, function = check.split("::")
        group = file.removeprefix("test_").removesuffix(".py")
        groups.setdefault(group, []).append(check)
        words, _, variant = function.removeprefix("test_").partition("[")
        title = words.replace("_", " ") + (f", {variant.rstrip(']')}" if variant else "")
        record = document["extra_data"].get("records", {}).get(check) or {}
        tests.append({**test, "name": f"{title} ({assignment} {group})",
                      "number": f"{list(groups).index(group) + 1}.{len(groups[group])}",
                      "output": _markdown_feedback(test, record, (reference_curves or {}).get(check)),
                      "output_format": "md", "extra_data": {**test.get("extra_data", {}), "check": check}})
    shown = [t for t in tests if t["visibility"] == "visible"]
    hidden = [t for t in tests if t["visibility"] != "visible"]
    summary = [f"**{document['output'].splitlines()[0].rsplit(': ', 1)[0]}**", "",
               f"Public checks: **{sum(t['score'] for t in shown):g} / {sum(t['max_score'] for t in shown):g}**."]
    if hidden:
        summary.append(f"{len(hidden)} hidden checks ({sum(t['max_score'] for t in hidden):g} points) are graded "
                       "too: their results and your total appear when the staff publish the grades.")
    note = document["output"].split("\n", 1)[1] if "\n" in document["output"] else ""
    if note:
        summary += ["", _fenced(note)]
    return {**document, "output": "\n".join(summary), "output_format": "md", "tests": tests}


def _fenced(text: str) -> str:
    """``text`` as a Markdown code block: nothing in it is rendered (a fence longer than any backtick run)."""
    fence = "`" * max(3, max(map(len, re.findall("`+", text)), default=0) + 1)
    return f"{fence}\n{text}\n{fence}"


def _markdown_feedback(test: dict, record: dict, reference: dict | None) -> str:
    """One test's feedback in Markdown: its outcome, the feedback text (fenced), and the learning curves of
    the record (``history``: name -> one value per epoch) as a table of at most :data:`CURVE_ROWS` epochs,
    next to the reference's mean curves when they were measured with the same budget."""
    outcome = test.get("extra_data", {}).get("outcome", test["status"])
    parts = [f"**{outcome}** ({test['score']:g} / {test['max_score']:g})"]
    if test["output"]:
        parts.append(_fenced(test["output"]))
    history = record.get("history") if isinstance(record.get("history"), dict) else {}
    curves = {str(k): v for k, v in history.items() if isinstance(v, list) and v}
    theirs = (reference or {}).get("history", {})
    if curves:
        epochs = max(len(v) for v in curves.values())
        rows = sorted({round(i * (epochs - 1) / (CURVE_ROWS - 1)) for i in range(CURVE_ROWS)}) if epochs > 1 else [0]
        columns = [(k, curves[k]) for k in curves] + [(f"{k} (reference)", theirs[k]) for k in curves if k in theirs]
        table = ["| epoch | " + " | ".join(name for name, _ in columns) + " |",
                 "|---:|" + "---:|" * len(columns)]
        for row in rows:
            cells = [_cell(values[row]) if row < len(values) else "" for _, values in columns]
            table.append(f"| {row + 1} | " + " | ".join(cells) + " |")
        parts.append("Learning curves" + (f" (reference: mean of {reference['seeds']} seeds with the same budget)"
                                          if theirs else "") + ":\n\n" + "\n".join(table))
    return "\n\n".join(parts)


def _cell(value) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "–"


def write(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(results, indent=1))
    temporary.replace(path)


def cell(text: str) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula (OWASP's advice: a leading
    ``= + - @``, tab or carriage return gets a ``'`` before it)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_grades_csv(path: Path, graded: dict[str, dict]) -> None:
    """One row per submission: name, assignment, score, max score, percent, then one column per check, then
    one ``written:<question>`` column per hand-graded question, holding the points staff gave in
    ``written_scores.csv`` beside ``path`` (empty until filled; see :mod:`autograder.written`). A record this
    kit cannot read (see :func:`problem`) gets a row with its name and no score."""
    from autograder import written

    readable = {name: r for name, r in graded.items() if problem(r) is None}
    checks = sorted({t["name"] for r in readable.values() for t in r["tests"]})
    by_question = written.grade_columns(path.parent, sorted({r["extra_data"]["assignment"] for r in readable.values()}))
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([cell(text) for text in ["submission", "assignment", "score", "max_score", "percent", *checks,
                                                 *by_question]])
        for name, results in sorted(graded.items()):
            given = [scores.get(name, "") for scores in by_question.values()]
            if name not in readable:
                writer.writerow([cell(name), "", "", "", "", *("" for _ in checks), *given])
                continue
            by_check = {t["name"]: t["score"] for t in results["tests"]}
            max_score = results["extra_data"]["max_score"]
            percent = 100 * results["score"] / max_score if max_score else 0.0
            writer.writerow([cell(name), cell(results["extra_data"]["assignment"]), f"{results['score']:g}",
                             f"{max_score:g}", f"{percent:.1f}",
                             *(f"{by_check[c]:g}" if c in by_check else "" for c in checks), *given])
