"""Part 1: the numpy two-layer network (twolayer.py): sigmoid, forward pass and loss, analytic and numerical
gradients, and what train_loop records."""

import numpy as np

from autograder.graders.recvis_a2 import _reference as ref
from autograder.judges import CheckFailed
from autograder.judges.gradients import assert_gradients
from autograder.judges.static import assert_not_used
from autograder.judges.values import assert_close, expect_array, expect_arrays, float_arrays


def test_sigm_stable(probe, rng):
    x = np.concatenate([rng.normal(0, 5, 10), [-1000.0, -60.0, 0.0, 60.0, 1000.0]]).reshape(3, 5)
    got = float_arrays(probe("sigm", x=x))
    if "warning" in got:
        raise CheckFailed(f"{got['warning']}: sigm must not overflow for large |x| (evaluate exp only of "
                          "non-positive numbers, e.g. exp(-|x|))")
    assert_close(got["array"], ref.twolayer.sigm(x), "twolayer.sigm(x) for x of shape (3, 5)", rtol=1e-9, atol=1e-12)
    for name, value, want in (("plus", 1000, 1.0), ("minus", -1000, 0.0)):
        assert_close(expect_array(got[name], f"twolayer.sigm({value}) (a scalar)", ()), want,
                     f"twolayer.sigm({value})", rtol=0, atol=1e-12)


def _saturating(rng: np.random.Generator, params: dict, count: int, target: float = 2000.0) -> np.ndarray:
    """``count`` inputs X (count, d) with |Yo| >= ``target`` by construction: along a direction u, past every
    ReLU kink, Yo(s u) = s c(u) + const with slope c(u) = sum_k max(0, Wi_k . u) Wo_k; take the directions
    (the columns of Wi, their opposites, Wi Wo and random ones) of largest |c| and step past the kinks."""
    Wi, bi, Wo, bo = (np.asarray(params[k], dtype=np.float64) for k in ("Wi", "bi", "Wo", "bo"))
    candidates = np.concatenate([Wi.T, -Wi.T, (Wi @ Wo)[None], -(Wi @ Wo)[None],
                                 rng.normal(size=(16, Wi.shape[0]))])
    candidates /= np.linalg.norm(candidates, axis=1, keepdims=True)
    slopes = np.maximum(candidates @ Wi, 0) @ Wo
    inputs = []
    for index in np.argsort(-np.abs(slopes))[:count]:
        u, slope = candidates[index], slopes[index]
        dots = u @ Wi
        kinks = np.abs(bi) / np.maximum(np.abs(dots), 1e-12)
        beyond = float(np.max(kinks)) + 1.0  # every unit past its kink: on when u . Wi_k > 0, off otherwise
        const = float(np.where(dots > 0, bi, 0.0) @ Wo + bo)
        inputs.append(u * (beyond + (target + abs(const)) / abs(slope)))
    return np.stack(inputs)


def test_forward_logloss(probe, rng):
    problem = ref.random_problem(rng, 8)
    params = problem["params"]
    X, Y = np.stack(problem["X"]), np.array(problem["Y"])
    X[-2:] = _saturating(rng, params, 2)  # |Yo| >= 2000 where -Y Yo > 0: log(1 + exp(-Y Yo)) must not overflow
    Y[-2:] = -np.sign(ref.forward(X[-2:], Y[-2:], params)["Yo"])
    got = float_arrays(probe("forward_logloss", X=X, Y=Y, params=params, single_X=X[0], single_Y=Y[0]))
    for name, x, y, shape in (("batch", X, Y, (len(Y),)), ("single", X[0], Y[0], ())):
        want = ref.forward(x, y, params)
        what = f"twolayer.nnet_forward_logloss on {'a batch X (N, d)' if name == 'batch' else 'one sample X (d,)'}"
        for key in ("Po", "Yo", "loss"):
            value = got[name][key]
            if key == "loss" and isinstance(value, np.ndarray) and not np.all(np.isfinite(value)):
                raise CheckFailed(f"{what}: the loss is not finite where -Y·Yo is large (about "
                                  f"{np.max(-Y * ref.forward(X, Y, params)['Yo']):.0f}): compute log(1 + exp(z)) "
                                  "without overflow (e.g. np.logaddexp(0, z))")
            expect_array(value, f"{what}: {key}", shape)
            assert_close(value, want[key], f"{what}: {key}", rtol=1e-7, atol=1e-9)


