"""Hand-graded written answers: the staff key, each student's answers, the export, the scores given.

- **Key** (grading kit only): ``solutions/<a>/written.yml`` maps each hand-graded question of the notebook
  (its otter name: ``q4``, ``task1_3``...) to ``points``, ``asks`` (words of the question, so that a changed
  question shows), a ``model`` answer and a ``rubric`` (items with points summing to ``points``; 0 for an ungraded
  bonus).
- **Answers**: read from the student's notebook (the ``.ipynb`` of a submission folder or zip, never run):
  the cells between the question's ``<!-- BEGIN QUESTION -->`` cell and its ``<!-- END QUESTION -->``
  (otter's markers), i.e. the answer cell and any cell the student added there.
- **Export** (:func:`export`): ``OUT/written.<question>.html`` (every student's answer beside the model
  answer and rubric), ``OUT/written.html`` (the index), ``OUT/written.csv`` (student, question, answer)
  and, with ``pdf``, otter's filtered PDF of each notebook, ``OUT/<student's folder>/written.pdf`` (one
  question per page, for Gradescope's manual grading). Class files have a dot in their names, submission
  folders never (:func:`autograder.submissions.folder_name`): they cannot collide.
- **Scores**: staff fill ``OUT/written_scores.csv`` (one row per submission, one column per question;
  the export creates it and keeps what is filled); ``grades.csv`` shows them as ``written:<question>``.
"""

from __future__ import annotations

import csv
import html
import math
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

from autograder import config, results
from autograder.notebooks import RESPONSE
from autograder.report import STYLE as REPORT_STYLE
from autograder.submissions import SubmissionError, copy_tree, discover, extract_zip

KEY_FILE = "written.yml"
SCORES_FILE = "written_scores.csv"
COLUMN = "written:"  # prefix of the per-question columns of grades.csv
BEGIN, END = "<!-- BEGIN QUESTION -->", "<!-- END QUESTION -->"
BASE64 = re.compile(r"[A-Za-z0-9+/=\s]+")
MAX_ANSWER_CHARS = 20_000  # of one answer's text; longer ones are cut, saying so
MAX_FIGURES, MAX_FIGURE_CHARS = 6, 3_000_000  # PNGs kept per answer, and their size in base64
PDF_TIMEOUT = 300


class WrittenError(ValueError):
    """A key, a scores file or an export that cannot be used; the message names the file and the fault."""


@dataclass(frozen=True)
class Question:
    """A hand-graded question of the notebook: its otter name, the prompt cell of its answer and the
    question's text (the prompt, or for a heading that asks for an answer, its section)."""

    name: str
    prompt: str
    text: str


@dataclass(frozen=True)
class Entry:
    """The staff key of one question."""

    name: str
    points: float
    asks: str
    model: str
    rubric: tuple[tuple[float, str], ...]


@dataclass
class Answer:
    """What a student wrote for one question: Markdown and code sources, PNG figures (base64)."""

    text: str = ""
    images: list[str] = field(default_factory=list)


HEADING_PROMPT = "— your answer:"  # how notebooks.py closes a heading that asks for an answer
HEADING = re.compile(r"(\s*---\s*)*#")


def questions(assignment: str) -> list[Question]:
    """The hand-graded (otter ``manual``) questions of the assignment's notebook, in order."""
    from autograder import notebooks

    cells = notebooks.master(assignment).cells
    found, section = [], []
    for index, cell in enumerate(cells):
        opens = index and cells[index - 1].cell_type == "raw" and cells[index - 1].source.startswith("# BEGIN")
        if cell.cell_type == "markdown" and not opens:  # not a question's prompt or answer cell
            section = [] if HEADING.match(cell.source) else section
            section.append(cell.source.strip())
        if cell.cell_type == "raw" and cell.source.startswith("# BEGIN QUESTION") and "manual: true" in cell.source:
            name = re.search(r"^name: (\S+)$", cell.source, re.MULTILINE).group(1)
            prompt = cells[index + 1].source.strip()
            found.append(Question(name, prompt, "\n\n".join(section) if prompt.endswith(HEADING_PROMPT) else prompt))
    return found


