"""Training throughput of the accuracy checks' models: the fast tensor data path against a plain
torchvision DataLoader with per-sample PIL transforms (RandomCrop 28 + flip + ToTensor + Normalize).

    .venv/bin/python bench/train_speed.py [--images 10000] [--device cpu|cuda]

Prints images/s and seconds per epoch for each path and their ratio. Data: real CIFAR-10 when it is in
the data root, else real Fashion-MNIST brought to 3×32×32.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from autograder import data
from autograder.config import ROOT
from autograder.sandbox.fastdata import TensorLoader, normalize


def load_class(relative: str, name: str):
    spec = importlib.util.spec_from_file_location(relative.replace("/", "_"), ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def images_32(count: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(N, 32, 32, 3) uint8 images and labels."""
    root = data.root()
    if data.present(root, "CIFAR10"):
        pictures, labels = data.images(root, "CIFAR10", True)
        return pictures[:count], labels[:count], "CIFAR-10"
    pictures, labels = data.subset(root, "FashionMNIST", True, count, np.random.default_rng(0))
    padded = np.pad(pictures, ((0, 0), (2, 2), (2, 2)))
    return np.repeat(padded[..., None], 3, axis=3), labels, "Fashion-MNIST as 3x32x32"


class PilDataset(Dataset):
    def __init__(self, pictures, labels, transform):
        self.pictures, self.labels, self.transform = pictures, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        from PIL import Image

        return self.transform(Image.fromarray(self.pictures[index])), int(self.labels[index])


def one_epoch(model, loader, device) -> float:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    started = time.perf_counter()
    for images, labels in loader:
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pictures, labels, source = images_32(args.images)
    mean = torch.tensor(pictures.reshape(-1, 3).mean(0) / 255, dtype=torch.float32)
    std = torch.tensor(pictures.reshape(-1, 3).std(0) / 255, dtype=torch.float32)
    print(f"{source}, {len(labels)} images, batch {args.batch}, device {args.device}, {args.threads} threads, "
          f"{platform.processor() or platform.machine()}, torch {torch.__version__}")
    plain = DataLoader(PilDataset(pictures, labels, transforms.Compose([
        transforms.RandomCrop(28), transforms.RandomHorizontalFlip(), transforms.ToTensor(),
        transforms.Normalize(mean.tolist(), std.tolist())])), batch_size=args.batch, shuffle=True)
    tensors = normalize(torch.tensor(pictures).permute(0, 3, 1, 2), mean, std).to(args.device)
    fast = TensorLoader(tensors, torch.tensor(labels).to(args.device), args.batch, shuffle=True, crop=28, flip=True)
    models = {"tp2 CifarNet (ceil_mode pool3)": lambda: load_class("solutions/tp2_cnn/models.py", "CifarNet")(
        ceil_mode=True)}
    for name, build in models.items():
        torch.manual_seed(0)
        model = build().to(args.device)
        one_epoch(model, fast, args.device)  # warm-up
        timings = {path: one_epoch(model, loader, args.device) for path, loader in (("plain", plain), ("fast", fast))}
        print(f"{name}: plain {len(labels) / timings['plain']:8.0f} img/s ({timings['plain']:.2f} s/epoch), "
              f"fast {len(labels) / timings['fast']:8.0f} img/s ({timings['fast']:.2f} s/epoch), "
              f"ratio {timings['plain'] / timings['fast']:.2f}x")


if __name__ == "__main__":
    main()
