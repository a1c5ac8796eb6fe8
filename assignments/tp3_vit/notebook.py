"""Master notebook of tp3_vit (RDFIA 1-e): the handout of statement.md with the experiments and checks.

``build()`` returns the otter master notebook; ``autograder release`` runs it through ``otter assign``.
Trainings use MNIST when it is in the data folder, else Fashion-MNIST, on subsets with small budgets
(``budget(normal, tiny)``; tiny in the kit's tests, ``AUTOGRADER_TINY=1``).
"""

from autograder.notebooks import Checks, Code, handout, setup

SETUP = setup('''
import os

import matplotlib.pyplot as plt
import torch

import attention
import blocks
import timm_vit
import train
import vit
''', "DATA/MNIST/raw or DATA/FashionMNIST/raw", '''
def load_digits(n_train, n_test):
    """(name, train split, test split) of MNIST, else Fashion-MNIST, on random subsets (uint8 images)."""
    for name in ("MNIST", "FashionMNIST"):
        try:
            (x_train, y_train), (x_test, y_test) = train.get_mnist(DATA, name=name)
        except FileNotFoundError:
            continue
        generator = torch.Generator().manual_seed(SEED)
        keep_train = torch.randperm(len(y_train), generator=generator)[:n_train]
        keep_test = torch.randperm(len(y_test), generator=generator)[:n_test]
        return name, (x_train[keep_train], y_train[keep_train]), (x_test[keep_test], y_test[keep_test])
    raise FileNotFoundError(f"neither MNIST nor Fashion-MNIST found under {DATA!r}: set AUTOGRADER_DATA (or DATA)")
''')

ATTENTION = Code('''
layer = attention.SelfAttention(embed_dim=16, num_heads=4)
tokens = torch.randn(2, 5, 16)
out, attn = layer(tokens, return_attention=True)
print("output", tuple(out.shape), "| attention", tuple(attn.shape),
      "| rows sum to 1:", torch.allclose(attn.sum(dim=-1), torch.ones(2, 4, 5)))
fig, axes = plt.subplots(1, 4, figsize=(10, 2.6))
for head, ax in enumerate(axes):
    ax.imshow(attn[0, head].detach(), vmin=0, vmax=1, cmap="viridis")
    ax.set_title(f"head {head}")
    ax.set_xlabel("key token")
axes[0].set_ylabel("query token")
plt.show()
''')

BLOCKS = Code('''
block = blocks.Block(embed_dim=16, num_heads=4)
print(block)
print("Block:", tuple(tokens.shape), "->", tuple(block(tokens).shape))
''')

VIT = Code('''
for case in sorted(train.CASES):
    model = train.make_case_model(case, seed=SEED)
    n_tokens = model.patch_embed.num_patches + 1
    print(f"case {case}: {train.CASES[case]} -> {n_tokens} tokens, {vit.count_parameters(model):,} parameters")
print("logits of 3 images:", tuple(vit.ViT()(torch.zeros(3, 1, 28, 28)).shape))
''')

