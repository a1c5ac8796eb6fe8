"""Data for TP1 (RDFIA 1-ab): the 2-D circles toy set, MNIST / Fashion-MNIST, one-hot labels, mini-batches.

Everything here is given to students (no solution regions). All tensors are batch-first:
``X`` is ``(N, n_x)`` float32, ``Y`` is one-hot ``(N, n_y)`` float32, integer labels are ``(N,)`` int64.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

#: Generation settings of the circles set: ``make_circles`` (outer radius 1, inner radius ``CIRCLES_FACTOR``,
#: Gaussian noise of std ``CIRCLES_NOISE``) scaled by ``CIRCLES_RADIUS`` (outer radius 2, inner radius 1).
#: Chosen so that the handout's MLP (n_h=10, eta=0.03, batch 10, 150 epochs) reaches about 95-97% test
#: accuracy on every seed while any linear classifier stays near chance (about 50%).
CIRCLES_NOISE = 0.12
CIRCLES_FACTOR = 0.5
CIRCLES_RADIUS = 2.0


def one_hot(labels: torch.Tensor, n: int) -> torch.Tensor:
    """One-hot encoding.

    labels: (N,) integer class indices in [0, n).  Returns (N, n) float32 with a single 1 per row.
    """
    return torch.nn.functional.one_hot(torch.as_tensor(labels).long(), n).float()


def circles(n_train: int = 200, n_test: int = 200, seed: int = 0) -> dict[str, torch.Tensor]:
    """Two concentric noisy circles (scikit-learn ``make_circles``, radii 2 and 1), 2 classes, balanced.

    Returns a dict with ``Xtrain`` (n_train, 2) float32, ``Ytrain`` (n_train, 2) one-hot float32,
    ``Xtest`` (n_test, 2), ``Ytest`` (n_test, 2). Class 0 is the outer circle, class 1 the inner one.
    The same ``seed`` always gives the same points.
    """
    from sklearn.datasets import make_circles

    rng = np.random.RandomState(seed)
    out: dict[str, torch.Tensor] = {}
    for split, n in (("train", n_train), ("test", n_test)):
        X, y = make_circles(n_samples=n, noise=CIRCLES_NOISE, factor=CIRCLES_FACTOR, random_state=rng)
        out[f"X{split}"] = torch.as_tensor(X * CIRCLES_RADIUS, dtype=torch.float32)
        out[f"Y{split}"] = one_hot(torch.as_tensor(y), 2)
    return out


def _torchvision_images(name: str, function: str, root: str | Path, train: bool,
                        download: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    import torchvision

    dataset_cls = getattr(torchvision.datasets, name)
    try:
        dataset = dataset_cls(str(root), train=train, download=download)
    except RuntimeError as error:
        raise FileNotFoundError(
            f"data.{function}: {name} not found under {root!r} (torchvision expects the uncompressed "
            f"IDX files in {Path(root) / name / 'raw'}); prepare the data or pass download=True") from error
    images = dataset.data  # (N, 28, 28) uint8
    labels = dataset.targets.long()  # (N,)
    X = images.reshape(images.shape[0], -1).float() / 255.0
    return X, one_hot(labels, 10), labels


def fashion_mnist(root: str | Path, train: bool = True,
                  download: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fashion-MNIST through ``torchvision.datasets.FashionMNIST`` (offline unless ``download=True``).

    Returns ``(X, Y, labels)``: X (N, 784) float32 in [0, 1] (flattened 28x28 images), Y (N, 10) one-hot,
    labels (N,) int64. N is 60,000 for ``train=True`` and 10,000 otherwise.
    """
    return _torchvision_images("FashionMNIST", "fashion_mnist", root, train, download)


def mnist(root: str | Path, train: bool = True,
          download: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MNIST through ``torchvision.datasets.MNIST``; same outputs as :func:`fashion_mnist`."""
    return _torchvision_images("MNIST", "mnist", root, train, download)


def image_data(root: str | Path, dataset: str = "fashion_mnist", n_train: int | None = None,
               n_test: int | None = None, seed: int = 0) -> dict[str, torch.Tensor]:
    """A ``data`` dict for :func:`train.train_mnist`: ``Xtrain`` (n_train, 784), ``Ytrain`` (n_train, 10)
    one-hot, ``Xtest``, ``Ytest``; optional random subsets of the official splits (drawn with ``seed``).

    dataset: ``"fashion_mnist"`` or ``"mnist"``.
    """
    loaders = {"fashion_mnist": fashion_mnist, "mnist": mnist}
    if dataset not in loaders:
        raise ValueError(f"data.image_data: dataset must be one of {sorted(loaders)}, got {dataset!r}")
    generator = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    for split, train, n in (("train", True, n_train), ("test", False, n_test)):
        X, Y, _ = loaders[dataset](root, train=train)
        if n is not None and n < X.shape[0]:
            keep = torch.randperm(X.shape[0], generator=generator)[:n]
            X, Y = X[keep], Y[keep]
        out[f"X{split}"], out[f"Y{split}"] = X, Y
    return out


def batches(X: torch.Tensor, Y: torch.Tensor, batch_size: int,
            generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled mini-batches covering the whole set once (one epoch).

    X: (N, ...), Y: (N, ...). Yields ``(X[idx], Y[idx])`` with ``len(idx) == batch_size`` except possibly
    the last batch. The order is drawn from ``generator`` (a ``torch.Generator``) for reproducibility.
    """
    if batch_size < 1:
        raise ValueError(f"data.batches: batch_size must be >= 1, got {batch_size}")
    order = torch.randperm(X.shape[0], generator=generator)
    for start in range(0, X.shape[0], batch_size):
        idx = order[start:start + batch_size]
        yield X[idx], Y[idx]
