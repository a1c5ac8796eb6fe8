"""Tasks 3.1 and 3.5 (convnet.py): the figures of five training images and of the conv1 filters, judged on
the arrays they show (``probing.figure_contents``)."""

import numpy as np

from autograder.graders.recvis_a2 import _reference as ref
from autograder.judges import CheckFailed
from autograder.judges.figures import shown_images

#: One unit of an 8-bit image: uint8 images (divided by 255) pass as well as float ones.
TOLERANCE = 1.01 / 255
#: conv1 of Task 3.2: 16 feature maps of 5 x 5 filters on the 3 colour channels.
FILTERS, CHANNELS, KERNEL = 16, 3, 5


def test_show_examples(probe, rng):
    images = rng.uniform(-1, 1, (8, 3, 32, 32)).astype(np.float32)
    labels = rng.integers(0, 10, len(images))
    n = int(rng.integers(3, 6))
    where = f"convnet.show_examples(dataset, {n})"
    shown = shown_images(probe("show_examples", images=images, labels=labels, n=n), where, n)
    names = ref.class_names()
    expected = np.clip(images / 2 + 0.5, 0, 1).transpose(0, 2, 3, 1)  # undo Normalize(0.5, 0.5), channels last
    used = []
    for number, (title, image) in enumerate(shown, start=1):
        if image.shape[:2] != (32, 32) or image.ndim != 3 or image.shape[2] not in (3, 4):
            raise CheckFailed(f"{where}: subplot {number} shows an array of shape {image.shape}, expected an "
                              "(32, 32, 3) image (channels last: permute the (3, 32, 32) tensor)")
        matches = [i for i in range(len(images))
                   if np.allclose(image[..., :3], expected[i], atol=TOLERANCE)]
        if not matches:
            raw = any(np.allclose(image[..., :3], np.clip(x.transpose(1, 2, 0), 0, 1), atol=TOLERANCE)  # imshow clips
                      for x in images)
            raise CheckFailed(f"{where}: subplot {number} does not show one of the dataset's images in [0, 1]"
                              + (" (it shows the normalised values: undo Normalize((0.5,) * 3, (0.5,) * 3) first)"
                                 if raw else " (un-normalise each image: x / 2 + 0.5, channels last)"))
        index = matches[0]
        if index in used:
            raise CheckFailed(f"{where}: subplot {number} shows the same image as an earlier one; show {n} "
                              "different images")
        used.append(index)
        if title.strip() != names[labels[index]]:
            raise CheckFailed(f"{where}: subplot {number} is titled {title[:40]!r}; the image's label is "
                              f"{labels[index]}, i.e. {names[labels[index]]!r} (title each image with CLASSES[label])")


def test_plot_filters(probe, rng):
    weight = rng.normal(0, 0.1, (FILTERS, CHANNELS, KERNEL, KERNEL)).astype(np.float32)
    where = "convnet.plot_filters(network)"
    shown = shown_images(probe("plot_filters", weight=weight), where, 16)
    filters = weight.astype(np.float64).transpose(0, 2, 3, 1)  # (16, 5, 5, 3), channels last
    low, high = filters.min(axis=(1, 2, 3), keepdims=True), filters.max(axis=(1, 2, 3), keepdims=True)
    own_range = (filters - low) / (high - low)
    bank_range = (filters - filters.min()) / (filters.max() - filters.min())
    for number, (_, image) in enumerate(shown):
        if image.shape[:2] != (5, 5) or image.ndim != 3 or image.shape[2] not in (3, 4):
            raise CheckFailed(f"{where}: subplot {number + 1} shows an array of shape {image.shape}, expected the "
                              "(5, 5, 3) filter (channels last: permute conv1.weight[i], of shape (3, 5, 5))")
        if any(np.allclose(image[..., :3], want[number], atol=TOLERANCE) for want in (own_range, bank_range)):
            continue
        if np.allclose(image[..., :3], np.clip(filters[number], 0, 1), atol=TOLERANCE):  # imshow clips RGB
            raise CheckFailed(f"{where}: subplot {number + 1} shows the raw weights of filter {number}; rescale each "
                              "filter to [0, 1] by its minimum and maximum (imshow clips RGB values outside [0, 1])")
        others = [i for i in range(16) if np.allclose(image[..., :3], own_range[i], atol=TOLERANCE)]
        raise CheckFailed(f"{where}: subplot {number + 1} should show filter {number} of conv1.weight, rescaled to "
                          f"[0, 1] by its own minimum and maximum"
                          + (f"; it shows filter {others[0]}" if others else ""))
