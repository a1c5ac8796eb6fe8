"""HTML reports: one page per student (score per check, feedback, learning curves, confusion matrices)
and one class page (score histogram, failure rate and median time per check)."""

from __future__ import annotations

import base64
import html
import io
import statistics
from pathlib import Path

STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;
vertical-align:top}th{background:#f4f4f4}.pass{color:#137333;font-weight:600}.fail{color:#b3261e;font-weight:600}
pre{white-space:pre-wrap;margin:0;font-size:.85rem}.score{font-size:1.6rem}img{max-width:100%}"""


def _figure_png(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _check_figures(name: str, record: dict) -> str:
    """Learning curves and confusion matrix of one accuracy check, as inline PNGs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = []
    history = record.get("history") or {}
    curves = {k: v for k, v in history.items() if isinstance(v, list) and v}
    if curves:
        figure, axes = plt.subplots(1, 2, figsize=(9, 3))
        for key, values in curves.items():
            axes[0 if "loss" in key else 1].plot(range(1, len(values) + 1), values, marker=".", label=key)
        if "threshold" in record:
            axes[1].axhline(record["threshold"], color="grey", linestyle="--", label="required")
        for axis, label in zip(axes, ("loss", "accuracy")):
            axis.set_xlabel("epoch")
            axis.set_ylabel(label)
            if axis.get_legend_handles_labels()[0]:
                axis.legend(fontsize=7)
        figure.suptitle(name, fontsize=9)
        parts.append(_figure_png(figure))
    confusion = record.get("confusion")
    if confusion and len(confusion) > 2:
        figure, axis = plt.subplots(figsize=(3.6, 3.2))
        image = axis.imshow(confusion, cmap="Blues")
        axis.set_xlabel("predicted")
        axis.set_ylabel("true")
        figure.colorbar(image, ax=axis)
        axis.set_title("confusion matrix", fontsize=9)
        parts.append(_figure_png(figure))
    return "".join(parts)


def student_page(name: str, document: dict) -> str:
    extra = document["extra_data"]
    rows = []
    for test in document["tests"]:
        ok = test["status"] == "passed"
        figures = _check_figures(test["name"], extra["records"].get(test["name"], {}))
        rows.append(f"<tr><td class={'pass' if ok else 'fail'}>{'✓' if ok else '✗'}</td>"
                    f"<td>{html.escape(test['name'])}</td><td>{test['score']:g}/{test['max_score']:g}</td>"
                    f"<td>{test['execution_time']:.1f} s</td><td><pre>{html.escape(test['output'])}</pre>{figures}</td></tr>")
    return (f"<!doctype html><meta charset=utf-8><title>{html.escape(name)}</title><style>{STYLE}</style>"
            f"<h1>{html.escape(name)} — {html.escape(extra['assignment'])}</h1>"
            f"<p class=score>{document['score']:g} / {extra['max_score']:g}</p>"
            f"<p>{html.escape(document['output'])}<br>tier {extra['tier']}, seed {extra['seed']}, "
            f"graded in {document['execution_time']:.0f} s</p>"
            "<table><tr><th></th><th>check</th><th>score</th><th>time</th><th>feedback</th></tr>"
            + "".join(rows) + "</table>")


def class_page(graded: dict[str, dict]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    percents = [100 * d["score"] / d["extra_data"]["max_score"] for d in graded.values() if d["extra_data"]["max_score"]]
    figure, axis = plt.subplots(figsize=(6, 2.8))
    axis.hist(percents, bins=range(0, 105, 5), color="#4a7fb5")
    axis.set_xlabel("score (%)")
    axis.set_ylabel("submissions")
    histogram = _figure_png(figure)
    checks: dict[str, list[dict]] = {}
    for document in graded.values():
        for test in document["tests"]:
            checks.setdefault(test["name"], []).append(test)
    order = sorted(checks, key=lambda c: -sum(t["status"] != "passed" for t in checks[c]))
    rows = "".join(
        f"<tr><td>{html.escape(c)}</td><td>{sum(t['status'] != 'passed' for t in checks[c]) / len(checks[c]):.0%}</td>"
        f"<td>{statistics.median(t['execution_time'] for t in checks[c]):.2f} s</td></tr>" for c in order)
    students = "".join(f"<tr><td><a href='{html.escape(n)}/report.html'>{html.escape(n)}</a></td>"
                       f"<td>{d['score']:g}/{d['extra_data']['max_score']:g}</td></tr>" for n, d in sorted(graded.items()))
    return (f"<!doctype html><meta charset=utf-8><title>Class report</title><style>{STYLE}</style>"
            f"<h1>Class report</h1><p>{len(graded)} submissions, median score "
            f"{statistics.median(percents) if percents else 0:.0f}%</p>{histogram}"
            "<h2>Checks, most failed first</h2><table><tr><th>check</th><th>failure rate</th><th>median time</th></tr>"
            f"{rows}</table><h2>Submissions</h2><table>{students}</table>")


def write_all(out: Path, graded: dict[str, dict]) -> None:
    """``out/<name>/report.html`` for each submission and ``out/index.html`` for the class."""
    for name, document in graded.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        (out / name / "report.html").write_text(student_page(name, document), encoding="utf-8")
    (out / "index.html").write_text(class_page(graded), encoding="utf-8")
