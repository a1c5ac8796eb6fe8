"""Part 3: the ConvNet and the baseline (convnet.py): structure, forward pass with its tanh, train and test."""

import numpy as np

from autograder.graders.recvis_a2 import _reference as ref
from autograder.judges import CheckFailed
from autograder.judges.models import assert_output_shapes, assert_parameter_counts
from autograder.judges.values import assert_close, expect_array, expect_number

#: Layer types compared for shapes; activations and flattening may be modules or functions.
SHAPED = {"Conv2d", "MaxPool2d", "Linear"}


def _shaped(summary: dict) -> dict:
    return {**summary, "layers": [layer for layer in summary["layers"] if layer["type"] in SHAPED]}


def test_parameter_counts(probe, rng):
    batch = int(rng.integers(2, 6))
    got = probe("model_summaries", batch=batch)
    for name in ("ConvNet", "LinearNet"):
        want = ref.model_summary(name, (batch, 3, 32, 32))
        assert_parameter_counts(got[name], want, f"convnet.{name}")
    if got["ConvNet"]["total_params"] != ref.CONVNET_PARAMS:  # the handout's figure, whatever the reference says
        raise CheckFailed(f"convnet.ConvNet has {got['ConvNet']['total_params']:,} parameters, expected "
                          f"{ref.CONVNET_PARAMS:,}")


def test_convnet_output_shapes(probe, rng):
    batch = int(rng.integers(2, 6))
    got = probe("model_summaries", batch=batch)["ConvNet"]
    want = ref.model_shapes("ConvNet", (batch, 3, 32, 32))
    names = [layer["name"] for layer in _shaped(got)["layers"]]
    if names != [layer["name"] for layer in want["layers"]]:
        raise CheckFailed(f"convnet.ConvNet: the layers run in the order {' → '.join(names)}; expected "
                          f"{' → '.join(layer['name'] for layer in want['layers'])}")
    assert_output_shapes(_shaped(got), _shaped(want), "convnet.ConvNet", (batch, 3, 32, 32))


def test_convnet_forward_tanh(probe, rng):
    x = rng.normal(0, 3, (4, 3, 32, 32))
    got = probe("convnet_forward", x=x)
    where = "convnet.ConvNet.forward"
    after = {"conv2": "conv1", "linear1": "conv2", "linear2": "linear1"}
    for layer, previous in after.items():
        low, high = got["ranges"].get(layer, [0.0, 0.0])
        if max(abs(low), abs(high)) > 1 + 1e-6:
            raise CheckFailed(f"{where}: the input of {layer} ranges over [{low:.3g}, {high:.3g}]; after a tanh it "
                              f"would lie in [-1, 1]: is the tanh after {previous} missing?")
    logits = expect_array(got["logits"], f"{where}: logits", (len(x), 10))
    try:
        want = ref.convnet_logits(got["state"], x)
    except RuntimeError as error:
        raise CheckFailed(f"convnet.ConvNet's weights do not fit the handout's layers: {str(error).splitlines()[0]}")
    assert_close(logits, want, f"{where}: logits (compared with conv1 → tanh → pool1 → conv2 → tanh → pool2 → "
                 "flatten → linear1 → tanh → linear2 computed with your model's own weights)", rtol=1e-4, atol=1e-5)


def test_train_and_test_functions(probe, rng):
    n_train, n_test, batch_size, lr = 4 * 16, 40, 16, 0.05
    train = (rng.normal(0, 1, (n_train, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, n_train))
    test = (rng.normal(0, 1, (n_test, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, n_test))
    state = {"linear.weight": rng.normal(0, 0.02, (10, 3072)).astype(np.float32),
             "linear.bias": rng.normal(0, 0.02, 10).astype(np.float32)}
    got = probe("linear_epoch", state=state, train_X=train[0], train_y=train[1], test_X=test[0], test_y=test[1],
                lr=lr, batch_size=batch_size)
    want = ref.linear_epoch(state, train, test, lr, batch_size)
    for key, value in want["state"].items():
        assert_close(got["state"].get(key), value, f"convnet.train: LinearNet's {key} after one epoch of "
                     f"{n_train // batch_size} batches (zero the gradients before each backward, one optimizer step "
                     "per batch)", rtol=1e-4, atol=1e-6)
    for name in ("train", "test"):
        loss, accuracy = (expect_number(v, f"convnet.{name}'s result") for v in got[name])
        want_loss, want_accuracy = want[name]
        if not np.isclose(loss, want_loss, rtol=1e-4):
            raise CheckFailed(f"convnet.{name}: average loss {loss:.6g}, expected {want_loss:.6g} (the cross-entropy "
                              "averaged over the samples)")
        if not np.isclose(accuracy, want_accuracy, atol=1e-6):
            raise CheckFailed(f"convnet.{name}: accuracy {accuracy:.6g}, expected {want_accuracy:.6g} (in percent, "
                              "0-100)")
