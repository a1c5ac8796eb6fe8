"""Probes of tp1_mlp: run in the worker, call the student's functions, return plain data."""

from __future__ import annotations

import numpy as np
import torch

from autograder.sandbox.probing import (
    StudentError,
    call,
    describe_class,
    learning_curves,
    optimizer_trajectory,
    summarize_model,
    tensor,
)

PARAMS = ("Wh", "bh", "Wy", "by")


def _tensors(arrays: dict, requires_grad: bool = False) -> dict[str, torch.Tensor]:
    return {k: torch.tensor(v).requires_grad_(requires_grad) for k, v in arrays.items()}


def _param_dict(value, where: str) -> dict[str, np.ndarray]:
    if not isinstance(value, dict):
        raise StudentError(f"{where} should return a dict of tensors, got {type(value).__name__}")
    return {name: tensor(value[name], f"{where}[{name!r}]") for name in PARAMS if name in value}


def init_params(nx: int, nh: int, ny: int):
    return _param_dict(call("manual", "init_params", nx, nh, ny), "manual.init_params")


def softmax(Z):
    return tensor(call("manual", "softmax", torch.tensor(Z)), "manual.softmax")


def forward(params, X):
    result = call("manual", "forward", _tensors(params), torch.tensor(X))
    if not isinstance(result, tuple) or len(result) != 2 or not isinstance(result[1], dict):
        raise StudentError("manual.forward should return a tuple (Yhat, outputs) with outputs a dict")
    yhat, outputs = result
    return {"yhat": tensor(yhat, "manual.forward's Yhat"),
            "outputs": {k: tensor(v, f"manual.forward's outputs[{k!r}]") for k, v in outputs.items()}}


def loss_accuracy(Yhat, Y):
    result = call("manual", "loss_accuracy", torch.tensor(Yhat), torch.tensor(Y))
    if not isinstance(result, tuple) or len(result) != 2:
        raise StudentError("manual.loss_accuracy should return a tuple (L, acc)")
    loss, acc = result
    return {"loss": tensor(loss, "manual.loss_accuracy's L") if isinstance(loss, torch.Tensor) else loss,
            "acc": float(acc) if isinstance(acc, (int, float, torch.Tensor)) and not isinstance(acc, bool)
            else repr(acc)}


def backward(params, outputs, Y):
    grads = call("manual", "backward", _tensors(params), _tensors(outputs), torch.tensor(Y))
    return _param_dict(grads, "manual.backward")


def sgd(params, grads, eta):
    """``manual.sgd``: the values it returns and those of the tensors it was given, after the call."""
    tensors = _tensors(params)
    passed = dict(tensors)
    returned = call("manual", "sgd", tensors, _tensors(grads), eta)
    return {"returned": _param_dict(returned, "manual.sgd"),
            "passed": {k: tensor(v, f"params[{k!r}]") for k, v in passed.items()}}


def _leaf_report(params: dict[str, torch.Tensor]) -> dict:
    """Values and autograd state of each parameter (fresh from an init: nothing to compare them with)."""
    return {name: {"value": tensor(p, f"params[{name!r}]"), "is_leaf": bool(p.is_leaf),
                   "requires_grad": bool(p.requires_grad)} for name, p in params.items()}


def _step_report(params: dict[str, torch.Tensor], given: dict[str, torch.Tensor]) -> dict:
    """After a step: the value of each parameter, and that of the tensor the loop was given under that name
    (the same tensor when the update is in place: the grader judges from the values alone)."""
    return {name: {"value": tensor(p, f"params[{name!r}]"), "given": tensor(given[name], f"params[{name!r}]")}
            for name, p in params.items() if name in given}


