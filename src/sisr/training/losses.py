"""Training losses: a validated list of ``{name, weight, ...}`` terms, summed into one callable.

A study file writes, e.g. (rrdb_gan "triad", ESRGAN's weights)::

    loss:
      - {name: perceptual, weight: 1.0, layer: relu5_4}
      - {name: adversarial, weight: 0.005}
      - {name: l1, weight: 0.01}

Terms (inputs are float ``N x C x H x W`` in [0, 1], C = 1 or 3):

- ``l1``, ``mse``: mean absolute / squared error.
- ``charbonnier``: ``mean(sqrt((sr - hr)^2 + eps^2))``, option ``eps`` (default 1e-3) (Lai et al., LapSRN, 2017).
- ``perceptual``: distance between VGG19 features (Johnson et al. 2016; ESRGAN, Wang et al. 2018) of SR
  and HR at one layer. Options: ``layer`` (default ``conv5_4``): ``convB_K`` is the output of a conv layer
  *before* its ReLU (ESRGAN's choice), ``reluB_K`` the same feature *after* it (SRGAN's); blocks B = 1..5,
  K = 1..2 (blocks 1-2) or 1..4 (blocks 3-5). ``criterion``: ``l1`` (default; ESRGAN), ``mse``, or
  ``squared_l2``: the squared Euclidean distance of the two feature maps divided by their size W*H (summed over
  channels, averaged over positions and the batch; SRGAN's content loss, the rrdb_gan report's Eq. 5). Inputs
  are normalised with the ImageNet mean/std torchvision's VGG19 was trained with.
- ``lpips``: the LPIPS distance (Zhang et al. 2018, the ``lpips`` package, v0.1 linear heads), option
  ``net``: ``vgg`` (default; what the inverted_unet study trains with) or ``alex``.
- ``adversarial``: the generator side of a standard GAN, ``-log D(G(x))`` computed as
  ``BCEWithLogits(D(sr), 1)``; needs the discriminator's logits (``fake_logits``). The discriminator side
  is :func:`discriminator_loss`.

Single-channel inputs are repeated to 3 channels for the VGG/LPIPS terms. Pretrained backbones come from
the local weights cache (``sisr.data.weights.require``): :func:`build_loss` loads them, so a missing file fails
when the loss is built (before training starts), with MissingWeightsError naming the file and the fetch
command. The backbones are frozen and stay in eval mode.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sisr.data import weights

# The terms as data (options, defaults, validation) live in sisr.training.loss_terms, importable without torch.
from sisr.training.loss_terms import (FEATURE_CRITERION_NAMES, LPIPS_TRUNKS, TERM_OPTIONS, VGG19_LAYERS, LossTerm,  # noqa: F401
                              parse_term, parse_terms)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def squared_l2(a: Tensor, b: Tensor) -> Tensor:
    """``1/(W H) * sum_{x,y} ||a[:, x, y] - b[:, x, y]||^2``, averaged over the batch (``N x C x H x W`` inputs)."""
    return (a - b).pow(2).sum(dim=1).mean()


FEATURE_CRITERIA = {"l1": F.l1_loss, "mse": F.mse_loss, "squared_l2": squared_l2}
assert tuple(FEATURE_CRITERIA) == FEATURE_CRITERION_NAMES  # the names the study files are checked against


def _three_channels(x: Tensor) -> Tensor:
    return x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x


class _Frozen(nn.Module):
    """A pretrained backbone that never trains: no gradients to its weights, always in eval mode."""

    def freeze(self) -> None:
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "_Frozen":
        return super().train(False)


class VGGPerceptual(_Frozen):
    """Distance between torchvision VGG19 features of SR and HR at ``layer`` (see module docstring).

    Weights: the ``features.*`` entries of ``sisr.data.weights.load_state_dict("vgg19")`` (ImageNet,
    torchvision's ``vgg19-dcbb9e9d.pth``), loaded strictly into torchvision's VGG19 feature stack
    (``torchvision.models.vgg.make_layers(cfgs["E"])``, the ``features`` of ``vgg19()``; the classifier,
    100M parameters, is never built).
    """

    def __init__(self, *, layer: str = "conv5_4", criterion: str = "l1") -> None:
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers  # deferred: torchvision (1.4 s), only for a VGG loss

        state = weights.load_state_dict("vgg19")  # before building: a missing file fails first
        with weights.skip_random_init():  # every weight is loaded below (strictly)
            features = make_layers(cfgs["E"], batch_norm=False)
        features.load_state_dict({k[len("features."):]: v for k, v in state.items() if k.startswith("features.")})
        self.features = features[: VGG19_LAYERS[layer] + 1]
        self.criterion = FEATURE_CRITERIA[criterion]
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.freeze()

    def _features(self, x: Tensor) -> Tensor:
        return self.features((_three_channels(x) - self.mean) / self.std)

    def forward(self, sr: Tensor, hr: Tensor) -> Tensor:
        with torch.no_grad():
            target = self._features(hr)
        return self.criterion(self._features(sr).float(), target.float())


class LPIPSLoss(_Frozen):
    """LPIPS distance (``lpips.LPIPS``, v0.1) averaged over the batch; inputs in [0, 1].

    The trunk (torchvision VGG16 or AlexNet) is loaded from the local cache
    (``sisr.data.weights.load_state_dict("vgg16" / "alexnet")``), never downloaded; the linear heads ship
    inside the ``lpips`` package.
    """

    def __init__(self, *, net: str = "vgg") -> None:
        super().__init__()
        import lpips  # deferred: lpips loads torchvision (2 s), only for an LPIPS loss

        trunk = LPIPS_TRUNKS[net]
        state = weights.load_state_dict(trunk)  # before building: a missing file fails first
        with warnings.catch_warnings(), weights.skip_random_init():  # the trunk is loaded below, the heads here
            warnings.simplefilter("ignore", UserWarning)  # lpips calls torchvision's deprecated `pretrained=`
            self.lpips = lpips.LPIPS(net=net, pnet_rand=True, verbose=False)
        # lpips keeps torchvision's layer numbers inside its slices: net.sliceS.<i> is features[i].
        mapped = {}
        for key in self.lpips.net.state_dict():
            index, param = key.split(".")[1:]
            mapped[key] = state[f"features.{index}.{param}"]
        self.lpips.net.load_state_dict(mapped)
        weights.check_loaded(self.lpips, f"lpips loss ({net})")
        self.freeze()

    def forward(self, sr: Tensor, hr: Tensor) -> Tensor:
        return self.lpips(_three_channels(sr), _three_channels(hr), normalize=True).mean()


def generator_adversarial_loss(fake_logits: Tensor) -> Tensor:
    """``-log D(G(x))``: BCE of the discriminator's logits on SR images against the label "real" (1)."""
    return F.binary_cross_entropy_with_logits(fake_logits.float(), torch.ones_like(fake_logits, dtype=torch.float32))


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Discriminator side: ``BCE(D(hr), 1) + BCE(D(sr), 0)`` (the sum of both halves, as BasicSR)."""
    real = F.binary_cross_entropy_with_logits(real_logits.float(), torch.ones_like(real_logits, dtype=torch.float32))
    fake = F.binary_cross_entropy_with_logits(fake_logits.float(), torch.zeros_like(fake_logits, dtype=torch.float32))
    return real + fake


class Loss(nn.Module):
    """The weighted sum of loss terms: ``loss(sr, hr, fake_logits=None) -> (total, {key: value})``.

    ``value`` per term is the *unweighted* term (detached, for logging); ``total`` = sum of weight x value
    (differentiable). ``key`` is the term's name, or ``<name>_<position>`` when a name appears twice.
    The adversarial term contributes only when ``fake_logits`` (the discriminator's logits on ``sr``) is
    given; validation calls ``loss(sr, hr)`` and so excludes it.
    """

    def __init__(self, terms: Sequence[LossTerm]) -> None:
        super().__init__()
        self.terms = tuple(terms)
        names = [t.name for t in self.terms]
        self.keys = [t.name if names.count(t.name) == 1 else f"{t.name}_{i}" for i, t in enumerate(self.terms)]
        self.modules_by_key = nn.ModuleDict()
        for key, term in zip(self.keys, self.terms):
            if term.name == "perceptual":
                self.modules_by_key[key] = VGGPerceptual(layer=term.option("layer"), criterion=term.option("criterion"))
            elif term.name == "lpips":
                self.modules_by_key[key] = LPIPSLoss(net=term.option("net"))

    @property
    def has_adversarial(self) -> bool:
        return any(t.name == "adversarial" for t in self.terms)

    def _term(self, key: str, term: LossTerm, sr: Tensor, hr: Tensor, fake_logits: Tensor | None) -> Tensor:
        if term.name == "l1":
            return F.l1_loss(sr.float(), hr.float())
        if term.name == "mse":
            return F.mse_loss(sr.float(), hr.float())
        if term.name == "charbonnier":
            eps = term.option("eps")
            return torch.sqrt((sr.float() - hr.float()) ** 2 + eps * eps).mean()
        if term.name == "adversarial":
            return generator_adversarial_loss(fake_logits)
        return self.modules_by_key[key](sr, hr)  # perceptual, lpips

    def forward(self, sr: Tensor, hr: Tensor, fake_logits: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        if sr.shape != hr.shape:
            raise ValueError(f"loss: SR {tuple(sr.shape)} vs HR {tuple(hr.shape)}: shapes must match")
        total = sr.new_zeros((), dtype=torch.float32)
        values: dict[str, Tensor] = {}
        for key, term in zip(self.keys, self.terms):
            if term.name == "adversarial" and fake_logits is None:
                continue
            value = self._term(key, term, sr, hr, fake_logits)
            total = total + term.weight * value
            values[key] = value.detach()
        return total, values


def build_loss(terms: Sequence[Mapping[str, Any] | LossTerm], *, where: str = "loss") -> Loss:
    """Validate ``terms`` and build the Loss module, loading pretrained backbones now (fails early).

    terms: list of ``{name, weight, ...}`` (module docstring) or LossTerm. where: key path for errors.
    Raises ConfigError for an invalid term, MissingWeightsError when a backbone's weights are not cached.
    Move the result to the training device with ``.to(device)``.
    """
    return Loss(parse_terms(terms, where))
