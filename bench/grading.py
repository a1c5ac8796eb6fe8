"""Grading speed: one complete submission per assignment, and a class of generated submissions.

    .venv/bin/python bench/grading.py one [ASSIGNMENT...] [--threads N]  # reference, cpu tier, all checks
    .venv/bin/python bench/grading.py class --size 100 [--checks fast|all] [--assignment tp1_mlp]

`one` prints the wall time of each check and in total, and the grader overhead (process starts, imports,
transport: total wall time minus the time spent inside checks) as a share of the total.
`class` grades N submissions (reference, template, the bug corpus and, for tp1_mlp, the hostile and
malformed cases of tests/adversarial, cycled)
with --jobs 1 and --jobs 2 and prints throughput and the scaling ratio. `--checks fast` grades every check
but the accuracy ones (which dominate and scale with the data budget).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from autograder import config, release, samples, zygote
from autograder.grade import Options, grade_many, grade_one
from autograder.submissions import Submission


def machine() -> str:
    return f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"


def bench_one(assignments: list[str], threads: int) -> None:
    print(f"# one complete submission (reference), cpu tier, {threads} torch threads — {machine()}")
    started = time.perf_counter()
    zygote.shared()
    print(f"grader zygote started in {time.perf_counter() - started:.1f} s (once per batch, not counted below)")
    grand = 0.0
    for assignment in assignments:
        with tempfile.TemporaryDirectory() as scratch:
            folder = samples.reference_copy(assignment, Path(scratch) / "reference")
            started = time.perf_counter()
            document = grade_one(Submission("reference", folder, assignment), Path(scratch) / "out", Options(threads=threads))
            wall = time.perf_counter() - started
        inside = sum(t["execution_time"] for t in document["tests"])
        grand += wall
        print(f"\n{assignment}: {document['score']:g}/{document['extra_data']['max_score']:g} in {wall:.1f} s; "
              f"checks {inside:.1f} s; overhead {wall - inside:.1f} s ({(wall - inside) / wall:.0%})")
        for test in sorted(document["tests"], key=lambda t: -t["execution_time"]):
            print(f"  {test['execution_time']:7.2f} s  {test['name']}")
    print(f"\nall assignments: {grand:.1f} s")


def generated_class(assignment: str, size: int, root: Path) -> list[Submission]:
    """``size`` submissions cycling through reference, template, every corpus bug and, for tp1_mlp, the
    hostile and malformed cases of tests/adversarial (their spy folder and listener port are dummies)."""
    kinds = [("reference", lambda target: samples.reference_copy(assignment, target)),
             ("template", lambda target: shutil.copytree(release.TEMPLATES / assignment, target))]
    kinds += [(m.name, lambda target, m=m: samples.build(assignment, m, target)) for m in samples.mutations(assignment)]
    if assignment == "tp1_mlp":
        sys.path.insert(0, str(config.ROOT))
        from tests.adversarial.corpus import CASES

        (root / "spy").mkdir(parents=True)
        context = {"ROOT": config.ROOT, "COPY": root / "no-copy", "OUT": root / "out", "SPY": root / "spy",
                   "PORT": 9, "MARK": "bench-adversary"}
        kinds += [(case.name, lambda target, case=case: case.build(target, {**context, "NAME": case.name}))
                  for case in CASES]
    entries = []
    for index in range(size):
        name, build = kinds[index % len(kinds)]
        folder = root / f"{index:03d}_{name}"
        entries.append(Submission(folder.name, build(folder), assignment))
    return entries


def bench_class(assignment: str, size: int, checks: str) -> None:
    grading = config.load()
    only = tuple(c.id for c in grading.assignment(assignment).selected("cpu")
                 if checks == "all" or c.threshold is None)
    print(f"# class of {size} generated submissions, {assignment}, {len(only)} checks ({checks}) — {machine()}")
    rates = {}
    with tempfile.TemporaryDirectory() as scratch:
        entries = generated_class(assignment, size, Path(scratch) / "class")
        zygote.shared()  # started once, before the clocks
        for jobs in (1, 2):
            started = time.perf_counter()
            graded = grade_many(entries, Path(scratch) / f"out{jobs}", Options(only=only), jobs=jobs, quiet=True)
            wall = time.perf_counter() - started
            rates[jobs] = len(graded) / wall
            print(f"--jobs {jobs}: {len(graded)} records in {wall:.1f} s = {rates[jobs] * 60:.1f} submissions/min")
    print(f"scaling ratio jobs 2 / jobs 1: {rates[2] / rates[1]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("one", "class"))
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--checks", choices=("fast", "all"), default="fast")
    parser.add_argument("--assignment", default="tp1_mlp")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="torch threads of the worker in `one` (default: all cores, as `autograder grade` "
                             "gives a single submission)")
    args = parser.parse_args()
    if args.mode == "one":
        bench_one(args.assignments or list(config.load().assignments), args.threads)
    else:
        bench_class(args.assignment, args.size, args.checks)


if __name__ == "__main__":
    main()
