"""Probes of tp2_cnn: run in the worker, call the student's functions, return plain data."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from autograder.sandbox import fastdata
from autograder.sandbox.probing import (
    StudentError,
    call,
    learning_curves,
    optimizer_trajectory,
    student_module,
    summarize_model,
    tensor,
)

CONV_MATH = ("conv_output_size", "conv_weights", "fc_equivalent_weights", "unshared_conv_weights",
             "receptive_field")
MODEL_CLASSES = ("CifarNet", "LeNet5")


def _integer(value):
    """An integer result as int; anything else as its repr (the grader reports it)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    return repr(value)[:80]


def conv_math(function: str, cases: list):
    """``conv_math.<function>(*args, **kwargs)`` for each ``[args, kwargs]`` of ``cases``."""
    if function not in CONV_MATH:
        raise ValueError(function)
    results = []
    for args, kwargs in cases:
        if function == "receptive_field":
            args = [[tuple(layer) for layer in args[0]]]
        results.append(_integer(call("conv_math", function, *args, **kwargs)))
    return results


# --- models -----------------------------------------------------------------------------------------
def _build(kind: str, kwargs: dict) -> nn.Module:
    if kind not in MODEL_CLASSES:
        raise ValueError(kind)
    model = call("models", kind, **kwargs)
    if not isinstance(model, nn.Module):
        raise StudentError(f"models.{kind}(...) should build a torch.nn.Module, got {type(model).__name__}")
    return model


def _signature(kwargs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def epoch_model(batch_norm: bool = False, dropout: bool = False) -> nn.Module:
    """A small network with the layer kinds whose behaviour an epoch loop must respect (BatchNorm, dropout)
    for (B, 3, 16, 16) images: the epoch checks train it with the student's ``train.epoch`` and the
    reference's, so they test the loop, not the student's CifarNet."""
    from collections import OrderedDict

    layers = [("conv", nn.Conv2d(3, 4, 3, padding=1)), *([("bn", nn.BatchNorm2d(4))] if batch_norm else []),
              ("relu", nn.ReLU()), ("pool", nn.MaxPool2d(4)), ("flatten", nn.Flatten()),
              *([("dropout", nn.Dropout(0.5))] if dropout else []), ("fc", nn.Linear(4 * 4 * 4, 10))]
    return nn.Sequential(OrderedDict(layers))


def _loaded(state: dict, kwargs: dict) -> nn.Module:
    """The student's ``CifarNet(**kwargs)`` holding the grader's weights (matched by state_dict names)."""
    model = _build("CifarNet", kwargs)
    where = f"models.CifarNet({_signature(kwargs)})"
    own = model.state_dict()
    if not own:
        raise StudentError(f"{where} has no layers with parameters yet (build self.features and self.classifier)")
    missing, unexpected = sorted(set(state) - set(own)), sorted(set(own) - set(state))
    if missing or unexpected:
        raise StudentError(f"{where}: its state_dict names differ from the handout's layer names "
                           f"(features.conv1 … features.pool3, classifier.fc4 … classifier.fc5): missing "
                           f"{', '.join(missing[:6]) or 'none'}; unexpected {', '.join(unexpected[:6]) or 'none'}")
    loaded = {}
    for name, value in state.items():
        value = np.asarray(value)
        if own[name].dim() == 0 and value.size == 1:  # the wire sends 0-d arrays as 1-element arrays
            value = value.reshape(())
        if tuple(own[name].shape) != value.shape:
            raise StudentError(f"{where}: {name} has shape {tuple(own[name].shape)}, expected {value.shape}")
        loaded[name] = torch.tensor(value)
    model.load_state_dict(loaded)
    return model


def model_summary(kind: str, kwargs: dict, input_shape: list, train: bool = False, partial: bool = False):
    """Per-layer summary of the student's ``models.<kind>(**kwargs)`` (up to a failing layer when ``partial``)
    and its ``count_parameters``."""
    model = _build(kind, kwargs)
    summary = summarize_model(model, tuple(input_shape), train=train, partial=partial)
    counted = call("models", "count_parameters", model)
    summary["count_parameters"] = _integer(counted)
    return summary


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _state(model: nn.Module) -> dict:
    """The state dict as arrays (0-d entries such as num_batches_tracked as plain numbers)."""
    return {k: v.item() if v.dim() == 0 else tensor(v, k) for k, v in model.state_dict().items()}


def dropout(X, state: dict | None = None):
    """``CifarNet(dropout=True)`` with the grader's weights (its own when ``state`` is None): two forward
    passes in train mode (what each ``nn.Dropout`` received and returned in the first) and two in eval mode."""
    model = _build("CifarNet", {"dropout": True}) if state is None else _loaded(state, {"dropout": True})
    X = torch.tensor(X)
    captured: list[dict] = []

    def hook(module, inputs, output):
        captured.append({"p": float(module.p), "input": tensor(inputs[0], "the input of nn.Dropout"),
                         "output": tensor(output, "the output of nn.Dropout")})

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Dropout)]
    model.train()
    with torch.no_grad():
        first = tensor(model(X), "models.CifarNet.forward's output")
        seen = list(captured)
        for handle in hooks:
            handle.remove()
        second = tensor(model(X), "models.CifarNet.forward's output")
        model.eval()
        evals = [tensor(model(X), "models.CifarNet.forward's output") for _ in range(2)]
    layers = [(layer["name"], layer["type"]) for layer in summarize_model(model, tuple(X.shape), train=True)["layers"]]
    return {"train": [first, second], "eval": evals, "dropouts": seen, "layers": layers}


