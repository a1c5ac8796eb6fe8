"""The release bundle: what a teaching team hands out and plugs into Gradescope or GitHub Classroom.

``build(out, assignments)`` writes, per assignment::

    <out>/<a>/student/                     the student's starting folder (a GitHub Classroom template repo)
        <a>.ipynb                          handout + experiments + answer cells + grader.check cells
        tests/*.py                         otter's public tests (they call the student kit in-process)
        <module>.py ... answers.yml        stripped modules and blank answers (the kit's stripper)
        kit/labcheck-*.whl                 the student kit: public checks, no secret (:mod:`autograder.studentkit`)
        requirements.txt                   what the lab imports besides torch (unpinned)
        README.md                          how to work, check (`labcheck check`) and submit
        .github/workflows/classroom.yml    GitHub Classroom: public checks (student kit), points to Classroom
    <out>/<a>/autograder/
        <a>-gradescope.zip                 setup.sh + run_autograder (→ `autograder grade`, isolated) + kit/
        <a>-otter.zip                      otter-grader's autograder zip (notebook tests; optional)
        <a>-solution.ipynb                 the solution notebook (otter's autograder copy)
        selftest.json                      otter run of the reference export (must be 100 %)

and, for the course, ``<out>/README.md`` and ``<out>/staff/.github/workflows/grade.yml`` (the staff's grading
workflow, :mod:`autograder.classroom`). Gates (``ReleaseError``, a clear message): a solution line leaking
into any released file, the solution notebook failing to execute (any cell error) or scoring less than
100 % on its own otter tests.

``python -m autograder.bundle gradescope`` is the entry point of the Gradescope script.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from autograder import classroom, config, data, results, strip, studentkit
from autograder.notebooks import NotebookError, write_master
from autograder.otter_runs import code_cells, export_zip, otter_assign, otter_run
from autograder.release import ReleaseError, template_files

TEMPLATES = Path(__file__).resolve().parent / "templates"
GRADESCOPE_ROOT = "AUTOGRADER_GRADESCOPE_DIR"
#: seconds by which run_autograder writes results.json (Gradescope's default timeout is 600 s)
GRADESCOPE_DEADLINE = 540


def _render(name: str, **values: str) -> str:
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def _log(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, flush=True)


def kit_files(assignment: str) -> dict[str, Path]:
    """Relative path → source of the kit a grading machine installs: the engine, grading.yml, the
    packaging files and the reference solution of ``assignment`` (the graders need it)."""
    root = config.ROOT
    files = {name: root / name for name in ("pyproject.toml", "README.md", "grading.yml") if (root / name).is_file()}
    for folder in (root / "autograder", root / "solutions" / assignment):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files[path.relative_to(root).as_posix()] = path
    return files


def write_kit(assignment: str, target: Path) -> Path:
    for relative, source in kit_files(assignment).items():
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / relative)
    return target


def _zip_folder(folder: Path, target: Path, executable: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = (0o755 if path.name in executable else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                bundle.writestr(info, path.read_bytes())
    return target


def gradescope_zip(assignment: str, target: Path, deadline: int = GRADESCOPE_DEADLINE) -> Path:
    """Gradescope's autograder zip: ``setup.sh`` installs the kit shipped under ``kit/``; ``run_autograder``
    runs ``autograder grade`` on /autograder/submission and writes /autograder/results/results.json within
    ``deadline`` seconds."""
    from autograder.zygote import NEEDED_MEMORY_MB

    with tempfile.TemporaryDirectory(prefix="autograder-gradescope-") as scratch:
        folder = Path(scratch)
        (folder / "run_autograder").write_text(_render("run_autograder", assignment=assignment, deadline=str(deadline),
                                                       memory_mb=str(NEEDED_MEMORY_MB),
                                                       preload=",".join(optional_libraries(assignment))))
        (folder / "setup.sh").write_text(_render("setup.sh", assignment=assignment, **_pins("torch", "torchvision")))
        write_kit(assignment, folder / "kit")
        return _zip_folder(folder, target, executable=("run_autograder", "setup.sh"))


def optional_libraries(assignment: str) -> list[str]:
    """The optional libraries of the zygotes (:data:`autograder.sandbox.worker.OPTIONAL`) that the
    assignment's reference or graders import anywhere: the only ones its Gradescope zygotes preload."""
    from autograder.sandbox.worker import OPTIONAL

    imported: set[str] = set()
    for path in [*(config.ROOT / "solutions" / assignment).glob("*.py"), *(config.GRADERS / assignment).glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    return [name for name in OPTIONAL if name.split(".")[0] in imported]


def _pins(*names: str) -> dict[str, str]:
    """``name -> "name==version"`` from pyproject.toml's dependencies (each must be pinned there)."""
    import tomllib

    dependencies = tomllib.loads((config.ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {d.split("==")[0].strip(): d.replace(" ", "") for d in dependencies if "==" in d}
    return {name: pins[name] for name in names}


def otter_score(results: dict) -> tuple[float, float]:
    """(score, max score) of an otter results.json (its per-question tests; "Public Tests" has none)."""
    tests = [t for t in results.get("tests", []) if "max_score" in t]
    return sum(float(t.get("score") or 0) for t in tests), sum(float(t["max_score"]) for t in tests)


def _student_readme(assignment: str, template: dict[str, str]) -> str:
    entry = config.load().assignment(assignment)
    modules = [f"{m}.py" for m in entry.modules if f"{m}.py" in template]
    modules += sorted(p for p in template if p.endswith(".py") and p not in modules)
    rows = "\n".join(f"| `{name}` | " + ("your code (the notebook and the docstrings say what)"
                                          if "NotImplementedError(" in template[name] or "# TODO" in template[name]
                                          else "provided: nothing to write") + " |" for name in modules)
    notebook = (config.ROOT / "assignments" / assignment / "notebook.py").read_text(encoding="utf-8")
    datasets = [name for name, folder in data.LAYOUT.items() if re.search(rf"\b({name}|{folder})\b", notebook)]
    return _render("student_README.md", assignment=assignment, title=entry.title, module_rows=rows,
                   points=f"{entry.max_score('gpu'):g}", cpu_points=f"{entry.max_score('cpu'):g}",
                   datasets=" ".join(datasets))


def _secrets(assignment: str) -> set[str]:
    lines: set[str] = set()
    for path in sorted((config.ROOT / "solutions" / assignment).glob("*.py")):
        lines |= strip.solution_lines(strip.strip_source(path.read_text(encoding="utf-8"), str(path))[1])
    return lines


def check_leaks(assignment: str, folder: Path) -> None:
    """No non-trivial solution line in any released text file of ``folder`` (notebook code cells included)."""
    secrets = _secrets(assignment)
    leaks: list[str] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(folder).as_posix()
        text = code_cells(path) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8", errors="replace")
        leaks += strip.find_leaks(secrets, text, relative)
    if leaks:
        raise ReleaseError(f"{assignment}: solution code leaks into the student bundle:\n" + "\n".join(leaks[:10]))


def build_assignment(assignment: str, target: Path, quiet: bool = False) -> Path:
    """Build ``target`` (= ``<out>/<assignment>``); see the module docstring."""
    started = time.monotonic()
    template = template_files(assignment)  # raises ReleaseError on leaks
    with tempfile.TemporaryDirectory(prefix=f"autograder-bundle-{assignment}-") as scratch:
        scratch = Path(scratch)
        kit = write_kit(assignment, scratch / "kit")
        try:
            master = write_master(assignment, scratch / "build", kit=kit)
            otter_ag, otter_student = otter_assign(master, scratch / "dist")
        except NotebookError as error:
            raise ReleaseError(f"{assignment}: {error}") from None
        otter_zips = sorted(otter_ag.glob(f"{assignment}-autograder_*.zip"))
        if len(otter_zips) != 1:
            raise ReleaseError(f"{assignment}: otter assign wrote {len(otter_zips)} autograder zips, expected one")
        graded_files = sorted(p.name for p in (config.ROOT / "solutions" / assignment).iterdir()
                              if p.is_file() and (p.suffix == ".py" or p.name == "answers.yml"))
        _log(quiet, f"{assignment}: notebook assigned in {time.monotonic() - started:.0f} s; running it on the "
                    "reference (otter run)")
        reference = export_zip(otter_ag, f"{assignment}.ipynb", graded_files, scratch / "reference.zip")
        run_started = time.monotonic()
        selftest = otter_run(otter_zips[0], reference, tiny=True, debug=True)
        selftest["seconds"] = round(time.monotonic() - run_started, 1)
        score, max_score = otter_score(selftest)
        if not max_score or score != max_score:
            failed = [f"{t['name']}: {t.get('output', '')}" for t in selftest.get("tests", [])
                      if "max_score" in t and t.get("score") != t["max_score"]]
            raise ReleaseError(f"{assignment}: the solution notebook does not run cleanly or does not score 100% "
                               f"on its otter tests ({score:g}/{max_score:g}):\n"
                               + ("\n".join(failed) or selftest.get("output", "")))

        shutil.rmtree(target, ignore_errors=True)
        student = target / "student"
        shutil.copytree(otter_student, student)
        for relative, text in template.items():
            (student / relative).parent.mkdir(parents=True, exist_ok=True)
            (student / relative).write_text(text, encoding="utf-8")
        (student / "README.md").write_text(_student_readme(assignment, template), encoding="utf-8")
        workflow = student / ".github" / "workflows" / "classroom.yml"
        workflow.parent.mkdir(parents=True)
        workflow.write_text(classroom.student_workflow(assignment), encoding="utf-8")
        (student / ".gitignore").write_text(".OTTER_LOG\n__pycache__/\n*.zip\n.ipynb_checkpoints/\ngraded/\n")
        files = studentkit.package_files([assignment])
        leaks = studentkit.scan(files, [assignment])
        if leaks:
            raise ReleaseError(f"{assignment}: the student kit holds secrets of the grading kit:\n" + "\n".join(leaks[:10]))
        studentkit.write_wheel(files, student / "kit")
        (student / "requirements.txt").write_text(
            "# What this lab's code and notebook import (your own torch stays: no torch here)\n"
            + "".join(f"{name}\n" for name in studentkit.lab_requirements(assignment)), encoding="utf-8")
        check_leaks(assignment, student)

        staff = target / "autograder"
        staff.mkdir(parents=True)
        shutil.copyfile(otter_zips[0], staff / f"{assignment}-otter.zip")
        shutil.copyfile(otter_ag / f"{assignment}.ipynb", staff / f"{assignment}-solution.ipynb")
        gradescope_zip(assignment, staff / f"{assignment}-gradescope.zip")
        (staff / "selftest.json").write_text(json.dumps(selftest, indent=1))
    entry = config.load().assignment(assignment)
    _log(quiet, f"{assignment}: bundle written to {target} in {time.monotonic() - started:.0f} s (notebook checks "
                f"{score:g}/{max_score:g}; grading {entry.max_score('cpu'):g} points cpu tier, "
                f"{entry.max_score('gpu'):g} with gpu)")
    return target


def build(out: Path, assignments: list[str], quiet: bool = False, jobs: int = 1) -> Path:
    """Build the bundle of every assignment into ``out`` (``jobs`` assignments at a time) and the course
    index ``out/README.md``; the first failing gate raises :class:`ReleaseError`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for done in [pool.submit(build_assignment, a, out / a, quiet) for a in assignments]:
            done.result()
    grading = config.load()
    rows = "\n".join(f"| `{a}` | {grading.assignment(a).title} | {grading.assignment(a).max_score('cpu'):g} | "
                     f"{grading.assignment(a).max_score('gpu'):g} |" for a in assignments)
    (out / "README.md").write_text(_COURSE_README.format(rows=rows), encoding="utf-8")
    staff_workflow = out / "staff" / ".github" / "workflows" / "grade.yml"
    staff_workflow.parent.mkdir(parents=True, exist_ok=True)
    staff_workflow.write_text(classroom.staff_workflow(assignments), encoding="utf-8")
    return out


_COURSE_README = """\
# Release bundle

| assignment | title | points (cpu tier) | points (with gpu) |
|---|---|---:|---:|
{rows}

Per assignment:

- `student/` — hand it out as is (a zip, or a GitHub Classroom template repository). Students install the
  student kit it carries into their own environment, beside their own torch
  (`pip install kit/labcheck-*.whl`), and check their work with `labcheck check <a>`: the public checks,
  their feedback and the public score.
  On GitHub Classroom, `.github/workflows/classroom.yml` runs the same public checks on every push (a
  GitHub-hosted runner, no secret, one grader step per check) and reports their points to Classroom.
  Students can edit that workflow: its points are feedback, never the grade.
- `autograder/<a>-gradescope.zip` — Gradescope's "zip file upload" autograder (Ubuntu 24.04 base image,
  or 22.04): `setup.sh` installs the kit into a venv of the image's Python (24.04: its python3 3.12; 22.04:
  Ubuntu's python3.11 package; no PPA) with the versions of `gradescope-constraints.txt` and the CPU builds of
  torch and torchvision, and fails the build with a message when any of them cannot be installed;
  `run_autograder` runs `autograder grade` (the isolated, authoritative grader, cpu tier) on the submission:
  the notebook's export zip or the student's files.
  **Gradescope settings it needs**: memory **768 MB** (the default) is enough for the reference — one
  grading peaks at 641–697 MB, page cache included, at ½ CPU, measured with `bench/gradescope.py` — but
  give **1 GB** if you can: a submission's own code may allocate more, and a grading killed for memory
  scores 0 with a results.json that says so; timeout **600 s** (the default): `run_autograder` writes
  results.json within 540 s (`AUTOGRADER_DEADLINE`), and a check the deadline stops scores 0 as "not run:
  the grading time ran out". Students see their public checks at once; hidden checks, their feedback and
  the total appear when you publish the grades ("Review Grades" → Publish).
- `autograder/<a>-otter.zip` — otter-grader's own autograder (the notebook's checks run inside the student's
  kernel: use it for self-checks, not for grades); `otter run` needs no Docker.
- `autograder/<a>-solution.ipynb` — the solution notebook; `selftest.json` — its otter run (100 %).

Grades (authoritative: every check, hidden ones included, student code in the sandbox) come from the staff:

- On a staff machine: clone the class's repositories into one folder, one sub-folder per student (for
  instance `gh repo list ORG --json name --jq '.[].name'`, then `gh repo clone ORG/NAME FOLDER/NAME` for each
  repository of the assignment), then `autograder grade FOLDER --assignment <a>`: one record per repository,
  named after its folder, in `graded/` (`grades.csv`, `index.html`, and per student `results.json` and a
  report); `.git` folders are never graded.
