"""Master notebook of tp2_cnn (RDFIA 1-cd): the handout of statement.md with the experiments and checks.

``build()`` returns the otter master notebook; ``autograder release`` runs it through ``otter assign``.
Experiments run on CIFAR-10 when it is in the data folder, else on Fashion-MNIST (padded to 32×32, one
channel), with small budgets (``budget(normal, tiny)``; tiny in the kit's tests, ``AUTOGRADER_TINY=1``).
"""

from autograder.notebooks import Checks, Code, handout, setup

SETUP = setup('''
import functools
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
import torchvision
from IPython.display import Markdown, display

import ablations
import conv_math
import data
import models
import train
''', "DATA/cifar-10-batches-py, DATA/FashionMNIST/raw", '''
def image_arrays(n_train, n_test, name=None):
    """(name, pad, channels, (train images, labels), (test images, labels)) as uint8 numpy arrays: CIFAR-10
    when it is under DATA, else Fashion-MNIST (28x28, to be padded to 32x32 for the CIFAR network)."""
    rng = np.random.default_rng(SEED)
    candidates = [("CIFAR-10", torchvision.datasets.CIFAR10, 0, 3),
                  ("Fashion-MNIST", torchvision.datasets.FashionMNIST, 2, 1)]
    for label, dataset, pad, channels in candidates:
        if name is not None and label != name:
            continue
        try:
            splits = [dataset(DATA, train=flag) for flag in (True, False)]
        except RuntimeError:
            continue
        picked = []
        for split, n in zip(splits, (n_train, n_test)):
            images, labels = np.asarray(split.data), np.asarray(split.targets)
            keep = np.sort(rng.choice(len(labels), size=min(n, len(labels)), replace=False))
            picked.append((images[keep], labels[keep]))
        return label, pad, channels, picked[0], picked[1]
    raise FileNotFoundError(f"neither CIFAR-10 nor Fashion-MNIST found under {DATA!r}: set AUTOGRADER_DATA "
                            "(or DATA) to your torchvision data folder")


def plot_history(history):
    """Loss and accuracy per epoch of a train.main history, train and test side by side."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 3.5))
    for split in ("train", "test"):
        ax_loss.plot(history[f"{split}_loss"], marker="o", label=split)
        ax_acc.plot(history[f"{split}_acc"], marker="o", label=split)
    ax_loss.set(xlabel="epoch", ylabel="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy")
    ax_loss.legend()
    plt.show()


def layer_table(model, input_shape):
    """Output shape and parameter count of every leaf layer for one input of input_shape (C, H, W)."""
    rows, hooks = [], []
    for name, module in model.named_modules():
        if not list(module.children()):
            def hook(module, inputs, output, name=name):
                rows.append((name, tuple(output.shape[1:]), sum(p.numel() for p in module.parameters(recurse=False))))
            hooks.append(module.register_forward_hook(hook))
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *input_shape))
    for hook in hooks:
        hook.remove()
    print(f"{'layer':<10} {'output (C, H, W)':<18} {'parameters':>10}")
    for name, shape, count in rows:
        print(f"{name:<10} {str(shape):<18} {count:>10,}")
    print(f"total: {models.count_parameters(model):,} parameters")
''')

CONV_MATH = Code('''
x = torch.zeros(1, 3, 32, 32)
for p, s in ((2, 1), (2, 2), (0, 1)):
    conv = torch.nn.Conv2d(3, 1, 5, stride=s, padding=p)
    print(f"5x5 conv, p={p}, s={s}: conv_output_size = {conv_math.conv_output_size(32, 5, p, s)}, "
          f"PyTorch gives {conv(x).shape[-1]}")
print("parameters of one 5x5 filter on 3 channels (bias included):", conv_math.conv_weights(5, 3, 1))
print("fully-connected equivalent (32x32x3 -> 32x32x1):", conv_math.fc_equivalent_weights(32, 32, 3, 32, 32))
print("unshared convolution, (C, H, W) = (3, 32, 32), Q = 32:", conv_math.unshared_conv_weights(3, 32, 32, 32))
print("receptive fields of 1 and 2 stacked 5x5 convolutions:", conv_math.receptive_field([(5, 1)]),
      conv_math.receptive_field([(5, 1), (5, 1)]))
''')

MODELS = Code('''
network = models.CifarNet()
print(network)
layer_table(network, (3, 32, 32))
print()
print("with batch_norm, dropout and ceil_mode (28x28 crops):")
layer_table(models.CifarNet(batch_norm=True, dropout=True, ceil_mode=True), (3, 28, 28))
''')

