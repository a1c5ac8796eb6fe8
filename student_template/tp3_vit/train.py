"""Question 7: train a ViT on MNIST with Adam and cross-entropy; the handout's five hyper-parameter cases.

Data contract (used by :func:`train`, returned by :func:`get_mnist`): a split is a pair of tensors
``(images, labels)``:

- ``images``: ``(N, 1, 28, 28)`` or ``(N, 28, 28)``. ``uint8`` pixels (0-255) are scaled to [0, 1] and
  normalised with the MNIST statistics (``(x / 255 - MNIST_MEAN) / MNIST_STD``); floating-point images
  are taken as already pre-processed and used as they are.
- ``labels``: ``(N,)`` integer class indices in [0, 10).

Histories are dicts of plain Python lists, one value per epoch: ``train_loss``, ``train_acc`` (running
mean over the epoch, in train mode), ``test_loss``, ``test_acc`` (after the epoch, in eval mode).
Accuracies are fractions in [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm
from vit import ViT

#: Mean and standard deviation of MNIST pixels in [0, 1] (``transforms.Normalize((0.1307,), (0.3081,))``).
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

#: The five hyper-parameter cases of the handout (num_heads 4, mlp_ratio 4, Adam lr 1e-3, batch 128).
CASES: dict[int, dict[str, int]] = {
    1: {"epochs": 10, "embed_dim": 32, "patch_size": 7, "nb_blocks": 2},
    2: {"epochs": 20, "embed_dim": 128, "patch_size": 7, "nb_blocks": 2},
    3: {"epochs": 20, "embed_dim": 128, "patch_size": 14, "nb_blocks": 2},
    4: {"epochs": 20, "embed_dim": 64, "patch_size": 14, "nb_blocks": 2},
    5: {"epochs": 20, "embed_dim": 32, "patch_size": 14, "nb_blocks": 2},
}

#: Final MNIST test accuracies (%) reported for the cases in the course's sample report (for comparison).
REPORTED_TEST_ACC: dict[int, float] = {1: 93.80, 2: 93.73, 3: 96.14, 4: 97.37, 5: 97.34}


def prepare_images(images: torch.Tensor) -> torch.Tensor:
    """Images as the model sees them: (N, 1, 28, 28) float32 (see the data contract above).

    images: (N, 28, 28) or (N, 1, 28, 28), uint8 (scaled and normalised) or float (kept as is).
    """
    images = torch.as_tensor(images)
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4:
        raise ValueError(f"train.prepare_images: expected images of shape (N, 28, 28) or (N, 1, 28, 28), "
                         f"got {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        return (images.float() / 255.0 - MNIST_MEAN) / MNIST_STD
    return images.float()


def get_mnist(root: str | Path, download: bool = False,
              name: str = "MNIST") -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """MNIST (or ``name="FashionMNIST"``) through torchvision, offline unless ``download=True``.

    torchvision looks for the uncompressed IDX files in ``<root>/<name>/raw/``.
    Returns ``((train_images, train_labels), (test_images, test_labels))``: images (N, 1, 28, 28) uint8,
    labels (N,) int64; N = 60,000 for train and 10,000 for test.
    """
    import torchvision

    splits = []
    for is_train in (True, False):
        try:
            dataset = getattr(torchvision.datasets, name)(str(root), train=is_train, download=download)
        except RuntimeError as error:
            raise FileNotFoundError(
                f"train.get_mnist: {name} not found under {str(root)!r} (torchvision expects the "
                f"uncompressed IDX files in {Path(root) / name / 'raw'}); pass download=True") from error
        splits.append((dataset.data.unsqueeze(1).clone(), dataset.targets.long().clone()))
    return splits[0], splits[1]


def make_case_model(case: int, num_heads: int = 4, seed: int = 0) -> ViT:
    """The :class:`~vit.ViT` of hyper-parameter case ``case`` (1-5), initialised from ``seed``."""
    params = CASES[case]
    torch.manual_seed(seed)
    return ViT(patch_size=params["patch_size"], embed_dim=params["embed_dim"], nb_blocks=params["nb_blocks"],
               num_heads=num_heads)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor,
               labels: torch.Tensor) -> tuple[float, int]:
    """One optimisation step on one mini-batch with the cross-entropy loss.

    images: (B, 1, 28, 28) float tensor; labels: (B,) int64, both on the model's device.
    Returns ``(loss, correct)``: the batch's mean cross-entropy as a float and the number of images whose
    arg-max logit is the label.
    """
    raise NotImplementedError("train.train_step: zero the gradients, forward, cross-entropy, backward, optimizer step")


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 512,
             device: str | torch.device = "cpu") -> tuple[float, float]:
    """Mean cross-entropy and accuracy (fraction in [0, 1]) of ``model`` in eval mode.

    images: see the data contract (uint8 or pre-processed float); labels: (N,) integers.
    """
    model.eval()
    images, labels = prepare_images(images), torch.as_tensor(labels).long()
    total_loss, correct = 0.0, 0
    for start in range(0, len(labels), batch_size):
        batch = images[start:start + batch_size].to(device)
        target = labels[start:start + batch_size].to(device)
        logits = model(batch)
        total_loss += nn.functional.cross_entropy(logits, target, reduction="sum").item()
        correct += int((logits.argmax(dim=1) == target).sum().item())
    return total_loss / len(labels), correct / len(labels)


def train(model: nn.Module, train_data: tuple[torch.Tensor, torch.Tensor],
          test_data: tuple[torch.Tensor, torch.Tensor], epochs: int, batch_size: int = 128, lr: float = 1e-3,
          device: str | torch.device = "cpu", seed: int = 0, quiet: bool = False) -> dict[str, list[float]]:
    """Train ``model`` with Adam (learning rate ``lr``) and the cross-entropy loss, ``epochs`` epochs.

    train_data, test_data: ``(images, labels)`` tensor pairs (see the data contract above).
    Mini-batches of ``batch_size`` images are drawn without replacement in a random order that only
    depends on ``seed``. The model is moved to ``device`` and left there in eval mode.
    Returns the history ``{"train_loss", "train_acc", "test_loss", "test_acc"}``, one float per epoch.
    """
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    images, labels = prepare_images(train_data[0]), torch.as_tensor(train_data[1]).long()
    model.to(device)
    optimizer = ...  # Adam on all the model's parameters, learning rate lr  # TODO
    history: dict[str, list[float]] = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    n = len(labels)
    bar = tqdm(range(epochs), desc="train", disable=quiet, leave=False)
    for _ in bar:
        model.train()
        order = torch.randperm(n, generator=generator)
        total_loss, correct = 0.0, 0
        for start in range(0, n, batch_size):
            index = order[start:start + batch_size]
            loss, right = train_step(model, optimizer, images[index].to(device), labels[index].to(device))
            total_loss += loss * len(index)
            correct += right
        test_loss, test_acc = evaluate(model, test_data[0], test_data[1], device=device)
        history["train_loss"].append(total_loss / n)
        history["train_acc"].append(correct / n)
        history["test_loss"].append(test_loss)
        history["test_acc"].append(test_acc)
        bar.set_postfix(loss=f"{total_loss / n:.3f}", test_acc=f"{test_acc:.3f}")
    return history


def plot_history(history: dict[str, list[float]], title: str | None = None):
    """Loss and accuracy curves of a :func:`train` history (train and test); returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.5))
    epochs = range(1, len(history["train_loss"]) + 1)
    for split in ("train", "test"):
        ax_loss.plot(epochs, history[f"{split}_loss"], marker="o", label=split)
        ax_acc.plot(epochs, history[f"{split}_acc"], marker="o", label=split)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
