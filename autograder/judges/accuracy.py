"""Accuracy judges and the recipe every lab's accuracy check follows. Held-out data never leave the
grader: the worker trains and returns the trained parameters; the grader loads them into the handout's
architecture (built here from the solution, no student code) and predicts the held-out images itself,
against labels that never left the grader.

The recipe: :func:`draw_images` draws, with the check's private ``rng``, ``n_train`` training images and
from the test set a monitor split (``n_monitor`` images: sent with their labels, for the learning curve)
and a disjoint held-out split (``n_held`` images: kept, disguised); the probe ``train(train_X, train_Y,
monitor_X, monitor_Y, budget, train_seed, ...)`` trains in the worker (``budget``: the check's budget
without the split sizes); :func:`judge_trained` records the history and judges the held-out predictions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder import data
from autograder.judges import CheckFailed
from autograder.judges.values import expect_array

#: budget keys that size the splits; the rest of a budget is what the student's training takes
SPLIT_SIZES = ("n_train", "n_monitor", "n_held")


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


def load_trained(model, state, where: str, names: str):
    """``model`` (a torch module of the handout's architecture, built by the grader) holding the trained
    parameters and buffers the worker returned: ``state`` maps each ``state_dict`` name to an array of the
    shape the handout's layer has. CheckFailed naming the missing, unexpected or misshapen entries
    (``names`` says which layer names the handout asks for)."""
    import torch

    own = model.state_dict()
    if not isinstance(state, dict):
        raise CheckFailed(f"{where}: the trained model's state_dict should be a dict, got {type(state).__name__}")
    missing, unexpected = [n for n in own if n not in state], [str(n) for n in state if n not in own]
    if missing or unexpected:
        raise CheckFailed(f"{where}: the trained model is not the architecture the handout asks for ({names}): "
                          f"state_dict entries missing: {', '.join(missing[:6]) or 'none'}; unexpected: "
                          f"{', '.join(unexpected[:6])[:300] or 'none'}")
    loaded = {}
    for name, target in own.items():
        value = state[name]
        if isinstance(value, np.ndarray) and target.dim() == 0 and value.size == 1:
            value = value.reshape(())  # the wire sends 0-d arrays as 1-element arrays
        kind = "f" if target.is_floating_point() else "i"
        loaded[name] = torch.as_tensor(expect_array(value, f"{where}: the trained {name}", tuple(target.shape),
                                                    kind)).to(target.dtype)
    model.load_state_dict(loaded)
    return model.eval()


def private_classes(rng: np.random.Generator, classes: int = 10) -> np.ndarray:
    """A private renaming of the classes (classes,): the worker trains on ``names[labels]``, so that weights
    trained elsewhere on the public labels score like chance; ``np.argsort(names)[predictions]`` names the
    predictions back."""
    return rng.permutation(classes)


def predict(model, images, batch: int = 100) -> np.ndarray:
    """Class predictions (N,) int64 of ``model`` (grader-built, loaded with :func:`load_trained`) on
    ``images`` (N, ...) float tensor, by the arg-max of its logits, ``batch`` images at a time."""
    import torch

    with torch.no_grad():
        parts = [model(images[start:start + batch]).argmax(dim=1) for start in range(0, len(images), batch)]
    return torch.cat(parts).cpu().numpy().astype(np.int64)


@dataclass(frozen=True)
class Splits:
    """One accuracy check's data, drawn with the grader's private ``rng``: the training and monitor splits
    (inputs, labels) go to the worker, labels under the private class names ``names`` (None: the public
    ones); the held-out split stays here. ``budget``: what the student's training takes (no split sizes)."""

    train_X: np.ndarray
    train_Y: np.ndarray
    monitor_X: np.ndarray
    monitor_Y: np.ndarray
    held_X: np.ndarray
    held_Y: np.ndarray
    budget: dict = field(default_factory=dict)
    names: np.ndarray | None = None

    def sent(self) -> dict[str, np.ndarray]:
        """The training probe's data arguments: ``train_X``, ``train_Y``, ``monitor_X``, ``monitor_Y``."""
        rename = (lambda labels: labels) if self.names is None else (lambda labels: self.names[labels])
        return {"train_X": self.train_X, "train_Y": rename(self.train_Y), "monitor_X": self.monitor_X,
                "monitor_Y": rename(self.monitor_Y)}


def training_budget(budget: dict) -> dict:
    """A check's ``budget`` without the split sizes: the settings the student's training takes."""
    return {k: v for k, v in budget.items() if k not in SPLIT_SIZES}


def draw_images(data_root: Path, name: str, budget: dict, rng: np.random.Generator) -> Splits:
    """``budget["n_train"]`` training images of data set ``name`` and, from its test set, disjoint monitor
    (``n_monitor``) and held-out (``n_held``, disguised by ``data.disguised``) splits, all uint8 images
    (N, H, W[, 3]) with int64 labels (N,), drawn by the grader's private ``rng``; the classes get private
    names (:func:`private_classes`)."""
    n_monitor = budget["n_monitor"]
    train_X, train_Y = data.subset(data_root, name, True, budget["n_train"], rng)
    test_X, test_Y = data.subset(data_root, name, False, n_monitor + budget["n_held"], rng)
    order = rng.permutation(len(test_Y))
    monitor, held = order[:n_monitor], order[n_monitor:]
    names = private_classes(rng)
    return Splits(train_X, train_Y, test_X[monitor], test_Y[monitor], data.disguised(test_X[held], rng),
                  test_Y[held], training_budget(budget), names)


def judge_trained(got: dict, splits: Splits, model: Callable, inputs: Callable, threshold: float, where: str,
                  record: dict) -> float:
    """The recipe's end, once the training probe returned ``got``: record its learning curves
    (``got["history"]``), load what it trained into the handout's architecture (``model(got)``: a torch
    module, see :func:`load_trained`), predict the held-out inputs (``inputs(got)``: a tensor (N, ...)),
    name the predictions back from the private class names and judge them against the held-out labels."""
    record["history"] = got["history"]
    predictions = predict(model(got), inputs(got))
    if splits.names is not None:
        predictions = np.argsort(splits.names)[predictions]
    return assert_accuracy(predictions, splits.held_Y, threshold, where, record)
