"""Public checks in the student's own process: the notebook's ``grader.check`` cells and ``labcheck check``.

The test functions, probes (``autograder.graders.<a>.probes``) and judges (``autograder.judges``) are those
of ``autograder grade``; only the ``probe`` fixture differs: it calls the probe here, on the student's
modules imported fresh from their folder, instead of in the isolated worker. Seeds, generators, probe
names and feedback are those of :mod:`autograder.check_context`, as in ``autograder grade``; public checks
draw their inputs from a fixed public seed per check, so the student kit can replay the reference values
recorded at release (:mod:`autograder.tape`); in the grading kit the same tests call the live reference.
The authoritative grade is never computed here.

This module and everything it imports ship in the student kit: Python 3.10+, no grading-kit secret.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import json
import os
import random
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path

import yaml

from autograder.check_context import INTERNAL, check_rng, outcome, probe_target, public_seed
from autograder.judges import CheckFailed, ProbeFailed

GRADERS = Path(__file__).resolve().parent / "graders"
PUBLIC = "public.json"
RECORDED = ("ref", "reference")  # module globals of a grader test that stand for the reference


def assignment_info(assignment: str) -> dict:
    """``{"title", "modules", "checks": [{"id", "points", "timeout"}]}``: the public, cpu-tier checks
    without a training budget (those run only at grading). Read from ``public.json`` in the student kit."""
    path = GRADERS / assignment / PUBLIC
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    if not (GRADERS / assignment).is_dir():
        raise KeyError(f"no assignment {assignment!r} in this kit")
    from autograder import config

    entry = config.load().assignment(assignment)
    return {"title": entry.title, "modules": entry.modules,
            "checks": [{"id": c.id, "points": c.points, "timeout": c.timeout}
                       for c in entry.selected("cpu", "public") if not c.budget]}


def assignments() -> list[str]:
    return sorted(p.name for p in GRADERS.iterdir() if (p / "probes.py").is_file())


def _solution_folder(assignment: str) -> Path | None:
    """The reference solution's folder in the grading kit; None in the student kit, which has none."""
    try:
        from autograder.reference import SOLUTIONS
    except ImportError:
        return None
    return SOLUTIONS / assignment


def _managed_names(modules: list[str], folders: list[Path]) -> set[str]:
    """Top-level module names of the assignment and of ``folders`` (the student's, the reference's): they
    must not mix between the reference and the student's code."""
    names = set(modules)
    for place in folders:
        names |= {p.stem for p in place.glob("*.py") if p.stem.isidentifier()}

    def foreign(name: str) -> bool:  # the kit, the standard library, installed packages: never swapped
        origin = getattr(sys.modules.get(name), "__file__", None) or ""
        return (name in sys.stdlib_module_names or name in {"autograder", "otter", "torch", "numpy"}
                or "site-packages" in Path(origin).parts or origin.startswith(sys.base_prefix + os.sep))

    return {name for name in names if not foreign(name)}


