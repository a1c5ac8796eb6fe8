"""Question 6: patch embedding and the ViT (vit.py): shapes of every stage, weights loaded by name,
parameter counts of the handout's cases, class token and positional embedding."""

import numpy as np
import pytest

from autograder.graders.tp3_vit import _reference as ref
from autograder.judges import CheckFailed
from autograder.judges.models import assert_parameter_counts
from autograder.judges.values import expect_array

TOLERANCE = {"rtol": 1e-4, "atol": 1e-6}


def _images(rng: np.random.Generator, batch: int) -> np.ndarray:
    return rng.normal(0, 1, (batch, 1, ref.IMG, ref.IMG))


@pytest.mark.parametrize("patch_size", [7, 14])
def test_patch_embed(probe, rng, patch_size):
    embed_dim = int(rng.integers(5, 20))
    x = _images(rng, 2)
    state = ref.patch_embed_state(rng, patch_size, embed_dim)
    got = probe("patch_embed_forward", patch_size=patch_size, embed_dim=embed_dim, state=state, x=x)
    n = ref.num_patches(patch_size)
    what = f"vit.PatchEmbed(28, {patch_size}, 1, {embed_dim}).forward(x) for x of shape {x.shape}"
    if got["num_patches"] != n:
        raise CheckFailed(f"vit.PatchEmbed(28, {patch_size}, ...).num_patches is {got['num_patches']}, expected "
                          f"(28 / {patch_size})² = {n}")
    out = expect_array(got["out"], f"{what} (B, N, D)", (2, n, embed_dim))
    want = ref.patch_embed_forward(state, x, patch_size, embed_dim)
    if not np.allclose(out, want, **TOLERANCE):
        raise CheckFailed(f"{what} differs from proj(x) (Conv2d kernel = stride = {patch_size}, same weights) "
                          "flattened to (B, N, D) with the patches in row-major order: flatten(2) then "
                          "transpose(1, 2)")


@pytest.mark.parametrize("patch_size", [7, 14])
def test_vit_stage_shapes(probe, rng, patch_size):
    embed_dim = 4 * int(rng.integers(3, 9))
    nb_blocks, batch = int(rng.integers(1, 4)), int(rng.integers(2, 5))
    config = ref.vit_config(patch_size, embed_dim, nb_blocks)
    got = probe("vit_stage_shapes", config=config, batch=batch)
    n = ref.num_patches(patch_size)
    where = f"vit.ViT(patch_size={patch_size}, embed_dim={embed_dim}, nb_blocks={nb_blocks})"
    if got["nb_blocks"] != nb_blocks:
        raise CheckFailed(f"{where}.blocks holds {got['nb_blocks']} blocks, expected {nb_blocks}")
    expected = {"patch_embed": ([batch, n, embed_dim], "the output of patch_embed (B, N, D)"),
                "tokens": ([batch, n + 1, embed_dim], "the tokens entering blocks[0] (B, N + 1, D)"),
                **{f"blocks.{i}": ([batch, n + 1, embed_dim], f"the output of blocks[{i}] (B, N + 1, D)")
                   for i in range(nb_blocks)},
                "norm": ([batch, n + 1, embed_dim], "the output of norm (B, N + 1, D)"),
                "head input": ([batch, embed_dim], "the input of head, the class token (B, D)"),
                "head": ([batch, ref.CLASSES], "the output of head (B, 10)"),
                "logits": ([batch, ref.CLASSES], "the logits (B, 10)")}
    for stage, (shape, text) in expected.items():
        if got.get(stage) is None:
            raise CheckFailed(f"{where}: {text.split(' (')[0]} was never computed during forward "
                              f"(for {batch} images with {n} patches of {patch_size}×{patch_size})")
        if got[stage] != shape:
            raise CheckFailed(f"{where} on a ({batch}, 1, 28, 28) batch: {text} has shape {tuple(got[stage])}, "
                              f"expected {tuple(shape)} (N = (28 / {patch_size})² = {n} patches)")


