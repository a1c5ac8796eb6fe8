"""Accuracy judge: predictions made in the worker against labels that never left the grader."""

from __future__ import annotations

import numpy as np

from autograder.checks import CheckFailed
from autograder.checks.values import expect_array


def assert_accuracy(predictions, labels: np.ndarray, threshold: float, where: str, record: dict) -> float:
    """Accuracy of integer ``predictions`` (N,) against ``labels`` (N,) must reach ``threshold``."""
    predictions = expect_array(predictions, f"{where}: predictions", (len(labels),), kind="i")
    accuracy = float(np.mean(predictions == labels))
    record["accuracy"] = accuracy
    record["threshold"] = threshold
    classes = int(max(labels.max(), 0)) + 1
    confusion = np.zeros((classes, classes), dtype=int)
    valid = (predictions >= 0) & (predictions < classes)
    np.add.at(confusion, (labels[valid], predictions[valid]), 1)
    record["confusion"] = confusion.tolist()
    if accuracy < threshold:
        raise CheckFailed(f"{where}: test accuracy {accuracy:.1%} is below the required {threshold:.1%}")
    return accuracy