# --- training loop ----------------------------------------------------------------------------------
def _loader(X, Y, batch: int, cls=torch.utils.data.DataLoader, **extra):
    dataset = torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(Y))
    return cls(dataset, batch_size=batch, shuffle=False, **extra)


def _flagged(model: nn.Module, flags: list, phase: list):
    def hook(module, inputs):
        flags.append({"phase": phase[0], "training": bool(module.training), "grad": torch.is_grad_enabled()})
    return model.register_forward_pre_hook(hook)


def _result(value, where: str) -> dict:
    if not isinstance(value, tuple) or len(value) != 2:
        raise StudentError(f"{where} should return a tuple (mean loss, accuracy), got {type(value).__name__}")
    loss, acc = value
    plain = []
    for item in (loss, acc):
        if isinstance(item, torch.Tensor) and item.numel() == 1:
            item = item.item()
        number = isinstance(item, (int, float, np.integer, np.floating)) and not isinstance(item, (bool, np.bool_))
        plain.append(float(item) if number else repr(item)[:80])
    return {"loss": plain[0], "acc": plain[1]}


def epoch(state: dict, X, Y, model_kwargs: dict, lr: float | None = None, momentum: float = 0.0,
          n: int | None = None):
    """``train.epoch`` on the grader's batches (X: (batches, B, 3, H, W), the first ``n`` images when given:
    a smaller last batch) with :func:`epoch_model` holding the grader's weights: evaluation (no optimizer)
    when ``lr`` is None, else training with ``torch.optim.SGD(lr, momentum)``.
    Returns loss, accuracy, the state dict after, the mode/grad flags of each forward and the names of the
    parameters that hold a gradient."""
    model = epoch_model(**model_kwargs)
    own = model.state_dict()
    model.load_state_dict({name: torch.tensor(np.asarray(value)).reshape(own[name].shape) for name, value in state.items()})
    X, Y = np.asarray(X), np.asarray(Y)
    loader = _loader(X.reshape(-1, *X.shape[2:])[:n], Y.reshape(-1)[:n], X.shape[1])
    optimizer = None if lr is None else torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    flags: list = []
    handle = _flagged(model, flags, ["epoch"])
    try:
        value = call("train", "epoch", loader, model, nn.CrossEntropyLoss(), optimizer=optimizer)
    finally:
        handle.remove()
    return {**_result(value, "train.epoch"), "state": _state(model), "flags": flags,
            "with_grad": [name for name, p in model.named_parameters() if p.grad is not None]}


class _WatchedLoader(torch.utils.data.DataLoader):
    """A DataLoader that tells whether the model's state changed while it was iterated."""

    def watch(self, model: nn.Module, phase: list, name: str, changes: list) -> _WatchedLoader:
        self._watch = (model, phase, name, changes)
        return self

    def __iter__(self):
        model, phase, name, changes = self._watch
        before = _snapshot(model)
        phase[0] = name
        yield from super().__iter__()
        after = model.state_dict()
        changes.append({"phase": name, "changed": sorted(k for k, v in before.items()
                                                         if not torch.equal(v, after[k]))})


