"""Part 2.1 and 3.4–3.5 (models.py): parameter counts, per-layer output shapes, BatchNorm placement,
dropout in train and eval modes. Reference models are built here from the solution."""

import numpy as np
import pytest

from autograder.graders.tp2_cnn import _reference as ref
from autograder.judges import CheckFailed
from autograder.judges.models import assert_output_shapes, assert_parameter_counts

VARIANTS = {"default": {}, "batch_norm": {"batch_norm": True}}


def _where(kwargs: dict) -> str:
    return f"models.CifarNet({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


@pytest.mark.parametrize("variant", VARIANTS)
def test_parameter_counts(probe, variant):
    kwargs, total = VARIANTS[variant], ref.HANDOUT_PARAMS[variant]
    shape = (2, 3, 32, 32)
    got = probe("model_summary", kind="CifarNet", kwargs=kwargs, input_shape=shape)
    want = ref.summary("CifarNet", kwargs, shape)
    assert want["total_params"] == total
    assert_parameter_counts(got, want, _where(kwargs))
    if got["count_parameters"] != total:
        raise CheckFailed(f"models.count_parameters({_where(kwargs)}) = {got['count_parameters']}, expected {total:,}")
    if variant == "default":
        lenet = probe("model_summary", kind="LeNet5", kwargs={}, input_shape=(2, 1, 28, 28))
        assert_parameter_counts(lenet, ref.summary("LeNet5", {}, (2, 1, 28, 28)), "models.LeNet5()")


SHAPES = {"32": ({}, (2, 3, 32, 32)), "28_ceil_mode": ({"ceil_mode": True}, (2, 3, 28, 28))}


@pytest.mark.parametrize("variant", SHAPES)
def test_output_shapes(probe, variant):
    kwargs, shape = SHAPES[variant]
    got = probe("model_summary", kind="CifarNet", kwargs=kwargs, input_shape=shape, partial=True)
    assert_output_shapes(got, ref.shapes("CifarNet", kwargs, shape), _where(kwargs), shape)


def test_batchnorm_after_each_conv(probe):
    kwargs = {"batch_norm": True}
    got = probe("model_summary", kind="CifarNet", kwargs=kwargs, input_shape=(4, 3, 32, 32), train=True)
    layers = got["layers"]
    types = [layer["type"] for layer in layers]
    convs = [i for i, t in enumerate(types) if t == "Conv2d"]
    norms = [i for i, t in enumerate(types) if t == "BatchNorm2d"]
    order = " → ".join(types)
    if len(convs) != 3 or len(norms) != 3:
        raise CheckFailed(f"{_where(kwargs)}: expected 3 Conv2d each followed by a BatchNorm2d, got the layers "
                          f"{order}")
    for i in convs:
        name = layers[i]["name"]
        if i + 2 >= len(types) or types[i + 1] != "BatchNorm2d" or types[i + 2] != "ReLU":
            raise CheckFailed(f"{_where(kwargs)}: {name} should be followed directly by a BatchNorm2d and then its "
                              f"ReLU (conv → bn → relu → pool), got the layers {order}")
        if layers[i + 1]["output_shape"] != layers[i]["output_shape"]:
            raise CheckFailed(f"{_where(kwargs)}: the BatchNorm2d after {name} changes the shape")
        if layers[i + 1]["params"] != 2 * layers[i]["output_shape"][1]:
            raise CheckFailed(f"{_where(kwargs)}: the BatchNorm2d after {name} should have "
                              f"num_features={layers[i]['output_shape'][1]} (the number of filters of {name})")
    plain = probe("model_summary", kind="CifarNet", kwargs={}, input_shape=(2, 3, 32, 32))
    if any(layer["type"].startswith("BatchNorm") for layer in plain["layers"]):
        raise CheckFailed("models.CifarNet(): BatchNorm layers must only be added when batch_norm=True")


def test_dropout_active_in_train_mode(probe, rng):
    got = probe("dropout", X=rng.normal(0, 1, (6, 3, 32, 32)).astype(np.float32))  # the model's own weights
    where = "models.CifarNet(dropout=True)"
    types = [t for _, t in got["layers"]]
    if types[-4:] != ["Linear", "ReLU", "Dropout", "Linear"]:
        raise CheckFailed(f"{where}: the classifier should end with fc4 → relu4 → dropout4 (nn.Dropout) → fc5, "
                          f"got {' → '.join(types[-5:])}")
    if len(got["dropouts"]) != 1:
        raise CheckFailed(f"{where}: expected one nn.Dropout run in forward, found {len(got['dropouts'])}")
    drop = got["dropouts"][0]
    if not np.isclose(drop["p"], 0.5):
        raise CheckFailed(f"{where}: nn.Dropout has p={drop['p']}, expected p=0.5")
    active = drop["input"] != 0
    zeroed = float(np.mean(drop["output"][active] == 0)) if active.any() else 0.0
    if np.array_equal(got["train"][0], got["train"][1]) or not 0.35 <= zeroed <= 0.65:
        raise CheckFailed(f"{where}: in train mode, dropout should zero about half of the fc4 activations at random "
                          f"(zeroed: {zeroed:.0%}) and two forward passes should differ")
    kept = active & (drop["output"] != 0)
    if not np.allclose(drop["output"][kept], 2 * drop["input"][kept], rtol=1e-4, atol=1e-6):
        raise CheckFailed(f"{where}: in train mode the kept activations should be scaled by 1/(1-p) = 2")


def test_dropout_off_in_eval_mode(probe, rng):
    state = ref.random_state(rng)
    X = rng.normal(0, 1, (6, 3, 32, 32)).astype(np.float32)
    got = probe("dropout", X=X, state=state)
    where = "models.CifarNet(dropout=True)"
    first, second = got["eval"]
    if not np.array_equal(first, second):
        raise CheckFailed(f"{where}: in eval mode two forward passes on the same input differ; dropout must be "
                          "the identity after model.eval() (use nn.Dropout, not a dropout that is always on)")
    want = ref.eval_logits(state, X, dropout=True)
    if first.shape != want.shape or not np.allclose(first, want, rtol=1e-4, atol=1e-5):
        raise CheckFailed(f"{where}: in eval mode the logits differ from those of the handout's network with the "
                          "same weights (dropout should do nothing in eval mode)")
