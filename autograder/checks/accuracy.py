"""Accuracy judges. Held-out data never leave the grader: the worker trains and returns the trained
parameters; the grader loads them into the handout's architecture (built here from the solution, no
student code) and predicts the held-out images itself, against labels that never left the grader."""

from __future__ import annotations

import numpy as np

from autograder.checks import CheckFailed
from autograder.checks.values import expect_array


def assert_accuracy(predictions, labels: np.ndarray, threshold: float, where: str, record: dict) -> float:
    """Accuracy of integer ``predictions`` (N,) against ``labels`` (N,) must reach ``threshold``."""
    predictions = expect_array(predictions, f"{where}: predictions", (len(labels),), kind="i")
    accuracy = float(np.mean(predictions == labels))
    record["accuracy"] = accuracy
    record["threshold"] = threshold
    classes = int(max(labels.max(), 0)) + 1
    confusion = np.zeros((classes, classes), dtype=int)
    valid = (predictions >= 0) & (predictions < classes)
    np.add.at(confusion, (labels[valid], predictions[valid]), 1)
    record["confusion"] = confusion.tolist()
    if accuracy < threshold:
        raise CheckFailed(f"{where}: test accuracy {accuracy:.1%} is below the required {threshold:.1%}")
    return accuracy


def load_trained(model, state, where: str, names: str):
    """``model`` (a torch module of the handout's architecture, built by the grader) holding the trained
    parameters and buffers the worker returned: ``state`` maps each ``state_dict`` name to an array of the
    shape the handout's layer has. CheckFailed naming the missing, unexpected or misshapen entries
    (``names`` says which layer names the handout asks for)."""
    import torch

    own = model.state_dict()
    if not isinstance(state, dict):
        raise CheckFailed(f"{where}: the trained model's state_dict should be a dict, got {type(state).__name__}")
    missing, unexpected = [n for n in own if n not in state], [str(n) for n in state if n not in own]
    if missing or unexpected:
        raise CheckFailed(f"{where}: the trained model is not the architecture the handout asks for ({names}): "
                          f"state_dict entries missing: {', '.join(missing[:6]) or 'none'}; unexpected: "
                          f"{', '.join(unexpected[:6])[:300] or 'none'}")
    loaded = {}
    for name, target in own.items():
        value = state[name]
        if isinstance(value, np.ndarray) and target.dim() == 0 and value.size == 1:
            value = value.reshape(())  # the wire sends 0-d arrays as 1-element arrays
        kind = "f" if target.is_floating_point() else "i"
        loaded[name] = torch.as_tensor(expect_array(value, f"{where}: the trained {name}", tuple(target.shape),
                                                    kind)).to(target.dtype)
    model.load_state_dict(loaded)
    return model.eval()


def private_classes(rng: np.random.Generator, classes: int = 10) -> np.ndarray:
    """A private renaming of the classes (classes,): the worker trains on ``names[labels]``, so that weights
    trained elsewhere on the public labels score like chance; ``np.argsort(names)[predictions]`` names the
    predictions back."""
    return rng.permutation(classes)


def predict(model, images, batch: int = 100) -> np.ndarray:
    """Class predictions (N,) int64 of ``model`` (grader-built, loaded with :func:`load_trained`) on
    ``images`` (N, ...) float tensor, by the arg-max of its logits, ``batch`` images at a time."""
    import torch

    with torch.no_grad():
        parts = [model(images[start:start + batch]).argmax(dim=1) for start in range(0, len(images), batch)]
    return torch.cat(parts).cpu().numpy().astype(np.int64)