def main(X_train, Y_train, X_test, Y_test, batch: int, epochs: int, lr: float):
    """``train.main`` on small loaders, watching the model during the training and test passes."""
    model = _build("CifarNet", {"batch_norm": True})
    initial = _snapshot(model)
    flags, phase, changes = [], ["main"], []
    train_loader = _loader(X_train, Y_train, batch, _WatchedLoader).watch(model, phase, "train", changes)
    test_loader = _loader(X_test, Y_test, batch, _WatchedLoader).watch(model, phase, "test", changes)
    handle = _flagged(model, flags, phase)
    try:
        history = call("train", "main", train_loader, test_loader, model, epochs, lr, quiet=True)
    finally:
        handle.remove()
    if not isinstance(history, dict):
        raise StudentError(f"train.main should return the history dict, got {type(history).__name__}")
    final = model.state_dict()
    return {"history": {str(k): [float(x) for x in v] if isinstance(v, (list, tuple)) else repr(v)[:80]
                        for k, v in history.items()},
            "flags": flags, "changes": changes,
            "changed": sorted(k for k, v in initial.items() if not torch.equal(v, final[k]))}


def optimizer(state: dict, grads: dict, lr: float, momentum: float):
    """``train.make_optimizer`` with and without ``momentum`` on the grader's float64 Linear → ReLU → Linear
    (weights ``state``): the parameters after each of two steps with the gradients fixed to ``grads``."""
    out = {}
    for label, kwargs in (("default", {}), ("momentum", {"momentum": momentum})):
        (hidden, inputs), outputs = np.shape(state["0.weight"]), len(state["2.bias"])
        model = nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, outputs)).double()
        model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
        opt = call("train", "make_optimizer", model, lr, **kwargs)
        out[label] = optimizer_trajectory(opt, dict(model.named_parameters()), grads)
    return out


def main_schedule(state: dict, X_train, Y_train, X_test, Y_test, batch: int, epochs: int, lr: float,
                  momentum: float, gamma: float):
    """``train.main`` with ``momentum`` and ``gamma`` on :func:`epoch_model` holding the grader's weights,
    batches in order: the weights after training and, per scheduler ``train.make_scheduler`` made, how many
    times it was stepped (a spy: the count only explains a difference the weights show)."""
    module = student_module("train")
    model = epoch_model()
    own = model.state_dict()
    model.load_state_dict({name: torch.tensor(np.asarray(value)).reshape(own[name].shape) for name, value in state.items()})
    make_scheduler, steps = getattr(module, "make_scheduler", None), []

    def spied(*args, **kwargs):
        scheduler, index = make_scheduler(*args, **kwargs), len(steps)
        steps.append(0)
        step = scheduler.step

        def counted(*step_args, **step_kwargs):
            steps[index] += 1
            return step(*step_args, **step_kwargs)

        scheduler.step = counted
        return scheduler

    if callable(make_scheduler):
        module.make_scheduler = spied
    try:
        call("train", "main", _loader(X_train, Y_train, batch), _loader(X_test, Y_test, batch), model, epochs, lr,
             momentum=momentum, gamma=gamma, quiet=True)
    finally:
        module.make_scheduler = make_scheduler
    return {"state": _state(model), "scheduler_steps": steps}


def scheduler(lr: float, gamma: float, steps: int = 3):
    """``train.make_scheduler`` on a plain SGD with the default and a given ``gamma``: its type and the
    learning rate after each ``step()``."""
    out = {}
    for label, kwargs in (("default", {}), ("gamma", {"gamma": gamma})):
        opt = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=lr)
        sched = call("train", "make_scheduler", opt, **kwargs)
        if not hasattr(sched, "step"):
            raise StudentError(f"train.make_scheduler should return a learning-rate scheduler, "
                               f"got {type(sched).__name__}")
        rates = []
        for _ in range(steps):
            opt.step()
            sched.step()
            rates.append(float(opt.param_groups[0]["lr"]))
        out[label] = {"type": type(sched).__name__, "gamma": float(getattr(sched, "gamma", float("nan"))),
                      "rates": rates}
    return out


