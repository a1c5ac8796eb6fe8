"""Reference computations of tp1_mlp (grader side, float64)."""

from __future__ import annotations

import numpy as np
import torch

from autograder import reference

manual = reference.module("tp1_mlp", "manual")
data = reference.module("tp1_mlp", "data")
svm = reference.module("tp1_mlp", "svm")
nn_mlp = reference.module("tp1_mlp", "nn_mlp")
PARAMS = ("Wh", "bh", "Wy", "by")


def random_problem(rng: np.random.Generator, batch: int | None = None) -> dict:
    """Random sizes, float64 parameters, inputs and one-hot targets."""
    nx, nh, ny = (int(v) for v in rng.integers(2, 7, size=3))
    batch = batch or int(rng.integers(3, 9))
    params = {"Wh": rng.normal(0, 0.5, (nh, nx)), "bh": rng.normal(0, 0.5, nh),
              "Wy": rng.normal(0, 0.5, (ny, nh)), "by": rng.normal(0, 0.5, ny)}
    labels = rng.integers(0, ny, batch)
    return {"nx": nx, "nh": nh, "ny": ny, "params": params, "X": rng.normal(0, 1, (batch, nx)),
            "Y": np.eye(ny)[labels], "labels": labels}


def tensors(arrays: dict) -> dict[str, torch.Tensor]:
    return {k: torch.tensor(v) for k, v in arrays.items()}


def forward(params: dict, X: np.ndarray) -> dict[str, np.ndarray]:
    _, outputs = manual.forward(tensors(params), torch.tensor(X))
    return {k: v.numpy() for k, v in outputs.items()}


def loss(params: dict, X: np.ndarray, Y: np.ndarray) -> float:
    yhat, _ = manual.forward(tensors(params), torch.tensor(X))
    return float(manual.loss_accuracy(yhat, torch.tensor(Y))[0])


def autograd_gradients(params: dict, X: np.ndarray, Y: np.ndarray) -> dict[str, np.ndarray]:
    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    yhat, _ = manual.forward(leaves, torch.tensor(X))
    manual.loss_accuracy(yhat, torch.tensor(Y))[0].backward()
    return {k: v.grad.numpy() for k, v in leaves.items()}


def sgd_steps(params: dict, X: np.ndarray, Y: np.ndarray, eta: float, steps: int) -> list[dict]:
    """Parameters after each of ``steps`` plain gradient steps on the mean cross-entropy."""
    current = {k: v.copy() for k, v in params.items()}
    history = []
    for _ in range(steps):
        grads = autograd_gradients(current, X, Y)
        current = {k: current[k] - eta * grads[k] for k in current}
        history.append({k: v.copy() for k, v in current.items()})
    return history


def step_losses(problem: dict, expected: list[dict]) -> list[float]:
    """The batch loss before each step: on the initial parameters, then on those after each step but the last."""
    return [loss(params, problem["X"], problem["Y"]) for params in [problem["params"], *expected[:-1]]]


def init_draws(nx: int, nh: int, ny: int, seed: int) -> dict[str, np.ndarray]:
    """The reference ``manual.init_params`` drawing from ``torch.Generator().manual_seed(seed)``."""
    drawn = manual.init_params(nx, nh, ny, generator=torch.Generator().manual_seed(seed))
    return {k: v.numpy() for k, v in drawn.items()}


def sequential_state(params: dict) -> dict[str, np.ndarray]:
    """The manual parameters as the state dict of Sequential(Linear, Tanh, Linear)."""
    return {"0.weight": params["Wh"], "0.bias": params["bh"], "2.weight": params["Wy"], "2.bias": params["by"]}


def svm_sweep(sets: dict[str, np.ndarray], Cs: list[float]) -> list[dict[str, float]]:
    """Per C, the reference ``svm.sweep_C``'s test accuracy and, to explain a wrong split, the training
    accuracy of the same ``SVC(kernel="rbf", C=C)``."""
    splits = {key: torch.tensor(sets[name]) for key, name in
              (("Xtrain", "train_X"), ("Ytrain", "train_Y"), ("Xtest", "monitor_X"), ("Ytest", "monitor_Y"))}
    on_train = svm.sweep_C({**splits, "Xtest": splits["Xtrain"], "Ytest": splits["Ytrain"]}, Cs)
    return [{"test": accuracy, "train": train} for (_, accuracy), (_, train) in zip(svm.sweep_C(splits, Cs), on_train)]
