"""``autograder demo``: release, then grade the reference, the blank template and bundled buggy samples."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from autograder import release, report, samples
from autograder.cli import score_table
from autograder.grade import Options, grade_many
from autograder.submissions import Submission


def run(out: Path, jobs: int, quiet: bool, assignments: list[str]) -> int:
    """Write everything under ``out`` and print one score table per assignment."""
    shutil.rmtree(out, ignore_errors=True)
    for assignment in assignments:
        started = time.monotonic()
        folder = out / assignment / "submissions"
        template = release.write_template(assignment, folder / "template")
        entries = [Submission("reference", samples.reference_copy(assignment, folder / "reference"), assignment),
                   Submission("template", template, assignment)]
        for mutation in samples.mutations(assignment):
            if mutation.demo:
                path = samples.build(assignment, mutation, folder / mutation.name)
                entries.append(Submission(mutation.name, path, assignment))
        graded = grade_many(entries, out / assignment / "graded", Options(), jobs=jobs, force=True, quiet=quiet)
        report.write_all(out / assignment / "graded", graded)
        print(f"\n== {assignment} ==")
        print(score_table(graded))
        print(f"({len(entries)} submissions graded in {time.monotonic() - started:.0f} s; reports in "
              f"{out / assignment / 'graded'})")
    return 0
