"""Question 5: the MLP and the pre-norm transformer block (batch-first, ``(B, N, D)`` tokens).

Attribute names follow timm's ``Mlp`` and ``Block`` (``fc1``, ``act``, ``fc2``; ``norm1``, ``attn``,
``norm2``, ``mlp``): the graders look layers up by these names.
"""

from __future__ import annotations

import torch
from attention import SelfAttention
from torch import nn


class MLP(nn.Module):
    """Two-layer perceptron applied to every token: ``fc1`` → GELU → ``fc2``.

    ``fc1 = nn.Linear(in_features, hidden_features)``, ``act = nn.GELU()``,
    ``fc2 = nn.Linear(hidden_features, out_features)`` (``out_features`` defaults to ``in_features``).
    Input (B, N, in_features) → output (B, N, out_features).
    """

    fc1: nn.Linear
    act: nn.GELU
    fc2: nn.Linear

    def __init__(self, in_features: int, hidden_features: int, out_features: int | None = None) -> None:
        super().__init__()
        out_features = in_features if out_features is None else out_features
        self.fc1 = ...  # TODO
        self.act = ...  # TODO
        self.fc2 = ...  # TODO

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, N, in_features) → (B, N, out_features)."""
        raise NotImplementedError("blocks.MLP.forward: the three layers of __init__, in order")


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``.

    ``norm1``, ``norm2``: ``nn.LayerNorm(D)``; ``attn``: :class:`SelfAttention` ``(D, num_heads)``;
    ``mlp``: :class:`MLP` ``(D, int(D * mlp_ratio), D)``. Input and output (B, N, D).
    """

    norm1: nn.LayerNorm
    attn: SelfAttention
    norm2: nn.LayerNorm
    mlp: MLP

    def __init__(self, embed_dim: int, num_heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.norm1 = ...  # TODO
        self.attn = ...  # TODO
        self.norm2 = ...  # TODO
        self.mlp = ...  # TODO

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, N, D) → (B, N, D), two residual branches with a LayerNorm before each."""
        raise NotImplementedError("blocks.Block.forward: two residual connections, LayerNorm first in each branch")
