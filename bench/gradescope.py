"""Gradescope emulation: peak memory (cgroup, page cache included) and wall time of one grading per assignment.

    .venv/bin/python bench/gradescope.py [ASSIGNMENT...] [--memory-mb 4096] [--cpus 0.5] [--only CHECK,...]

For each assignment: its Gradescope zip (``bundle.gradescope_zip``) unpacked into a temporary /autograder-like
root, the reference solution as the submission, the zip's real ``run_autograder`` in a fresh cgroup
(:mod:`autograder.emulate`), with this interpreter standing in for the venv ``setup.sh`` makes. Prints the
score, the cgroup's peak memory, the wall time and whether the kernel OOM-killed anything. Run as root
(cgroups).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

from autograder import bundle, config, data, emulate, samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--memory-mb", type=int, default=4096, help="the cgroup's memory limit (default 4096)")
    parser.add_argument("--cpus", type=float, default=0.5, help="CPU quota, in CPUs (default 0.5, Gradescope's)")
    parser.add_argument("--only", default="", help="check ids, comma-separated (default: every cpu-tier check)")
    parser.add_argument("--deadline", type=int, default=None, help="AUTOGRADER_DEADLINE (default: the zip's)")
    args = parser.parse_args()
    problem = emulate.cgroup_problem()
    if problem:
        print(f"bench/gradescope.py: {problem}", file=sys.stderr)
        return 1
    print(f"# Gradescope emulation: cgroup {args.memory_mb} MB, {args.cpus:g} CPU — {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(f"{'assignment':<12} {'score':>9} {'peak MB':>8} {'wall s':>7}  oom")
    for assignment in args.assignments or list(config.load().assignments):
        with tempfile.TemporaryDirectory(prefix="bench-gradescope-") as scratch:
            root = emulate.unpack(bundle.gradescope_zip(assignment, Path(scratch) / "gs.zip"), Path(scratch) / "ag")
            samples.reference_copy(assignment, root / "submission" / "work")
            env = {"AUTOGRADER_PYTHON": sys.executable, "AUTOGRADER_DATA": str(data.root()),
                   "AUTOGRADER_ONLY": args.only}
            if args.deadline:
                env["AUTOGRADER_DEADLINE"] = str(args.deadline)
            run = emulate.run_autograder(root, env, args.memory_mb, args.cpus, timeout=1800)
            score = (f"{run.results['score']:g}/{run.results.get('extra_data', {}).get('max_score', '?')}"
                     if run.results else "none")
            print(f"{assignment:<12} {score:>9} {run.peak_mb:8.0f} {run.seconds:7.1f}  {run.oom_killed}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
