"""The student kit: a pip-installable wheel (``labcheck``) that runs the public checks offline, with no
secret of the grading kit.

It ships the public part of the ``autograder`` package: the in-process runner (:mod:`autograder.selfcheck`),
the judges (``judges/``), the probes and the plain-data helpers they use, and per assignment the public
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autograder import config, reference, selfcheck
from autograder.release import ReleaseError
from autograder.tape import Tape

NAME = "labcheck"
VERSION = "1.0.0"
PACKAGE = Path(__file__).resolve().parent
SHIPPED = ("__init__.py", "selfcheck.py", "check_context.py", "tape.py", "data.py", "judges/*.py",
           "sandbox/__init__.py", "sandbox/fastdata.py", "sandbox/probing.py", "sandbox/wire.py", "graders/__init__.py")
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
    from autograder.judges import CheckFailed

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


# --------------------------------------------------------------------------------------------------------
# Answers given away: answer-key values, formulas and shapes in what students read
# --------------------------------------------------------------------------------------------------------

#: A run of digits, operators and brackets that may be a formula: "(5*5*3 + 1) * 32", "(28/7)^2", "4 x 4".
FORMULA = re.compile(r"[(\d][\d\s.()+\-*/×x^·]*[\d)]")
#: Words of a key's name that say what its small number counts ("16 patches", "params = 650").
NOUNS = {"patches": "patch(?:es)?", "tokens": "tokens?", "params": "param(?:eter)?s?", "weights": "weights?",
         "field": "(?:receptive )?field", "flatten": "flatten\\w*|values"}
CROSS = r"\s*[x×*]\s*"  # between the axes of a shape written "16 x 3 x 5 x 5"
HINT_SHARE = 0.5  # a hint holding more than this share of its region's names and numbers is the solution


@dataclass(frozen=True)
class Answer:
    """One answer-key value to look for: ``key`` and its pattern."""

    key: str
    pattern: re.Pattern


def _integer(value: int) -> str:
    """``value`` with or without thousands separators: 258058, 258,058, 258_058, 258 058."""
    digits = str(abs(value))
    groups = [digits[max(0, i - 3):i] for i in range(len(digits), 0, -3)][::-1]
    return r"[,_ \u202f]?".join(groups)


def answer_patterns(assignment: str) -> tuple[list[Answer], dict[str, set[float]]]:
    """What gives away the answers of ``assignment`` that the handout does not give (``given: true``):
    (patterns, key -> values a formula may evaluate to). A shape is found bracketed (tuple, list,
    torch.Size) or as "a x b x c", a spatial size (h, w) also after leading axes ((1, 10, h, w)); a size the
    prompts state as an input's (a 384 x 512 image) only after a channel axis of more than 3 (a filter
    bank's maps; not the colour image, nor a single response).
    An integer of four digits or more (not a power of ten) is found anywhere, a smaller one next to what
    the key counts ("16 patches", "params: 650")."""
    patterns, values = [], {}
    key_file = reference.answer_key(assignment)
    prompts = "\n".join(str(entry.get("prompt", "")) for entry in key_file.values())
    for key, entry in key_file.items():
        if entry.get("given"):
            continue
        answer = entry["answer"] if isinstance(entry["answer"], list) else [entry["answer"]]
        if len(answer) > 1:
            numbers = r"\s*,\s*".join(str(v) for v in answer)
            crossed = CROSS.join(str(v) for v in answer)
            leading = r"(?:-?\d+\s*,\s*)*" if len(answer) == 2 else ""
            shape = rf"[(\[]\s*{leading}{numbers}\s*,?\s*[)\]]|(?<![\d.]){crossed}(?![\d.])"
            if len(answer) == 2 and re.search(shape, prompts):
                shape = (rf"[(\[]\s*(?:-?\d+\s*,\s*)*(?![0-3]\s*,)\d+\s*,\s*{numbers}\s*[)\]]"
                         rf"|(?<![\d.])(?![0-3]\b)\d+{CROSS}{crossed}(?![\d.])")
            patterns.append(Answer(key, re.compile(shape)))
            continue
        value = answer[0]
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        values[key] = {float(value)}
        if abs(value) >= 1000 and abs(value) != 10 ** (len(str(abs(value))) - 1):
            patterns.append(Answer(key, re.compile(rf"(?<![\d.]){_integer(value)}(?![\d])")))
        nouns = "|".join(NOUNS[word] for word in key.split("_") if word in NOUNS)
        if nouns and abs(value) < 1000:
            patterns.append(Answer(key, re.compile(
                rf"(?i)(?<![\w.]){value}\s+(?:[a-z]+\s+)?(?:{nouns})\b|\b(?:{nouns})\W{{1,4}}(?:is\s+)?{value}(?![\d.])")))
    return patterns, values


def _evaluate(formula: str) -> set[float]:
    """The values of an arithmetic ``formula`` ("/" read as a division and as a floor division), none if it
    is no formula: a lone number, a lone product "a x b" (a size), unbalanced brackets."""
    text = formula.replace("×", "*").replace("x", "*").replace("·", "*").replace("^", "**")
    results = set()
    for variant in (text, text.replace("/", "//")):
        try:
            tree = ast.parse(variant.strip(), mode="eval")
        except SyntaxError:
            return set()
        operators = [node.op for node in ast.walk(tree) if isinstance(node, ast.BinOp)]
        if any(isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and not (
                isinstance(node.right, ast.Constant) and node.right.value <= 8) for node in ast.walk(tree)):
            return set()  # a power of more than a small constant exponent is no answer (and slow to evaluate)
        if not (len(operators) > 1 or operators and not isinstance(operators[0], ast.Mult)) or not all(
                isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.operator, ast.unaryop))
                for node in ast.walk(tree)):
            return set()
        try:
            results.add(float(eval(compile(tree, "<formula>", "eval"), {"__builtins__": {}})))  # numbers only
        except (ArithmeticError, ValueError, OverflowError):
            pass
    return results


def answer_leaks(assignment: str, text: str, name: str, own: str | None = None,
                 answers: tuple[list[Answer], dict[str, set[float]]] | None = None) -> list[str]:
    """``name:line: gives the answer of <key> (<what>)`` for each answer of ``assignment`` that ``text``
    states, as a value, a shape or a formula evaluating to it (ten or more). ``own``: the key whose prompt
    ``text`` is (its own statement of the question is not a leak of it)."""
    patterns, values = answers or answer_patterns(assignment)
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for answer in patterns:
            match = answer.pattern.search(line)
            if match and answer.key != own:
                found.append(f"{name}:{number}: gives the answer of {answer.key} ({match.group(0).strip()!r})")
        for match in FORMULA.finditer(line):
            results = _evaluate(match.group(0))
            found += [f"{name}:{number}: gives the answer of {key} (formula {match.group(0).strip()!r})"
                      for key, value in values.items() if key != own and results & value and max(value) >= 10]
    return found


def _code_words(text: str) -> list[str]:
    """The names and numbers of ``text``, Python keywords left out."""
    import keyword

    return [word for word in re.findall(r"[A-Za-z_]\w*|\d+(?:\.\d+)?", text) if not keyword.iskeyword(word)]


def hints_that_are_solutions(path: Path) -> list[str]:
    """``path:line: the hint holds N% of ...`` for each solution region whose hint (``# BEGIN SOLUTION:
    hint``) and enclosing docstring together hold most of the names (but its arguments') and numbers of the
    code they replace."""
    from collections import Counter

    from autograder import strip

    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    functions = [node for node in ast.walk(ast.parse(text)) if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    found = []
    for region in strip.strip_source(text, str(path))[1]:
        hint = strip.BEGIN.match(lines[region.begin - 1])["hint"] or ""
        enclosing = max((f for f in functions if f.lineno <= region.begin <= f.end_lineno), key=lambda f: f.lineno,
                        default=None)
        docstring = (ast.get_docstring(enclosing) or "") if enclosing else ""
        signature = ({a.arg for a in ast.walk(enclosing.args) if isinstance(a, ast.arg)}
                     if isinstance(enclosing, ast.FunctionDef) else set())
        code = Counter(word for word in _code_words("\n".join(line.split("#")[0] for line in region.body))
                       if word not in signature)  # the signature is in the template
        share = sum((code & Counter(_code_words(f"{hint}\n{docstring}"))).values()) / max(1, sum(code.values()))
        if share > HINT_SHARE:
            shown = path.relative_to(config.ROOT) if path.is_relative_to(config.ROOT) else path
            found.append(f"{shown}:{region.begin}: the hint and docstring hold {share:.0%} "
                         f"of the names and numbers of the code they replace ({hint!r})")
    return found


def student_facing(assignment: str) -> dict[str, tuple[str, dict[int, str | tuple[str, float]]]]:
    """What students read of ``assignment``, path -> (text, line -> the key a line is the prompt of, or
    (key, wrong value) for the feedback on that wrong answer): the template (docstrings, hints), statement,
    notebook source, the public checks and the probes (their feedback), and the answer key's prompts and
    feedback for wrong answers."""
    from autograder import release

    files = {f"student_template/{assignment}/{relative}": (text, {})
             for relative, text in release.template_files(assignment).items() if relative != "answers.yml"}
    for name in ("statement.md", "notebook.py"):
        path = release.ASSIGNMENTS / assignment / name
        if path.exists():
            files[path.relative_to(config.ROOT).as_posix()] = (path.read_text(encoding="utf-8"), {})
    hidden = {c.name.partition("[")[0] for c in config.load().assignment(assignment).checks
              if c.visibility == "hidden"} - {c.name.partition("[")[0] for c in
                                               config.load().assignment(assignment).checks if c.visibility == "public"}
    for path in sorted((config.GRADERS / assignment).glob("*.py")):
        if path.name.startswith("_"):
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.parse("\n".join(lines)).body:
            if isinstance(node, ast.FunctionDef) and node.name in hidden:
                lines[node.lineno - 1:node.end_lineno] = [""] * (node.end_lineno - node.lineno + 1)
        files[path.relative_to(config.ROOT).as_posix()] = ("\n".join(lines), {})
    key = reference.SOLUTIONS / assignment / "answers.yml"
    lines, owners, current = key.read_text(encoding="utf-8").splitlines(), {}, None
    for number, line in enumerate(lines, start=1):
        current = re.match(r"^(\w+):", line)[1] if re.match(r"^(\w+):", line) else current
        field = line.strip().partition(":")[0]
        if line.lstrip().startswith("#") or field in ("answer", "tolerance", "given", "question"):
            lines[number - 1] = ""
        elif field == "prompt" or not re.match(r"^\s+-?[\d.]+:", line):
            owners[number] = current  # the question as students read it (a prompt, or its continuation)
        else:
            wrong, _, lines[number - 1] = line.strip().partition(":")  # feedback for a wrong answer, without it
            owners[number] = (current, float(wrong))
    files[key.relative_to(config.ROOT).as_posix()] = ("\n".join(lines), owners)
    return files


def give_aways(assignment: str) -> list[str]:
    """Release gate: every answer of ``assignment`` (not ``given: true``) that a file students read
    states, and every hint that is its solution; ``file:line: ...`` each."""
    answers = answer_patterns(assignment)
    key = reference.answer_key(assignment)
    found = []
    for name, (text, owners) in student_facing(assignment).items():
        for number, line in enumerate(text.splitlines(), start=1):
            owner = owners.get(number)
            found += [f"{name}:{number}:{leak.split(':', 2)[2]}" for leak in
                      answer_leaks(assignment, line, name, owner if isinstance(owner, str) else None, answers)]
            if isinstance(owner, tuple):  # feedback on a wrong answer must not say what to add to it
                answer = key[owner[0]]["answer"]
                gap = abs(answer - owner[1]) if isinstance(answer, (int, float)) else None
                said = {float(n) for n in re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", line)}
                said |= {v for m in FORMULA.finditer(line) for v in _evaluate(m.group(0))}
                if gap and gap >= 10 and gap in said:  # not "off by one"
                    found.append(f"{name}:{number}: gives the answer of {owner[0]} (the wrong answer {owner[1]:g} "
                                 f"and the {gap:g} it lacks)")
    for path in sorted((reference.SOLUTIONS / assignment).glob("*.py")):
        found += hints_that_are_solutions(path)
    return found


def refuse_give_aways(assignment: str) -> None:
    """The release gate of :func:`give_aways`: a :class:`KitError` listing every finding."""
    found = give_aways(assignment)
    if found:
        raise KitError(f"{assignment}: students would read answers or solutions ({len(found)}); rewrite them, or "
                       "mark an answer the handout gives `given: true` in answers.yml:\n" + "\n".join(found))


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
    from autograder import strip, written

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
        answers = answer_patterns(assignment)
        model_answers = written.key_lines(assignment)
        others = [f"/{a}/" for a in assignments if a != assignment]
        for name, data in files.items():
            if any(other in name for other in others):
                continue
            for text in _texts(name, data):
                findings += strip.find_leaks(secrets, text, name)
                findings += [f"{name}: names the hidden check {check}" for check in sorted(hidden)
                             if re.search(rf"\b{check}\b", text)]
                findings += answer_leaks(assignment, text, name, answers=answers) if f"/{assignment}/" in name else []
                findings += [f"{name}: holds the model answer or rubric of written question {question}"
                             for question, line in model_answers if line in text]
    for name, data in files.items():
        text = data.decode("utf-8", "replace")
        findings += [f"{name}: mentions {word!r}" for word in ("_reference", "solutions/", "calibration") if word in text]
    return sorted(set(findings))
