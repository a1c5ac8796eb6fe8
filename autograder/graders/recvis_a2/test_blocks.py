"""Part 2: building blocks of a CNN (blocks.py): output sizes, the hand-made filter of Task 2.1, max pooling."""

import numpy as np
import torch

from autograder.graders.recvis_a2 import _reference as ref
from autograder.judges import CheckFailed
from autograder.judges.values import assert_close, expect_array

HANDOUT_CASES = [(1, 0), (16, 0), (1, 2)]  # (stride, padding)


def test_output_sizes(probe, rng):
    height, width = ref.HANDOUT_IMAGE
    random_cases = []
    for _ in range(6):
        k, s, p = int(rng.integers(1, 8)), int(rng.integers(1, 5)), int(rng.integers(0, 4))
        random_cases.append([int(rng.integers(k + 1, 60)), int(rng.integers(k + 1, 60)), k, s, p])
    got = probe("output_sizes", height=height, width=width, conv_cases=HANDOUT_CASES, random_cases=random_cases)
    for (stride, padding), shape, size in zip(HANDOUT_CASES, got["conv_shapes"], got["conv_sizes"]):
        want = ref.output_size(height, width, 5, stride, padding)
        case = f"a 5×5 convolution with stride {stride} and padding {padding} on the {height}×{width} image"
        if shape != [1, 10, *want]:
            raise CheckFailed(f"blocks.conv_output: output shape {tuple(shape)} for {case}, expected {(1, 10, *want)}")
        if size != want:
            raise CheckFailed(f"blocks.output_size({height}, {width}, 5, {stride}, {padding}) = {tuple(size)} for "
                              f"{case}, expected {tuple(want)}")
    for (h, w, k, s, p), size in zip(random_cases, got["random"]):
        want = ref.output_size(h, w, k, s, p)
        if size != want:
            raise CheckFailed(f"blocks.output_size({h}, {w}, {k}, {s}, {p}) = {tuple(size)}, expected {tuple(want)} "
                              "(floor((h + 2p - k) / s) + 1)")


def test_hand_filter(probe, rng):
    x = rng.uniform(0, 1, (1, 3, int(rng.integers(12, 30)), int(rng.integers(12, 30)))).astype(np.float32)
    got = probe("hand_filter", x=x)
    weight = expect_array(got["weight"], "blocks.hand_filter().weight", (1, 3, 3, 3))
    if got["bias"] is not None:
        raise CheckFailed("blocks.hand_filter: the convolution must have no bias (bias=False)")
    if got["padding"] != [1, 1]:
        raise CheckFailed(f"blocks.hand_filter: padding {got['padding']}, expected 1 (the output keeps the "
                          "input's height and width)")
    kernel = np.array(ref.blocks.HAND_KERNEL)
    wrong = [c for c in range(3) if not np.allclose(weight[0, c], kernel)]
    if wrong:
        raise CheckFailed(f"blocks.hand_filter: weight[0, c] should be HAND_KERNEL for every colour channel c; "
                          f"channel {wrong[0]} holds {np.round(weight[0, wrong[0]], 3).tolist()}")
    want = ref.blocks.hand_filter_response(torch.tensor(x)).numpy()
    assert_close(got["response"], want, f"blocks.hand_filter_response(x) for x of shape {x.shape}", rtol=1e-5,
                 atol=1e-5)


def test_max_pool(probe, rng):
    x = rng.normal(0, 1, (1, 3, int(rng.integers(30, 50)), int(rng.integers(30, 50)))).astype(np.float32)
    strides = [1, int(rng.integers(2, 5))]
    got = probe("max_pool", x=x, kernel=15, strides=strides)
    for stride, result in zip(strides, got):
        size = ref.output_size(x.shape[2], x.shape[3], 15, stride)
        if result["size"] != size:
            raise CheckFailed(f"blocks.output_size({x.shape[2]}, {x.shape[3]}, 15, {stride}) = {tuple(result['size'])}"
                              f" for a 15×15 max pooling with stride {stride}, expected {tuple(size)}")
        want = ref.blocks.max_pool(torch.tensor(x), 15, stride).numpy()
        assert_close(result["pooled"], want, f"blocks.max_pool(x, 15, stride={stride}) for x of shape {x.shape}",
                     rtol=0, atol=1e-6)
