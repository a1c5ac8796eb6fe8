"""`autograder grade` end to end: folders and zips, class CSV, reports, resume, determinism, `check`."""

import csv
import json
import shutil
import zipfile

import pytest

from autograder import cli, samples
from autograder.grade import Options, grade_many
from autograder.submissions import Submission, SubmissionError, discover

FAST = ("test_manual.py::test_forward", "test_manual.py::test_backward_finite_differences",
        "test_answers.py::test_numeric_answers")


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    """A class folder: the reference as a folder, the reference zipped inside a sub-folder, a buggy one."""
    root = tmp_path_factory.mktemp("class")
    reference = samples.reference_copy("tp1_mlp", root / "alice")
    with zipfile.ZipFile(root / "bob.zip", "w") as bundle:
        for path in reference.rglob("*.py"):
            bundle.write(path, f"bob_tp1/{path.name}")
        bundle.write(reference / "answers.yml", "bob_tp1/answers.yml")
    bug = next(m for m in samples.mutations("tp1_mlp") if m.name == "missing_tanh_derivative")
    samples.build("tp1_mlp", bug, root / "carol")
    return root


def test_class_folder_grades_folders_and_zips_with_csv_and_reports(classroom, tmp_path):
    submissions = discover([classroom], "tp1_mlp")
    assert sorted(s.name for s in submissions) == ["alice", "bob", "carol"]
    graded = grade_many(submissions, tmp_path, Options(only=FAST), jobs=2, quiet=True)
    assert graded["alice"]["score"] == graded["bob"]["score"] == 7
    assert graded["carol"]["score"] == 3
    carol = {t["name"]: t for t in graded["carol"]["tests"]}
    assert "manual.backward: gradient of Wh is wrong" in carol[FAST[1]]["output"]
    with open(tmp_path / "grades.csv") as handle:
        rows = {row["submission"]: row for row in csv.DictReader(handle)}
    assert rows["carol"]["score"] == "3" and rows["carol"][FAST[1]] == "0"
    from autograder import report

    report.write_all(tmp_path, graded)
    page = (tmp_path / "carol" / "report.html").read_text()
    assert "gradient of Wh is wrong" in page and "3 / 7" in page
    assert "alice/report.html" in (tmp_path / "index.html").read_text()


def test_results_follow_gradescope_schema_and_rerun_is_identical(classroom, tmp_path):
    entry = [Submission("alice", classroom / "alice", "tp1_mlp")]
    first = grade_many(entry, tmp_path / "a", Options(only=FAST), quiet=True)["alice"]
    second = grade_many(entry, tmp_path / "b", Options(only=FAST), quiet=True)["alice"]
    on_disk = json.loads((tmp_path / "a" / "alice" / "results.json").read_text())
    assert on_disk == first
    assert {"score", "execution_time", "output", "tests"} <= set(first)
    for test in first["tests"]:
        assert {"name", "score", "max_score", "output", "visibility", "execution_time", "status"} <= set(test)
        assert test["visibility"] in {"visible", "after_published"}
    strip_times = lambda d: [(t["name"], t["score"], t["output"]) for t in d["tests"]]
    assert strip_times(first) == strip_times(second)


def test_resume_skips_graded_submissions_unless_forced(classroom, tmp_path):
    entry = [Submission("alice", classroom / "alice", "tp1_mlp")]
    grade_many(entry, tmp_path, Options(only=FAST[:1]), quiet=True)
    results = tmp_path / "alice" / "results.json"
    marked = json.loads(results.read_text())
    marked["output"] = "kept"
    results.write_text(json.dumps(marked))
    assert grade_many(entry, tmp_path, Options(only=FAST[:1]), quiet=True)["alice"]["output"] == "kept"
    assert grade_many(entry, tmp_path, Options(only=FAST[:1]), force=True, quiet=True)["alice"]["output"] != "kept"


def test_unusable_submissions_still_get_a_record(tmp_path):
    zipfile.ZipFile(tmp_path / "empty.zip", "w").close()
    (tmp_path / "wrong_layout").mkdir()
    (tmp_path / "wrong_layout" / "notes.txt").write_text("hello")
    graded = grade_many(discover([tmp_path], "tp1_mlp"), tmp_path / "out", Options(only=FAST), quiet=True)
    assert graded["empty"]["score"] == graded["wrong_layout"]["score"] == 0
    assert "empty zip" in graded["empty"]["tests"][0]["output"]
    assert "none of the expected modules" in graded["wrong_layout"]["tests"][0]["output"]


