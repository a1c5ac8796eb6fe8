"""Grade a class on a Slurm cluster through submitit: one job array, one submission per array task, each
task running :func:`autograder.grade.grade_one` on its node into ``out`` (a folder every node shares).

What :func:`autograder.grade.to_grade` finds missing is submitted; a task that dies (killed, preempted
past submitit's requeue, out of time, node failure) is submitted once more, and a second death leaves
a record that says so: a grader-side fault that scores 0 and is graded again by the next run.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from autograder import config, grade, results
from autograder.submissions import Submission

ATTEMPTS = 2


@dataclass(frozen=True)
class Slurm:
    """The resources of each array task, and where submitit keeps its pickles and logs."""

    partition: str | None = None
    gpus_per_task: int = 0
    time_min: int = 60
    array_parallelism: int = 32
    cpus_per_task: int = 2
    mem_gb: float | None = None
    folder: Path | None = None  # default: OUT/.slurm (it must be shared with the nodes, like OUT)


def executor(slurm: Slurm, out: Path):
    """A submitit executor for one array of grading tasks."""
    import submitit

    runner = submitit.SlurmExecutor(folder=(slurm.folder or out / ".slurm") / "%j", max_num_timeout=0)
    parameters = {"job_name": "autograder", "time": slurm.time_min, "cpus_per_task": slurm.cpus_per_task,
                  "array_parallelism": slurm.array_parallelism, "nodes": 1, "ntasks_per_node": 1}
    parameters.update({key: value for key, value in (("partition", slurm.partition), ("mem_gb", slurm.mem_gb),
                                                     ("gpus_per_task", slurm.gpus_per_task)) if value})
    runner.update_parameters(**parameters)
    return runner


def grade_class(submissions: list[Submission], out: Path, options: grade.Options, slurm: Slurm,
                force: bool = False, quiet: bool = False) -> dict[str, dict]:
    """Grade on Slurm what ``out`` lacks; write ``out/grades.csv`` and return name -> results."""
    graded, todo = grade.to_grade(submissions, out, options, force)
    out.mkdir(parents=True, exist_ok=True)
    deaths: dict[str, str] = {}
    for attempt in range(1, ATTEMPTS + 1):
        if not todo:
            break
        documents, deaths = run_array(todo, out, slurm, quiet, f"slurm array, try {attempt}/{ATTEMPTS}")
        graded.update(documents)
        todo = [(submission, options) for submission, options in todo if submission.name in deaths]
    for submission, task_options in todo:
        graded[submission.name] = record_death(submission, out, task_options, deaths[submission.name])
    results.write_grades_csv(out / "grades.csv", graded)
    return graded


def run_array(todo: list[tuple[Submission, grade.Options]], out: Path, slurm: Slurm, quiet: bool,
              label: str) -> tuple[dict[str, dict], dict[str, str]]:
    """Submit one array task per entry and wait for all; return (name -> results, name -> how its task
    died)."""
    import submitit

    runner = executor(slurm, out)
    with runner.batch():
        jobs = {submission.name: runner.submit(grade.grade_one, submission, out, options)
                for submission, options in todo}
    documents: dict[str, dict] = {}
    deaths: dict[str, str] = {}
    names = {job.job_id: name for name, job in jobs.items()}
    with tqdm(total=len(jobs), desc=label, unit="submission", disable=quiet) as bar:
        for job in submitit.helpers.as_completed(list(jobs.values()), poll_frequency=1):
            try:
                documents[names[job.job_id]] = job.result()
            except (submitit.core.utils.UncompletedJobError, submitit.core.utils.FailedJobError) as error:
                deaths[names[job.job_id]] = f"Slurm job {job.job_id} ended {job.state}"
                print(f"autograder grade: {names[job.job_id]}: Slurm job {job.job_id} died ({job.state}); "
                      f"log: {job.paths.stderr}\n{str(error)[-600:]}", file=sys.stderr)
            bar.update()
    return documents, deaths


def record_death(submission: Submission, out: Path, options: grade.Options, death: str) -> dict:
    """Record checks whose grading task died twice: score 0, the grader's fault, graded again next run."""
    message = (f"not graded: the cluster task grading this submission died twice ({death}); this is a "
               "grader-side fault, not yours: the course staff will grade it again")
    checks = options.checks(config.load(options.grading_path), submission.assignment)
    records = {c.id: {"status": "died", "output": message, "seconds": 0.0} for c in checks}
    return grade.write_record(submission, out, options, records, note=message)
