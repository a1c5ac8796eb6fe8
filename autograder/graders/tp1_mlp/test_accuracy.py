"""Training behaviour: each variant learns the circles, the MLP learns real Fashion-MNIST / MNIST, and the
RBF SVM beats the linear ones. The worker trains and returns the trained parameters; the grader checks
they fit the handout's MLP (Linear → Tanh → Linear) and predicts the held-out data itself: the held-out
data and their labels never leave the grader."""

import numpy as np
import pytest
import torch

from autograder.graders.tp1_mlp import _reference as ref
from autograder.judges import CheckFailed
from autograder.judges.accuracy import Splits, draw_images, judge_trained, load_trained
from autograder.judges.values import expect_array, expect_arrays, expect_number

ARCHITECTURE = "nn.Sequential(nn.Linear(nx, nh), nn.Tanh(), nn.Linear(nh, ny))"


def _circles(seed: int) -> dict[str, np.ndarray]:
    """200 training, 200 monitor (labels sent) and 200 held-out (labels kept) circles drawn from ``seed``
    (itself drawn by the private rng): the data fields of ``accuracy.Splits``."""
    split = ref.data.circles(n_train=200, n_test=400, seed=seed)
    labels = {k: split[k].argmax(dim=1).numpy() for k in ("Ytrain", "Ytest")}
    return {"train_X": split["Xtrain"].numpy(), "train_Y": labels["Ytrain"],
            "monitor_X": split["Xtest"][:200].numpy(), "monitor_Y": labels["Ytest"][:200],
            "held_X": split["Xtest"][200:].numpy(), "held_Y": labels["Ytest"][200:]}


def trained_mlp(got: dict, nx: int, nh: int, ny: int, where: str) -> torch.nn.Module:
    """The handout's MLP (the solution's ``nn_mlp.make_model``) holding what ``probes.train`` returned:
    the manual parameters Wh (nh, nx), bh (nh,), Wy (ny, nh), by (ny,), or a Sequential's state_dict."""
    if "params" in got:
        params = expect_arrays(got["params"], {"Wh": (nh, nx), "bh": (nh,), "Wy": (ny, nh), "by": (ny,)}, where)
        state = ref.sequential_state(params)
    else:
        state = got["state"]
    return load_trained(ref.nn_mlp.make_model(nx, nh, ny), state, where, ARCHITECTURE)


@pytest.mark.parametrize("variant", ["manual", "autograd", "nn", "optim"])
def test_circles(probe, check, seed, rng, record, variant):
    splits = Splits(**_circles(int(rng.integers(2**31))), budget=check.budget)
    where = f"train.train_{variant} on the circles"
    got = probe("train", **splits.sent(), budget=splits.budget, train_seed=seed, variant=variant)
    judge_trained(got, splits, lambda got: trained_mlp(got, 2, splits.budget["nh"], 2, where),
                  lambda got: torch.tensor(splits.held_X).float(), check.threshold, where, record)


def _image_check(probe, check, seed, rng, record, root, name: str, where: str) -> None:
    splits = draw_images(root, name, check.budget, rng)
    got = probe("train", **splits.sent(), budget=splits.budget, train_seed=seed, variant="mnist")
    judge_trained(got, splits, lambda got: trained_mlp(got, 28 * 28, splits.budget["nh"], 10, where),
                  lambda got: torch.tensor(splits.held_X).reshape(len(splits.held_X), -1).float() / 255,
                  check.threshold, where, record)


def test_fashion_mnist(probe, check, seed, rng, record, data_root):
    _image_check(probe, check, seed, rng, record, data_root, "FashionMNIST", "train.train_mnist on Fashion-MNIST")


def test_mnist(probe, check, seed, rng, record, gpu_data_root):
    _image_check(probe, check, seed, rng, record, gpu_data_root("MNIST"), "MNIST", "train.train_mnist on MNIST")


#: what each entry of svm.fit_svms must be: (class, kernel)
SVMS = {"LinearSVC": ("LinearSVC", None), "SVC_linear": ("SVC", "linear"), "SVC_rbf": ("SVC", "rbf")}


