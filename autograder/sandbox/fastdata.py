"""A fast training data path: a whole data set held as one tensor on the device, batches cut by indexing,
random crop and horizontal flip applied to the whole batch at once (no per-sample Python).

Used by the accuracy probes (in the worker, both tiers) to feed a student's training loop: a
:class:`TensorLoader` is a DataLoader over ``(images (B, C, h, w) float, labels (B,) int64)``; the graders
prepare the held-out images they predict with the same functions.
"""

from __future__ import annotations

import numpy as np
import torch


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 or [0, 1] images (N, C, H, W) → float, standardised per channel with ``mean``/``std`` (C,): one
    new tensor, computed in place (a data set's worth of memory, not four)."""
    result = images.to(torch.float32, copy=True)
    if images.dtype == torch.uint8:
        result.div_(255)
    return result.sub_(mean.view(1, -1, 1, 1).to(result)).div_(std.view(1, -1, 1, 1).to(result))


def symmetric_rgb(images, device: str = "cpu") -> torch.Tensor:
    """uint8 images as normalised (N, 3, 32, 32) floats in [-1, 1] on ``device``, like recvis_a2's
    ``get_cifar10`` transform (ToTensor, then Normalize((0.5,) * 3, (0.5,) * 3)).

    (N, 28, 28) grey images (Fashion-MNIST) are padded by 2 pixels of background and repeated on 3 channels;
    (N, 32, 32, 3) colour images (CIFAR-10) are put channels first.
    """
    x = torch.as_tensor(images, device=device).float()
    if x.dim() == 3:
        x = torch.nn.functional.pad(x, (2, 2, 2, 2)).unsqueeze(1).repeat(1, 3, 1, 1)
    else:
        x = x.permute(0, 3, 1, 2).contiguous()
    return x.div_(255.0).sub_(0.5).div_(0.5)


def rgb(images, pad: int = 0) -> np.ndarray:
    """uint8 images (N, H, W[, 3]) → (N, H + 2·pad, W + 2·pad, 3): grey repeated on 3 channels, zero-padded."""
    images = np.asarray(images)
    images = np.repeat(images[..., None], 3, axis=-1) if images.ndim == 3 else images
    return np.pad(images, [(0, 0), (pad, pad), (pad, pad), (0, 0)]) if pad else images


def channels_first(images: np.ndarray, mean=None, std=None, device: str = "cpu") -> torch.Tensor:
    """uint8 (N, H, W, 3) → contiguous float (N, 3, H, W) on ``device`` (the strides a DataLoader of ToTensor
    images gives: a student's ``view`` must work), in [0, 1], or standardised when ``mean``/``std`` (3,) are
    given."""
    images = torch.as_tensor(images, device=device).permute(0, 3, 1, 2).contiguous()
    if mean is None:
        return images.float().div_(255)
    return normalize(images, torch.tensor(mean), torch.tensor(std))


def random_crop_flip(batch: torch.Tensor, size: int, generator: torch.Generator, flip: bool = True) -> torch.Tensor:
    """A ``size``×``size`` crop at a random offset per image, then a horizontal flip with probability ½.

    batch: (B, C, H, W) → (B, C, size, size); offsets and flips drawn from ``generator`` (on the CPU).
    """
    count, _, height, width = batch.shape
    top = torch.randint(0, height - size + 1, (count,), generator=generator).to(batch.device)
    left = torch.randint(0, width - size + 1, (count,), generator=generator).to(batch.device)
    steps = torch.arange(size, device=batch.device)
    rows = (top[:, None] + steps)[:, None, :, None]          # (B, 1, size, 1)
    cols = (left[:, None] + steps)[:, None, None, :]         # (B, 1, 1, size)
    if flip:
        mirrored = torch.rand(count, generator=generator).to(batch.device) < 0.5
        cols = torch.where(mirrored[:, None, None, None], cols.flip(-1), cols)
    index = torch.arange(count, device=batch.device)[:, None, None, None]
    channel = torch.arange(batch.shape[1], device=batch.device)[None, :, None, None]
    return batch[index, channel, rows, cols]


def center_crop(batch: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size``×``size`` window (torchvision's CenterCrop rounding), contiguous.
    (B, C, H, W) → (B, C, size, size)."""
    height, width = batch.shape[-2:]
    top, left = round((height - size) / 2.0), round((width - size) / 2.0)
    return batch[..., top:top + size, left:left + size].contiguous()


class TensorLoader(torch.utils.data.DataLoader):
    """Mini-batches of a data set already on its device, reshuffled each pass (seeded).

    A DataLoader (``isinstance`` checks, ``loader.dataset``, ``loader.batch_size`` work as usual) whose
    iteration cuts batches by indexing instead of collating samples one by one.
    images: (N, C, H, W) float (already normalised), labels: (N,) int64, both on the same device. Batches are
    contiguous (N, C, h, w) tensors, as a DataLoader collates them: the student's code sees no other strides.
    ``crop``: train-time random crop size (with flips when ``flip``); ``center``: test-time center crop.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, shuffle: bool = False,
                 seed: int = 0, crop: int | None = None, flip: bool = False, center: int | None = None):
        super().__init__(torch.utils.data.TensorDataset(images, labels), batch_size=batch_size, shuffle=shuffle,
                         generator=torch.Generator().manual_seed(seed))
        self.shuffle, self.crop, self.flip, self.center = shuffle, crop, flip, center

    def __iter__(self):
        images, labels = self.dataset.tensors
        count = len(labels)
        order = torch.randperm(count, generator=self.generator) if self.shuffle else torch.arange(count)
        order = order.to(images.device)
        for start in range(0, count, self.batch_size):
            index = order[start:start + self.batch_size]
            batch = images[index]
            if self.crop is not None:
                batch = random_crop_flip(batch, self.crop, self.generator, self.flip)
            elif self.center is not None:
                batch = center_crop(batch, self.center)
            yield batch.contiguous(), labels[index]  # what a DataLoader collates: contiguous NCHW