@contextlib.contextmanager
def _modules(names: set[str], stash: dict, path: str) -> Iterator[None]:
    """Within: ``sys.modules`` holds ``stash``'s modules for ``names`` (no other) and ``path`` leads
    ``sys.path``; on exit what was imported under ``names`` goes back to ``stash`` and the caller's modules
    and ``sys.path`` are restored."""
    outside = {name: sys.modules.pop(name) for name in list(sys.modules) if name.split(".")[0] in names}
    sys.modules.update(stash)
    saved_path = list(sys.path)
    sys.path.insert(0, path)
    importlib.invalidate_caches()
    writing = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.dont_write_bytecode = writing
        stash.clear()
        stash.update({name: sys.modules.pop(name) for name in list(sys.modules) if name.split(".")[0] in names})
        sys.path[:] = saved_path
        sys.modules.update(outside)


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed random, numpy and torch as the worker does (cuDNN deterministic too), and give the caller its
    random state back."""
    import numpy
    import torch

    from autograder.sandbox.probing import seed_everything

    states = random.getstate(), numpy.random.get_state(), torch.random.get_rng_state()
    flags = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    seed_everything(seed)
    try:
        yield
    finally:
        random.setstate(states[0])
        numpy.random.set_state(states[1])
        torch.random.set_rng_state(states[2])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = flags


def _parameters(function, name: str) -> dict:
    """Keyword arguments of a parametrised test for its id (``test_x[7]`` → ``patch_size=7``)."""
    wanted = name.partition("[")[2].removesuffix("]")
    if not wanted:
        return {}
    for mark in getattr(function, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        argnames, argvalues = mark.args[0], mark.args[1]
        argnames = [a.strip() for a in argnames.split(",")] if isinstance(argnames, str) else list(argnames)
        ids = mark.kwargs.get("ids")
        for index, values in enumerate(argvalues):
            values = getattr(values, "values", values)  # pytest.param
            values = tuple(values) if len(argnames) > 1 else (values,)
            ident = ids[index] if isinstance(ids, (list, tuple)) else "-".join(str(v) for v in values)
            if ident == wanted:
                return dict(zip(argnames, values))
    raise KeyError(f"{function.__name__}: no parameter set with id {wanted!r}")


@contextlib.contextmanager
def _own_figures_closed() -> Iterator[None]:
    """Within: the matplotlib figures a check opens (the student's plots, the reference's) are closed at its
    end, the caller's own kept: a notebook running every check does not pile up figures."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    before = set(pyplot.get_fignums()) if pyplot is not None else set()
    try:
        yield
    finally:
        pyplot = sys.modules.get("matplotlib.pyplot")
        for number in set(pyplot.get_fignums()) - before if pyplot is not None else ():
            pyplot.close(number)


@contextlib.contextmanager
def _recorded(module: types.ModuleType, tape) -> Iterator[None]:
    """Within: the reference globals of grader test ``module`` record every call on ``tape``."""
    from autograder.tape import Recording

    saved = {name: getattr(module, name) for name in RECORDED if isinstance(getattr(module, name, None),
                                                                           types.ModuleType)}
    for name, target in saved.items():
        setattr(module, name, Recording(target, tape, name))
    try:
        yield
    finally:
        for name, target in saved.items():
            setattr(module, name, target)


_STASH: dict[str, dict] = {}  # assignment -> the reference's modules (grading kit only)
_ONE_AT_A_TIME = threading.Lock()  # checks swap sys.modules and sys.path: one per process at a time


def run_check(assignment: str, check_id: str, env: dict | None = None, folder: str | Path | None = None,
              tape=None) -> None:
    """Run the public check ``check_id`` in this process on the modules of ``folder`` (default: the current
    directory, where the notebook is); raise ``CheckFailed`` with the grader's feedback. ``env`` (the
    notebook's globals) is accepted for otter's test signature and not used: public inputs are fixed.
    With ``tape`` (release only), the reference calls of the check are recorded on it."""
    with _ONE_AT_A_TIME:
        _run_check(assignment, check_id, Path(folder or os.getcwd()).resolve(), tape)


def _run_check(assignment: str, check_id: str, folder: Path, tape) -> None:
    info = assignment_info(assignment)
    if check_id not in {c["id"] for c in info["checks"]}:
        raise CheckFailed(f"{assignment} has no public check {check_id!r}")
    try:
        execute(assignment, check_id, folder, info["modules"], public_seed(check_id),
                (lambda module: _recorded(module, tape)) if tape is not None else None)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 - a failure, a grader bug or a pytest.skip: told as feedback
        status, feedback = outcome(error)
        raise CheckFailed(f"skipped: {feedback}" if status == "skipped" else feedback) from None


