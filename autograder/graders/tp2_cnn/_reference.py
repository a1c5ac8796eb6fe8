"""Reference computations of tp2_cnn (grader side): reference models, epochs, brute-force conv arithmetic."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from autograder import reference
from autograder.graders.tp2_cnn.probes import epoch_model
from autograder.judges.models import layer_shapes
from autograder.sandbox.probing import summarize_model

models = reference.module("tp2_cnn", "models")
train = reference.module("tp2_cnn", "train")

# --- models -----------------------------------------------------------------------------------------
def summary(kind: str, kwargs: dict, input_shape: tuple[int, ...], train_mode: bool = False) -> dict:
    """summarize_model of the reference ``models.<kind>(**kwargs)`` (kind: CifarNet or LeNet5)."""
    torch.manual_seed(0)
    return summarize_model(getattr(models, kind)(**kwargs), input_shape, train=train_mode)


def shapes(kind: str, kwargs: dict, input_shape: tuple[int, ...]) -> dict:
    """:func:`summary` without the parameter counts (public checks must not carry graded answers)."""
    return layer_shapes(summary(kind, kwargs, input_shape))


#: The handout's parameter counts of CifarNet (a graded answer: never in a public check).
HANDOUT_PARAMS = {"default": 1_191_170, "batch_norm": 1_191_490}


def random_state(rng: np.random.Generator, **kwargs) -> dict[str, np.ndarray]:
    """A state dict of the reference ``CifarNet(**kwargs)``: default init drawn from ``rng``, and with
    BatchNorm, random affine parameters and running statistics (so train and eval modes differ)."""
    torch.manual_seed(int(rng.integers(2**31)))
    return _randomised(models.CifarNet(**kwargs), rng)


def epoch_state(rng: np.random.Generator, **kwargs) -> dict[str, np.ndarray]:
    """A state dict of the epoch checks' small network (``probes.epoch_model(**kwargs)``), drawn as
    :func:`random_state` draws CifarNet's."""
    torch.manual_seed(int(rng.integers(2**31)))
    return _randomised(epoch_model(**kwargs), rng)


def _randomised(model: nn.Module, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``model``'s state with random BatchNorm affine parameters and running statistics."""
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    for name, value in state.items():
        if name.endswith("running_mean"):
            state[name] = rng.normal(0, 0.2, value.shape).astype(np.float32)
        elif name.endswith("running_var"):
            state[name] = rng.uniform(0.5, 2.0, value.shape).astype(np.float32)
        elif name.endswith("num_batches_tracked"):
            state[name] = np.array(int(rng.integers(10, 1000)), dtype=np.int64)
        elif name.split(".")[-2].startswith("bn") and name.endswith("weight"):
            state[name] = rng.uniform(0.5, 1.5, value.shape).astype(np.float32)
        elif name.split(".")[-2].startswith("bn") and name.endswith("bias"):
            state[name] = rng.normal(0, 0.1, value.shape).astype(np.float32)
    return state


def model_with(state: dict[str, np.ndarray], **kwargs) -> nn.Module:
    model = models.CifarNet(**kwargs)
    model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    return model


def batches(rng: np.random.Generator, count: int, size: int, side: int = 32) -> dict[str, np.ndarray]:
    """``count`` batches of ``size`` random images (3, side, side) and labels in 0..9, stacked."""
    return {"X": rng.normal(0, 1, (count, size, 3, side, side)).astype(np.float32),
            "Y": rng.integers(0, 10, (count, size)).astype(np.int64)}


def run_epoch(state: dict, data: dict, model_kwargs: dict, lr: float | None = None,
              momentum: float = 0.0, n: int | None = None) -> dict:
    """The reference ``train.epoch`` on ``data``'s batches (its first ``n`` images when given: a smaller last
    batch) with ``probes.epoch_model(**model_kwargs)`` holding ``state``; evaluation when ``lr`` is None,
    else one training epoch with ``torch.optim.SGD(lr, momentum)``. Returns loss, accuracy and the state
    after."""
    model = epoch_model(**model_kwargs)
    model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    optimizer = None if lr is None else torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    size = data["X"].shape[1]
    X, Y = data["X"].reshape(-1, *data["X"].shape[2:])[:n], data["Y"].reshape(-1)[:n]
    loader = [(torch.tensor(X[i:i + size]), torch.tensor(Y[i:i + size])) for i in range(0, len(Y), size)]
    loss, acc = train.epoch(loader, model, nn.CrossEntropyLoss(), optimizer)
    return {"loss": loss, "acc": acc, "state": {k: v.detach().numpy() for k, v in model.state_dict().items()}}


def main_state(state: dict, train_data: dict, test_data: dict, epochs: int, lr: float, momentum: float,
               gamma: float | None) -> dict[str, np.ndarray]:
    """The weights of ``probes.epoch_model()`` holding ``state`` after the reference ``train.main`` on
    ``train_data``'s and ``test_data``'s batches (as :func:`batches` stacks them)."""
    model = epoch_model()
    model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    loaders = [[(torch.tensor(x), torch.tensor(y)) for x, y in zip(data["X"], data["Y"])]
               for data in (train_data, test_data)]
    train.main(*loaders, model, epochs, lr, momentum=momentum, gamma=gamma, quiet=True)
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


def eval_logits(state: dict, X: np.ndarray, **model_kwargs) -> np.ndarray:
    model = model_with(state, **model_kwargs).eval()
    with torch.no_grad():
        return model(torch.tensor(X)).numpy()


# --- conv arithmetic by brute force ------------------------------------------------------------------
def conv_output_size(x: int, k: int, p: int, s: int) -> int:
    """Width of a real ``nn.Conv2d`` output."""
    conv = nn.Conv2d(1, 1, k, stride=s, padding=p, bias=False)
    with torch.no_grad():
        return int(conv(torch.zeros(1, 1, x, x)).shape[-1])


def conv_weights(k: int, z: int, m: int, bias: bool) -> int:
    return sum(p.numel() for p in nn.Conv2d(z, m, k, bias=bias).parameters())


def fc_equivalent_weights(x: int, y: int, z: int, x_out: int, y_out: int, bias: bool) -> int:
    return sum(p.numel() for p in nn.Linear(x * y * z, x_out * y_out, bias=bias).parameters())


def unshared_conv_weights(C: int, H: int, W: int, Q: int, k: int) -> int:
    """One ``k·k·C`` kernel per filter and per output position (positions counted with ``unfold``)."""
    patches = nn.functional.unfold(torch.zeros(1, C, H, W), k, padding=(k - 1) // 2)
    return Q * patches.shape[-1] * patches.shape[1]


def receptive_field(layers: list[tuple[int, int]], size: int = 1024) -> int:
    """Empirical receptive field: extent of the non-zero input gradient of the first output pixel of a
    stack of 1-d convolutions with positive weights (kernel, stride) and no padding."""
    x = torch.zeros(1, 1, size, dtype=torch.float64, requires_grad=True)
    out = x
    for kernel, stride in layers:
        conv = nn.Conv1d(1, 1, kernel, stride=stride, bias=False).double()
        nn.init.constant_(conv.weight, 1.0)
        out = conv(out)
    out[0, 0, 0].backward()
    touched = np.flatnonzero(x.grad[0, 0].numpy())
    return int(touched.max() - touched.min() + 1)


# --- CIFAR-10 (gpu tier) -----------------------------------------------------------------------------
