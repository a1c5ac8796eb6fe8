"""Judges of what a student's matplotlib figure shows (``probing.figure_contents``: per axes its title,
images and lines)."""

from __future__ import annotations

import numpy as np

from autograder.judges import CheckFailed


def shown_images(contents: dict, where: str, count: int) -> list[tuple[str, np.ndarray]]:
    """``(title, image)`` of each axes that shows an image, in the figure's order: exactly ``count`` of them,
    one image each, as floats (uint8 images divided by 255)."""
    shown = [(ax["title"], ax["images"]) for ax in contents["axes"] if ax["images"]]
    if len(shown) != count or any(len(images) != 1 for _, images in shown):
        per_axes = [len(images) for _, images in shown]
        raise CheckFailed(f"{where}: the figure should show {count} images, one per subplot (imshow once in each); "
                          f"it has {len(shown)} subplots with images ({per_axes} images each)")
    return [(title, images[0] / 255.0 if images[0].dtype == np.uint8 else images[0].astype(np.float64))
            for title, images in shown]
