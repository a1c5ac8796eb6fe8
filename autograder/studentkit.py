"""The student kit: a pip-installable wheel (``labcheck``) that runs the public checks offline, with no
secret of the grading kit.

It ships the public part of the ``autograder`` package: the in-process runner (:mod:`autograder.selfcheck`),
the judges (``checks/``), the probes and the plain-data helpers they use, and per assignment the public
check functions cut out of the graders' test files, ``public.json`` (ids, points, timeouts) and
``public_tape.zip``: the reference values of those checks recorded at release on their fixed public
inputs (:mod:`autograder.tape`). It holds no solution, no ``_reference`` module, no hidden check, no
threshold, no answer key, and pins no torch.

``build(out, assignments)`` records the tapes by running every public check on the reference solution
(each must pass), writes the wheel and returns its path.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import re
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from autograder import config, reference, selfcheck
from autograder.release import ReleaseError
from autograder.tape import Tape

NAME = "labcheck"
VERSION = "1.0.0"
PACKAGE = Path(__file__).resolve().parent
SHIPPED = ("__init__.py", "selfcheck.py", "tape.py", "data.py", "fastdata.py", "checks/*.py", "sandbox/__init__.py",
           "sandbox/probing.py", "sandbox/wire.py", "graders/__init__.py")
REQUIRES = ("numpy>=1.22", "pyyaml>=6", "pytest>=7", "torch>=2.1")
#: PyPI names of what the labs import under another name; what a notebook kernel already has is left out.
DISTRIBUTIONS = {"sklearn": "scikit-learn", "skimage": "scikit-image", "PIL": "pillow", "IPython": None,
                 "autograder": None, "otter": "otter-grader"}
#: Imports of a grader test (module, name) that bring the reference besides ``graders.<a>._reference``.
REFERENCE_IMPORTS = {("autograder", "reference")}


class KitError(ReleaseError):
    """The student kit cannot be built; the message names the file and what is wrong."""


def _is_reference_import(node: ast.stmt, assignment: str) -> str | None:
    """The global a reference import binds (``ref`` / ``reference``), None for any other statement."""
    if not isinstance(node, ast.ImportFrom):
        return None
    for alias in node.names:
        if (node.module, alias.name) == (f"autograder.graders.{assignment}", "_reference") or (
                (node.module, alias.name) in REFERENCE_IMPORTS):
            if len(node.names) != 1:
                raise KitError(f"import the reference on a line of its own ({ast.unparse(node)})")
            return alias.asname or alias.name
    return None


def public_tests(assignment: str, test_file: str, public: set[str]) -> str:
    """The source of grader test file ``test_file`` cut to its public checks: test functions with no
    public id are dropped, and each reference import becomes the replay of the recorded tape."""
    path = config.GRADERS / assignment / test_file
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    body: list[ast.stmt] = [ast.parse("from autograder.tape import replay").body[0]]
    for node in tree.body:
        bound = _is_reference_import(node, assignment)
        if bound is not None:
            if bound not in selfcheck.RECORDED:
                raise KitError(f"{path}:{node.lineno}: bind the reference as one of {selfcheck.RECORDED}")
            body.append(ast.parse(f"{bound} = replay({assignment!r}, {bound!r})").body[0])
            continue
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_") and not any(
                check_id.split("::")[1].partition("[")[0] == node.name for check_id in public):
            continue
        text = ast.unparse(node)
        if "_reference" in text or "SOLUTIONS" in text:
            raise KitError(f"{path}:{node.lineno}: reaches the reference other than through `ref` or `reference`")
        body.append(node)
    tree.body = _without_hidden_helpers(body)
    return f'"""Public checks of {assignment} ({test_file}), replaying the reference values recorded at release."""\n' \
        + ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def lab_requirements(assignment: str) -> list[str]:
    """What the lab's own code and notebook import from PyPI, unpinned and without torch (the student's
    own torch stays): the student folder's ``requirements.txt``."""
    sources = [*sorted((reference.SOLUTIONS / assignment).glob("*.py")),
               config.ROOT / "assignments" / assignment / "notebook.py"]
    local = {path.stem for path in sources}
    names: set[str] = set()
    for path in sources:
        names |= set(re.findall(r"^\s*(?:import|from)\s+(\w+)", path.read_text(encoding="utf-8"), re.MULTILINE))
    names -= local | set(sys.stdlib_module_names) | {"torch", "__future__"}
    names.add("otter")  # the notebook's grader.check cells are otter-grader's
    return sorted(DISTRIBUTIONS.get(name, name) for name in names if DISTRIBUTIONS.get(name, name))


