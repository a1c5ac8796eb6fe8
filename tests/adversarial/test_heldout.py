"""Issue 18 class 2: accuracy checks cannot pass without training. Each cheat is a tp1_mlp submission that
scored on the accuracy checks before the fix; graded on the check it attacks (one short grading each,
two at a time, ~40 s in all on two busy cores),
it must now gain nothing (the image check with 1000 training images: the cheats do not train):

- held-out data regenerated from the public seed (the seed reaches the worker; the private generator now
  derives from a per-grading key the worker never sees, and the cheat does not find it);
- a table of pixel hashes of the public Fashion-MNIST test split, and a 5-nearest-neighbour vote over public
  images, behind a model with the handout's parameter shapes (the grader predicts with the handout's MLP
  and the trained weights, never with the student's ``forward``; the held-out images never reach the
  worker, and are disguised so that no table recognises them anyway);
- predictions that do not come from the returned weights (a radius rule on the circles), and a deeper
  network than the handout's (the architecture check names the extra layers);
- weights trained elsewhere on the public labels, shipped and returned without training (the worker sees
  the classes under private names).

Each test also measures, in this process, what the cheat would score if its predictions counted.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest
import yaml

from autograder import config, data
from autograder.check_context import private_rng
from autograder.grade import Options, grade_one
from autograder.graders.tp1_mlp.test_accuracy import _circles
from autograder.submissions import Submission
from tests.adversarial.corpus import SOLUTION, folder
from tests.inprocess import seed_of

KEY = "5f0c2d9e8a7b41c3a6e0d2f4b8c1e7a9"  # this module's grading key (fixed: deterministic draws)
ASSIGNMENT = "tp1_mlp"
CIRCLES, FASHION = "test_accuracy.py::test_circles[{}]", "test_accuracy.py::test_fashion_mnist"

REGENERATE = '''
import hashlib
import pathlib

import numpy as np

import data as circles_data

_honest_train_manual = train_manual


def _old_private_points(seed):
    """The held-out circles as the grader drew them before the fix: from sha256(f"{seed}|private")."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(f"{seed}|private".encode()).digest()[:8], "big"))
    split = circles_data.circles(n_train=200, n_test=400, seed=int(rng.integers(2**31)))
    return split["Xtest"][200:], split["Ytest"][200:]