def test_gradient_nn_finite_differences(probe, rng):
    problem = ref.random_problem(rng, 2)
    got = float_arrays(probe("gradient_nn", X=problem["X"], Y=problem["Y"], params=problem["params"]))
    for grads, X, Y in zip(got, problem["X"], problem["Y"]):
        numeric = ref.numeric_gradients(X, Y, problem["params"])
        assert_gradients(grads, numeric, f"twolayer.gradient_nn (one example, Y = {Y:+.0f}; against central "
                                         "finite differences of the loss)")


def _assert_gradient_nn_agrees_with_ref(probe, rng, note: str = "") -> None:
    problem = ref.random_problem(rng, 10, d_range=(2, 9), h_range=(5, 21))
    got = float_arrays(probe("gradient_nn", X=problem["X"], Y=problem["Y"], params=problem["params"]))
    for grads, X, Y in zip(got, problem["X"], problem["Y"]):
        want = ref.analytic_gradients(X, Y, problem["params"])
        assert_gradients(grads, want, f"twolayer.gradient_nn (one example, Y = {Y:+.0f}, d = {len(X)}, "
                                      f"h = {len(problem['params']['bi'])}){note}")


def test_gradient_nn_matches_reference(probe, rng):
    _assert_gradient_nn_agrees_with_ref(probe, rng)


def test_gradient_nn_numerical_central(probe, rng):
    problem = ref.random_problem(rng, 2)
    pick = int(rng.integers(2))
    X, Y, params = problem["X"][pick], problem["Y"][pick], problem["params"]
    eps_values = [1e-2, 1e-3]
    got = float_arrays(probe("gradient_nn_numerical", X=X, Y=Y, params=params, eps_values=eps_values))
    where = "twolayer.gradient_nn_numerical"
    if got["modified"]:
        raise CheckFailed(f"{where} modified the arrays passed in ({', '.join(got['modified'])}): perturb copies "
                          "(the helper _perturbed returns one)")
    analytic = ref.analytic_gradients(X, Y, params)
    assert_gradients(got["default"], analytic, f"{where} at its default eps (against the analytic gradient)")
    errors = []
    for eps, grads in zip(eps_values, got["eps"]):
        for name, want in analytic.items():
            expect_array(grads[name], f"{where}(..., eps={eps:g}): gradient of {name}", want.shape)
        errors.append(max(float(np.max(np.abs(grads[k] - analytic[k]))) for k in ref.PARAMS))
    coarse, fine = errors
    if coarse < 1e-9:
        raise CheckFailed(f"{where}: its result barely depends on eps (largest error {coarse:.1e} at eps=1e-2): "
                          "perturb each entry by ±eps with the eps argument")
    if fine > 0.03 * coarse:
        raise CheckFailed(f"{where}: the largest error against the analytic gradient goes from {coarse:.2e} "
                          f"(eps=1e-2) to {fine:.2e} (eps=1e-3), only {coarse / max(fine, 1e-300):.0f} times "
                          "smaller; a central (symmetric) difference has an error in eps² (100 times smaller), a "
                          "one-sided one only in eps (10 times)")


