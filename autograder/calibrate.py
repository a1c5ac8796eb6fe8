"""``autograder calibrate``: measure the reference and the known bugs on every accuracy check.

For each check with a threshold, the reference is graded on N base seeds and every corpus bug whose
``caught_by`` names the check on the first seed; the accuracy each run records is gathered, and the
proposed threshold is the reference minimum minus a margin, which must stay above every bug's maximum.
The reference's learning curves (mean over the seeds, per epoch) are stored in
``autograder/graders/<assignment>/reference_curves.json`` with the budget they were measured with: the
student reports draw them beside the student's own curves while the budget is unchanged.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from autograder import config, samples
from autograder.config import GRADERS
from autograder.grade import Options, grade_one
from autograder.submissions import Submission


@dataclass
class Figures:
    check: str
    reference: list[float]
    seconds: list[float]
    bugs: dict[str, float]
    threshold: float | None
    failures: list[str]
    curves: dict[str, list[float]]  # the reference's mean learning curves (history key -> per epoch)

    def proposal(self, margin: float) -> tuple[float | None, str]:
        """(proposed threshold, verdict) for this check."""
        if len(self.reference) == 0:
            return None, "the reference recorded no accuracy"
        proposed = round(min(self.reference) - margin, 2)
        worst_bug = max(self.bugs.values(), default=None)
        if worst_bug is not None and proposed <= worst_bug:
            return proposed, f"NOT SEPARATED: a bug reaches {worst_bug:.3f}"
        return proposed, "ok"

    def summary(self, margin: float) -> str:
        proposed, verdict = self.proposal(margin)
        ref = self.reference
        if not ref:
            return f"{self.check}: {verdict}" + "".join(f"\n  {failure}" for failure in self.failures)
        bugs = ", ".join(f"{name} {value:.3f}" for name, value in sorted(self.bugs.items())) or "none"
        failures = "".join(f"\n  no accuracy recorded: {failure}" for failure in self.failures)
        return (f"{self.check}\n  reference on {len(ref)} seeds: min {min(ref):.3f} mean {statistics.mean(ref):.3f} "
                f"max {max(ref):.3f} ({statistics.mean(self.seconds):.0f} s per run; per seed: "
                f"{', '.join(f'{v:.3f}' for v in ref)})\n  bugs: {bugs}\n  current threshold {self.threshold}, "
                f"proposed {proposed} (margin {margin}): {verdict}{failures}")


def _accuracy(document: dict, check: str) -> tuple[float | None, float]:
    record = document["extra_data"]["records"].get(check, {})
    test = next(t for t in document["tests"] if t["name"] == check)
    return record.get("accuracy"), test["execution_time"]


def calibrate(assignment: str, tier: str, seeds: int, jobs: int = 1, margin: float = 0.02,
              data: Path | None = None) -> list[Figures]:
    """Figures for every accuracy check of ``assignment`` on ``tier``."""
    grading = config.load()
    checks = [c for c in grading.assignment(assignment).selected(tier) if c.threshold is not None and c.tier == tier]
    ids = tuple(c.id for c in checks)
    with tempfile.TemporaryDirectory(prefix="autograder-calibrate-") as scratch:
        root = Path(scratch)
        jobs_list = [("reference", seed, samples.reference_copy(assignment, root / f"reference-{seed}"), ids)
                     for seed in range(seeds)]
        for mutation in samples.mutations(assignment):
            watched = tuple(c for c in mutation.caught_by if c in ids)
            if watched:
                jobs_list.append((mutation.name, 0, samples.build(assignment, mutation, root / mutation.name), watched))

        def run(job):
            name, seed, folder, only = job
            options = Options(tier=tier, seed=seed, only=only, data=data, key=f"calibrate-{seed}")
            return name, grade_one(Submission(f"{name}-{seed}", folder, assignment), root / "out", options)

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            graded = list(pool.map(run, jobs_list))
    figures = []
    for check in checks:
        reference, seconds, bugs, failures, histories = [], [], {}, [], []
        for name, document in graded:
            if not any(t["name"] == check.id for t in document["tests"]):
                continue
            accuracy, took = _accuracy(document, check.id)
            if accuracy is None:
                output = next(t["output"] for t in document["tests"] if t["name"] == check.id)
                failures.append(f"{document['extra_data']['submission']}: {output[:200]}")
                continue
            if name == "reference":
                reference.append(accuracy)
                seconds.append(took)
                histories.append(document["extra_data"]["records"][check.id].get("history") or {})
            else:
                bugs[name] = max(bugs.get(name, 0.0), accuracy)
        figures.append(Figures(check.id, reference, seconds, bugs, check.threshold, failures, _mean_curves(histories)))
    return figures


def _mean_curves(histories: list[dict]) -> dict[str, list[float]]:
    """Per history key present in every run with the same length: the mean per epoch."""
    keys = set.intersection(*(set(h) for h in histories)) if histories else set()
    curves = {}
    for key in sorted(keys):
        runs = [h[key] for h in histories]
        if all(isinstance(run, list) and run and len(run) == len(runs[0]) for run in runs):
            curves[key] = [statistics.mean(values) for values in zip(*runs)]
    return curves


def curves_path(assignment: str) -> Path:
    return GRADERS / assignment / "reference_curves.json"


def write_curves(assignment: str, figures: list[Figures], seeds: int) -> Path:
    """Store each check's reference curves with its current budget (other checks' entries are kept)."""
    grading = config.load().assignment(assignment)
    path = curves_path(assignment)
    stored = json.loads(path.read_text()) if path.exists() else {}
    for figure in figures:
        if figure.curves:
            stored[figure.check] = {"budget": grading.check(figure.check).budget, "seeds": seeds,
                                    "history": {k: [round(v, 4) for v in values] for k, values in figure.curves.items()}}
    path.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
    return path


def reference_curves(assignment: str) -> dict[str, dict]:
    """Check id -> stored reference curves (``{"seeds", "history"}``) of ``assignment``, for the checks whose
    curves were measured with their current budget."""
    path = curves_path(assignment)
    if not path.exists():
        return {}
    checks = config.load().assignment(assignment)
    return {check: entry for check, entry in json.loads(path.read_text()).items()
            if entry["budget"] == checks.check(check).budget}
