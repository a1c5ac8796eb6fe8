"""Gradescope ``results.json`` per submission and the class ``grades.csv``.

results.json follows Gradescope's schema (score, execution_time, output, tests[] with name, score,
max_score, status, output, visibility, execution_time); kit-specific data (assignment, tier, seed,
per-check records for the report) sits under ``extra_data``, which Gradescope ignores.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from autograder.config import Check, Tier

VISIBILITY = {"public": "visible", "hidden": "after_published"}
#: outcomes of a check that are the grader's fault, not the student's
GRADER_FAULTS = ("error", "not run", "died")


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
        output = record["output"] if not passed else ""
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
        summary += f"\n{note}"
    return {"score": score, "execution_time": round(seconds, 3), "output": summary, "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests,
            "extra_data": {"assignment": assignment, "tier": tier, "seed": seed, "max_score": max_score,
                           "grader_errors": len(errors),
                           "records": {**kept_records, **{k: v.get("record", {}) for k, v in records.items()}}}}


def write(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(results, indent=1))
    temporary.replace(path)


def write_grades_csv(path: Path, graded: dict[str, dict]) -> None:
    """One row per submission: name, assignment, score, max score, percent, then one column per check."""
    checks = sorted({t["name"] for r in graded.values() for t in r["tests"]})
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", "assignment", "score", "max_score", "percent", *checks])
        for name, results in sorted(graded.items()):
            by_check = {t["name"]: t["score"] for t in results["tests"]}
            max_score = results["extra_data"]["max_score"]
            percent = 100 * results["score"] / max_score if max_score else 0.0
            writer.writerow([name, results["extra_data"]["assignment"], f"{results['score']:g}", f"{max_score:g}",
                             f"{percent:.1f}", *(f"{by_check[c]:g}" if c in by_check else "" for c in checks)])
