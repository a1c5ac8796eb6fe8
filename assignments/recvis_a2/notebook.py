"""Master notebook of recvis_a2 (RecVis assignment 2): the handout of statement.md with experiments and checks.

``build()`` returns the otter master notebook; ``autograder release`` runs it through ``otter assign``.
Part 3 trains on CIFAR-10 when it is in the data folder, else on Fashion-MNIST made 3×32×32 (grey images
padded and repeated over three channels); budgets are small (``budget(normal, tiny)``; tiny in the kit's
tests, ``AUTOGRADER_TINY=1``).
"""

from autograder.notebooks import Checks, Code, handout, setup

SETUP = setup('''
import os

import matplotlib.pyplot as plt
import numpy as np
import torch

import blocks
import convnet
import data
import experiments
import twolayer
''', "DATA/cifar-10-batches-py, DATA/FashionMNIST/raw", '''
Xtr, Ytr, Xval, Yval = data.double_moon(n_train=1000, n_val=1000, seed=SEED)
print("double moon:", Xtr.shape, Ytr.shape, Xval.shape, Yval.shape)
''')

FORWARD = Code('''
print("sigm(-1000), sigm(0), sigm(1000):", twolayer.sigm(-1000.0), twolayer.sigm(0.0), twolayer.sigm(1000.0))
rng = np.random.default_rng(SEED)
Wi, bi, Wo, bo = rng.normal(size=(2, 7)), np.zeros(7), rng.normal(size=7), 0.0
Po, Yo, loss = twolayer.nnet_forward_logloss(Xtr[:5], Ytr[:5], Wi, bi, Wo, bo)
print("Po", np.round(Po, 3), "| loss", np.round(loss, 3))
''')

GRADIENTS = Code('''
grads = twolayer.gradient_nn(Xtr[0], Ytr[0], Wi, bi, Wo, bo)
numerical = twolayer.gradient_nn_numerical(Xtr[0], Ytr[0], Wi, bi, Wo, bo)
for name, analytic, approx in zip(("Wi", "bi", "Wo", "bo"), grads, numerical):
    print(f"{name}: largest difference {np.max(np.abs(np.asarray(analytic) - np.asarray(approx))):.2e}")
print(twolayer.gradcheck(trials=budget(1000, 50), seed=SEED))
''')

TRAINING = Code('''
tr_error, val_error, *trained = twolayer.train_loop(Xtr, Ytr, Xval, Yval, h=7, lrate=0.02, vis="last",
                                                    nEpochs=budget(20, 1), seed=SEED)
plt.show()
plt.plot(tr_error, label="training")
plt.plot(val_error, label="validation")
plt.xlabel("iteration")
plt.ylabel("error (%)")
plt.legend()
plt.show()
print(f"final errors: training {tr_error[-1]:.1f}%, validation {val_error[-1]:.1f}%")
''')

INITIALISATIONS = Code('''
five = experiments.five_initialisations(Xtr, Ytr, Xval, Yval, nEpochs=budget(20, 1), seed=SEED, quiet=True)
print(experiments.format_table(five))
''')

LEARNING_RATE = Code('''
sweep_lr = experiments.learning_rate_sweep(Xtr, Ytr, Xval, Yval, lrates=budget((2, 0.2, 0.02, 0.002), (2, 0.02)),
                                           trials=budget(3, 1), nEpochs=budget(10, 1), seed=SEED, quiet=True)
experiments.plot_sweep(sweep_lr)
plt.show()
''')

HIDDEN_UNITS = Code('''
hs = budget((1, 2, 5, 7, 10, 100), (1, 100))
sweep_h = experiments.hidden_units_sweep(Xtr, Ytr, Xval, Yval, hs=hs, trials=budget(3, 1), nEpochs=budget(10, 1),
                                         seed=SEED, quiet=True)
experiments.plot_sweep(sweep_h)
plt.show()
fig = plt.figure(figsize=(2.5 * len(hs), 2.6))
for index, h in enumerate(hs):
    plt.subplot(1, len(hs), index + 1)
    *_, W1, b1, W2, b2 = twolayer.train_loop(Xtr, Ytr, Xval, Yval, h=h, lrate=0.02, vis="never",
                                             nEpochs=budget(5, 1), seed=SEED)
    twolayer.decision_boundary_nnet(Xtr, Ytr, W1, b1, W2, b2)
    plt.title(f"h = {h}")
plt.show()
''')

CONVOLUTION = Code('''
image = blocks.load_image()
if TINY:  # a quarter of the size: figures of the full image take long to draw
    image = torch.nn.functional.avg_pool2d(image, 4)
blocks.show_image(image)
plt.show()
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for ax, (stride, padding) in zip(axes, ((1, 0), (16, 0), (1, 2))):
    features = blocks.conv_output(image, stride=stride, padding=padding, seed=SEED)
    expected = blocks.output_size(*image.shape[1:], k=5, s=stride, p=padding)
    agrees = "agrees with" if tuple(features.shape[2:]) == tuple(expected) else "differs from"
    blocks.vis_features(features, ax=ax)
    ax.set_title(f"stride {stride}, padding {padding}: your output_size {agrees} the convolution")
plt.show()
''')

HAND_FILTER = Code('''
response = blocks.hand_filter_response(image)  # (1, 1, H, W)
print(image.unsqueeze(0).shape, response.shape)
blocks.vis_features(response, nrow=1)
plt.title("the hand-made filter")
plt.show()
''')

RELU = Code('''
derivative = blocks.derivative_filter()
with torch.no_grad():  # no graph for a visualisation
    before = derivative(image.unsqueeze(0))  # (1, 2, H - 2, W)
after = blocks.relu_of_derivative(image)
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
blocks.vis_features(before, nrow=2, ax=axes[0])
blocks.vis_features(after, nrow=2, ax=axes[1])
axes[0].set_title("derivative filter")
axes[1].set_title("after the ReLU")
plt.show()
''')

POOLING = Code('''
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
blocks.show_image(blocks.max_pool(image, kernel=15, stride=1), ax=axes[0])
blocks.show_image(blocks.max_pool(image, kernel=15, stride=5), ax=axes[1])
axes[0].set_title("MaxPool2d(15, stride=1)")
axes[1].set_title("MaxPool2d(15, stride=5)")
plt.show()
''')

CIFAR = Code('''
def image_sets(n_train, n_test):
    """(name, train set, test set): CIFAR-10 when it is under DATA, else Fashion-MNIST as 3x32x32 in [-1, 1]."""
    try:
        train_set, test_set = convnet.get_cifar10(DATA, train_subset=n_train, test_subset=n_test)
        return "CIFAR-10", train_set, test_set
    except RuntimeError:
        import torchvision

        sets = []
        for flag, n in ((True, n_train), (False, n_test)):
            split = torchvision.datasets.FashionMNIST(DATA, train=flag)
            images = split.data[:n].float().div(255).sub(0.5).div(0.5)
            images = torch.nn.functional.pad(images, (2, 2, 2, 2), value=-1.0).unsqueeze(1).repeat(1, 3, 1, 1)
            sets.append(torch.utils.data.TensorDataset(images, split.targets[:n]))
        return "Fashion-MNIST (3x32x32)", sets[0], sets[1]


name, train_set, test_set = image_sets(budget(10000, 256), budget(2000, 128))
if name == "CIFAR-10":
    convnet.show_examples(train_set, 5)
    plt.show()
baseline = convnet.LinearNet(3072, 10)
history_linear = convnet.fit(baseline, train_set, test_set, epochs=budget(5, 1), device=DEVICE, seed=SEED,
                             quiet=True)
print(f"LinearNet on {name}: test accuracy {history_linear['test_acc'][-1]:.1f}%")
''')

CONVNET = Code('''
network = convnet.ConvNet()
print(network)
history_convnet = convnet.fit(network, train_set, test_set, epochs=budget(5, 1), device=DEVICE, seed=SEED,
                              quiet=True)
print(f"ConvNet on {name}: test accuracy {history_convnet['test_acc'][-1]:.1f}% "
      f"(LinearNet: {history_linear['test_acc'][-1]:.1f}%)")
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4))
for label, history in (("ConvNet", history_convnet), ("LinearNet", history_linear)):
    for split, style in (("train", "--"), ("test", "-")):
        ax_loss.plot(history[f"{split}_loss"], style, marker="o", label=f"{label} {split}")
        ax_acc.plot(history[f"{split}_acc"], style, marker="o", label=f"{label} {split}")
ax_loss.set(xlabel="epoch", ylabel="loss")
ax_acc.set(xlabel="epoch", ylabel="accuracy (%)")
ax_acc.legend()
plt.show()
convnet.plot_filters(network)
plt.show()
''')


def build():
    return handout("recvis_a2", SETUP, {
        "**Forward pass.**": [FORWARD],
        "Task 1.2": [GRADIENTS],
        "Task 1.4": [Checks("twolayer", "test_twolayer.py::*", "Checks of twolayer.py")],
        "Task 1.5": [TRAINING],
        "Run the training 5 times from 5 random": [INITIALISATIONS],
        "With `h = 7`, train 5 times for each `lrate": [LEARNING_RATE],
        "With `lrate = 0.02`, train 5 times for each `h": [HIDDEN_UNITS, Checks(
            "experiments", "test_experiments.py::*", "Checks of experiments.py")],
        "**Convolution.**": [CONVOLUTION],
        "Implement `hand_filter()`": [HAND_FILTER],
        "**ReLU.**": [RELU],
        "`max_pool(x, kernel=15, stride=1)`": [POOLING,
                                                       Checks("blocks", "test_blocks.py::*", "Checks of blocks.py")],
        "**Baseline.**": [CIFAR],
        "Task 3.2": [CONVNET, Checks(
            "convnet", ["test_convnet.py::*", "test_figures.py::*", "test_training.py::*"], "Checks of convnet.py")],
    })
