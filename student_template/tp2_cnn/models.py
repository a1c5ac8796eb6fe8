"""Networks of lab 1-cd: the CIFAR-10 CNN of the handout (questions 10-11, 15, 29-34) and LeNet-5.

Tensors are ``(B, C, H, W)`` float batches; every network returns ``(B, num_classes)`` logits (the
softmax is part of the loss, ``nn.CrossEntropyLoss``, never of the network).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn


class CifarNet(nn.Module):
    """The CIFAR-10 network of the handout, with the switches of the improvement parts.

    Layer order (submodule names in brackets; optional layers in parentheses). Every convolution is 5×5
    and keeps the spatial size (question 8); every max-pooling is 2×2 and halves it (question 9).

    ``features`` (an ``nn.Sequential``):
      1. ``conv1``: 32 filters, (``bn1``: ``BatchNorm2d(32)``), ``relu1``, ``pool1``
      2. ``conv2``: 64 filters, (``bn2``: ``BatchNorm2d(64)``), ``relu2``, ``pool2``
      3. ``conv3``: 64 filters, (``bn3``: ``BatchNorm2d(64)``), ``relu3``, ``pool3`` (with ``ceil_mode``)

    then the ``(B, 64, 4, 4)`` maps are flattened to ``(B, 1024)`` and go through ``classifier``
    (an ``nn.Sequential``): ``fc4``: ``Linear(1024, 1000)``, ``relu4``, (``dropout4``: ``Dropout(p=0.5)``),
    ``fc5``: ``Linear(1000, num_classes)``.

    Args:
        batch_norm: put a ``BatchNorm2d`` right after each convolution, before its ReLU.
        dropout: put ``Dropout(p=0.5)`` between ``relu4`` and ``fc5``.
        ceil_mode: ``ceil_mode`` of ``pool3`` only; needed for 28×28 crops (7×7 → 4×4 instead of 3×3).
        num_classes: number of logits.
        in_channels: channels of the input images (3 for CIFAR-10).

    Input ``(B, in_channels, 32, 32)``, or ``(B, in_channels, 28, 28)`` when ``ceil_mode`` is True;
    output ``(B, num_classes)`` logits.
    """

    def __init__(self, batch_norm: bool = False, dropout: bool = False, ceil_mode: bool = False,
                 num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        self.batch_norm = batch_norm
        self.dropout = dropout
        self.ceil_mode = ceil_mode
        self.features = ...  # TODO
        self.classifier = ...  # TODO

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: ``(B, in_channels, H, W)``, H = W = 32 (or 28 with ``ceil_mode``); returns ``(B, num_classes)``."""
        raise NotImplementedError("models.CifarNet.forward: features, flatten to (B, 1024), classifier")


class LeNet5(nn.Module):
    """LeNet-5 as in the course's ``base.py`` (MNIST, provided code: nothing to write here).

    ``features``: ``conv1`` ``Conv2d(in_channels, 6, 5, padding=2)``, ``tanh1``, ``pool1`` ``MaxPool2d(2, 2)``,
    ``conv2`` ``Conv2d(6, 16, 5)``, ``tanh2``, ``pool2`` ``MaxPool2d(2, 2)``; flatten ``(B, 16, 5, 5)`` to
    ``(B, 400)``; ``classifier``: ``fc3`` ``Linear(400, 120)``, ``tanh3``, ``fc4`` ``Linear(120, 84)``,
    ``tanh4``, ``fc5`` ``Linear(84, num_classes)``.

    Input ``(B, in_channels, 28, 28)``, output ``(B, num_classes)`` logits. Parameters with the defaults:
    156 + 2,416 + 48,120 + 10,164 + 850 = 61,706.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(in_channels, 6, (5, 5), stride=1, padding=2)),
            ("tanh1", nn.Tanh()),
            ("pool1", nn.MaxPool2d((2, 2), stride=2, padding=0)),
            ("conv2", nn.Conv2d(6, 16, (5, 5), stride=1, padding=0)),
            ("tanh2", nn.Tanh()),
            ("pool2", nn.MaxPool2d((2, 2), stride=2, padding=0)),
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ("fc3", nn.Linear(400, 120)),
            ("tanh3", nn.Tanh()),
            ("fc4", nn.Linear(120, 84)),
            ("tanh4", nn.Tanh()),
            ("fc5", nn.Linear(84, num_classes)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: ``(B, in_channels, 28, 28)``; returns ``(B, num_classes)`` logits."""
        return self.classifier(self.features(x).view(x.size(0), -1))


def count_parameters(model: nn.Module) -> int:
    """Total number of trainable (``requires_grad``) parameter entries of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
