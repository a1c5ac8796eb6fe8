"""Worker-side helpers for probes: import student modules, validate what they return, summarise models.

Everything here runs next to student code and returns plain data; judging happens in the grader.
"""

from __future__ import annotations

import importlib
import inspect
import os
import random
import sys
import traceback
from pathlib import Path

import numpy as np
import torch


class StudentError(Exception):
    """A problem in the submission, phrased for the student (file, function, what was expected)."""


def seed_everything(seed: int) -> None:
    """Python, numpy and torch (every device) seeded; cuDNN picks deterministic algorithms (gpu tier). Before
    every probe in the worker, and around every check of the student kit's in-process runner."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def student_traceback(error: BaseException, submission: str) -> str:
    """The traceback lines that point into the submission, then the error itself (a template stub's
    NotImplementedError alone: its message already names the function and gives the hint)."""
    if type(error) is NotImplementedError and str(error):
        return f"not implemented yet: {error}"
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if os.path.abspath(frame.filename).startswith(submission + os.sep)]
    lines = [f"  {os.path.relpath(f.filename, submission)}:{f.lineno} in {f.name}: {(f.line or '').strip()}"
             for f in frames[-4:]]
    summary = "".join(traceback.format_exception_only(type(error), error)).strip()
    return "\n".join([*lines, summary])


def resolve_probe(name: str):
    """The probe function called ``autograder.<...>:<function>``; nothing outside the package."""
    module_name, _, function = name.partition(":")
    if not module_name.startswith("autograder.") or not function.isidentifier():
        raise ValueError(f"not a probe name: {name!r}")
    return getattr(importlib.import_module(module_name), function)


def student_module(name: str):
    """Import the submission's module ``name`` (e.g. ``"manual"``) with a clear message on failure."""
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name == name:
            raise StudentError(f"{name}.py was not found in the submission") from None
        raise StudentError(f"{name}.py: importing it failed: No module named {error.name!r}") from None
    except SyntaxError as error:
        raise StudentError(f"{name}.py:{error.lineno}: SyntaxError: {error.msg}") from None
    except UnicodeDecodeError:
        raise StudentError(f"{name}.py is not valid UTF-8 text") from None
    origin = Path(getattr(module, "__file__", "") or "")
    if not origin.is_file() or origin.parent != Path(sys.path[0]):
        raise StudentError(f"{name}.py was not found in the submission")
    return module


def student_function(module_name: str, function: str):
    """The callable ``module_name.function`` of the submission."""
    value = getattr(student_module(module_name), function, None)
    if value is None:
        raise StudentError(f"{module_name}.py has no function {function}()")
    if not callable(value):
        raise StudentError(f"{module_name}.{function} is not a function")
    return value


def call(module_name: str, function: str, *args, **kwargs):
    """Call a student function; a wrong signature is reported with the expected one."""
    target = student_function(module_name, function)
    try:
        inspect.signature(target).bind(*args, **kwargs)
    except TypeError as error:
        raise StudentError(f"{module_name}.{function}() cannot be called as the handout specifies "
                           f"({error}); keep the signature of the template") from None
    except ValueError:
        pass  # builtins without a signature
    return target(*args, **kwargs)


def tensor(value, what: str, ndim: int | None = None) -> np.ndarray:
    """``value`` as a numpy array, provided it is a torch tensor (of ``ndim`` dimensions when given)."""
    if not isinstance(value, torch.Tensor):
        raise StudentError(f"{what} should be a torch.Tensor, got {type(value).__name__}")
    if ndim is not None and value.dim() != ndim:
        raise StudentError(f"{what} should have {ndim} dimensions, got shape {tuple(value.shape)}")
    try:
        return np.array(torch.Tensor.numpy(torch.Tensor.cpu(torch.Tensor.detach(value))), copy=True)
    except (RuntimeError, NotImplementedError, TypeError) as error:
        raise StudentError(f"{what} cannot be read back as numbers ({error}); return a CPU tensor") from None


def to_plain(value):
    """Turn tensors into arrays and tuples into lists, recursively; other values pass through."""
    if isinstance(value, torch.Tensor):
        return tensor(value, "value")
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True)
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_plain(item) for key, item in value.items()}
    return value


