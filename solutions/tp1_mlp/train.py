"""Training loops of TP1: the four MLP variants on the circles data, and the torch.nn + optim MLP on
(Fashion-)MNIST images. Every entry point returns ``(trained, history)``: the trained parameters dict
(manual, autograd) or ``nn.Module`` (nn, optim, mnist), and a history dict of plain lists, one value per
epoch: ``{"train_loss": [...], "train_acc": [...], "test_loss": [...], "test_acc": [...]}``
(losses are mean cross-entropies, accuracies fractions in [0, 1], both measured on the whole split after
each epoch).

``data`` is a dict with ``Xtrain`` (N, nx), ``Ytrain`` (N, ny) one-hot, ``Xtest``, ``Ytest`` (see data.py).
The same ``seed`` gives the same initial parameters, the same batch order and so the same history.
"""

from __future__ import annotations

from collections.abc import Callable

import autograd_mlp
import manual
import nn_mlp
import optim_mlp
import torch
from data import batches
from tqdm.auto import tqdm

History = dict[str, list[float]]
Evaluate = Callable[[torch.Tensor, torch.Tensor], tuple[float, float]]


def _fit(data: dict[str, torch.Tensor], targets: tuple[torch.Tensor, torch.Tensor], epochs: int,
         batch_size: int, generator: torch.Generator, step: Callable[[torch.Tensor, torch.Tensor], None],
         evaluate: Evaluate, quiet: bool, desc: str) -> History:
    """Shared epoch loop: ``step`` on every shuffled mini-batch, then ``evaluate`` on both splits."""
    Ytrain, Ytest = targets
    history: History = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    bar = tqdm(range(epochs), desc=desc, disable=quiet, leave=False)
    for _ in bar:
        for Xb, Yb in batches(data["Xtrain"], Ytrain, batch_size, generator):
            step(Xb, Yb)
        for split, X, Y in (("train", data["Xtrain"], Ytrain), ("test", data["Xtest"], Ytest)):
            loss, acc = evaluate(X, Y)
            history[f"{split}_loss"].append(float(loss))
            history[f"{split}_acc"].append(float(acc))
        bar.set_postfix(train_loss=f"{history['train_loss'][-1]:.3f}",
                        test_acc=f"{history['test_acc'][-1]:.3f}")
    return history


def _sizes(data: dict[str, torch.Tensor]) -> tuple[int, int]:
    return data["Xtrain"].shape[1], data["Ytrain"].shape[1]


def _evaluate_params(params: dict[str, torch.Tensor]) -> Evaluate:
    def evaluate(X: torch.Tensor, Y: torch.Tensor) -> tuple[float, float]:
        with torch.inference_mode():
            probabilities, _ = manual.forward(params, X)
            loss, acc = manual.loss_accuracy(probabilities, Y)
        return float(loss), float(acc)
    return evaluate


