"""Part 1.2.1 — a one-hidden-layer MLP with a hand-written forward and backward pass.

Network (batch-first, B samples per batch):
    htilde = X Wh^T + bh        (B, nh)
    h      = tanh(htilde)       (B, nh)
    ytilde = h Wy^T + by        (B, ny)
    yhat   = SoftMax(ytilde)    (B, ny)   (row-wise)
Loss: mean over the batch of the cross-entropy  l = -sum_i y_i log yhat_i.

Rule for this file: tensor algebra only, gradients written by hand. No automatic differentiation here:
no call to a tensor's backward method, nothing from torch's autograd module, no gradient-tracking flag
on tensors (the grader checks the source of this file for each of them).
"""

from __future__ import annotations

import torch

#: Standard deviation of the normal initialisation of every parameter.
INIT_STD = 0.3


def init_params(nx: int, nh: int, ny: int,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Random parameters, every entry drawn from N(0, 0.3^2) (float32).

    Returns a dict with ``Wh`` (nh, nx), ``bh`` (nh,), ``Wy`` (ny, nh), ``by`` (ny,).
    ``generator``: a ``torch.Generator`` to draw from (``None``: torch's global generator).
    """
    # BEGIN SOLUTION: one standard normal draw per tensor, of its shape, from generator, scaled to INIT_STD
    return {
        "Wh": torch.randn(nh, nx, generator=generator) * INIT_STD,
        "bh": torch.randn(nh, generator=generator) * INIT_STD,
        "Wy": torch.randn(ny, nh, generator=generator) * INIT_STD,
        "by": torch.randn(ny, generator=generator) * INIT_STD,
    }
    # END SOLUTION


def softmax(Z: torch.Tensor) -> torch.Tensor:
    """Row-wise SoftMax, numerically stable (finite even for logits of magnitude 1e3).

    Z: (B, n) logits.  Returns (B, n), rows positive and summing to 1.
    """
    # BEGIN SOLUTION: subtract each row's max before torch.exp, then divide by the row sums
    E = torch.exp(Z - Z.max(dim=1, keepdim=True).values)
    return E / E.sum(dim=1, keepdim=True)
    # END SOLUTION


def forward(params: dict[str, torch.Tensor], X: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Forward pass.

    X: (B, nx).  Returns ``(Yhat, outputs)``: Yhat (B, ny) probabilities, and ``outputs`` a dict with keys
    ``X`` (B, nx), ``htilde`` (B, nh), ``h`` (B, nh), ``ytilde`` (B, ny), ``yhat`` (B, ny) for the backward.
    """
    # BEGIN SOLUTION: the network of the module docstring layer by layer (mind the weights' shapes); keep each step in outputs
    htilde = X @ params["Wh"].T + params["bh"]
    h = torch.tanh(htilde)
    ytilde = h @ params["Wy"].T + params["by"]
    yhat = softmax(ytilde)
    outputs = {"X": X, "htilde": htilde, "h": h, "ytilde": ytilde, "yhat": yhat}
    return yhat, outputs
    # END SOLUTION


def loss_accuracy(Yhat: torch.Tensor, Y: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Mean cross-entropy and accuracy of a batch.

    Yhat: (B, ny) predicted probabilities; Y: (B, ny) one-hot ground truth.
    Returns ``(L, acc)``: L a 0-dim tensor, the mean over the batch of -sum_i Y_i log Yhat_i (finite even
    when some Yhat_i is 0); acc a float in [0, 1], the fraction of rows whose most probable class
    is the true one.
    """
    # BEGIN SOLUTION: keep the result finite where a probability is 0; a row is right when its largest probability is at the true class
    L = -(Y * torch.log(Yhat.clamp_min(1e-12))).sum(dim=1).mean()
    acc = (Yhat.argmax(dim=1) == Y.argmax(dim=1)).float().mean().item()
    return L, acc
    # END SOLUTION


def backward(params: dict[str, torch.Tensor], outputs: dict[str, torch.Tensor],
             Y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Gradients of the MEAN loss over the batch (the L of :func:`loss_accuracy`) w.r.t. the parameters.

    outputs: the dict returned by :func:`forward`; Y: (B, ny) one-hot.
    Returns a dict ``Wh`` (nh, nx), ``bh`` (nh,), ``Wy`` (ny, nh), ``by`` (ny,) with the parameters' shapes.
    """
    # BEGIN SOLUTION: start from the gradient w.r.t. ytilde (question 15, then the mean over the batch), chain back (questions 16-17)
    batch = Y.shape[0]
    grad_ytilde = (outputs["yhat"] - Y) / batch
    grad_htilde = (grad_ytilde @ params["Wy"]) * (1 - outputs["h"] ** 2)
    return {
        "Wy": grad_ytilde.T @ outputs["h"],
        "by": grad_ytilde.sum(dim=0),
        "Wh": grad_htilde.T @ outputs["X"],
        "bh": grad_htilde.sum(dim=0),
    }
    # END SOLUTION


def sgd(params: dict[str, torch.Tensor], grads: dict[str, torch.Tensor],
        eta: float) -> dict[str, torch.Tensor]:
    """One gradient-descent step of size ``eta`` on every tensor of ``params``, in place (the caller's
    tensors change); returns ``params``."""
    # BEGIN SOLUTION: move each tensor against its gradient, in place
    for name in params:
        params[name] -= eta * grads[name]
    return params
    # END SOLUTION
