"""Part 1.2.2 — the same MLP, with the backward pass done by ``torch.autograd``.

The forward pass and the loss are those of ``manual.py`` (they are differentiable tensor algebra);
only the gradients change: ``L.backward()`` fills ``p.grad`` for every parameter ``p`` created with
``requires_grad=True``.
"""

from __future__ import annotations

import manual
import torch
from manual import INIT_STD, loss_accuracy


def init_params(nx: int, nh: int, ny: int,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Like ``manual.init_params`` (N(0, 0.3^2), same draws for the same generator state) but every tensor
    is a leaf with ``requires_grad=True``.

    Returns a dict ``Wh`` (nh, nx), ``bh`` (nh,), ``Wy`` (ny, nh), ``by`` (ny,).
    """
    # BEGIN SOLUTION: draw as in manual.init_params, then call .requires_grad_() on each tensor
    shapes = {"Wh": (nh, nx), "bh": (nh,), "Wy": (ny, nh), "by": (ny,)}
    return {name: (torch.randn(*shape, generator=generator) * INIT_STD).requires_grad_()
            for name, shape in shapes.items()}
    # END SOLUTION


def forward(params: dict[str, torch.Tensor], X: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Forward pass, tracked by autograd. X: (B, nx) -> ``(Yhat (B, ny), outputs dict)`` as in manual."""
    # BEGIN SOLUTION: which function of manual.py computes this already, and can autograd follow it?
    return manual.forward(params, X)
    # END SOLUTION


def sgd(params: dict[str, torch.Tensor], eta: float) -> dict[str, torch.Tensor]:
    """One gradient-descent step of size ``eta`` from the gradients autograd stored in each tensor.

    Every tensor of ``params`` is updated in place, without recording the update in the graph; then its
    stored gradient is reset (gradients accumulate otherwise). Returns ``params``.
    """
    # BEGIN SOLUTION: update in place outside the graph, then reset each stored gradient
    with torch.no_grad():
        for p in params.values():
            p -= eta * p.grad
            p.grad.zero_()
    return params
    # END SOLUTION


def train_step(params: dict[str, torch.Tensor], X: torch.Tensor, Y: torch.Tensor, eta: float) -> float:
    """One SGD step on a batch. X: (B, nx), Y: (B, ny) one-hot. Returns the batch loss before the step."""
    # BEGIN SOLUTION: forward, the mean loss of manual.loss_accuracy, backpropagate, your sgd; return the loss as a float
    Yhat, _ = forward(params, X)
    L, _ = loss_accuracy(Yhat, Y)
    L.backward()
    sgd(params, eta)
    return L.item()
    # END SOLUTION
