"""Probes of tp3_vit: run in the worker, build the student's modules, load the weights the grader sends
(by the attribute names of the handout), run them and return plain data."""

from __future__ import annotations

import inspect
import os

import numpy as np
import torch
from torch import nn

from autograder.sandbox.probing import (
    StudentError,
    call,
    describe_class,
    learning_curves,
    optimizer_trajectory,
    student_module,
    summarize_model,
    tensor,
)

IMG = 28


def _build(module: str, name: str, *args, **kwargs) -> nn.Module:
    built = call(module, name, *args, **kwargs)
    if not isinstance(built, nn.Module):
        raise StudentError(f"{module}.{name}(...) should build a torch.nn.Module, got {type(built).__name__}")
    return built


def _load(model: nn.Module, state: dict, where: str, strict: bool = True) -> nn.Module:
    """``model`` in float64 and eval mode with the grader's weights loaded by name (all of ``state``;
    with ``strict`` the module may hold nothing else)."""
    model = model.double().eval()
    have = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = [f"no parameter named {k}" for k in state if k not in have]
    problems += [f"{k} has shape {have[k]}, expected {tuple(np.shape(v))}" for k, v in state.items()
                 if k in have and have[k] != tuple(np.shape(v))]
    if strict:
        problems += [f"unexpected parameter {k}" for k in have if k not in state]
    if problems:
        more = f" (and {len(problems) - 4} more)" if len(problems) > 4 else ""
        raise StudentError(f"{where}: the grader copies weights into your module by the handout's attribute names "
                           f"and sizes, and {'; '.join(problems[:4])}{more}")
    model.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=strict)
    return model


def _run(model: nn.Module, x: np.ndarray, where: str, ndim: int, **kwargs) -> np.ndarray:
    with torch.no_grad():
        return tensor(model(torch.tensor(x), **kwargs), where, ndim=ndim)


def _attribute(model: nn.Module, name: str, where: str):
    if not hasattr(model, name):
        raise StudentError(f"{where} has no attribute {name!r} (the handout's names are needed by the grader)")
    return getattr(model, name)


# ---- attention.py -----------------------------------------------------------------------------------

def attention_forward(embed_dim: int, num_heads: int, state: dict, x: np.ndarray):
    """``SelfAttention(embed_dim, num_heads)`` with ``state`` on ``x`` (B, N, D): ``out`` without and
    ``(out_with_map, attn)`` with ``return_attention=True``."""
    where = "attention.SelfAttention"
    model = _load(_build("attention", "SelfAttention", embed_dim, num_heads), state, where)
    out = _run(model, x, f"{where}.forward(x)", ndim=3)
    with torch.no_grad():
        both = model(torch.tensor(x), return_attention=True)
    if not isinstance(both, tuple) or len(both) != 2:
        raise StudentError(f"{where}.forward(x, return_attention=True) should return a tuple (out, attn), "
                           f"got {type(both).__name__}")
    return {"out": out, "out_with_map": tensor(both[0], f"{where}.forward(x, return_attention=True)[0]"),
            "attn": tensor(both[1], f"{where}.forward(x, return_attention=True)[1] (the attention map)")}


def attention_permuted(embed_dim: int, num_heads: int, state: dict, x: np.ndarray, order: np.ndarray):
    """``SelfAttention`` outputs for ``x`` and for ``x`` with its tokens reordered by ``order``."""
    where = "attention.SelfAttention"
    model = _load(_build("attention", "SelfAttention", embed_dim, num_heads), state, where)
    return {"out": _run(model, x, f"{where}.forward(x)", ndim=3),
            "permuted": _run(model, np.ascontiguousarray(x[:, order]), f"{where}.forward(x)", ndim=3)}


# ---- blocks.py --------------------------------------------------------------------------------------

def mlp_forward(in_features: int, hidden: int, out_features: int, state: dict, x: np.ndarray):
    model = _load(_build("blocks", "MLP", in_features, hidden, out_features), state, "blocks.MLP")
    return _run(model, x, "blocks.MLP.forward(x)", ndim=3)


class _StandInMix(nn.Module):
    """Replaces ``Block.attn``: ``M @ tanh(x @ W)`` (mixes the tokens, like attention does)."""

    def __init__(self, M: np.ndarray, W: np.ndarray):
        super().__init__()
        self.register_buffer("M", torch.tensor(M))
        self.register_buffer("W", torch.tensor(W))

    def forward(self, x, *args, **kwargs):
        return self.M @ torch.tanh(x @ self.W)


