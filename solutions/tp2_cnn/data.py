"""Data of lab 1-cd: CIFAR-10 / MNIST through torchvision, standardisation and augmentation.

Images reach the networks as ``(C, H, W)`` float tensors (batched by the loaders to ``(B, C, H, W)``)
and labels as integers. Nothing is ever downloaded unless ``download=True`` is passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import datasets, transforms

CROP = 28  # side of the crops of the augmentation part (question 22)


def as_image_tensor(data: Any) -> torch.Tensor:
    """All images of ``data`` as one ``(N, C, H, W)`` float32 tensor with values in [0, 1] (helper).

    ``data`` may be:
      - a torch tensor ``(N, C, H, W)`` or ``(N, H, W)`` (uint8 values are divided by 255);
      - a numpy array ``(N, H, W, C)`` or ``(N, H, W)`` (torchvision's ``dataset.data`` layout);
      - a torchvision dataset with a ``.data`` attribute (CIFAR10, MNIST, FashionMNIST, ...), whose raw
        pixels are used (its ``transform`` is ignored), or a ``torch.utils.data.Subset`` of one;
      - any other dataset whose items are ``(image, label)`` with ``image`` a ``(C, H, W)`` tensor.
    """
    if isinstance(data, torch.utils.data.Subset):
        return as_image_tensor(data.dataset)[torch.as_tensor(data.indices, dtype=torch.long)]
    if hasattr(data, "data") and not isinstance(data, (torch.Tensor, np.ndarray)):
        return as_image_tensor(data.data)
    if isinstance(data, np.ndarray):
        array = torch.from_numpy(np.ascontiguousarray(data))
        images = array.unsqueeze(1) if array.ndim == 3 else array.permute(0, 3, 1, 2)
    elif isinstance(data, torch.Tensor):
        images = data.unsqueeze(1) if data.ndim == 3 else data
    else:
        images = torch.stack([torch.as_tensor(data[i][0]) for i in range(len(data))])
    if images.ndim != 4:
        raise ValueError(f"data.as_image_tensor: expected a batch of images, got shape {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    return images.float()


def channel_stats(data: Any) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of a set of images (questions 19-20).

    ``data``: the TRAINING images only, in any form accepted by :func:`as_image_tensor` (a
    ``(N, C, H, W)`` tensor in [0, 1], a torchvision training dataset, ...). The statistics are taken over
    all pixels of all images of each channel, on the [0, 1] scale that ``ToTensor`` produces, with the
    population standard deviation (divide by N·H·W). Returns ``(mean, std)``, two lists of C floats, e.g.
    about ``[0.491, 0.482, 0.447]`` and ``[0.247, 0.243, 0.262]`` on CIFAR-10's training set (the
    ``[0.202, 0.199, 0.201]`` sometimes quoted is the mean of per-image standard deviations, not this).
    """
    # BEGIN SOLUTION: per channel, over every pixel of every training image (population std)
    images = as_image_tensor(data)
    n_channels = images.shape[1]
    total = torch.zeros(n_channels, dtype=torch.float64)
    total_sq = torch.zeros(n_channels, dtype=torch.float64)
    for start in range(0, images.shape[0], 500):
        chunk = images[start:start + 500].double()
        total += chunk.sum(dim=(0, 2, 3))
        total_sq += chunk.square().sum(dim=(0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    std = (total_sq / count - mean.square()).clamp_min(0.0).sqrt()
    return mean.tolist(), std.tolist()
    # END SOLUTION


def train_transforms(mean: Sequence[float] | None, std: Sequence[float] | None, augment: bool = True,
                     crop: int = CROP) -> transforms.Compose:
    """Transform of the training images (PIL image → ``(C, crop, crop)`` tensor).

    augment=True: ``RandomCrop(crop)``, ``RandomHorizontalFlip()``, ``ToTensor()``, ``Normalize(mean, std)``;
    augment=False: ``ToTensor()``, ``Normalize(mean, std)`` (full-size images). ``mean=None`` leaves out
    the ``Normalize`` step (the baseline without standardisation).
    """
    # BEGIN SOLUTION: random crop + horizontal flip (augment only), ToTensor, Normalize (when mean given)
    steps: list[Any] = []
    if augment:
        steps += [transforms.RandomCrop(crop), transforms.RandomHorizontalFlip()]
    steps.append(transforms.ToTensor())
    if mean is not None:
        steps.append(transforms.Normalize(mean, std))
    return transforms.Compose(steps)
    # END SOLUTION


def test_transforms(mean: Sequence[float] | None, std: Sequence[float] | None, augment: bool = True,
                    crop: int = CROP) -> transforms.Compose:
    """Transform of the test images: deterministic, the same standardisation as in training.

    augment=True: ``CenterCrop(crop)``, ``ToTensor()``, ``Normalize(mean, std)``; augment=False:
    ``ToTensor()``, ``Normalize(mean, std)``. ``mean=None`` leaves out the ``Normalize`` step.
    """
    # BEGIN SOLUTION: center crop (augment only), ToTensor, Normalize with the TRAINING statistics
    steps: list[Any] = [transforms.CenterCrop(crop)] if augment else []
    steps.append(transforms.ToTensor())
    if mean is not None:
        steps.append(transforms.Normalize(mean, std))
    return transforms.Compose(steps)
    # END SOLUTION


def get_cifar10(root: str, augment: bool = True, normalize: bool = True,
                download: bool = False) -> tuple[Dataset, Dataset]:
    """CIFAR-10 train and test datasets (torchvision layout under ``root``) with the lab's transforms.

    The standardisation statistics come from the training split only. Items are ``(image, label)`` with
    ``image`` a ``(3, 28, 28)`` tensor when ``augment`` else ``(3, 32, 32)``.
    """
    train = datasets.CIFAR10(root, train=True, download=download)
    mean, std = channel_stats(train) if normalize else (None, None)
    train.transform = train_transforms(mean, std, augment)
    test = datasets.CIFAR10(root, train=False, download=download,
                            transform=test_transforms(mean, std, augment))
    return train, test


def get_mnist(root: str, download: bool = False, normalize: bool = True,
              fashion: bool = False) -> tuple[Dataset, Dataset]:
    """MNIST (or Fashion-MNIST with ``fashion=True``) train and test datasets, ``(1, 28, 28)`` images.

    ``ToTensor`` then ``Normalize`` with the training split's statistics; no augmentation (a flipped digit
    is not the same digit).
    """
    cls = datasets.FashionMNIST if fashion else datasets.MNIST
    train = cls(root, train=True, download=download)
    mean, std = channel_stats(train) if normalize else (None, None)
    train.transform = train_transforms(mean, std, augment=False)
    test = cls(root, train=False, download=download, transform=test_transforms(mean, std, augment=False))
    return train, test


class ArrayDataset(Dataset):
    """Images held in memory as a uint8 array ``(N, H, W, C)`` or ``(N, H, W)``, served like torchvision's.

    Each item is ``(transform(PIL image), int label)``, so the transforms above apply unchanged.
    """

    def __init__(self, images: np.ndarray, labels: Sequence[int] | np.ndarray | torch.Tensor,
                 transform: Any = None) -> None:
        self.data = np.asarray(images, dtype=np.uint8)
        self.targets = [int(label) for label in np.asarray(labels).reshape(-1)]
        if len(self.data) != len(self.targets):
            raise ValueError(f"data.ArrayDataset: {len(self.data)} images but {len(self.targets)} labels")
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        array = self.data[index]
        image = Image.fromarray(array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array)
        return (self.transform(image) if self.transform is not None else image), self.targets[index]


def datasets_from_arrays(train_images: np.ndarray, train_labels: Any, test_images: np.ndarray,
                         test_labels: Any, augment: bool = True, normalize: bool = True, crop: int = CROP,
                         pad: int = 0) -> tuple[Dataset, Dataset]:
    """Same as :func:`get_cifar10` for in-memory uint8 images ``(N, H, W[, C])`` (tests, small tiers).

    ``pad`` zero-pads the raw images on each side first (e.g. ``pad=2`` turns 28×28 digits into the
    32×32 inputs the baseline network expects). Statistics come from the (padded) training images.
    """
    train_images, test_images = np.asarray(train_images), np.asarray(test_images)
    if pad:
        widths = [(0, 0), (pad, pad), (pad, pad)] + [(0, 0)] * (train_images.ndim - 3)
        train_images, test_images = np.pad(train_images, widths), np.pad(test_images, widths)
    mean, std = channel_stats(train_images) if normalize else (None, None)
    train = ArrayDataset(train_images, train_labels, train_transforms(mean, std, augment, crop))
    test = ArrayDataset(test_images, test_labels, test_transforms(mean, std, augment, crop))
    return train, test


def get_loaders(train: Dataset, test: Dataset, batch_size: int = 128, seed: int = 0,
                num_workers: int = 0) -> tuple[DataLoader, DataLoader]:
    """Training loader (shuffled by a generator seeded with ``seed``) and test loader (in order)."""
    generator = torch.Generator().manual_seed(seed)
    pin = torch.cuda.is_available()
    train_loader = DataLoader(train, batch_size=batch_size, shuffle=True, generator=generator,
                              num_workers=num_workers, pin_memory=pin)
    test_loader = DataLoader(test, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                             pin_memory=pin)
    return train_loader, test_loader
