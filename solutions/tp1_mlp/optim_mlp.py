"""Part 1.2.4 — the update with ``torch.optim.SGD`` (model and loss from ``nn_mlp.py``)."""

from __future__ import annotations

import torch
from torch import nn


def make_optimizer(model: nn.Module, eta: float) -> torch.optim.Optimizer:
    """Plain stochastic gradient descent (no momentum, no weight decay) on all the weights of ``model``,
    with learning rate ``eta``."""
    # BEGIN SOLUTION: the optimizer class of the torch.optim documentation for this
    return torch.optim.SGD(model.parameters(), lr=eta)
    # END SOLUTION


def train_step(model: nn.Module, loss_fn: nn.Module, optimizer: torch.optim.Optimizer,
               X: torch.Tensor, y: torch.Tensor) -> float:
    """One optimisation step on the batch, the gradients reset first (they accumulate otherwise).

    X: (B, nx), y: (B,) int64 class indices. Returns the batch loss before the step.
    """
    # BEGIN SOLUTION: reset the gradients, compute the criterion, backpropagate, let the optimizer update; return a float
    optimizer.zero_grad()
    loss = loss_fn(model(X), y)
    loss.backward()
    optimizer.step()
    return loss.item()
    # END SOLUTION
