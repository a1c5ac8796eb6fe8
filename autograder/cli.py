"""The ``autograder`` command: release, check, grade, demo, data."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from autograder import config

DEFAULT_JOBS = max(1, (os.cpu_count() or 1) // 2)


def _assignments(names: list[str] | None) -> list[str]:
    known = list(config.load().assignments)
    for name in names or []:
        if name not in known:
            raise SystemExit(f"autograder: unknown assignment {name!r}; known: {', '.join(known)}")
    return names or known


def cmd_release(args) -> int:
    from autograder import release, studentkit

    assignments = _assignments(args.assignment)
    try:
        for assignment in assignments:
            started = time.monotonic()
            studentkit.refuse_give_aways(assignment)
            target = release.write_template(assignment)
            points = config.load().assignment(assignment)
            print(f"{assignment}: template {target.relative_to(config.ROOT)} written "
                  f"({points.max_score('cpu'):g} points cpu tier, {points.max_score('gpu'):g} with gpu) "
                  f"in {time.monotonic() - started:.1f} s")
            if not args.no_verify:
                release.verify(assignment, quiet=args.quiet)
        if args.out is not None:
            from autograder import bundle

            bundle.build(args.out, assignments, quiet=args.quiet, jobs=args.jobs)
    except (release.ReleaseError, ValueError) as error:
        print(f"autograder release: {error}", file=sys.stderr)
        return 1
    return 0


def cmd_check(args) -> int:
    """Public checks on the student's working copy, with the score of the public part."""
    from autograder.grade import Options, grade_one
    from autograder.submissions import Submission

    folder = Path(args.path).resolve()
    assignment = args.assignment or _guess_assignment(folder)
    with tempfile.TemporaryDirectory() as out:
        document = grade_one(Submission(folder.name, folder, assignment), Path(out),
                             Options(visibility="public", threads=args.threads, data=args.data))
    print(format_feedback(document))
    return 0 if document["score"] == document["extra_data"]["max_score"] else 1


def _guess_assignment(folder: Path) -> str:
    grading = config.load()
    for name, assignment in grading.assignments.items():
        if folder.name == name or all((folder / f"{m}.py").exists() for m in assignment.modules):
            return name
    raise SystemExit(f"autograder: cannot tell which assignment {folder} is; name it: autograder check ASSIGNMENT")


def format_feedback(document: dict) -> str:
    lines = [document["output"].splitlines()[0]]
    for test in document["tests"]:
        mark = "PASS" if test["status"] == "passed" else "FAIL"
        lines.append(f"  {mark} {test['name']}  ({test['score']:g}/{test['max_score']:g})")
        if test["output"]:
            lines += [f"       {line}" for line in test["output"].splitlines()]
    return "\n".join(lines)