def test_gradcheck(probe, rng):
    """gradcheck on stand-in gradients whose difference on one parameter grows over the trials up to ``base``:
    it must average the per-trial mean differences, and report FAILURE as soon as one trial exceeds tol."""
    where = "twolayer.gradcheck"
    trials, h, key = int(rng.integers(5, 12)), int(rng.integers(2, 6)), str(rng.choice(ref.PARAMS))
    tol = float(10.0 ** rng.uniform(-7, -5))
    for base, verdict in ((0.8 * tol, "SUCCESS"), (1.6 * tol, "FAILURE")):
        got = probe("gradcheck", trials=trials, h=h, tol=tol, key=key, base=base)
        what = f"{where}(trials={trials}, h={h}, tol={tol:.1e})"
        if got["analytic"] != trials or got["numerical"] != trials:
            raise CheckFailed(f"{what} called gradient_nn {got['analytic']} and gradient_nn_numerical "
                              f"{got['numerical']} times: expected once each per trial ({trials})")
        if any(shape != [2, h] for shape in got["shapes"]):
            raise CheckFailed(f"{what}: Wi should have shape (2, h) = (2, {h}), got {got['shapes'][0]}")
        mean = base * (trials + 1) / (2 * trials)
        want = {k: (mean if k == key else 0.0) for k in ref.PARAMS} | {"max": base}
        for name, value in want.items():
            if not np.isclose(got["result"][name], value, rtol=1e-9, atol=1e-15):
                raise CheckFailed(f"{what}: result[{name!r}] = {got['result'][name]:.4g}, expected {value:.4g} "
                                  "(the mean absolute difference per parameter, averaged over the trials; 'max' "
                                  "the largest per-trial mean difference)")
        other = "FAILURE" if verdict == "SUCCESS" else "SUCCESS"
        if verdict not in got["printed"] or other in got["printed"]:
            raise CheckFailed(f"{what} printed {got['printed'].strip()[:120]!r} when the largest per-trial "
                              f"difference is {base / tol:.1f} × tol (mean {mean / tol:.2f} × tol): it should "
                              f"print {verdict} (SUCCESS only when no trial exceeds tol)")


def test_twolayer_uses_numpy_only(submission, probe, rng):
    """The rule on twolayer.py and the submission's modules it imports; its point needs a working
    twolayer.gradient_nn."""
    assert_not_used(submission, "twolayer", "torch or an automatic-differentiation library (Part 1 is numpy only)",
                    modules={"torch", "jax", "autograd", "tensorflow"})
    _assert_gradient_nn_agrees_with_ref(probe, rng, " (the rule is checked on working code)")


