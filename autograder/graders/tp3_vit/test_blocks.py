"""Question 5: the MLP and the pre-norm transformer block (blocks.py), weights loaded by name."""

import numpy as np

from autograder.graders.tp3_vit import _reference as ref
from autograder.judges import CheckFailed
from autograder.judges.values import expect_array

TOLERANCE = {"rtol": 1e-4, "atol": 1e-6}


def test_mlp(probe, rng):
    in_features, hidden, out_features = (int(v) for v in rng.integers(4, 24, size=3))
    x = rng.normal(0, 1, (2, int(rng.integers(3, 7)), in_features))
    state = ref.mlp_state(rng, in_features, hidden, out_features)
    got = probe("mlp_forward", in_features=in_features, hidden=hidden, out_features=out_features, state=state,
                x=x)
    want = ref.mlp_forward(state, x, hidden, out_features)
    what = f"blocks.MLP({in_features}, {hidden}, {out_features}).forward(x) for x of shape {x.shape}"
    got = expect_array(got, what, want.shape)
    if not np.allclose(got, want, **TOLERANCE):
        relu = np.maximum(x @ state["fc1.weight"].T + state["fc1.bias"], 0) @ state["fc2.weight"].T + state["fc2.bias"]
        hint = " (ReLU instead of GELU: use nn.GELU())" if np.allclose(got, relu, **TOLERANCE) else ""
        raise CheckFailed(f"{what} differs from fc2(GELU(fc1(x))) with the same fc1/fc2 weights{hint}")


def _block_problem(rng: np.random.Generator) -> dict:
    num_heads = int(rng.choice([2, 4]))
    embed_dim = num_heads * int(rng.choice([4, 6, 8]))
    mlp_ratio = float(rng.choice([2.0, 4.0]))
    x = rng.normal(0, 1, (2, int(rng.integers(4, 8)), embed_dim)) * rng.uniform(0.5, 3.0) + rng.normal(0, 1)
    return {"embed_dim": embed_dim, "num_heads": num_heads, "mlp_ratio": mlp_ratio, "x": x,
            "state": ref.block_state(rng, embed_dim, num_heads, mlp_ratio)}


def test_block_structure(probe, rng):
    problem = _block_problem(rng)
    x, dim = problem["x"], problem["embed_dim"]
    tokens = x.shape[1]
    norms = {k: v for k, v in problem["state"].items() if k.startswith(("norm1.", "norm2."))}
    stand_ins = {"M": rng.normal(0, 1 / np.sqrt(tokens), (tokens, tokens)),
                 "Wa": rng.normal(0, 1 / np.sqrt(dim), (dim, dim)), "Wm": rng.normal(0, 1 / np.sqrt(dim), (dim, dim))}
    got = probe("block_forward", embed_dim=dim, num_heads=problem["num_heads"], mlp_ratio=problem["mlp_ratio"],
                state=norms, x=x, stand_ins=stand_ins)
    what = (f"blocks.Block({dim}, {problem['num_heads']}).forward(x) with the grader's own stand-ins for "
            "self.attn and self.mlp")
    got = expect_array(got, what, x.shape)
    want = ref.block_structure(x, norms, stand_ins["M"], stand_ins["Wa"], stand_ins["Wm"])
    if np.allclose(got, want, **TOLERANCE):
        return
    for variant in ("post-norm", "no residual", "no attention residual", "no MLP residual"):
        if np.allclose(got, ref.block_structure(x, norms, stand_ins["M"], stand_ins["Wa"], stand_ins["Wm"], variant),
                       **TOLERANCE):
            hint = {"post-norm": "the LayerNorms are applied after the residual additions (post-norm); the "
                                 "block is pre-norm: x = x + attn(norm1(x)), then x = x + mlp(norm2(x))",
                    "no residual": "the residual connections are missing"}.get(
                variant, f"{variant.replace('no ', 'the ')} connection is missing")
            raise CheckFailed(f"{what}: {hint}")
    raise CheckFailed(f"{what} is not x = x + self.attn(self.norm1(x)); x = x + self.mlp(self.norm2(x)) (use the "
                      "sub-layers through these attribute names)")


def test_block_full(probe, rng):
    problem = _block_problem(rng)
    got = probe("block_forward", embed_dim=problem["embed_dim"], num_heads=problem["num_heads"],
                mlp_ratio=problem["mlp_ratio"], state=problem["state"], x=problem["x"])
    want = ref.block_forward(problem["state"], problem["x"], problem["num_heads"], problem["mlp_ratio"])
    what = (f"blocks.Block({problem['embed_dim']}, {problem['num_heads']}, mlp_ratio={problem['mlp_ratio']})"
            ".forward(x)")
    got = expect_array(got, what, want.shape)
    if not np.allclose(got, want, **TOLERANCE):
        raise CheckFailed(f"{what} differs from the reference block with the same weights (norm1, attn.qkv, "
                          "attn.proj, norm2, mlp.fc1, mlp.fc2): check SelfAttention and MLP first")
