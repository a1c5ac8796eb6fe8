"""Training behaviour: train_loop learns the double moon; the student's ConvNet, trained through its own
fit/train/test, learns real Fashion-MNIST (cpu tier) and CIFAR-10 (gpu tier). The worker returns the
trained weights; the grader predicts the held-out data with the handout's networks: held-out data and
labels never leave the grader."""

import numpy as np

from autograder.graders.recvis_a2 import _reference as ref
from autograder.judges.accuracy import (
    Splits,
    assert_accuracy,
    draw_images,
    judge_trained,
    load_trained,
    training_budget,
)
from autograder.judges.values import expect_arrays, float_arrays
from autograder.sandbox import fastdata


def test_train_loop_double_moon(probe, check, seed, rng, record):
    sizes, budget = check.budget, training_budget(check.budget)
    Xtr, Ytr, Xval, Yval = ref.data.double_moon(n_train=sizes["n_train"], n_val=sizes["n_monitor"],
                                                 seed=int(rng.integers(2**31)))
    Xheld, Yheld, _, _ = ref.data.double_moon(n_train=sizes["n_held"], n_val=0, seed=int(rng.integers(2**31)))
    splits = Splits(Xtr, Ytr, Xval, Yval, Xheld, (Yheld > 0).astype(np.int64), budget)
    h = budget["h"]
    where = f"twolayer.train_loop (h = {h}, lrate = {budget['lrate']}, {budget['nEpochs']} epochs) on the double moon"
    got = probe("train_loop", **splits.sent(), budget=budget, train_seed=seed % 2**31)
    n = len(Ytr)
    for key in ("tr_error", "val_error"):
        curve = np.asarray(got[key], dtype=np.float64)
        if curve.ndim == 1 and len(curve) == budget["nEpochs"] * n:
            record.setdefault("history", {})[key] = curve[n - 1::n].tolist()  # end of each epoch, in %
    weights = expect_arrays(float_arrays(got), {"Wi": (Xtr.shape[1], h), "bi": (h,), "Wo": (h,), "bo": ()},
                            "twolayer.train_loop")
    scores = np.maximum(Xheld @ weights["Wi"] + weights["bi"], 0) @ weights["Wo"] + weights["bo"]
    predictions = np.where(scores > 0, 1, np.where(scores < 0, 0, -1)).astype(np.int64)  # 0 scores are errors
    assert_accuracy(predictions, splits.held_Y, check.threshold, where, record)


def _images_check(probe, check, seed, rng, record, root, name: str, where: str) -> None:
    splits = draw_images(root, name, check.budget, rng)
    got = probe("train", **splits.sent(), budget=splits.budget, train_seed=seed % 2**31)
    layers = "conv1, pool1, conv2, pool2, linear1, linear2 as the handout builds them"
    judge_trained(got, splits, lambda got: load_trained(ref.convnet.ConvNet(), got["state"], "convnet.ConvNet", layers),
                  lambda got: fastdata.symmetric_rgb(splits.held_X), check.threshold, where, record)


def test_fashion_mnist(probe, check, seed, rng, record, data_root):
    _images_check(probe, check, seed, rng, record, data_root, "FashionMNIST",
                  "convnet.ConvNet trained with convnet.fit (your train/test) on Fashion-MNIST padded to 3×32×32")


def test_cifar10(probe, check, seed, rng, record, gpu_data_root):
    _images_check(probe, check, seed, rng, record, gpu_data_root("CIFAR10"), "CIFAR10",
                  "convnet.ConvNet trained with convnet.fit (your train/test) on CIFAR-10")