def key_path(assignment: str) -> Path:
    return config.ROOT / "solutions" / assignment / KEY_FILE


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def load_key(assignment: str) -> dict[str, Entry]:
    """The key of ``assignment`` (question name -> entry, in file order); {} when the kit has none (the
    student kit)."""
    path = key_path(assignment)
    return read_key(path) if path.is_file() else {}


def read_key(path: Path) -> dict[str, Entry]:
    """A key file; a malformed entry is a :class:`WrittenError` naming the file and the question."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise WrittenError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise WrittenError(f"{path}: expected a mapping of question names to entries")
    key = {}
    for name, entry in document.items():
        where = f"{path}: {name}"
        if not isinstance(entry, dict) or set(entry) != {"points", "asks", "model", "rubric"}:
            raise WrittenError(f"{where}: expected exactly the keys points, asks, model, rubric")
        if not _number(entry["points"]) or entry["points"] < 0:
            raise WrittenError(f"{where}: points must be a number >= 0 (0: a bonus, not graded)")
        if not all(isinstance(entry[k], str) and entry[k].strip() for k in ("asks", "model")):
            raise WrittenError(f"{where}: asks and model must be non-empty text")
        rubric = entry["rubric"]
        if not isinstance(rubric, list) or not rubric or not all(
                isinstance(item, dict) and set(item) == {"points", "item"} and _number(item["points"])
                and item["points"] >= 0 and isinstance(item["item"], str) for item in rubric):
            raise WrittenError(f"{where}: rubric must be a list of {{points: <number >= 0>, item: <text>}}")
        total = sum(item["points"] for item in rubric)
        if not math.isclose(total, entry["points"]):
            raise WrittenError(f"{where}: the rubric's points sum to {total:g}, not to the question's {entry['points']:g}")
        key[str(name)] = Entry(str(name), float(entry["points"]), entry["asks"].strip(), entry["model"].strip(),
                               tuple((float(item["points"]), item["item"].strip()) for item in rubric))
    return key


def key_problems(assignment: str) -> list[str]:
    """Why the key does not match the notebook's hand-graded questions (empty when it does): a question
    without an entry, an entry for no question, an entry whose ``asks`` is not in its question's prompt,
    entries in another order than the notebook's."""
    key, asked = load_key(assignment), questions(assignment)
    names = [q.name for q in asked]
    problems = [f"{key_path(assignment)}: no entry for question {q.name} ({q.text[:80]!r})"
                for q in asked if q.name not in key]
    problems += [f"{key_path(assignment)}: entry {name} matches no hand-graded question of the notebook"
                 for name in key if name not in names]
    flat = {q.name: " ".join(q.text.split()) for q in asked}
    problems += [f"{key_path(assignment)}: {name}: the question no longer asks {entry.asks!r}; review its model "
                 f"answer and rubric, then update asks" for name, entry in key.items()
                 if name in flat and " ".join(entry.asks.split()) not in flat[name]]
    if not problems and list(key) != names:  # the order of the export's pages and score columns
        problems.append(f"{key_path(assignment)}: entries in the notebook's order, please: {', '.join(names)}")
    return problems


def key_lines(assignment: str, shortest: int = 30) -> list[tuple[str, str]]:
    """(question, line) for every line of a model answer and every rubric item at least ``shortest``
    characters long: what the student kit's leak gate (:func:`autograder.studentkit.scan`) looks for."""
    return [(name, line) for name, entry in load_key(assignment).items()
            for line in [*(x.strip() for x in entry.model.splitlines()), *(item for _, item in entry.rubric)]
            if len(line) >= shortest]


# --------------------------------------------------------------------------------------------------------
# The students' answers
# --------------------------------------------------------------------------------------------------------