def execute(assignment: str, check_id: str, folder: Path, modules: list[str], seed: int, patch=None,
            key: str | None = None, fixtures: dict | None = None, student: dict | None = None) -> None:
    """Run the grader's test ``check_id`` in this process on the modules of ``folder``, its probes called
    here (student modules imported fresh from ``folder`` into ``student``, then put away) with random,
    numpy and torch seeded with ``seed``; the test's ``rng`` is the check's generator of ``seed`` in the
    grading of secret ``key`` (none in the student kit: :func:`~autograder.check_context.check_rng`).
    ``patch(module)`` is a context manager applied around the call (e.g. recording the reference);
    ``fixtures`` adds or replaces fixtures (name -> factory). Raises whatever the test raises."""
    from autograder.sandbox import wire
    from autograder.sandbox.probing import StudentError, resolve_probe, student_traceback, to_plain

    reference_folder = _solution_folder(assignment)
    names = _managed_names(modules, [folder, *([reference_folder] if reference_folder else [])])
    reference = _STASH.setdefault(assignment, {})
    student = {} if student is None else student
    file_name, _, test_name = check_id.partition("::")

    def probe(name: str, /, **args):
        with _modules(names, student, str(folder)), _seeded(seed):
            try:
                value = to_plain(resolve_probe(probe_target(assignment, name))(**args))
            except StudentError as error:
                raise ProbeFailed(str(error)) from None
            except KeyboardInterrupt:
                raise
            except BaseException as error:  # noqa: BLE001 - student code may raise anything, SystemExit included
                raise ProbeFailed(student_traceback(error, str(folder))) from None
        return wire.round_trip(value)

    def gpu_data_root():
        raise CheckFailed("gpu-tier checks run only at grading")

    available = {"probe": lambda: probe, "seed": lambda: seed, "rng": lambda: check_rng(seed, key), "record": dict,
                 "submission": lambda: folder, "gpu_data_root": lambda: gpu_data_root, **(fixtures or {})}
    with _modules(names, reference, str(reference_folder)) if reference_folder else contextlib.nullcontext():
        try:
            module = importlib.import_module(f"autograder.graders.{assignment}.{file_name.removesuffix('.py')}")
            function = getattr(module, test_name.partition("[")[0])
        except (ImportError, AttributeError) as error:
            raise CheckFailed(f"{INTERNAL}: the check {check_id} cannot be loaded ({type(error).__name__}: "
                              f"{error}); is a package the labs need missing from this environment?") from None
        arguments = _parameters(function, test_name)
        for parameter in inspect.signature(function).parameters:
            if parameter in arguments:
                continue
            if parameter not in available:
                raise CheckFailed(f"{INTERNAL}: fixture {parameter!r} is not available outside `autograder grade`")
            arguments[parameter] = available[parameter]()
        with patch(module) if patch is not None else contextlib.nullcontext(), _own_figures_closed():
            function(**arguments)


def check_folder(assignment: str, folder: str | Path, only: tuple[str, ...] = (), part: str | None = None) -> dict:
    """Every public check of ``assignment`` (or ``only`` these ids, or those of test file ``part``, e.g.
    ``test_manual``) on ``folder``: ``{"score", "max_score", "tests": [{"id", "points", "passed",
    "output", "seconds"}]}``."""
    checks = assignment_info(assignment)["checks"]
    if only:
        unknown = sorted(set(only) - {c["id"] for c in checks})
        if unknown:
            raise KeyError(f"{assignment} has no public check {', '.join(unknown)}")
        checks = [c for c in checks if c["id"] in only]
    if part:
        checks = [c for c in checks if c["id"].split("::")[0].removesuffix(".py") in (part, f"test_{part}")]
        if not checks:
            raise KeyError(f"{assignment} has no public checks in part {part!r}")
    tests = []
    for entry in checks:
        started = time.monotonic()
        try:
            run_check(assignment, entry["id"], folder=folder)
            passed, output = True, ""
        except CheckFailed as error:
            passed, output = False, str(error)
        tests.append({"id": entry["id"], "points": entry["points"], "passed": passed, "output": output,
                      "seconds": round(time.monotonic() - started, 2)})
    return {"score": sum(t["points"] for t in tests if t["passed"]), "max_score": sum(t["points"] for t in tests),
            "tests": tests}


def format_report(assignment: str, report: dict) -> str:
    heading = (f"{assignment}: {report['score']:g} / {report['max_score']:g} public points (hidden checks and "
               "training checks run only at grading)")
    lines = [heading]
    for test in report["tests"]:
        lines.append(f"  {'PASS' if test['passed'] else 'FAIL'} {test['id']}  "
                     f"({test['points'] if test['passed'] else 0:g}/{test['points']:g}, {test['seconds']:.1f} s)")
        lines += [f"       {line}" for line in test["output"].splitlines()]
    return "\n".join(lines)


