"""Loss terms on known inputs; VGG/LPIPS plumbing with RANDOM weights (never the pretrained ones here)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from sisr.base.hashing import sha256_file
from sisr.data import weights
from sisr.base.errors import ConfigError, MissingWeightsError
from sisr.training.losses import (VGG19_LAYERS, build_loss, discriminator_loss, generator_adversarial_loss, parse_term,
                         parse_terms)


@pytest.fixture
def random_weights(tmp_path, monkeypatch):
    """A weights cache holding RANDOMLY initialised VGG19/VGG16 feature stacks (plumbing tests only).

    The files sit where the real ones would (``hub/checkpoints/<torchvision file name>``); the registered
    hash prefixes are patched to the random files' so ``sisr.data.weights.require`` accepts them.
    Returns {name: state_dict saved}.
    """
    monkeypatch.setenv("SISR_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    saved = {}
    torch.manual_seed(0)
    for name, arch in (("vgg19", "E"), ("vgg16", "D")):
        state = {f"features.{k}": v for k, v in make_layers(cfgs[arch]).state_dict().items()}
        path = weights.checkpoint_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, path)
        spec = dataclasses.replace(weights.WEIGHTS[name], sha256_prefix=sha256_file(path)[:8], sha256=None)
        monkeypatch.setitem(weights.WEIGHTS, name, spec)
        saved[name] = state
    return saved


def known_pair() -> tuple[torch.Tensor, torch.Tensor]:
    sr = torch.zeros(1, 1, 2, 2)
    hr = torch.tensor([[[[0.0, 0.1], [0.2, 0.4]]]])
    return sr, hr


def test_pixel_losses_match_hand_computed_values():
    sr, hr = known_pair()
    diffs = [0.0, 0.1, 0.2, 0.4]
    eps = 0.01
    total, values = build_loss([{"name": "l1", "weight": 0.5}, {"name": "mse", "weight": 2.0},
                                {"name": "charbonnier", "weight": 1.0, "eps": eps}])(sr, hr)
    l1 = sum(diffs) / 4
    mse = sum(d * d for d in diffs) / 4
    charb = sum(math.sqrt(d * d + eps * eps) for d in diffs) / 4
    assert values["l1"].item() == pytest.approx(l1, rel=1e-6)
    assert values["mse"].item() == pytest.approx(mse, rel=1e-6)
    assert values["charbonnier"].item() == pytest.approx(charb, rel=1e-6)
    assert total.item() == pytest.approx(0.5 * l1 + 2.0 * mse + charb, rel=1e-6)


def test_charbonnier_default_eps_and_duplicate_keys():
    term = parse_term({"name": "charbonnier"})
    assert term.option("eps") == 1e-3 and term.weight == 1.0
    loss = build_loss([{"name": "l1", "weight": 1.0}, {"name": "l1", "weight": 3.0}])
    assert loss.keys == ["l1_0", "l1_1"]
    sr, hr = known_pair()
    total, values = loss(sr, hr)
    assert total.item() == pytest.approx(4 * values["l1_0"].item())


def test_adversarial_terms_are_bce_by_hand():
    fake = torch.tensor([[0.5], [-1.0]])
    real = torch.tensor([[2.0], [0.3]])
    sig = torch.sigmoid
    assert generator_adversarial_loss(fake).item() == pytest.approx(-torch.log(sig(fake)).mean().item(), rel=1e-6)
    by_hand = -torch.log(sig(real)).mean() - torch.log(1 - sig(fake)).mean()
    assert discriminator_loss(real, fake).item() == pytest.approx(by_hand.item(), rel=1e-6)
    loss = build_loss([{"name": "l1", "weight": 1.0}, {"name": "adversarial", "weight": 0.1}])
    sr, hr = torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2)
    total, values = loss(sr, hr, fake_logits=fake)
    assert total.item() == pytest.approx(1.0 + 0.1 * generator_adversarial_loss(fake).item(), rel=1e-6)
    total, values = loss(sr, hr)  # validation: no discriminator, no adversarial term
    assert set(values) == {"l1"} and total.item() == pytest.approx(1.0)


@pytest.mark.parametrize("terms, message", [
    ([{"name": "l3"}], "loss[0].name"),
    ([{"name": "l1", "layer": "conv5_4"}], "unknown key(s) ['layer']"),
    ([{"name": "perceptual", "layer": "conv6_1"}], "loss[0].layer"),
    ([{"name": "perceptual", "criterion": "huber"}], "loss[0].criterion"),
    ([{"name": "l1"}, {"name": "mse", "weight": "1e-2"}], "loss[1].weight: expected a number"),
    ([{"name": "l1", "weight": -1}], "loss[0].weight"),
    ([{"name": "lpips", "net": "squeeze"}], "loss[0].net"),
    ([], "non-empty list"),
])
def test_invalid_terms_name_the_key(terms, message):
    with pytest.raises(ConfigError) as err:
        parse_terms(terms, "loss")
    assert message in str(err.value)


def test_vgg19_layer_names_match_torchvision():
    features = make_layers(cfgs["E"])
    convs = [i for i, m in enumerate(features) if isinstance(m, nn.Conv2d)]
    assert [VGG19_LAYERS[n] for n in VGG19_LAYERS if n.startswith("conv")] == convs
    for name, index in VGG19_LAYERS.items():
        expected = nn.Conv2d if name.startswith("conv") else nn.ReLU
        assert isinstance(features[index], expected), name


def test_missing_weights_fail_when_the_loss_is_built(tmp_path, monkeypatch):
    monkeypatch.setenv("SISR_WEIGHTS", str(tmp_path))
    for name in ("perceptual", "lpips"):
        with pytest.raises(MissingWeightsError) as err:
            build_loss([{"name": name, "weight": 1.0}])
        assert "hub/checkpoints" in str(err.value) and "fetch-weights" in str(err.value)


def test_perceptual_plumbing_with_random_weights(random_weights):
    """RANDOM VGG19 weights: checks wiring (layer cut, normalisation, pre/post activation), not quality."""
    torch.manual_seed(1)
    sr = torch.rand(2, 3, 16, 16, requires_grad=True)
    hr = torch.rand(2, 3, 16, 16)
    features = make_layers(cfgs["E"])
    features.load_state_dict({k[9:]: v for k, v in random_weights["vgg19"].items()})
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    values = {}
    for layer in ("conv2_2", "relu2_2"):
        cut = features[: VGG19_LAYERS[layer] + 1]
        expected = F.mse_loss(cut((sr - mean) / std), cut((hr - mean) / std)).item()
        loss = build_loss([{"name": "perceptual", "weight": 1.0, "layer": layer, "criterion": "mse"}])
        total, terms = loss(sr, hr)
        assert total.item() == pytest.approx(expected, rel=1e-5)
        values[layer] = total.item()
        assert loss(hr, hr)[0].item() == 0.0
    assert values["conv2_2"] != values["relu2_2"]  # before vs after the activation differ
    total.backward()
    assert sr.grad is not None and sr.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in loss.parameters())
    loss.train()
    assert not any(m.training for backbone in loss.modules_by_key.values() for m in backbone.modules())
    gray = build_loss([{"name": "perceptual", "weight": 1.0, "layer": "relu1_2"}])
    y = torch.rand(1, 1, 8, 8)
    assert gray(y, y.clone())[0].item() == 0.0
    assert gray(y, 1 - y)[0].item() == pytest.approx(gray(y.repeat(1, 3, 1, 1), (1 - y).repeat(1, 3, 1, 1))[0].item())


def test_lpips_plumbing_with_random_trunk(random_weights):
    """RANDOM VGG16 trunk + the lpips package's linear heads: wiring only."""
    loss = build_loss([{"name": "lpips", "weight": 2.0}])
    trunk = loss.modules_by_key["lpips"].lpips.net
    # lpips names the layers of each slice by their index in torchvision's vgg16().features
    assert torch.equal(getattr(trunk.slice1, "0").weight, random_weights["vgg16"]["features.0.weight"])
    assert torch.equal(getattr(trunk.slice5, "28").weight, random_weights["vgg16"]["features.28.weight"])
    torch.manual_seed(2)
    sr = torch.rand(1, 3, 32, 32, requires_grad=True)
    hr = torch.rand(1, 3, 32, 32)
    assert loss(hr, hr)[0].item() == 0.0
    total, terms = loss(sr, hr)
    assert total.item() == pytest.approx(2.0 * terms["lpips"].item()) and terms["lpips"].item() > 0
    total.backward()
    assert sr.grad.abs().sum() > 0
    y = torch.rand(1, 1, 32, 32)
    assert loss(y, 1 - y)[0].item() > 0  # single channel is repeated to 3


def test_perceptual_squared_l2_is_eq5_of_the_rrdb_gan_report(random_weights):
    """Eq. 5: the squared Euclidean distance of the feature maps, divided by their W*H (not by W*H*C)."""
    torch.manual_seed(2)
    sr, hr = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    features = make_layers(cfgs["E"])
    features.load_state_dict({k[9:]: v for k, v in random_weights["vgg19"].items()})
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    cut = features[: VGG19_LAYERS["relu2_2"] + 1]
    a, b = cut((sr - mean) / std), cut((hr - mean) / std)
    n, c, h, w = a.shape
    eq5 = sum(float(((a[i] - b[i]) ** 2).sum()) / (w * h) for i in range(n)) / n
    loss = build_loss([{"name": "perceptual", "weight": 1.0, "layer": "relu2_2", "criterion": "squared_l2"}])
    assert loss(sr, hr)[0].item() == pytest.approx(eq5, rel=1e-5)
    mse = build_loss([{"name": "perceptual", "weight": 1.0, "layer": "relu2_2", "criterion": "mse"}])
    assert loss(sr, hr)[0].item() == pytest.approx(c * mse(sr, hr)[0].item(), rel=1e-5)  # 128 x the mean
