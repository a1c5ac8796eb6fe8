"""Part 1 — a two-layer fully connected network in numpy, trained with per-sample SGD.

Network (one sample ``X`` of dimension ``d``, ``h`` hidden units)::

    H  = ReLU(X Wi + bi)          Wi: (d, h), bi: (h,)
    Yo = H Wo + bo                Wo: (h,),   bo: scalar
    Po = sigm(Yo) = P(class = 1 | X)
    s(Y, Yo) = log(1 + exp(-Y Yo))     Y in {-1, 1}

This module uses numpy only (matplotlib is imported lazily, and only when a plot is asked for).
"""

from __future__ import annotations

import numpy as np

VIS_OPTIONS = ("all", "last", "never")


def sigm(x: np.ndarray | float) -> np.ndarray | float:
    """Sigmoid ``1 / (1 + exp(-x))``, numerically stable for any ``|x|``.

    x: scalar or array of any shape. Returns the same shape (a float for a scalar input), every value
    finite in [0, 1], without overflow warnings (e.g. ``sigm(-1000) == 0.0``, ``sigm(1000) == 1.0``).
    """
    # BEGIN SOLUTION: never evaluate exp of a large positive number; use exp(-|x|) on both sides of 0
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(under="ignore"):
        z = np.exp(-np.abs(x))  # in (0, 1]: cannot overflow
        out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
    return float(out) if out.ndim == 0 else out
    # END SOLUTION


def nnet_forward_logloss(X: np.ndarray, Y: np.ndarray | float, Wi: np.ndarray, bi: np.ndarray,
                         Wo: np.ndarray, bo: float) -> tuple:
    """Forward pass of the network and its logistic loss.

    X: one sample (d,) or a batch (N, d). Y: the label(s) in {-1, 1}: a scalar for one sample, (N,) for
    a batch. Wi: (d, h), bi: (h,), Wo: (h,), bo: scalar.
    Returns ``(Po, Yo, loss)``: for one sample three scalars; for a batch three (N,) arrays, one value
    per sample (the loss is *not* averaged). Po = P(class=1|X) in [0, 1], Yo the raw output,
    loss = log(1 + exp(-Y Yo)) computed without overflow.
    """
    # BEGIN SOLUTION: H = ReLU(X Wi + bi), Yo = H Wo + bo, Po = sigm(Yo), loss = log(1 + exp(-Y Yo))
    hidden = np.maximum(np.dot(X, Wi) + bi, 0.0)
    Yo = np.dot(hidden, Wo) + bo
    Po = sigm(Yo)
    loss = np.logaddexp(0.0, -Y * Yo)  # log(1 + exp(-Y Yo)) without overflow
    return Po, Yo, loss
    # END SOLUTION


def gradient_nn(X: np.ndarray, Y: float, Wi: np.ndarray, bi: np.ndarray, Wo: np.ndarray,
                bo: float) -> tuple:
    """Analytic gradient of the logistic loss s(Y, Yo(X)) for ONE example.

    X: (d,), Y: scalar in {-1, 1}, Wi: (d, h), bi: (h,), Wo: (h,), bo: scalar.
    Returns ``(grad_Wi, grad_bi, grad_Wo, grad_bo)`` with shapes (d, h), (h,), (h,) and a float.
    The ReLU derivative is 1 where the pre-activation ``X Wi + bi`` is > 0 and 0 elsewhere.
    """
    # BEGIN SOLUTION: your Task 1.1 derivation: ds/dYo first, then the chain rule through Yo = H Wo + bo and the ReLU
    pre = np.dot(X, Wi) + bi                       # (h,) pre-activation
    hidden = np.maximum(pre, 0.0)                  # (h,)
    out = float(np.squeeze(np.dot(hidden, Wo) + bo))
    g = -Y * sigm(-Y * out)                        # ds/dYo
    grad_s_Wo = g * hidden                         # (h,)
    grad_s_bo = float(g)
    grad_s_bi = g * Wo * (pre > 0)                 # (h,)
    grad_s_Wi = np.outer(X, grad_s_bi)             # (d, h)
    return grad_s_Wi, grad_s_bi, grad_s_Wo, grad_s_bo
    # END SOLUTION


def _perturbed(a: np.ndarray | float, index: tuple, delta: float) -> np.ndarray:
    """A float64 copy of ``a`` whose entry ``index`` is increased by ``delta`` (``a`` itself unchanged)."""
    b = np.array(a, dtype=np.float64, copy=True)
    b[index] += delta
    return b


def _total_loss(X: np.ndarray, Y, Wi, bi, Wo, bo) -> float:
    """The loss of the network on X as one float (summed over samples for a batch)."""
    return float(np.sum(nnet_forward_logloss(X, Y, Wi, bi, Wo, bo)[2]))