TRAINING = Code('''
name, train_split, test_split = load_digits(budget(6000, 256), budget(1000, 128))
histories = {}
for case, settings in sorted(train.CASES.items()):
    model = train.make_case_model(case, seed=SEED)
    epochs = budget(min(settings["epochs"], 2), 1)  # the handout trains 10-20 epochs on 60,000 images
    histories[case] = train.train(model, train_split, test_split, epochs=epochs, batch_size=128, lr=1e-3,
                                  device=DEVICE, seed=SEED, quiet=True)
    print(f"case {case} ({settings}): test accuracy {histories[case]['test_acc'][-1]:.1%} on {name} after "
          f"{epochs} epoch(s) on {len(train_split[1])} images (sample report, full MNIST: "
          f"{train.REPORTED_TEST_ACC[case]:.2f}%)")

fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4))
for case, history in histories.items():
    ax_loss.plot(range(1, len(history["test_loss"]) + 1), history["test_loss"], marker="o", label=f"case {case}")
    ax_acc.plot(range(1, len(history["test_acc"]) + 1), history["test_acc"], marker="o", label=f"case {case}")
ax_loss.set(xlabel="epoch", ylabel="test loss")
ax_acc.set(xlabel="epoch", ylabel="test accuracy")
ax_acc.legend()
plt.show()

# attention of the class token to the patches in the last block of the last model, for one test image
image = train.prepare_images(test_split[0][:1]).to(DEVICE)
with torch.no_grad():  # the tokens that enter the last block
    x = model.patch_embed(image)
    x = torch.cat([model.cls_token.expand(1, -1, -1), x], dim=1) + model.pos_embed
    for layer in model.blocks[:-1]:
        x = layer(x)
    _, attn = model.blocks[-1].attn(model.blocks[-1].norm1(x), return_attention=True)
side = int(model.patch_embed.num_patches ** 0.5)
fig, (ax_image, ax_attn) = plt.subplots(1, 2, figsize=(6, 3))
ax_image.imshow(test_split[0][0, 0], cmap="gray")
ax_attn.imshow(attn[0, :, 0, 1:].mean(dim=0).reshape(side, side).cpu(), cmap="viridis")
ax_image.set_title("test image")
ax_attn.set_title("class-token attention")
for ax in (ax_image, ax_attn):
    ax.axis("off")
plt.show()
''')

TIMM = Code('''
for shape in ((1, 1, 28, 28), (1, 3, 28, 28), (1, 1, 224, 224), (1, 3, 224, 224)):
    print(shape, "->", timm_vit.default_vit_error(shape) or "no error")

timm_model = timm_vit.make_timm_vit()
print(f"timm ViT for MNIST: {vit.count_parameters(timm_model):,} parameters; ours: {vit.count_parameters(vit.ViT()):,}")
history_timm = train.train(timm_model, train_split, test_split, epochs=budget(2, 1), device=DEVICE, seed=SEED,
                           quiet=True)
print(f"timm ViT: test accuracy {history_timm['test_acc'][-1]:.1%}")
''')

FINETUNE = Code('''
PRETRAINED = False  # True where this machine has internet: timm downloads the ImageNet weights (about 20 MB)
finetuned = {}
for label, pretrained in (("from scratch", False), ("from ImageNet weights", True)):
    if pretrained and not PRETRAINED:
        print("skipped: the fine-tuning from ImageNet weights (set PRETRAINED = True where you have internet)")
        continue
    torch.manual_seed(SEED)
    model = timm_vit.make_finetune_vit(pretrained=pretrained)
    finetuned[label] = train.train(model, train_split, test_split, epochs=budget(2, 1), batch_size=128, lr=5e-4,
                                   device=DEVICE, seed=SEED, quiet=True)
    print(f"timm ViT-Tiny {label}: test accuracy {finetuned[label]['test_acc'][-1]:.1%} on {name}")
fig, ax = plt.subplots(figsize=(6, 4))
for label, history in finetuned.items():
    ax.plot(range(1, len(history["test_acc"]) + 1), history["test_acc"], marker="o", label=label)
ax.set(xlabel="epoch", ylabel="test accuracy")
ax.legend()
plt.show()
''')


def build():
    return handout("tp3_vit", SETUP, {
        "**Question 4 — self-attention**": [ATTENTION, Checks("attention", "test_attention.py::*",
                                                                "Checks of attention.py")],
        "**Question 5 — MLP and transformer block**": [BLOCKS, Checks("blocks", "test_blocks.py::*",
                                                                      "Checks of blocks.py")],
        "Numeric answers (in `answers.yml`; 28": [VIT, Checks("vit", "test_vit.py::*", "Checks of vit.py")],
        "before:(written answer) Compare your curves": [TRAINING, Checks("train", "test_train.py::*",
                                                                         "Checks of train.py")],
        "**Question 8** (`timm_vit.py`": [TIMM, Checks(
            "timm", ["test_timm.py::test_timm_model", "test_timm.py::test_default_vit_error"], "Checks of timm_vit.py")],
        "**Question 8-b/c**": [FINETUNE, Checks("finetune", "test_timm.py::test_finetune*",
                                                 "Checks of make_finetune_vit")],
    })
