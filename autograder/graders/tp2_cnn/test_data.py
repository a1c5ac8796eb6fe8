"""Parts 3.1–3.2 (data.py): channel statistics, standardisation with the TRAINING statistics, and the
transforms of each split, judged on images the grader draws (train and test with different statistics)."""

import numpy as np

from autograder.judges import CheckFailed
from autograder.judges.values import assert_close, expect_array

CROP = 28


def _images(rng: np.random.Generator, count: int, low, high, side: int = 32) -> np.ndarray:
    """uint8 noise images (count, side, side, 3), channel c uniform in [low[c], high[c]]."""
    low, high = np.asarray(low), np.asarray(high)
    values = rng.uniform(low, high + 1, (count, side, side, 3))
    return np.clip(values, 0, 255).astype(np.uint8)


def _population_stats(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scaled = images.astype(np.float64) / 255
    return scaled.mean(axis=(0, 1, 2)), scaled.std(axis=(0, 1, 2))


def _normalised(images: np.ndarray, mean, std) -> np.ndarray:
    """(N, H, W, 3) uint8 → (N, 3, H, W) as ToTensor then Normalize(mean, std) (mean None: no Normalize)."""
    scaled = images.astype(np.float64).transpose(0, 3, 1, 2) / 255
    if mean is None:
        return scaled
    return (scaled - np.asarray(mean)[:, None, None]) / np.asarray(std)[:, None, None]


def _random_stats(rng) -> tuple[list[float], list[float]]:
    return ([float(v) for v in np.round(rng.uniform(0.3, 0.6, 3), 3)],
            [float(v) for v in np.round(rng.uniform(0.15, 0.3, 3), 3)])


def test_channel_stats(probe, rng):
    side = int(rng.integers(8, 20))
    # images of different contrasts and brightnesses: the std over all pixels differs from the mean of the
    # per-image stds and from a per-image normalisation
    noise = rng.uniform(-1, 1, (12, side, side, 3)) * rng.uniform(10, 120, (12, 1, 1, 1))
    images = np.clip(noise + rng.uniform(60, 190, (12, 1, 1, 3)), 0, 255).astype(np.uint8)
    mean, std = _population_stats(images)
    got = probe("channel_stats", images=images)
    for form, (got_mean, got_std) in got.items():
        where = f"data.channel_stats({'a uint8 (N, H, W, C) array' if form == 'uint8' else 'a (N, C, H, W) tensor'})"
        assert_close(np.asarray(got_mean), mean, f"{where}: the per-channel mean on the [0, 1] scale",
                     rtol=1e-4, atol=1e-5)
        per_image = (images.astype(np.float64) / 255).std(axis=(1, 2)).mean(axis=0)
        if np.allclose(got_std, per_image, rtol=1e-4, atol=1e-5) and not np.allclose(per_image, std, rtol=1e-3):
            raise CheckFailed(f"{where}: the std is the mean of the per-image standard deviations (how the course's "
                              "constants 0.202, 0.199, 0.201 were obtained); 3.1 asks for the standard deviation "
                              "over all the pixels of all the images of each channel (population std)")
        assert_close(np.asarray(got_std), std, f"{where}: the per-channel standard deviation over all the pixels "
                     "of all the images (population std, on the [0, 1] scale)", rtol=1e-4, atol=1e-5)


def test_normalisation_uses_train_statistics(probe, rng):
    train = _images(rng, 10, [0, 40, 90], [150, 220, 255])
    test = _images(rng, 6, [100, 0, 0], [255, 120, 180])
    mean, std = _population_stats(train)
    got = probe("datasets", train_X=train, train_Y=rng.integers(0, 10, 10), test_X=test, test_Y=rng.integers(0, 10, 6),
                augment=False, normalize=True)
    where = "data.datasets_from_arrays(..., augment=False, normalize=True)"
    assert_close(expect_array(got["train"], f"{where}: the training images", (10, 3, 32, 32)),
                 _normalised(train, mean, std), f"{where}: a training image standardised with the training set's "
                 "per-channel mean and std", rtol=1e-3, atol=1e-4)
    test_images = expect_array(got["test"], f"{where}: the test images", (6, 3, 32, 32))
    if np.allclose(test_images, _normalised(test, *_population_stats(test)), rtol=1e-3, atol=1e-4):
        raise CheckFailed(f"{where}: the test images are standardised with the TEST set's statistics; use the "
                          "statistics of the training set for both splits")
    assert_close(test_images, _normalised(test, mean, std), f"{where}: a test image standardised with the "
                 "TRAINING set's per-channel mean and std", rtol=1e-3, atol=1e-4)


def _steps(got) -> str:
    return ", ".join(step["type"] for step in got["steps"])


def _candidates(image: np.ndarray, crop: int) -> dict[tuple[int, int, bool], np.ndarray]:
    """Every crop (top, left) of a (3, H, W) image, unflipped and mirrored."""
    side = image.shape[-1]
    out = {}
    for top in range(side - crop + 1):
        for left in range(side - crop + 1):
            patch = image[:, top:top + crop, left:left + crop]
            out[top, left, False], out[top, left, True] = patch, patch[..., ::-1]
    return out


def test_train_transforms(probe, rng):
    images = _images(rng, 4, [0, 0, 0], [255, 255, 255])
    mean, std = _random_stats(rng)
    repeats = 24
    got = probe("transforms", split="train", mean=mean, std=std, augment=True, crop=CROP, images=images,
                repeats=repeats)
    where = f"data.train_transforms(mean, std, augment=True, crop={CROP}) [{_steps(got)}]"
    outputs = expect_array(got["outputs"], f"{where}: the transformed images", (4, repeats, 3, CROP, CROP))
    positions, flips = set(), []
    for image, results in zip(_normalised(images, mean, std), outputs):
        candidates = _candidates(image, CROP)
        for result in results:
            match = next((key for key, patch in candidates.items() if np.allclose(result, patch, atol=1e-4)), None)
            if match is None:
                raise CheckFailed(f"{where}: an output is not a {CROP}×{CROP} crop of the image (or of its mirror) "
                                  "standardised with Normalize(mean, std)")
            positions.add(match[:2])
            flips.append(match[2])
    tops, lefts = {p[0] for p in positions}, {p[1] for p in positions}
    if len(positions) < 8 or len(tops) < 3 or len(lefts) < 3:
        raise CheckFailed(f"{where}: the crops should be taken at random positions (RandomCrop({CROP})); only "
                          f"{len(positions)} different positions over {len(flips)} calls")
    if not 0.2 <= np.mean(flips) <= 0.8:
        raise CheckFailed(f"{where}: {np.mean(flips):.0%} of the outputs are mirrored; expected about half "
                          "(RandomHorizontalFlip)")
    plain = probe("transforms", split="train", mean=mean, std=std, augment=False, crop=CROP, images=images[:2],
                  repeats=2)
    assert_close(expect_array(plain["outputs"], "data.train_transforms(mean, std, augment=False): the outputs",
                              (2, 2, 3, 32, 32)),
                 np.repeat(_normalised(images[:2], mean, std)[:, None], 2, axis=1),
                 f"data.train_transforms(mean, std, augment=False) [{_steps(plain)}]: the whole image after "
                 "ToTensor and Normalize(mean, std)", rtol=1e-4, atol=1e-4)


def test_test_transforms(probe, rng):
    images = _images(rng, 6, [0, 0, 0], [255, 255, 255])
    mean, std = _random_stats(rng)
    margin = (32 - CROP) // 2
    for augment, normalise, side in ((True, True, CROP), (False, True, 32), (True, False, CROP)):
        stats = (mean, std) if normalise else (None, None)
        got = probe("transforms", split="test", mean=stats[0], std=stats[1], augment=augment, crop=CROP,
                    images=images, repeats=2)
        shown = f"mean, std, augment={augment}" if normalise else f"None, None, augment={augment}"
        where = f"data.test_transforms({shown}) [{_steps(got)}]"
        outputs = expect_array(got["outputs"], f"{where}: the transformed images", (6, 2, 3, side, side))
        want = _normalised(images, *stats)
        if augment:
            want = want[..., margin:margin + CROP, margin:margin + CROP]
            what = f"the CENTER {CROP}×{CROP} crop (deterministic: no random crop, no flip on test images)"
        else:
            what = "the whole image"
        what += " after ToTensor" + (" and Normalize(mean, std)" if normalise else " only (mean=None: no Normalize)")
        assert_close(outputs, np.repeat(want[:, None], 2, axis=1), f"{where}: {what}", rtol=1e-4, atol=1e-4)
