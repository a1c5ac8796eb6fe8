"""Part 3 (ablations.py): the curves and the rows of the table of the ablations, from the grader's histories."""

import numpy as np

from autograder.judges import CheckFailed

NAMES = ["baseline", "standardisation", "augmentation", "optim", "dropout", "batchnorm"]
KEYS = ("train_loss", "test_loss", "train_acc", "test_acc")


def _histories(rng) -> tuple[list[str], dict]:
    """3-5 configurations of 3-6 epochs of random curves (losses in [0.3, 2.3], accuracies in [0.1, 1]); the
    best test accuracy of each is never its last one (so best and final differ)."""
    names = NAMES[:int(rng.integers(3, 6))]
    epochs = int(rng.integers(3, 7))
    histories = {name: {key: np.round(rng.uniform(*((0.3, 2.3) if "loss" in key else (0.1, 1.0)), epochs), 4)
                        for key in KEYS} for name in names}
    for history in histories.values():
        test_acc = history["test_acc"]
        best = int(test_acc.argmax())
        if best == epochs - 1:
            test_acc[[0, best]] = test_acc[[best, 0]]
    return names, histories


def test_plot_curves(probe, rng):
    names, histories = _histories(rng)
    got = probe("plot_curves", histories=histories, names=names)
    where = "ablations.plot_curves(histories)"
    axes_of = {}
    for name in names:
        for key in KEYS:
            series = histories[name][key]
            found = [index for index, ax in enumerate(got["axes"]) for line in ax["lines"]
                     if line["y"].shape == series.shape and np.allclose(line["y"], series)]
            if not found:
                raise CheckFailed(f"{where}: no curve shows {name}'s {key} (one line per configuration and per "
                                  "train/test loss and accuracy, one point per epoch)")
            axes_of[(name, key)] = found[0]
    losses = {axes_of[(name, key)] for name in names for key in KEYS if "loss" in key}
    accuracies = {axes_of[(name, key)] for name in names for key in KEYS if "acc" in key}
    if len(losses) != 1 or len(accuracies) != 1 or losses == accuracies:
        raise CheckFailed(f"{where}: draw every loss curve in one subplot and every accuracy curve in another")
    labels = " ".join(line["label"] for ax in got["axes"] for line in ax["lines"])
    missing = [name for name in names if name not in labels]
    if missing:
        raise CheckFailed(f"{where}: no curve is labelled with {missing[0]!r}; label each configuration's curves "
                          "with its name (legend)")


def test_ablation_table(probe, rng):
    names, histories = _histories(rng)
    rows = probe("ablation_table", histories=histories, names=names)
    where = "ablations.ablation_table(histories)"
    if [row.get("name") for row in rows] != names:
        raise CheckFailed(f"{where}: the rows should name the configurations in order, {names}; got "
                          f"{[row.get('name') for row in rows]}")
    previous = None
    for name, row in zip(names, rows):
        history = histories[name]
        want = {"train_acc": history["train_acc"][-1], "test_acc": history["test_acc"][-1],
                "best_test_acc": history["test_acc"].max(),
                "gap": history["train_acc"][-1] - history["test_acc"][-1],
                "change": None if previous is None else history["test_acc"][-1] - previous}
        previous = history["test_acc"][-1]
        for key, value in want.items():
            got = row.get(key, "missing")
            if value is None:
                if got is not None:
                    raise CheckFailed(f"{where}: row {name!r} has change={got!r}; the first row has no previous "
                                      "configuration: change=None")
                continue
            if isinstance(got, bool) or not isinstance(got, (int, float)) or not np.isclose(got, value, atol=1e-9):
                raise CheckFailed(f"{where}: row {name!r} has {key}={got!r}, expected {value:.6g}")
