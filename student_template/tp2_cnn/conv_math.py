"""Part 1 (questions 1-9): sizes, weight counts and receptive fields of convolutions.

All functions take and return plain Python integers. Sizes follow the handout's notation: an input of
``x × y × z`` (width × height × channels), square kernels of side ``k``, padding ``p`` and stride ``s``.
"""

from __future__ import annotations

from collections.abc import Sequence


def conv_output_size(x: int, k: int, p: int, s: int) -> int:
    """Spatial output size of a convolution (or pooling) along one axis (question 1).

    x: input size along that axis; k: kernel size; p: zero padding on each side; s: stride.
    Returns the number of positions the kernel takes along that axis (as PyTorch's ``Conv2d`` computes it:
    a last partial window is dropped).
    """
    raise NotImplementedError("conv_math.conv_output_size: count the kernel positions in the padded input; use integer division")


def conv_weights(k: int, z: int, m: int, bias: bool = True) -> int:
    """Number of learnable parameters of a convolution layer with ``m`` filters of size ``k × k × z``.

    Counts the kernel weights of the ``m`` filters, plus one bias per filter when ``bias`` is True
    (question 1 asks for ``m = 1``).
    """
    raise NotImplementedError("conv_math.conv_weights: weights of one filter, times the number of filters")


def fc_equivalent_weights(x: int, y: int, z: int, x_out: int, y_out: int, bias: bool = True) -> int:
    """Parameters of a fully-connected layer mapping an ``x × y × z`` input to an ``x_out × y_out × 1`` output.

    Every output unit is connected to every input value; one bias per output unit when ``bias`` is True
    (question 1).
    """
    raise NotImplementedError("conv_math.fc_equivalent_weights: each output unit sees every input value")


def unshared_conv_weights(C: int, H: int, W: int, Q: int, k: int = 5) -> int:
    """Weights (no bias) of an *unshared* convolution (question 6).

    Input ``(B, C, H, W)``, ``Q`` filters of size ``k × k``, padding chosen so the output keeps the
    ``H × W`` size; unlike a convolution, every output position has its own kernel for each filter.
    """
    raise NotImplementedError("conv_math.unshared_conv_weights: one separate kernel per output pixel and per filter")


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """Side, in input pixels, of the receptive field of one output pixel of a stack of layers (question 7).

    layers: ``[(kernel, stride), ...]`` from the input to the output, convolutions and poolings alike
    (padding does not change the size of a receptive field). An empty stack has a receptive field of 1
    (one pixel sees itself), and a single ``(3, 1)`` layer one of 3.
    """
    raise NotImplementedError("conv_math.receptive_field: grow the field layer by layer; a layer's step in input pixels is the product of the earlier strides")
