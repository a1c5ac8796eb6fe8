"""Question 7: the training step, the optimizer of train.train, and the student's ViT trained through the
student's own train.train on real data. The worker returns the trained weights; the grader loads them into
the handout's ViT and predicts the held-out images itself: held-out images and labels never leave it."""

import numpy as np
import torch

from autograder.graders.tp3_vit import _reference as ref
from autograder.judges import CheckFailed
from autograder.judges.accuracy import draw_images, judge_trained, load_trained
from autograder.judges.steps import adam_cause, adam_trajectory, assert_trajectory
from autograder.judges.values import assert_close, expect_number


def test_train_step(probe, rng):
    batch, classes = int(rng.integers(6, 12)), int(rng.integers(3, 6))
    images, labels = rng.normal(0, 1, (batch, 1, 4, 4)), rng.integers(0, classes, batch)
    state = {"1.weight": rng.normal(0, 0.5, (classes, 16)), "1.bias": rng.normal(0, 0.5, classes)}
    lr = float(rng.uniform(0.1, 0.5))
    got = probe("train_steps", state=state, images=images, labels=labels, lr=lr, steps=2)
    want = ref.sgd_train_steps(state, images, labels, lr, steps=2)
    where = "train.train_step"
    for step, (mine, theirs) in enumerate(zip(got, want), start=1):
        loss = expect_number(mine["loss"], f"{where}'s returned loss (step {step})")
        if not np.isclose(loss, theirs["loss"], rtol=1e-6):
            raise CheckFailed(f"{where}: step {step} returns loss {loss:.6g}, expected the batch's mean "
                              f"cross-entropy before the update, {theirs['loss']:.6g}")
        correct = expect_number(mine["correct"], f"{where}'s returned number of correct predictions")
        if correct != theirs["correct"]:
            raise CheckFailed(f"{where}: step {step} returns correct = {correct:g}, expected {theirs['correct']} "
                              "(images whose arg-max logit is the label, before the update)")
        hint = " (are the gradients zeroed before each backward?)" if step > 1 else ""
        for name, value in theirs["state"].items():
            assert_close(mine["state"].get(name), value, f"{where}: the model's {name} after step {step}{hint}",
                         rtol=1e-6, atol=1e-9)


def test_train_adam(probe, rng):
    n_train, n_monitor, epochs, batch_size = 192, 64, 2, 64
    train_X = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    monitor_X = rng.integers(0, 256, (n_monitor, 28, 28), dtype=np.uint8)
    train_Y, monitor_Y = rng.integers(0, 10, n_train), rng.integers(0, 10, n_monitor)
    state = {"1.weight": rng.normal(0, 0.02, (10, 784)), "1.bias": np.zeros(10)}
    lr = float(np.round(rng.uniform(5e-4, 3e-3), 5))
    seed = int(rng.integers(0, 2**31))
    budget = {"epochs": epochs, "batch_size": batch_size, "lr": lr}
    got = probe("train_tiny", train_X=train_X, train_Y=train_Y, monitor_X=monitor_X, monitor_Y=monitor_Y,
                budget=budget, train_seed=seed, state=state)
    want_state, want_history = ref.adam_training(state, (train_X, train_Y), (monitor_X, monitor_Y), seed=seed,
                                                 **budget)
    where = f"train.train(model, ..., epochs={epochs}, batch_size={batch_size}, lr={lr})"
    for name, value in want_state.items():
        assert_close(got["state"].get(name), value, f"{where}: the trained model's {name} (expected "
                     f"torch.optim.Adam(model.parameters(), lr={lr}) stepped once per mini-batch)", rtol=1e-3,
                     atol=1e-5)
    for key, values in want_history.items():
        if not np.allclose(got["history"][key], values, rtol=1e-3, atol=1e-4):
            raise CheckFailed(f"{where}: history[{key!r}] = {np.round(got['history'][key], 4).tolist()}, expected "
                              f"{np.round(values, 4).tolist()} (train_step must return the batch's mean loss and "
                              "its number of correct predictions)")


