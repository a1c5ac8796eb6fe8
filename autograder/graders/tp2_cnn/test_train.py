"""Parts 2.2 and 3.3 (train.py): one epoch in evaluation and in training mode against the reference loop
on the same small network, weights and batches (``probes.epoch_model``), main() evaluating without updates, optimizer and scheduler settings."""

import numpy as np

from autograder.graders.tp2_cnn import _reference as ref
from autograder.judges import CheckFailed
from autograder.judges.static import assert_used
from autograder.judges.steps import assert_trajectory, likely_cause, sgd_trajectory
from autograder.judges.values import assert_close, expect_number


def _loss_and_accuracy(got: dict, want: dict, where: str) -> None:
    loss = expect_number(got["loss"], f"{where}: the mean loss")
    acc = expect_number(got["acc"], f"{where}: the accuracy")
    if not np.isclose(loss, want["loss"], rtol=1e-4, atol=1e-6):
        raise CheckFailed(f"{where}: mean loss {loss:.6g}, expected {want['loss']:.6g} (the mean cross-entropy per "
                          "example over the whole pass)")
    if not np.isclose(acc, want["acc"], atol=1e-6):
        raise CheckFailed(f"{where}: accuracy {acc:.6g}, expected {want['acc']:.6g} (a fraction in [0, 1] over "
                          "the whole pass)")


def test_epoch_evaluation(submission, probe, rng):
    kwargs = {"batch_norm": True, "dropout": True}
    state = ref.epoch_state(rng, **kwargs)
    data = ref.batches(rng, count=3, size=8, side=16)
    n = int(rng.integers(17, 22))  # a smaller last batch: the mean loss is per example, not per batch
    got = probe("epoch", state=state, X=data["X"], Y=data["Y"], model_kwargs=kwargs, n=n)
    where = "train.epoch(loader, model, criterion) without optimizer"
    if any(flag["training"] for flag in got["flags"]):
        raise CheckFailed(f"{where}: the model ran in training mode; call model.eval() when there is no "
                          "optimizer (dropout and BatchNorm behave differently in eval mode)")
    if any(flag["grad"] for flag in got["flags"]):
        raise CheckFailed(f"{where}: gradients were tracked; evaluate under torch.no_grad()")
    # the flags above are seen by the worker, hence forgeable: the grader reads the source for the same fact
    assert_used(submission, "train", "torch.no_grad() (or inference_mode) in epoch() when it evaluates",
                {"no_grad", "inference_mode", "set_grad_enabled"})
    changed = [name for name, value in state.items() if name not in got["state"]
               or not np.array_equal(np.reshape(got["state"][name], np.shape(value)), value)]
    if changed:
        raise CheckFailed(f"{where}: the model changed ({', '.join(changed[:4])}); evaluation must leave the "
                          "weights and the BatchNorm statistics untouched")
    if got["with_grad"]:
        raise CheckFailed(f"{where}: gradients were computed for {', '.join(got['with_grad'][:3])} (backward "
                          "called); evaluation has no backward")
    _loss_and_accuracy(got, ref.run_epoch(state, data, kwargs, n=n), where)


def test_epoch_training(probe, rng):
    kwargs = {"batch_norm": True}
    state = ref.epoch_state(rng, **kwargs)
    data = ref.batches(rng, count=3, size=8, side=16)
    lr = float(np.round(rng.uniform(0.01, 0.05), 3))
    n = int(rng.integers(17, 22))  # a smaller last batch: the mean loss is per example, not per batch
    got = probe("epoch", state=state, X=data["X"], Y=data["Y"], model_kwargs=kwargs, lr=lr, n=n)
    where = "train.epoch(loader, model, criterion, optimizer)"
    if not got["flags"] or not all(flag["training"] and flag["grad"] for flag in got["flags"]):
        raise CheckFailed(f"{where}: the model should run in training mode (model.train()) with gradients tracked")
    weights = [name for name in state if "running" not in name and "num_batches" not in name]
    if all(np.array_equal(got["state"].get(name), state[name]) for name in weights):
        raise CheckFailed(f"{where}: the weights did not change; take an optimizer step after each backward")
    want = ref.run_epoch(state, data, kwargs, lr=lr, n=n)
    for name, value in want["state"].items():
        if name.endswith("num_batches_tracked"):
            continue
        assert_close(got["state"].get(name), value, f"{where}: {name} after one epoch of 3 batches (zero the "
                     "gradients, backward and step once per batch)", rtol=1e-3, atol=1e-5)
    _loss_and_accuracy(got, want, where)


