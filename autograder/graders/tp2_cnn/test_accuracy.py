"""Training behaviour: the student's CifarNet, trained by its train.main on the kit's fast data path
(tensors on the device, standardised with its data.channel_stats, batched crops and flips), learns real
Fashion-MNIST brought to 3×32×32 (cpu tier) and real CIFAR-10 with the handout's settings (gpu tier).
The worker returns the trained weights and the channel statistics they were trained with; the grader loads
them into the handout's CifarNet and predicts the held-out images itself: held-out images and labels never
leave the grader. The student's per-sample transforms have checks of their own (test_data.py)."""

import numpy as np
import pytest

from autograder import data as datasets
from autograder.checks import CheckFailed
from autograder.checks.accuracy import assert_accuracy, load_trained, predict, private_classes
from autograder.graders.tp2_cnn import _reference as ref
from autograder.sandbox import fastdata

LAYERS = "features.conv1 … features.pool3, classifier.fc4 … classifier.fc5"


def _split(images: np.ndarray, labels: np.ndarray, n_monitor: int, rng) -> tuple[tuple, tuple]:
    """Disjoint monitor set (labels sent: the history's test curve) and held-out set (kept here)."""
    order = rng.permutation(len(labels))
    monitor, held = order[:n_monitor], order[n_monitor:]
    return (images[monitor], labels[monitor]), (images[held], labels[held])


def _stats(stats, where: str) -> tuple[list[float], list[float]]:
    """The (mean, std) the worker's ``data.channel_stats`` gave: 3 finite numbers each, std > 0."""
    parts = [stats.get(name) if isinstance(stats, dict) else None for name in ("mean", "std")]
    if not all(isinstance(p, list) and len(p) == 3 and all(isinstance(v, float) and np.isfinite(v) for v in p)
               for p in parts) or min(parts[1]) <= 0:
        raise CheckFailed(f"{where}: data.channel_stats should give 3 finite means and 3 positive standard "
                          f"deviations, got {repr(stats)[:200]}")
    return parts[0], parts[1]


def _train_and_judge(probe, check, seed, rng, record, train, monitor, held, config, where: str) -> None:
    names = private_classes(rng)  # the worker sees the classes under private names
    got = probe("train", train_X=train[0], train_Y=names[train[1]], test_X=monitor[0], test_Y=names[monitor[1]],
                config=config, train_seed=seed % 2**31)
    record["history"] = got["history"]
    record["config"] = config
    model = ref.models.CifarNet(**{k: bool(config.get(k, False)) for k in ("batch_norm", "dropout", "ceil_mode")})
    model = load_trained(model, got["state"], where, LAYERS)
    mean, std = _stats(got["stats"], where) if config["normalize"] else (None, None)
    images = fastdata.channels_first(fastdata.rgb(datasets.disguised(held[0], rng), int(config.get("pad", 0))),
                                     mean, std)
    if config["augment"]:
        images = fastdata.center_crop(images, int(config.get("crop", 28)))
    assert_accuracy(np.argsort(names)[predict(model, images)], held[1], check.threshold, where, record)


def test_fashion_mnist(probe, check, seed, rng, record, data_root):
    budget = dict(check.budget)
    train = datasets.subset(data_root, "FashionMNIST", True, budget.pop("n_train"), rng)
    n_monitor = budget.pop("n_monitor")
    test = datasets.subset(data_root, "FashionMNIST", False, budget.pop("n_test") + n_monitor, rng)
    monitor, held = _split(*test, n_monitor, rng)
    _train_and_judge(probe, check, seed, rng, record, train, monitor, held, budget,
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
    _train_and_judge(probe, check, seed, rng, record, (images[keep], labels[keep]), monitor, held, budget,
                     f"train.main with models.CifarNet on CIFAR-10 ({config} settings)")
