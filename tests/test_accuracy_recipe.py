"""The accuracy recipe (``judges/accuracy.py``) and the budget vocabulary of grading.yml, in process (~3 s):
budgets size their splits with ``n_train``, ``n_monitor``, ``n_held`` only, the settings a probe forwards to
the handout's training function as keyword arguments are parameters of it (the training seed goes as the
probe's own ``train_seed``), and the drawn splits are disjoint, sized as asked, renamed on the way out."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from autograder import config, data, reference
from autograder.judges.accuracy import SPLIT_SIZES, draw_images, training_budget
from autograder.sandbox.probing import StudentError, learning_curves

#: (assignment, test function) -> the handout's function its probe calls with ``**budget``, per parameter
FORWARDED = {("tp1_mlp", "test_accuracy.py::test_circles"): "train.train_{param}",
             ("tp1_mlp", "test_accuracy.py::test_fashion_mnist"): "train.train_mnist",
             ("tp1_mlp", "test_accuracy.py::test_mnist"): "train.train_mnist",
             ("recvis_a2", "test_training.py::test_fashion_mnist"): "convnet.fit",
             ("recvis_a2", "test_training.py::test_cifar10"): "convnet.fit"}
BUDGETS = [(a, c) for a in config.load().assignments for c in config.load().assignment(a).checks if c.budget]


@pytest.mark.parametrize("assignment, check", BUDGETS, ids=[f"{a}-{c.id}" for a, c in BUDGETS])
def test_budget_speaks_the_vocabulary(assignment, check):
    sizes = {k for k in check.budget if k.startswith("n_")}
    assert sizes <= set(SPLIT_SIZES), f"{check.id}: split sizes are named {', '.join(SPLIT_SIZES)}"
    assert "seed" not in check.budget and "train_seed" not in check.budget, "the training seed is a probe argument"
    if "n_held" in sizes:
        assert {"n_train", "n_monitor"} <= sizes
    target = FORWARDED.get((assignment, check.id.partition("[")[0]))
    if target:
        module, _, function = target.format(param=check.id.partition("[")[2].rstrip("]")).partition(".")
        parameters = inspect.signature(getattr(reference.module(assignment, module), function)).parameters
        unknown = set(training_budget(check.budget)) - set(parameters)
        assert not unknown, f"{check.id}: {module}.{function} takes no {', '.join(sorted(unknown))}"


def test_draw_images_gives_disjoint_sized_splits_under_private_names():
    budget = {"n_train": 30, "n_monitor": 20, "n_held": 40, "epochs": 1}
    splits = draw_images(data.root(), "FashionMNIST", budget, np.random.default_rng(0))
    assert [len(a) for a in (splits.train_X, splits.monitor_X, splits.held_X)] == [30, 20, 40]
    assert splits.budget == {"epochs": 1} and sorted(splits.names) == list(range(10))
    test_X, _ = data.subset(data.root(), "FashionMNIST", False, 10000, np.random.default_rng(0))  # all of it
    flat = {image.tobytes(): index for index, image in enumerate(test_X)}
    monitor = {flat[image.tobytes()] for image in splits.monitor_X}
    assert len(monitor) == 20 and not any(image.tobytes() in flat for image in splits.held_X)  # disguised
    sent = splits.sent()
    assert set(sent) == {"train_X", "train_Y", "monitor_X", "monitor_Y"}
    assert np.array_equal(sent["monitor_Y"], splits.names[splits.monitor_Y])


def test_learning_curves_converts_and_checks_the_history():
    assert learning_curves({"loss": [1, 0.5], "start": {"x": 1}}, "f") == {"loss": [1.0, 0.5]}
    with pytest.raises(StudentError, match="f should return the history, a dict of lists test_acc"):
        learning_curves({"loss": [1.0]}, "f", keys=("test_acc",), epochs=1)
    with pytest.raises(StudentError, match=r"history\['loss'\] should hold 2 floats"):
        learning_curves({"loss": [1.0]}, "f", keys=("loss",), epochs=2)