- On GitHub: copy `staff/.github/workflows/grade.yml` into the staff's private grading repository (this kit;
  no student can push there) and give that repository the secret `CLASS_REPOS_TOKEN`, a token that can read
  the students' repositories. Run "Grade the class" by hand with the assignment, the organisation and the
  repositories' name prefix (GitHub Classroom names them `<prefix>-<login>`): it clones them into one folder,
  records the graded commits in `commits.csv`, grades the cpu tier on a GitHub-hosted runner and, when given
  the label of the staff's self-hosted GPU runner, the gpu tier there; the grades are the run's artifacts.
"""


# --------------------------------------------------------------------------------------------------------
# Entry point of the Gradescope script
# --------------------------------------------------------------------------------------------------------

def gradescope(assignment: str, root: Path) -> dict:
    """Grade ``root/submission`` like ``autograder grade --tier cpu`` (the same :func:`grade.grade_one`: a
    trusted pytest grader process driving an isolated worker) into ``root/results/results.json``, as
    Gradescope shows it (:func:`autograder.results.gradescope_view`: numbered, titled, Markdown).

    The submission is ``root/submission`` (the files of the notebook's export zip, which Gradescope unpacks,
    or the student's files): copied (regular files only, no links, no ``.OTTER_LOG``) before anything runs,
    its modules found as ``autograder grade`` finds them (:func:`autograder.submissions.module_folder`).
    ``AUTOGRADER_ONLY`` (check ids, comma-separated) restricts the checks: the kit's own tests use it.
    ``AUTOGRADER_DEADLINE`` (seconds after ``AUTOGRADER_STARTED``, the script's start time, or after now) is the
    grading deadline.
    """
    from autograder.calibrate import reference_curves
    from autograder.grade import Options, grade_one
    from autograder.submissions import Submission

    only = tuple(c for c in os.environ.get("AUTOGRADER_ONLY", "").split(",") if c)
    with tempfile.TemporaryDirectory(prefix="autograder-gradescope-") as out:
        record = grade_one(Submission("submission", root / "submission", assignment), Path(out),
                           Options(tier="cpu", only=only, deadline=_deadline()))
    document = results.gradescope_view(record, reference_curves(assignment))
    path = root / "results" / "results.json"
    results.write(path, document)
    return document


def _deadline() -> float | None:
    """Seconds left before ``AUTOGRADER_DEADLINE`` (counted from ``AUTOGRADER_STARTED`` when set), or None."""
    if not os.environ.get("AUTOGRADER_DEADLINE"):
        return None
    started = float(os.environ.get("AUTOGRADER_STARTED") or time.time())
    return float(os.environ["AUTOGRADER_DEADLINE"]) - (time.time() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.bundle", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="build the release bundle")
    build_parser.add_argument("assignment", nargs="*")
    build_parser.add_argument("--out", type=Path, default=Path("dist"))
    build_parser.add_argument("--quiet", action="store_true")
    build_parser.add_argument("--jobs", type=int, default=1, help="assignments built at a time")
    grade_parser = commands.add_parser("gradescope", help="grade a Gradescope tree (run_autograder)")
    grade_parser.add_argument("--assignment", required=True)
    grade_parser.add_argument("--root", type=Path, default=Path(os.environ.get(GRADESCOPE_ROOT, "/autograder")))
    args = parser.parse_args(argv)
    if args.command == "build":
        try:
            build(args.out, args.assignment or list(config.load().assignments), args.quiet, args.jobs)
        except ReleaseError as error:
            print(f"autograder release: {error}", file=sys.stderr)
            return 1
    else:
        document = gradescope(args.assignment, args.root)
        print(document["output"].splitlines()[0] if document.get("output") else "graded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