def cmd_grade(args) -> int:
    from autograder.grade import Options, grade_many
    from autograder.submissions import SubmissionError, discover, printable

    hidden: list[Path] = []
    try:
        submissions = discover([Path(p) for p in args.submissions], args.assignment, hidden)
    except SubmissionError as error:
        raise SystemExit(f"autograder grade: {error}") from None
    for path in hidden:
        print(f"autograder grade: {printable(str(path))} left out (a hidden file or folder)", file=sys.stderr)
    from autograder import written

    try:
        written.grade_columns(Path(args.out), [args.assignment])
    except written.WrittenError as error:
        raise SystemExit(f"autograder grade: {error}") from None
    if args.tier == "gpu" and args.executor == "local":
        import torch

        if not torch.cuda.is_available():
            print("autograder grade: --tier gpu on a machine without CUDA: gpu checks will be skipped "
                  "(and score 0)", file=sys.stderr)
    if args.executor == "slurm":
        threads = args.threads or args.cpus_per_task
    else:
        threads = args.threads or max(1, (os.cpu_count() or 1) // max(1, min(args.jobs, len(submissions))))
    options = Options(tier=args.tier, seed=args.seed, threads=threads, data=args.data, grading_path=args.grading,
                      deadline=args.deadline, key=args.key, allow_unisolated=args.allow_unisolated)
    started = time.monotonic()
    if args.executor == "slurm":
        from autograder.cluster import Slurm, grade_class

        slurm = Slurm(partition=args.partition, gpus_per_task=args.gpus_per_task, time_min=args.time,
                      array_parallelism=args.array_parallelism, cpus_per_task=args.cpus_per_task,
                      mem_gb=args.mem_gb, folder=args.slurm_folder)
        graded = grade_class(submissions, Path(args.out), options, slurm, force=args.force, quiet=args.quiet)
    else:
        graded = grade_many(submissions, Path(args.out), options, jobs=args.jobs, force=args.force,
                            quiet=args.quiet)
    if not args.no_report:
        from autograder import report

        report.write_all(Path(args.out), graded)
    print(score_table(graded))
    print(f"{len(graded)} submissions graded into {args.out} in {time.monotonic() - started:.1f} s")
    levels = sorted({record.get("extra_data", {}).get("isolation", "unknown") for record in graded.values()})
    print(f"isolation of student code: {', '.join(map(str, levels))} (namespaces > own uid > none)")
    return 0


def cmd_written(args) -> int:
    """Export the written answers per question (HTML beside the model answer and rubric, written.csv, PDFs)."""
    from autograder import written
    from autograder.submissions import SubmissionError, printable

    out = Path(args.out)
    try:
        failed = written.export([Path(p) for p in args.submissions], args.assignment, out, pdf=args.pdf)
    except (written.WrittenError, SubmissionError) as error:
        print(f"autograder written: {error}", file=sys.stderr)
        return 1
    for name, why in sorted(failed.items()):
        print(f"autograder written: {printable(name)}: {printable(why)}", file=sys.stderr)
    print(f"written answers in {out / 'written.html'}; scores go in {out / written.SCORES_FILE} "
          f"(read into grades.csv by the next `autograder grade --out {out}`)")
    return 0


def score_table(graded: dict[str, dict]) -> str:
    """One line per submission (names with control characters escaped); unreadable records say so."""
    from autograder.results import problem
    from autograder.submissions import printable

    rows = [("submission", "score", "%", "failed checks")]
    for name, document in sorted(graded.items()):
        if problem(document) is not None:
            rows.append((printable(name), "-", "-", f"unreadable record: {problem(document)}"))
            continue
        max_score = document["extra_data"]["max_score"]
        failed = [t["name"].split("::")[-1] for t in document["tests"] if t["status"] != "passed"]
        rows.append((printable(name), f"{document['score']:g}/{max_score:g}",
                     f"{100 * document['score'] / max_score:.0f}" if max_score else "-",
                     ", ".join(failed[:4]) + (f" (+{len(failed) - 4})" if len(failed) > 4 else "")))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}  {d}" for a, b, c, d in rows)


def cmd_demo(args) -> int:
    from autograder import demo

    return demo.run(Path(args.out), jobs=args.jobs, quiet=args.quiet, assignments=_assignments(args.assignment))


def cmd_calibrate(args) -> int:
    from autograder.calibrate import calibrate, write_curves

    measured = calibrate(args.assignment, args.tier, args.seeds, jobs=args.jobs, margin=args.margin, data=args.data)
    for figures in measured:
        print(figures.summary(args.margin))
    print(f"reference learning curves (for the reports) written to {write_curves(args.assignment, measured, args.seeds)}")
    return 0


def cmd_data(args) -> int:
    from autograder import data

    root = data.root(args.data)
    if args.action == "prepare":
        print(f"Fashion-MNIST ready in {data.prepare(root)}")
    else:
        data.fetch(root, args.datasets)
    return 0


