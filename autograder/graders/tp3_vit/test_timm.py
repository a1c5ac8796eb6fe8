"""Question 8: a timm VisionTransformer for MNIST-sized images, why the default one fails, and (8-b/c) timm's
ViT-Tiny fine-tuned on MNIST from scratch and from ImageNet weights (gpu tier, no points: feedback only)."""

import pytest
import torch

from autograder.graders.tp3_vit import _reference as ref
from autograder.judges import CheckFailed
from autograder.judges.accuracy import draw_images, judge_trained, load_trained
from autograder.judges.values import assert_close

CONFIGS = [{}, {"patch_size": 14, "embed_dim": 32}]


def test_timm_model(probe, rng):
    batch = int(rng.integers(2, 5))
    got = probe("timm_models", configs=CONFIGS, batch=batch)
    for config, report in zip(CONFIGS, got):
        where = f"timm_vit.make_timm_vit({', '.join(f'{k}={v}' for k, v in config.items())})"
        if "timm.models.vision_transformer.VisionTransformer" not in report["classes"]:
            raise CheckFailed(f"{where} returns a {report['classes'][0]}, expected a "
                              "timm.models.vision_transformer.VisionTransformer")
        if report["output_shape"] != [batch, ref.CLASSES]:
            raise CheckFailed(f"{where}: for a ({batch}, 1, 28, 28) batch the output has shape "
                              f"{tuple(report['output_shape'])}, expected ({batch}, 10)")
        if report["weight_sums"][0] == report["weight_sums"][1]:
            raise CheckFailed(f"{where} returns the same weights under different torch seeds: it must be randomly "
                              "initialised, never pre-trained (pretrained=False)")
        defaults = {"patch_size": 7, "embed_dim": 64, **config}
        want = ref.summary(ref.vit_config(defaults["patch_size"], defaults["embed_dim"]))["total_params"]
        if report["total_params"] != want:
            raise CheckFailed(f"{where} has {report['total_params']:,} parameters, expected {want:,} like vit.ViT with "
                              "the same hyper-parameters (pass img_size, patch_size, in_chans, num_classes, "
                              "embed_dim, depth, num_heads and mlp_ratio on to VisionTransformer)")


def test_default_vit_error(probe):
    shapes = [[1, 1, 28, 28], [1, 3, 224, 224]]
    got = probe("default_errors", shapes=shapes)
    mnist, rgb = got
    where = "timm_vit.default_vit_error"
    for report in (mnist, rgb):
        if "builtins.str" not in report["classes"] or not isinstance(report["value"], str):
            raise CheckFailed(f"{where} should return a str, got {report['classes'][0]}")
    if not mnist["value"].strip():
        raise CheckFailed(f"{where}((1, 1, 28, 28)) returns an empty string, expected the error raised by the default "
                          "timm ViT as \"<ExceptionType>: <message>\"")
    if rgb["value"] != "":
        raise CheckFailed(f"{where}((1, 3, 224, 224)) returns {rgb['value'][:200]!r}, expected \"\" (the forward pass "
                          "succeeds for the input size the default model was built for)")
    want = ref.default_vit_error((1, 1, 28, 28))
    if mnist["value"].strip() != want:
        raise CheckFailed(f"{where}((1, 1, 28, 28)) returns {mnist['value'][:200]!r}, expected the exception raised "
                          f"by timm.create_model('vit_tiny_patch16_224', pretrained=False) formatted as "
                          f"\"<ExceptionType>: <message>\", i.e. {want!r}")



def test_finetune_vit_model(probe, rng):
    batch = int(rng.integers(2, 5))
    got = probe("finetune_model", batch=batch)
    want = ref.finetune_summary(batch)
    where = "timm_vit.make_finetune_vit()"
    for key, what in (("output_shape", f"its output for a ({batch}, 1, 28, 28) batch"),
                      ("patch_embed", "the patch embedding's weight (1 input channel, patch_size=4)"),
                      ("pos_embed", "the position embedding (a 7 × 7 grid of tokens and the class token)"),
                      ("total_params", "its number of parameters")):
        if got[key] != want[key]:
            raise CheckFailed(f"{where}: {what} is {got[key]}, expected {want[key]} (timm.create_model of "
                              f"{ref.timm_vit.DEFAULT_TIMM_MODEL!r} with 10 classes, in_chans=1, img_size=28, "
                              "patch_size=4)")


@pytest.mark.parametrize("weights", ["scratch", "imagenet"])
def test_finetune_mnist(probe, check, seed, rng, record, gpu_data_root, weights):
    root = gpu_data_root("MNIST")
    budget = {k: v for k, v in check.budget.items() if k != "model_name"}
    model_name = check.budget.get("model_name", ref.timm_vit.DEFAULT_TIMM_MODEL)
    state = None
    if weights == "imagenet":
        state, reason = ref.imagenet_weights(model_name)
        if state is None:
            pytest.skip(f"gpu tier: the ImageNet weights of {model_name} cannot be downloaded here ({reason}); this "
                        "run needs a machine with internet")
    splits = draw_images(root, "MNIST", budget, rng)
    got = probe("finetune", **splits.sent(), budget=splits.budget, train_seed=seed, model_name=model_name,
                state=state)
    where = (f"timm_vit.make_finetune_vit(model_name={model_name!r}) fine-tuned "
             f"{'from ImageNet weights' if state else 'from scratch'} by train.train ({splits.budget['epochs']} "
             "epochs) on MNIST")
    device = splits.budget.get("device", "cpu") if torch.cuda.is_available() else "cpu"
    model = ref.timm_vit.make_finetune_vit(model_name=model_name)
    judge_trained(got, splits, lambda got: load_trained(model, got["state"], where, "timm's own names").to(device),
                  lambda got: ref.train.prepare_images(torch.tensor(splits.held_X)).to(device), check.threshold,
                  where, record)


def test_timm_model_follows_every_argument(probe, rng):
    """make_timm_vit with every argument away from its default: the student's weights loaded into timm's
    VisionTransformer built by the handout's arguments give the student's logits."""
    config = {"patch_size": 14, "embed_dim": 32, "depth": 1, "num_heads": 2, "mlp_ratio": 2.0, "num_classes": 7}
    x = rng.normal(0, 1, (3, 1, 28, 28))
    got = probe("timm_forward", config=config, x=x)
    where = f"timm_vit.make_timm_vit({', '.join(f'{k}={v}' for k, v in config.items())})"
    hint = "pass img_size, patch_size, in_chans, num_classes, embed_dim, depth, num_heads and mlp_ratio on to " \
           "VisionTransformer"
    want = ref.timm_logits(config, got["state"], x)
    if isinstance(want, str):
        raise CheckFailed(f"{where}: its layers differ from VisionTransformer with these arguments ({want}); {hint}")
    assert_close(got["logits"], want, f"{where}: logits with its own weights, against timm's VisionTransformer with "
                 f"these arguments ({hint})", rtol=1e-6, atol=1e-8)
