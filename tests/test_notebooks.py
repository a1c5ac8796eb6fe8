"""Student notebooks: built from the statement (handout in order, written questions as otter manual
questions, every cheap check in one otter test), the kit's checks run in-process without mixing the
reference's modules with the student's, and every notebook runs headless top to bottom on the reference.

The expensive part (``otter assign`` + ``otter run --debug`` of every notebook, tiny budgets) is one
bundle build per session, shared with tests/test_bundle.py through :func:`built_bundle`.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from autograder import bundle, config, notebooks, reference, release, samples, selfcheck
from autograder.judges import CheckFailed

ASSIGNMENTS = [a for a in config.load().assignments
               if (notebooks.ASSIGNMENTS / a / "notebook.py").is_file() and (config.GRADERS / a).is_dir()]


BUNDLE_VARIABLE = "AUTOGRADER_TEST_BUNDLE"


def built_bundle() -> Path:
    """The release bundle of every assignment (tiny notebook budgets), built once per test session.

    The path is kept in the environment (this module may be imported twice, as ``test_notebooks`` and as
    ``tests.test_notebooks``); setting ``AUTOGRADER_TEST_BUNDLE`` to a built bundle reuses it.
    """
    existing = os.environ.get(BUNDLE_VARIABLE)
    if existing and all((Path(existing) / a / "autograder" / "selftest.json").is_file() for a in ASSIGNMENTS):
        return Path(existing)
    out = Path(tempfile.mkdtemp(prefix="autograder-test-bundle-"))
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    bundle.build(out, ASSIGNMENTS, quiet=True, jobs=2)
    os.environ[BUNDLE_VARIABLE] = str(out)
    return out


def _cells(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source) for cell in notebook.cells]


def _questions(notebook) -> dict[str, dict]:
    found = {}
    for kind, source in _cells(notebook):
        if kind == "raw" and source.startswith("# BEGIN QUESTION"):
            settings = dict(line.split(": ", 1) for line in source.splitlines()[1:])
            found[settings["name"]] = settings
    return found


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_master_notebook_follows_the_handout(assignment):
    notebook = notebooks.master(assignment)
    statement = (notebooks.ASSIGNMENTS / assignment / "statement.md").read_text(encoding="utf-8")
    markdown = "\n\n".join(source for kind, source in _cells(notebook) if kind == "markdown")
    headings = [line.strip() for line in statement.splitlines() if re.match(r"#{1,6}\s", line)]
    positions = [markdown.find(heading) for heading in headings]
    assert -1 not in positions, [h for h, p in zip(headings, positions) if p == -1]
    assert positions == sorted(positions), "the handout's sections are out of order"
    assert markdown.count("★") >= statement.count("★") > 0 or "★" not in statement
    written = [q for q in _questions(notebook).values() if q.get("manual") == "true"]
    assert len(written) >= statement.count("written answer") - 3 > 0
    assert notebook.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_cheap_check_is_one_otter_test_and_trains_nothing(assignment):
    notebook = notebooks.master(assignment)
    calls = re.findall(r"run_check\('(\w+)', '([^']+)', env\)", "\n".join(s for _, s in _cells(notebook)))
    expected = [c.id for c in notebooks.notebook_checks(assignment)]
    assert sorted(check for _, check in calls) == sorted(expected)
    assert {a for a, _ in calls} == {assignment}
    every = config.load().assignment(assignment).selected("gpu")
    assert not {c.id for c in every if c.budget or c.tier == "gpu"} & set(expected)
    names = list(_questions(notebook))
    assert len(names) == len(set(names)) and all(re.fullmatch(r"[a-z]\w*", n) for n in names)


def test_written_questions_and_anchors_of_a_toy_statement():
    text = ("# Title\n\nIntro: questions marked *(written answer)* go in the notebook.\n\n## Part 1\n\n"
            "**Question 1 ★** (written answer). Why?\n\n- a list that belongs to it\n\nPlain text.\n\n"
            "### Task 2.3 — look (written answer)\n\nDo this.\n\n```\ncode\n\nblock\n```\n\n"
            "**To conclude** *(written answer)*: all.\n")
    blocks = notebooks.parse_statement(text)
    assert [b.kind for b in blocks].count("heading") == 3
    assert any(b.text.startswith("```") and "block" in b.text for b in blocks)
    sections = notebooks._sections(blocks[2:], {"Plain text": [notebooks.Code("x = 1")],
                                                "before:Do this": [notebooks.Markdown("m")]})
    kinds = [s.kind for s in sections]
    assert kinds == ["markdown", "question", "markdown", "insert", "markdown", "insert", "markdown",
                     "question", "question"]
    assert sections[-2].text.startswith("**To conclude**") and "Task 2.3" in sections[-1].text
    assert "a list that belongs to it" in sections[1].text
    taken: set[str] = set()
    names = [notebooks.question_name(s.text, taken, s.context) for s in sections if s.kind == "question"]
    assert names == ["q1", "to_conclude", "task2_3"]
    with pytest.raises(notebooks.NotebookError, match="matches 0 headings"):
        notebooks._sections(blocks, {"nowhere": []})


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inprocess")
    template = root / "template"
    template.mkdir()
    for name, text in release.template_files("tp1_mlp").items():
        (template / name).write_text(text, encoding="utf-8")
    return {"reference": samples.reference_copy("tp1_mlp", root / "reference"), "template": template}


def test_checks_run_in_process_with_the_graders_feedback(folders, monkeypatch):
    check = "test_manual.py::test_backward_finite_differences"
    selfcheck.run_check("tp1_mlp", check, {"SEED": 3}, folders["reference"])
    with pytest.raises(CheckFailed, match=r"not implemented yet: manual.backward: "):
        selfcheck.run_check("tp1_mlp", check, {"SEED": 3}, folders["template"])
    with pytest.raises(CheckFailed, match=r"q4_nx .*no answer yet \(a number\)"):
        selfcheck.run_check("tp1_mlp", "test_answers.py::test_answers_format", None, folders["template"])
    with pytest.raises(CheckFailed, match="no public check"):
        selfcheck.run_check("tp1_mlp", "test_answers.py::test_numeric_answers", None, folders["reference"])


def test_in_process_checks_leave_the_notebooks_modules_and_path_alone(folders, monkeypatch):
    """The notebook imported the student's (blank) manual.py; a check imports the reference's manual.py
    on the grader side and a fresh student copy on the probe side, and gives everything back."""
    solutions = str(reference.SOLUTIONS / "tp1_mlp")
    monkeypatch.setattr(sys, "path", [path for path in sys.path if path != solutions])  # another test's import
    monkeypatch.syspath_prepend(str(folders["template"]))
    for name in ("manual", "train"):
        sys.modules.pop(name, None)
    import manual  # the notebook's own (template) module

    path_before = list(sys.path)
    with pytest.raises(CheckFailed):
        selfcheck.run_check("tp1_mlp", "test_manual.py::test_forward", None, folders["template"])
    selfcheck.run_check("tp1_mlp", "test_manual.py::test_forward", None, folders["reference"])
    assert sys.modules["manual"] is manual
    assert Path(manual.__file__).parent == folders["template"]
    assert sys.path == path_before
    assert solutions not in sys.path
    sys.modules.pop("manual")


def test_show_answers_lists_what_is_filled(folders, capsys):
    selfcheck.show_answers(folders["template"])
    assert "0 of 3 answers filled in" in capsys.readouterr().out
    selfcheck.show_answers(folders["reference"])
    assert "3 of 3 answers filled in" in capsys.readouterr().out


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebook_runs_headless_on_the_reference_and_scores_full_marks(assignment):
    """otter run --debug of the solution notebook (nbclient under nbconvert, tiny budgets): any cell error
    fails the release; every otter test passes. The build refuses otherwise; this reads what it recorded."""
    selftest = json.loads((built_bundle() / assignment / "autograder" / "selftest.json").read_text())
    score, max_score = bundle.otter_score(selftest)
    assert max_score > 0 and score == max_score, selftest
    expected = sum(c.points for c in notebooks.notebook_checks(assignment))
    assert max_score == expected


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_notebook_has_no_solutions_hidden_tests_or_outputs(assignment):
    student = built_bundle() / assignment / "student"
    notebook = nbformat.read(student / f"{assignment}.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs for cell in code)
    assert any('grader.check("answers")' in cell.source for cell in code)
    assert any("grader.export(" in cell.source and "answers.yml" in cell.source for cell in code)
    hidden = {c.id for c in notebooks.notebook_checks(assignment) if c.visibility == "hidden"}
    tests = "\n".join(p.read_text() for p in (student / "tests").glob("*.py"))
    assert "hidden=True" not in tests and not any(f"'{check}'" in tests for check in hidden)
    assert notebooks.RESPONSE in "\n".join(cell.source for cell in notebook.cells)
