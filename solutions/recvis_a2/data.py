"""Part 1 data — the "double moon" toy problem, generated reproducibly (no download).

The course ships two .mat files of 1000 points each; this module builds the same kind of data with the
classic two-moons construction (Haykin): two interlocking half-rings of radius ``radius`` and width
``width``, the second one shifted right by ``radius`` and vertically by ``-distance``, the whole set then
centred on the origin. With the default negative distance the moons interlock (a straight line leaves
about 8% of the points on the wrong side) but a gap remains between them, so a small ReLU network
can reach 0% error.
"""

from __future__ import annotations

import numpy as np


def _moons(n: int, rng: np.random.Generator, radius: float, width: float, distance: float):
    """n points (n, 2) and labels (n,) in {-1, 1}, half of each class, in random order."""
    n_pos = n // 2
    rho = rng.uniform(radius - width / 2, radius + width / 2, size=n)
    theta = rng.uniform(0.0, np.pi, size=n)
    x = rho * np.cos(theta)
    y = rho * np.sin(theta)
    X = np.column_stack((x, y))
    X[n_pos:, 0] += radius                      # lower moon: shifted right ...
    X[n_pos:, 1] = -X[n_pos:, 1] - distance     # ... flipped and shifted vertically
    X -= np.array([radius / 2, -distance / 2])  # centre the pair of moons on the origin
    Y = np.ones(n)
    Y[n_pos:] = -1.0
    perm = rng.permutation(n)
    return X[perm], Y[perm]


def double_moon(n_train: int = 1000, n_val: int = 1000, seed: int = 0, radius: float = 2.0,
                width: float = 1.2, distance: float = -0.6) -> tuple:
    """Training and validation sets of the double-moon problem.

    Returns ``(Xtr, Ytr, Xval, Yval)``: Xtr (n_train, 2) float64, Ytr (n_train,) float64 in {-1, 1}
    (upper moon +1, lower moon -1), Xval (n_val, 2), Yval (n_val,). The same seed gives the same data;
    the validation set is drawn independently of the training set from the same distribution.
    """
    rng = np.random.default_rng(seed)
    Xtr, Ytr = _moons(n_train, rng, radius, width, distance)
    Xval, Yval = _moons(n_val, rng, radius, width, distance)
    return Xtr, Ytr, Xval, Yval
