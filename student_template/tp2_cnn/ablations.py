"""Part 3 of lab 1-cd: the baseline and its five cumulative improvements, their curves and their table.

It runs the functions of ``data``, ``models`` and ``train``; to write here: the curves (:func:`plot_curves`)
and the rows of the table (:func:`ablation_table`).
Each configuration is a plain dict of switches; every improvement keeps all the previous ones:

==================  ===============================================================================
``baseline``        raw [0, 1] pixels, plain SGD, no regularisation (questions 15-18)
``standardisation`` + ``Normalize`` with the training set's per-channel mean/std (19-21)
``augmentation``    + ``RandomCrop(28)`` + ``RandomHorizontalFlip`` in train, ``CenterCrop(28)`` in test,
                    ``pool3`` with ``ceil_mode=True`` (22-25)
``optim``           + SGD momentum 0.9 and ``ExponentialLR(gamma=0.95)`` stepped each epoch (26-28)
``dropout``         + ``Dropout(p=0.5)`` between fc4 and fc5 (29-33)
``batchnorm``       + ``BatchNorm2d`` after each convolution, before its ReLU (34)
==================  ===============================================================================
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from data import get_cifar10, get_loaders
from models import CifarNet
from torch.utils.data import Dataset
from train import main

BASELINE: dict[str, Any] = {
    "normalize": False,   # standardise the inputs with the training statistics
    "augment": False,     # random crop 28 + horizontal flip in train, center crop 28 in test
    "ceil_mode": False,   # pool3 ceil_mode (needed by 28x28 crops)
    "momentum": 0.0,      # SGD momentum
    "gamma": None,        # ExponentialLR decay per epoch (None: constant learning rate)
    "dropout": False,     # Dropout(0.5) between fc4 and fc5
    "batch_norm": False,  # BatchNorm2d after each convolution
}
IMPROVEMENTS: list[tuple[str, dict[str, Any]]] = [
    ("standardisation", {"normalize": True}),
    ("augmentation", {"augment": True, "ceil_mode": True}),
    ("optim", {"momentum": 0.9, "gamma": 0.95}),
    ("dropout", {"dropout": True}),
    ("batchnorm", {"batch_norm": True}),
]


def cumulative_configs() -> dict[str, dict[str, Any]]:
    """``{"baseline": {...}, "standardisation": {...}, ...}``: each entry adds one improvement to the previous."""
    configs = {"baseline": dict(BASELINE)}
    current = dict(BASELINE)
    for name, change in IMPROVEMENTS:
        current = {**current, **change}
        configs[name] = current
    return configs


CONFIGS: dict[str, dict[str, Any]] = cumulative_configs()

# Test accuracies after 20 epochs (batch 128, lr 0.1) reported in the course material, for comparison.
REPORTED_ACCURACY = {"baseline": 0.70, "standardisation": 0.70, "augmentation": 0.79, "optim": 0.79,
                     "dropout": 0.80, "batchnorm": 0.80}


def run_ablations(make_datasets: Callable[..., tuple[Dataset, Dataset]],
                  configs: dict[str, dict[str, Any]] | None = None, epochs: int = 20, lr: float = 0.1,
                  batch_size: int = 128, device: str | torch.device = "cpu", seed: int = 0,
                  quiet: bool = False, histories: dict[str, dict[str, list[float]]] | None = None,
                  in_channels: int = 3, num_classes: int = 10) -> dict[str, float]:
    """Train one fresh ``CifarNet`` per configuration and return ``{name: final test accuracy}``.

    make_datasets: called as ``make_datasets(augment=..., normalize=...)`` and returning
        ``(train_dataset, test_dataset)``, e.g. ``functools.partial(get_cifar10, root)`` or
        ``functools.partial(datasets_from_arrays, x_train, y_train, x_test, y_test)``.
    configs: name → switches as in :data:`CONFIGS` (default: all six, in order).
    histories: optional dict filled with each configuration's history (for :func:`plot_curves`).
    Every configuration starts from the same seed (same initial weights for the same architecture).
    """
    configs = CONFIGS if configs is None else configs
    results: dict[str, float] = {}
    for name, config in configs.items():
        train_set, test_set = make_datasets(augment=config["augment"], normalize=config["normalize"])
        train_loader, test_loader = get_loaders(train_set, test_set, batch_size=batch_size, seed=seed)
        torch.manual_seed(seed)
        model = CifarNet(batch_norm=config["batch_norm"], dropout=config["dropout"],
                         ceil_mode=config["ceil_mode"], num_classes=num_classes, in_channels=in_channels)
        if not quiet:
            print(f"[{name}] {config}")
        history = main(train_loader, test_loader, model, epochs, lr, momentum=config["momentum"],
                       gamma=config["gamma"], device=device, quiet=quiet, seed=seed)
        results[name] = history["test_acc"][-1] if history["test_acc"] else float("nan")
        if histories is not None:
            histories[name] = history
    return results


def plot_curves(histories: dict[str, dict[str, list[float]]], path: str | Path | None = None):
    """The curves of the ablations: loss (left subplot) and accuracy (right subplot) against the epoch
    (1, 2, ...), per configuration a solid test curve labelled with its name and a dashed training curve.

    histories: name -> ``train.main`` history (lists ``train_loss``, ``test_loss``, ``train_acc``,
    ``test_acc``, one value per epoch). Returns the matplotlib figure (saved as a PNG to ``path`` when given).
    """
    import matplotlib.pyplot as plt

    raise NotImplementedError("ablations.plot_curves: plt.subplots(1, 2); for each run, test (solid, labelled) and train (dashed) curves")
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    return fig


def ablation_table(histories: dict[str, dict[str, list[float]]]) -> list[dict[str, Any]]:
    """The rows of the ablation table, one per configuration of ``histories`` (name -> ``train.main``
    history), in order: ``{"name", "train_acc", "test_acc", "best_test_acc", "gap", "change"}`` with the
    final training and test accuracies, the best test accuracy over the epochs, the overfitting gap
    ``train_acc - test_acc`` and ``change``, the final test accuracy minus the previous row's (None for the
    first row). Accuracies in [0, 1]."""
    raise NotImplementedError("ablations.ablation_table: final and best accuracies from the per-epoch lists; change against the previous row")


def format_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the rows of :func:`ablation_table`, accuracies in %."""
    lines = ["| configuration | train accuracy | test accuracy | best test accuracy | gap | change |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        change = "" if row["change"] is None else f"{100 * row['change']:+.2f}"
        lines.append(f"| {row['name']} | {100 * row['train_acc']:.2f} % | {100 * row['test_acc']:.2f} % | "
                     f"{100 * row['best_test_acc']:.2f} % | {100 * row['gap']:.2f} | {change} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Run the CIFAR-10 ablations of lab 1-cd.")
    parser.add_argument("--root", required=True, help="torchvision data folder holding cifar-10-batches-py")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--plot", default="ablations.png")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    runs: dict[str, dict[str, list[float]]] = {}
    run_ablations(functools.partial(get_cifar10, args.root), epochs=args.epochs, lr=args.lr,
                          batch_size=args.batch_size, device=args.device, quiet=args.quiet, histories=runs)
    print(format_table(ablation_table(runs)))
    plot_curves(runs, args.plot)
    print(f"curves written to {args.plot}")
