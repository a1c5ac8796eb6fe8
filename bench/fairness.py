"""CPU fairness between submissions graded side by side (``--jobs 2``): the reference's grading time next
to another reference, and next to a submission whose code starts many spinning processes. Each worker has
a cpu cgroup of its own at the same weight where the machine lets the grader make cgroups, so the spinner
should slow its neighbour about as much as an honest neighbour does (it slowed it 10-40x without).

    .venv/bin/python bench/fairness.py [--assignment tp1_mlp] [--processes 200]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from autograder import samples, zygote
from autograder.grade import Options, grade_many
from autograder.submissions import Submission
from autograder.workers import isolation

SPINNER = '''

def _spin_everywhere(count):
    """Start ``count`` processes that spin until the worker is killed."""
    import os
    for _ in range(count):
        if os.fork() == 0:
            while True:
                pass


_honest_forward = forward


def forward(params, X):
    _spin_everywhere({processes})
    return _honest_forward(params, X)
'''


def grading_time(neighbour: str, processes: int, assignment: str) -> float:
    """Wall seconds of the reference's grading beside ``neighbour`` ("reference" or "spinner")."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        reference = samples.reference_copy(assignment, scratch / "reference")
        other = samples.reference_copy(assignment, scratch / "neighbour")
        if neighbour == "spinner":
            with open(other / "manual.py", "a", encoding="utf-8") as module:
                module.write(SPINNER.format(processes=processes))
        started = time.perf_counter()
        documents = grade_many([Submission("a_reference", reference, assignment),
                                Submission("b_neighbour", other, assignment)], scratch / "out",
                               Options(threads=1), jobs=2, quiet=True)
        wall = time.perf_counter() - started
        own = documents["a_reference"]["execution_time"]
        print(f"  beside {neighbour:9s}: reference graded in {own:6.1f} s "
              f"({documents['a_reference']['score']:g} points; both done in {wall:.1f} s)")
        return own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="tp1_mlp", choices=["tp1_mlp"])  # the spinner patches manual.py
    parser.add_argument("--processes", type=int, default=200)
    arguments = parser.parse_args()
    print(f"# {os.cpu_count()} cores, isolation: {isolation().level}, {arguments.processes} spinning processes")
    zygote.shared()
    honest = grading_time("reference", arguments.processes, arguments.assignment)
    spinner = grading_time("spinner", arguments.processes, arguments.assignment)
    print(f"slowdown from the spinner against an honest neighbour: {spinner / honest:.2f}x")


if __name__ == "__main__":
    main()