def test_discover_refuses_missing_paths_and_duplicate_names(tmp_path):
    with pytest.raises(SubmissionError, match="no such file"):
        discover([tmp_path / "nope"], "tp1_mlp")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").mkdir()
    shutil.make_archive(str(tmp_path / "a" / "x"), "zip", tmp_path / "a" / "x")
    with pytest.raises(SubmissionError, match="share the name 'x'"):
        discover([tmp_path / "a"], "tp1_mlp")


def test_check_prints_feedback_and_fails_on_the_template(tmp_path, capsys):
    shutil.copytree(samples.ROOT / "student_template" / "tp1_mlp", tmp_path / "tp1_mlp")
    code = cli.main(["check", "--path", str(tmp_path / "tp1_mlp"), "--threads", "1", "--quiet"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL test_manual.py::test_forward" in out and "manual.forward" in out
    assert "hidden" not in out and "test_backward_matches_autograd" not in out


def test_grade_many_refuses_two_submissions_of_one_name(classroom, tmp_path):
    twice = [Submission("alice", classroom / "alice", "tp1_mlp"), Submission("alice", classroom / "carol", "tp1_mlp")]
    with pytest.raises(ValueError, match="alice given more than once"):
        grade_many(twice, tmp_path, Options(only=FAST), quiet=True)
    assert not (tmp_path / "alice").exists()


def test_every_entry_of_a_class_folder_is_graded_or_refused_with_its_reason(classroom, tmp_path):
    folder = tmp_path / "class"
    shutil.copytree(classroom, folder)
    shutil.copyfile(classroom / "bob.zip", folder / "dan.ZIP")
    shutil.copyfile(classroom / "bob.zip", folder / "grades.csv.zip")
    (folder / "erin.tar.gz").write_bytes(b"\x1f\x8b not really")
    (folder / "manual.py").write_text("def forward(params, X):\n    pass\n")
    (folder / "notes.txt").write_text("a teacher's note")
    (folder / ".DS_Store").write_bytes(b"\0")
    hidden = []
    submissions = discover([folder], "tp1_mlp", hidden)
    assert sorted(s.name for s in submissions) == ["alice", "bob", "carol", "dan", "erin.tar.gz", "grades.csv",
                                                   "manual.py", "notes.txt"]
    assert hidden == [folder / ".DS_Store"]
    refused = [s for s in submissions if s.name in ("erin.tar.gz", "manual.py", "notes.txt")]
    graded = grade_many([s for s in submissions if s.name in ("dan", "grades.csv")] + refused, tmp_path / "out",
                        Options(only=FAST[:1]), quiet=True)
    assert graded["dan"]["score"] == graded["grades.csv"]["score"] == 2
    assert "not a zip archive" in graded["erin.tar.gz"]["output"]
    assert "lone file beside the submissions" in graded["manual.py"]["output"]
    assert "neither a folder nor a zip" in graded["notes.txt"]["output"]
    assert (tmp_path / "out" / "grades.csv").is_file()
    assert len(list((tmp_path / "out").glob("grades_csv-*/results.json"))) == 1


def test_rerun_over_a_damaged_cached_record_grades_it_again(classroom, tmp_path):
    entry = [Submission("alice", classroom / "alice", "tp1_mlp")]
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "results.json").write_text(json.dumps({"score": "full", "tests": 3}))
    graded = grade_many(entry, tmp_path, Options(only=FAST[:1]), quiet=True)
    assert graded["alice"]["score"] == 2


def test_score_table_escapes_control_characters_in_names():
    document = {"score": 1.0, "output": "", "execution_time": 1.0, "tests": [], "extra_data": {
        "assignment": "tp1_mlp", "tier": "cpu", "max_score": 2.0, "records": {}}}
    table = cli.score_table({"\x1b[2Jevil\nalice 2/2": document, "broken": {"score": None}})
    assert "\x1b" not in table and len(table.splitlines()) == 3
    assert "\\x1b[2Jevil\\nalice 2/2" in table and "unreadable record" in table