# --- data -------------------------------------------------------------------------------------------
def _stats(value, where: str, channels: int) -> list[list[float]]:
    if not isinstance(value, tuple) or len(value) != 2:
        raise StudentError(f"{where} should return a tuple (mean, std)")
    out = []
    for part, name in zip(value, ("mean", "std")):
        if isinstance(part, torch.Tensor):
            part = part.tolist()
        if isinstance(part, np.ndarray):
            part = part.tolist()
        if not isinstance(part, (list, tuple)) or len(part) != channels or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in part):
            raise StudentError(f"{where}: {name} should be a list of {channels} floats (one per channel), "
                               f"got {repr(part)[:80]}")
        out.append([float(v) for v in part])
    return out


def channel_stats(images):
    """``data.channel_stats`` on the grader's uint8 images (N, H, W, C) and on the same as a float tensor
    (N, C, H, W) in [0, 1]."""
    images = np.asarray(images)
    channels = images.shape[-1]
    as_tensor = torch.tensor(images).permute(0, 3, 1, 2).float() / 255
    return {"uint8": _stats(call("data", "channel_stats", images), "data.channel_stats(uint8 array)", channels),
            "tensor": _stats(call("data", "channel_stats", as_tensor), "data.channel_stats(float tensor)", channels)}


def _stack(dataset, where: str) -> np.ndarray:
    items = []
    for index in range(len(dataset)):
        item = dataset[index]
        image = item[0] if isinstance(item, tuple) else item
        items.append(tensor(image, f"{where}[{index}]'s image", ndim=3))
    return np.stack(items)


def datasets(train_X, train_Y, test_X, test_Y, augment: bool, normalize: bool):
    """``data.datasets_from_arrays``: every transformed image of the train and test datasets."""
    result = call("data", "datasets_from_arrays", np.asarray(train_X), np.asarray(train_Y), np.asarray(test_X),
                  np.asarray(test_Y), augment=augment, normalize=normalize)
    if not isinstance(result, tuple) or len(result) != 2:
        raise StudentError("data.datasets_from_arrays should return (train_dataset, test_dataset)")
    return {"train": _stack(result[0], "train dataset"), "test": _stack(result[1], "test dataset")}


def _describe(transform) -> list:
    steps = getattr(transform, "transforms", [transform])
    described = []
    for step in steps:
        params = {k: v for k, v in vars(step).items()
                  if not k.startswith("_") and isinstance(v, (int, float, str, bool, list, tuple))}
        described.append({"type": type(step).__name__, "params": repr(params)[:200]})
    return described


def transforms(split: str, mean, std, augment: bool, crop: int, images, repeats: int):
    """``data.<split>_transforms(mean, std, augment, crop)`` applied ``repeats`` times to each PIL image
    made from the grader's uint8 arrays (N, H, W, 3); also the list of its steps (type names)."""
    from PIL import Image

    if split not in ("train", "test"):
        raise ValueError(split)
    where = f"data.{split}_transforms"
    transform = call("data", f"{split}_transforms", mean, std, augment=augment, crop=crop)
    if not callable(transform):
        raise StudentError(f"{where} should return a callable transform, got {type(transform).__name__}")
    outputs = []
    for array in np.asarray(images):
        image = Image.fromarray(array)
        outputs.append(np.stack([tensor(transform(image), f"{where}(...)(image)", ndim=3) for _ in range(repeats)]))
    return {"outputs": np.stack(outputs), "steps": _describe(transform)}