class _StandInPointwise(nn.Module):
    """Replaces ``Block.mlp``: ``sin(x @ W)`` (token-wise, like the MLP)."""

    def __init__(self, W: np.ndarray):
        super().__init__()
        self.register_buffer("W", torch.tensor(W))

    def forward(self, x, *args, **kwargs):
        return torch.sin(x @ self.W)


def block_forward(embed_dim: int, num_heads: int, mlp_ratio: float, state: dict, x: np.ndarray,
                  stand_ins: dict | None = None):
    """``Block(embed_dim, num_heads, mlp_ratio)`` on ``x``: with every weight of ``state`` loaded by name,
    or (``stand_ins``) with the norms of ``state`` loaded and ``attn`` / ``mlp`` replaced by the grader's
    own sub-layers, which isolates the block's wiring (pre-norm, residuals) from attention and MLP."""
    where = "blocks.Block"
    model = _build("blocks", "Block", embed_dim, num_heads, mlp_ratio)
    if stand_ins is not None:
        for name in ("norm1", "norm2", "attn", "mlp"):
            _attribute(model, name, where)
        model.attn = _StandInMix(stand_ins["M"], stand_ins["Wa"])
        model.mlp = _StandInPointwise(stand_ins["Wm"])
        model = _load(model, state, where, strict=False)
    else:
        model = _load(model, state, where)
    return _run(model, x, f"{where}.forward(x)", ndim=3)


# ---- vit.py -----------------------------------------------------------------------------------------

def _vit(config: dict) -> nn.Module:
    return _build("vit", "ViT", **config)


def patch_embed_forward(patch_size: int, embed_dim: int, state: dict, x: np.ndarray):
    where = "vit.PatchEmbed"
    model = _build("vit", "PatchEmbed", IMG, patch_size, 1, embed_dim)
    num_patches = getattr(model, "num_patches", None)
    model = _load(model, state, where)
    return {"out": _run(model, x, f"{where}.forward(x)", ndim=3),
            "num_patches": int(num_patches) if isinstance(num_patches, (int, np.integer)) else repr(num_patches)}


def vit_stage_shapes(config: dict, batch: int):
    """Shapes seen at each stage of the student's ViT for a (batch, 1, 28, 28) input: output of
    ``patch_embed``, tokens entering the first block, output of each block and of ``norm``, input and
    output of ``head``, final logits."""
    where = "vit.ViT"
    model = _vit(config).eval()
    shapes: dict[str, list | None] = {}

    def shape_of(value):
        if isinstance(value, tuple) and value:
            value = value[0]
        return list(value.shape) if isinstance(value, torch.Tensor) else None

    hooks = []
    patch_embed = _attribute(model, "patch_embed", where)
    blocks = _attribute(model, "blocks", where)
    norm, head = _attribute(model, "norm", where), _attribute(model, "head", where)
    if not isinstance(blocks, (nn.ModuleList, nn.Sequential)) or len(blocks) == 0:
        raise StudentError(f"{where}.blocks should be an nn.ModuleList of Block, got {type(blocks).__name__}")
    hooks.append(patch_embed.register_forward_hook(lambda m, i, o: shapes.__setitem__("patch_embed", shape_of(o))))
    hooks.append(blocks[0].register_forward_pre_hook(lambda m, i: shapes.__setitem__("tokens", shape_of(i))))
    for index, block in enumerate(blocks):
        hooks.append(block.register_forward_hook(
            lambda m, i, o, index=index: shapes.__setitem__(f"blocks.{index}", shape_of(o))))
    hooks.append(norm.register_forward_hook(lambda m, i, o: shapes.__setitem__("norm", shape_of(o))))
    hooks.append(head.register_forward_hook(lambda m, i, o: shapes.update(
        {"head input": shape_of(i), "head": shape_of(o)})))
    try:
        with torch.no_grad():
            logits = model(torch.randn(batch, 1, IMG, IMG))
    finally:
        for hook in hooks:
            hook.remove()
    shapes["logits"] = list(tensor(logits, f"{where}.forward(x)").shape)
    shapes["nb_blocks"] = len(blocks)
    return shapes


def vit_forward(config: dict, state: dict, x: np.ndarray):
    model = _load(_vit(config), state, "vit.ViT")
    return _run(model, x, "vit.ViT.forward(x)", ndim=2)


