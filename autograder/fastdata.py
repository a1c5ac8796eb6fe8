"""A fast training data path: a whole data set held as one tensor on the device, batches cut by indexing,
random crop and horizontal flip applied to the whole batch at once (no per-sample Python).

Used by the accuracy probes (in the worker, both tiers) to feed a student's training loop: a
:class:`TensorLoader` is a DataLoader over ``(images (B, C, h, w) float, labels (B,) int64)``.
"""

from __future__ import annotations

import torch


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 or [0, 1] images (N, C, H, W) → float, standardised per channel with ``mean``/``std`` (C,)."""
    images = images.float() / 255 if images.dtype == torch.uint8 else images.float()
    return (images - mean.view(1, -1, 1, 1).to(images)) / std.view(1, -1, 1, 1).to(images)


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