@pytest.mark.parametrize("patch_size", [7, 14])
def test_vit_forward(probe, rng, patch_size):
    num_heads = int(rng.choice([2, 4]))
    config = ref.vit_config(patch_size, num_heads * int(rng.integers(3, 6)), int(rng.integers(1, 3)), num_heads)
    state = ref.vit_state(rng, config)
    x = _images(rng, 3)
    got = probe("vit_forward", config=config, state=state, x=x)
    want = ref.vit_forward(state, x, config)
    what = (f"vit.ViT(patch_size={patch_size}, embed_dim={config['embed_dim']}, nb_blocks={config['nb_blocks']}, "
            f"num_heads={num_heads}).forward(x)")
    got = expect_array(got, f"{what} (B, 10)", want.shape)
    if not np.allclose(got, want, **TOLERANCE):
        raise CheckFailed(f"{what} differs from the reference ViT with the same weights: patches → prepend "
                          "cls_token → + pos_embed → blocks → norm → head on token 0")


def test_parameter_counts(probe):
    cases = ref.train.CASES
    configs = [ref.vit_config(c["patch_size"], c["embed_dim"], c["nb_blocks"]) for c in cases.values()]
    got = probe("vit_summaries", configs=configs, batch=2)
    for case, config, summary in zip(cases, configs, got):
        where = (f"vit.ViT(patch_size={config['patch_size']}, embed_dim={config['embed_dim']}, "
                 f"nb_blocks={config['nb_blocks']}, num_heads=4) (case {case})")
        assert_parameter_counts(summary, ref.summary(config), where)


def test_cls_token_and_pos_embed(probe, rng):
    patch_size = int(rng.choice([7, 14]))
    config = ref.vit_config(patch_size, 4 * int(rng.integers(3, 9)))
    dim, n = config["embed_dim"], ref.num_patches(patch_size)
    x, labels = _images(rng, 4).astype(np.float32), rng.integers(0, 10, 4)
    got = probe("token_parameters", config=config, x=x, labels=labels)
    where = f"vit.ViT(patch_size={patch_size}, embed_dim={dim})"
    for name, shape in (("cls_token", [1, 1, dim]), ("pos_embed", [1, n + 1, dim])):
        report = got[name]
        if "torch.nn.parameter.Parameter" not in report["classes"]:
            raise CheckFailed(f"{where}.{name} is a {report['classes'][0]}, expected an nn.Parameter of shape "
                              f"{tuple(shape)}")
        if report["shape"] != shape:
            raise CheckFailed(f"{where}.{name} has shape {tuple(report['shape'])}, expected {tuple(shape)}")
        if report["registered_as"] != name:
            raise CheckFailed(f"{where}.{name} is not among model.parameters() (assign it to self.{name})")
        if not report["grad_norm"]:
            raise CheckFailed(f"{where}.{name} receives no gradient from the loss: it is not used in forward "
                              + ("(prepend it to the patch tokens, and read the head's input from token 0)"
                                 if name == "cls_token" else "(add it to the tokens)"))


def test_patch_permutation(probe, rng):
    patch_size = int(rng.choice([7, 14]))
    config = ref.vit_config(patch_size, 4 * int(rng.integers(3, 7)))
    n = ref.num_patches(patch_size)
    order = ref.derangement(rng, n)
    x = _images(rng, 3)
    pos_embed = rng.normal(0, 1, (1, n + 1, config["embed_dim"]))
    got = probe("vit_patch_permutation", config=config, pos_embed=pos_embed, x=x,
                x_permuted=ref.permute_patches(x, patch_size, order))
    where = f"vit.ViT(patch_size={patch_size})"
    out = {k: expect_array(v, f"{where}.forward(x)", (3, ref.CLASSES)) for k, v in got.items()}
    if not np.allclose(out["zero"], out["zero_permuted"], rtol=1e-4, atol=1e-6):
        raise CheckFailed(f"{where}: with pos_embed set to zero, moving the image's patches around changes the "
                          "logits; without positions the model should not see the patch order (class token "
                          "prepended, head on token 0, patches treated alike)")
    gap = np.abs(out["with"] - out["with_permuted"]).max()
    if gap <= 1e-4 * max(1.0, np.abs(out["with"]).max()):
        raise CheckFailed(f"{where}: with a non-zero pos_embed, moving the image's patches around does not change "
                          "the logits: the positional embedding is never added to the tokens")
