"""Part 1.2.3 — the forward pass with ``torch.nn`` layers, the update still written by hand.

``nn.CrossEntropyLoss`` takes the *logits* (the output of the last ``nn.Linear``, no SoftMax) and the
class indices ``y`` (B,) int64: it applies log-SoftMax itself.
"""

from __future__ import annotations

import torch
from torch import nn


def make_model(nx: int, nh: int, ny: int) -> nn.Sequential:
    """``nn.Sequential(nn.Linear(nx, nh), nn.Tanh(), nn.Linear(nh, ny))``: maps (B, nx) to logits (B, ny)."""
    # BEGIN SOLUTION: nn.Sequential of nn.Linear(nx, nh), nn.Tanh(), nn.Linear(nh, ny) (no SoftMax)
    return nn.Sequential(nn.Linear(nx, nh), nn.Tanh(), nn.Linear(nh, ny))
    # END SOLUTION


def make_loss() -> nn.Module:
    """The cross-entropy loss on logits (B, ny) and class indices (B,), averaged over the batch."""
    # BEGIN SOLUTION: nn.CrossEntropyLoss()
    return nn.CrossEntropyLoss()
    # END SOLUTION


def sgd_step(model: nn.Module, eta: float) -> None:
    """Manual gradient step: for every ``p`` in ``model.parameters()``, ``p -= eta * p.grad`` under
    ``torch.no_grad()``, then zero the gradients."""
    # BEGIN SOLUTION: loop over model.parameters() inside torch.no_grad(), then p.grad.zero_()
    with torch.no_grad():
        for p in model.parameters():
            p -= eta * p.grad
            p.grad.zero_()
    # END SOLUTION


def train_step(model: nn.Module, loss_fn: nn.Module, X: torch.Tensor, y: torch.Tensor, eta: float) -> float:
    """One SGD step. X: (B, nx), y: (B,) int64 class indices. Returns the batch loss before the step."""
    # BEGIN SOLUTION: loss_fn(model(X), y), .backward(), sgd_step; return the loss as a float
    loss = loss_fn(model(X), y)
    loss.backward()
    sgd_step(model, eta)
    return loss.item()
    # END SOLUTION
