"""Probes of recvis_a2: run in the worker, call the student's functions, return plain data."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from autograder.sandbox import fastdata
from autograder.sandbox.probing import (
    StudentError,
    call,
    figure_contents,
    learning_curves,
    student_function,
    student_module,
    summarize_model,
    tensor,
)

PARAMS = ("Wi", "bi", "Wo", "bo")
CONVNET_LAYERS = ("conv1", "pool1", "conv2", "pool2", "linear1", "linear2")


# ------------------------------------------------------------------------------------------- Part 1
def _numeric(value, what: str, scalar: bool = False) -> np.ndarray | float:
    """A numpy float64 array from a student's number or array (``scalar``: a size-1 value becomes a float)."""
    if isinstance(value, torch.Tensor):
        raise StudentError(f"{what} should be a numpy array or a float, got a torch.Tensor (Part 1 is numpy only)")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.generic, np.ndarray, list, tuple)):
        raise StudentError(f"{what} should be a number or a numpy array, got {type(value).__name__}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        array = np.asarray([], dtype=object)
    if array.dtype.kind not in "fiu":
        raise StudentError(f"{what} should hold numbers, got dtype {array.dtype}")
    array = array.astype(np.float64)
    return float(array.reshape(())) if scalar and array.size == 1 else array  # 0-d arrays travel as floats


def _arguments(params: dict) -> list:
    """Fresh copies of the parameters in the handout's order (bo as a Python float)."""
    return [np.array(params[k], dtype=np.float64) if k != "bo" else float(params[k]) for k in PARAMS]


def _gradients(result, where: str) -> dict[str, np.ndarray]:
    if not isinstance(result, (tuple, list)) or len(result) != 4:
        raise StudentError(f"{where} should return a tuple (grad_Wi, grad_bi, grad_Wo, grad_bo)")
    return {k: _numeric(g, f"{where}'s grad_{k}", scalar=k == "bo") for k, g in zip(PARAMS, result)}


def sigm(x):
    """``twolayer.sigm`` on an array and on the scalars ±1000 with overflow/invalid/divide warnings raised."""
    function = student_function("twolayer", "sigm")
    out = {}
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        warnings.simplefilter("error")
        for name, value in (("array", np.array(x, dtype=np.float64)), ("plus", 1000.0), ("minus", -1000.0)):
            label = "an array holding ±1000" if name == "array" else f"{value:g}"
            try:
                result = function(value)
            except (FloatingPointError, RuntimeWarning) as error:
                out["warning"] = f"twolayer.sigm({label}) raised {type(error).__name__}: {error}"
                return out
            out[name] = _numeric(result, f"twolayer.sigm({label})", scalar=name != "array")
    return out


def forward_logloss(X, Y, params, single_X, single_Y):
    """``twolayer.nnet_forward_logloss`` on a batch (N, d) and on one sample (d,) with a scalar label."""
    where = "twolayer.nnet_forward_logloss"
    out = {}
    for name, x, y in (("batch", np.array(X), np.array(Y)), ("single", np.array(single_X), float(single_Y))):
        result = call("twolayer", "nnet_forward_logloss", x, y, *_arguments(params))
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            raise StudentError(f"{where} should return a tuple (Po, Yo, loss)")
        out[name] = {k: _numeric(v, f"{where}'s {k} for {'a batch' if name == 'batch' else 'one sample'}",
                                 scalar=name == "single") for k, v in zip(("Po", "Yo", "loss"), result)}
    return out


def gradcheck(trials: int, h: int, tol: float, key: str, base: float):
    """``twolayer.gradcheck(trials, h, tol=tol)`` with the module's ``gradient_nn`` and
    ``gradient_nn_numerical`` replaced by stand-ins: zeros, and zeros plus ``base * (t + 1) / trials`` on
    every entry of ``key`` at trial t. Returns its result dict, what it printed, the number of calls of each
    stand-in and the shapes of Wi they saw."""
    import contextlib
    import io

    student_function("twolayer", "gradcheck")
    module = student_module("twolayer")
    calls = {"analytic": 0, "numerical": 0, "shapes": []}

    def shapes(Wi, bi, Wo, bo):
        return [np.zeros(np.shape(p)) for p in (Wi, bi, Wo)] + [0.0]

    def analytic(X, Y, Wi, bi, Wo, bo, *args, **kwargs):
        calls["analytic"] += 1
        calls["shapes"].append(list(np.shape(Wi)))
        return tuple(shapes(Wi, bi, Wo, bo))

    def numerical(X, Y, Wi, bi, Wo, bo, *args, **kwargs):
        calls["numerical"] += 1
        grads = shapes(Wi, bi, Wo, bo)
        index = PARAMS.index(key)
        grads[index] = grads[index] + base * calls["numerical"] / trials
        return tuple(grads)

    saved = module.gradient_nn, module.gradient_nn_numerical
    module.gradient_nn, module.gradient_nn_numerical = analytic, numerical
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            result = call("twolayer", "gradcheck", trials=trials, h=h, tol=tol)
    finally:
        module.gradient_nn, module.gradient_nn_numerical = saved
    if not isinstance(result, dict) or not all(isinstance(result.get(k), (int, float, np.floating))
                                               for k in (*PARAMS, "max")):
        raise StudentError("twolayer.gradcheck should return a dict of floats with keys Wi, bi, Wo, bo and max")
    return {"result": {k: float(result[k]) for k in (*PARAMS, "max")}, "printed": printed.getvalue()[-2000:],
            "analytic": calls["analytic"], "numerical": calls["numerical"], "shapes": calls["shapes"][:3]}


def gradient_nn(X, Y, params):
    """``twolayer.gradient_nn`` on each example ``X[i]`` (d,), ``Y[i]`` ±1."""
    return [_gradients(call("twolayer", "gradient_nn", np.array(x), float(y), *_arguments(params)),
                       "twolayer.gradient_nn") for x, y in zip(X, Y)]


def gradient_nn_numerical(X, Y, params, eps_values):
    """``twolayer.gradient_nn_numerical`` at its default eps, then at each of ``eps_values``; also reports
    whether the arrays passed in were modified."""
    where = "twolayer.gradient_nn_numerical"
    out = {"default": None, "eps": [], "modified": []}
    for eps in [None, *eps_values]:
        args = _arguments(params)
        x = np.array(X)
        kwargs = {} if eps is None else {"eps": eps}
        grads = _gradients(call("twolayer", "gradient_nn_numerical", x, float(Y), *args, **kwargs),
                           where if eps is None else f"{where}(..., eps={eps:g})")
        for name, before, after in zip(("X", *PARAMS), [np.array(X)] + _arguments(params), [x] + args):
            if not np.array_equal(np.asarray(before), np.asarray(after)) and name not in out["modified"]:
                out["modified"].append(name)
        if eps is None:
            out["default"] = grads
        else:
            out["eps"].append(grads)
    return out


def _train_loop_result(result, where: str) -> dict:
    if not isinstance(result, (tuple, list)) or len(result) != 6:
        raise StudentError(f"{where} should return (tr_error, val_error, Wi, bi, Wo, bo)")
    tr_error, val_error, *weights = result
    out = {"tr_error": _numeric(tr_error, f"{where}'s tr_error"), "val_error": _numeric(val_error, f"{where}'s val_error")}
    out.update({k: _numeric(w, f"{where}'s {k}", scalar=k == "bo") for k, w in zip(PARAMS, weights)})
    return out


def train_loop(train_X, train_Y, monitor_X, monitor_Y, budget: dict, train_seed: int):
    """``twolayer.train_loop`` on the training split (the monitor split as its validation set) without plots,
    ``budget``: h, lrate, nEpochs, ``seed=train_seed``; the error curves and the final weights."""
    result = call("twolayer", "train_loop", np.array(train_X), np.array(train_Y), np.array(monitor_X),
                  np.array(monitor_Y), budget["h"], budget["lrate"], vis="never", nEpochs=budget["nEpochs"],
                  seed=train_seed)
    return _train_loop_result(result, "twolayer.train_loop")


# ------------------------------------------------------------------------------------------- Part 2
def _size(value, where: str) -> list[int]:
    if isinstance(value, torch.Size):
        value = tuple(value)
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        raise StudentError(f"{where} should return a pair of ints (H', W'), got {value!r}")
    return [int(v) for v in value]


def output_sizes(height: int, width: int, conv_cases, random_cases):
    """``blocks.conv_output`` shapes on a (3, height, width) image for each (stride, padding), the student's
    ``blocks.output_size`` for the same convolutions (k = 5) and for other (h, w, k, s, p) cases."""
    x = torch.rand(3, height, width)
    out = {"conv_shapes": [], "conv_sizes": [], "random": []}
    for stride, padding in conv_cases:
        y = call("blocks", "conv_output", x, stride=stride, padding=padding)
        out["conv_shapes"].append(list(tensor(y, "blocks.conv_output(x)").shape))
        out["conv_sizes"].append(_size(call("blocks", "output_size", height, width, 5, stride, padding),
                                       "blocks.output_size"))
    for h, w, k, s, p in random_cases:
        out["random"].append(_size(call("blocks", "output_size", h, w, k, s, p), "blocks.output_size"))
    return out


def hand_filter(x):
    """The weight, bias and padding of ``blocks.hand_filter()`` and ``blocks.hand_filter_response`` on the
    image x (B, 3, H, W)."""
    conv = call("blocks", "hand_filter")
    if not isinstance(conv, torch.nn.Conv2d):
        raise StudentError(f"blocks.hand_filter should return a torch.nn.Conv2d, got {type(conv).__name__}")
    y = call("blocks", "hand_filter_response", torch.tensor(x, dtype=torch.float32))
    return {"weight": tensor(conv.weight, "blocks.hand_filter().weight"), "bias": None if conv.bias is None else tensor(conv.bias, "blocks.hand_filter().bias"),
            "padding": [int(p) for p in conv.padding] if isinstance(conv.padding, tuple) else str(conv.padding),
            "response": tensor(y, "blocks.hand_filter_response(x)")}


def max_pool(x, kernel: int, strides):
    """``blocks.max_pool(x, kernel, stride)`` and ``blocks.output_size`` for each stride."""
    image = torch.tensor(x, dtype=torch.float32)
    out = []
    for stride in strides:
        y = call("blocks", "max_pool", image, kernel=kernel, stride=stride)
        size = call("blocks", "output_size", image.shape[-2], image.shape[-1], kernel, stride, 0)
        out.append({"pooled": tensor(y, f"blocks.max_pool(x, {kernel}, {stride})"),
                    "size": _size(size, "blocks.output_size")})
    return out


# ------------------------------------------------------------------------------------------- Part 3
def _model(name: str) -> torch.nn.Module:
    model = call("convnet", name)
    if not isinstance(model, torch.nn.Module):
        raise StudentError(f"convnet.{name}() should build a torch.nn.Module, got {type(model).__name__}")
    return model


def model_summaries(batch: int):
    """Per-layer summaries of ``ConvNet()`` and ``LinearNet()`` for a (batch, 3, 32, 32) input."""
    convnet = _model("ConvNet")
    missing = [name for name in CONVNET_LAYERS if not isinstance(getattr(convnet, name, None), torch.nn.Module)]
    if missing:
        raise StudentError(f"convnet.ConvNet has no layer attribute {', '.join(missing)} (the handout names them "
                           f"{', '.join(CONVNET_LAYERS)})")
    return {"ConvNet": summarize_model(convnet, (batch, 3, 32, 32)),
            "LinearNet": summarize_model(_model("LinearNet"), (batch, 3, 32, 32))}


def convnet_forward(x):
    """Logits of a fresh ``ConvNet()`` (eval mode) on x, its own weights, and the value range reaching
    conv2, linear1 and linear2 (after a tanh these stay within [-1, 1])."""
    model = _model("ConvNet")
    ranges, hooks = {}, []
    for name in ("conv2", "linear1", "linear2"):
        layer = getattr(model, name, None)
        if isinstance(layer, torch.nn.Module):
            def hook(module, inputs, name=name):
                if inputs and isinstance(inputs[0], torch.Tensor):
                    ranges[name] = [float(inputs[0].min()), float(inputs[0].max())]
            hooks.append(layer.register_forward_pre_hook(hook))
    model.eval()
    try:
        with torch.no_grad():
            logits = model(torch.tensor(x, dtype=torch.float32))
    finally:
        for handle in hooks:
            handle.remove()
    return {"logits": tensor(logits, "convnet.ConvNet()(x)", ndim=2), "ranges": ranges,
            "state": {k: tensor(v, f"convnet.ConvNet's {k}") for k, v in model.state_dict().items()}}


def _pair(value, where: str) -> list[float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise StudentError(f"{where} should return a tuple (average loss, accuracy in %)")
    out = []
    for item in value:
        if isinstance(item, torch.Tensor) and item.numel() == 1:
            item = item.item()
        if isinstance(item, bool) or not isinstance(item, (int, float, np.integer, np.floating)):
            raise StudentError(f"{where} should return two numbers (average loss, accuracy in %), got "
                               f"{type(item).__name__}")
        out.append(float(item))
    return out


def linear_epoch(state, train_X, train_y, test_X, test_y, lr: float, batch_size: int):
    """One epoch of the student's ``convnet.train`` on LinearNet from ``state`` (batches in order, plain SGD),
    then the student's ``convnet.test``; returns both results and the weights after the epoch."""
    from torch.utils.data import DataLoader, TensorDataset

    model = _model("LinearNet")
    try:
        model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    except RuntimeError as error:
        raise StudentError(f"convnet.LinearNet changed: {str(error).splitlines()[0]}") from None
    loaders = [DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=batch_size, shuffle=False)
               for x, y in ((train_X, train_y), (test_X, test_y))]
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    trained = _pair(call("convnet", "train", 1, model, loaders[0], optimizer, "cpu", quiet=True), "convnet.train")
    tested = _pair(call("convnet", "test", model, loaders[1], "cpu"), "convnet.test")
    return {"train": trained, "test": tested,
            "state": {k: tensor(v, f"LinearNet's {k}") for k, v in model.state_dict().items()}}


def train(train_X, train_Y, monitor_X, monitor_Y, budget: dict, train_seed: int):
    """Train a fresh ``convnet.ConvNet()`` with ``convnet.fit`` (which calls the student's train and test)
    on the given images; return its trained ``state_dict`` and the history (the grader predicts the held-out
    images, which never reach the worker). The images take the kit's fast path (:mod:`autograder.sandbox.fastdata`):
    one tensor per split on the device (:func:`fastdata.symmetric_rgb`), batches cut by indexing (the
    training batches shuffled by ``train_seed``), fed to ``fit`` as DataLoaders; ``budget``: fit's epochs,
    lr, batch_size and device."""
    device = budget.get("device", "cpu")
    model = _model("ConvNet")
    if not list(model.parameters()):
        raise StudentError("convnet.ConvNet() has no parameters: build its layers in __init__ (conv1 … linear2)")
    batch_size = int(budget["batch_size"])
    train_loader = fastdata.TensorLoader(fastdata.symmetric_rgb(train_X, device),
                                         torch.as_tensor(train_Y, device=device).long(), batch_size, shuffle=True,
                                         seed=train_seed)
    test_loader = fastdata.TensorLoader(fastdata.symmetric_rgb(monitor_X, device),
                                        torch.as_tensor(monitor_Y, device=device).long(), batch_size)
    history = call("convnet", "fit", model, train_loader, test_loader, seed=train_seed, quiet=True, **budget)
    return {"state": {str(k): tensor(v, f"convnet.ConvNet's {k}") for k, v in model.state_dict().items()},
            "history": learning_curves(history, "convnet.fit")}


def show_examples(images, labels, n: int):
    """What ``convnet.show_examples`` draws for a dataset of the given normalised images (N, 3, H, W) in
    [-1, 1] and int labels."""
    dataset = torch.utils.data.TensorDataset(torch.tensor(images, dtype=torch.float32), torch.tensor(labels))
    return figure_contents(call("convnet", "show_examples", dataset, n), f"convnet.show_examples(dataset, {n})")


def plot_filters(weight):
    """What ``convnet.plot_filters`` draws for a network whose ``conv1`` (Task 3.2's) holds ``weight``."""
    network = torch.nn.Module()
    network.conv1 = torch.nn.Conv2d(3, 16, 5)
    with torch.no_grad():
        network.conv1.weight.copy_(torch.tensor(weight, dtype=torch.float32))
    return figure_contents(call("convnet", "plot_filters", network), "convnet.plot_filters(network)")


def hidden_units_sweep(Xtr, Ytr, Xval, Yval, hs, trials: int, nEpochs: int, lrate: float, seed: int):
    """``experiments.hidden_units_sweep`` with ``train_loop`` replaced by a stand-in (no training) that records
    each call and returns curves numbered by the call: training errors ``k + linspace(0, 0.5)`` and validation
    errors ``-k - linspace(0, 0.5)`` for call k = 1, 2, ... Returns the calls and the sweep's dict."""
    student_function("experiments", "hidden_units_sweep")
    modules = [student_module("experiments"), student_module("twolayer")]
    calls = []

    def stand_in(Xtr, Ytr, Xval, Yval, h, lrate, vis="all", nEpochs=100, seed=None):
        plain_seed = int(seed) if isinstance(seed, (int, np.integer)) else None if seed is None else repr(seed)[:80]
        calls.append({"h": float(h), "lrate": float(lrate), "vis": str(vis), "nEpochs": int(nEpochs),
                      "seed": plain_seed})
        ramp = len(calls) + np.linspace(0, 0.5, int(nEpochs) * len(Xtr))
        d, width = np.shape(Xtr)[1], int(h)
        return ramp, -ramp, np.zeros((d, width)), np.zeros(width), np.zeros(width), 0.0

    saved = [getattr(module, "train_loop", None) for module in modules]
    for module in modules:
        module.train_loop = stand_in
    try:
        result = call("experiments", "hidden_units_sweep", np.array(Xtr), np.array(Ytr), np.array(Xval),
                      np.array(Yval), hs=list(hs), trials=trials, nEpochs=nEpochs, lrate=lrate, seed=seed, quiet=True)
    finally:
        for module, original in zip(modules, saved):
            module.train_loop = original
    where = "experiments.hidden_units_sweep"
    if not isinstance(result, dict) or not {"param", "values", "curves", "final"} <= set(result):
        raise StudentError(f"{where} should return a dict with keys param, values, curves and final")
    return {"calls": calls, "param": str(result["param"]), "values": _numeric(result["values"], f"{where}'s values"),
            "curves": _numeric(result["curves"], f"{where}'s curves"),
            "final": _numeric(result["final"], f"{where}'s final")}