def guess_assignment(folder: Path) -> str:
    for name in assignments():
        modules = assignment_info(name)["modules"]
        if folder.name == name or all((folder / f"{m}.py").exists() for m in modules):
            return name
    raise KeyError(f"cannot tell which assignment {folder} holds; name it (one of {', '.join(assignments())})")


def show_answers(folder: str | Path | None = None) -> None:
    """Print the numeric answers of ``answers.yml`` (filled or not) without judging them."""
    path = Path(folder or os.getcwd()) / "answers.yml"
    if not path.is_file():
        print(f"{path} not found: copy the answers.yml of the assignment next to this notebook")
        return
    try:
        answers = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        print(f"answers.yml is not valid YAML: {str(error).splitlines()[0]}")
        return
    missing = 0
    for key, entry in answers.items():
        entry = entry if isinstance(entry, dict) else {"answer": entry}
        answer = entry.get("answer")
        missing += answer is None
        label = f"{key} (question {entry.get('question', '?')})"
        print(f"{'  -' if answer is None else '  ✓'} {label}: {'(no answer yet)' if answer is None else answer}")
    print(f"{len(answers) - missing} of {len(answers)} answers filled in")


def main(argv: list[str] | None = None) -> int:
    """``labcheck check [ASSIGNMENT] [PART] [--path DIR] [--only ID]...``: exit 0 iff every check passed."""
    parser = argparse.ArgumentParser(prog="labcheck", description="Run the public checks of a lab on your code.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="run the public checks on your modules")
    check.add_argument("assignment", nargs="?", help=f"one of: {', '.join(assignments())} (default: guessed)")
    check.add_argument("part", nargs="?", help="only the checks of this part (a test file, e.g. test_manual)")
    check.add_argument("--path", type=Path, default=Path("."), help="folder with your modules (default: here)")
    check.add_argument("--only", action="append", default=[], metavar="CHECK_ID", help="run only this check")
    check.add_argument("--json", type=Path, default=None, help="also write the results as JSON to this file")
    commands.add_parser("list", help="list the labs and their public checks")
    data = commands.add_parser("data", help="put the labs' data sets where the notebooks read them")
    data.add_argument("names", nargs="*", default=[], help="MNIST, FashionMNIST, CIFAR10 (downloaded: needs internet)")
    data.add_argument("--to", type=Path, default=Path(os.environ.get("AUTOGRADER_DATA", "data")),
                      help="data folder (default: $AUTOGRADER_DATA, else data/ here, where the notebooks look)")
    data.add_argument("--from-debian", type=Path, nargs="?", const=Path("/usr/share/datasets/fashion-mnist"),
                      default=None, help="unpack Debian's dataset-fashion-mnist (offline) instead")
    args = parser.parse_args(argv)
    if args.command == "data":
        from autograder import data as datasets

        try:
            if args.from_debian is not None:
                print(f"Fashion-MNIST ready in {datasets.prepare(args.to.resolve(), args.from_debian)}")
            datasets.fetch(args.to.resolve(), args.names)
        except (datasets.DataMissing, RuntimeError, OSError) as error:
            print(f"labcheck data: {error}", file=sys.stderr)
            return 1
        if not args.names and args.from_debian is None:
            present = [name for name in datasets.LAYOUT if datasets.present(args.to.resolve(), name)]
            print(f"{args.to.resolve()}: {', '.join(present) or 'no data set yet'}; name data sets to download")
        return 0
    if args.command == "list":
        for name in assignments():
            info = assignment_info(name)
            print(f"{name}: {info['title']}")
            print("\n".join(f"  {c['id']} ({c['points']:g} pt)" for c in info["checks"]))
        return 0
    folder = args.path.resolve()
    try:
        assignment = args.assignment or guess_assignment(folder)
        report = check_folder(assignment, folder, tuple(args.only), args.part)
    except KeyError as error:
        print(f"labcheck: {error.args[0]}", file=sys.stderr)
        return 2
    print(format_report(assignment, report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0 if all(t["passed"] for t in report["tests"]) else 1


if __name__ == "__main__":
    sys.exit(main())
