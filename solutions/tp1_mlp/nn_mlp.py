"""Part 1.2.3 — the forward pass with ``torch.nn`` layers, the update still written by hand.

``nn.CrossEntropyLoss`` takes the *logits* (the output of the last ``nn.Linear``, no SoftMax) and the
class indices ``y`` (B,) int64: it applies log-SoftMax itself.
"""

from __future__ import annotations

import torch
from torch import nn


def make_model(nx: int, nh: int, ny: int) -> nn.Sequential:
    """The two-layer perceptron of the handout as torch.nn layers in one container: (B, nx) -> nh hidden
    units with tanh -> logits (B, ny), without SoftMax (the loss applies it)."""
    # BEGIN SOLUTION: three layers, in order, in a container that calls them one after the other
    return nn.Sequential(nn.Linear(nx, nh), nn.Tanh(), nn.Linear(nh, ny))
    # END SOLUTION


def make_loss() -> nn.Module:
    """The cross-entropy loss on logits (B, ny) and class indices (B,), averaged over the batch."""
    # BEGIN SOLUTION: the torch.nn loss module of the module docstring
    return nn.CrossEntropyLoss()
    # END SOLUTION


def sgd_step(model: nn.Module, eta: float) -> None:
    """Manual gradient step of size ``eta`` on every parameter of ``model`` (as ``autograd_mlp.sgd``), then
    the stored gradients reset."""
    # BEGIN SOLUTION: as autograd_mlp.sgd, over the parameters the model holds
    with torch.no_grad():
        for p in model.parameters():
            p -= eta * p.grad
            p.grad.zero_()
    # END SOLUTION


def train_step(model: nn.Module, loss_fn: nn.Module, X: torch.Tensor, y: torch.Tensor, eta: float) -> float:
    """One SGD step. X: (B, nx), y: (B,) int64 class indices. Returns the batch loss before the step."""
    # BEGIN SOLUTION: the criterion on the model's logits, backpropagate, your sgd_step; return a float
    loss = loss_fn(model(X), y)
    loss.backward()
    sgd_step(model, eta)
    return loss.item()
    # END SOLUTION