LENET = Code('''
name, _, _, (x_train, y_train), (x_test, y_test) = image_arrays(budget(10000, 128), budget(2000, 64),
                                                                name="Fashion-MNIST")
train_set, test_set = data.datasets_from_arrays(x_train, y_train, x_test, y_test, augment=False, normalize=True)
train_loader, test_loader = data.get_loaders(train_set, test_set, batch_size=128, seed=SEED)
torch.manual_seed(SEED)
history_lenet = train.main(train_loader, test_loader, models.LeNet5(), epochs=budget(5, 1), lr=0.1,
                           device=DEVICE, quiet=True, seed=SEED)
print(f"LeNet-5 on {name}: test accuracy {history_lenet['test_acc'][-1]:.1%}")
plot_history(history_lenet)
''')

CIFARNET = Code('''
name, pad, channels, (x_train, y_train), (x_test, y_test) = image_arrays(budget(5000, 128), budget(1000, 64))
make_datasets = functools.partial(data.datasets_from_arrays, x_train, y_train, x_test, y_test, pad=pad)
train_set, test_set = make_datasets(augment=False, normalize=False)
train_loader, test_loader = data.get_loaders(train_set, test_set, batch_size=128, seed=SEED)
torch.manual_seed(SEED)
history_cifarnet = train.main(train_loader, test_loader, models.CifarNet(in_channels=channels),
                              epochs=budget(5, 1), lr=0.1, device=DEVICE, quiet=True, seed=SEED)
print(f"CifarNet on {name} ({len(y_train)} training images): final test accuracy "
      f"{history_cifarnet['test_acc'][-1]:.1%}")
plot_history(history_cifarnet)
''')

STATISTICS = Code('''
mean, std = data.channel_stats(x_train)
print(f"training-set statistics of {name}: mean {np.round(mean, 4)}, std {np.round(std, 4)}")
print("train transforms:", data.train_transforms(mean, std, augment=True))
print("test transforms: ", data.test_transforms(mean, std, augment=True))
''')

ABLATIONS = Code('''
histories = {}
results = ablations.run_ablations(make_datasets, epochs=budget(5, 1), lr=0.1, batch_size=128, device=DEVICE,
                                  seed=SEED, quiet=True, histories=histories, in_channels=channels)
rows = ablations.ablation_table(histories)
display(Markdown(f"**Ablations on {name}** ({len(y_train)} training images):\\n\\n" + ablations.format_table(rows)))
ablations.plot_curves(histories)
plt.show()
''')

VARIANTS = Code('''
# Question 16: the baseline again with a 10 times smaller learning rate, then with batches of 32 (the
# 2025/26 homework's variants), on the same images and from the same initial weights.
variants = {"lr 0.1, batch 128 (above)": history_cifarnet}
for lr, batch_size in ((0.01, 128), (0.1, 32)):
    loaders = data.get_loaders(train_set, test_set, batch_size=batch_size, seed=SEED)
    torch.manual_seed(SEED)
    variants[f"lr {lr}, batch {batch_size}"] = train.main(*loaders, models.CifarNet(in_channels=channels),
                                                          epochs=budget(5, 1), lr=lr, device=DEVICE, quiet=True,
                                                          seed=SEED)
ablations.plot_curves(variants)
plt.show()
''')

START = Code('''
# Question 17: the model before its first update, and the training batches of the first steps.
steps = history_cifarnet["steps"]
print(f"before training: test error {1 - history_cifarnet['start']['test_acc']:.1%}, test loss "
      f"{history_cifarnet['start']['test_loss']:.3f}")
print(f"first training step: batch error {1 - steps['acc'][0]:.1%}, batch loss {steps['loss'][0]:.3f}")
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 3.5))
ax_loss.plot(range(1, len(steps["loss"]) + 1), steps["loss"])
ax_acc.plot(range(1, len(steps["acc"]) + 1), steps["acc"])
ax_loss.set(xlabel="step", ylabel="training batch loss")
ax_acc.set(xlabel="step", ylabel="training batch accuracy")
plt.show()
''')


def build():
    return handout("tp2_cnn", SETUP, {
        "| `receptive_field(layers)`": [CONV_MATH],
        "Part 1 —": [Checks("conv_math", "test_conv_math.py::*", "Checks of conv_math.py")],
        "**To implement — `CifarNet(": [MODELS, Checks("models", "test_models.py::*", "Checks of models.py")],
        "before:**13.** Read and test": [LENET],
        "before:**15.** Use CIFAR-10": [CIFARNET],
        "before:**16 ★.**": [Checks("train", "test_train.py::*", "Checks of train.py")],
        "**16 ★.**": [VARIANTS],
        "**17.**": [START],
        "3.2 More training examples": [STATISTICS, Checks("data", "test_data.py::*", "Checks of data.py")],
        "before:**To conclude**": [ABLATIONS, Checks("ablations", "test_ablations.py::*", "Checks of ablations.py")],
    })
