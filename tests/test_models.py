"""Tests of the model registry and every architecture (random weights: shapes, gradient flow,
parameter counts and wiring, not image quality)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sisr.base.errors import SisrError
from sisr.base.imresize import imresize, imresize_torch
from sisr.models import (
    DESCRIPTIONS,
    DISCRIMINATORS,
    MODELS,
    count_parameters,
    create_model,
    model_table,
    supported_in_channels,
    supported_scales,
)
from sisr.models.srresnet import SRResNet

SR_MODELS = [name for name in MODELS if name not in DISCRIMINATORS]
CASES = [
    (name, scale)
    for name in SR_MODELS
    for scale in (2, 3, 4)
    if supported_scales(name) is None or scale in supported_scales(name)
]

# Trainable parameters, computed by hand: a k x k conv in->out has k*k*in*out + out parameters,
# BatchNorm(c) 2c, PReLU() 1, Linear(in, out) in*out + out.
ESPCN_X = 5 * 5 * 3 * 64 + 64 + 3 * 3 * 64 * 32 + 32  # 4864 + 18464 = 23328, the scale-independent part
SRRESNET_X = (
    (9 * 9 * 3 * 64 + 64 + 1)  # head conv + PReLU = 15617
    + 16 * (2 * (3 * 3 * 64 * 64 + 64) + 2 * 2 * 64 + 1)  # 16 blocks x 74113 = 1185808
    + (3 * 3 * 64 * 64 + 64 + 2 * 64)  # body end conv + BN = 37056
    + (9 * 9 * 64 * 3 + 3)  # tail conv = 15555
)  # = 1254036
EDSR_LIKE_X = (
    (3 * 3 * 3 * 256 + 256)  # head = 7168
    + 32 * 2 * (3 * 3 * 256 * 256 + 256)  # 32 blocks x 1180160 = 37765120
    + (3 * 3 * 256 * 256 + 256)  # body end conv = 590080
    + (3 * 3 * 256 * 3 + 3)  # tail conv = 6915
)  # = 38369283; the two mean-shift 1x1 convs are frozen and not counted
EDSR_BASE_X = 1792 + 16 * 2 * (3 * 3 * 64 * 64 + 64) + 36928 + 1731  # = 1222147
DEEP_X = 1792 + 16 * 2 * (3 * 3 * 64 * 64 + 64) + 1731  # head + 16 blocks + tail = 1185219
RDB = (
    (3 * 3 * 64 * 32 + 32)  # 18464
    + (3 * 3 * 96 * 32 + 32)  # 27680
    + (3 * 3 * 128 * 32 + 32)  # 36896
    + (3 * 3 * 160 * 32 + 32)  # 46112
    + (3 * 3 * 192 * 64 + 64)  # 110656
)  # = 239808 per dense block; an RRDB has 3 = 719424
RRDB_X = 1792 + 2 * 3 * RDB + 36928 + 36928 + 1731  # conv_first, 2 RRDBs, conv_body, conv_hr, conv_last = 1516227
UP2 = 3 * 3 * 64 * 256 + 256  # conv 64->256 of one x2 sub-pixel step = 147712
UP3 = 3 * 3 * 64 * 576 + 576  # conv 64->576 of the x3 step = 332352
CONV64 = 3 * 3 * 64 * 64 + 64  # 36928

EXPECTED_PARAMS: dict[tuple[str, int], int] = {
    **{(name, s): 0 for name in ("nearest", "bilinear", "bicubic") for s in (2, 3, 4)},
    # srcnn 9-1-5 RGB: (9*9*3*64+64) + (1*1*64*32+32) + (5*5*32*3+3) = 15616 + 2080 + 2403
    **{("srcnn", s): 20099 for s in (2, 3, 4)},
    ("espcn", 2): ESPCN_X + 3 * 3 * 32 * 12 + 12,  # 23328 + 3468 = 26796
    ("espcn", 3): ESPCN_X + 3 * 3 * 32 * 27 + 27,  # 23328 + 7803 = 31131
    ("espcn", 4): ESPCN_X + 3 * 3 * 32 * 48 + 48,  # 23328 + 13872 = 37200
    # espcn + BatchNorm(64) + BatchNorm(32) = + 192
    ("espcn_bn_residual", 2): 26796 + 192,
    ("espcn_bn_residual", 3): 31131 + 192,
    ("espcn_bn_residual", 4): 37200 + 192,
    ("srresnet", 2): SRRESNET_X + (UP2 + 1),  # 1254036 + 147713 = 1401749
    ("srresnet", 3): SRRESNET_X + (UP3 + 1),  # 1254036 + 332353 = 1586389
    ("srresnet", 4): SRRESNET_X + 2 * (UP2 + 1),  # 1254036 + 295426 = 1549462
    ("edsr_like", 2): EDSR_LIKE_X + 3 * 3 * 256 * 1024 + 1024,  # + 2360320 = 40729603
    ("edsr_like", 3): EDSR_LIKE_X + 3 * 3 * 256 * 2304 + 2304,  # + 5310720 = 43680003
    ("edsr_like", 4): EDSR_LIKE_X + 2 * (3 * 3 * 256 * 1024 + 1024),  # + 4720640 = 43089923
    ("edsr_baseline", 2): EDSR_BASE_X + UP2,  # 1369859
    ("edsr_baseline", 3): EDSR_BASE_X + UP3,  # 1554499
    ("edsr_baseline", 4): EDSR_BASE_X + 2 * UP2,  # 1517571 (the EDSR paper's 1.5M baseline)
    # refiner: conv 3->64 + 16 x conv 64->64 + conv 64->3 = 1792 + 16*36928 + 1731, any scale
    **{("bicubic_refiner", s): 1792 + 16 * CONV64 + 1731 for s in (2, 3, 4)},  # 594371
    ("deep_residual", 2): DEEP_X + UP2,  # 1332931
    ("deep_residual", 3): DEEP_X + UP3,  # 1517571
    ("deep_residual", 4): DEEP_X + 2 * UP2,  # 1480643
    ("rrdb", 2): RRDB_X + CONV64,  # one upsampling conv: 1553155
    ("rrdb", 3): RRDB_X + CONV64,  # 1553155
    ("rrdb", 4): RRDB_X + 2 * CONV64,  # 1590083
    # inverted_unet (Y): (9*1*64+64) + n_up-1 x (9*64*64+64) + (9*64*32+32) + (9*32*16+16) + (9*16*1+1)
    ("inverted_unet", 2): 640 + 2 * CONV64 + 18464 + 4624 + 145,  # 97729
    ("inverted_unet", 4): 640 + 3 * CONV64 + 18464 + 4624 + 145,  # 134657
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _channels(name: str) -> int:
    return 3 if 3 in supported_in_channels(name) else 1


def test_registry_is_consistent() -> None:
    assert set(DESCRIPTIONS) == set(MODELS)
    assert DISCRIMINATORS <= set(MODELS)
    assert {name for name, _ in CASES} == set(SR_MODELS)
    assert set(EXPECTED_PARAMS) == set(CASES), "every (model, scale) case needs a hand-computed count"


@pytest.mark.parametrize(("name", "scale"), CASES)
def test_every_model_maps_lr_to_hr(name: str, scale: int) -> None:
    torch.manual_seed(0)
    channels = _channels(name)
    model = create_model(name, scale=scale, in_channels=channels)
    x = torch.rand(1, channels, 12, 12, requires_grad=True)
    y = model(x)
    assert y.shape == (1, channels, 12 * scale, 12 * scale), f"{name} x{scale}: got {tuple(y.shape)}"
    assert torch.isfinite(y).all(), f"{name} x{scale}: non-finite output"
    assert count_parameters(model) == EXPECTED_PARAMS[(name, scale)]

    y.square().mean().backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    if trainable:
        first = trainable[0]
        assert first.ndim == 4 and first.shape[1] == channels, f"{name}: first parameter is not the input conv"
        assert first.grad is not None and first.grad.abs().sum() > 0, f"{name}: no gradient at the first layer"
    else:  # non-learned upsamplers: still differentiable with respect to the input
        assert x.grad is not None and x.grad.abs().sum() > 0


# in_channels=1 (Y) variants: (scale, hand-computed trainable parameters)
Y_EXPECTED: dict[str, tuple[int, int]] = {
    "nearest": (3, 0),
    "bilinear": (3, 0),
    "bicubic": (3, 0),
    # (9*9*64+64) + (64*32+32) + (5*5*32+1) = 5248 + 2080 + 801; Dong et al.: 8,032 weights + 97 biases
    "srcnn": (2, 8129),
    "espcn": (3, 1664 + 18464 + 3 * 3 * 32 * 9 + 9),  # (5*5*64+64) + (9*64*32+32) + 2601 = 22729
    "espcn_bn_residual": (4, 1664 + 18464 + 3 * 3 * 32 * 16 + 16 + 192),  # 24944
    # head (9*9*64+64+1) + blocks + body end + 2 up steps + tail (9*9*64+1)
    "srresnet": (4, 5249 + 16 * 74113 + 37056 + 2 * (UP2 + 1) + 5185),  # 1528724
    "edsr_baseline": (4, 640 + 16 * 2 * CONV64 + CONV64 + 2 * UP2 + 577),  # 1515265
    "bicubic_refiner": (4, 640 + 16 * CONV64 + 577),  # 592065
    "deep_residual": (4, 640 + 16 * 2 * CONV64 + 2 * UP2 + 577),  # 1478337
    "rrdb": (4, 640 + 2 * 3 * RDB + CONV64 + 2 * CONV64 + CONV64 + 577),  # 1587777
    "inverted_unet": (2, 97729),
}


@pytest.mark.parametrize("name", sorted(Y_EXPECTED))
def test_single_channel_variants(name: str) -> None:
    scale, expected = Y_EXPECTED[name]
    model = create_model(name, scale=scale, in_channels=1)
    with torch.no_grad():
        y = model(torch.rand(2, 1, 8, 10))
    assert y.shape == (2, 1, 8 * scale, 10 * scale)
    assert count_parameters(model) == expected


def test_named_variants_and_overrides() -> None:
    # SRCNN 9-5-5: (9*9*3*64+64) + (5*5*64*32+32) + (5*5*32*3+3) = 15616 + 51232 + 2403
    assert count_parameters(create_model("srcnn", scale=3, variant="9-5-5")) == 69251
    # Y: 5248 + 51232 + 801 = 57281 (Dong et al. 2016 quote 57,184 weights; + 97 biases)
    assert count_parameters(create_model("srcnn", scale=3, in_channels=1, variant="9-5-5")) == 57281
    # ESRGAN's RRDBNet, 23 blocks x4: 1516227 + 21 * 719424 + 2 * 36928 = 16697987 (published 16.7M)
    assert count_parameters(create_model("rrdb", scale=4, blocks=23)) == RRDB_X + 21 * 3 * RDB + 2 * CONV64
    # a registered variant's fixed arguments can be overridden: edsr_like with 1 block x 8 channels
    small = create_model("edsr_like", scale=2, blocks=1, channels=8)
    # head (9*3*8+8) + block 2*(9*8*8+8) + body conv (9*8*8+8) + up (9*8*32+32) + tail (9*8*3+3)
    assert count_parameters(small) == 224 + 1168 + 584 + 2336 + 219
    assert small.body[0].res_scale == 0.1


def test_approximate_sizes_quoted_by_the_studies() -> None:
    assert abs(count_parameters(create_model("edsr_like", scale=4)) - 43e6) / 43e6 < 0.01  # "43M"
    assert abs(count_parameters(create_model("srresnet", scale=4)) - 1.5e6) / 1.5e6 < 0.05  # "1.5M"
    assert abs(count_parameters(create_model("espcn_bn_residual", scale=4)) - 37e3) / 37e3 < 0.02  # "37k"


def test_count_parameters_skips_frozen_mean_shift() -> None:
    model = create_model("edsr_baseline", scale=2)
    total = sum(p.numel() for p in model.parameters())
    assert total - count_parameters(model) == 2 * (3 * 3 + 3)  # two 3x3 1x1-conv weights + biases


def test_unknown_model_lists_valid_names() -> None:
    with pytest.raises(SisrError, match="unknown model 'espcnn'.*espcn_bn_residual"):
        create_model("espcnn", scale=4)


@pytest.mark.parametrize(
    ("name", "scale", "pattern"),
    [
        ("srresnet", 5, "'srresnet'.*5.*supported scales: 2, 3, 4"),
        ("edsr_like", 8, "'edsr_like'.*supported scales: 2, 3, 4"),
        ("inverted_unet", 3, "'inverted_unet'.*supported scales: 2, 4"),
        ("espcn", 2.5, "'espcn'.*positive integer"),
        ("bicubic", 0, "'bicubic'.*positive integer"),
    ],
)
def test_unsupported_scale(name: str, scale: object, pattern: str) -> None:
    with pytest.raises(SisrError, match=pattern):
        create_model(name, scale=scale, in_channels=_channels(name))


def test_direct_construction_checks_too() -> None:
    with pytest.raises(SisrError, match="supported scales: 2, 3, 4"):
        SRResNet(scale=8)
    with pytest.raises(SisrError, match="in_channels must be 1 or 3"):
        SRResNet(scale=4, in_channels=4)


def test_inverted_unet_is_single_channel_only() -> None:
    with pytest.raises(SisrError, match="'inverted_unet'.*in_channels must be 1, got 3"):
        create_model("inverted_unet", scale=2)


def test_unknown_argument_lists_accepted_ones() -> None:
    with pytest.raises(SisrError, match="'espcn'.*unknown argument.*blocks.*accepted: activation"):
        create_model("espcn", scale=3, blocks=4)
    with pytest.raises(SisrError, match="'srcnn': variant must be one of"):
        create_model("srcnn", scale=3, variant="9-9-9")


@pytest.mark.parametrize("size", [(16, 16), (24, 40)])
def test_discriminator_gives_one_logit_per_image(size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    model = create_model("patch_discriminator", scale=4)
    x = torch.rand(2, 3, *size, requires_grad=True)
    logits = model(x)
    assert logits.shape == (2, 1)
    probability = model.probability(x)
    assert torch.allclose(probability, torch.sigmoid(logits))
    assert ((probability > 0) & (probability < 1)).all()
    F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)).backward()
    assert model.features[0].weight.grad.abs().sum() > 0


def test_model_table_matches_the_registry() -> None:
    rows = model_table(scale=3)
    assert [row[0] for row in rows] == list(MODELS)
    table = {name: params for name, params, _ in rows}
    assert table["inverted_unet"] is None  # x3 unsupported
    assert table["espcn"] == EXPECTED_PARAMS[("espcn", 3)]
    assert table["patch_discriminator"] == (
        (9 * 3 * 64 + 64) + (9 * 64 * 128 + 128) + (9 * 128 * 256 + 256) + (9 * 256 * 512 + 512)  # convs
        + (512 * 1024 + 1024) + (1024 * 256 + 256) + (256 + 1)  # MLP
    )  # = 2338945


@pytest.mark.parametrize("name", [n for n in SR_MODELS if n != "edsr_like"])
def test_channels_last_gives_the_same_output(name: str) -> None:
    torch.manual_seed(0)
    channels = _channels(name)
    model = create_model(name, scale=2, in_channels=channels).eval()
    x = torch.rand(1, channels, 10, 10)
    with torch.no_grad():
        expected = model(x)
        got = model.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("name", "kernel"), [("bicubic", "cubic"), ("bilinear", "linear")])
def test_interpolation_is_matlab_imresize(name: str, kernel: str) -> None:
    rng = np.random.default_rng(0)
    img = rng.random((7, 9, 3))
    model = create_model(name, scale=3)
    got = model(torch.from_numpy(img).permute(2, 0, 1)[None].float())[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(got, imresize(img, 3, kernel=kernel), atol=1e-5)


def test_nearest_replicates_pixels() -> None:
    x = torch.rand(1, 3, 5, 6)
    expected = x.repeat_interleave(3, dim=2).repeat_interleave(3, dim=3)
    assert torch.equal(create_model("nearest", scale=3)(x), expected)


def test_residual_paths_with_a_zeroed_last_layer() -> None:
    """With the layer that produces the correction set to zero, only the skip path remains."""
    x = torch.rand(1, 3, 6, 6)
    espcn = create_model("espcn_bn_residual", scale=4).eval()
    torch.nn.init.zeros_(espcn.body[6].weight)
    torch.nn.init.zeros_(espcn.body[6].bias)
    bicubic = F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False)
    torch.testing.assert_close(espcn(x), bicubic)

    refiner = create_model("bicubic_refiner", scale=4, blocks=1, channels=8)
    torch.nn.init.zeros_(refiner.body[-1].weight)
    torch.nn.init.zeros_(refiner.body[-1].bias)
    torch.testing.assert_close(refiner(x), imresize_torch(x, 4))

    edsr = create_model("edsr_baseline", scale=2, blocks=1, channels=8)
    torch.nn.init.zeros_(edsr.tail[1].weight)
    torch.nn.init.zeros_(edsr.tail[1].bias)
    mean = torch.tensor([0.4488, 0.4371, 0.4040]).view(1, 3, 1, 1).expand(1, 3, 12, 12)
    torch.testing.assert_close(edsr(x), mean)  # the output mean shift adds the DIV2K mean back


def test_srresnet_output_is_in_unit_range() -> None:
    torch.manual_seed(0)
    model = create_model("srresnet", scale=2, blocks=1)
    y = model(torch.rand(1, 3, 8, 8) * 4.0)  # even for out-of-range input: tanh then (t + 1) / 2
    assert y.min() >= 0.0 and y.max() <= 1.0


@pytest.mark.parametrize("name", list(MODELS))
def test_spec_matches_the_class(name):
    """The torch-free record the workflow validates study files with says what the class itself accepts."""
    import inspect
    from functools import partial

    from sisr.models import SPECS, model_class

    spec, factory, cls = SPECS[name], MODELS[name], model_class(name)
    params = inspect.signature(factory).parameters
    assert spec.args == tuple(p for p in params if p not in ("scale", "in_channels"))
    assert dict(spec.fixed) == (factory.keywords if isinstance(factory, partial) else {})
    assert spec.scales == cls.SCALES and spec.in_channels == cls.IN_CHANNELS
    assert f"{cls.__module__}:{cls.__name__}" == spec.target
    sizes = {k: params[k].default for k in ("blocks", "channels")
             if k in params and k not in spec.fixed and isinstance(params[k].default, int)}
    assert dict(spec.size) == sizes  # the job order's size key sees what the class defaults to


def test_check_model_names_the_key_without_torch():
    import subprocess
    import sys

    code = ("import sys\nfrom sisr.models import check_model\n"
            "try:\n    check_model('espcn', scale=4, args={'chanels': 3}, where='studies/x.yaml: runs.a')\n"
            "except Exception as e:\n    print(e)\nprint('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "studies/x.yaml: runs.a.model_args: model 'espcn' has no argument(s) chanels; accepted: activation" in out
    assert out.strip().endswith("False")


def test_rrdb_residual_scale_plain_sums_as_the_rrdb_gan_report():
    """residual_scale 1.0: each dense block and each RRDB adds its branch unscaled (the report's plain sums)."""
    from sisr.models.rrdb import RRDB

    torch.manual_seed(0)
    x = torch.rand(1, 8, 6, 6)
    for scale in (0.2, 1.0):
        block = RRDB(8, 4, residual_scale=scale)
        branch = block.rdb3(block.rdb2(block.rdb1(x)))
        torch.testing.assert_close(block(x), x + scale * branch)
        rdb = block.rdb1
        seen = {}
        rdb.conv5.register_forward_hook(lambda m, i, o, seen=seen: seen.update(out=o))
        torch.testing.assert_close(rdb(x), x + scale * seen["out"])
    model = create_model("rrdb", scale=4, blocks=1, channels=8, growth=4, residual_scale=1.0)
    assert model(torch.rand(1, 3, 5, 5)).shape == (1, 3, 20, 20)
    with pytest.raises(SisrError, match="residual_scale must be a positive number"):
        create_model("rrdb", scale=4, residual_scale=0)


def test_an_eager_bicubic_forward_does_not_import_dynamo() -> None:
    """Evaluation jobs run models eagerly: importing torch._dynamo (for compiler.disable) would cost them seconds."""
    code = ("import sys, torch; from sisr.models import create_model; "
            "create_model('bicubic', scale=2)(torch.zeros(1, 3, 8, 8)); print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stdout + out.stderr[-2000:]


def test_matlab_resize_inside_torch_compile_equals_eager() -> None:
    """Compiled (dynamo, eager backend), the MATLAB resize runs outside the graph and gives the eager result."""
    torch.manual_seed(0)
    model = create_model("espcn_bn_residual", scale=2).eval()
    x = torch.rand(1, 3, 12, 10)
    with torch.no_grad():
        assert torch.equal(torch.compile(model, backend="eager")(x), model(x))