def gradient_nn_numerical(X: np.ndarray, Y: float, Wi: np.ndarray, bi: np.ndarray, Wo: np.ndarray,
                          bo: float, eps: float = 1e-6) -> tuple:
    """Central finite-difference gradient of the loss for one example (your Task 1.3 formula), entry by
    entry, for every entry of Wi, bi, Wo and for bo. Same inputs as :func:`gradient_nn`; returns ``(grad_Wi, grad_bi, grad_Wo, grad_bo)``
    with the shapes of Wi, bi, Wo and bo (a float when bo is a scalar). Uses :func:`nnet_forward_logloss`
    and the helper ``_perturbed(array, index, delta)``; the parameters passed in are never modified.
    """
    # BEGIN SOLUTION: perturb one entry at a time by +eps and -eps (use _perturbed) and apply your Task 1.3 formula
    params = [np.asarray(p, dtype=np.float64) for p in (Wi, bi, Wo, bo)]
    grads = []
    for k, p in enumerate(params):
        grad = np.zeros(p.shape)
        for index in np.ndindex(p.shape):
            plus, minus = list(params), list(params)
            plus[k] = _perturbed(p, index, +eps)
            minus[k] = _perturbed(p, index, -eps)
            grad[index] = (_total_loss(X, Y, *plus) - _total_loss(X, Y, *minus)) / (2 * eps)
        grads.append(grad)
    grad_Wi, grad_bi, grad_Wo, grad_bo = grads
    return grad_Wi, grad_bi, grad_Wo, (float(grad_bo) if grad_bo.ndim == 0 else grad_bo)
    # END SOLUTION


def gradcheck(trials: int = 1000, h: int = 3, seed: int = 0, tol: float = 1e-6, eps: float = 1e-6,
              quiet: bool = False) -> dict[str, float]:
    """Compare :func:`gradient_nn` with :func:`gradient_nn_numerical` on random examples (Task 1.4).

    Each trial draws X (2,), Y in {-1, 1}, Wi (2, h), bi (h,), Wo (h,), bo from N(0, 1) with a numpy
    Generator seeded by ``seed``. Returns the mean absolute difference per parameter averaged over trials
    (keys ``"Wi"``, ``"bi"``, ``"Wo"``, ``"bo"``) plus ``"max"``, the largest per-trial mean difference.
    Prints ``SUCCESS`` when no trial exceeds ``tol`` (the handout's test), ``FAILURE`` otherwise.
    """
    rng = np.random.default_rng(seed)
    # BEGIN SOLUTION: per trial draw X, Y, Wi, bi, Wo, bo from rng; mean |analytic - numerical| per parameter
    sums = dict.fromkeys(("Wi", "bi", "Wo", "bo"), 0.0)
    worst = 0.0
    for _ in range(trials):
        X = rng.standard_normal(2)
        Y = 2 * int(rng.integers(2)) - 1
        Wi = rng.standard_normal((2, h))
        bi = rng.standard_normal(h)
        Wo = rng.standard_normal(h)
        bo = float(rng.standard_normal())
        analytic = gradient_nn(X, Y, Wi, bi, Wo, bo)
        numeric = gradient_nn_numerical(X, Y, Wi, bi, Wo, bo, eps=eps)
        for key, a, n in zip(sums, analytic, numeric):
            delta = float(np.mean(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(n, dtype=np.float64))))
            sums[key] += delta
            worst = max(worst, delta)
    result = {key: value / trials for key, value in sums.items()}
    result["max"] = worst
    if not quiet:
        if worst <= tol:
            print("SUCCESS: Passed gradcheck.")
        else:
            print("FAILURE: Fix gradient_nn and/or gradient_nn_numerical implementation.")
    return result
    # END SOLUTION


def classification_error(X: np.ndarray, Y: np.ndarray, Wi, bi, Wo, bo) -> float:
    """Percentage of samples of X (N, d) whose predicted class sign(Yo) differs from Y (N,) in {-1, 1}."""
    Yo = nnet_forward_logloss(X, Y, Wi, bi, Wo, bo)[1]
    return float(100.0 * np.mean(np.sign(Yo) != Y))


def _generator(seed: int | None) -> np.random.Generator:
    """A numpy Generator from ``seed``; with None, seeded from numpy's global state (``np.random.seed``)."""
    if seed is None:
        return np.random.default_rng(np.random.randint(2**31 - 1))
    return np.random.default_rng(seed)


