"""Question 8: a timm VisionTransformer for MNIST-sized images, and why the default one fails."""

import ast

from autograder.checks import CheckFailed
from autograder.checks.static import parse
from autograder.checks.values import assert_close
from autograder.graders.tp3_vit import _reference as ref

CONFIGS = [{}, {"patch_size": 14, "embed_dim": 32}]


def _pretrained_uses(submission) -> list[int]:
    """Lines of timm_vit.py that pass pretrained= anything but False."""
    tree = parse(submission, "timm_vit")
    return sorted({node.value.lineno for node in ast.walk(tree) if isinstance(node, ast.keyword)
                   and node.arg == "pretrained" and not (isinstance(node.value, ast.Constant)
                                                         and node.value.value is False)})


def test_timm_model(probe, submission, rng):
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
    lines = _pretrained_uses(submission)
    if lines:
        raise CheckFailed(f"timm_vit.py, line {lines[0]}: pretrained must stay False (nothing is downloaded in "
                          "this assignment)")


def test_default_vit_error(probe, submission):
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
    if _pretrained_uses(submission):
        raise CheckFailed(f"{where}: pretrained must stay False (nothing is downloaded in this assignment)")


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
