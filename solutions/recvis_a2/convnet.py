"""Part 3 — training a linear classifier and a small CNN on CIFAR-10 with PyTorch.

Images are (3, 32, 32) tensors normalised to [-1, 1]; labels are ints in 0..9. Accuracies are in
percent (0-100), as printed by the handout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class LinearNet(nn.Module):
    """The baseline: one linear layer on the flattened image, (B, 3, 32, 32) -> logits (B, 10)."""

    def __init__(self, num_inputs: int = 3072, num_outputs: int = 10) -> None:
        super().__init__()
        self.num_inputs = num_inputs
        self.linear = nn.Linear(num_inputs, num_outputs)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """input: (B, 3, 32, 32) (any shape with num_inputs values per sample); returns (B, num_outputs)."""
        return self.linear(input.reshape(-1, self.num_inputs))


class ConvNet(nn.Module):
    """The CNN of Task 3.2, (B, 3, 32, 32) -> logits (B, 10).

    conv1: 16 filters 5x5 (no padding) + tanh; pool1: 2x2 max pooling; conv2: 128 filters 5x5 + tanh;
    pool2: 2x2 max pooling; flatten; linear1: 64 units + tanh; linear2: 10 units. The input size of
    linear1 is the number of values per image after pool2: follow the (B, C, H, W) shape through the layers.
    """

    def __init__(self) -> None:
        super().__init__()
        # BEGIN SOLUTION
        # SOLUTION: self.conv1 = ...
        # SOLUTION: self.pool1 = ...
        # SOLUTION: self.conv2 = ...
        # SOLUTION: self.pool2 = ...
        # SOLUTION: self.linear1 = ...
        # SOLUTION: self.linear2 = ...
        self.conv1 = nn.Conv2d(3, 16, kernel_size=5)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 128, kernel_size=5)
        self.pool2 = nn.MaxPool2d(2)
        self.linear1 = nn.Linear(128 * 5 * 5, 64)
        self.linear2 = nn.Linear(64, 10)
        # END SOLUTION

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """input: (B, 3, 32, 32); returns the logits (B, 10)."""
        # BEGIN SOLUTION: conv1 -> tanh -> pool1 -> conv2 -> tanh -> pool2 -> flatten -> linear1 -> tanh -> linear2
        x = self.pool1(torch.tanh(self.conv1(input)))
        x = self.pool2(torch.tanh(self.conv2(x)))
        x = torch.flatten(x, start_dim=1)
        return self.linear2(torch.tanh(self.linear1(x)))
        # END SOLUTION


def count_parameters(network: nn.Module) -> int:
    """Total number of trainable parameters of a network."""
    return sum(p.numel() for p in network.parameters() if p.requires_grad)


def layer_parameters(network: nn.Module) -> dict[str, dict]:
    """Per layer with parameters: ``{name: {"weight": shape list, "params": count}}`` (Task 3.6)."""
    table = {}
    for name, module in network.named_modules():
        own = list(module.parameters(recurse=False))
        if own:
            table[name] = {"weight": list(module.weight.shape), "params": sum(p.numel() for p in own)}
    return table


def train(epoch: int, network: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
          device: str | torch.device = "cpu", quiet: bool = False) -> tuple[float, float]:
    """One epoch of training with the cross-entropy loss.

    loader yields (data (B, 3, 32, 32), target (B,) int64). Puts the network in train mode, and for each
    batch: zero the gradients, forward, cross-entropy, backward, optimizer step. Prints the loss every 100
    batches unless ``quiet``. Returns ``(average training loss per sample, training accuracy in %)``
    measured on the fly during the epoch.
    """
    # BEGIN SOLUTION: zero_grad, forward, F.cross_entropy, backward, step for each batch
    network.train()
    total_loss, correct, seen = 0.0, 0, 0
    for batch_idx, (data, target) in enumerate(loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = network(data)
        loss = F.cross_entropy(output, target)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(data)
        correct += (output.argmax(dim=1) == target).sum().item()
        seen += len(data)
        if not quiet and batch_idx % 100 == 0:
            print(f"Train Epoch: {epoch} [{seen}/{len(loader.dataset)} "
                  f"({100.0 * (batch_idx + 1) / len(loader):.0f}%)]\tLoss: {loss.item():.6f}")
    return total_loss / max(seen, 1), 100.0 * correct / max(seen, 1)
    # END SOLUTION


def test(network: nn.Module, loader: DataLoader, device: str | torch.device = "cpu") -> tuple[float, float]:
    """Evaluate the network (eval mode, no gradient) on a loader of (data, target) batches.

    Returns ``(average cross-entropy loss per sample, accuracy in %)``.
    """
    # BEGIN SOLUTION: eval mode, torch.no_grad(), sum the per-sample losses and count correct argmax predictions
    network.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for data, target in loader:
            data, target = data.to(device), target.to(device)
            output = network(data)
            total_loss += F.cross_entropy(output, target, reduction="sum").item()
            correct += (output.argmax(dim=1) == target).sum().item()
            seen += len(data)
    return total_loss / max(seen, 1), 100.0 * correct / max(seen, 1)
    # END SOLUTION


def _as_loader(data: DataLoader | Dataset, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    """A DataLoader as is, or a Dataset wrapped in one (shuffled with a generator seeded by ``seed``)."""
    if isinstance(data, DataLoader):
        return data
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator)


def fit(network: nn.Module, train_loader: DataLoader | Dataset, test_loader: DataLoader | Dataset,
        epochs: int = 10, lr: float = 0.01, batch_size: int = 64, device: str | torch.device = "cpu",
        seed: int = 0, quiet: bool = False) -> dict[str, list[float]]:
    """Train ``network`` with plain SGD (learning rate ``lr``) for ``epochs`` epochs, testing after each.

    train_loader / test_loader: DataLoaders, or Datasets that are wrapped in DataLoaders of
    ``batch_size`` (the training one shuffled). ``seed`` seeds the shuffling (the global RNG is restored
    afterwards). Returns ``{"train_loss", "train_acc", "test_loss", "test_acc"}``: lists of one float per
    epoch (losses per sample, accuracies in %).
    """
    train_loader = _as_loader(train_loader, batch_size, True, seed)
    test_loader = _as_loader(test_loader, batch_size, False, seed)
    network.to(device)
    optimizer = torch.optim.SGD(network.parameters(), lr=lr)
    history: dict[str, list[float]] = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for epoch in tqdm(range(1, epochs + 1), desc="epochs", disable=quiet):
            train_loss, train_acc = train(epoch, network, train_loader, optimizer, device, quiet=True)
            test_loss, test_acc = test(network, test_loader, device)
            for key, value in zip(history, (train_loss, train_acc, test_loss, test_acc)):
                history[key].append(float(value))
            if not quiet:
                tqdm.write(f"Epoch {epoch}: train loss {train_loss:.4f} acc {train_acc:.1f}% | "
                           f"test loss {test_loss:.4f} acc {test_acc:.1f}%")
    return history


def get_cifar10(root: str, download: bool = False, train_subset: int | None = None,
                test_subset: int | None = None) -> tuple[Dataset, Dataset]:
    """CIFAR-10 (train, test) datasets from ``root`` (torchvision layout: ``root/cifar-10-batches-py``).

    Transform: ToTensor then Normalize((0.5,)*3, (0.5,)*3), so images are (3, 32, 32) in [-1, 1]. Never
    downloads unless ``download=True``. ``train_subset`` / ``test_subset`` keep only the first n images.
    """
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)])
    train_set = datasets.CIFAR10(root, train=True, download=download, transform=transform)
    test_set = datasets.CIFAR10(root, train=False, download=download, transform=transform)
    if train_subset is not None:
        train_set = Subset(train_set, range(min(train_subset, len(train_set))))
    if test_subset is not None:
        test_set = Subset(test_set, range(min(test_subset, len(test_set))))
    return train_set, test_set


def show_examples(dataset: Dataset, n: int = 5, path: str | None = None):
    """Task 3.1: show n images of a normalised CIFAR-10 dataset (items ``(image (3, 32, 32) in [-1, 1],
    label)``), one subplot each, titled with its class name (``CLASSES``).

    Each image is drawn with ``imshow`` as an (32, 32, 3) array in [0, 1] (undo ``Normalize((0.5,) * 3,
    (0.5,) * 3)``, channels last). Returns the matplotlib figure (saved to ``path`` when given).
    """
    import matplotlib.pyplot as plt

    # BEGIN SOLUTION: one subplot per image: imshow of the un-normalised (H, W, 3) image, title CLASSES[label]
    fig, axes = plt.subplots(1, n, figsize=(2 * n, 2.4), squeeze=False)
    for ax, index in zip(axes[0], range(n)):
        image, label = dataset[index]
        ax.imshow((image / 2 + 0.5).clamp(0, 1).permute(1, 2, 0).numpy())
        ax.set_title(CLASSES[int(label)])
        ax.axis("off")
    # END SOLUTION
    if path is not None:
        fig.savefig(path, dpi=100, bbox_inches="tight")
    return fig


def plot_filters(network: nn.Module, path: str | None = None):
    """Task 3.5: the 16 filters of ``network.conv1`` as 16 RGB images, one subplot each.

    Filter i is drawn with ``imshow`` as a (5, 5, 3) array (channels last) rescaled to [0, 1] by its own
    minimum and maximum. Returns the matplotlib figure (saved to ``path`` when given).
    """
    import matplotlib.pyplot as plt

    # BEGIN SOLUTION: a 4 x 4 grid of subplots; filter i as (5, 5, 3), rescaled by its own min and max
    weight = network.conv1.weight.detach().cpu()
    low = weight.amin(dim=(1, 2, 3), keepdim=True)
    high = weight.amax(dim=(1, 2, 3), keepdim=True)
    filters = ((weight - low) / (high - low).clamp_min(1e-12)).permute(0, 2, 3, 1)
    fig, axes = plt.subplots(4, 4, figsize=(6, 6))
    for ax, image in zip(axes.flat, filters):
        ax.imshow(image.numpy(), interpolation="nearest")
        ax.axis("off")
    fig.suptitle("conv1 filters")
    # END SOLUTION
    if path is not None:
        fig.savefig(path, dpi=100, bbox_inches="tight")
    return fig
