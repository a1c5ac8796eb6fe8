"""Parts 1.2.2–1.2.4: autograd, torch.nn and torch.optim versions."""

import numpy as np

from autograder.graders.tp1_mlp import _reference as ref
from autograder.judges import CheckFailed
from autograder.judges.models import assert_output_shapes, assert_parameter_counts
from autograder.judges.static import assert_used
from autograder.judges.steps import assert_trajectory, likely_cause, sgd_trajectory
from autograder.judges.values import assert_close, expect_number
from autograder.sandbox.probing import summarize_model


def _assert_steps(reports, expected, where: str, names: dict[str, str], losses: list[float]) -> None:
    """Each step returns the batch loss before its update (``losses``), its parameters equal the reference
    (so gradients were zeroed between steps), and so do the tensors the loop was given: updated in place,
    they stay the leaves the next step differentiates (judged from values, which the worker cannot forge
    without doing the update)."""
    if not isinstance(reports, list) or len(reports) != len(expected):
        raise CheckFailed(f"{where}: could not observe {len(expected)} steps")
    for step, (report, want, loss) in enumerate(zip(reports, expected, losses), start=1):
        returned = expect_number(report["returned"], f"{where}'s returned loss (step {step})")
        if not np.isclose(returned, loss, rtol=1e-6):
            after = " (the loss after the update?)" if step < len(losses) and np.isclose(returned, losses[step],
                                                                                          rtol=1e-6) else ""
            raise CheckFailed(f"{where}: step {step} returns {returned:.6g}, expected the batch loss before the "
                              f"update, {loss:.6g}{after}")
        for ref_name, name in names.items():
            state = report.get(name)
            if state is None:
                raise CheckFailed(f"{where}: parameter {name!r} disappeared after step {step}")
            hint = " (were the gradients zeroed after the first step?)" if step > 1 else ""
            assert_close(state["value"], want[ref_name], f"{where}: {name} after step {step}{hint}", rtol=1e-6,
                         atol=1e-9)
            assert_close(state["given"], want[ref_name], f"{where}: the tensor {name} the loop was given, after "
                         f"step {step} (a new tensor took its place: update each parameter in place inside "
                         "torch.no_grad(), so that it stays a leaf tensor that requires grad)", rtol=1e-6, atol=1e-9)


def test_autograd_two_steps(probe, rng):
    problem = ref.random_problem(rng)
    eta = float(rng.uniform(0.05, 0.5))
    reports = probe("autograd_steps", params=problem["params"], X=problem["X"], Y=problem["Y"], eta=eta)
    expected = ref.sgd_steps(problem["params"], problem["X"], problem["Y"], eta, steps=3)
    _assert_steps(reports, expected[:2], "autograd_mlp.train_step", {k: k for k in ref.PARAMS},
                  ref.step_losses(problem, expected))


def test_autograd_init_params(submission, probe, rng):
    """autograd_mlp.init_params: manual.init_params's draws for the same generator, as leaves requiring grad."""
    nx, nh, ny = (int(v) for v in rng.integers(3, 30, size=3))
    seed = int(rng.integers(2**31))
    got = probe("autograd_init", nx=nx, nh=nh, ny=ny, seed=seed)
    where = "autograd_mlp.init_params"
    for name, value in ref.init_draws(nx, nh, ny, seed).items():
        state = got.get(name)
        if state is None:
            raise CheckFailed(f"{where}: key {name!r} missing (expected {list(ref.PARAMS)})")
        if not state["is_leaf"] or not state["requires_grad"]:
            raise CheckFailed(f"{where}()[{name!r}] should be a leaf tensor with requires_grad=True (call "
                              ".requires_grad_() on the drawn tensor)")
        assert_close(state["value"], value, f"{where}()[{name!r}] (the draws of manual.init_params for the same "
                     "generator: N(0, 0.3²) for every tensor, biases included)", rtol=1e-6, atol=1e-7)
    # the flags above are seen by the worker, hence forgeable: the grader reads the source for the same fact
    assert_used(submission, "autograd_mlp", "requires_grad_() (or requires_grad=True) on the drawn tensors",
                {"requires_grad_", "requires_grad"})


