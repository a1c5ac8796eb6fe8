"""Question 8: larger transformers with ``timm``, randomly initialised or fine-tuned from ImageNet weights.

A default timm ViT expects RGB ``224 × 224`` images cut into ``16 × 16`` patches (a fixed ``14 × 14`` grid,
hence a fixed number of positional embeddings), so an MNIST-sized ``(B, 1, 28, 28)`` tensor is refused.
:func:`make_timm_vit` builds the same architecture for ``28 × 28`` single-channel images instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

#: The default model of question 8: ViT-Tiny/16 for 3 × 224 × 224 inputs (5.7 M parameters).
DEFAULT_TIMM_MODEL = "vit_tiny_patch16_224"


def default_vit_error(shape: Sequence[int] = (1, 1, 28, 28), model_name: str = DEFAULT_TIMM_MODEL) -> str:
    """Build ``timm.create_model(model_name, pretrained=False)`` and apply it to ``torch.randn(*shape)``.

    shape: input shape (B, C, H, W), by default one MNIST-sized grey image.
    Returns the error raised by the forward pass as ``"<ExceptionType>: <message>"`` (e.g.
    ``"AssertionError: Input height (28) doesn't match model (224)."``), or ``""`` when the forward
    pass succeeds (e.g. for shape (1, 3, 224, 224)).
    """
    raise NotImplementedError("timm_vit.default_vit_error: timm.create_model(model_name, pretrained=False), forward in try/except")


def make_timm_vit(img_size: int = 28, patch_size: int = 7, in_chans: int = 1, num_classes: int = 10,
                  embed_dim: int = 64, depth: int = 2, num_heads: int = 4, mlp_ratio: float = 4.0) -> nn.Module:
    """A timm ViT (random init, never pre-trained) for MNIST-sized images.

    Input (B, in_chans, img_size, img_size) → logits (B, num_classes). With the defaults it has the
    same architecture (and the same 105,098 parameters) as ``vit.ViT()`` with the same hyper-parameters.
    """
    raise NotImplementedError("timm_vit.make_timm_vit: the ViT class of timm (under timm.models), given these hyper-parameters")


def make_finetune_vit(pretrained: bool = False, model_name: str = DEFAULT_TIMM_MODEL) -> nn.Module:
    """Questions 8-b/c: the ViT registered as ``model_name`` in timm, made for MNIST to fine-tune with
    ``train.train``: (B, 1, 28, 28) → logits (B, 10), cut into patches of side 4 (a 7 × 7 grid of tokens).
    With ImageNet weights when asked (downloaded: needs internet; the library adapts them to these
    settings), randomly initialised otherwise.
    """
    raise NotImplementedError("timm_vit.make_finetune_vit: one call of the library's model factory with the MNIST settings above")