def main(argv: list[str] | None = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", action="store_true", default=os.environ.get("CI") == "true",
                        help="no progress bars (default under CI=true)")
    parser = argparse.ArgumentParser(prog="autograder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    release = commands.add_parser("release", parents=[common], help="build student_template/ from solutions/ and run the gates")
    release.add_argument("assignment", nargs="*", help="assignments (default: all)")
    release.add_argument("--no-verify", action="store_true", help="skip grading the reference and template")
    release.add_argument("--out", type=Path, default=None,
                         help="also build the release bundle here (notebooks, otter and Gradescope zips, workflow)")
    release.add_argument("--jobs", type=int, default=DEFAULT_JOBS)
    release.set_defaults(func=cmd_release)

    check = commands.add_parser("check", parents=[common], help="run the public checks on your working copy")
    check.add_argument("assignment", nargs="?", help="assignment id (default: guessed from the folder)")
    check.add_argument("--path", default=".", help="folder with your modules (default: current folder)")
    check.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    check.add_argument("--data", type=Path, default=None)
    check.set_defaults(func=cmd_check)

    grade = commands.add_parser("grade", parents=[common], help="grade submissions (folders or zips) into results.json files")
    grade.add_argument("submissions", nargs="+", help="submission folders/zips, or folders of them")
    grade.add_argument("--assignment", required=True, choices=list(config.load().assignments))
    grade.add_argument("--tier", choices=("cpu", "gpu"), default="cpu")
    grade.add_argument("--jobs", type=int, default=DEFAULT_JOBS, help="submissions graded in parallel")
    grade.add_argument("--threads", type=int, default=None,
                       help="torch threads per worker (default: the cores shared among the parallel jobs)")
    grade.add_argument("--out", default="graded", help="output folder (default: graded/)")
    grade.add_argument("--seed", type=int, default=None, help="base seed (default: grading.yml's)")
    grade.add_argument("--key", default=None,
                       help="the grading's secret key (default: a fresh one per submission); a results.json "
                            "records its keys under extra_data.keys, to grade it again alike")
    grade.add_argument("--deadline", type=float, default=None, metavar="SECONDS",
                       help="each submission's results.json is written within SECONDS; checks left unrun then "
                            "score 0 as 'not run: the grading time ran out'")
    grade.add_argument("--data", type=Path, default=None, help="data root (default: $AUTOGRADER_DATA or .data)")
    grade.add_argument("--force", action="store_true",
                       help="grade again the checks of this tier already graded (the other tier's are kept)")
    grade.add_argument("--grading", type=Path, default=None, help="grading.yml to use (default: the kit's)")
    grade.add_argument("--no-report", action="store_true", help="skip the HTML reports")
    grade.add_argument("--allow-unisolated", action="store_true",
                       help="grade hidden checks even where student code cannot be isolated (no namespaces and "
                            "not root): it could then read the reference solutions")
    grade.add_argument("--executor", choices=("local", "slurm"), default="local",
                       help="local: this machine (--jobs at a time); slurm: one Slurm job array through submitit, "
                            "one submission per task (OUT must be shared with the nodes)")
    cluster = grade.add_argument_group("--executor slurm", "resources of each array task")
    cluster.add_argument("--partition", default=None, help="Slurm partition (default: the cluster's)")
    cluster.add_argument("--gpus-per-task", type=int, default=0, help="GPUs per task (1 for --tier gpu)")
    cluster.add_argument("--time", type=int, default=60, help="time limit of a task, in minutes")
    cluster.add_argument("--array-parallelism", type=int, default=32, help="tasks running at once")
    cluster.add_argument("--cpus-per-task", type=int, default=2, help="CPU cores per task (its worker's threads)")
    cluster.add_argument("--mem-gb", type=float, default=None, help="memory per task (default: the partition's)")
    cluster.add_argument("--slurm-folder", type=Path, default=None,
                         help="submitit's pickles and task logs, shared with the nodes (default: OUT/.slurm)")
    grade.set_defaults(func=cmd_grade)

    written = commands.add_parser("written", parents=[common],
                                  help="export the hand-graded written answers per question, for staff")
    written.add_argument("submissions", nargs="+", help="submission folders/zips (with the notebook), or folders of them")
    written.add_argument("--assignment", required=True, choices=list(config.load().assignments))
    written.add_argument("--out", default="graded", help="the grading folder (default: graded/): writes OUT/written.html, "
                                                         "a page per question, OUT/written.csv and OUT/written_scores.csv "
                                                         "(keeping the scores filled in)")
    written.add_argument("--pdf", action="store_true",
                         help="also otter's PDF of each notebook (questions only, one per page) for Gradescope's "
                              "manual grading; needs xelatex and pandoc, or playwright and Chromium")
    written.set_defaults(func=cmd_written)

    demo = commands.add_parser("demo", parents=[common], help="release, then grade the reference, the template and samples")
    demo.add_argument("assignment", nargs="*", help="assignments (default: all)")
    demo.add_argument("--out", default="demo-output", help="output folder (default: demo-output/)")
    demo.add_argument("--jobs", type=int, default=DEFAULT_JOBS)
    demo.set_defaults(func=cmd_demo)

    calibrate = commands.add_parser("calibrate", parents=[common],
                                    help="train the reference (N seeds) and the known bugs on each accuracy check")
    calibrate.add_argument("assignment", choices=list(config.load().assignments))
    calibrate.add_argument("--tier", choices=("cpu", "gpu"), default="cpu")
    calibrate.add_argument("--seeds", type=int, default=5)
    calibrate.add_argument("--jobs", type=int, default=DEFAULT_JOBS)
    calibrate.add_argument("--margin", type=float, default=0.02, help="proposed threshold = reference min - margin")
    calibrate.add_argument("--data", type=Path, default=None)
    calibrate.set_defaults(func=cmd_calibrate)

    data = commands.add_parser("data", parents=[common], help="prepare the data sets (torchvision layout)")
    data.add_argument("action", choices=("prepare", "fetch"),
                      help="prepare: Fashion-MNIST from Debian's package; fetch: download MNIST/CIFAR-10")
    data.add_argument("datasets", nargs="*", default=["MNIST", "CIFAR10"])
    data.add_argument("--data", type=Path, default=None)
    data.set_defaults(func=cmd_data)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except config.ConfigError as error:
        print(f"autograder: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