def vit_summaries(configs: list[dict], batch: int):
    return [summarize_model(_vit(config), (batch, 1, IMG, IMG)) for config in configs]


def token_parameters(config: dict, x: np.ndarray, labels: np.ndarray):
    """Type, shape and registration of ``cls_token`` / ``pos_embed`` and the norm of their gradients after
    one backward pass of the cross-entropy."""
    where = "vit.ViT"
    model = _vit(config).train()
    registered = {id(p): name for name, p in model.named_parameters()}
    report = {}
    for name in ("cls_token", "pos_embed"):
        value = _attribute(model, name, where)
        report[name] = {"classes": describe_class(value), "registered_as": registered.get(id(value)),
                        "shape": list(value.shape) if isinstance(value, torch.Tensor) else None}
    logits = model(torch.tensor(x))
    tensor(logits, f"{where}.forward(x)", ndim=2)
    model.zero_grad()
    torch.nn.functional.cross_entropy(logits, torch.tensor(labels)).backward()
    for name in ("cls_token", "pos_embed"):
        grad = getattr(model, name).grad
        report[name]["grad_norm"] = None if grad is None else float(grad.detach().double().norm())
    return report


def vit_patch_permutation(config: dict, pos_embed: np.ndarray, x: np.ndarray, x_permuted: np.ndarray):
    """Logits of images and of the same images with their patches moved, with the student's ViT (random
    init from the check's seed) and ``pos_embed`` set to the grader's values, then set to zero."""
    where = "vit.ViT"
    model = _vit(config).double().eval()
    pos = _attribute(model, "pos_embed", where)
    if not isinstance(pos, torch.Tensor) or tuple(pos.shape) != pos_embed.shape:
        raise StudentError(f"{where}.pos_embed should be a tensor of shape {pos_embed.shape}")
    out = {}
    for label, values in (("with", pos_embed), ("zero", np.zeros_like(pos_embed))):
        with torch.no_grad():
            pos.copy_(torch.tensor(values))
        out[label] = _run(model, x, f"{where}.forward(x)", ndim=2)
        out[f"{label}_permuted"] = _run(model, x_permuted, f"{where}.forward(x)", ndim=2)
    return out


# ---- timm_vit.py ------------------------------------------------------------------------------------

def _offline() -> None:
    """No downloads from the worker: a pretrained=True fails at once instead of fetching weights."""
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")


def timm_models(configs: list[dict], batch: int):
    """For each keyword set: the model's classes, output shape for a (batch, in_chans, 28, 28) input,
    parameter count, and the sum of each parameter of two builds under different seeds (random
    initialisation, not loaded weights, when they differ)."""
    _offline()
    reports = []
    for config in configs:
        where = f"timm_vit.make_timm_vit({', '.join(f'{k}={v}' for k, v in config.items())})"
        builds = []
        for seed in (0, 1):
            torch.manual_seed(seed)
            builds.append(_build("timm_vit", "make_timm_vit", **config))
        model = builds[0].eval()
        try:
            with torch.no_grad():
                logits = model(torch.randn(batch, config.get("in_chans", 1), IMG, IMG))
        except Exception as error:  # noqa: BLE001 - the failure inside timm is the student's feedback
            raise StudentError(f"{where}: the model fails on a ({batch}, 1, 28, 28) batch: "
                               f"{type(error).__name__}: {str(error)[:300]}") from None
        reports.append({"classes": describe_class(model),
                        "output_shape": list(tensor(logits, f"{where}(x)").shape),
                        "total_params": sum(p.numel() for p in model.parameters()),
                        "weight_sums": [[float(p.detach().double().sum()) for p in build.parameters()]
                                        for build in builds]})
    return reports


def timm_forward(config: dict, x: np.ndarray):
    """``timm_vit.make_timm_vit(**config)`` in eval mode: its state dict and its logits on ``x``."""
    _offline()
    model = _build("timm_vit", "make_timm_vit", **config).double().eval()
    with torch.no_grad():
        logits = model(torch.tensor(x))
    return {"state": {k: tensor(v, k) for k, v in model.state_dict().items()},
            "logits": tensor(logits, "timm_vit.make_timm_vit(...)(x)")}


def default_errors(shapes: list[list[int]]):
    """``timm_vit.default_vit_error(shape)`` for each shape, as plain strings (or a type name)."""
    _offline()
    out = []
    for shape in shapes:
        value = call("timm_vit", "default_vit_error", tuple(shape))
        out.append({"classes": describe_class(value), "value": value if isinstance(value, str) else None})
    return out