# --- training for accuracy --------------------------------------------------------------------------
def train(train_X, train_Y, monitor_X, monitor_Y, budget: dict, train_seed: int):
    """Train the student's ``CifarNet`` with its ``train.main``; return its trained ``state_dict``, the
    ``data.channel_stats`` it was trained with (None without ``budget['normalize']``) and the history (the
    grader predicts the held-out images, which never reach the worker).

    The data take the kit's fast path (:mod:`autograder.sandbox.fastdata`): each split is one tensor on the device,
    standardised with the student's ``data.channel_stats`` of the training images (``budget['normalize']``),
    randomly cropped to ``budget['crop']`` and flipped batch by batch (``budget['augment']``; test images
    center-cropped), fed as DataLoaders. Grey images (N, H, W) are repeated to 3 channels and zero-padded by
    ``budget['pad']`` (28 → 32 for Fashion-MNIST)."""
    device = budget.get("device", "cpu")
    pad, crop, augment = int(budget.get("pad", 0)), int(budget.get("crop", 28)), bool(budget["augment"])
    train_X, monitor_X = (fastdata.rgb(X, pad) for X in (train_X, monitor_X))
    mean, std = (_stats(call("data", "channel_stats", train_X), "data.channel_stats(training images)", 3)
                 if budget["normalize"] else (None, None))
    batch_size = int(budget["batch_size"])
    train_loader = fastdata.TensorLoader(
        fastdata.channels_first(train_X, mean, std, device),
        torch.as_tensor(np.asarray(train_Y), device=device).long(), batch_size, shuffle=True, seed=train_seed,
        crop=crop if augment else None, flip=augment)
    test_loader = fastdata.TensorLoader(
        fastdata.channels_first(monitor_X, mean, std, device),
        torch.as_tensor(np.asarray(monitor_Y), device=device).long(), batch_size, center=crop if augment else None)
    model = _build("CifarNet", {"batch_norm": bool(budget.get("batch_norm", False)),
                                "dropout": bool(budget.get("dropout", False)),
                                "ceil_mode": bool(budget.get("ceil_mode", False))})
    history = call("train", "main", train_loader, test_loader, model, int(budget["epochs"]), float(budget["lr"]),
                   momentum=float(budget.get("momentum", 0.0)), gamma=budget.get("gamma"), device=device,
                   quiet=True, seed=train_seed)
    return {"state": {str(k): tensor(v, f"models.CifarNet's {k}") for k, v in model.state_dict().items()},
            "stats": None if mean is None else {"mean": mean, "std": std},
            "history": learning_curves(history, "train.main")}


def main_log(state: dict, X_train, Y_train, X_test, Y_test, batch: int, epochs: int, lr: float):
    """``train.main`` on :func:`epoch_model` holding the grader's weights (no BatchNorm, no dropout: training
    and evaluation forwards agree), batches in order; its evaluation before training, its per-step log and
    its per-epoch training loss."""
    model = epoch_model()
    own = model.state_dict()
    model.load_state_dict({name: torch.tensor(np.asarray(value)).reshape(own[name].shape) for name, value in state.items()})
    history = call("train", "main", _loader(X_train, Y_train, batch), _loader(X_test, Y_test, batch), model, epochs,
                   lr, quiet=True)
    if not isinstance(history, dict) or not isinstance(history.get("start"), dict) \
            or not isinstance(history.get("steps"), dict):
        raise StudentError("train.main should return the history with its 'start' and 'steps' entries (keep the "
                           "provided main)")
    try:
        return {"start": {k: float(history["start"][k]) for k in ("test_loss", "test_acc")},
                "steps": {k: [float(v) for v in history["steps"][k]] for k in ("loss", "acc")},
                "train_loss": [float(v) for v in history["train_loss"]]}
    except (KeyError, TypeError, ValueError) as error:
        raise StudentError(f"train.main's history cannot be read back ({type(error).__name__}: {error}); keep "
                           "the provided main") from None


def _histories(histories: dict, names: list) -> dict:
    """The grader's histories in the order of ``names``, as ``train.main`` returns them (lists of floats)."""
    return {name: {key: [float(v) for v in values] for key, values in histories[name].items()} for name in names}


def plot_curves(histories: dict, names: list):
    """What ``ablations.plot_curves`` draws for the grader's histories (name -> per-epoch lists)."""
    from autograder.sandbox.probing import figure_contents

    return figure_contents(call("ablations", "plot_curves", _histories(histories, names)),
                           "ablations.plot_curves(histories)")


def ablation_table(histories: dict, names: list):
    """The rows ``ablations.ablation_table`` builds from the grader's histories, as plain data."""
    rows = call("ablations", "ablation_table", _histories(histories, names))
    where = "ablations.ablation_table(histories)"
    if not isinstance(rows, (list, tuple)) or not all(isinstance(row, dict) for row in rows):
        raise StudentError(f"{where} should return a list of dicts (one row per configuration)")
    plain = []
    for row in rows:
        out = {}
        for key, value in row.items():
            if isinstance(value, torch.Tensor) and value.numel() == 1:
                value = value.item()
            if isinstance(value, (np.integer, np.floating)):
                value = value.item()
            out[str(key)] = value if value is None or isinstance(value, (str, int, float)) else repr(value)[:80]
        plain.append(out)
    return plain
