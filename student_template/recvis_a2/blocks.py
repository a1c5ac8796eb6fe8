"""Part 2 — building blocks of a CNN (convolution, stride, padding, ReLU, max pooling) on an RGB image.

The course uses a 384 x 512 photograph of bell peppers downloaded from the course site. Nothing is
downloaded here: :func:`load_image` crops scikit-image's bundled "coffee" photograph when scikit-image
is installed, and otherwise draws a deterministic synthetic "peppers" picture (shaded ellipses with
sharp outlines on a smooth background) of the same size.
"""

from __future__ import annotations

import numpy as np
import torch

IMAGE_SIZE = (384, 512)  # (height, width) of the course's peppers image


def _synthetic_peppers(height: int = 384, width: int = 512, seed: int = 2020) -> np.ndarray:
    """A deterministic (height, width, 3) float image in [0, 1]: shaded coloured blobs on a background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    # smooth background: a dark diagonal gradient plus a few broad bumps
    img = np.empty((height, width, 3))
    base = 0.15 + 0.15 * (xx / width) + 0.1 * (yy / height)
    for c, tint in enumerate((0.9, 0.8, 0.7)):
        img[..., c] = tint * base
    for _ in range(4):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        s = rng.uniform(60, 140)
        img += 0.08 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s**2))[..., None]
    palette = [(0.80, 0.08, 0.05), (0.15, 0.55, 0.10), (0.95, 0.75, 0.10), (0.90, 0.35, 0.05),
               (0.65, 0.05, 0.10), (0.30, 0.65, 0.15)]
    for k in range(14):  # peppers: rotated ellipses with a spherical shading and a highlight
        cy, cx = rng.uniform(0.1, 0.9) * height, rng.uniform(0.05, 0.95) * width
        a, b = rng.uniform(40, 90), rng.uniform(30, 60)
        angle = rng.uniform(0, np.pi)
        u = ((xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)) / a
        v = (-(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)) / b
        r2 = u**2 + v**2
        inside = r2 < 1.0
        shade = np.sqrt(np.clip(1.0 - r2, 0.0, 1.0))
        highlight = np.exp(-((u + 0.35) ** 2 + (v + 0.35) ** 2) / 0.02)
        colour = np.array(palette[k % len(palette)])
        pepper = (0.35 + 0.65 * shade)[..., None] * colour + 0.6 * highlight[..., None]
        img[inside] = pepper[inside]
        stem = ((xx - (cx - a * 0.1 * np.sin(angle))) ** 2 + (yy - (cy - b * 1.0)) ** 2) < 36
        img[stem] = (0.2, 0.35, 0.1)
    img += 0.01 * rng.standard_normal(img.shape)  # a little texture
    return np.clip(img, 0.0, 1.0)


def load_image(path: str | None = None) -> torch.Tensor:
    """The RGB test image as a float tensor (3, H, W) with values in [0, 1].

    path: an image file to read instead (any size, converted to RGB). Without it: (3, 384, 512), from
    scikit-image's "coffee" photograph (centre crop) when scikit-image is installed, else the synthetic
    peppers picture. Add the batch dimension with ``x.unsqueeze(0)`` before a Conv2d.
    """
    if path is not None:
        from PIL import Image

        array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0
    else:
        height, width = IMAGE_SIZE
        try:
            from skimage import data as skdata

            photo = np.asarray(skdata.coffee(), dtype=np.float64) / 255.0  # (400, 600, 3)
            top, left = (photo.shape[0] - height) // 2, (photo.shape[1] - width) // 2
            array = photo[top:top + height, left:left + width, :3]
        except (ImportError, OSError, ValueError):  # scikit-image or its data missing: synthetic picture
            array = _synthetic_peppers(height, width)
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).float()


def _batch(x: torch.Tensor) -> torch.Tensor:
    """x as a batch: (3, H, W) -> (1, 3, H, W); (B, 3, H, W) unchanged."""
    return x.unsqueeze(0) if x.dim() == 3 else x


def random_filter_bank(seed: int = 0, stride: int = 1, padding: int = 0) -> torch.nn.Conv2d:
    """``Conv2d(3, 10, kernel_size=5, stride, padding, bias=False)`` with PyTorch's default random
    initialisation drawn from ``seed`` (the global RNG is left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torch.nn.Conv2d(3, 10, kernel_size=5, stride=stride, padding=padding, bias=False)


@torch.no_grad()
def conv_output(x: torch.Tensor, stride: int = 1, padding: int = 0, seed: int = 0) -> torch.Tensor:
    """Apply :func:`random_filter_bank` to the image x (3, H, W) or (B, 3, H, W).

    Returns (B, 10, H', W') without gradient, (H', W') as :func:`output_size` gives them for k = 5.
    """
    return random_filter_bank(seed, stride, padding)(_batch(x))


def output_size(h: int, w: int, k: int, s: int = 1, p: int = 0) -> tuple[int, int]:
    """Spatial size (H', W') of the output of a k x k convolution or pooling with stride s and zero padding
    p (on each side) on an h x w input."""
    raise NotImplementedError("blocks.output_size: how many positions can the k x k window take along each axis of the padded input, s apart?")


HAND_KERNEL = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))  # the 3 x 3 kernel of Task 2.1


