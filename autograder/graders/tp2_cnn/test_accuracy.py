"""Training behaviour: the student's CifarNet, trained by its train.main on the kit's fast data path
(tensors on the device, standardised with its data.channel_stats, batched crops and flips), learns real
Fashion-MNIST brought to 3×32×32 (cpu tier) and real CIFAR-10 with the handout's settings (gpu tier).
The worker returns the trained weights and the channel statistics they were trained with; the grader loads
them into the handout's CifarNet and predicts the held-out images itself: held-out images and labels never
leave the grader. The student's per-sample transforms have checks of their own (test_data.py)."""

import numpy as np
import pytest

from autograder.graders.tp2_cnn import _reference as ref
from autograder.judges import CheckFailed
from autograder.judges.accuracy import draw_images, judge_trained, load_trained
from autograder.sandbox import fastdata

LAYERS = "features.conv1 … features.pool3, classifier.fc4 … classifier.fc5"


def _stats(stats, where: str) -> tuple[list[float], list[float]]:
    """The (mean, std) the worker's ``data.channel_stats`` gave: 3 finite numbers each, std > 0."""
    parts = [stats.get(name) if isinstance(stats, dict) else None for name in ("mean", "std")]
    if not all(isinstance(p, list) and len(p) == 3 and all(isinstance(v, float) and np.isfinite(v) for v in p)
               for p in parts) or min(parts[1]) <= 0:
        raise CheckFailed(f"{where}: data.channel_stats should give 3 finite means and 3 positive standard "
                          f"deviations, got {repr(stats)[:200]}")
    return parts[0], parts[1]


def _train_and_judge(probe, check, seed, record, splits, where: str) -> None:
    budget = splits.budget
    got = probe("train", **splits.sent(), budget=budget, train_seed=seed % 2**31)
    flags = {k: bool(budget.get(k, False)) for k in ("batch_norm", "dropout", "ceil_mode")}

    def inputs(got):
        mean, std = _stats(got["stats"], where) if budget["normalize"] else (None, None)
        images = fastdata.channels_first(fastdata.rgb(splits.held_X, int(budget.get("pad", 0))), mean, std)
        return fastdata.center_crop(images, int(budget.get("crop", 28))) if budget["augment"] else images

    judge_trained(got, splits, lambda got: load_trained(ref.models.CifarNet(**flags), got["state"], where, LAYERS),
                  inputs, check.threshold, where, record)


def test_fashion_mnist(probe, check, seed, rng, record, data_root):
    _train_and_judge(probe, check, seed, record, draw_images(data_root, "FashionMNIST", check.budget, rng),
                     "train.main with models.CifarNet on Fashion-MNIST (3×32×32)")


@pytest.mark.parametrize("config", ["baseline", "augmentation", "dropout"])
def test_cifar10(probe, check, seed, rng, record, gpu_data_root, config):
    _train_and_judge(probe, check, seed, record, draw_images(gpu_data_root("CIFAR10"), "CIFAR10", check.budget, rng),
                     f"train.main with models.CifarNet on CIFAR-10 ({config} settings)")
