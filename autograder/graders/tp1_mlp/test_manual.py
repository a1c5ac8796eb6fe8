"""Part 1.2.1: forward, loss, backward and SGD written by hand (manual.py)."""

import numpy as np

from autograder.graders.tp1_mlp import _reference as ref
from autograder.judges import CheckFailed
from autograder.judges.gradients import assert_gradients, numeric_gradient
from autograder.judges.static import assert_not_used
from autograder.judges.values import assert_close, expect_array, expect_number


def test_init_params(probe, rng):
    nx, nh, ny = (int(v) for v in rng.integers(40, 60, size=3))
    params = probe("init_params", nx=nx, nh=nh, ny=ny)
    shapes = {"Wh": (nh, nx), "bh": (nh,), "Wy": (ny, nh), "by": (ny,)}
    for name, shape in shapes.items():
        if name not in params:
            raise CheckFailed(f"manual.init_params: key {name!r} missing (expected {sorted(shapes)})")
        expect_array(params[name], f"manual.init_params()[{name!r}]", shape)
    weights = np.concatenate([params["Wh"].ravel(), params["Wy"].ravel()])
    if not 0.27 <= weights.std() <= 0.33 or abs(weights.mean()) > 0.03:
        raise CheckFailed(f"manual.init_params: weights have mean {weights.mean():.3f} and std "
                          f"{weights.std():.3f}; expected a normal law with mean 0 and std 0.3")
    for name in ("bh", "by"):  # 40 to 59 draws each: bounds 5 sigmas away for N(0, 0.3²)
        bias = params[name]
        if not 0.13 <= bias.std() <= 0.47 or abs(bias.mean()) > 0.24:
            raise CheckFailed(f"manual.init_params: {name} has mean {bias.mean():.3f} and std {bias.std():.3f}; "
                              "expected N(0, 0.3²) like the weights")


def test_forward(probe, rng):
    problem = ref.random_problem(rng)
    got = probe("forward", params=problem["params"], X=problem["X"])
    want = ref.forward(problem["params"], problem["X"])
    assert_close(got["yhat"], want["yhat"], "manual.forward's Yhat")
    for name, value in want.items():
        if name not in got["outputs"]:
            raise CheckFailed(f"manual.forward: outputs has no key {name!r} (expected {sorted(want)})")
        assert_close(got["outputs"][name], value, f"manual.forward: outputs[{name!r}]")


def test_softmax_stable(probe, rng):
    logits = rng.normal(0, 1, (5, 4)) * 1e3
    got = expect_array(probe("softmax", Z=logits), "manual.softmax for logits around ±1e3", (5, 4))
    want = np.exp(logits - logits.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)
    if not np.allclose(got.sum(axis=1), 1, atol=1e-6):
        raise CheckFailed("manual.softmax: rows do not sum to 1")
    assert_close(got, want, "manual.softmax for logits around ±1e3", atol=1e-6)


def test_loss_accuracy(probe, rng):
    for _ in range(50):  # a batch where an argmax over the wrong axis cannot give the right accuracy
        problem = ref.random_problem(rng, batch=12)
        yhat = ref.forward(problem["params"], problem["X"])["yhat"]
        if np.mean(yhat.argmax(axis=0) == problem["Y"].argmax(axis=0)) != np.mean(
                yhat.argmax(axis=1) == problem["labels"]):
            break
    got = probe("loss_accuracy", Yhat=yhat, Y=problem["Y"])
    loss = expect_number(got["loss"], "manual.loss_accuracy's L")
    want = -np.mean(np.sum(problem["Y"] * np.log(yhat), axis=1))
    if not np.isclose(loss, want, rtol=1e-5):
        raise CheckFailed(f"manual.loss_accuracy: L = {loss:.6g}, expected the mean cross-entropy {want:.6g}")
    acc = expect_number(got["acc"], "manual.loss_accuracy's acc")
    want_acc = np.mean(yhat.argmax(axis=1) == problem["labels"])
    if not np.isclose(acc, want_acc):
        raise CheckFailed(f"manual.loss_accuracy: acc = {acc:.4g}, expected {want_acc:.4g} "
                          "(argmax over the classes, dim 1)")


def test_backward_finite_differences(probe, rng):
    while True:  # well-posed: every gradient entry >= 1e-3, far above the ~1e-10 round-off of the differences
        problem = ref.random_problem(rng)
        params, X, Y = problem["params"], problem["X"], problem["Y"]
        numeric = {name: numeric_gradient(lambda p=params, x=X, y=Y: ref.loss(p, x, y), params[name])
                   for name in ref.PARAMS}
        if min(float(np.min(np.abs(g))) for g in numeric.values()) >= 1e-3:
            break
    got = probe("backward", params=params, outputs=ref.forward(params, X), Y=Y)
    assert_gradients(got, numeric, "manual.backward", tolerance=1e-6)


def _assert_backward_matches_autograd(probe, rng, where: str = "manual.backward") -> None:
    problem = ref.random_problem(rng, batch=int(rng.integers(20, 40)))
    params, X, Y = problem["params"], problem["X"], problem["Y"]
    got = probe("backward", params=params, outputs=ref.forward(params, X), Y=Y)
    assert_gradients(got, ref.autograd_gradients(params, X, Y), where, tolerance=1e-6)


def test_backward_matches_autograd(probe, rng):
    _assert_backward_matches_autograd(probe, rng)


def test_sgd(probe, rng):
    problem = ref.random_problem(rng)
    grads = {k: rng.normal(0, 1, v.shape) for k, v in problem["params"].items()}
    eta = float(rng.uniform(0.01, 0.5))
    got = probe("sgd", params=problem["params"], grads=grads, eta=eta)
    for name, value in problem["params"].items():
        want = value - eta * grads[name]
        assert_close(got["returned"].get(name), want, f"manual.sgd: new {name}")
        passed = expect_array(got["passed"].get(name), f"manual.sgd: params[{name!r}] after the call", want.shape)
        if np.array_equal(passed, value):
            raise CheckFailed(f"manual.sgd: the tensor params[{name!r}] it was given still holds the old values: "
                              "update the tensors of params in place (-= or sub_) and return params")
        assert_close(passed, want, f"manual.sgd: params[{name!r}] after the call (updated in place)")


def test_manual_uses_no_autograd(submission, probe, rng):
    """The rule on manual.py and the submission's modules it imports; its point needs a working
    manual.backward (a manual.py implementing nothing earns nothing)."""
    assert_not_used(submission, "manual", "automatic differentiation (the gradients are written by hand)",
                    names={"torch.autograd", "autograd"}, attributes={"backward", "requires_grad",
                                                                      "requires_grad_", "grad", "enable_grad"},
                    modules={"torch.autograd", "torch.func", "functorch"})
    _assert_backward_matches_autograd(probe, rng, "manual.backward (the rule is checked on working code)")