# ---- train.py ---------------------------------------------------------------------------------------

def _tiny_classifier(in_features: int, classes: int) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(in_features, classes))


def train_steps(state: dict, images: np.ndarray, labels: np.ndarray, lr: float, steps: int):
    """``train.train_step`` ``steps`` times on the same batch with the grader's Flatten → Linear model
    (float64, weights from ``state``) and plain SGD; returned values and weights after each step."""
    where = "train.train_step"
    model = _tiny_classifier(int(np.prod(images.shape[1:])), int(state["1.weight"].shape[0]))
    model = _load(model, state, "the grader's model")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    reports = []
    for _ in range(steps):
        result = call("train", "train_step", model, optimizer, torch.tensor(images), torch.tensor(labels))
        if not isinstance(result, tuple) or len(result) != 2:
            raise StudentError(f"{where} should return a tuple (loss, correct), got {type(result).__name__}")
        loss, correct = result
        if isinstance(loss, torch.Tensor) and loss.numel() == 1:
            loss = loss.item()
        if isinstance(correct, torch.Tensor) and correct.numel() == 1:
            correct = correct.item()
        reports.append({"loss": loss if isinstance(loss, (int, float)) else repr(type(loss).__name__),
                        "correct": correct if isinstance(correct, (int, float)) else repr(type(correct).__name__),
                        "state": {k: tensor(v, k) for k, v in model.state_dict().items()}})
    return reports


def train_optimizer(images: np.ndarray, labels: np.ndarray, lr: float, start: dict, grads: dict, steps: int = 3):
    """The optimizer ``train.train(..., lr=lr)`` hands to ``train_step`` (a spy on one epoch of one batch of the
    grader's Flatten → Linear model), rebuilt with its class and settings on float64 parameters ``start``:
    their values after each of ``steps`` steps with the gradients fixed to ``grads`` (plain data)."""
    module = student_module("train")
    seen, train_step = [], getattr(module, "train_step", None)

    def spied(model, optimizer, *args, **kwargs):
        seen.append(optimizer)
        return train_step(model, optimizer, *args, **kwargs)

    module.train_step = spied
    try:
        call("train", "train", _tiny_classifier(IMG * IMG, 10), (torch.tensor(images), torch.tensor(labels)),
             (torch.tensor(images), torch.tensor(labels)), epochs=1, batch_size=len(labels), lr=lr, device="cpu",
             seed=0, quiet=True)
    finally:
        module.train_step = train_step
    if not seen or not isinstance(seen[0], torch.optim.Optimizer):
        raise StudentError("train.train should hand a torch.optim optimizer to train_step(model, optimizer, images, "
                           "labels) for every batch")
    params = {name: nn.Parameter(torch.tensor(value)) for name, value in start.items()}
    accepted = inspect.signature(type(seen[0])).parameters
    try:
        rebuilt = type(seen[0])(list(params.values()), **{k: v for k, v in seen[0].defaults.items() if k in accepted})
    except (TypeError, ValueError) as error:
        raise StudentError(f"train.train's optimizer ({type(seen[0]).__name__}) cannot be rebuilt from its settings "
                           f"({error}); use a torch.optim optimizer") from None
    return optimizer_trajectory(rebuilt, params, grads, steps)


def train_batches(images: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int):
    """The (images, labels) of every call of ``train_step`` during ``train.train`` on the grader's Flatten →
    Linear model (a spy): images (B, 784) as the student prepared them, labels (B,)."""
    module = student_module("train")
    seen, train_step = [], getattr(module, "train_step", None)

    def spied(model, optimizer, batch_images, batch_labels, *args, **kwargs):
        seen.append({"images": tensor(batch_images, "the images train.train hands to train_step").reshape(
            len(batch_images), -1), "labels": tensor(batch_labels, "the labels train.train hands to train_step")})
        return train_step(model, optimizer, batch_images, batch_labels, *args, **kwargs)

    module.train_step = spied
    try:
        call("train", "train", _tiny_classifier(IMG * IMG, 10), (torch.tensor(images), torch.tensor(labels)),
             (torch.tensor(images), torch.tensor(labels)), epochs=epochs, batch_size=batch_size, lr=1e-3,
             device="cpu", seed=0, quiet=True)
    finally:
        module.train_step = train_step
    return seen


#: what train.train's history holds, one value per epoch
HISTORY = ("train_loss", "train_acc", "test_loss", "test_acc")


