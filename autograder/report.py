"""HTML reports: one page per student (score per check, feedback, learning curves beside the reference's,
confusion matrices) and one class page (score histogram, failure rate and median time per check, also
written as PNG files next to it).

A record that cannot be shown (malformed, or a figure that fails) never stops the others: its page says
so, and the class page and its links (built from :func:`autograder.submissions.folder_name`) are always
written."""

from __future__ import annotations

import base64
import html
import io
import math
import statistics
from pathlib import Path

from autograder import results
from autograder.submissions import folder_name

STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;
vertical-align:top}th{background:#f4f4f4}.pass{color:#137333;font-weight:600}.fail{color:#b3261e;font-weight:600}
pre{white-space:pre-wrap;margin:0;font-size:.85rem}.score{font-size:1.6rem}img{max-width:100%}
.nowrap{white-space:nowrap}tr.figures td{border-bottom:1px solid #ddd;padding-bottom:1rem}"""


def _png(figure) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _inline(png: bytes) -> str:
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _check_figures(name: str, record: dict, reference: dict | None) -> str:
    """Learning curves (dashed: the reference's, mean of its calibration seeds) and confusion matrix of one
    accuracy check, as inline PNGs."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    parts = []
    history = record.get("history")
    curves = {str(k): _curve(v) for k, v in (history.items() if isinstance(history, dict) else ())}
    curves = {k: v for k, v in curves.items() if any(math.isfinite(x) for x in v)}
    if curves:
        figure, axes = plt.subplots(1, 2, figsize=(10, 3.2))
        for key, values in curves.items():
            axis = axes[0 if "loss" in key else 1]
            (line,) = axis.plot(range(1, len(values) + 1), values, marker=".", label=key)
            theirs = (reference or {}).get("history", {}).get(key)
            if theirs:
                axis.plot(range(1, len(theirs) + 1), theirs, linestyle="--", color=line.get_color(), alpha=0.7,
                          label=f"{key} (reference)")
        if isinstance(record.get("threshold"), (int, float)) and not isinstance(record["threshold"], bool):
            axes[1].axhline(record["threshold"], color="grey", linestyle=":", label="required")
        for axis, label in zip(axes, ("loss", "accuracy")):
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
            axis.set_xlabel("epoch")
            axis.set_ylabel(label)
            if axis.get_legend_handles_labels()[0]:
                axis.legend(fontsize=7)
        figure.suptitle(name, fontsize=9)
        parts.append(_inline(_png(figure)))
        if reference:
            parts.append(f"<p>Solid: this submission; dashed: the reference, mean of {reference['seeds']} seeds "
                         "with the same budget; dotted: the accuracy required.</p>")
    confusion = _matrix(record.get("confusion"))
    if confusion is not None and len(confusion) > 2:
        figure, axis = plt.subplots(figsize=(3.6, 3.2))
        image = axis.imshow(confusion, cmap="Blues")
        axis.set_xlabel("predicted")
        axis.set_ylabel("true")
        figure.colorbar(image, ax=axis)
        axis.set_title("confusion matrix", fontsize=9)
        parts.append(_inline(_png(figure)))
    return "".join(parts)


def _curve(values) -> list[float]:
    """A learning curve as floats (NaN where a value is not a finite number); empty when not a list."""
    if not isinstance(values, list):
        return []
    return [float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else math.nan
            for v in values]


def _matrix(value):
    """A square confusion matrix of finite numbers (at most 100 classes) as an array, or None."""
    import numpy as np

    try:
        matrix = np.asarray(value, dtype=float)
    except (TypeError, ValueError, OverflowError):
        return None
    ok = matrix.ndim == 2 and matrix.shape[0] == matrix.shape[1] <= 100 and np.isfinite(matrix).all()
    return matrix if ok else None


def _tier_mark(test: dict) -> str:
    """The mark after a gpu check's name in the report (cpu is the default tier)."""
    return " <small>(gpu tier)</small>" if test.get("extra_data", {}).get("tier") == "gpu" else ""


def student_page(name: str, document: dict, curves: dict[str, dict] | None = None) -> str:
    """The page of one submission; ``curves``: the reference curves of its assignment (read when not given)."""
    from autograder.calibrate import reference_curves

    extra = document["extra_data"]
    curves = reference_curves(extra["assignment"]) if curves is None else curves
    rows = []
    for test in document["tests"]:
        ok = test["status"] == "passed"
        rows.append(f"<tr><td class={'pass' if ok else 'fail'}>{'✓' if ok else '✗'}</td>"
                    f"<td>{html.escape(test['name'])}{_tier_mark(test)}</td>"
                    f"<td class=nowrap>{test['score']:g}/{test['max_score']:g}</td>"
                    f"<td class=nowrap>{test['execution_time']:.1f} s</td><td><pre>{html.escape(test['output'])}</pre></td></tr>")
        record = results.clean(extra.get("records", {}).get(test["name"]))
        if isinstance(record, dict) and (record.get("history") or record.get("confusion")):
            figures = _check_figures(test["name"], record, curves.get(test["name"]))
            rows.append(f"<tr class=figures><td></td><td colspan=4>{figures}</td></tr>")
    return (f"<!doctype html><meta charset=utf-8><title>{html.escape(name)}</title><style>{STYLE}</style>"
            f"<h1>{html.escape(name)} — {html.escape(extra['assignment'])}</h1>"
            f"<p class=score>{document['score']:g} / {extra['max_score']:g}</p>"
            f"<p>{html.escape(document['output'])}<br>tier {html.escape(str(extra['tier']))}, "
            f"seed {html.escape(str(extra.get('seed')))}, "
            f"graded in {document['execution_time']:.0f} s</p>"
            "<table><tr><th></th><th>check</th><th>score</th><th>time</th><th>feedback</th></tr>"
            + "".join(rows) + "</table>")


def class_page(graded: dict[str, dict], broken: dict[str, str] | None = None) -> tuple[str, dict[str, bytes]]:
    """The class page and its figures (file name -> PNG): scores.png (histogram of the scores) and
    checks.png (failure rate and median grading time of each check, most failed first); ``broken``: name ->
    why its record is not shown (listed, left out of the figures)."""
    broken = broken or {}
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    percents = [100 * d["score"] / d["extra_data"]["max_score"] for d in graded.values() if d["extra_data"]["max_score"]]
    figure, axis = plt.subplots(figsize=(6, 2.8))
    axis.hist(percents, bins=range(0, 105, 5), color="#4a7fb5")
    axis.set_xlabel("score (%)")
    axis.set_ylabel("submissions")
    axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    pngs = {"scores.png": _png(figure)}
    checks: dict[str, list[dict]] = {}
    for document in graded.values():
        for test in document["tests"]:
            checks.setdefault(test["name"], []).append(test)
    failure = {c: sum(t["status"] != "passed" for t in tests) / len(tests) for c, tests in checks.items()}
    median = {c: statistics.median(t["execution_time"] for t in tests) for c, tests in checks.items()}
    order = sorted(checks, key=lambda c: -failure[c])
    if order:
        figure, (rate, time) = plt.subplots(1, 2, figsize=(11, 0.6 + 0.25 * len(order)), sharey=True)
        positions = range(len(order))
        rate.barh(positions, [100 * failure[c] for c in order], color="#b3261e")
        rate.set_yticks(positions, order, fontsize=7)
        rate.invert_yaxis()
        rate.set_xlim(0, 100)
        rate.set_xlabel("failed (% of submissions)")
        time.barh(positions, [median[c] for c in order], color="#4a7fb5")
        time.set_xlabel("median grading time (s)")
        pngs["checks.png"] = _png(figure)
    rows = "".join(f"<tr><td>{html.escape(c)}</td><td>{failure[c]:.0%}</td><td>{median[c]:.2f} s</td></tr>"
                   for c in order)
    students = "".join(f"<tr><td><a href='{folder_name(n)}/report.html'>{html.escape(n)}</a></td>"
                       f"<td>{d['score']:g}/{d['extra_data']['max_score']:g}</td></tr>" for n, d in sorted(graded.items()))
    students += "".join(f"<tr><td><a href='{folder_name(n)}/report.html'>{html.escape(n)}</a></td>"
                        f"<td>not shown: {html.escape(why)}</td></tr>" for n, why in sorted(broken.items()))
    figures = "".join(f"<img alt='{name}' src='{name}'>" for name in pngs if name != "scores.png")
    page = (f"<!doctype html><meta charset=utf-8><title>Class report</title><style>{STYLE}</style>"
            f"<h1>Class report</h1><p>{len(graded) + len(broken)} submissions, median score "
            f"{statistics.median(percents) if percents else 0:.0f}%</p><img alt='scores' src='scores.png'>"
            f"<h2>Checks, most failed first</h2>{figures}<table><tr><th>check</th><th>failure rate</th>"
            f"<th>median time</th></tr>{rows}</table><h2>Submissions</h2><table>{students}</table>")
    return page, pngs


def broken_page(name: str, why: str) -> str:
    """The page of a submission whose record cannot be shown."""
    return (f"<!doctype html><meta charset=utf-8><title>{html.escape(name)}</title><style>{STYLE}</style>"
            f"<h1>{html.escape(name)}</h1><p class=fail>This submission's record could not be shown: "
            f"{html.escape(why)}. Its results.json is kept as written; grade it again with --force.</p>")


def write_all(out: Path, graded: dict[str, dict]) -> None:
    """``out/<folder>/report.html`` for each submission (:func:`folder_name`), each in its own try: a record
    that cannot be shown gets a page saying why; ``out/index.html`` and its PNG figures for the class."""
    from autograder.calibrate import reference_curves

    curves: dict[str, dict[str, dict]] = {}  # assignment -> its reference curves, read once
    shown, broken = {}, {}
    for name, document in graded.items():
        folder = out / folder_name(name)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            why = results.problem(document)
            if why is not None:
                raise ValueError(why)
            assignment = document["extra_data"]["assignment"]
            if assignment not in curves:
                curves[assignment] = reference_curves(assignment)
            page = student_page(name, document, curves[assignment])
            shown[name] = document
        except Exception as error:  # noqa: BLE001 - one record never stops the class's reports
            broken[name] = results.shorten(f"{type(error).__name__}: {error}", 300)
            page = broken_page(name, broken[name])
        (folder / "report.html").write_text(page, encoding="utf-8")
    try:
        page, pngs = class_page(shown, broken)
    except Exception as error:  # noqa: BLE001 - the class page is written whatever happens
        why = results.shorten(f"the class page failed: {type(error).__name__}: {error}", 300)
        page, pngs = class_page({}, {**broken, **dict.fromkeys(shown, why)})
    for file_name, png in pngs.items():
        (out / file_name).write_bytes(png)
    (out / "index.html").write_text(page, encoding="utf-8")
