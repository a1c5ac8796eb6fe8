"""The training loops of train.py step for step: each ``train_<variant>`` run for 2 epochs on a small problem
must end with the parameters the reference loop reaches from the same data and seed (the same
initialisation, batches and one update per batch). Cheap, and it names the loop, where the accuracy checks
only see a poor score."""

import numpy as np
import pytest
import torch

from autograder import reference
from autograder.graders.tp1_mlp import _reference as ref
from autograder.graders.tp1_mlp.test_accuracy import trained_mlp
from autograder.judges import CheckFailed
from autograder.judges.values import assert_close

LOOP = {"epochs": 2, "batch_size": 8, "eta": 0.1}  # 3 batches per epoch on 21 examples: the last one smaller
STEPS = {"manual": "manual.sgd", "autograd": "autograd_mlp.train_step", "nn": "nn_mlp.train_step",
         "optim": "optim_mlp.train_step", "mnist": "optim_mlp.train_step"}


def _problem(rng: np.random.Generator, variant: str) -> tuple[dict, int, int]:
    """Float32 inputs (21, nx) and labels (21,) for training, 6 more for the loop's evaluation; nx, classes."""
    nx, classes = (28 * 28, 10) if variant == "mnist" else (2, 2)
    X = rng.random((27, nx)).astype(np.float32) if variant == "mnist" else rng.normal(0, 1, (27, nx)).astype(np.float32)
    Y = rng.integers(0, classes, 27)
    Y[:classes] = np.arange(classes)  # every class in the training split: the one-hot width is the number of classes
    return {"train_X": X[:21], "train_Y": Y[:21], "monitor_X": X[21:], "monitor_Y": Y[21:]}, nx, classes


def _reference_state(sent: dict, classes: int, budget: dict, seed: int, variant: str) -> dict[str, np.ndarray]:
    """The reference ``train.train_<variant>`` on the same data: its parameters as a Sequential's state dict."""
    data = {"Xtrain": torch.tensor(sent["train_X"]), "Xtest": torch.tensor(sent["monitor_X"]),
            "Ytrain": torch.nn.functional.one_hot(torch.tensor(sent["train_Y"]), classes).float(),
            "Ytest": torch.nn.functional.one_hot(torch.tensor(sent["monitor_Y"]), classes).float()}
    trained, _ = getattr(reference.module("tp1_mlp", "train"), f"train_{variant}")(data, seed=seed, quiet=True,
                                                                                      **budget)
    if isinstance(trained, dict):
        return ref.sequential_state({k: v.detach().numpy() for k, v in trained.items()})
    return {k: v.detach().numpy() for k, v in trained.state_dict().items()}


@pytest.mark.parametrize("variant", list(STEPS))
def test_training_loop_takes_the_reference_steps(probe, rng, seed, variant):
    sent, nx, classes = _problem(rng, variant)
    nh = int(rng.integers(3, 7))
    budget = {**LOOP, "nh": nh}
    where = f"train.train_{variant}"
    got = probe("train", **sent, budget=budget, train_seed=seed % 2**31, variant=variant)
    state = {k: v.numpy() for k, v in trained_mlp(got, nx, nh, classes, where).state_dict().items()}
    labels = ref.sequential_state({k: k for k in ref.PARAMS}) if "params" in got else {k: k for k in state}
    want = _reference_state(sent, classes, budget, seed % 2**31, variant)
    start = _reference_state(sent, classes, {**budget, "epochs": 0}, seed % 2**31, variant)
    if all(np.allclose(state[k], start[k], rtol=1e-6, atol=1e-7) for k in state):
        raise CheckFailed(f"{where}: after 2 epochs of 3 batches the parameters are still the initial ones: take one "
                          f"step ({STEPS[variant]}) on every batch")
    for name, value in state.items():
        assert_close(value, want[name], f"{where}: {labels[name]} after 2 epochs of 3 batches (one {STEPS[variant]} "
                     "per batch, in the loop's batch order, from the seeded initialisation)", rtol=1e-3, atol=1e-5)
