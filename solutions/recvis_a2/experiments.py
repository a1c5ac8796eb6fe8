"""Part 1 experiments (Tasks 1.6-1.8): random initialisations, learning rates, numbers of hidden units.

Every driver takes a budget (``nEpochs``, ``trials``, data size through the arrays passed in) and a
``seed``; run ``i`` of a sweep uses a seed derived from (seed, value index, trial) so results are
reproducible. Curves are returned as numpy arrays; :func:`plot_sweep` draws the handout's two figures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm
from twolayer import train_loop


def _seeds(seed: int, count: int) -> list[int]:
    """``count`` independent integer seeds derived from ``seed``."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(count)]


def five_initialisations(Xtr: np.ndarray, Ytr: np.ndarray, Xval: np.ndarray, Yval: np.ndarray,
                         h: int = 7, lrate: float = 0.02, nEpochs: int = 100, runs: int = 5, seed: int = 0,
                         quiet: bool = False) -> dict:
    """Train ``runs`` networks from different random initialisations (Task 1.6).

    Xtr: (N, 2), Ytr: (N,) in {-1, 1}, Xval: (M, 2), Yval: (M,).
    Returns ``{"seed": [runs ints], "train_error": (runs,) array, "val_error": (runs,) array}`` with the
    final errors in %, and prints them as a table unless ``quiet``.
    """
    seeds = _seeds(seed, runs)
    train_error, val_error = np.zeros(runs), np.zeros(runs)
    for r in tqdm(range(runs), desc="initialisations", disable=quiet):
        tr, val, *_ = train_loop(Xtr, Ytr, Xval, Yval, h, lrate, vis="never", nEpochs=nEpochs, seed=seeds[r])
        train_error[r], val_error[r] = tr[-1], val[-1]
    result = {"seed": seeds, "train_error": train_error, "val_error": val_error}
    if not quiet:
        print(format_table(result))
    return result


def format_table(result: dict) -> str:
    """A text table (one row per run) of the final training and validation errors of a result dict."""
    lines = ["run | train error (%) | val error (%)", "----|-----------------|--------------"]
    for r, (tr, val) in enumerate(zip(result["train_error"], result["val_error"]), start=1):
        lines.append(f"{r:3d} | {tr:15.2f} | {val:13.2f}")
    return "\n".join(lines)


def _sweep(name: str, values: Sequence, make_args, Xtr, Ytr, Xval, Yval, trials: int, nEpochs: int,
           seed: int, quiet: bool) -> dict:
    """Train ``trials`` networks per value; ``make_args(value)`` gives (h, lrate)."""
    n_iter = nEpochs * Xtr.shape[0]
    curves = np.zeros((2, trials, len(values), n_iter))
    seeds = _seeds(seed, len(values) * trials)
    bar = tqdm(total=len(values) * trials, desc=f"{name} sweep", disable=quiet)
    for j, value in enumerate(values):
        h, lrate = make_args(value)
        for i in range(trials):
            tr, val, *_ = train_loop(Xtr, Ytr, Xval, Yval, h, lrate, vis="never", nEpochs=nEpochs,
                                     seed=seeds[j * trials + i])
            curves[0, i, j], curves[1, i, j] = tr, val
            bar.update()
    bar.close()
    return {"param": name, "values": list(values), "curves": curves, "final": curves[:, :, :, -1].copy()}


def learning_rate_sweep(Xtr: np.ndarray, Ytr: np.ndarray, Xval: np.ndarray, Yval: np.ndarray,
                        lrates: Sequence[float] = (2, 0.2, 0.02, 0.002), trials: int = 5, nEpochs: int = 40,
                        h: int = 7, seed: int = 0, quiet: bool = False) -> dict:
    """Train ``trials`` networks with h hidden units for each learning rate (Task 1.7).

    Returns ``{"param": "lrate", "values": list(lrates), "curves": (2, trials, V, nEpochs*N) array,
    "final": (2, trials, V) array}``; index 0 of the first axis is the training error, 1 the validation
    error (in %), V = len(lrates), N = len(Xtr).
    """
    return _sweep("lrate", lrates, lambda lrate: (h, lrate), Xtr, Ytr, Xval, Yval, trials, nEpochs, seed,
                  quiet)


def hidden_units_sweep(Xtr: np.ndarray, Ytr: np.ndarray, Xval: np.ndarray, Yval: np.ndarray,
                       hs: Sequence[int] = (1, 2, 5, 7, 10, 100), trials: int = 5, nEpochs: int = 40,
                       lrate: float = 0.02, seed: int = 0, quiet: bool = False) -> dict:
    """Train ``trials`` networks with learning rate ``lrate`` for each number of hidden units (Task 1.8).

    Returns the same dict as :func:`learning_rate_sweep` with ``"param": "h"`` and ``"values": list(hs)``:
    ``curves[0, i, j]`` and ``curves[1, i, j]`` are the training and validation errors of trial i with
    ``hs[j]`` hidden units. Each run calls ``train_loop`` with ``vis='never'`` and a seed of its own.
    """
    # BEGIN SOLUTION: as learning_rate_sweep does for the learning rates, but sweeping h at a fixed lrate
    return _sweep("h", hs, lambda h: (h, lrate), Xtr, Ytr, Xval, Yval, trials, nEpochs, seed, quiet)
    # END SOLUTION


def plot_sweep(result: dict, path: str | None = None, every: int = 100):
    """The handout's two figures for a sweep result: final errors and training-error curves.

    Figure 1: final training and validation errors (mean over trials, error bars = std) against the swept
    value. Figure 2: mean training error against the iteration for each value, with a +-std band (one
    point every ``every`` iterations to keep the figure light). With ``path`` (e.g. ``"lr.png"``) the
    figures are saved as ``<stem>_final.png`` and ``<stem>_curves.png``. Returns the two figures.
    """
    import matplotlib.pyplot as plt

    name, values = result["param"], result["values"]
    final, curves = result["final"], result["curves"]
    x = np.arange(len(values))

    fig_final, ax = plt.subplots()
    for k, label in enumerate(("training", "validation")):
        ax.errorbar(x, final[k].mean(axis=0), yerr=final[k].std(axis=0), capsize=4, marker="o", label=label)
    ax.set_xticks(x, [str(v) for v in values])
    ax.set_xlabel("learning rate" if name == "lrate" else "hidden units h")
    ax.set_ylabel("final error (%)")
    ax.legend()

    fig_curves, ax = plt.subplots()
    iters = np.arange(0, curves.shape[-1], max(1, every))
    for j, value in enumerate(values):
        train = curves[0, :, j][:, iters]  # (trials, len(iters))
        mean, std = train.mean(axis=0), train.std(axis=0)
        ax.plot(iters, mean, label=f"{'LR' if name == 'lrate' else 'h'} = {value}")
        ax.fill_between(iters, mean - std, mean + std, alpha=0.2)
    ax.set_xlabel("iteration")
    ax.set_ylabel("training error (%)")
    ax.legend()

    if path is not None:
        stem = path.removesuffix(".png")
        fig_final.savefig(f"{stem}_final.png", dpi=100, bbox_inches="tight")
        fig_curves.savefig(f"{stem}_curves.png", dpi=100, bbox_inches="tight")
    return fig_final, fig_curves