def summarize_model(model, input_shape: tuple[int, ...], train: bool = False, partial: bool = False) -> dict:
    """Per-leaf-module names, types, output shapes and parameter counts for one forward pass.

    Returns ``{"layers": [{"name", "type", "output_shape", "params"}...], "output_shape", "total_params",
    "trainable_params"}``; the input is zeros of ``input_shape`` (batch first). With ``partial``, a forward
    pass that fails returns the layers run up to the failure, ``output_shape`` None and ``error`` (its message)
    instead of raising: the grader compares those layers' shapes with the expected ones.
    """
    if not isinstance(model, torch.nn.Module):
        raise StudentError(f"expected a torch.nn.Module, got {type(model).__name__}")
    layers, hooks = [], []
    for name, module in model.named_modules():
        if list(module.children()):
            continue

        def record(module, inputs, output, name=name):
            shape = list(output.shape) if isinstance(output, torch.Tensor) else None
            layers.append({"name": name, "type": type(module).__name__, "output_shape": shape,
                           "params": sum(p.numel() for p in module.parameters(recurse=False))})

        hooks.append(module.register_forward_hook(record))
    model.train(train)
    try:
        with torch.no_grad():
            output = model(torch.zeros(*input_shape))
    except Exception as error:
        if not partial:
            raise
        return {"layers": layers, "output_shape": None, "error": f"{type(error).__name__}: {error}"[:500],
                "total_params": sum(p.numel() for p in model.parameters()),
                "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad)}
    finally:
        for hook in hooks:
            hook.remove()
    if not isinstance(output, torch.Tensor):
        raise StudentError(f"the model's forward should return a torch.Tensor, got {type(output).__name__}")
    return {"layers": layers, "output_shape": list(output.shape),
            "total_params": sum(p.numel() for p in model.parameters()),
            "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad)}


def optimizer_trajectory(optimizer, params: dict, grads: dict, steps: int = 2) -> list[dict]:
    """The values of ``params`` (name -> tensor, the optimizer's) after each of ``steps`` calls of
    ``optimizer.step()``, every gradient set to ``grads[name]`` before each step: plain data for the grader's
    judge (:mod:`autograder.judges.steps`), no verdict here."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise StudentError(f"expected a torch.optim optimizer, got {type(optimizer).__name__}")
    out = []
    for _ in range(steps):
        for name, p in params.items():
            p.grad = torch.tensor(grads[name], dtype=p.dtype).reshape(p.shape)
        optimizer.step()
        out.append({name: tensor(p, name) for name, p in params.items()})
    return out


def describe_class(value) -> list[str]:
    """The qualified names of ``type(value)`` and of its bases (method resolution order): the grader decides
    what class the handout asks for."""
    return [f"{cls.__module__}.{cls.__qualname__}" for cls in type(value).__mro__]


def learning_curves(history, where: str, keys: tuple[str, ...] = (), epochs: int | None = None) -> dict:
    """The history a student's training returned (a dict of lists, one number per epoch) as plain float
    lists (entries that are not lists are left out); ``keys`` must be there, with ``epochs`` numbers each."""
    if not isinstance(history, dict) or any(not isinstance(history.get(k), (list, tuple)) for k in keys):
        raise StudentError(f"{where} should return the history, a dict of lists {', '.join(keys)}".rstrip())
    for key in keys:
        if len(history[key]) != epochs or not all(isinstance(v, (int, float)) for v in history[key]):
            raise StudentError(f"{where}: history[{key!r}] should hold {epochs} floats (one per epoch), got "
                               f"{len(history[key])} values")
    return {str(k): [float(v) for v in values] for k, values in history.items() if isinstance(values, (list, tuple))}


def figure_contents(figure, where: str) -> dict:
    """What a matplotlib figure shows, as plain data: per axes (in ``figure.axes`` order) its title, its images
    (``imshow`` arrays) and its lines (x, y, label). Duck-typed: the worker never imports matplotlib."""
    if not hasattr(figure, "axes") or not hasattr(figure, "savefig"):
        raise StudentError(f"{where} should return the matplotlib figure it drew (e.g. from plt.subplots), got "
                           f"{type(figure).__name__}")
    def numbers(values, what: str) -> np.ndarray:
        array = np.array(np.ma.getdata(values))
        if array.dtype.kind not in "biuf":
            raise StudentError(f"{where}: the figure's {what} should hold numbers, got dtype {array.dtype}")
        return array

    axes = []
    for ax in figure.axes:
        images = [numbers(image.get_array(), "images") for image in ax.get_images()]  # dtype kept (uint8 or float)
        lines = [{"x": numbers(line.get_xdata(), "lines").astype(np.float64),
                  "y": numbers(line.get_ydata(), "lines").astype(np.float64), "label": str(line.get_label())}
                 for line in ax.get_lines()]
        axes.append({"title": str(ax.get_title()), "images": images, "lines": lines})
    return {"axes": axes}
