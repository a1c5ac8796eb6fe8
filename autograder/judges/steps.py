"""Optimizer judges from parameter values: the parameters after each ``optimizer.step()`` with gradients the
grader fixed (:func:`autograder.sandbox.probing.optimizer_trajectory`), against the trajectory the handout's
optimizer gives, with the likely cause named when the steps match a known pattern (learning rate, weight
decay, momentum, an adaptive optimizer, a parameter left out).

A trajectory is a list (one entry per step) of dicts parameter name -> array.
"""

from __future__ import annotations

import numpy as np

from autograder.judges import CheckFailed
from autograder.judges.values import expect_array


def sgd_trajectory(before: dict, grads: dict, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                   steps: int = 2) -> list[dict]:
    """``torch.optim.SGD(lr, momentum, weight_decay)`` with the gradients fixed to ``grads`` at every step."""
    params = {k: np.asarray(v, dtype=np.float64) for k, v in before.items()}
    buffers: dict = {}
    out = []
    for _ in range(steps):
        for name, p in params.items():
            g = np.asarray(grads[name], dtype=np.float64) + weight_decay * p
            buffers[name] = g if name not in buffers else momentum * buffers[name] + g
            params[name] = p - lr * (buffers[name] if momentum else g)
        out.append(dict(params))
    return out


def adam_trajectory(before: dict, grads: dict, lr: float, betas=(0.9, 0.999), eps: float = 1e-8,
                    decoupled_weight_decay: float = 0.0, steps: int = 2) -> list[dict]:
    """``torch.optim.Adam(lr)`` (``AdamW(lr, weight_decay)`` when ``decoupled_weight_decay``) with the
    gradients fixed to ``grads`` at every step."""
    params = {k: np.asarray(v, dtype=np.float64) for k, v in before.items()}
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    out = []
    for t in range(1, steps + 1):
        for name, p in params.items():
            g = np.asarray(grads[name], dtype=np.float64)
            p = p * (1 - lr * decoupled_weight_decay)
            m[name] = betas[0] * m[name] + (1 - betas[0]) * g
            v[name] = betas[1] * v[name] + (1 - betas[1]) * g * g
            m_hat, v_hat = m[name] / (1 - betas[0] ** t), v[name] / (1 - betas[1] ** t)
            params[name] = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(dict(params))
    return out


def _flat(values: dict, names) -> np.ndarray:
    return np.concatenate([np.ravel(values[name]) for name in names])


def likely_cause(before: dict, grads: dict, got: list[dict], lr: float, momentum: float) -> str:
    """What the first two steps look like, in words, when they differ from SGD(lr, momentum)."""
    names = list(before)
    p0, g = _flat(before, names), _flat(grads, names)
    p1, p2 = _flat(got[0], names), _flat(got[1], names) if len(got) > 1 else None
    delta = p1 - p0
    if np.allclose(delta, 0):
        return "the first step changed nothing (are the gradients used? is the learning rate 0?)"
    # step 1 of SGD with weight decay: delta = -a g - b p0 (a = lr, b = lr * weight_decay)
    (a, b), *_ = np.linalg.lstsq(np.stack([-g, -p0], axis=1), delta, rcond=None)
    if np.allclose(delta, -a * g - b * p0, rtol=1e-4, atol=1e-9 * (1 + np.abs(p0).max())):
        if abs(b) > 1e-6 * abs(a):
            return (f"the step also shrinks the weights: weight decay {b / a:.3g} (lr {a:.3g}); expected no weight "
                    "decay")
        if momentum and np.isclose(a, lr * (1 + momentum), rtol=1e-4):
            return "the first step is (1 + momentum) × lr × gradient: Nesterov momentum, expected plain momentum"
        if not np.isclose(a, lr, rtol=1e-4):
            return f"the first step is {a:.4g} × gradient: learning rate {a:.4g} instead of {lr:.4g}"
        if p2 is not None:
            factor = float(np.dot(p1 - p2, g) / np.dot(g, g)) / lr  # SGD with momentum m: 1 + m
            if not np.isclose(factor - 1, momentum, atol=1e-4):
                return f"the second step shows momentum {round(factor - 1, 4) + 0.0:g}, expected {momentum:g}"
        return "the steps differ from SGD's"
    if np.allclose(np.abs(delta[g != 0]), np.abs(delta[g != 0]).max(), rtol=1e-3):
        return ("every entry moved by the same amount (± lr): an adaptive optimizer such as Adam, expected "
                f"SGD(lr={lr:g}" + (f", momentum={momentum:g})" if momentum else ")"))
    return "the first step is not a multiple of the gradient"


def adam_cause(before: dict, grads: dict, got: list[dict], lr: float) -> str:
    """What the first steps look like, in words, when they differ from Adam(lr)."""
    names = list(before)
    p0, g = _flat(before, names), _flat(grads, names)
    p1, want1 = _flat(got[0], names), _flat(adam_trajectory(before, grads, lr, steps=1)[0], names)
    decay = float(np.dot(want1 - p1, p0) / np.dot(p0, p0)) / lr  # AdamW: p0 (1 - lr wd) - Adam's step
    decoupled = adam_trajectory(before, grads, lr, decoupled_weight_decay=decay, steps=1)[0]
    if decay > 0 and np.allclose(p1, _flat(decoupled, names), rtol=1e-9, atol=1e-12):
        return f"decoupled weight decay {decay:.3g} (AdamW), expected torch.optim.Adam without weight decay"
    step = np.abs(p1 - p0)[g != 0]
    if not np.allclose(step, step.max(), rtol=1e-2):
        return "the first step is not lr · sign(gradient) (every entry moved by lr): not Adam"
    if not np.isclose(step.max(), lr, rtol=1e-2):
        return f"every entry moved by {step.max():.3g} in the first step: learning rate {step.max():.3g}, expected {lr:g}"
    return ("Adam-like steps with other settings: weight decay added to the gradients (weight_decay=...), other "
            "betas or eps? Expected the defaults")


def assert_trajectory(got, want: list[dict], before: dict, where: str, cause=None, rtol: float = 1e-6,
                      atol: float = 1e-9) -> None:
    """``got`` (the parameters after each step) equals ``want``; ``cause(got)`` explains a difference."""
    if not isinstance(got, list) or len(got) != len(want):
        raise CheckFailed(f"{where}: could not observe {len(want)} optimizer steps")
    for step, (mine, theirs) in enumerate(zip(got, want), start=1):
        for name, value in theirs.items():
            array = expect_array(mine.get(name) if isinstance(mine, dict) else None,
                                 f"{where}: parameter {name} after step {step}", np.shape(value))
            if np.allclose(array, before[name], rtol=0, atol=0) and not np.allclose(value, before[name]):
                raise CheckFailed(f"{where}: parameter {name} did not move in step {step}: the optimizer must "
                                  "hold all of model.parameters()")
            if not np.allclose(array, value, rtol=rtol, atol=atol):
                worst = np.unravel_index(int(np.argmax(np.abs(array - value))), np.shape(value))
                detail = f"at index {list(map(int, worst))} got {array[worst]:.6g}, expected {value[worst]:.6g}"
                hint = cause(got) if cause else ""
                raise CheckFailed(f"{where}: parameter {name} after step {step} differs ({detail})"
                                  + (f"; likely cause: {hint}" if hint else ""))
