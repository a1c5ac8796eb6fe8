"""Training behaviour: train_loop learns the double moon; the student's ConvNet, trained through its own
fit/train/test, learns real Fashion-MNIST (cpu tier) and CIFAR-10 (gpu tier). The worker returns the
trained weights; the grader predicts the held-out data with the handout's networks: held-out data and
labels never leave the grader."""

import numpy as np

from autograder import data as datasets
from autograder.checks.accuracy import assert_accuracy, load_trained, predict, private_classes
from autograder.checks.values import expect_arrays, float_arrays
from autograder.graders.recvis_a2 import _reference as ref
from autograder.sandbox import fastdata


def test_train_loop_double_moon(probe, check, seed, rng, record):
    budget = dict(check.budget)
    n_held, h = budget.pop("n_held"), budget["h"]
    Xtr, Ytr, Xval, Yval = ref.data.double_moon(n_train=budget.pop("n_train"), n_val=budget.pop("n_val"),
                                                 seed=int(rng.integers(2**31)))
    Xheld, Yheld, _, _ = ref.data.double_moon(n_train=n_held, n_val=0, seed=int(rng.integers(2**31)))
    where = f"twolayer.train_loop (h = {h}, lrate = {budget['lrate']}, {budget['nEpochs']} epochs) on the double moon"
    got = probe("train_loop", Xtr=Xtr, Ytr=Ytr, Xval=Xval, Yval=Yval, train_seed=seed % 2**31, **budget)
    n = len(Ytr)
    for key in ("tr_error", "val_error"):
        curve = np.asarray(got[key], dtype=np.float64)
        if curve.ndim == 1 and len(curve) == budget["nEpochs"] * n:
            record.setdefault("history", {})[key] = curve[n - 1::n].tolist()  # end of each epoch, in %
    weights = expect_arrays(float_arrays(got), {"Wi": (Xtr.shape[1], h), "bi": (h,), "Wo": (h,), "bo": ()},
                            "twolayer.train_loop")
    scores = np.maximum(Xheld @ weights["Wi"] + weights["bi"], 0) @ weights["Wo"] + weights["bo"]
    predictions = np.where(scores > 0, 1, np.where(scores < 0, 0, -1)).astype(np.int64)  # 0 scores are errors
    assert_accuracy(predictions, (Yheld > 0).astype(np.int64), check.threshold, where, record)


def _images_check(probe, check, seed, rng, record, root, name: str, where: str) -> None:
    budget = dict(check.budget)
    n_monitor, n_held = budget.pop("n_test"), budget.pop("n_held")
    train = datasets.subset(root, name, True, budget.pop("n_train"), rng)
    test = datasets.subset(root, name, False, n_monitor + n_held, rng)
    order = rng.permutation(len(test[1]))
    monitor, held = order[:n_monitor], order[n_monitor:]
    names = private_classes(rng)  # the worker sees the classes under private names
    got = probe("train", train_X=train[0], train_y=names[train[1]], test_X=test[0][monitor],
                test_y=names[test[1][monitor]], budget={**budget, "seed": int(seed % 2**31)})
    record["history"] = got["history"]
    model = load_trained(ref.convnet.ConvNet(), got["state"], "convnet.ConvNet",
                         "conv1, pool1, conv2, pool2, linear1, linear2 as the handout builds them")
    images = fastdata.symmetric_rgb(datasets.disguised(test[0][held], rng))
    assert_accuracy(np.argsort(names)[predict(model, images)], test[1][held], check.threshold, where, record)


def test_fashion_mnist(probe, check, seed, rng, record, data_root):
    _images_check(probe, check, seed, rng, record, data_root, "FashionMNIST",
                  "convnet.ConvNet trained with convnet.fit (your train/test) on Fashion-MNIST padded to 3×32×32")


def test_cifar10(probe, check, seed, rng, record, gpu_data_root):
    _images_check(probe, check, seed, rng, record, gpu_data_root("CIFAR10"), "CIFAR10",
                  "convnet.ConvNet trained with convnet.fit (your train/test) on CIFAR-10")