def train_loop(Xtr: np.ndarray, Ytr: np.ndarray, Xval: np.ndarray, Yval: np.ndarray, h: int,
               lrate: float, vis: str = "all", nEpochs: int = 100, seed: int | None = None) -> tuple:
    """Train the two-layer network with per-sample SGD (Task 1.5).

    Xtr: (N, d) training samples, Ytr: (N,) labels in {-1, 1}; Xval: (M, d), Yval: (M,).
    h: number of hidden units; lrate: learning rate; vis: 'all' (decision boundary each epoch and the
    error curves at the end), 'last' (decision boundary at the end) or 'never' (no matplotlib at all);
    nEpochs: number of epochs; seed: seeds the numpy Generator used for the initialisation and the
    sampling order (None: drawn from numpy's global state, like the handout).
    Initialisation: Wi ~ N(0, 1) of shape (d, h), bi = 0, Wo = 0, bo = 0. Each of the nEpochs * N
    iterations draws one training example at random, takes one gradient step on it, then records the
    training and validation errors (in %).
    Returns ``(tr_error, val_error, Wi, bi, Wo, bo)``: two (nEpochs * N,) arrays and the final parameters.
    """
    if vis not in VIS_OPTIONS:
        raise ValueError(f"twolayer.train_loop: vis must be one of {VIS_OPTIONS}, got {vis!r}")
    rng = _generator(seed)
    Xtr, Ytr = np.asarray(Xtr, dtype=np.float64), np.asarray(Ytr, dtype=np.float64)
    Xval, Yval = np.asarray(Xval, dtype=np.float64), np.asarray(Yval, dtype=np.float64)
    nSamples = Xtr.shape[0]
    nIter = nEpochs * nSamples
    tr_error = np.zeros(nIter)
    val_error = np.zeros(nIter)

    # Randomly initialise the parameters of the model
    Wi = rng.standard_normal((Xtr.shape[1], h))
    Wo = np.zeros(h)
    bi = np.zeros(h)
    bo = 0.0
    order = rng.integers(nSamples, size=nIter)  # the example drawn at each iteration

    plt = _pyplot() if vis != "never" else None
    if plt is not None:
        plt.figure()
    with np.errstate(over="ignore", invalid="ignore"):  # large learning rates may diverge (Task 1.7)
        for i in range(nIter):
            X, Y = Xtr[order[i]], Ytr[order[i]]
            # BEGIN SOLUTION: compute the gradients on (X, Y) with gradient_nn and take one SGD step of size lrate
            grad_s_Wi, grad_s_bi, grad_s_Wo, grad_s_bo = gradient_nn(X, Y, Wi, bi, Wo, bo)
            Wi = Wi - lrate * grad_s_Wi
            bi = bi - lrate * grad_s_bi
            Wo = Wo - lrate * grad_s_Wo
            bo = bo - lrate * grad_s_bo
            # END SOLUTION
            tr_error[i] = classification_error(Xtr, Ytr, Wi, bi, Wo, bo)
            val_error[i] = classification_error(Xval, Yval, Wi, bi, Wo, bo)
            if plt is not None and ((vis == "all" and i % nSamples == 0) or (vis == "last" and i == nIter - 1)):
                plt.clf()
                plt.title(f"h = {h}, epoch = {i // nSamples}, training error = {tr_error[i]:.3f}%")
                decision_boundary_nnet(Xtr, Ytr, Wi, bi, Wo, bo)
                _refresh(plt)
    if plt is not None and vis == "all":
        plt.figure()
        plt.plot(tr_error, label="training")
        plt.plot(val_error, label="validation")
        plt.xlabel("iteration")
        plt.ylabel("error (%)")
        plt.legend()
        plt.title(f"Training/validation errors: {tr_error[-1]:.2f}% / {val_error[-1]:.2f}%")
    return tr_error, val_error, Wi, bi, Wo, bo


# ----------------------------------------------------------------------------------------- plotting
def _pyplot():
    """matplotlib.pyplot, imported only when a plot is asked for."""
    import matplotlib.pyplot as plt

    return plt


def _refresh(plt) -> None:
    """Show the current figure in a notebook (replacing the previous one); just draw elsewhere."""
    try:
        from IPython import display, get_ipython
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display.display(plt.gcf(), display_id=True)
        display.clear_output(wait=True)
    else:
        plt.draw()


def decision_boundary_nnet(X: np.ndarray, Y: np.ndarray, Wi, bi, Wo, bo, bounds=None, step: float = 0.02):
    """Plot the decision regions of the network over the points X (N, 2) coloured by their labels Y (N,).

    bounds: (x_min, x_max, y_min, y_max); default: the range of X with a margin of 0.5.
    Draws on the current matplotlib axes and returns them.
    """
    plt = _pyplot()
    if bounds is None:
        lo, hi = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
        bounds = (lo[0], hi[0], lo[1], hi[1])
    x_min, x_max, y_min, y_max = bounds
    xx, yy = np.meshgrid(np.arange(x_min, x_max, step), np.arange(y_min, y_max, step))
    grid = np.column_stack((xx.ravel(), yy.ravel()))
    scores = np.maximum(grid @ Wi + bi, 0) @ Wo + bo
    plt.contourf(xx, yy, scores.reshape(xx.shape) > 0, cmap=plt.cm.Paired)
    plt.scatter(X[:, 0], X[:, 1], c=Y, cmap="winter", s=8)
    plt.axis([x_min, x_max, y_min, y_max])
    plt.axis("off")
    plt.draw()
    return plt.gca()