def test_main_evaluates_without_updates(probe, rng):
    X = rng.normal(0, 1, (24, 3, 32, 32)).astype(np.float32)
    Y = rng.integers(0, 10, 24)
    got = probe("main", X_train=X[:16], Y_train=Y[:16], X_test=X[16:], Y_test=Y[16:], batch=8, epochs=2, lr=0.01)
    where = "train.main"
    tested = [change for change in got["changes"] if change["phase"] == "test"]
    if [c["phase"] for c in got["changes"]] != ["test", "train", "test", "train", "test"]:
        raise CheckFailed(f"{where}: with epochs=2, expected one pass over test_loader before training, then one "
                          "pass over train_loader and one over test_loader per epoch")
    for change in tested:
        if change["changed"]:
            raise CheckFailed(f"{where}: the model changed during the pass over test_loader "
                              f"({', '.join(change['changed'][:3])}): evaluation must not update the weights nor "
                              "the BatchNorm statistics (no optimizer, model.eval())")
    for flag in got["flags"]:
        if flag["phase"] == "test" and (flag["training"] or flag["grad"]):
            raise CheckFailed(f"{where}: the test pass ran in training mode or tracked gradients; evaluate with "
                              "model.eval() under torch.no_grad()")
        if flag["phase"] == "train" and not flag["training"]:
            raise CheckFailed(f"{where}: the training pass ran in eval mode")
    if not got["changed"]:
        raise CheckFailed(f"{where}: the model did not change after two epochs of training")
    history = got["history"]
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        if not isinstance(history.get(key), list) or len(history[key]) != 2:
            raise CheckFailed(f"{where}: the history should hold {key!r}, one value per epoch")


def test_make_optimizer(probe, rng):
    """Plain SGD with the given lr and momentum, judged from two steps with fixed gradients on the grader's
    small model (weight decay, Nesterov, another lr or momentum, a parameter left out show in the values)."""
    lr = float(np.round(rng.uniform(0.01, 0.2), 3))
    state = {"0.weight": rng.normal(0, 0.5, (3, 4)), "0.bias": rng.normal(0, 0.5, 3),
             "2.weight": rng.normal(0, 0.5, (2, 3)), "2.bias": rng.normal(0, 0.5, 2)}
    grads = {name: rng.normal(0, 1, np.shape(value)) for name, value in state.items()}
    got = probe("optimizer", state=state, grads=grads, lr=lr, momentum=0.9)
    for label, momentum in (("default", 0.0), ("momentum", 0.9)):
        call = f"train.make_optimizer(model, {lr}" + (", momentum=0.9)" if momentum else ")")
        assert_trajectory(got[label], sgd_trajectory(state, grads, lr, momentum), state,
                          f"{call} (expected torch.optim.SGD(model.parameters(), lr={lr}, momentum={momentum:g}))",
                          cause=lambda steps, m=momentum: likely_cause(state, grads, steps, lr, m))


def test_main_uses_momentum_and_steps_the_scheduler_per_epoch(probe, rng):
    """train.main with momentum and gamma: the weights after 2 epochs of 2 batches against the reference
    main's; a difference is explained by the scheduler's step count or the reference without momentum."""
    state = ref.epoch_state(rng)
    train, test = ref.batches(rng, count=2, size=8, side=16), ref.batches(rng, count=1, size=8, side=16)
    settings = {"epochs": 2, "lr": float(np.round(rng.uniform(0.02, 0.05), 3)), "momentum": 0.9,
                "gamma": float(np.round(rng.uniform(0.3, 0.6), 2))}
    got = probe("main_schedule", state=state, X_train=train["X"].reshape(-1, 3, 16, 16), Y_train=train["Y"].reshape(-1),
                X_test=test["X"].reshape(-1, 3, 16, 16), Y_test=test["Y"].reshape(-1), batch=8, **settings)
    where = (f"train.main(..., epochs=2, lr={settings['lr']}, momentum=0.9, gamma={settings['gamma']}) on 2 batches "
             "per epoch")

    def matches(weights: dict) -> bool:
        return all(np.allclose(np.reshape(got["state"].get(k, np.nan), np.shape(v)), v, rtol=1e-4, atol=1e-6)
                   for k, v in weights.items() if not k.endswith("num_batches_tracked"))

    if matches(ref.main_state(state, train, test, **settings)):
        return
    counts = got["scheduler_steps"]
    if counts and counts[0] != settings["epochs"]:
        raise CheckFailed(f"{where}: the scheduler was stepped {counts[0]} times; step it once per epoch, after the "
                          "epoch's batches (scheduler.step() outside the batch loop)")
    if matches(ref.main_state(state, train, test, **{**settings, "momentum": 0.0})):
        raise CheckFailed(f"{where}: the weights are those of SGD without momentum: momentum never reaches the "
                          "optimizer (pass it on to make_optimizer)")
    if matches(ref.main_state(state, train, test, **{**settings, "gamma": None})):
        raise CheckFailed(f"{where}: the weights are those of a constant learning rate: the scheduler is not made "
                          "or not stepped (make_scheduler(optimizer, gamma), scheduler.step() once per epoch)")
    for name, value in ref.main_state(state, train, test, **settings).items():
        assert_close(got["state"].get(name), value, f"{where}: {name} after training", rtol=1e-4, atol=1e-6)