def _names(statement: ast.stmt) -> set[str]:
    return {node.id for node in ast.walk(statement) if isinstance(node, ast.Name)}


def _without_hidden_helpers(body: list[ast.stmt]) -> list[ast.stmt]:
    """``body`` without the helpers and imported names that only hidden checks use."""
    definitions = {s.name: s for s in body if isinstance(s, (ast.FunctionDef, ast.ClassDef))}
    roots = [s for s in body if not isinstance(s, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))
             or getattr(s, "name", "").startswith("test_")]
    used: set[str] = set()
    pending = [name for statement in roots for name in _names(statement)]
    while pending:
        name = pending.pop()
        if name not in used:
            used.add(name)
            pending += _names(definitions[name]) if name in definitions else []
    body = [s for s in body if not isinstance(s, (ast.FunctionDef, ast.ClassDef)) or s.name in used
            or s.name.startswith("test_")]
    kept: list[ast.stmt] = []
    for statement in body:
        if isinstance(statement, (ast.Import, ast.ImportFrom)) and statement.names[0].name != "*":
            statement.names = [alias for alias in statement.names
                               if (alias.asname or alias.name).split(".")[0] in used
                               or getattr(statement, "module", None) == "__future__"]
            if not statement.names:
                continue
        kept.append(statement)
    return kept


def record(assignment: str) -> Tape:
    """Run every public check of ``assignment`` on the reference solution and record its reference calls."""
    from autograder.checks import CheckFailed

    tape = Tape()
    for entry in selfcheck.assignment_info(assignment)["checks"]:
        try:
            selfcheck.run_check(assignment, entry["id"], folder=reference.SOLUTIONS / assignment, tape=tape)
        except CheckFailed as error:
            raise KitError(f"{assignment}: the reference solution fails the public check {entry['id']} "
                           f"in-process: {error}") from None
    return tape


