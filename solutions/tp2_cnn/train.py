"""Training loop of lab 1-cd (questions 13-18 and 26-28), adapted from the course's ``base.py``."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from tqdm.auto import tqdm


def epoch(loader: Iterable, model: nn.Module, criterion: nn.Module,
          optimizer: torch.optim.Optimizer | None = None, device: str | torch.device = "cpu") -> tuple[float, float]:
    """Run ``model`` once over ``loader``; train when an optimizer is given, evaluate otherwise.

    loader: yields ``(inputs, targets)`` with ``inputs`` ``(B, C, H, W)`` float and ``targets`` ``(B,)`` long.
    criterion: a mean-reduced loss on ``(B, num_classes)`` logits, e.g. ``nn.CrossEntropyLoss()``.

    With an optimizer: ``model.train()``, and for every batch zero the gradients, forward, backward and
    one optimizer step. Without: ``model.eval()`` under ``torch.no_grad()``, no backward and no step (the
    weights and the BatchNorm running statistics are left unchanged).
    Returns ``(mean loss per example, accuracy in [0, 1])`` over the whole epoch.
    """
    # BEGIN SOLUTION: train() + zero_grad/backward/step with an optimizer; eval() + no_grad otherwise
    training = optimizer is not None
    model.train(training)
    loss_sum, n_correct, n_seen = 0.0, 0, 0
    with torch.set_grad_enabled(training):
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            logits = model(inputs)
            loss = criterion(logits, targets)
            if training:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            batch = targets.shape[0]
            loss_sum += loss.item() * batch
            n_correct += (logits.argmax(dim=1) == targets).sum().item()
            n_seen += batch
    return loss_sum / max(n_seen, 1), n_correct / max(n_seen, 1)
    # END SOLUTION


def make_optimizer(model: nn.Module, lr: float, momentum: float = 0.0) -> torch.optim.Optimizer:
    """Stochastic gradient descent on all the weights of ``model`` with learning rate ``lr`` and the given
    ``momentum`` (0.9 in the "optimisation" improvement, 3.3)."""
    # BEGIN SOLUTION: the optimizer of torch.optim for stochastic gradient descent
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    # END SOLUTION


def make_scheduler(optimizer: torch.optim.Optimizer,
                   gamma: float = 0.95) -> torch.optim.lr_scheduler.LRScheduler:
    """Exponential learning-rate decay: the rate is multiplied by ``gamma`` at each ``step()``, called once
    per epoch (question 26)."""
    # BEGIN SOLUTION: one of torch's learning-rate schedulers (their documentation lists them)
    return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=gamma)
    # END SOLUTION


class StepLog:
    """The training criterion, watched: at each optimizer step (:meth:`log`, hooked to the optimizer by
    ``main``) it logs the loss and accuracy of the batch the step's gradient came from, scored before the
    update. Scorings without a gradient (e.g. a detached second call for statistics) are not steps."""

    def __init__(self, criterion: nn.Module) -> None:
        self.criterion = criterion
        self.loss: list[float] = []
        self.acc: list[float] = []
        self._scored: tuple[float, float] | None = None

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """logits (B, num_classes), targets (B,): the criterion's loss."""
        loss = self.criterion(logits, targets)
        if logits.requires_grad:
            self._scored = float(loss.detach()), float((logits.detach().argmax(dim=1) == targets).float().mean())
        return loss

    def log(self, *_) -> None:
        """Optimizer step pre-hook: log the batch this step updates for."""
        if self._scored is not None:
            self.loss.append(self._scored[0])
            self.acc.append(self._scored[1])
            self._scored = None


def main(train_loader: Iterable, test_loader: Iterable, model: nn.Module, epochs: int, lr: float,
         momentum: float = 0.0, gamma: float | None = None, device: str | torch.device = "cpu",
         quiet: bool = False, seed: int = 0) -> dict:
    """Train ``model`` for ``epochs`` epochs with cross-entropy and SGD, evaluating before the first update
    and after each epoch.

    ``momentum`` goes to :func:`make_optimizer`; with ``gamma`` set, :func:`make_scheduler` decays the
    learning rate once per epoch. ``seed`` seeds torch (dropout masks, random crops and flips).
    Returns the history: ``"train_loss", "train_acc", "test_loss", "test_acc"``, one float per epoch
    (accuracies in [0, 1]); ``"start"``: ``{"test_loss", "test_acc"}`` of the model before any update;
    ``"steps"``: ``{"loss", "acc"}``, one float per optimizer step, the training batch's loss and accuracy
    just before its update (the first step shows the training error at the start). A tqdm bar shows
    progress unless ``quiet``.
    """
    torch.manual_seed(seed)
    model = model.to(device)
    criterion = nn.CrossEntropyLoss()
    steps = StepLog(criterion)
    optimizer = make_optimizer(model, lr, momentum)
    optimizer.register_step_pre_hook(steps.log)
    scheduler = make_scheduler(optimizer, gamma) if gamma is not None else None
    history: dict = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    start_loss, start_acc = epoch(test_loader, model, criterion, None, device)
    history["start"] = {"test_loss": float(start_loss), "test_acc": float(start_acc)}
    history["steps"] = {"loss": steps.loss, "acc": steps.acc}
    bar = tqdm(range(epochs), desc="epochs", disable=quiet, leave=False)
    for _ in bar:
        train_loss, train_acc = epoch(train_loader, model, steps, optimizer, device)
        test_loss, test_acc = epoch(test_loader, model, criterion, None, device)
        if scheduler is not None:
            scheduler.step()
        for key, value in zip(("train_loss", "train_acc", "test_loss", "test_acc"),
                              (train_loss, train_acc, test_loss, test_acc)):
            history[key].append(float(value))
        bar.set_postfix(train_acc=f"{train_acc:.3f}", test_acc=f"{test_acc:.3f}", loss=f"{train_loss:.3f}")
    return history
