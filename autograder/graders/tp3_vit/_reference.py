"""Reference computations of tp3_vit (grader side, float64): the solution modules with the same weights
that the probes load into the student's modules, plus a few known-wrong variants used to explain a
failure (missing scale, softmax over the wrong axis, post-norm block, no residual)."""

from __future__ import annotations

import numpy as np
import torch

from autograder import reference

attention = reference.module("tp3_vit", "attention")
blocks = reference.module("tp3_vit", "blocks")
vit = reference.module("tp3_vit", "vit")
train = reference.module("tp3_vit", "train")
timm_vit = reference.module("tp3_vit", "timm_vit")

IMG = 28
CLASSES = 10


def num_patches(patch_size: int) -> int:
    return (IMG // patch_size) ** 2


def _state(module: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().double().numpy().copy() for k, v in module.state_dict().items()}


def _load(module: torch.nn.Module, state: dict[str, np.ndarray]) -> torch.nn.Module:
    module = module.double().eval()
    module.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    return module


def _randomised(module: torch.nn.Module, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random float64 values for every entry of ``module``'s state dict: LayerNorm weights in [0.5, 1.5],
    other weights ~ N(0, 1/fan_in), biases ~ N(0, 0.2²), class token and positional embedding
    ~ N(0, 0.5²) (clearly non-zero, so that using them or not shows in the output)."""
    layer_norms = {f"{prefix}.weight" if prefix else "weight" for prefix, sub in module.named_modules()
                   if isinstance(sub, torch.nn.LayerNorm)}
    state = {}
    for name, value in module.state_dict().items():
        shape = tuple(value.shape)
        if name in layer_norms:
            state[name] = rng.uniform(0.5, 1.5, shape)
        elif name in ("cls_token", "pos_embed"):
            state[name] = rng.normal(0, 0.5, shape)
        elif name.endswith("weight") and len(shape) >= 2:
            state[name] = rng.normal(0, 1 / np.sqrt(np.prod(shape[1:])), shape)
        else:
            state[name] = rng.normal(0, 0.2, shape)
    return state


# ---- attention --------------------------------------------------------------------------------------

def attention_state(rng: np.random.Generator, embed_dim: int) -> dict[str, np.ndarray]:
    return _randomised(attention.SelfAttention(embed_dim, 1), rng)


def attention_forward(state: dict, x: np.ndarray, num_heads: int) -> tuple[np.ndarray, np.ndarray]:
    """(out (B, N, D), attn (B, H, N, N)) of the reference SelfAttention with ``state``."""
    module = _load(attention.SelfAttention(x.shape[-1], num_heads), state)
    with torch.no_grad():
        out, attn = module(torch.tensor(x), return_attention=True)
    return out.numpy(), attn.numpy()


def attention_variant(state: dict, x: np.ndarray, num_heads: int, scale: float | None = None,
                      axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """The same attention written functionally with another ``scale`` or softmax ``axis`` (to explain
    a mismatch)."""
    batch, tokens, dim = x.shape
    head_dim = dim // num_heads
    scale = head_dim ** -0.5 if scale is None else scale
    qkv = x @ state["qkv.weight"].T + state["qkv.bias"]
    qkv = qkv.reshape(batch, tokens, 3, num_heads, head_dim).transpose(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    scores = q @ k.transpose(0, 1, 3, 2) * scale
    scores = np.exp(scores - scores.max(axis=axis, keepdims=True))
    attn = scores / scores.sum(axis=axis, keepdims=True)
    out = (attn @ v).transpose(0, 2, 1, 3).reshape(batch, tokens, dim)
    return out @ state["proj.weight"].T + state["proj.bias"], attn


# ---- MLP and block ----------------------------------------------------------------------------------

def mlp_state(rng: np.random.Generator, in_features: int, hidden: int, out_features: int) -> dict:
    return _randomised(blocks.MLP(in_features, hidden, out_features), rng)


def mlp_forward(state: dict, x: np.ndarray, hidden: int, out_features: int) -> np.ndarray:
    module = _load(blocks.MLP(x.shape[-1], hidden, out_features), state)
    with torch.no_grad():
        return module(torch.tensor(x)).numpy()


def block_state(rng: np.random.Generator, embed_dim: int, num_heads: int, mlp_ratio: float) -> dict:
    return _randomised(blocks.Block(embed_dim, num_heads, mlp_ratio), rng)


def block_forward(state: dict, x: np.ndarray, num_heads: int, mlp_ratio: float) -> np.ndarray:
    module = _load(blocks.Block(x.shape[-1], num_heads, mlp_ratio), state)
    with torch.no_grad():
        return module(torch.tensor(x)).numpy()


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def stand_in_mix(x: np.ndarray, M: np.ndarray, W: np.ndarray) -> np.ndarray:
    """What the probe's stand-in for ``Block.attn`` computes: ``M @ tanh(x @ W)`` (mixes the tokens)."""
    return M @ np.tanh(x @ W)


def stand_in_pointwise(x: np.ndarray, W: np.ndarray) -> np.ndarray:
    """What the probe's stand-in for ``Block.mlp`` computes: ``sin(x @ W)`` (token-wise)."""
    return np.sin(x @ W)


def block_structure(x: np.ndarray, norms: dict, M: np.ndarray, Wa: np.ndarray, Wm: np.ndarray,
                    variant: str = "pre-norm") -> np.ndarray:
    """A block with the stand-in sub-layers: the right pre-norm form, or a known-wrong variant."""
    def attn(t):
        return stand_in_mix(t, M, Wa)

    def mlp(t):
        return stand_in_pointwise(t, Wm)

    def ln1(t):
        return layer_norm(t, norms["norm1.weight"], norms["norm1.bias"])

    def ln2(t):
        return layer_norm(t, norms["norm2.weight"], norms["norm2.bias"])

    if variant == "pre-norm":
        x = x + attn(ln1(x))
        return x + mlp(ln2(x))
    if variant == "post-norm":
        x = ln1(x + attn(x))
        return ln2(x + mlp(x))
    if variant == "no residual":
        return mlp(ln2(attn(ln1(x))))
    if variant == "no attention residual":
        x = attn(ln1(x))
        return x + mlp(ln2(x))
    if variant == "no MLP residual":
        x = x + attn(ln1(x))
        return mlp(ln2(x))
    raise ValueError(variant)


# ---- ViT --------------------------------------------------------------------------------------------

def vit_config(patch_size: int, embed_dim: int, nb_blocks: int = 2, num_heads: int = 4) -> dict:
    return {"img_size": IMG, "patch_size": patch_size, "in_chans": 1, "embed_dim": embed_dim,
            "nb_blocks": nb_blocks, "num_heads": num_heads, "mlp_ratio": 4.0, "num_classes": CLASSES}


def vit_state(rng: np.random.Generator, config: dict) -> dict:
    return _randomised(vit.ViT(**config), rng)


def vit_forward(state: dict, x: np.ndarray, config: dict) -> np.ndarray:
    module = _load(vit.ViT(**config), state)
    with torch.no_grad():
        return module(torch.tensor(x)).numpy()


def patch_embed_state(rng: np.random.Generator, patch_size: int, embed_dim: int) -> dict:
    return _randomised(vit.PatchEmbed(IMG, patch_size, 1, embed_dim), rng)


def patch_embed_forward(state: dict, x: np.ndarray, patch_size: int, embed_dim: int) -> np.ndarray:
    module = _load(vit.PatchEmbed(IMG, patch_size, 1, embed_dim), state)
    with torch.no_grad():
        return module(torch.tensor(x)).numpy()


def derangement(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random permutation of range(n) that moves every element (so no patch or token stays put)."""
    while True:
        order = rng.permutation(n)
        if np.all(order != np.arange(n)):
            return order


def permute_patches(images: np.ndarray, patch_size: int, order: np.ndarray) -> np.ndarray:
    """Images (B, C, H, W) with their p × p patches moved: patch ``order[i]`` goes to place ``i``
    (row-major patch order)."""
    batch, chans, height, width = images.shape
    rows, cols = height // patch_size, width // patch_size
    grid = images.reshape(batch, chans, rows, patch_size, cols, patch_size).transpose(0, 1, 2, 4, 3, 5)
    grid = grid.reshape(batch, chans, rows * cols, patch_size, patch_size)[:, :, order]
    grid = grid.reshape(batch, chans, rows, cols, patch_size, patch_size).transpose(0, 1, 2, 4, 3, 5)
    return np.ascontiguousarray(grid.reshape(batch, chans, height, width))


def summary(config: dict, batch: int = 2) -> dict:
    """Model summary (per-layer types, shapes, parameter counts) of the reference ViT of ``config``."""
    from autograder.sandbox.probing import summarize_model

    return summarize_model(vit.ViT(**config), (batch, 1, IMG, IMG))


# ---- training ---------------------------------------------------------------------------------------

def tiny_classifier(in_features: int, classes: int) -> torch.nn.Module:
    """The grader's own model for checking the training code: Flatten → Linear."""
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(in_features, classes))


def sgd_train_steps(state: dict, images: np.ndarray, labels: np.ndarray, lr: float, steps: int) -> list[dict]:
    """Loss, number right and weights after each of ``steps`` SGD steps of ``tiny_classifier`` on the
    same batch (gradients zeroed between steps), float64."""
    model = tiny_classifier(int(np.prod(images.shape[1:])), int(state["1.weight"].shape[0]))
    model = _load(model, state)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    x, y = torch.tensor(images), torch.tensor(labels)
    reports = []
    for _ in range(steps):
        optimizer.zero_grad()
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        reports.append({"loss": float(loss.detach()), "correct": int((logits.argmax(1) == y).sum()),
                        "state": _state(model)})
    return reports


def adam_training(state: dict, train_data, test_data, **kwargs) -> tuple[dict, dict]:
    """Final float32 weights and history of the reference ``train.train`` on ``tiny_classifier``."""
    model = tiny_classifier(IMG * IMG, CLASSES)
    model.load_state_dict({k: torch.tensor(v, dtype=torch.float32) for k, v in state.items()})
    history = train.train(model, tuple(map(torch.tensor, train_data)), tuple(map(torch.tensor, test_data)),
                          quiet=True, **kwargs)
    return _state(model), history


def timm_logits(config: dict, state: dict, x: np.ndarray) -> np.ndarray | str:
    """Logits (float64, eval mode) on ``x`` of the reference ``make_timm_vit(**config)`` holding ``state``, or
    why ``state`` does not fit it."""
    model = timm_vit.make_timm_vit(**config).double().eval()
    try:
        model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    except RuntimeError as error:
        return " ".join(str(error).split())[:300]
    with torch.no_grad():
        return model(torch.tensor(x)).numpy()


def default_vit_error(shape) -> str:
    """The error of the default timm ViT on a batch of ``shape``, as the reference reports it."""
    return timm_vit.default_vit_error(shape)


def finetune_summary(batch: int) -> dict:
    """Output shape, parameter count and embedding shapes of the reference ``make_finetune_vit()`` for a
    (batch, 1, 28, 28) input (questions 8-b/c)."""
    model = timm_vit.make_finetune_vit().eval()
    with torch.no_grad():
        output = model(torch.zeros(batch, 1, IMG, IMG))
    return {"output_shape": list(output.shape), "total_params": sum(p.numel() for p in model.parameters()),
            "patch_embed": list(model.patch_embed.proj.weight.shape), "pos_embed": list(model.pos_embed.shape)}


def imagenet_weights(model_name: str) -> tuple[dict | None, str]:
    """The state of ``make_finetune_vit(pretrained=True, model_name=model_name)`` (timm's ImageNet weights adapted to MNIST) as
    arrays, downloaded here, in the grader (the worker has no network); ``(None, reason)`` when they cannot
    be had: ``HF_HUB_OFFLINE=1``, huggingface.co unreachable (checked in 5 s, before the hub's own retries),
    or a failed download."""
    import os
    import socket

    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return None, "HF_HUB_OFFLINE=1"
    try:
        socket.create_connection(("huggingface.co", 443), timeout=5).close()
    except OSError as error:
        return None, f"huggingface.co unreachable: {error}"
    try:
        model = timm_vit.make_finetune_vit(pretrained=True, model_name=model_name)
    except Exception as error:  # noqa: BLE001 - any download or conversion failure is the reason to skip
        return None, f"download failed: {type(error).__name__}: {str(error)[:300]}"
    return {k: v.detach().float().numpy().copy() for k, v in model.state_dict().items()}, ""