def test_make_scheduler(probe, rng):
    lr = float(np.round(rng.uniform(0.05, 0.2), 3))
    gamma = float(np.round(rng.uniform(0.5, 0.9), 2))
    got = probe("scheduler", lr=lr, gamma=gamma, steps=3)
    for label, factor in (("default", 0.95), ("gamma", gamma)):
        settings = got[label]
        call = "train.make_scheduler(optimizer" + (f", gamma={gamma})" if label == "gamma" else ")")
        if settings["type"] != "ExponentialLR":
            raise CheckFailed(f"{call} returns {settings['type']}, expected torch.optim.lr_scheduler.ExponentialLR")
        want = [lr * factor ** n for n in (1, 2, 3)]
        if not np.allclose(settings["rates"], want, rtol=1e-6):
            raise CheckFailed(f"{call}: learning rates after 1, 2, 3 steps are "
                              f"{[round(r, 6) for r in settings['rates']]}, expected {[round(r, 6) for r in want]} "
                              f"(multiplied by gamma={factor} at each step)")


def test_main_logs_the_start_and_each_step(probe, rng):
    state = ref.epoch_state(rng)
    train, test = ref.batches(rng, count=3, size=8, side=16), ref.batches(rng, count=2, size=8, side=16)
    lr = float(np.round(rng.uniform(0.01, 0.05), 3))
    flat = {f"X_{name}": data["X"].reshape(-1, *data["X"].shape[2:]) for name, data in (("train", train), ("test", test))}
    got = probe("main_log", state=state, **flat, Y_train=train["Y"].reshape(-1), Y_test=test["Y"].reshape(-1),
                batch=8, epochs=2, lr=lr)
    where = "train.main (question 17)"
    start = ref.run_epoch(state, test, {})
    if not np.isclose(got["start"]["test_loss"], start["loss"], rtol=1e-4) \
            or not np.isclose(got["start"]["test_acc"], start["acc"], atol=1e-6):
        raise CheckFailed(f"{where}: history['start'] is {got['start']}, expected the test loss {start['loss']:.6g} and "
                          f"accuracy {start['acc']:.6g} of the model before any update")
    steps = got["steps"]
    if len(steps["loss"]) != 6 or len(steps["acc"]) != 6:
        raise CheckFailed(f"{where}: history['steps'] holds {len(steps['loss'])} losses and {len(steps['acc'])} "
                          "accuracies for 2 epochs of 3 batches; expected one per optimizer step (6)")
    first_batch = {"X": train["X"][:1], "Y": train["Y"][:1]}
    epoch_1 = ref.run_epoch(state, train, {}, lr=lr)
    for step, weights in ((0, state), (3, epoch_1["state"])):
        want = ref.run_epoch(weights, first_batch, {})
        if not np.isclose(steps["loss"][step], want["loss"], rtol=1e-4) \
                or not np.isclose(steps["acc"][step], want["acc"], atol=1e-6):
            raise CheckFailed(f"{where}: step {step + 1} logged loss {steps['loss'][step]:.6g} and accuracy "
                              f"{steps['acc'][step]:.6g}; expected {want['loss']:.6g} and {want['acc']:.6g}, the "
                              "first batch scored with the weights before that step's update")
    if not np.isclose(np.mean(steps["loss"][:3]), got["train_loss"][0], rtol=1e-4):
        raise CheckFailed(f"{where}: the mean of the first epoch's logged step losses ({np.mean(steps['loss'][:3]):.6g})"
                          f" differs from the epoch's training loss ({got['train_loss'][0]:.6g})")
