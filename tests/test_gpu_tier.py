"""The gpu tier's code runs on the CPU with tiny budgets: real Fashion-MNIST images written in MNIST's
exact IDX format stand in for MNIST, and a grading.yml copy shrinks the gpu checks' budgets."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import yaml

from autograder import config, data, samples
from autograder.grade import Options, grade_one
from autograder.judges.accuracy import training_budget
from autograder.submissions import Submission
from autograder.workers import Worker

#: gpu check -> (tiny cpu budget, threshold calibrated for that budget on the stand-in data)
TINY = {
    ("tp1_mlp", "test_accuracy.py::test_mnist"): (
        {"n_train": 3000, "n_monitor": 250, "n_held": 1000, "nh": 100, "eta": 0.03, "batch_size": 10, "epochs": 2, "device": "cpu"}, 0.70),
    ("tp3_vit", "test_train.py::test_mnist"): (
        {"n_train": 3000, "n_monitor": 200, "n_held": 800, "epochs": 2, "batch_size": 128, "lr": 0.001,
         "model": {"patch_size": 14, "embed_dim": 32, "nb_blocks": 1, "num_heads": 4}, "device": "cpu"}, 0.55),
    ("tp3_vit", "test_timm.py::test_finetune_mnist[scratch]"): (  # timm's tiny test ViT, 2 steps: the path, not
        {"n_train": 128, "n_monitor": 32, "n_held": 64, "epochs": 1, "batch_size": 64, "lr": 0.0005,  # the learning
         "model_name": "test_vit", "device": "cpu"}, 0.0),
}
#: gpu checks that need a download: the same tiny budget, run offline (HF_HUB_OFFLINE=1) to see them skipped
OFFLINE = {("tp3_vit", "test_timm.py::test_finetune_mnist[imagenet]"): TINY["tp3_vit", "test_timm.py::test_finetune_mnist[scratch]"]}


def write_idx(path, array: np.ndarray) -> None:
    """An IDX file as MNIST ships it: magic (0, 0, type 0x08 = uint8, ndim), big-endian sizes, raw bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, prefix, size in ((True, "train", 6000), (False, "t10k", 2000)):
        pictures, labels = data.subset(data.root(), "FashionMNIST", split, size, rng)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", pictures)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root


@pytest.fixture(scope="module")
def tiny_grading(tmp_path_factory):
    raw = yaml.safe_load((config.ROOT / "grading.yml").read_text())
    for (assignment, check_id), (budget, threshold) in {**TINY, **OFFLINE}.items():
        entry = next(c for c in raw["assignments"][assignment]["checks"] if c["id"] == check_id)
        entry.update(budget=budget, threshold=threshold, timeout=300)
    path = tmp_path_factory.mktemp("grading") / "grading.yml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def test_idx_files_read_back_through_torchvision(mnist_root):
    pictures, labels = data.images(mnist_root, "MNIST", False)
    assert pictures.shape == (2000, 28, 28) and labels.shape == (2000,) and labels.max() == 9


@pytest.mark.parametrize("assignment, check_id", list(TINY))
def test_gpu_check_runs_on_cpu_and_passes_for_the_reference(mnist_root, tiny_grading, tmp_path, assignment, check_id):
    folder = samples.reference_copy(assignment, tmp_path / "reference")
    options = Options(tier="gpu", only=(check_id,), data=mnist_root, grading_path=tiny_grading)
    document = grade_one(Submission("reference", folder, assignment), tmp_path / "out", options)
    test = document["tests"][0]
    assert test["status"] == "passed", test["output"]
    assert document["extra_data"]["records"][check_id]["accuracy"] >= TINY[assignment, check_id][1]


def test_gpu_check_is_skipped_with_a_reason_without_cuda_or_data(tmp_path):
    folder = samples.reference_copy("tp1_mlp", tmp_path / "reference")
    options = Options(tier="gpu", only=("test_accuracy.py::test_mnist",), data=tmp_path / "empty")
    document = grade_one(Submission("reference", folder, "tp1_mlp"), tmp_path / "out", options)
    test = document["tests"][0]
    assert test["status"] == "failed" and test["score"] == 0
    assert test["output"].startswith("skipped: gpu tier:")


def test_pretrained_finetuning_is_skipped_with_the_reason_offline(mnist_root, tiny_grading, tmp_path, monkeypatch):
    """The fine-tuning from ImageNet weights (0 points) where they cannot be downloaded: skipped, reason given."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (assignment, check_id), = OFFLINE
    folder = samples.reference_copy(assignment, tmp_path / "reference")
    options = Options(tier="gpu", only=(check_id,), data=mnist_root, grading_path=tiny_grading)
    document = grade_one(Submission("reference", folder, assignment), tmp_path / "out", options)
    test = document["tests"][0]
    assert test["output"].startswith("skipped: gpu tier: the ImageNet weights") and "HF_HUB_OFFLINE=1" in test["output"]
    assert test["score"] == 0 and test["max_score"] == 0


CIFAR_PROBES = [("tp2_cnn", "test_accuracy.py::test_cifar10[baseline]"),
                ("tp2_cnn", "test_accuracy.py::test_cifar10[augmentation]"),
                ("tp2_cnn", "test_accuracy.py::test_cifar10[dropout]"),
                ("recvis_a2", "test_training.py::test_cifar10")]


@pytest.mark.parametrize("assignment, check_id", CIFAR_PROBES)
def test_cifar10_probes_run_each_configuration_on_cpu(tmp_path, assignment, check_id):
    """The CIFAR-10 checks' training probes (fast data path: crops, flips, normalisation on the device) with
    grading.yml's settings, on CIFAR-shaped colour images (N, 32, 32, 3) and one short epoch on the CPU.
    (Real CIFAR-10 cannot be faked here: torchvision checks its files' md5.)"""
    settings = training_budget(config.load().assignment(assignment).check(check_id).budget)
    settings.update(epochs=1, device="cpu")
    rng = np.random.default_rng(0)
    pictures, labels = data.subset(data.root(), "FashionMNIST", True, 300, rng)
    padded = np.pad(pictures, ((0, 0), (2, 2), (2, 2)))
    colour = np.stack([padded, 255 - padded, rng.integers(0, 256, padded.shape)], -1).astype(np.uint8)
    arrays = {"train_X": colour[:200], "train_Y": labels[:200], "monitor_X": colour[200:250],
              "monitor_Y": labels[200:250]}
    with Worker(samples.reference_copy(assignment, tmp_path / "reference")) as worker:
        got = worker.call(f"autograder.graders.{assignment}.probes:train", 300, 0, **arrays, budget=settings,
                          train_seed=1)
    assert got["state"] and all(np.all(np.isfinite(value)) for value in got["state"].values())
    assert all(len(curve) == 1 for curve in got["history"].values())
