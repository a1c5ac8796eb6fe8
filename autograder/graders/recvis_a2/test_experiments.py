"""Task 1.8 (experiments.py): the sweep over the number of hidden units, with ``train_loop`` replaced by a
stand-in that numbers its calls (``probes.hidden_units_sweep``), so the check sees which run fills which
curve without training anything."""

import numpy as np

from autograder.judges import CheckFailed
from autograder.judges.values import expect_array


def test_hidden_units_sweep(probe, rng):
    n_train, n_val = 12, 10
    hs = sorted(int(h) for h in rng.choice([1, 2, 3, 5, 7, 10], size=int(rng.integers(2, 4)), replace=False))
    trials, nEpochs = int(rng.integers(2, 4)), int(rng.integers(1, 3))
    lrate = float(np.round(rng.uniform(0.03, 0.1), 3))  # never the handout's 0.02: an ignored lrate shows
    X = rng.normal(0, 1, (n_train + n_val, 2))
    Y = np.where(rng.random(n_train + n_val) < 0.5, -1.0, 1.0)
    got = probe("hidden_units_sweep", Xtr=X[:n_train], Ytr=Y[:n_train], Xval=X[n_train:], Yval=Y[n_train:], hs=hs,
                trials=trials, nEpochs=nEpochs, lrate=lrate, seed=int(rng.integers(1000)))
    where = f"experiments.hidden_units_sweep(..., hs={hs}, trials={trials}, nEpochs={nEpochs}, lrate={lrate})"
    if got["param"] != "h" or list(np.ravel(got["values"])) != hs:
        raise CheckFailed(f"{where}: param should be 'h' and values the list hs, got {got['param']!r} and "
                          f"{list(np.ravel(got['values']))}")
    calls = got["calls"]
    if len(calls) != trials * len(hs):
        raise CheckFailed(f"{where}: train_loop was called {len(calls)} times, expected trials × len(hs) = "
                          f"{trials * len(hs)}")
    for c in calls:
        if c["lrate"] != lrate or c["nEpochs"] != nEpochs or c["vis"] != "never":
            raise CheckFailed(f"{where}: train_loop was called with lrate={c['lrate']}, nEpochs={c['nEpochs']}, "
                              f"vis={c['vis']!r}; expected lrate={lrate}, nEpochs={nEpochs} and vis='never' (no plots)")
    seeds = [c["seed"] for c in calls]
    if any(not isinstance(s, int) for s in seeds) or len(set(seeds)) != len(seeds):
        raise CheckFailed(f"{where}: the runs were seeded with {seeds}; give each run a seed of its own, derived from "
                          "the sweep's seed (different initialisations, reproducible results)")
    curves = expect_array(got["curves"], f"{where}: curves", (2, trials, len(hs), nEpochs * n_train))
    ramp = np.linspace(0, 0.5, nEpochs * n_train)
    seen = set()
    for j, h in enumerate(hs):
        for i in range(trials):
            k = int(np.round(curves[0, i, j, 0]))
            run = f"curves[:, {i}, {j}] (trial {i}, h = {h})"
            if not 1 <= k <= len(calls) or calls[k - 1]["h"] != h or k in seen:
                raise CheckFailed(f"{where}: {run} does not hold the errors returned by a train_loop run with h = {h} "
                                  "(one run per trial and value, none reused)")
            seen.add(k)
            if not np.allclose(curves[0, i, j], k + ramp) or not np.allclose(curves[1, i, j], -(k + ramp)):
                raise CheckFailed(f"{where}: {run}: index 0 of the first axis should hold the run's training errors "
                                  "(tr_error) and index 1 its validation errors (val_error), whole curves")
    final = expect_array(got["final"], f"{where}: final", (2, trials, len(hs)))
    if not np.allclose(final, curves[..., -1]):
        raise CheckFailed(f"{where}: final should be the last value of each curve (curves[..., -1])")