def _returned(value) -> float | str:
    """A step's returned loss as a float (a number or a one-element tensor), else its type name."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__


def autograd_init(nx: int, nh: int, ny: int, seed: int):
    """``autograd_mlp.init_params`` drawing from ``torch.Generator().manual_seed(seed)``: values and autograd
    state of each tensor."""
    params = call("autograd_mlp", "init_params", nx, nh, ny, generator=torch.Generator().manual_seed(seed))
    if not isinstance(params, dict):
        raise StudentError(f"autograd_mlp.init_params should return a dict of tensors, got {type(params).__name__}")
    return _leaf_report({name: params[name] for name in PARAMS if name in params})


def autograd_steps(params, X, Y, eta, steps: int = 2):
    """Run ``autograd_mlp.train_step`` ``steps`` times on the same batch; report after each step."""
    student_params = _tensors(params, requires_grad=True)
    given = dict(student_params)
    reports = []
    for _ in range(steps):
        loss = call("autograd_mlp", "train_step", student_params, torch.tensor(X), torch.tensor(Y), eta)
        reports.append({**_step_report(student_params, given), "returned": _returned(loss)})
    return reports


def _model_with(module: str, state, nx: int, nh: int, ny: int) -> torch.nn.Module:
    model = call(module, "make_model", nx, nh, ny)
    if not isinstance(model, torch.nn.Module):
        raise StudentError(f"{module}.make_model should return a torch.nn.Module, got {type(model).__name__}")
    model = model.double()
    try:
        model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    except RuntimeError as error:
        raise StudentError(f"{module}.make_model's layers are not Linear({nx},{nh}) → Tanh → "
                           f"Linear({nh},{ny}) in an nn.Sequential: {str(error).splitlines()[0]}") from None
    return model


def model_summary(nx: int, nh: int, ny: int, batch: int):
    model = call("nn_mlp", "make_model", nx, nh, ny)
    summary = summarize_model(model, (batch, nx))
    summary["classes"] = describe_class(model)
    return summary


def nn_loss(logits, y):
    loss_fn = call("nn_mlp", "make_loss")
    if not callable(loss_fn):
        raise StudentError("nn_mlp.make_loss should return a loss module")
    return tensor(loss_fn(torch.tensor(logits), torch.tensor(y)), "nn_mlp.make_loss()(logits, y)")


def nn_steps(state, X, y, eta, nx: int, nh: int, ny: int, steps: int = 2):
    """``nn_mlp.train_step`` twice (student's model, loss and manual update); state after each step."""
    model = _model_with("nn_mlp", state, nx, nh, ny)
    loss_fn = call("nn_mlp", "make_loss")
    given, reports = dict(model.named_parameters()), []
    for _ in range(steps):
        loss = call("nn_mlp", "train_step", model, loss_fn, torch.tensor(X), torch.tensor(y), eta)
        reports.append({**_step_report(dict(model.named_parameters()), given), "returned": _returned(loss)})
    return reports


def optimizer_steps(state, grads, eta: float, steps: int = 2):
    """``optim_mlp.make_optimizer`` on the grader's float64 Sequential(Linear, Tanh, Linear) with weights
    ``state``: the parameters after each step with the gradients fixed to ``grads``."""
    (nh, nx), ny = np.shape(state["0.weight"]), len(state["2.bias"])
    model = torch.nn.Sequential(torch.nn.Linear(nx, nh), torch.nn.Tanh(), torch.nn.Linear(nh, ny)).double()
    model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    optimizer = call("optim_mlp", "make_optimizer", model, eta)
    return {"steps": optimizer_trajectory(optimizer, dict(model.named_parameters()), grads, steps)}


def optim_steps(state, X, y, eta, nx: int, nh: int, ny: int, steps: int = 2):
    """``optim_mlp.train_step`` twice with the student's optimizer; state after each step."""
    model = _model_with("nn_mlp", state, nx, nh, ny)
    loss_fn = call("nn_mlp", "make_loss")
    optimizer = call("optim_mlp", "make_optimizer", model, eta)
    given, reports = dict(model.named_parameters()), []
    for _ in range(steps):
        loss = call("optim_mlp", "train_step", model, loss_fn, optimizer, torch.tensor(X), torch.tensor(y))
        reports.append({**_step_report(dict(model.named_parameters()), given), "returned": _returned(loss)})
    return reports


def train(train_X, train_Y, monitor_X, monitor_Y, budget: dict, train_seed: int, variant: str):
    """Train with ``train.train_<variant>(data, seed=train_seed, **budget)`` on the training split (the
    monitor split as its test data); return what it trained — ``{"params": {Wh, bh, Wy, by}}`` (manual,
    autograd) or ``{"state": model.state_dict()}`` (nn, optim, mnist) — and its history. The grader
    predicts the held-out data with them (the held-out data never reach the worker).

    Images arrive as uint8 (N, 28, 28) for the image variant and are scaled to [0, 1] and flattened.
    """
    def prepared(X):
        X = torch.tensor(X)
        return X.reshape(len(X), -1).float() / 255 if X.dtype == torch.uint8 else X.float()

    classes = int(np.max(train_Y)) + 1
    data = {"Xtrain": prepared(train_X), "Ytrain": torch.nn.functional.one_hot(torch.tensor(train_Y), classes).float(),
            "Xtest": prepared(monitor_X),
            "Ytest": torch.nn.functional.one_hot(torch.tensor(monitor_Y), classes).float()}
    where = f"train.train_{variant}"
    result = call("train", f"train_{variant}", data, seed=train_seed, quiet=True, **budget)
    if not isinstance(result, tuple) or len(result) != 2:
        raise StudentError(f"{where} should return (params or model, history)")
    trained, history = result
    if isinstance(trained, torch.nn.Module):
        got = {"state": {str(k): tensor(v, f"{where}'s model's {k}") for k, v in trained.state_dict().items()}}
    elif isinstance(trained, dict):
        got = {"params": _param_dict(trained, where)}
    else:
        raise StudentError(f"{where} should return (params or model, history), got {type(trained).__name__}")
    return {**got, "history": learning_curves(history, where)}


def _svm_parameters(model, where: str) -> dict:
    """What a fitted scikit-learn SVM predicts with: its class, kernel, ``gamma``, support vectors (m, 2) and
    dual coefficients (1, m) (SVC), or weights (1, 2) (LinearSVC), intercept (1,) and classes (2,)."""
    def array(name: str, attribute: str):
        value = getattr(model, attribute, None)
        if not isinstance(value, np.ndarray):
            raise StudentError(f"{where} is not a fitted scikit-learn SVM (no {attribute})")
        return {name: np.asarray(value, dtype=np.float64)}

    described = {"type": type(model).__name__, **array("intercept", "intercept_"), **array("classes", "classes_")}
    if described["type"] == "LinearSVC":
        return {**described, **array("coef", "coef_")}
    gamma = getattr(model, "_gamma", None)
    return {**described, "kernel": str(getattr(model, "kernel", "")), **array("support_vectors", "support_vectors_"),
            **array("dual_coef", "dual_coef_"), "gamma": float(gamma) if isinstance(gamma, (int, float)) else None}


def svm_models(train_X, train_Y, monitor_X, monitor_Y, C: float):
    """Fit ``svm.fit_svms`` (the monitor split as its test data); return each fitted model's parameters (the
    grader predicts the held-out points)."""
    data = {"Xtrain": torch.tensor(train_X), "Ytrain": torch.tensor(train_Y),
            "Xtest": torch.tensor(monitor_X), "Ytest": torch.tensor(monitor_Y)}
    models = call("svm", "fit_svms", data, C)
    if not isinstance(models, dict):
        raise StudentError("svm.fit_svms should return a dict name -> fitted scikit-learn model")
    return {str(name): _svm_parameters(model, f"svm.fit_svms()[{name!r}]") for name, model in models.items()}


def svm_sweep(train_X, train_Y, monitor_X, monitor_Y, Cs: list[float]):
    """``svm.sweep_C`` on the given splits (the monitor split as its test split): its ``(C, accuracy)`` pairs
    as ``[[C, accuracy], ...]``."""
    data = {"Xtrain": torch.tensor(train_X), "Ytrain": torch.tensor(train_Y),
            "Xtest": torch.tensor(monitor_X), "Ytest": torch.tensor(monitor_Y)}
    result = call("svm", "sweep_C", data, list(Cs))
    if not isinstance(result, (list, tuple)) or not all(isinstance(r, (list, tuple)) and len(r) == 2 for r in result):
        raise StudentError("svm.sweep_C should return a list of (C, accuracy) pairs, one per C")
    return [[float(C), float(accuracy)] for C, accuracy in result]