def package_files(assignments: list[str]) -> dict[str, bytes]:
    """Path inside the wheel → content, for the assignments given."""
    files: dict[str, bytes] = {}
    for pattern in SHIPPED:
        for path in sorted(PACKAGE.glob(pattern)):
            files[f"autograder/{path.relative_to(PACKAGE).as_posix()}"] = path.read_bytes()
    for assignment in assignments:
        info = selfcheck.assignment_info(assignment)
        folder = f"autograder/graders/{assignment}"
        for name in ("__init__.py", "probes.py"):
            files[f"{folder}/{name}"] = (config.GRADERS / assignment / name).read_bytes()
        public = {c["id"] for c in info["checks"]}
        for test_file in sorted({check_id.split("::")[0] for check_id in public}):
            files[f"{folder}/{test_file}"] = public_tests(assignment, test_file, public).encode()
        files[f"{folder}/{selfcheck.PUBLIC}"] = json.dumps(info, indent=1).encode()
        with tempfile.TemporaryDirectory() as scratch:
            tape = record(assignment).save(Path(scratch) / "tape.zip")
            files[f"{folder}/public_tape.zip"] = tape.read_bytes()
    return files


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_wheel(files: dict[str, bytes], out: Path) -> Path:
    """A pure-Python wheel of ``files`` (py3-none-any) with the ``labcheck`` command."""
    info = f"{NAME}-{VERSION}.dist-info"
    metadata = "\n".join([
        "Metadata-Version: 2.1", f"Name: {NAME}", f"Version: {VERSION}",
        "Summary: Public self-checks of the labs of 'Basics on deep learning for vision' (offline, no secrets)",
        "Requires-Python: >=3.10", *(f"Requires-Dist: {r}" for r in REQUIRES), ""])
    files = {**files, f"{info}/METADATA": metadata.encode(),
             f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: autograder\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
             f"{info}/entry_points.txt": f"[console_scripts]\n{NAME} = autograder.selfcheck:main\n".encode()}
    record = [_record_line(name, data) for name, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files.items():
            entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(entry, data)
    return target


def build(out: Path, assignments: list[str]) -> Path:
    """Record, cut and package the public checks of ``assignments`` into ``out/labcheck-*.whl``."""
    return write_wheel(package_files(assignments), Path(out))


def _answer_patterns(assignment: str) -> list[tuple[str, re.Pattern]]:
    """(key, pattern) of every answer-key value not given by the handout (``given: true``): integers of
    four digits or more (but powers of ten) with or without thousands separators, and shapes."""
    patterns = []
    for name, entry in reference.answer_key(assignment).items():
        if entry.get("given"):
            continue
        values = entry["answer"] if isinstance(entry["answer"], list) else [entry["answer"]]
        if len(values) > 1 and all(isinstance(v, int) for v in values):
            patterns.append((name, re.compile(r"[(\[]\s*" + r"\s*,\s*".join(str(v) for v in values) + r"\s*[)\],]")))
        for value in values if len(values) == 1 else ():
            if isinstance(value, int) and abs(value) >= 1000 and abs(value) != 10 ** (len(str(abs(value))) - 1):
                digits = str(abs(value))
                groups = [digits[max(0, i - 3):i] for i in range(len(digits), 0, -3)][::-1]
                separated = r"[,_ \u202f]?".join(groups)
                patterns.append((name, re.compile(rf"(?<![\d.]){separated}(?![\d])")))
    return patterns


def _texts(name: str, data: bytes) -> list[str]:
    """What a scan reads of a file: its text; for a tape, its JSON and every number of its arrays."""
    if not name.endswith("public_tape.zip"):
        return [data.decode("utf-8", "replace")]
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "tape.zip"
        path.write_bytes(data)
        tape = Tape.load(path)
    numbers: list[str] = []

    def walk(value) -> None:
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "iu" or (value.dtype.kind == "f" and value.size <= 64):
                numbers.append(repr([float(v) if v % 1 else int(v) for v in value.ravel().tolist()]))
            if value.ndim and value.dtype.kind in "iuf" and np.all(value == np.round(value)):
                numbers.append(repr(tuple(int(v) for v in value.ravel()[:8])))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            numbers.append(repr(value) if all(isinstance(v, (int, float)) for v in value) else "")
            for item in value:
                walk(item)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            numbers.append(repr(int(value) if float(value).is_integer() else value))

    walk([call["result"] for call in tape.calls])
    walk(list(tape.constants.values()))
    return ["\n".join(numbers)]


def scan(files: dict[str, bytes], assignments: list[str]) -> list[str]:
    """Every secret of the grading kit found in ``files`` (path → content): solution lines (but those the
    engine itself uses), answer-key values the handout does not give (in the files of an assignment), the reference
    module, the solutions, hidden checks. Files under ``graders/<a>/`` are read for the secrets of ``a``, the
    others for all."""
    from autograder import strip

    grading = config.load()
    engine = {line.strip() for path in PACKAGE.rglob("*.py") if "graders" not in path.parts
              for line in path.read_text(encoding="utf-8").splitlines()}
    engine |= {line.strip() for path in config.GRADERS.glob("*/probes.py")
               for line in path.read_text(encoding="utf-8").splitlines()}
    findings: list[str] = []
    for assignment in assignments:
        secrets: set[str] = set()
        for path in sorted((reference.SOLUTIONS / assignment).glob("*.py")):
            secrets |= strip.solution_lines(strip.strip_source(path.read_text(encoding="utf-8"), str(path))[1])
        secrets = {line for line in secrets if line.strip() not in engine}
        checks = grading.assignment(assignment).checks
        public = {c.name.partition("[")[0] for c in checks if c.visibility == "public"}
        hidden = {c.name.partition("[")[0] for c in checks if c.visibility == "hidden"} - public
        answers = _answer_patterns(assignment)
        others = [f"/{a}/" for a in assignments if a != assignment]
        for name, data in files.items():
            if any(other in name for other in others):
                continue
            for text in _texts(name, data):
                findings += strip.find_leaks(secrets, text, name)
                findings += [f"{name}: names the hidden check {check}" for check in sorted(hidden)
                             if re.search(rf"\b{check}\b", text)]
                findings += [f"{name}: holds the answer of {key} ({pattern.pattern})" for key, pattern in answers
                             if f"/{assignment}/" in name and pattern.search(text)]
    for name, data in files.items():
        text = data.decode("utf-8", "replace")
        findings += [f"{name}: mentions {word!r}" for word in ("_reference", "solutions/", "calibration") if word in text]
    return sorted(set(findings))