def test_nn_model_structure(probe, rng):
    nx, nh, ny = (int(v) for v in rng.integers(3, 30, size=3))
    got = probe("model_summary", nx=nx, nh=nh, ny=ny, batch=5)
    import torch

    want = summarize_model(torch.nn.Sequential(torch.nn.Linear(nx, nh), torch.nn.Tanh(),
                                               torch.nn.Linear(nh, ny)), (5, nx))
    if "torch.nn.modules.container.Sequential" not in got["classes"]:
        raise CheckFailed(f"nn_mlp.make_model returns a {got['classes'][0]}, expected a torch.nn.Sequential")
    assert_parameter_counts(got, want, "nn_mlp.make_model")
    assert_output_shapes(got, want, "nn_mlp.make_model", (5, nx))


def test_nn_loss_is_cross_entropy(probe, rng):
    logits = rng.normal(0, 3, (7, 5))
    labels = rng.integers(0, 5, 7)
    got = expect_number(probe("nn_loss", logits=logits, y=labels), "nn_mlp.make_loss()(logits, y)")
    shifted = logits - logits.max(axis=1, keepdims=True)
    want = float(np.mean(np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(7), labels]))
    if not np.isclose(got, want, rtol=1e-6):
        raise CheckFailed(f"nn_mlp.make_loss: loss {got:.6g} on logits, expected the mean cross-entropy "
                          f"{want:.6g} (nn.CrossEntropyLoss takes logits, not probabilities)")


def test_nn_two_steps(probe, rng):
    problem = ref.random_problem(rng)
    eta = float(rng.uniform(0.05, 0.5))
    reports = probe("nn_steps", state=ref.sequential_state(problem["params"]), X=problem["X"],
                    y=problem["labels"], eta=eta, nx=problem["nx"], nh=problem["nh"], ny=problem["ny"])
    expected = ref.sgd_steps(problem["params"], problem["X"], problem["Y"], eta, steps=3)
    names = {"Wh": "0.weight", "bh": "0.bias", "Wy": "2.weight", "by": "2.bias"}
    _assert_steps(reports, expected[:2], "nn_mlp.train_step", names, ref.step_losses(problem, expected))


def test_optimizer_settings(probe, rng):
    """Plain SGD with lr = eta, judged from two steps with fixed gradients (momentum, weight decay, another lr
    or a parameter left out show in the values)."""
    problem = ref.random_problem(rng)
    eta = float(np.round(rng.uniform(0.01, 0.5), 3))
    state = ref.sequential_state(problem["params"])
    grads = {name: rng.normal(0, 1, np.shape(value)) for name, value in state.items()}
    got = probe("optimizer_steps", state=state, grads=grads, eta=eta)
    where = f"optim_mlp.make_optimizer(model, {eta})"
    assert_trajectory(got["steps"], sgd_trajectory(state, grads, eta), state, f"{where} (expected plain "
                      f"torch.optim.SGD with lr={eta})", cause=lambda steps: likely_cause(state, grads, steps, eta, 0.0))


def test_optim_two_steps(probe, rng):
    problem = ref.random_problem(rng)
    eta = float(rng.uniform(0.05, 0.5))
    reports = probe("optim_steps", state=ref.sequential_state(problem["params"]), X=problem["X"],
                    y=problem["labels"], eta=eta, nx=problem["nx"], nh=problem["nh"], ny=problem["ny"])
    expected = ref.sgd_steps(problem["params"], problem["X"], problem["Y"], eta, steps=3)
    names = {"Wh": "0.weight", "bh": "0.bias", "Wy": "2.weight", "by": "2.bias"}
    _assert_steps(reports, expected[:2], "optim_mlp.train_step", names, ref.step_losses(problem, expected))