def svm_predictions(described, X: np.ndarray, name: str) -> np.ndarray:
    """Predictions (N,) on points X (N, 2) of the fitted SVM ``described`` (``probes.svm_models``), computed
    here as scikit-learn's binary decision function does, after checking it is the model ``name`` asks for."""
    where = f"svm.fit_svms()[{name!r}]"
    kind, kernel = SVMS[name]
    if not isinstance(described, dict) or described.get("type") != kind or described.get("kernel") != kernel:
        want = "LinearSVC" if kind == "LinearSVC" else f"SVC(kernel={kernel!r})"
        got = f"{described.get('type')}" + (f"(kernel={described.get('kernel')!r})" if described.get("kernel")
                                            else "") if isinstance(described, dict) else type(described).__name__
        raise CheckFailed(f"{where} should be a fitted {want}, got {got[:200]}")
    classes = expect_array(described.get("classes"), f"{where}.classes_", (2,))
    intercept = expect_array(described.get("intercept"), f"{where}.intercept_", (1,))
    if kind == "LinearSVC":
        scores = X @ expect_array(described.get("coef"), f"{where}.coef_", (1, 2)).T
    else:
        vectors = expect_array(described.get("support_vectors"), f"{where}.support_vectors_", (None, 2))
        dual = expect_array(described.get("dual_coef"), f"{where}.dual_coef_", (1, len(vectors)))
        if kernel == "rbf":
            gamma = expect_number(described.get("gamma"), f"{where}'s gamma")
            gram = np.exp(-gamma * ((X[:, None, :] - vectors[None, :, :]) ** 2).sum(axis=2))
        else:
            gram = X @ vectors.T
        scores = gram @ dual.T
    return classes[(scores[:, 0] + intercept[0] > 0).astype(int)].astype(np.int64)


def test_svm_rbf_beats_linear(probe, check, rng, record):
    sets = _circles(int(rng.integers(2**31)))
    held_X, held_Y = sets.pop("held_X").astype(np.float64), sets.pop("held_Y")
    got = probe("svm_models", C=1.0, **sets)
    missing = set(SVMS) - set(got)
    if missing:
        raise CheckFailed(f"svm.fit_svms should return fitted models under the keys LinearSVC, SVC_linear and "
                          f"SVC_rbf (missing: {', '.join(sorted(missing))})")
    scores = {name: float(np.mean(svm_predictions(got[name], held_X, name) == held_Y)) for name in SVMS}
    record["svm"] = scores
    record["accuracy"] = scores["SVC_rbf"]  # what the threshold applies to (and what calibrate measures)
    best_linear = max(scores["LinearSVC"], scores["SVC_linear"])
    if scores["SVC_rbf"] < check.threshold or scores["SVC_rbf"] < best_linear + 0.2:
        raise CheckFailed(f"svm.fit_svms: RBF SVC scores {scores['SVC_rbf']:.1%} and the best linear SVM "
                          f"{best_linear:.1%}; expected the RBF kernel ≥ {check.threshold:.0%} and clearly "
                          "above the linear ones on the circles")


def test_svm_sweep_scores_each_C_on_the_test_split(probe, rng):
    sets = _circles(int(rng.integers(2**31)))
    del sets["held_X"], sets["held_Y"]
    Cs = [float(C) for C in np.sort(10.0 ** np.concatenate([rng.uniform(-3, -2, 1), rng.uniform(-1, 2, 2)]))]
    got = probe("svm_sweep", Cs=Cs, **sets)
    where = "svm.sweep_C"
    if len(got) != len(Cs) or not np.allclose([C for C, _ in got], Cs):
        raise CheckFailed(f"{where}: expected one (C, accuracy) pair per C, in the order of Cs {Cs}; got the Cs "
                          f"{[C for C, _ in got]}")
    for (C, accuracy), want in zip(got, ref.svm_sweep(sets, Cs)):
        if not np.isclose(accuracy, want["test"], rtol=0, atol=1e-9):
            hint = (" — it is the accuracy on the training split: score each model on the test split"
                    if np.isclose(accuracy, want["train"], rtol=0, atol=1e-9) else "")
            raise CheckFailed(f"{where}: for C = {C:.4g} the accuracy is {accuracy:.4f}, expected {want['test']:.4f} "
                              f"(SVC(kernel=\"rbf\", C=C) fitted on the training split, scored on the test split){hint}")
