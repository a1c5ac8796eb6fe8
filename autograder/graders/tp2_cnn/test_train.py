"""Parts 2.2 and 3.3 (train.py): one epoch in evaluation and in training mode against the reference loop
on the same small network, weights and batches (``probes.epoch_model``), main() evaluating without updates, optimizer and scheduler settings."""

import numpy as np

from autograder.checks import CheckFailed
from autograder.checks.values import assert_close, expect_number
from autograder.graders.tp2_cnn import _reference as ref


def _loss_and_accuracy(got: dict, want: dict, where: str) -> None:
    loss = expect_number(got["loss"], f"{where}: the mean loss")
    acc = expect_number(got["acc"], f"{where}: the accuracy")
    if not np.isclose(loss, want["loss"], rtol=1e-4, atol=1e-6):
        raise CheckFailed(f"{where}: mean loss {loss:.6g}, expected {want['loss']:.6g} (the mean cross-entropy per "
                          "example over the whole pass)")
    if not np.isclose(acc, want["acc"], atol=1e-6):
        raise CheckFailed(f"{where}: accuracy {acc:.6g}, expected {want['acc']:.6g} (a fraction in [0, 1] over "
                          "the whole pass)")


def test_epoch_evaluation(probe, rng):
    kwargs = {"batch_norm": True, "dropout": True}
    state = ref.epoch_state(rng, **kwargs)
    data = ref.batches(rng, count=3, size=8, side=16)
    got = probe("epoch", state=state, X=data["X"], Y=data["Y"], model_kwargs=kwargs)
    where = "train.epoch(loader, model, criterion) without optimizer"
    if any(flag["training"] for flag in got["flags"]):
        raise CheckFailed(f"{where}: the model ran in training mode; call model.eval() when there is no "
                          "optimizer (dropout and BatchNorm behave differently in eval mode)")
    if any(flag["grad"] for flag in got["flags"]):
        raise CheckFailed(f"{where}: gradients were tracked; evaluate under torch.no_grad()")
    changed = [name for name, value in state.items() if name not in got["state"]
               or not np.array_equal(np.reshape(got["state"][name], np.shape(value)), value)]
    if changed:
        raise CheckFailed(f"{where}: the model changed ({', '.join(changed[:4])}); evaluation must leave the "
                          "weights and the BatchNorm statistics untouched")
    if got["has_grad"]:
        raise CheckFailed(f"{where}: gradients were computed (backward called); evaluation has no backward")
    _loss_and_accuracy(got, ref.run_epoch(state, data, kwargs), where)


def test_epoch_training(probe, rng):
    kwargs = {"batch_norm": True}
    state = ref.epoch_state(rng, **kwargs)
    data = ref.batches(rng, count=3, size=8, side=16)
    lr = float(np.round(rng.uniform(0.01, 0.05), 3))
    got = probe("epoch", state=state, X=data["X"], Y=data["Y"], model_kwargs=kwargs, lr=lr)
    where = "train.epoch(loader, model, criterion, optimizer)"
    if not got["flags"] or not all(flag["training"] and flag["grad"] for flag in got["flags"]):
        raise CheckFailed(f"{where}: the model should run in training mode (model.train()) with gradients tracked")
    weights = [name for name in state if "running" not in name and "num_batches" not in name]
    if all(np.array_equal(got["state"].get(name), state[name]) for name in weights):
        raise CheckFailed(f"{where}: the weights did not change; take an optimizer step after each backward")
    want = ref.run_epoch(state, data, kwargs, lr=lr)
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
    if len(tested) != 2 or len([c for c in got["changes"] if c["phase"] == "train"]) != 2:
        raise CheckFailed(f"{where}: with epochs=2, expected one pass over train_loader then one over test_loader "
                          "per epoch")
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
    if not got["trained"]:
        raise CheckFailed(f"{where}: the model did not change after two epochs of training")
    history = got["history"]
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        if not isinstance(history.get(key), list) or len(history[key]) != 2:
            raise CheckFailed(f"{where}: the history should hold {key!r}, one value per epoch")


def test_make_optimizer(probe, rng):
    lr = float(np.round(rng.uniform(0.01, 0.2), 3))
    got = probe("optimizer", lr=lr, momentum=0.9)
    for label, momentum in (("default", 0.0), ("momentum", 0.9)):
        settings = got[label]
        call = f"train.make_optimizer(model, {lr}" + (", momentum=0.9)" if momentum else ")")
        if settings["type"] != "SGD":
            raise CheckFailed(f"{call} returns {settings['type']}, expected torch.optim.SGD")
        if not np.isclose(settings["lr"], lr) or not np.isclose(settings["momentum"], momentum) \
                or settings["nesterov"] or settings["weight_decay"]:
            raise CheckFailed(f"{call}: lr={settings['lr']}, momentum={settings['momentum']}, nesterov="
                              f"{settings['nesterov']}, weight_decay={settings['weight_decay']}; expected lr={lr}, "
                              f"momentum={momentum}, no Nesterov, no weight decay")
        if not settings["all_parameters"]:
            raise CheckFailed(f"{call}: the optimizer does not hold all of model.parameters()")


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