def _evaluate_model(model: torch.nn.Module, loss_fn: torch.nn.Module) -> Evaluate:
    def evaluate(X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        model.eval()
        with torch.inference_mode():
            logits = model(X)
            loss = float(loss_fn(logits, y))
            acc = (logits.argmax(dim=1) == y).float().mean().item()
        model.train()
        return loss, acc
    return evaluate


def _seeded_model(seed: int, nx: int, nh: int, ny: int) -> torch.nn.Module:
    """``nn_mlp.make_model`` initialised from ``seed`` without touching torch's global random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn_mlp.make_model(nx, nh, ny)


def train_manual(data: dict[str, torch.Tensor], nh: int = 10, eta: float = 0.03, batch_size: int = 10,
                 epochs: int = 150, seed: int = 0, quiet: bool = False) -> tuple[dict[str, torch.Tensor], History]:
    """Part 1.2.1: mini-batch SGD with ``manual.forward`` / ``manual.backward`` / ``manual.sgd``."""
    generator = torch.Generator().manual_seed(seed)
    nx, ny = _sizes(data)
    params = manual.init_params(nx, nh, ny, generator=generator)

    def step(Xb: torch.Tensor, Yb: torch.Tensor) -> None:
        # BEGIN SOLUTION: manual.forward, then manual.backward, then manual.sgd on the batch
        _, outputs = manual.forward(params, Xb)
        grads = manual.backward(params, outputs, Yb)
        manual.sgd(params, grads, eta)
        # END SOLUTION

    return params, _fit(data, (data["Ytrain"], data["Ytest"]), epochs, batch_size, generator, step,
                        _evaluate_params(params), quiet, "manual")


def train_autograd(data: dict[str, torch.Tensor], nh: int = 10, eta: float = 0.03, batch_size: int = 10,
                   epochs: int = 150, seed: int = 0, quiet: bool = False) -> tuple[dict[str, torch.Tensor], History]:
    """Part 1.2.2: the same training with gradients from autograd (``autograd_mlp.train_step``).

    With the same seed the parameters start equal to ``train_manual``'s, so the histories match closely.
    """
    generator = torch.Generator().manual_seed(seed)
    nx, ny = _sizes(data)
    params = autograd_mlp.init_params(nx, nh, ny, generator=generator)

    def step(Xb: torch.Tensor, Yb: torch.Tensor) -> None:
        # BEGIN SOLUTION: one autograd_mlp.train_step on the batch
        autograd_mlp.train_step(params, Xb, Yb, eta)
        # END SOLUTION

    return params, _fit(data, (data["Ytrain"], data["Ytest"]), epochs, batch_size, generator, step,
                        _evaluate_params(params), quiet, "autograd")


def train_nn(data: dict[str, torch.Tensor], nh: int = 10, eta: float = 0.03, batch_size: int = 10,
             epochs: int = 500, seed: int = 0, quiet: bool = False) -> tuple[torch.nn.Module, History]:
    """Part 1.2.3: ``nn_mlp`` model and loss, manual update (``nn_mlp.train_step``).

    The one-hot targets of ``data`` are turned into class indices for ``nn.CrossEntropyLoss``.
    """
    generator = torch.Generator().manual_seed(seed)
    nx, ny = _sizes(data)
    model = _seeded_model(seed, nx, nh, ny)
    loss_fn = nn_mlp.make_loss()

    def step(Xb: torch.Tensor, yb: torch.Tensor) -> None:
        # BEGIN SOLUTION: one nn_mlp.train_step on the batch (yb holds class indices)
        nn_mlp.train_step(model, loss_fn, Xb, yb, eta)
        # END SOLUTION

    targets = (data["Ytrain"].argmax(dim=1), data["Ytest"].argmax(dim=1))
    return model, _fit(data, targets, epochs, batch_size, generator, step, _evaluate_model(model, loss_fn), quiet,
                       "nn")


def train_optim(data: dict[str, torch.Tensor], nh: int = 10, eta: float = 0.03, batch_size: int = 10,
                epochs: int = 500, seed: int = 0, quiet: bool = False) -> tuple[torch.nn.Module, History]:
    """Part 1.2.4: ``nn_mlp`` model and loss, ``torch.optim.SGD`` (``optim_mlp.train_step``).

    Same seed, same initial model and batches as ``train_nn``: plain SGD gives the same history.
    """
    generator = torch.Generator().manual_seed(seed)
    nx, ny = _sizes(data)
    model = _seeded_model(seed, nx, nh, ny)
    loss_fn = nn_mlp.make_loss()
    optimizer = optim_mlp.make_optimizer(model, eta)

    def step(Xb: torch.Tensor, yb: torch.Tensor) -> None:
        # BEGIN SOLUTION: one optim_mlp.train_step on the batch (yb holds class indices)
        optim_mlp.train_step(model, loss_fn, optimizer, Xb, yb)
        # END SOLUTION

    targets = (data["Ytrain"].argmax(dim=1), data["Ytest"].argmax(dim=1))
    return model, _fit(data, targets, epochs, batch_size, generator, step, _evaluate_model(model, loss_fn), quiet,
                       "optim")


def train_mnist(data: dict[str, torch.Tensor], nh: int = 100, eta: float = 0.03, batch_size: int = 10,
                epochs: int = 5, seed: int = 0, quiet: bool = False, device: str = "cpu") -> tuple[torch.nn.Module, History]:
    """Part 1.2.5: the torch.nn + torch.optim MLP (784 -> nh -> 10, tanh) on flattened images.

    data: ``Xtrain`` (N, 784) in [0, 1], ``Ytrain`` (N, 10) one-hot, ``Xtest``, ``Ytest`` (data.image_data).
    ``device``: where to train (``"cpu"`` or ``"cuda"``); the history is the same plain lists.
    """
    generator = torch.Generator().manual_seed(seed)
    nx, ny = _sizes(data)
    model = _seeded_model(seed, nx, nh, ny).to(device)
    loss_fn = nn_mlp.make_loss()
    optimizer = optim_mlp.make_optimizer(model, eta)

    def step(Xb: torch.Tensor, yb: torch.Tensor) -> None:
        # BEGIN SOLUTION: one optim_mlp.train_step on the batch, on the model's device
        optim_mlp.train_step(model, loss_fn, optimizer, Xb.to(device), yb.to(device))
        # END SOLUTION

    moved = {key: value.to(device) for key, value in data.items()}
    targets = (moved["Ytrain"].argmax(dim=1), moved["Ytest"].argmax(dim=1))
    return model, _fit(moved, targets, epochs, batch_size, generator, step, _evaluate_model(model, loss_fn), quiet,
                       "mnist")


def plot_history(history: History, title: str | None = None, axes=None):
    """Loss and accuracy curves (train and test) against epochs; returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    else:
        fig = axes[0].figure
    epochs = range(1, len(history["train_loss"]) + 1)
    for ax, metric in zip(axes, ("loss", "acc")):
        for split in ("train", "test"):
            ax.plot(epochs, history[f"{split}_{metric}"], label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy" if metric == "loss" else "accuracy")
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig
