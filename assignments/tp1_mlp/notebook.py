"""Master notebook of tp1_mlp (RDFIA 1-ab): the handout of statement.md with the experiments and checks.

``build()`` returns the otter master notebook; ``autograder release`` runs it through ``otter assign``.
Experiments run with small budgets (``budget(normal, tiny)``; tiny in the kit's tests, where
``AUTOGRADER_TINY=1``).
"""

from autograder.notebooks import Checks, Code, handout, setup

SETUP = setup('''
import os

import matplotlib.pyplot as plt
import torch

import autograd_mlp
import data
import manual
import nn_mlp
import optim_mlp
import svm
import train
''', "DATA/FashionMNIST/raw/...", '''
circles = data.circles(n_train=200, n_test=200, seed=SEED)
X_train, y_train, X_test, y_test = svm.to_numpy(circles)
print({name: tuple(value.shape) for name, value in circles.items()})
''')

MANUAL = Code('''
params, history = train.train_manual(circles, epochs=budget(150, 15), seed=SEED, quiet=True)
print(f"manual MLP: test accuracy {history['test_acc'][-1]:.1%} after {len(history['test_acc'])} epochs")
train.plot_history(history, title="forward and backward by hand")
plt.show()


def predict_with(trained_params):
    def predict(points):
        scores, _ = manual.forward(trained_params, torch.as_tensor(points, dtype=torch.float32))
        return scores.argmax(dim=1).numpy()
    return predict


svm.plot_decision_boundary(predict_with(params), X_test, y_test, title="MLP frontier (test points)")
plt.show()
''')

AUTOGRAD = Code('''
params_autograd, history_autograd = train.train_autograd(circles, epochs=budget(150, 15), seed=SEED, quiet=True)
gap = max(abs(a - b) for a, b in zip(history["train_loss"], history_autograd["train_loss"]))
print(f"autograd MLP: test accuracy {history_autograd['test_acc'][-1]:.1%}; "
      f"largest gap with the manual training loss: {gap:.2e} (same seed: about 1e-7)")
''')

NN = Code('''
model_nn, history_nn = train.train_nn(circles, epochs=budget(500, 15), seed=SEED, quiet=True)
print(f"torch.nn MLP: test accuracy {history_nn['test_acc'][-1]:.1%}")
print(model_nn)
train.plot_history(history_nn, title="torch.nn layers, manual update")
plt.show()
''')

OPTIM = Code('''
model_optim, history_optim = train.train_optim(circles, epochs=budget(500, 15), seed=SEED, quiet=True)
gap = max(abs(a - b) for a, b in zip(history_nn["train_loss"], history_optim["train_loss"]))
print(f"torch.optim MLP: test accuracy {history_optim['test_acc'][-1]:.1%}; gap with train_nn: {gap:.2e}")
''')

IMAGES = Code('''
try:
    images = data.image_data(DATA, "fashion_mnist", n_train=budget(10000, 400), n_test=budget(2000, 200), seed=SEED)
except FileNotFoundError as error:  # no data: say how to get it, go on with the rest
    images = None
    print(error)
if images is not None:
    model_images, history_images = train.train_mnist(images, epochs=budget(5, 1), seed=SEED, quiet=True)
    print(f"Fashion-MNIST MLP: test accuracy {history_images['test_acc'][-1]:.1%}")
    train.plot_history(history_images, title="MLP on Fashion-MNIST")
    plt.show()
''')

SVM = Code('''
svms = svm.fit_svms(circles, C=1.0)
print({name: f"{accuracy:.1%}" for name, accuracy in svm.accuracies(svms, circles).items()})
fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for ax, (name, fitted) in zip(axes, svms.items()):
    svm.plot_decision_boundary(fitted.predict, X_test, y_test, ax=ax, title=name)
plt.show()

Cs = [0.01, 0.1, 1.0, 10.0, 100.0]
sweep = svm.sweep_C(circles, Cs)
plt.semilogx([c for c, _ in sweep], [accuracy for _, accuracy in sweep], marker="o")
plt.xlabel("C")
plt.ylabel("test accuracy (RBF SVC)")
plt.show()
''')

ABLATIONS = Code('''
# 50 epochs per run to keep the notebook quick: raise it (150 in the handout) for your report
runs = {}
for eta in (0.3, 0.03, 0.001):
    _, runs[f"eta={eta}"] = train.train_manual(circles, eta=eta, epochs=budget(50, 8), seed=SEED, quiet=True)
for batch_size in (1, 10, 200):
    _, runs[f"batch_size={batch_size}"] = train.train_manual(circles, batch_size=batch_size,
                                                             epochs=budget(50, 8), seed=SEED, quiet=True)

print(f"{'run':<16} {'train loss':>10} {'train acc':>9} {'test acc':>8}")
for name, run in runs.items():
    print(f"{name:<16} {run['train_loss'][-1]:>10.3f} {run['train_acc'][-1]:>9.1%} {run['test_acc'][-1]:>8.1%}")

fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, prefix in zip(axes, ("eta", "batch_size")):
    for name, run in runs.items():
        if name.startswith(prefix):
            ax.plot(range(1, len(run["train_loss"]) + 1), run["train_loss"], label=name)
    ax.set(xlabel="epoch", ylabel="train loss", yscale="log")
    ax.legend()
plt.show()
''')


def build():
    return handout("tp1_mlp", SETUP, {
        "1.2.1 Forward and backward": [MANUAL, Checks("manual", "test_manual.py::*", "Checks of manual.py")],
        "1.2.2 Backward with": [AUTOGRAD, Checks("autograd", "test_torch.py::test_autograd*",
                                                 "Checks of autograd_mlp.py")],
        "1.2.3 Forward with": [NN, Checks("nn", "test_torch.py::test_nn*", "Checks of nn_mlp.py")],
        "1.2.4 Update with": [OPTIM, Checks("optim", "test_torch.py::test_optim*", "Checks of optim_mlp.py")],
        "before:Compare the learning curves on images": [IMAGES],
        "before:Why do the linear SVMs fail": [SVM, Checks("svm", "test_accuracy.py::test_svm*", "Checks of svm.py")],
        "before:Discuss and analyse your experiments": [ABLATIONS],
    })
