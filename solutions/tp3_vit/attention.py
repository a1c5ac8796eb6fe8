"""Question 4: multi-head self-attention (batch-first, the layout of timm's ``Attention``).

Notation: ``B`` batch size, ``N`` number of tokens, ``D = embed_dim``, ``H = num_heads``,
``d = D / H = head_dim``.

Layout the graders rely on (they copy weights into your module by these attribute names and compare
with a reference computation, so keep them exactly):

- ``self.qkv = nn.Linear(D, 3 * D)`` (with bias). Its output ``(B, N, 3D)`` is read as
  ``reshape(B, N, 3, H, d)``: index 0 of the ``3`` axis is the queries, 1 the keys, 2 the values, and
  inside each of them the ``D`` features are split into ``H`` consecutive chunks of ``d`` (head ``h``
  uses features ``h*d .. (h+1)*d - 1``).
- ``q, k, v``: each ``(B, H, N, d)`` (``permute(2, 0, 3, 1, 4)`` of the reshaped tensor).
- ``attn = softmax(q @ k.transpose(-2, -1) * self.scale, dim=-1)``: ``(B, H, N, N)``;
  ``attn[b, h, i, j]`` is how much token ``i`` attends to token ``j``; every row sums to 1.
  ``self.scale = head_dim ** -0.5``.
- ``attn @ v``: ``(B, H, N, d)`` → heads merged back as ``transpose(1, 2).reshape(B, N, D)`` (head ``h``
  fills features ``h*d .. (h+1)*d - 1``) → ``self.proj = nn.Linear(D, D)`` (with bias) → ``(B, N, D)``.
- No dropout.
"""

from __future__ import annotations

import torch
from torch import nn


class SelfAttention(nn.Module):
    """Multi-head self-attention: ``(B, N, D)`` → ``(B, N, D)``.

    Attributes: ``num_heads`` (H), ``head_dim`` (d = D / H), ``scale`` (d ** -0.5),
    ``qkv`` (``nn.Linear(D, 3D)``), ``proj`` (``nn.Linear(D, D)``). See the module docstring for the
    exact order of the ``qkv`` output features.
    """

    def __init__(self, embed_dim: int, num_heads: int) -> None:
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError(f"attention.SelfAttention: embed_dim={embed_dim} must be divisible by "
                             f"num_heads={num_heads}")
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.scale = self.head_dim ** -0.5
        # BEGIN SOLUTION
        # SOLUTION: self.qkv = ...  # nn.Linear: D -> 3D (queries, keys, values)
        # SOLUTION: self.proj = ...  # nn.Linear: D -> D (output projection)
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim)
        self.proj = nn.Linear(embed_dim, embed_dim)
        # END SOLUTION

    def forward(self, x: torch.Tensor,
                return_attention: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Apply multi-head self-attention.

        x: (B, N, D) float tensor.
        Returns (B, N, D); with ``return_attention=True`` returns ``(out, attn)`` where ``attn`` is the
        (B, H, N, N) attention map after the softmax (each row sums to 1).
        """
        # BEGIN SOLUTION: follow the layout in the module docstring
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, N, d)
        attn = (q @ k.transpose(-2, -1)) * self.scale  # (B, H, N, N)
        attn = attn.softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(batch, tokens, dim)  # (B, N, D)
        out = self.proj(out)
        return (out, attn) if return_attention else out
        # END SOLUTION
