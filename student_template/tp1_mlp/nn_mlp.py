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
    raise NotImplementedError("nn_mlp.make_model: three layers, in order, in a container that calls them one after the other")


def make_loss() -> nn.Module:
    """The cross-entropy loss on logits (B, ny) and class indices (B,), averaged over the batch."""
    raise NotImplementedError("nn_mlp.make_loss: the torch.nn loss module of the module docstring")


def sgd_step(model: nn.Module, eta: float) -> None:
    """Manual gradient step of size ``eta`` on every parameter of ``model`` (as ``autograd_mlp.sgd``), then
    the stored gradients reset."""
    raise NotImplementedError("nn_mlp.sgd_step: as autograd_mlp.sgd, over the parameters the model holds")


def train_step(model: nn.Module, loss_fn: nn.Module, X: torch.Tensor, y: torch.Tensor, eta: float) -> float:
    """One SGD step. X: (B, nx), y: (B,) int64 class indices. Returns the batch loss before the step."""
    raise NotImplementedError("nn_mlp.train_step: the criterion on the model's logits, backpropagate, your sgd_step; return a float")
