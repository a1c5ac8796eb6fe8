"""Question 6: patch embedding and the full Vision Transformer (ViT) for 28×28 grey images.

Shapes for one batch of ``B`` images ``(B, C, H, W)`` with square patches of side ``p``:
``N`` patches (question 6: how many for a 28×28 image?), ``D = embed_dim``.

    images (B, C, H, W)
      → patch_embed            (B, N, D)       Conv2d(C, D, kernel_size=p, stride=p), flattened
      → prepend cls_token      (B, N + 1, D)   cls_token is a learned (1, 1, D) parameter
      → + pos_embed            (B, N + 1, D)   learned (1, N + 1, D) parameter
      → blocks (nb_blocks ×)   (B, N + 1, D)
      → norm (LayerNorm(D))    (B, N + 1, D)
      → token 0 (class token)  (B, D)
      → head (Linear(D, K))    (B, K) logits

Attribute names follow timm's ``VisionTransformer`` (``patch_embed.proj``, ``cls_token``, ``pos_embed``,
``blocks``, ``norm``, ``head``): the graders find layers by these names.
"""

from __future__ import annotations

import torch
from blocks import Block
from torch import nn


class PatchEmbed(nn.Module):
    """Cut an image into non-overlapping ``p × p`` patches and embed each one linearly.

    ``proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)``;
    ``num_patches = (img_size // patch_size) ** 2``.
    Input (B, in_chans, img_size, img_size) → output (B, num_patches, embed_dim), patches in row-major
    order (left to right, then top to bottom).
    """

    def __init__(self, img_size: int = 28, patch_size: int = 7, in_chans: int = 1, embed_dim: int = 64) -> None:
        super().__init__()
        if img_size % patch_size != 0:
            raise ValueError(f"vit.PatchEmbed: img_size={img_size} is not a multiple of "
                             f"patch_size={patch_size}")
        self.img_size = img_size
        self.patch_size = patch_size
        # BEGIN SOLUTION
        # SOLUTION: self.num_patches = ...
        # SOLUTION: self.proj = ...
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) → (B, N, D)."""
        # BEGIN SOLUTION: conv, flatten the grid, (B, N, D)
        return self.proj(x).flatten(2).transpose(1, 2)
        # END SOLUTION


class ViT(nn.Module):
    """Vision Transformer classifier (see the module docstring for the shapes).

    Attributes: ``patch_embed`` (:class:`PatchEmbed`), ``cls_token`` (``nn.Parameter`` (1, 1, D)),
    ``pos_embed`` (``nn.Parameter`` (1, N + 1, D)), ``blocks`` (``nn.ModuleList`` of ``nb_blocks``
    :class:`~blocks.Block`), ``norm`` (``nn.LayerNorm(D)``), ``head`` (``nn.Linear(D, num_classes)``).
    ``cls_token`` and ``pos_embed`` start from ``nn.init.trunc_normal_(..., std=0.02)``.
    """

    def __init__(self, img_size: int = 28, patch_size: int = 7, in_chans: int = 1, embed_dim: int = 64,
                 nb_blocks: int = 2, num_heads: int = 4, mlp_ratio: float = 4.0,
                 num_classes: int = 10) -> None:
        super().__init__()
        # BEGIN SOLUTION
        # SOLUTION: self.patch_embed = ...
        # SOLUTION: self.cls_token = ...
        # SOLUTION: self.pos_embed = ...
        # SOLUTION: self.blocks = ...
        # SOLUTION: self.norm = ...
        # SOLUTION: self.head = ...
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        num_tokens = self.patch_embed.num_patches + 1
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_tokens, embed_dim))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio) for _ in range(nb_blocks)])
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) images → (B, num_classes) logits."""
        # BEGIN SOLUTION: follow the module docstring
        tokens = self.patch_embed(x)  # (B, N, D)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)  # (B, 1, D)
        tokens = torch.cat([cls, tokens], dim=1) + self.pos_embed  # (B, N + 1, D)
        for block in self.blocks:
            tokens = block(tokens)
        tokens = self.norm(tokens)
        return self.head(tokens[:, 0])  # (B, num_classes)
        # END SOLUTION


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars of ``model`` (parameters with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