def notebook_answers(text: str, asked: list[Question]) -> dict[str, Answer]:
    """Answers found in a student notebook's JSON ``text``: each ``BEGIN QUESTION`` cell is matched to the
    question with the same prompt, else to the question at the same position."""
    notebook = nbformat.reads(text, as_version=4)
    by_prompt = {" ".join(q.prompt.split()): q.name for q in asked}
    answers: dict[str, Answer] = {}
    current: Answer | None = None
    position = 0
    for cell in notebook.cells:
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if current is not None and END in source:
            current = None
        if BEGIN in source:
            prompt = " ".join(source.split(BEGIN, 1)[1].split())
            name = by_prompt.get(prompt) or (asked[position].name if position < len(asked) else None)
            position += 1
            current = answers.setdefault(name, Answer()) if name else None
            continue
        if current is None:
            continue
        if cell.get("cell_type") == "code":
            if source.strip():
                current.text += f"\n\n```python\n{source.strip()}\n```"
            for output in cell.get("outputs", []):
                png = output.get("data", {}).get("image/png") if isinstance(output, dict) else None
                png = "".join(png) if isinstance(png, list) else png
                if isinstance(png, str) and len(png) <= MAX_FIGURE_CHARS and BASE64.fullmatch(png) \
                        and len(current.images) < MAX_FIGURES:
                    current.images.append("".join(png.split()))
        elif source.strip() and source.strip() != RESPONSE:
            current.text += "\n\n" + source.strip()
    for answer in answers.values():
        answer.text = results.shorten(answer.text.strip(), MAX_ANSWER_CHARS)
    return answers


def find_notebook(folder: Path, assignment: str) -> Path:
    """The student's notebook in an unpacked submission: ``<assignment>.ipynb``, else the only notebook with
    otter's question markers."""
    notebooks = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and p.is_file())
    named = [p for p in notebooks if p.name == f"{assignment}.ipynb"]
    if named:
        return min(named, key=lambda p: len(p.parts))
    marked = [p for p in notebooks if BEGIN in p.read_text(encoding="utf-8", errors="replace")]
    if len(marked) == 1:
        return marked[0]
    found = ", ".join(p.name for p in notebooks) or "none"
    raise WrittenError(f"no notebook {assignment}.ipynb with the written answers (notebooks found: {found})")


def submission_answers(path: Path, assignment: str, asked: list[Question],
                       scratch: Path) -> tuple[dict[str, Answer], Path | None, str]:
    """(answers, the notebook copied under ``scratch``, problem) of one submission (a folder, a zip or a
    notebook); a submission without a readable notebook gets no answers, no notebook and the problem."""
    try:
        if path.is_symlink():
            raise WrittenError(f"{path.name} is a symbolic link")
        if path.is_dir():
            copy_tree(path, scratch / "submission")
            notebook = find_notebook(scratch / "submission", assignment)
        elif path.suffix.lower() == ".ipynb":
            notebook = scratch / f"{assignment}.ipynb"
            shutil.copyfile(path, notebook)
        else:
            extract_zip(path, scratch / "submission")
            notebook = find_notebook(scratch / "submission", assignment)
        return notebook_answers(notebook.read_text(encoding="utf-8"), asked), notebook, ""
    except (WrittenError, SubmissionError) as error:
        return {}, None, str(error)
    except (UnicodeDecodeError, ValueError, KeyError, AttributeError, TypeError) as error:
        return {}, None, f"the notebook cannot be read: {type(error).__name__}: {str(error)[:200]}"


# --------------------------------------------------------------------------------------------------------
# Scores given by staff
# --------------------------------------------------------------------------------------------------------

