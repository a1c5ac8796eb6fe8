"""Part 1.2.6 (bonus) — support vector machines on the circles data (scikit-learn).

``data`` is the dict of ``data.circles``: torch tensors ``Xtrain`` (N, 2), ``Ytrain`` (N, 2) one-hot,
``Xtest``, ``Ytest``. Accuracies are fractions in [0, 1] on the test split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from sklearn.svm import SVC, LinearSVC


def to_numpy(data: dict[str, torch.Tensor]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(Xtrain (N, 2) float, ytrain (N,) int, Xtest, ytest)`` as numpy arrays, labels from the one-hot."""
    def labels(Y: torch.Tensor) -> np.ndarray:
        return Y.argmax(dim=1).numpy() if Y.ndim == 2 else Y.numpy()
    return (data["Xtrain"].numpy(), labels(data["Ytrain"]), data["Xtest"].numpy(), labels(data["Ytest"]))


def fit_svms(data: dict[str, torch.Tensor], C: float = 1.0) -> dict[str, object]:
    """Fit three SVMs with regularisation ``C`` on the train split and return them, fitted:
    ``{"LinearSVC": ..., "SVC_linear": ..., "SVC_rbf": ...}`` (``LinearSVC``, ``SVC(kernel="linear")``,
    ``SVC(kernel="rbf")``). Use :func:`accuracies` for their test accuracies."""
    Xtrain, ytrain, _, _ = to_numpy(data)
    # BEGIN SOLUTION: fit LinearSVC(C=C), SVC(kernel="linear", C=C), SVC(kernel="rbf", C=C) on the train split
    models = {
        "LinearSVC": LinearSVC(C=C, random_state=0),
        "SVC_linear": SVC(kernel="linear", C=C),
        "SVC_rbf": SVC(kernel="rbf", C=C),
    }
    return {name: model.fit(Xtrain, ytrain) for name, model in models.items()}
    # END SOLUTION


def accuracies(models: dict[str, object], data: dict[str, torch.Tensor]) -> dict[str, float]:
    """Test accuracy of each fitted model of :func:`fit_svms` on the test split of ``data``."""
    _, _, Xtest, ytest = to_numpy(data)
    return {name: float(model.score(Xtest, ytest)) for name, model in models.items()}


def sweep_C(data: dict[str, torch.Tensor], Cs: Sequence[float]) -> list[tuple[float, float]]:
    """Test accuracy of ``SVC(kernel="rbf", C=C)`` for each C: a list of ``(C, accuracy)``, in the order
    of ``Cs``."""
    Xtrain, ytrain, Xtest, ytest = to_numpy(data)
    # BEGIN SOLUTION: one SVC(kernel="rbf", C=C) per value, fitted on train, scored on test
    return [(float(C), float(SVC(kernel="rbf", C=C).fit(Xtrain, ytrain).score(Xtest, ytest))) for C in Cs]
    # END SOLUTION


def plot_decision_boundary(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray,
                           ax=None, title: str | None = None, resolution: int = 200):
    """Colour the plane by ``predict`` (maps (M, 2) points to (M,) labels) and scatter the points X (N, 2)
    coloured by their labels y (N,). Returns the matplotlib axes.

    For an sklearn model pass ``model.predict``; for the MLP e.g.
    ``lambda P: manual.forward(params, torch.as_tensor(P, dtype=torch.float32))[0].argmax(1).numpy()``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    X = np.asarray(X)
    y = np.asarray(y)
    margin = 0.3
    xs = np.linspace(X[:, 0].min() - margin, X[:, 0].max() + margin, resolution)
    ys = np.linspace(X[:, 1].min() - margin, X[:, 1].max() + margin, resolution)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    zz = np.asarray(predict(grid)).reshape(gx.shape)
    ax.contourf(gx, gy, zz, alpha=0.3, cmap="coolwarm")
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", edgecolors="k", s=15)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax
