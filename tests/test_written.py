"""Hand-graded written answers: a key entry (model answer, rubric) for every written question of every
notebook, the export of a class's answers per question (HTML beside the key, written.csv, optional PDF)
and the staff's scores read back into grades.csv.

Cost: the key checks build the master notebooks (~0.3 s each); the export test runs ``otter assign`` on
the tp3_vit notebook once (~4 s; none when the session built the release bundle) and fills in its answer
cells; the PDF test asks playwright for its Chromium
(~2 s) and is skipped without it; nothing trains. About 9 s in all.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import cli, config, notebooks, otter_runs, results, written

ASSIGNMENTS = [a for a in config.load().assignments if (notebooks.ASSIGNMENTS / a / "notebook.py").is_file()]
ASSIGNMENT = "tp3_vit"  # the fewest written questions: the cheapest notebook to assign
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n a figure").decode()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_hand_graded_question_has_a_key_entry(assignment):
    """Each written question of the notebook has a model answer and a rubric, no entry is stale, and no
    question changed since its model answer was written (``asks`` still in the prompt)."""
    assert written.key_problems(assignment) == []
    key = written.load_key(assignment)
    assert key and all(entry.model and entry.rubric for entry in key.values())


def test_key_problems_name_missing_stale_and_changed_questions(monkeypatch):
    asked = written.questions(ASSIGNMENT)
    new, reworded = "**Question 9** (written answer). A new question.", "**Question 1** (written answer). Reworded."
    changed = [written.Question("q_new", new, new), written.Question(asked[0].name, reworded, reworded), *asked[2:]]
    monkeypatch.setattr(written, "questions", lambda assignment: changed)
    problems = "\n".join(written.key_problems(ASSIGNMENT))
    assert "no entry for question q_new" in problems
    assert f"entry {asked[1].name} matches no hand-graded question" in problems
    assert f"{asked[0].name}: the question no longer asks" in problems


@pytest.mark.parametrize("text, message", [
    ("q1: [1, 2]\n", "expected exactly the keys points, asks, model, rubric"),
    ("q1: {points: 2, asks: a, model: m, rubric: [{points: 1, item: x}]}\n", "sum to 1, not to the question's 2"),
    ("q1: {points: -1, asks: a, model: m, rubric: [{points: 1, item: x}]}\n", "points must be a number >= 0"),
    ("q1: {points: 1, asks: '', model: m, rubric: [{points: 1, item: x}]}\n", "asks and model must be non-empty"),
    ("q1: {points: 1, asks: a, model: m, rubric: [{item: x}]}\n", "rubric must be a list"),
    ("q1: {points: 1\n", "not valid YAML"),
])
def test_malformed_keys_are_refused_naming_the_file_and_question(tmp_path, text, message):
    path = tmp_path / written.KEY_FILE
    path.write_text(text)
    with pytest.raises(written.WrittenError, match=message) as error:
        written.read_key(path)
    assert str(path) in str(error.value)


@pytest.fixture(scope="module")
def student_notebook(tmp_path_factory) -> Path:
    """The student notebook of tp3_vit as ``otter assign`` writes it (what students fill in): the release
    bundle's when tests/test_notebooks.py built it in this session, else assigned here."""
    built = Path(os.environ.get("AUTOGRADER_TEST_BUNDLE", "")) / ASSIGNMENT / "student" / f"{ASSIGNMENT}.ipynb"
    if os.environ.get("AUTOGRADER_TEST_BUNDLE") and built.is_file():
        return built
    folder = tmp_path_factory.mktemp("written-master")
    _, student = otter_runs.otter_assign(notebooks.write_master(ASSIGNMENT, folder), folder / "assigned")
    return student / f"{ASSIGNMENT}.ipynb"


