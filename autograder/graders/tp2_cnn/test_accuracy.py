"""Training behaviour: the student's CifarNet, trained by its train.main on the kit's fast data path
(tensors on the device, standardised with its data.channel_stats, batched crops and flips), learns real
Fashion-MNIST brought to 3×32×32 (cpu tier) and real CIFAR-10 with the handout's settings (gpu tier).
Predictions are made in the worker; the held-out labels stay here. The student's per-sample transforms
have checks of their own (test_data.py)."""

import numpy as np
import pytest

from autograder import data as datasets
from autograder.checks.accuracy import assert_accuracy


def _split(images: np.ndarray, labels: np.ndarray, n_monitor: int, rng) -> tuple[tuple, tuple]:
    """Disjoint monitor set (labels sent: the history's test curve) and held-out set (labels kept)."""
    order = rng.permutation(len(labels))
    monitor, held = order[:n_monitor], order[n_monitor:]
    return (images[monitor], labels[monitor]), (images[held], labels[held])


def _train_and_judge(probe, check, seed, record, train, monitor, held, config, where: str) -> None:
    got = probe("train_and_predict", train_X=train[0], train_Y=train[1], test_X=monitor[0], test_Y=monitor[1],
                held_X=held[0], config=config, train_seed=seed % 2**31)
    record["history"] = got["history"]
    record["config"] = config
    assert_accuracy(got["predictions"], held[1], check.threshold, where, record)


def test_fashion_mnist(probe, check, seed, rng, record, data_root):
    budget = dict(check.budget)
    train = datasets.subset(data_root, "FashionMNIST", True, budget.pop("n_train"), rng)
    n_monitor = budget.pop("n_monitor")
    test = datasets.subset(data_root, "FashionMNIST", False, budget.pop("n_test") + n_monitor, rng)
    monitor, held = _split(*test, n_monitor, rng)
    _train_and_judge(probe, check, seed, record, train, monitor, held, budget,
                     "train.main with models.CifarNet on Fashion-MNIST (3×32×32)")


@pytest.mark.parametrize("config", ["baseline", "augmentation", "dropout"])
def test_cifar10(probe, check, seed, rng, record, gpu_data_root, config):
    root = gpu_data_root("CIFAR10")
    budget = dict(check.budget)
    n_train, n_monitor, n_test = budget.pop("n_train", 50000), budget.pop("n_monitor", 1000), budget.pop("n_test", 9000)
    images, labels = datasets.images(root, "CIFAR10", True)
    keep = np.sort(rng.choice(len(labels), size=min(n_train, len(labels)), replace=False))
    test_images, test_labels = datasets.images(root, "CIFAR10", False)
    monitor, held = _split(test_images, test_labels, n_monitor, rng)
    held = (held[0][:n_test], held[1][:n_test])
    _train_and_judge(probe, check, seed, record, (images[keep], labels[keep]), monitor, held, budget,
                     f"train.main with models.CifarNet on CIFAR-10 ({config} settings)")
