"""Data sets used by the graders, in torchvision's own folder layout under one data root.

The student kit ships this module too (``labcheck data``: the notebooks read ``$AUTOGRADER_DATA``, else
``data/`` beside them). The CPU tier reads real Fashion-MNIST from Debian's ``dataset-fashion-mnist`` package, gunzipped once by
``autograder data prepare`` into ``<root>/FashionMNIST/raw/`` where
``torchvision.datasets.FashionMNIST(root, download=False)`` finds it.
"""

from __future__ import annotations

import functools
import gzip
import os
import shutil
from pathlib import Path

import numpy as np

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
#: Where torchvision keeps each data set under the data root.
LAYOUT = {"FashionMNIST": "FashionMNIST/raw", "MNIST": "MNIST/raw", "CIFAR10": "cifar-10-batches-py"}
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")


class DataMissing(RuntimeError):
    """A data set the check needs is not in the data root (a problem of the grading machine)."""


def root(option: Path | None = None) -> Path:
    """``--data``, else ``$AUTOGRADER_DATA``, else ``<repo>/.data`` (the grading kit's)."""
    from autograder.config import ROOT

    return Path(option or os.environ.get("AUTOGRADER_DATA") or ROOT / ".data").resolve()


def prepare(data_root: Path, source: Path = DEBIAN_FASHION_MNIST) -> Path:
    """Gunzip Debian's Fashion-MNIST IDX files into ``<data_root>/FashionMNIST/raw/`` (idempotent)."""
    raw = data_root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in IDX_FILES:
        target = raw / name
        if target.exists():
            continue
        packed = source / f"{name}.gz"
        if not packed.exists():
            raise DataMissing(f"{packed} not found: install Debian's dataset-fashion-mnist "
                              "(apt-get install dataset-fashion-mnist) or run `make setup`")
        with gzip.open(packed, "rb") as src, open(f"{target}.part", "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(f"{target}.part", target)
    return raw


@functools.lru_cache(maxsize=4)
def images(data_root: Path, name: str, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels (N,) int64 of one split of ``name``, read by torchvision's own loader from
    torchvision's layout (``LAYOUT``): uint8 (N, 28, 28) for "FashionMNIST" / "MNIST", (N, 32, 32, 3) for
    "CIFAR10"."""
    from torchvision import datasets

    try:
        dataset = getattr(datasets, name)(str(data_root), train=train, download=False)
    except RuntimeError:
        how = "`autograder data prepare`" if name == "FashionMNIST" else "`autograder data fetch` (needs internet)"
        raise DataMissing(f"{name} not found under {data_root / LAYOUT[name]}: run {how}") from None
    return np.asarray(dataset.data), np.asarray(dataset.targets, dtype=np.int64)


def subset(data_root: Path, name: str, train: bool, size: int, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray]:
    """``size`` images and labels of one split of ``name`` drawn without replacement by ``rng``. The IDX
    files of MNIST and Fashion-MNIST are read through a memory map: only the drawn images are read, not
    the whole 47 MB file (a grading must fit in Gradescope's 768 MB)."""
    images_file = data_root / LAYOUT[name] / f"{'train' if train else 't10k'}-images-idx3-ubyte"
    if name in ("FashionMNIST", "MNIST") and images_file.is_file():
        pictures = _idx(images_file)
        labels = np.asarray(_idx(images_file.with_name(images_file.name.replace("images-idx3", "labels-idx1"))),
                            dtype=np.int64)
    else:
        pictures, labels = images(data_root, name, train)
    index = np.sort(rng.choice(len(labels), size=min(size, len(labels)), replace=False))
    return np.array(pictures[index]), labels[index]


def _idx(path: Path) -> np.memmap:
    """An IDX file of unsigned bytes (MNIST's format: a header giving the dimensions) as a read-only map."""
    with open(path, "rb") as handle:
        dimensions = handle.read(4)[3]
        shape = tuple(int(n) for n in np.frombuffer(handle.read(4 * dimensions), dtype=">i4"))
    return np.memmap(path, dtype=np.uint8, mode="r", offset=4 + 4 * dimensions, shape=shape)


def disguised(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Held-out images that no table over the public files recognises, for the same task: each uint8 image
    (N, H, W) or (N, H, W, C) gets its contrast scaled by a factor in [0.9, 1.1] and noise of up to ±3 grey
    levels, drawn from the grader's private ``rng``; uint8, same shape. (No translation: one pixel costs a
    trained MLP 8 points of accuracy on Fashion-MNIST.)"""
    contrast = rng.uniform(0.9, 1.1, (len(images),) + (1,) * (images.ndim - 1))
    noise = rng.integers(-3, 4, images.shape)
    return np.clip(np.rint(images * contrast) + noise, 0, 255).astype(np.uint8)


def present(data_root: Path, name: str) -> bool:
    """Whether ``name`` (a key of LAYOUT) sits in torchvision's layout under ``data_root``."""
    folder = data_root / LAYOUT[name]
    return folder.is_dir() and any(folder.iterdir())


def fetch(data_root: Path, names: list[str]) -> None:
    """Download data sets with torchvision's own downloader (needs internet; run once per GPU runner)."""
    from torchvision import datasets

    for name in names:
        if name not in LAYOUT:
            raise DataMissing(f"unknown data set {name!r}; choose from {', '.join(LAYOUT)}")
        for train in (True, False):
            getattr(datasets, name)(str(data_root), train=train, download=True)
        print(f"{name} ready in {data_root / LAYOUT[name]}")
