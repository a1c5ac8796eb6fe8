"""Part 1.2.4 — the update with ``torch.optim.SGD`` (model and loss from ``nn_mlp.py``)."""

from __future__ import annotations

import torch
from torch import nn


def make_optimizer(model: nn.Module, eta: float) -> torch.optim.Optimizer:
    """Plain SGD (no momentum, no weight decay) over ``model.parameters()`` with learning rate ``eta``."""
    raise NotImplementedError("optim_mlp.make_optimizer: torch.optim.SGD(model.parameters(), lr=eta)")


def train_step(model: nn.Module, loss_fn: nn.Module, optimizer: torch.optim.Optimizer,
               X: torch.Tensor, y: torch.Tensor) -> float:
    """One step: ``optimizer.zero_grad()``, loss of ``model(X)`` against ``y``, ``backward()``,
    ``optimizer.step()``.

    X: (B, nx), y: (B,) int64 class indices. Returns the batch loss before the step.
    """
    raise NotImplementedError("optim_mlp.train_step: optimizer.zero_grad(); loss = loss_fn(model(X), y); loss.backward(); optimizer.step()")
