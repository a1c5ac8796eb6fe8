"""Model structure judges: parameter counts and output shapes per layer, from model summaries.

A summary is what :func:`autograder.sandbox.probing.summarize_model` returns (the grader builds the
reference one itself from the solution model).
"""

from __future__ import annotations

from autograder.judges import CheckFailed


def _layers(summary: dict, where: str) -> list[dict]:
    if not isinstance(summary, dict) or not isinstance(summary.get("layers"), list):
        raise CheckFailed(f"{where}: could not summarise the model")
    return summary["layers"]


def weighted_layers(summary: dict, where: str) -> list[dict]:
    """Layers that own parameters, in forward order."""
    return [layer for layer in _layers(summary, where) if layer["params"]]


def assert_parameter_counts(student: dict, reference: dict, where: str) -> None:
    """Same total, and the same count for each layer that has parameters, in forward order."""
    got = [(l["name"], l["type"], l["params"]) for l in weighted_layers(student, where)]
    want = [(l["name"], l["type"], l["params"]) for l in weighted_layers(reference, where)]
    for index, (mine, theirs) in enumerate(zip(got, want)):
        if mine[1] != theirs[1] or mine[2] != theirs[2]:
            raise CheckFailed(f"{where}: layer #{index + 1} with parameters is {mine[1]} '{mine[0]}' with "
                              f"{mine[2]:,} parameters; expected a {theirs[1]} with {theirs[2]:,}")
    if len(got) != len(want):
        raise CheckFailed(f"{where}: {len(got)} layers have parameters, expected {len(want)} "
                          f"({', '.join(t for _, t, _ in want)})")
    if student["total_params"] != reference["total_params"]:
        raise CheckFailed(f"{where}: {student['total_params']:,} parameters in total, expected "
                          f"{reference['total_params']:,}")


def layer_shapes(summary: dict) -> dict:
    """A model summary without its parameter counts (graded answers): layer names, types, output shapes."""
    return {"layers": [{key: layer[key] for key in ("name", "type", "output_shape")} for layer in summary["layers"]],
            "output_shape": summary["output_shape"]}


def assert_output_shapes(student: dict, reference: dict, where: str, input_shape) -> None:
    """The sequence of (layer type, output shape) over the leaf layers matches the reference."""
    layers = _layers(student, where)
    got = [(l["type"], l["output_shape"]) for l in layers]
    want = [(l["type"], l["output_shape"]) for l in _layers(reference, where)]
    def so_far(count: int) -> str:
        return "; ".join(f"#{i + 1} {l['name']} {l['type']} → {l['output_shape']}" for i, l in enumerate(layers[:count]))

    for index, (mine, theirs) in enumerate(zip(got, want)):
        if mine != theirs:
            raise CheckFailed(f"{where}: for an input of shape {tuple(input_shape)}, layer #{index + 1} is "
                              f"{mine[0]} with output {mine[1]}; expected {theirs[0]} with output {theirs[1]} "
                              f"(layers up to it: {so_far(index + 1)})")
    if student.get("error"):
        shapes_so_far = so_far(len(layers))
        following = f"; expected next: {want[len(got)][0]} with output {want[len(got)][1]}" if len(want) > len(got) else ""
        raise CheckFailed(f"{where}: for an input of shape {tuple(input_shape)}, the forward pass fails after "
                          f"{len(got)} layers with the expected shapes ({shapes_so_far or 'none'}){following}: "
                          f"{student['error']}")
    if len(got) != len(want):
        raise CheckFailed(f"{where}: {len(got)} layers run in forward, expected {len(want)}: "
                          f"{' → '.join(t for t, _ in want)}")
    if student["output_shape"] != reference["output_shape"]:
        raise CheckFailed(f"{where}: output shape {student['output_shape']}, expected {reference['output_shape']}")