def _filled(notebook: Path, texts: list[str | None], figure_after: int | None = None) -> str:
    """The notebook with the i-th answer cell holding ``texts[i]`` (None: left untouched), and a code cell
    with a figure (and a forged non-base64 image) added after answer ``figure_after``."""
    document = nbformat.read(notebook, as_version=4)
    answer_cells = [c for c in document.cells if "otter_answer_cell" in c.metadata.get("tags", [])]
    assert len(answer_cells) == len(texts)
    for cell, text in zip(answer_cells, texts):
        if text is not None:
            cell.source = text
    if figure_after is not None:
        figure = nbformat.v4.new_code_cell("plt.plot(history['test_acc'])")
        figure.outputs = [nbformat.v4.new_output("display_data", data={"image/png": PNG}),
                          nbformat.v4.new_output("display_data", data={"image/png": '" onerror="alert(1)'})]
        document.cells.insert(document.cells.index(answer_cells[figure_after]) + 1, figure)
    return nbformat.writes(document)


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_export_shows_every_answer_beside_the_key_and_scores_reach_grades_csv(student_notebook, tmp_path):
    asked = written.questions(ASSIGNMENT)
    names = [q.name for q in asked]
    hostile = '=HYPERLINK("http://x")\n<script>alert(1)</script> Attention is global, O(N²).'
    classroom = tmp_path / "class"
    alice = classroom / "alice"
    alice.mkdir(parents=True)
    (alice / f"{ASSIGNMENT}.ipynb").write_text(_filled(student_notebook, [hostile, "A learned token.", *[None] * (len(names) - 2)], 1))
    (alice / "attention.py").write_text("")
    with zipfile.ZipFile(classroom / "bob.zip", "w") as bundle:  # the export zip, inside one sub-folder
        bundle.writestr(f"bob/{ASSIGNMENT}.ipynb", _filled(student_notebook, [f"Bob on {n}" for n in names]))
        bundle.writestr("bob/attention.py", "")
    dan = classroom / "<b>dan"
    dan.mkdir()
    older = _filled(student_notebook, ["Dan's answer", *[None] * (len(names) - 1)])  # from an older handout:
    (dan / "mine.ipynb").write_text(older.replace("**Question 1**", "**Question 1 (2024)**", 1))  # by position
    (dan / "attention.py").write_text("")
    (classroom / "=carol").mkdir()
    (classroom / "=carol" / "attention.py").write_text("")  # no notebook; a name a spreadsheet would run
    out = tmp_path / "graded"

    assert cli.main(["written", str(classroom), "--assignment", ASSIGNMENT, "--out", str(out)]) == 0
    key = written.load_key(ASSIGNMENT)
    first = (out / f"written.{names[0]}.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in first and "<script>" not in first
    assert "&lt;b&gt;dan" in first and "<b>dan" not in first
    assert key[names[0]].model.split("\n")[0][:40] in first.replace("&#x27;", "'")
    assert all(item[:30] in first for _, item in key[names[0]].rubric)
    assert "Bob on " + names[0] in first and "Dan&#x27;s answer" in first and "no notebook could be read" in first
    assert "no answer" in (out / f"written.{names[2]}.html").read_text()
    second = (out / f"written.{names[1]}.html").read_text()
    assert second.count("data:image/png;base64,") == 1 and f"base64,{PNG}" in second and "onerror" not in second
    index = (out / "written.html").read_text()
    assert "=carol" in index and "no notebook" in index
    assert all(f"href='written.{n}.html'" in index for n in names)

    rows = _rows(out / "written.csv")
    assert rows[0] == ["student", "question", "points", "answer"]
    answers = {(r[0], r[1]): r[3] for r in rows[1:]}
    assert answers[("alice", names[0])] == "'" + hostile
    assert answers[("alice", names[1])] == "A learned token.\n\n```python\nplt.plot(history['test_acc'])\n```"
    assert answers[("alice", names[2])] == "" and answers[("bob", names[5])] == f"Bob on {names[5]}"
    assert answers[("<b>dan", names[0])] == "Dan's answer" and answers[("<b>dan", names[1])] == ""
    assert not any("carol" in s for s, _ in answers)

    scores = out / written.SCORES_FILE
    assert _rows(scores)[0] == ["submission", *names]
    assert {r[0] for r in _rows(scores)[1:]} == {"alice", "bob", "<b>dan", "'=carol"}
    scores.write_text(f"submission,{names[0]},{names[1]}\nalice,2,\nbob,1.5,0.5\n'=carol,0,\n")
    assert cli.main(["written", str(classroom), "--assignment", ASSIGNMENT, "--out", str(out)]) == 0
    kept = {r[0]: r[1:] for r in _rows(scores)[1:]}
    assert kept["alice"][:2] == ["2", ""] and kept["bob"][:2] == ["1.5", "0.5"] and kept["'=carol"][:2] == ["0", ""]

    graded = {name: results.build(ASSIGNMENT, "t", [], "cpu", {}, seed=0, seconds=0.0) for name in ("alice", "bob", "=carol")}
    results.write_grades_csv(out / "grades.csv", graded | {"broken": {"score": "NaN"}})
    table = _rows(out / "grades.csv")
    columns = [f"written:{n}" for n in names]
    assert table[0][-len(names):] == columns
    by_name = {row[0]: dict(zip(table[0], row)) for row in table[1:]}
    assert by_name["alice"]["written:" + names[0]] == "2" and by_name["alice"]["written:" + names[1]] == ""
    assert by_name["bob"]["written:" + names[1]] == "0.5" and by_name["broken"]["written:" + names[2]] == ""
    assert by_name["'=carol"]["written:" + names[0]] == "0"

    scores.write_text(f"submission,{names[0]}\nalice,{key[names[0]].points + 1:g}\n")
    with pytest.raises(written.WrittenError, match=rf"written_scores.csv:2: alice {names[0]}: .* between 0 and"):
        results.write_grades_csv(out / "grades.csv", graded)
    scores.write_text("submission,q99\nalice,1\n")
    with pytest.raises(written.WrittenError, match="column 'q99' is no hand-graded question"):
        written.grade_columns(out, [ASSIGNMENT])


def test_grade_refuses_bad_scores_before_grading(tmp_path):
    (tmp_path / written.SCORES_FILE).write_text("submission,q1\nalice,lots\n")
    (tmp_path / "class").mkdir()
    with pytest.raises(SystemExit, match="'lots' is not a score between 0 and"):
        cli.main(["grade", str(tmp_path / "class"), "--assignment", ASSIGNMENT, "--out", str(tmp_path)])


def test_pdf_export_for_gradescope(student_notebook, tmp_path, monkeypatch):
    """otter's filtered PDF (question cells only, page breaks): needs LaTeX or playwright's Chromium."""
    exporter = written._pdf_exporter()
    if exporter is None:
        monkeypatch.setattr(written, "_pdf_exporter", lambda: None)  # asked once (playwright starts a driver)
        out = tmp_path / "graded"
        assert cli.main(["written", str(student_notebook), "--assignment", ASSIGNMENT, "--out", str(out),
                         "--pdf"]) == 1
        pytest.skip("no xelatex + pandoc and no playwright Chromium here: `autograder written --pdf` refuses with "
                    "that reason (install texlive-xetex and pandoc, or run `playwright install chromium`)")
    target = tmp_path / "answers.pdf"
    assert written.export_pdf(student_notebook, target, exporter) == ""
    assert target.read_bytes()[:5] == b"%PDF-"
    assert json.loads(student_notebook.read_text())  # the notebook is left as it was


def test_the_key_never_reaches_students():
    """The release leaves written.yml out of the template, and the student kit's leak gate finds a model
    answer or a rubric item pasted into any released file."""
    from autograder import release, studentkit

    assert written.KEY_FILE not in release.template_files(ASSIGNMENT)
    (question, line), *_ = written.key_lines(ASSIGNMENT)
    findings = studentkit.scan({f"student/{ASSIGNMENT}/notes.md": f"hint: {line}\n".encode(),
                                f"student/{ASSIGNMENT}/attention.py": b"x = 1\n"}, [ASSIGNMENT])
    assert findings == [f"student/{ASSIGNMENT}/notes.md: holds the model answer or rubric of written question {question}"]


def test_release_refuses_a_key_that_does_not_match_the_notebook(monkeypatch, tmp_path):
    from autograder import release

    monkeypatch.setattr(written, "key_problems", lambda assignment: [f"{assignment}: no entry for question q9"])
    with pytest.raises(release.ReleaseError, match="no entry for question q9"):
        release.write_template(ASSIGNMENT, tmp_path / "template")
    assert not (tmp_path / "template").exists()