def _unbalanced(rng: np.random.Generator, n: int, positives: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n double-moon points of which ``positives`` have the label +1, in random order."""
    X, Y, _, _ = ref.data.double_moon(n_train=4 * n, n_val=0, seed=seed)
    index = np.concatenate([np.flatnonzero(Y > 0)[:positives], np.flatnonzero(Y < 0)[:n - positives]])
    index = rng.permutation(index)
    return X[index], Y[index]


TRAIN_LOOP = {"lrate": 0.02, "nEpochs": 2}


def _train_loop(probe, rng, seed) -> tuple[dict, dict, int]:
    """``train_loop`` for 2 epochs on unbalanced double moons from Wo = 0, bo = 0: (result, data, h)."""
    n, m, h, epochs = 40, 20, int(rng.integers(3, 7)), TRAIN_LOOP["nEpochs"]
    Xtr, Ytr = _unbalanced(rng, n, 12, int(rng.integers(2**31)))
    Xval, Yval = _unbalanced(rng, m, 5, int(rng.integers(2**31)))
    got = float_arrays(probe("train_loop", train_X=Xtr, train_Y=Ytr, monitor_X=Xval, monitor_Y=Yval,
                             budget={"h": h, **TRAIN_LOOP}, train_seed=seed % 2**31))
    for key in ("tr_error", "val_error"):
        expect_array(got[key], f"twolayer.train_loop's {key} (nEpochs = {epochs}, N = {n} training samples)",
                     (epochs * n,))
    return got, {"tr_error": (Xtr, Ytr), "val_error": (Xval, Yval)}, h


def test_train_loop_records_after_each_step(probe, rng, seed):
    """With Wo = 0 and bo = 0 every first prediction is 0 (100% error); after the first SGD step every point
    gets the class of the example drawn, so the first recorded error is the share of the other class."""
    got, _, _ = _train_loop(probe, rng, seed)
    first = {"tr_error": (got["tr_error"][0], [30.0, 70.0]), "val_error": (got["val_error"][0], [25.0, 75.0])}
    for key, (value, allowed) in first.items():
        if not np.isclose(value, allowed, atol=1e-6).any():
            hint = (" — it is the error of the initial weights (Wo = 0, bo = 0 predict 0 everywhere): record the "
                    "errors after the SGD step of each iteration, not before") if np.isclose(value, 100) else ""
            raise CheckFailed(f"twolayer.train_loop: {key}[0] = {value:g}%, expected the error after the first SGD "
                              f"step ({allowed[0]:g}% or {allowed[1]:g}% on this data){hint}")


def test_train_loop_takes_the_reference_sgd_steps(probe, rng, seed):
    """The returned weights after 2 epochs equal the reference train_loop's on the same data and seed (the same
    draws, one step of lrate × gradient per iteration); a parameter left at its initial value or a step
    scaled by the number of samples is named."""
    got, data, h = _train_loop(probe, rng, seed)
    where = "twolayer.train_loop"
    weights = expect_arrays(got, {"Wi": (2, h), "bi": (h,), "Wo": (h,), "bo": ()}, where)
    (Xtr, Ytr), (Xval, Yval) = data["tr_error"], data["val_error"]

    def final(lrate: float) -> dict:
        result = ref.twolayer.train_loop(Xtr, Ytr, Xval, Yval, h, lrate, vis="never", nEpochs=TRAIN_LOOP["nEpochs"],
                                         seed=seed % 2**31)
        return dict(zip(ref.PARAMS, map(np.asarray, result[2:])))

    want = final(TRAIN_LOOP["lrate"])
    if all(np.allclose(weights[k], want[k], rtol=1e-6, atol=1e-9) for k in ref.PARAMS):
        return
    for name in ("Wo", "bo", "bi"):  # initialised to zero (bi gets no gradient while Wo is 0)
        if not np.any(weights[name]):
            raise CheckFailed(f"{where}: {name} is still 0 after {len(got['tr_error'])} iterations: it is never updated "
                              f"({name} = {name} - lrate * grad_s_{name} at every iteration)")
    scaled = final(TRAIN_LOOP["lrate"] * len(Ytr))
    if all(np.allclose(weights[k], scaled[k], rtol=1e-6, atol=1e-9) for k in ref.PARAMS):
        raise CheckFailed(f"{where}: the weights are those of steps of lrate × {len(Ytr)} × gradient: the step is "
                          "scaled by the number of training samples (one step of lrate × gradient per example)")
    for name in ref.PARAMS:
        assert_close(weights[name], want[name], f"{where}: {name} after {len(got['tr_error'])} iterations (one step "
                     "of lrate × gradient of the drawn example per iteration)", rtol=1e-6, atol=1e-9)


def test_train_loop_returns_the_final_weights(probe, rng, seed):
    """The last recorded errors are those of the returned weights (computed here with the reference forward
    pass on the student's weights: a hidden check, the student kit has no reference to replay it)."""
    got, data, h = _train_loop(probe, rng, seed)
    where = "twolayer.train_loop"
    weights = expect_arrays(got, {"Wi": (2, h), "bi": (h,), "Wo": (h,), "bo": ()}, where)
    for key, (X, Y) in data.items():
        want = ref.classification_error(X, Y, weights)
        if not np.isclose(got[key][-1], want, atol=1e-6):
            raise CheckFailed(f"{where}: {key}[-1] = {got[key][-1]:g}% but the returned weights have an error of "
                              f"{want:g}%: record the errors of the updated weights at every iteration and return "
                              "the final weights")