def read_scores(out: Path, key: dict[str, Entry]) -> dict[str, dict[str, float]]:
    """``out/written_scores.csv`` as submission -> question -> points given (empty cells left out); {} when
    there is no such file. A column for no question of ``key`` or a score outside [0, points] is an error."""
    path = out / SCORES_FILE
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows or rows[0][:1] != ["submission"]:
        raise WrittenError(f"{path}: the first column must be 'submission'")
    header = rows[0][1:]
    unknown = [name for name in header if name not in key]
    if unknown:
        raise WrittenError(f"{path}: column {unknown[0]!r} is no hand-graded question (expected: "
                           f"{', '.join(key)})")
    scores: dict[str, dict[str, float]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        student, cells = _uncell(row[0]), row[1:]
        given = {}
        for name, text in zip(header, cells):
            if not text.strip():
                continue
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not (math.isfinite(value) and 0 <= value <= key[name].points):
                raise WrittenError(f"{path}:{line}: {student} {name}: {text!r} is not a score between 0 and "
                                   f"{key[name].points:g}")
            given[name] = value
        scores[student] = given
    return scores


def grade_columns(out: Path, assignments: list[str]) -> dict[str, dict[str, str]]:
    """The written columns of ``out/grades.csv``: ``written:<question>`` -> submission -> points given ("" until
    filled), for the questions of the keys of ``assignments``."""
    key = {name: entry for assignment in assignments if re.fullmatch(r"\w+", assignment)  # a record's, as read
           for name, entry in load_key(assignment).items()}
    given = read_scores(out, key)
    return {COLUMN + name: {student: f"{scores[name]:g}" for student, scores in given.items() if name in scores}
            for name in key}


def _uncell(text: str) -> str:
    """A submission name as :func:`results.cell` wrote it, back."""
    return text[1:] if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@", "\t", "\r") else text


def write_scores(out: Path, key: dict[str, Entry], students: list[str]) -> Path:
    """``out/written_scores.csv`` with a row per student and a column per question of ``key``, keeping
    every score already filled in (and the rows of students not listed)."""
    filled = read_scores(out, key)
    names = list(key)
    path = out / SCORES_FILE
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", *names])
        for student in sorted(set(students) | set(filled)):
            given = filled.get(student, {})
            writer.writerow([results.cell(student), *(f"{given[n]:g}" if n in given else "" for n in names)])
    return path


# --------------------------------------------------------------------------------------------------------
# The export
# --------------------------------------------------------------------------------------------------------

STYLE = """.answer{background:#fafafa;border-left:3px solid #888;padding:.5rem}.model{background:#eef6ee;padding:.5rem}
h2{margin-top:2rem}"""


def _answered(answer: Answer | None) -> bool:
    return bool(answer and (answer.text or answer.images))


def _block(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


def question_page(assignment: str, question: Question, entry: Entry, answers: dict[str, Answer | None]) -> str:
    """One question: the prompt, the model answer and rubric, then every student's answer (all escaped)."""
    rubric = "".join(f"<tr><td>{points:g}</td><td>{html.escape(item)}</td></tr>" for points, item in entry.rubric)
    parts = [(f"<!doctype html><meta charset=utf-8><title>{html.escape(question.name)}</title>"
              f"<style>{REPORT_STYLE}{STYLE}</style><p><a href=written.html>all questions</a></p>"
              f"<h1>{html.escape(assignment)} — {html.escape(question.name)} ({entry.points:g} pt)</h1>"),
             f"<h2>Question</h2>{_block(question.text)}",
             f"<h2>Model answer</h2><div class=model>{_block(entry.model)}</div>",
             f"<h2>Rubric</h2><table><tr><th>points</th><th>item</th></tr>{rubric}</table>",
             f"<h2>Answers ({sum(map(_answered, answers.values()))} of {len(answers)})</h2>"]
    for student, answer in sorted(answers.items()):
        if answer is None:
            body = "<p class=fail>no notebook could be read (see written.html)</p>"
        elif not _answered(answer):
            body = "<p class=fail>no answer</p>"
        else:
            body = _block(answer.text) + "".join(f'<img alt="figure" src="data:image/png;base64,{png}">'
                                                 for png in answer.images)
        parts.append(f"<h3>{html.escape(student)}</h3><div class=answer>{body}</div>")
    return "".join(parts)


def _pdf_exporter() -> str | None:
    """otter's PDF route usable here: "latex" (xelatex and pandoc), else "html" (nbconvert's WebPDF: the
    playwright package, and its Chromium from ``playwright install chromium``), else None."""
    if shutil.which("xelatex") and shutil.which("pandoc"):
        return "latex"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as driver:
        return "html" if Path(driver.chromium.executable_path).is_file() else None


def export_pdf(notebook: Path, target: Path, exporter: str) -> str:
    """otter's filtered PDF of ``notebook`` (the question cells only, a page break between questions: the
    layout Gradescope's manual grading expects) at ``target``; returns why it failed, or ""."""
    command = [sys.executable, "-m", "otter", "export", "--filtering", "--pagebreaks", "-e", exporter,
               str(notebook), str(target)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PDF_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return f"otter export took over {PDF_TIMEOUT} s"
    if done.returncode or not target.is_file():
        return (done.stderr.strip().splitlines() or ["otter export failed"])[-1]
    return ""


def export(paths: list[Path], assignment: str, out: Path, pdf: bool = False) -> dict[str, str]:
    """Export the written answers of the submissions at ``paths`` (folders, zips, or folders of them, as
    ``autograder grade`` finds them) into ``out`` (see the module's docstring) and create or update
    ``out/written_scores.csv``; returns student -> problem for the submissions whose notebook could not be
    read (or whose PDF could not be written)."""
    key, asked = load_key(assignment), questions(assignment)
    if not key:
        raise WrittenError(f"{key_path(assignment)}: no key of the written answers (the grading kit has one)")
    problems = key_problems(assignment)
    if problems:
        raise WrittenError("\n".join(problems))
    exporter = _pdf_exporter() if pdf else None
    if pdf and exporter is None:
        raise WrittenError("PDF export needs otter's LaTeX route (xelatex and pandoc: Debian's texlive-xetex and "
                           "pandoc) or its HTML route (pip's playwright, then `playwright install chromium`); neither "
                           "is installed here")
    out.mkdir(parents=True, exist_ok=True)
    answers: dict[str, dict[str, Answer]] = {}
    failed: dict[str, str] = {}
    for submission in discover(paths, assignment):
        with tempfile.TemporaryDirectory(prefix="autograder-written-") as scratch:
            found, notebook, problem = submission_answers(submission.path, assignment, asked, Path(scratch))
            if problem:
                failed[submission.name] = problem
                continue
            answers[submission.name] = found
            if exporter is not None:
                (out / submission.folder).mkdir(exist_ok=True)
                why = export_pdf(notebook, out / submission.folder / "written.pdf", exporter)
                if why:
                    failed[submission.name] = f"PDF: {why}"
    students = sorted(set(answers) | set(failed))
    for question in asked:
        page = question_page(assignment, question, key[question.name],
                             {s: answers[s].get(question.name, Answer()) if s in answers else None for s in students})
        (out / f"written.{question.name}.html").write_text(page, encoding="utf-8")
    with open(out / "written.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "question", "points", "answer"])
        for student in sorted(answers):
            for question in asked:
                text = answers[student].get(question.name, Answer()).text
                writer.writerow([results.cell(student), question.name, f"{key[question.name].points:g}", results.cell(text)])
    rows = "".join(f"<tr><td><a href='written.{q.name}.html'>{html.escape(q.name)}</a></td><td>{key[q.name].points:g}</td>"
                   f"<td>{sum(_answered(a.get(q.name)) for a in answers.values())}</td>"
                   f"<td>{html.escape(q.text[:120])}</td></tr>" for q in asked)
    broken = "".join(f"<li>{html.escape(s)}: {html.escape(why)}</li>" for s, why in sorted(failed.items()))
    (out / "written.html").write_text(
        f"<!doctype html><meta charset=utf-8><title>written answers</title><style>{REPORT_STYLE}</style>"
        f"<h1>{html.escape(assignment)}: written answers of {len(students)} submissions</h1>"
        f"<p>Scores go in <code>{SCORES_FILE}</code> beside this page.</p>"
        + (f"<p class=fail>Problems:</p><ul>{broken}</ul>" if broken else "")
        + f"<table><tr><th>question</th><th>points</th><th>answered</th><th>asks</th></tr>{rows}</table>",
        encoding="utf-8")
    write_scores(out, key, students)
    return failed