def test_train_optimizer_is_adam(probe, rng):
    """The optimizer train.train hands to train_step, rebuilt by its class and settings, takes Adam(lr)'s
    steps with fixed gradients (AdamW, weight decay, another lr or SGD show in the values)."""
    n = 8
    images, labels = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)
    lr = float(np.round(rng.uniform(5e-4, 3e-3), 5))
    start = {"weight": rng.normal(0, 1, (3, 4)), "bias": rng.normal(0, 1, 3)}
    grads = {name: rng.normal(0, 1e-3, np.shape(value)) for name, value in start.items()}
    got = probe("train_optimizer", images=images, labels=labels, lr=lr, start=start, grads=grads, steps=3)
    assert_trajectory(got, adam_trajectory(start, grads, lr, steps=3), start,
                      f"train.train(..., lr={lr})'s optimizer (expected torch.optim.Adam(model.parameters(), lr={lr}))",
                      cause=lambda steps: adam_cause(start, grads, steps, lr), rtol=1e-10, atol=1e-12)


def test_train_pairs_each_image_with_its_label(probe, rng):
    """The batches train.train hands to train_step: each image (found back by correlation with the grader's
    images) comes with its own label, and every epoch draws every example once."""
    n, epochs, batch_size = 10, 2, 4
    images, labels = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.permutation(10)
    got = probe("train_batches", images=images, labels=labels, epochs=epochs, batch_size=batch_size)
    where = f"train.train(..., epochs={epochs}, batch_size={batch_size}) on {n} images"
    flat = images.reshape(n, -1).astype(np.float64)
    flat = (flat - flat.mean(axis=1, keepdims=True)) / flat.std(axis=1, keepdims=True)
    drawn = []
    for number, batch in enumerate(got, start=1):
        seen = np.asarray(batch["images"], dtype=np.float64)
        seen = (seen - seen.mean(axis=1, keepdims=True)) / (seen.std(axis=1, keepdims=True) + 1e-12)
        index = np.argmax(seen @ flat.T, axis=1)
        given = np.asarray(batch["labels"]).reshape(-1)
        if len(given) != len(index) or np.any(given != labels[index]):
            raise CheckFailed(f"{where}: batch {number} hands train_step images with the labels of other images: "
                              "shuffle images and labels with the same permutation (index both with the same order)")
        drawn += index.tolist()
    per_epoch = [sorted(drawn[e * n:(e + 1) * n]) for e in range(epochs)]
    if len(drawn) != epochs * n or any(epoch != list(range(n)) for epoch in per_epoch):
        raise CheckFailed(f"{where}: the batches draw the images {drawn}; expected every image exactly once per "
                          "epoch (a permutation of the training set, cut into batches)")


def _accuracy_check(probe, check, seed, rng, record, root, name: str) -> None:
    splits = draw_images(root, name, check.budget, rng)
    budget = dict(splits.budget)
    model = budget.pop("model")
    config = ref.vit_config(**model)
    got = probe("train", **splits.sent(), budget=budget, train_seed=seed, model=config)
    where = (f"vit.ViT(patch_size={model['patch_size']}, embed_dim={model['embed_dim']}) trained by train.train "
             f"({budget['epochs']} epochs) on {name}")
    layers = "patch_embed.proj, cls_token, pos_embed, blocks, norm, head, named as timm names them"
    judge_trained(got, splits, lambda got: load_trained(ref.vit.ViT(**config), got["state"], where, layers),
                  lambda got: ref.train.prepare_images(torch.tensor(splits.held_X)), check.threshold, where, record)


def test_fashion_mnist(probe, check, seed, rng, record, data_root):
    _accuracy_check(probe, check, seed, rng, record, data_root, "FashionMNIST")


def test_mnist(probe, check, seed, rng, record, gpu_data_root):
    _accuracy_check(probe, check, seed, rng, record, gpu_data_root("MNIST"), "MNIST")