def _trained(model: nn.Module, train_X, train_Y, monitor_X, monitor_Y, budget: dict, train_seed: int) -> dict:
    """The student's ``train.train`` on ``model`` (the monitor split as its test data, ``budget``: epochs,
    batch_size, lr, device): its history, checked."""
    history = call("train", "train", model, (torch.tensor(train_X), torch.tensor(train_Y)),
                   (torch.tensor(monitor_X), torch.tensor(monitor_Y)), epochs=budget["epochs"],
                   batch_size=budget["batch_size"], lr=budget["lr"], device=budget.get("device", "cpu"),
                   seed=train_seed, quiet=True)
    return learning_curves(history, "train.train", HISTORY, budget["epochs"])


def train_tiny(train_X, train_Y, monitor_X, monitor_Y, budget: dict, train_seed: int, state: dict):
    """``train.train`` on the grader's Flatten → Linear model (float32, weights from ``state``):
    final weights and history."""
    model = _tiny_classifier(IMG * IMG, 10)
    model.load_state_dict({k: torch.tensor(v, dtype=torch.float32) for k, v in state.items()})
    history = _trained(model, train_X, train_Y, monitor_X, monitor_Y, {**budget, "device": "cpu"}, train_seed)
    return {"state": {k: tensor(v, k) for k, v in model.state_dict().items()}, "history": history}


def train(train_X, train_Y, monitor_X, monitor_Y, budget: dict, train_seed: int, model: dict):
    """Build the student's ``vit.ViT(**model)`` and train it with the student's ``train.train`` on the given
    split (uint8 images, monitor split for the history); return its trained ``state_dict`` and the history
    (the grader predicts the held-out images, which never reach the worker)."""
    torch.manual_seed(train_seed)
    vit = _vit(model)
    history = _trained(vit, train_X, train_Y, monitor_X, monitor_Y, budget, train_seed)
    return {"state": {str(k): tensor(v, f"vit.ViT's {k}") for k, v in vit.state_dict().items()}, "history": history}


def finetune_model(batch: int):
    """The student's ``timm_vit.make_finetune_vit()`` (random init): output shape for a (batch, 1, 28, 28)
    input, parameter count and the shapes of its patch and position embeddings."""
    _offline()
    where = "timm_vit.make_finetune_vit()"
    model = _build("timm_vit", "make_finetune_vit").eval()
    try:
        logits = _run(model, np.zeros((batch, 1, IMG, IMG), dtype=np.float32), f"{where}(x)", ndim=2)
    except Exception as error:  # noqa: BLE001 - the failure inside timm is the student's feedback
        raise StudentError(f"{where}: the model fails on a ({batch}, 1, 28, 28) batch: "
                           f"{type(error).__name__}: {str(error)[:300]}") from None
    shapes = {}
    for name, attribute in (("patch_embed", "patch_embed.proj.weight"), ("pos_embed", "pos_embed")):
        value = model.state_dict().get(attribute)
        shapes[name] = list(value.shape) if isinstance(value, torch.Tensor) else None
    return {"output_shape": list(logits.shape), "total_params": sum(p.numel() for p in model.parameters()), **shapes}


def finetune(train_X, train_Y, monitor_X, monitor_Y, budget: dict, train_seed: int, model_name: str,
             state: dict | None):
    """Questions 8-b/c: the student's ``timm_vit.make_finetune_vit(pretrained=False, model_name=model_name)`` holding ``state`` when
    given (the ImageNet weights, downloaded by the grader: the worker has no network), trained with the
    student's ``train.train``; returns its trained ``state_dict`` and the history."""
    _offline()
    where = f"timm_vit.make_finetune_vit(pretrained=False, model_name={model_name!r})"
    torch.manual_seed(train_seed)
    model = _build("timm_vit", "make_finetune_vit", pretrained=False, model_name=model_name)
    if state is not None:
        own = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        wrong = sorted(set(own) ^ set(state)) + [k for k in state if k in own and own[k] != tuple(np.shape(state[k]))]
        if wrong:
            raise StudentError(f"{where}: the ImageNet weights adapted by timm do not fit the model ({', '.join(wrong[:4])}): "
                               "build it with the same timm.create_model settings as with pretrained=True")
        model.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in state.items()})
    history = _trained(model, train_X, train_Y, monitor_X, monitor_Y, budget, train_seed)
    return {"state": {str(k): tensor(v, f"{where}'s {k}") for k, v in model.state_dict().items()}, "history": history}