def hand_filter() -> torch.nn.Conv2d:
    """The hand-made filter of Task 2.1: ``Conv2d(3, 1, kernel_size=3, stride=1, padding=1, bias=False)``
    whose weight (1, 3, 3, 3) holds ``HAND_KERNEL`` at ``weight[0, c]`` for each colour channel c."""
    conv = torch.nn.Conv2d(3, 1, kernel_size=3, stride=1, padding=1, bias=False)
    raise NotImplementedError("blocks.hand_filter: set conv.weight to a (1, 3, 3, 3) Parameter, HAND_KERNEL repeated over the input channels")
    return conv


@torch.no_grad()
def hand_filter_response(x: torch.Tensor) -> torch.Tensor:
    """:func:`hand_filter` applied to x (3, H, W) or (B, 3, H, W); returns (B, 1, H, W) without gradient."""
    return hand_filter()(_batch(x))


def derivative_filter() -> torch.nn.Conv2d:
    """The course's ReLU demo after Task 2.1 (provided): ``Conv2d(3, 2, kernel_size=(3, 1), bias=False)``
    whose weight (2, 3, 3, 1) holds the column [1, 0, -1] on every colour channel in output channel 0 and
    its negative in output channel 1."""
    conv = torch.nn.Conv2d(3, 2, kernel_size=(3, 1), stride=1, padding=0, bias=False)
    w = torch.tensor([[1.0], [0.0], [-1.0]]).repeat(1, 3, 1, 1)
    conv.weight = torch.nn.Parameter(torch.cat((w, -w), dim=0))
    return conv


@torch.no_grad()
def relu_of_derivative(x: torch.Tensor) -> torch.Tensor:
    """ReLU of the :func:`derivative_filter` responses of x (3, H, W) or (B, 3, H, W).

    Returns (B, 2, H - 2, W) without gradient.
    """
    return torch.relu(derivative_filter()(_batch(x)))


@torch.no_grad()
def max_pool(x: torch.Tensor, kernel: int = 15, stride: int = 1) -> torch.Tensor:
    """``MaxPool2d(kernel, stride)`` of x (C, H, W) or (B, C, H, W); returns (B, C, H', W'), (H', W') as
    :func:`output_size` gives them."""
    return torch.nn.MaxPool2d(kernel, stride=stride)(_batch(x))


def vis_features(y: torch.Tensor, nrow: int = 5, ax=None):
    """Show the channels of a feature map y (1, K, H, W) as a grid of K grey images scaled to [0, 1].

    Draws on ``ax`` (default: the current matplotlib axes) and returns it.
    """
    import matplotlib.pyplot as plt
    import torchvision

    out = y.detach().cpu().permute(1, 0, 2, 3)            # (K, 1, H, W): one grey image per channel
    out = (out - out.min()) / (out.max() - out.min()).clamp_min(1e-12)
    grid = torchvision.utils.make_grid(out, nrow=nrow)    # (3, H_grid, W_grid)
    ax = ax if ax is not None else plt.gca()
    ax.imshow(np.transpose(grid.numpy(), (1, 2, 0)))
    ax.grid(False)
    ax.axis("off")
    return ax


def show_image(x: torch.Tensor, ax=None):
    """Show an image x (3, H, W) or (1, 3, H, W) with values in [0, 1]; returns the axes."""
    import matplotlib.pyplot as plt

    ax = ax if ax is not None else plt.gca()
    ax.imshow(_batch(x)[0].detach().cpu().permute(1, 2, 0).clamp(0, 1).numpy())
    ax.grid(False)
    ax.axis("off")
    return ax
