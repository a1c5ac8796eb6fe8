"""Part 1.2.3 — the forward pass with ``torch.nn`` layers, the update still written by hand.

``nn.CrossEntropyLoss`` takes the *logits* (the output of the last ``nn.Linear``, no SoftMax) and the
class indices ``y`` (B,) int64: it applies log-SoftMax itself.
"""

from __future__ import annotations

import torch
from torch import nn


def make_model(nx: int, nh: int, ny: int) -> nn.Sequential:
    """``nn.Sequential(nn.Linear(nx, nh), nn.Tanh(), nn.Linear(nh, ny))``: maps (B, nx) to logits (B, ny)."""
    raise NotImplementedError("nn_mlp.make_model: nn.Sequential of nn.Linear(nx, nh), nn.Tanh(), nn.Linear(nh, ny) (no SoftMax)")


def make_loss() -> nn.Module:
    """The cross-entropy loss on logits (B, ny) and class indices (B,), averaged over the batch."""
    raise NotImplementedError("nn_mlp.make_loss: nn.CrossEntropyLoss()")


def sgd_step(model: nn.Module, eta: float) -> None:
    """Manual gradient step: for every ``p`` in ``model.parameters()``, ``p -= eta * p.grad`` under
    ``torch.no_grad()``, then zero the gradients."""
    raise NotImplementedError("nn_mlp.sgd_step: loop over model.parameters() inside torch.no_grad(), then p.grad.zero_()")


def train_step(model: nn.Module, loss_fn: nn.Module, X: torch.Tensor, y: torch.Tensor, eta: float) -> float:
    """One SGD step. X: (B, nx), y: (B,) int64 class indices. Returns the batch loss before the step."""
    raise NotImplementedError("nn_mlp.train_step: loss_fn(model(X), y), .backward(), sgd_step; return the loss as a float")
