"""Reports as a teacher reads them: the student page with learning curves beside the reference's and a
confusion matrix, the class page with its PNG figures, and (where Chromium is installed) a real render."""

import json
import shutil
import subprocess

import pytest

from autograder import calibrate, config, report

ASSIGNMENT, CHECK, OTHER = "tp2_cnn", "test_accuracy.py::test_fashion_mnist", "test_models.py::test_output_shapes[32]"
PNG = b"\x89PNG\r\n\x1a\n"


def document(name: str, accuracy_passed: bool, shapes_passed: bool) -> dict:
    history = {"train_acc": [0.5, 0.7, 0.8], "test_acc": [0.55, 0.7, 0.78], "train_loss": [1.4, 0.8, 0.6],
               "test_loss": [1.2, 0.8, 0.65]}
    confusion = [[5 if i == j else 1 for j in range(10)] for i in range(10)]
    tests = [{"name": CHECK, "score": 3.0 * accuracy_passed, "max_score": 3.0, "execution_time": 20.0,
              "status": "passed" if accuracy_passed else "failed", "output": "" if accuracy_passed else "71% < 75%"},
             {"name": OTHER, "score": 1.0 * shapes_passed, "max_score": 1.0, "execution_time": 0.1,
              "status": "passed" if shapes_passed else "failed", "output": "" if shapes_passed else "wrong shape"}]
    records = {CHECK: {"history": history, "confusion": confusion, "threshold": 0.75, "accuracy": 0.78}}
    return {"score": sum(t["score"] for t in tests), "execution_time": 25.0, "output": "tp2", "tests": tests,
            "extra_data": {"assignment": ASSIGNMENT, "tier": "cpu", "seed": 1, "max_score": 4.0, "records": records}}


@pytest.fixture
def curves(tmp_path, monkeypatch):
    """Reference curves stored for CHECK with its current budget, in a file of the test's own."""
    path = tmp_path / "reference_curves.json"
    budget = config.load().assignment(ASSIGNMENT).check(CHECK).budget
    path.write_text(json.dumps({CHECK: {"budget": budget, "seeds": 5,
                                        "history": {"test_acc": [0.6, 0.75, 0.82], "train_loss": [1.3, 0.7, 0.5]}}}))
    monkeypatch.setattr(calibrate, "curves_path", lambda assignment: path)
    return path


def test_student_page_shows_curves_beside_the_reference_and_a_confusion_matrix(curves):
    page = report.student_page("dana", document("dana", False, True))
    assert page.count('src="data:image/png;base64,') == 2  # learning curves, confusion matrix
    assert "dashed: the reference, mean of 5 seeds" in page and "71% &lt; 75%" in page


def test_reference_curves_measured_with_another_budget_are_not_drawn(curves):
    stored = json.loads(curves.read_text())
    stored[CHECK]["budget"] = {**stored[CHECK]["budget"], "epochs": 99}
    curves.write_text(json.dumps(stored))
    page = report.student_page("dana", document("dana", True, True))
    assert page.count('src="data:image/png;base64,') == 2 and "dashed: the reference" not in page


def test_class_page_writes_its_figures_and_orders_checks_by_failures(tmp_path, curves):
    graded = {"ann": document("ann", True, False), "ben": document("ben", True, False),
              "cy": document("cy", False, True)}
    report.write_all(tmp_path, graded)
    page = (tmp_path / "index.html").read_text()
    for name in ("scores.png", "checks.png"):
        assert (tmp_path / name).read_bytes().startswith(PNG) and f"src='{name}'" in page
    assert page.index(OTHER) < page.index(CHECK)  # failed by 2 of 3, before the check failed by 1 of 3
    assert all((tmp_path / name / "report.html").is_file() for name in graded)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed (apt-get install chromium)")
def test_reports_render_in_a_real_browser(tmp_path, curves):
    graded = {"ann": document("ann", True, True), "cy": document("cy", False, False)}
    report.write_all(tmp_path, graded)
    for page in ("index.html", "cy/report.html"):
        shot = tmp_path / f"{page.replace('/', '_')}.png"
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--window-size=1280,1600", f"--screenshot={shot}", (tmp_path / page).as_uri()],
                       capture_output=True, timeout=120, check=False)
        assert shot.read_bytes().startswith(PNG) and shot.stat().st_size > 20_000  # a page, not a blank one


def broken_documents() -> dict:
    """Records a hostile worker or a damaged cache can leave: each must get its own page, none may stop
    the others."""
    def with_record(record):
        d = document("x", False, True)
        d["extra_data"]["records"][CHECK] = record
        return d

    missing_score = document("x", True, True)
    del missing_score["score"]
    bad_extra = document("x", True, True)
    bad_extra["extra_data"] = ["not", "a", "dict"]
    return {"history_list": with_record({"history": [1, 2, 3]}),
            "history_nan": with_record({"history": {"train_loss": [float("nan"), 1e308, -1e308, "x", None],
                                                    "test_acc": float("inf")}, "threshold": "high"}),
            "confusion_text": with_record({"history": {"bad": {"deep": 1}}, "confusion": "not a matrix"}),
            "record_string": with_record("just a string"),
            "missing_score": missing_score, "bad_extra": bad_extra, "a_list": [1, 2],
            "fine": document("fine", True, True)}


def test_broken_records_each_get_a_page_and_the_class_files_are_written(tmp_path, curves):
    graded = broken_documents()
    report.write_all(tmp_path, graded)
    index = (tmp_path / "index.html").read_text()
    for name in graded:
        page = (tmp_path / name / "report.html").read_text()
        assert f"{name}/report.html" in index
        if name in ("missing_score", "bad_extra", "a_list"):
            assert "could not be shown" in page and "not shown" in index
        else:
            assert "could not be shown" not in page
    assert (tmp_path / "fine" / "report.html").read_text().count("data:image/png") == 2
    report.write_all(tmp_path, graded)  # a rerun on the same records does not crash either


def test_csv_cells_cannot_be_formulas_and_unreadable_records_keep_their_row(tmp_path):
    from autograder import results

    names = ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx", "plain"]
    graded = {name: document(name, True, True) for name in names} | {"broken": {"score": "NaN"}}
    results.write_grades_csv(tmp_path / "grades.csv", graded)
    import csv

    with open(tmp_path / "grades.csv", newline="") as handle:
        rows = {row[0]: row for row in csv.reader(handle)}
    assert set(rows) == {"submission", "'=1+1", "'+cmd", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "plain", "broken"}
    assert rows["plain"][2] == "4" and rows["broken"][2:] == [""] * (len(rows["submission"]) - 2)


def test_records_reaching_results_are_capped():
    from autograder import results
    from autograder.config import load

    checks = [load().assignment(ASSIGNMENT).check(CHECK)]
    record = {"history": {"train_loss": [0.5] * 6_000_000, "x" * 50_000: 1}, "layers": ["L" * 40_000_000],
              "nested": [[[[[[[[1]]]]]]]], "huge": 10**400, "nan": float("nan")}
    document = results.build(ASSIGNMENT, "tp2", checks, "cpu",
                             {CHECK: {"status": "failed", "output": "T" * 40_000_000, "record": record}},
                             seed=1, seconds=1.0)
    kept = document["extra_data"]["records"][CHECK]
    assert len(kept["history"]["train_loss"]) == results.MAX_POINTS
    assert len(json.dumps(document)) < 60_000 and "more characters cut" in document["tests"][0]["output"]
    assert kept["huge"] is None and kept["nan"] is None and kept["nested"] == [[[[[None]]]]]
