"""Grader-side helpers of recvis_a2: reference computations (float64 for Part 1) and the checked shape
of what the worker returns."""

from __future__ import annotations

import numpy as np
import torch

from autograder import reference
from autograder.judges.models import layer_shapes
from autograder.sandbox.probing import summarize_model

twolayer = reference.module("recvis_a2", "twolayer")
data = reference.module("recvis_a2", "data")
blocks = reference.module("recvis_a2", "blocks")
convnet = reference.module("recvis_a2", "convnet")

PARAMS = ("Wi", "bi", "Wo", "bo")
#: No pre-activation X Wi + bi of a drawn example lies closer than this to the ReLU kink, so every finite
#: difference (steps up to 1e-2 on inputs of magnitude ≤ 1.5) stays on one side of it.
MARGIN = 0.1


def _example(rng: np.random.Generator, params: dict, tries: int = 10_000) -> np.ndarray | None:
    """An input X (d,) with entries of magnitude in [0.3, 1.5], every |pre-activation| > MARGIN, at least one
    active and one inactive hidden unit, and 0.3 <= |Yo| <= 3 (gradients neither tiny nor saturated)."""
    d = params["Wi"].shape[0]
    for _ in range(tries):
        X = rng.uniform(0.3, 1.5, d) * rng.choice([-1.0, 1.0], d)
        pre = X @ params["Wi"] + params["bi"]
        if np.min(np.abs(pre)) <= MARGIN or not (pre > 0).any() or not (pre < 0).any():
            continue
        Yo = np.maximum(pre, 0) @ params["Wo"] + params["bo"]
        if 0.3 <= abs(Yo) <= 3.0:
            return X
    return None


def random_problem(rng: np.random.Generator, examples: int, d_range=(2, 6), h_range=(2, 7)) -> dict:
    """Random sizes and float64 parameters (bo a float) and ``examples`` inputs, labels alternating ±1
    (both signs always present), every input drawn away from the ReLU kink (see :func:`_example`)."""
    while True:
        d, h = int(rng.integers(*d_range)), int(rng.integers(*h_range))
        params = {"Wi": rng.normal(0, 1, (d, h)), "bi": rng.normal(0, 0.5, h),
                  "Wo": rng.uniform(0.3, 1.2, h) * rng.choice([-1.0, 1.0], h) / np.sqrt(h / 2),
                  "bo": float(rng.normal(0, 0.5))}
        labels = [1.0 if i % 2 == 0 else -1.0 for i in range(examples)]
        inputs = [_example(rng, params) for _ in labels]
        if all(X is not None for X in inputs):
            return {"params": params, "X": inputs, "Y": labels}


def loss(X: np.ndarray, Y: float, params: dict) -> float:
    """The reference logistic loss of one example."""
    return float(twolayer.nnet_forward_logloss(X, Y, *(params[k] for k in PARAMS))[2])


def numeric_gradients(X: np.ndarray, Y: float, params: dict, eps: float = 1e-6) -> dict[str, np.ndarray]:
    """Central differences of the reference loss, in float64, for the four parameters."""
    from autograder.judges.gradients import numeric_gradient

    work = {k: np.array(v, dtype=np.float64) for k, v in params.items()}  # bo becomes a 0-d array
    return {name: numeric_gradient(lambda: loss(X, Y, work), work[name], eps=eps) for name in PARAMS}


def analytic_gradients(X: np.ndarray, Y: float, params: dict) -> dict[str, np.ndarray]:
    """The reference gradient_nn, as float64 arrays (bo 0-d)."""
    grads = twolayer.gradient_nn(X, Y, *(params[k] for k in PARAMS))
    return {k: np.asarray(g, dtype=np.float64) for k, g in zip(PARAMS, grads)}


def forward(X: np.ndarray, Y, params: dict) -> dict[str, np.ndarray]:
    Po, Yo, value = twolayer.nnet_forward_logloss(X, Y, *(params[k] for k in PARAMS))
    return {"Po": np.asarray(Po, dtype=np.float64), "Yo": np.asarray(Yo, dtype=np.float64),
            "loss": np.asarray(value, dtype=np.float64)}


def classification_error(X: np.ndarray, Y: np.ndarray, weights: dict) -> float:
    """Error (%) of the network ``weights`` on (X, Y), with the reference forward pass."""
    return twolayer.classification_error(X, Y, *(weights[k] for k in PARAMS))


def output_size(h: int, w: int, k: int, s: int = 1, p: int = 0) -> list[int]:
    return [(h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1]


def convnet_logits(state: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """Logits of the reference ConvNet carrying the weights ``state`` (a student's state dict)."""
    model = convnet.ConvNet().double()
    model.load_state_dict({k: torch.tensor(np.asarray(v, dtype=np.float64)) for k, v in state.items()})
    model.eval()
    with torch.no_grad():
        return model(torch.tensor(X, dtype=torch.float64)).numpy()


def linear_epoch(state: dict, train: tuple, test: tuple, lr: float, batch_size: int) -> dict:
    """One epoch of the reference ``train`` on LinearNet from ``state`` (no shuffling), then ``test``."""
    from torch.utils.data import DataLoader, TensorDataset

    model = convnet.LinearNet()
    model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    loaders = [DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=batch_size, shuffle=False)
               for x, y in (train, test)]
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    train_loss, train_acc = convnet.train(1, model, loaders[0], optimizer, "cpu", quiet=True)
    test_loss, test_acc = convnet.test(model, loaders[1], "cpu")
    return {"train": [train_loss, train_acc], "test": [test_loss, test_acc],
            "state": {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}}


def model_summary(name: str, input_shape: tuple[int, ...]) -> dict:
    """:func:`summarize_model` of the reference ``convnet.<name>()`` for an input of ``input_shape``."""
    return summarize_model(getattr(convnet, name)(), input_shape)




def model_shapes(name: str, input_shape: tuple[int, ...]) -> dict:
    """:func:`model_summary` without the parameter counts (graded answers)."""
    return layer_shapes(model_summary(name, input_shape))

#: The image of Part 2 (its output sizes are graded answers: never in a public check).
HANDOUT_IMAGE = (384, 512)
#: The handout's parameter count of ConvNet (a graded answer).
CONVNET_PARAMS = 258_058


def class_names() -> list[str]:
    """The CIFAR-10 class names in label order (``convnet.CLASSES``)."""
    return list(convnet.CLASSES)
