"""`otter run` against `autograder grade` on the same notebook export (the reference's), per assignment.

    .venv/bin/python bench/otter.py [ASSIGNMENT...] [--tiny]

Builds the release bundle of each assignment (the otter autograder zip), writes the export a student's
``grader.export()`` would produce (the student notebook, the reference modules, answers.yml), then times
``otter run`` on it (it executes the notebook, then otter's public and hidden tests) and ``autograder grade``
(every cpu-tier check, isolated). ``--tiny`` runs the notebook with the tiny budgets of the release's
self-test instead of the students' defaults. Prints both wall times, both scores and the ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from autograder import bundle, config, otter_runs, zygote
from autograder.grade import Options, grade_one
from autograder.submissions import Submission


def bench(assignment: str, tiny: bool, scratch: Path) -> None:
    built = bundle.build_assignment(assignment, scratch / assignment, quiet=True)
    graded = sorted(p.name for p in (config.ROOT / "solutions" / assignment).iterdir()
                    if p.is_file() and (p.suffix == ".py" or p.name == "answers.yml"))
    folder = scratch / f"{assignment}-export"
    folder.mkdir()
    (folder / f"{assignment}.ipynb").write_bytes((built / "student" / f"{assignment}.ipynb").read_bytes())
    for name in graded:
        (folder / name).write_bytes((config.ROOT / "solutions" / assignment / name).read_bytes())
    export = otter_runs.export_zip(folder, f"{assignment}.ipynb", graded, scratch / f"{assignment}.zip")
    (otter_zip,) = (built / "autograder").glob(f"{assignment}-otter.zip")

    started = time.perf_counter()
    otter = otter_runs.otter_run(otter_zip, export, timeout=1800, tiny=tiny)
    otter_seconds = time.perf_counter() - started
    otter_score, otter_max = bundle.otter_score(otter)

    zygote.shared()  # the grader zygote's start is paid once per batch, as in `autograder grade DIR`
    started = time.perf_counter()
    document = grade_one(Submission("export", export, assignment), scratch / "out", Options(threads=os.cpu_count() or 1))
    ours = time.perf_counter() - started
    print(f"{assignment}: otter run {otter_seconds:.1f} s ({otter_score:g}/{otter_max:g}); autograder grade "
          f"{ours:.1f} s ({document['score']:g}/{document['extra_data']['max_score']:g}); "
          f"ratio otter / autograder {otter_seconds / ours:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--tiny", action="store_true", help="the notebook with the self-test's tiny budgets")
    args = parser.parse_args()
    print(f"# otter run vs autograder grade, one reference export — {os.cpu_count()} cores, {platform.machine()}, "
          f"Python {platform.python_version()}{' (tiny notebook budgets)' if args.tiny else ''}")
    with tempfile.TemporaryDirectory(prefix="autograder-bench-otter-") as scratch:
        for assignment in args.assignments or list(config.load().assignments):
            bench(assignment, args.tiny, Path(scratch))


if __name__ == "__main__":
    main()
