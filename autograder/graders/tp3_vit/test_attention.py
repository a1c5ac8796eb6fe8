"""Question 4: multi-head self-attention (attention.py) against the reference with the same weights."""

import numpy as np

from autograder.graders.tp3_vit import _reference as ref
from autograder.judges import CheckFailed
from autograder.judges.values import assert_close, expect_array

WHERE = "attention.SelfAttention"


def _problem(rng: np.random.Generator) -> dict:
    """Random sizes with head_dim != num_heads (so that swapped head axes show), weights and tokens."""
    num_heads = int(rng.choice([2, 4]))
    head_dim = int(rng.choice([6, 8, 10]))
    embed_dim = num_heads * head_dim
    batch, tokens = int(rng.integers(2, 4)), int(rng.integers(5, 9))
    return {"embed_dim": embed_dim, "num_heads": num_heads, "state": ref.attention_state(rng, embed_dim),
            "x": rng.normal(0, 1, (batch, tokens, embed_dim))}


def _diagnosis(got: np.ndarray, problem: dict, index: int) -> str:
    """Name the known bug whose output (index 0) or attention map (index 1) equals ``got``, if any."""
    state, x, heads = problem["state"], problem["x"], problem["num_heads"]
    variants = {
        "the scores are not multiplied by scale = head_dim ** -0.5": {"scale": 1.0},
        "the scale uses embed_dim instead of head_dim": {"scale": problem["embed_dim"] ** -0.5},
        "the scores are divided by head_dim instead of sqrt(head_dim)": {"scale": 1 / (problem["embed_dim"] // heads)},
        "the softmax is taken over dim -2 instead of the last axis (each row must sum to 1)": {"axis": -2},
    }
    for text, kwargs in variants.items():
        want = ref.attention_variant(state, x, heads, **kwargs)[index]
        if got.shape == want.shape and np.allclose(got, want, rtol=1e-4, atol=1e-6):
            return f" ({text})"
    return ""


def _attention(probe, problem: dict) -> dict:
    return probe("attention_forward", embed_dim=problem["embed_dim"], num_heads=problem["num_heads"],
                 state=problem["state"], x=problem["x"])


def test_attention_output(probe, rng):
    problem = _problem(rng)
    got = _attention(probe, problem)
    want, _ = ref.attention_forward(problem["state"], problem["x"], problem["num_heads"])
    what = (f"{WHERE}({problem['embed_dim']}, num_heads={problem['num_heads']}).forward(x) for x of shape "
            f"{problem['x'].shape}")
    out = expect_array(got["out"], what, want.shape)
    if not np.allclose(out, want, rtol=1e-4, atol=1e-6):
        hint = _diagnosis(out, problem, 0) or (" (check the qkv split: reshape(B, N, 3, H, d) then "
                                               "permute(2, 0, 3, 1, 4), and the merge of the heads: "
                                               "transpose(1, 2) before reshape(B, N, D))")
        raise CheckFailed(f"{what} differs from the reference computed with the same qkv/proj weights{hint}")
    assert_close(got["out_with_map"], want, f"{what.replace('(x)', '(x, return_attention=True)')}[0]",
                 rtol=1e-4, atol=1e-6)


def test_attention_map(probe, rng):
    problem = _problem(rng)
    got = _attention(probe, problem)
    _, want = ref.attention_forward(problem["state"], problem["x"], problem["num_heads"])
    what = f"{WHERE}.forward(x, return_attention=True)'s attention map"
    attn = expect_array(got["attn"], f"{what} (B, num_heads, N, N)", want.shape)
    rows = attn.sum(axis=-1)
    if not np.allclose(rows, 1, atol=1e-6):
        columns = np.allclose(attn.sum(axis=-2), 1, atol=1e-6)
        raise CheckFailed(f"{what}: rows do not sum to 1 (row sums from {rows.min():.3g} to {rows.max():.3g})"
                          + ("; its columns do: the softmax must be over the last axis (dim=-1)" if columns else ""))
    if not np.allclose(attn, want, rtol=1e-4, atol=1e-6):
        raise CheckFailed(f"{what} differs from softmax(q @ k.transpose(-2, -1) * scale, dim=-1) computed with the "
                          f"same qkv weights{_diagnosis(attn, problem, 1)}")


def test_attention_permutation_equivariant(probe, rng):
    problem = _problem(rng)
    order = ref.derangement(rng, problem["x"].shape[1])
    got = probe("attention_permuted", embed_dim=problem["embed_dim"], num_heads=problem["num_heads"],
                state=problem["state"], x=problem["x"], order=order)
    out = expect_array(got["out"], f"{WHERE}.forward(x)", problem["x"].shape)
    permuted = expect_array(got["permuted"], f"{WHERE}.forward(x[:, order])", problem["x"].shape)
    if not np.allclose(permuted, out[:, order], rtol=1e-4, atol=1e-6):
        raise CheckFailed(f"{WHERE} is not permutation-equivariant: reordering the input tokens should reorder "
                          "the output tokens the same way and change nothing else (are tokens and heads mixed "
                          "up when the heads are merged back to (B, N, D)?)")