def _key_seen(key):
    """Whether the grading key shows anywhere a well-informed attacker would look: the environment, every
    readable process's command line and environment, and the files those command lines name."""
    texts = [repr(dict(__import__("os").environ))]
    for proc in pathlib.Path("/proc").glob("[0-9]*"):
        for name in ("cmdline", "environ"):
            try:
                texts.append((proc / name).read_bytes().replace(b"\\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    for word in " ".join(texts).split():
        if word.startswith("--key-file="):
            try:
                texts.append(pathlib.Path(word.partition("=")[2]).read_text())
            except OSError:
                pass
    return any(key in text for text in texts)


def train_manual(data, nh=10, eta=0.03, batch_size=10, epochs=150, seed=0, quiet=False):
    held_X, held_Y = _old_private_points(seed)
    augmented = {**data, "Xtrain": torch.cat([data["Xtrain"], held_X]), "Ytrain": torch.cat([data["Ytrain"], held_Y])}
    params, history = _honest_train_manual(augmented, nh, eta, batch_size, epochs, seed, quiet)
    history["regenerated"] = held_X[:5].flatten().tolist()
    history["key_seen"] = [float(_key_seen("@KEY@"))]
    return params, history
'''

#: train_mnist returns the handout's MLP, untrained, whose forward answers from a shipped table
PIXEL_TABLE = '''
import hashlib
import pathlib

import numpy as np

_TABLE = np.load(pathlib.Path(__file__).with_name("table.npz"))


class _TableMLP(torch.nn.Sequential):
    def __init__(self):
        super().__init__(torch.nn.Linear(784, 100), torch.nn.Tanh(), torch.nn.Linear(100, 10))
        self.labels = dict(zip(_TABLE["hashes"].tolist(), _TABLE["labels"].tolist()))

    def forward(self, X):
        pixels = (X * 255).round().to(torch.uint8).numpy()
        found = [self.labels.get(int.from_bytes(hashlib.sha256(row.tobytes()).digest()[:8], "big"), 0)
                 for row in pixels]
        return torch.nn.functional.one_hot(torch.tensor(found), 10).float()


def train_mnist(data, nh=100, eta=0.03, batch_size=10, epochs=5, seed=0, quiet=False, device="cpu"):
    return _TableMLP(), {"loss": [0.0]}
'''

#: the same with a 5-nearest-neighbour vote over shipped public training images
NEAREST = '''
import pathlib

import numpy as np

_SHIPPED = np.load(pathlib.Path(__file__).with_name("neighbours.npz"))


class _NeighboursMLP(torch.nn.Sequential):
    def __init__(self):
        super().__init__(torch.nn.Linear(784, 100), torch.nn.Tanh(), torch.nn.Linear(100, 10))
        self.images = torch.tensor(_SHIPPED["images"]).reshape(len(_SHIPPED["images"]), -1).float() / 255
        self.classes = torch.tensor(_SHIPPED["labels"])

    def forward(self, X):
        nearest = torch.cdist(X.float(), self.images).topk(5, largest=False).indices
        votes = torch.nn.functional.one_hot(self.classes[nearest], 10).sum(dim=1)
        return votes.float()


def train_mnist(data, nh=100, eta=0.03, batch_size=10, epochs=5, seed=0, quiet=False, device="cpu"):
    return _NeighboursMLP(), {"loss": [0.0]}
'''

#: train_mnist returns weights trained before the grading (on the public labels), without training
PRETRAINED = '''
import pathlib

import numpy as np


def train_mnist(data, nh=100, eta=0.03, batch_size=10, epochs=5, seed=0, quiet=False, device="cpu"):
    shipped = np.load(pathlib.Path(__file__).with_name("weights.npz"))
    model = torch.nn.Sequential(torch.nn.Linear(784, nh), torch.nn.Tanh(), torch.nn.Linear(nh, 10))
    model.load_state_dict({name: torch.tensor(value) for name, value in shipped.items()})
    return model, {"loss": [0.0]}
'''

#: train_optim returns the handout's Sequential, untrained, whose forward tells the circles by their radius
RADIUS = '''
class _RadiusRule(torch.nn.Sequential):
    def forward(self, X):
        inner = (X.norm(dim=1) < 1.5).long()
        return torch.nn.functional.one_hot(inner, 2).float()


def train_optim(data, nh=10, eta=0.03, batch_size=10, epochs=500, seed=0, quiet=False):
    nx, ny = data["Xtrain"].shape[1], data["Ytrain"].shape[1]
    return _RadiusRule(torch.nn.Linear(nx, nh), torch.nn.Tanh(), torch.nn.Linear(nh, ny)), {"loss": [0.0]}
'''

#: train_nn trains a deeper network than the handout's Linear -> Tanh -> Linear
DEEPER = '''
def train_nn(data, nh=10, eta=0.03, batch_size=10, epochs=500, seed=0, quiet=False):
    torch.manual_seed(seed)
    nx, ny = data["Xtrain"].shape[1], data["Ytrain"].shape[1]
    model = torch.nn.Sequential(torch.nn.Linear(nx, 32), torch.nn.Tanh(), torch.nn.Linear(32, 32), torch.nn.Tanh(),
                                torch.nn.Linear(32, ny))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    labels = data["Ytrain"].argmax(dim=1)
    for _ in range(300):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(data["Xtrain"]), labels).backward()
        optimizer.step()
    return model, {"loss": [0.0]}
'''


def pixel_hashes(images: np.ndarray) -> np.ndarray:
    """The cheat's key of each uint8 image (N, 28, 28): the first 8 bytes of the sha256 of its pixels."""
    return np.array([int.from_bytes(hashlib.sha256(image.tobytes()).digest()[:8], "big") for image in images],
                    dtype=np.uint64)


def knn_votes(shipped: tuple[np.ndarray, np.ndarray], images: np.ndarray) -> np.ndarray:
    """The cheat's 5-nearest-neighbour vote (N,) over the shipped images for uint8 ``images`` (N, 28, 28)."""
    import torch

    reference = torch.tensor(shipped[0]).reshape(len(shipped[0]), -1).float() / 255
    nearest = torch.cdist(torch.tensor(images).reshape(len(images), -1).float() / 255, reference)
    votes = torch.nn.functional.one_hot(torch.tensor(shipped[1])[nearest.topk(5, largest=False).indices], 10)
    return votes.sum(dim=1).argmax(dim=1).numpy()


def flat(images: np.ndarray):
    """uint8 images (N, 28, 28) as the MLP's inputs (N, 784) in [0, 1]."""
    import torch

    return torch.tensor(images).reshape(len(images), -1).float() / 255


@pytest.fixture(scope="module")
def public():
    """The public Fashion-MNIST test split, 5000 public training images, and the reference MLP trained on
    those with their public labels (what the cheats ship)."""
    import torch

    from autograder import reference

    root = data.root()
    test = data.images(root, "FashionMNIST", False)
    train = data.subset(root, "FashionMNIST", True, 5000, np.random.default_rng(0))
    split = {"Xtrain": flat(train[0]), "Ytrain": torch.nn.functional.one_hot(torch.tensor(train[1]), 10).float(),
             "Xtest": flat(test[0][:500]), "Ytest": torch.nn.functional.one_hot(torch.tensor(test[1][:500]), 10).float()}
    model, _ = reference.module(ASSIGNMENT, "train").train_mnist(split, epochs=3, quiet=True)
    return {"test": test, "train": train, "model": model}


@pytest.fixture(scope="module")
def graded(public, tmp_path_factory):
    """Each cheat graded on the check it attacks, with this module's key."""
    root = tmp_path_factory.mktemp("heldout")
    grading = yaml.safe_load((config.ROOT / "grading.yml").read_text(encoding="utf-8"))
    fashion = next(c for c in grading["assignments"][ASSIGNMENT]["checks"] if c["id"] == FASHION)
    fashion["budget"]["n_train"] = 1000
    (root / "grading.yml").write_text(yaml.safe_dump(grading, sort_keys=False), encoding="utf-8")
    options = Options(key=KEY, grading_path=root / "grading.yml")
    table = root / "table.npz"
    np.savez(table, hashes=pixel_hashes(public["test"][0]), labels=public["test"][1])
    neighbours = root / "neighbours.npz"
    np.savez(neighbours, images=public["train"][0], labels=public["train"][1])
    weights = root / "weights.npz"
    np.savez(weights, **{name: value.detach().numpy() for name, value in public["model"].state_dict().items()})
    cheats = {"regenerate_from_seed": ({"train.py": REGENERATE}, {}, CIRCLES.format("manual")),
              "pixel_table": ({"train.py": PIXEL_TABLE}, {"table.npz": table.read_bytes()}, FASHION),
              "nearest_neighbours": ({"train.py": NEAREST}, {"neighbours.npz": neighbours.read_bytes()}, FASHION),
              "pretrained_weights": ({"train.py": PRETRAINED}, {"weights.npz": weights.read_bytes()}, FASHION),
              "radius_rule": ({"train.py": RADIUS}, {}, CIRCLES.format("optim")),
              "deeper_network": ({"train.py": DEEPER}, {}, CIRCLES.format("nn"))}

    def grade(name: str) -> tuple[str, dict]:
        append, files, check = cheats[name]
        path = folder(SOLUTION, append=append, files=files)(root / name, {"KEY": KEY})
        return name, grade_one(Submission(name, path, ASSIGNMENT), root / "out", replace(options, only=(check,)))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(grade, cheats))


def _outcome(document: dict) -> tuple[dict, dict]:
    (test,) = document["tests"]
    return test, document["extra_data"]["records"][test["name"]]


def test_held_out_circles_are_not_regenerated_from_the_seed_and_the_key_stays_hidden(graded):
    document = graded["regenerate_from_seed"]
    test, record = _outcome(document)
    assert document["extra_data"]["keys"] == {"cpu": KEY}
    assert record["history"]["key_seen"] == [0.0], "the worker found the grading key"
    seed = seed_of(config.load().seed, "regenerate_from_seed", test["name"])
    regenerated = np.array(record["history"]["regenerated"])
    old_rng = np.random.default_rng(int.from_bytes(hashlib.sha256(f"{seed}|private".encode()).digest()[:8], "big"))
    before_the_fix = _circles(int(old_rng.integers(2**31)))["held_X"][:5].flatten()
    assert np.allclose(regenerated, before_the_fix)  # the cheat did get the public seed ...
    held = _circles(int(private_rng(KEY, seed).integers(2**31)))["held_X"][:5].flatten()
    assert not np.allclose(regenerated, held)  # ... but the held-out circles no longer follow from it


def test_pixel_table_over_the_public_test_split_scores_nothing(graded, public):
    test, record = _outcome(graded["pixel_table"])
    assert test["score"] == 0 and record["accuracy"] < 0.3, test["output"]
    images, labels = public["test"]
    table = dict(zip(pixel_hashes(images).tolist(), labels.tolist()))
    disguised = data.disguised(images[:2000], np.random.default_rng(1))
    hits = np.mean([h in table for h in pixel_hashes(disguised).tolist()])
    print(f"pixel table: graded accuracy {record['accuracy']:.3f}; it knows 100% of the public test images "
          f"and {hits:.1%} of them disguised")
    assert hits < 0.01


def test_nearest_neighbours_over_public_images_scores_nothing(graded, public):
    test, record = _outcome(graded["nearest_neighbours"])
    assert test["score"] == 0 and record["accuracy"] < 0.3, test["output"]
    images, labels = public["test"]
    disguised = data.disguised(images[:1000], np.random.default_rng(2))
    would_score = float(np.mean(knn_votes(public["train"], disguised) == labels[:1000]))
    print(f"5-NN over 5000 public images: graded accuracy {record['accuracy']:.3f}; its own votes on disguised "
          f"held-out images would score {would_score:.3f}")
    assert would_score > 0.7  # a real threat, had its predictions counted


def test_weights_trained_before_the_grading_score_nothing(graded, public):
    test, record = _outcome(graded["pretrained_weights"])
    assert test["score"] == 0 and record["accuracy"] < 0.4, test["output"]
    images, labels = public["test"]
    disguised = data.disguised(images[500:2500], np.random.default_rng(3))
    would_score = float(np.mean(public["model"](flat(disguised)).argmax(dim=1).numpy() == labels[500:2500]))
    print(f"pretrained weights: graded accuracy {record['accuracy']:.3f}; under the public class names they "
          f"would score {would_score:.3f}")
    assert would_score > 0.75


def test_predictions_that_do_not_come_from_the_weights_score_nothing(graded):
    test, record = _outcome(graded["radius_rule"])
    assert test["score"] == 0 and record["accuracy"] < 0.8, test["output"]
    seed = seed_of(config.load().seed, "radius_rule", test["name"])
    held = _circles(int(private_rng(KEY, seed).integers(2**31)))
    would_score = float(np.mean((np.linalg.norm(held["held_X"], axis=1) < 1.5) == held["held_Y"]))
    print(f"radius rule: graded accuracy {record['accuracy']:.3f}; its own predictions would score {would_score:.3f}")
    assert would_score >= 0.9


def test_a_network_other_than_the_handouts_is_named(graded):
    test, record = _outcome(graded["deeper_network"])
    assert test["score"] == 0 and "accuracy" not in record
    assert "not the architecture the handout asks for" in test["output"] and "4.weight" in test["output"]


def test_each_grading_draws_a_fresh_key_unless_given_one(tmp_path):
    """(in process, < 0.1 s) A grader without ``--key-file`` draws its own key; with one, it reads it."""
    from types import SimpleNamespace

    from autograder.plugin import Grader

    fresh = {Grader(SimpleNamespace(grading=None, key_file=None)).key for _ in range(3)}
    assert len(fresh) == 3 and all(len(key) == 32 for key in fresh)
    (tmp_path / "key").write_text(f"{KEY}\n")
    assert Grader(SimpleNamespace(grading=None, key_file=tmp_path / "key")).key == KEY
