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
the local weights cache (``sisr.weights.require``): :func:`build_loss` loads them, so a missing file fails
when the loss is built (before training starts), with MissingWeightsError naming the file and the fetch
command. The backbones are frozen and stay in eval mode.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sisr import weights
from sisr.errors import ConfigError

# Per-term options and their defaults; "name" and "weight" are common to all terms.
TERM_OPTIONS: dict[str, dict[str, Any]] = {
    "l1": {},
    "mse": {},
    "charbonnier": {"eps": 1e-3},
    "perceptual": {"layer": "conv5_4", "criterion": "l1"},
    "lpips": {"net": "vgg"},
    "adversarial": {},
}


def _vgg19_layer_index() -> dict[str, int]:
    """``conv1_1`` -> 0, ``relu1_1`` -> 1, ... ``relu5_4`` -> 35: positions in torchvision's ``vgg19().features``."""
    index, position = {}, 0
    for block, convs in enumerate((2, 2, 4, 4, 4), start=1):
        for k in range(1, convs + 1):
            index[f"conv{block}_{k}"] = position
            index[f"relu{block}_{k}"] = position + 1
            position += 2
        position += 1  # the max-pool closing the block
    return index


VGG19_LAYERS: dict[str, int] = _vgg19_layer_index()
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class LossTerm:
    """One validated loss term. ``options`` holds the term's own options with defaults filled in."""

    name: str
    weight: float
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, key: str) -> Any:
        return dict(self.options)[key]

    def to_dict(self) -> dict[str, Any]:
        """The term as a study file would write it (defaults resolved)."""
        return {"name": self.name, "weight": self.weight, **dict(self.options)}


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        hint = " (YAML reads 1e-3 as text: write 1.0e-3)" if isinstance(value, str) else ""
        raise ConfigError(f"{where}: expected a number, got {type(value).__name__} {value!r}{hint}")
    return float(value)


def parse_term(data: Any, where: str = "loss[0]") -> LossTerm:
    """Validate one ``{name, weight, ...}`` mapping; errors name the key path (``where``)."""
    if isinstance(data, LossTerm):
        return data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping like {{name: l1, weight: 1.0}}, got {data!r}")
    name = data.get("name")
    if name not in TERM_OPTIONS:
        raise ConfigError(f"{where}.name: expected one of {', '.join(TERM_OPTIONS)}, got {name!r}")
    defaults = TERM_OPTIONS[name]
    unknown = sorted(set(data) - {"name", "weight", *defaults})
    if unknown:
        valid = ", ".join(["name", "weight", *defaults])
        raise ConfigError(f"{where}: unknown key(s) {unknown} for loss {name!r}; valid keys: {valid}")
    weight = _number(data.get("weight", 1.0), f"{where}.weight")
    if weight < 0:
        raise ConfigError(f"{where}.weight: expected >= 0, got {weight}")
    options = {**defaults, **{k: v for k, v in data.items() if k in defaults}}
    if name == "charbonnier":
        options["eps"] = _number(options["eps"], f"{where}.eps")
        if options["eps"] <= 0:
            raise ConfigError(f"{where}.eps: expected > 0, got {options['eps']}")
    if name == "perceptual":
        if options["layer"] not in VGG19_LAYERS:
            raise ConfigError(f"{where}.layer: expected a VGG19 layer conv1_1..conv5_4 or relu1_1..relu5_4, "
                              f"got {options['layer']!r}")
        if options["criterion"] not in FEATURE_CRITERIA:
            raise ConfigError(f"{where}.criterion: expected {', '.join(FEATURE_CRITERIA)}, "
                              f"got {options['criterion']!r}")
    if name == "lpips" and options["net"] not in ("vgg", "alex"):
        raise ConfigError(f"{where}.net: expected vgg or alex, got {options['net']!r}")
    return LossTerm(name=name, weight=weight, options=tuple(options.items()))


def parse_terms(terms: Any, where: str = "loss") -> tuple[LossTerm, ...]:
    """Validate a non-empty list of loss terms (see the module docstring)."""
    if isinstance(terms, (str, bytes)) or not isinstance(terms, Sequence) or len(terms) == 0:
        raise ConfigError(f"{where}: expected a non-empty list of {{name, weight}} terms, got {terms!r}")
    return tuple(parse_term(term, f"{where}[{i}]") for i, term in enumerate(terms))


def squared_l2(a: Tensor, b: Tensor) -> Tensor:
    """``1/(W H) * sum_{x,y} ||a[:, x, y] - b[:, x, y]||^2``, averaged over the batch (``N x C x H x W`` inputs)."""
    return (a - b).pow(2).sum(dim=1).mean()


FEATURE_CRITERIA = {"l1": F.l1_loss, "mse": F.mse_loss, "squared_l2": squared_l2}


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

    Weights: the ``features.*`` entries of ``sisr.weights.load_state_dict("vgg19")`` (ImageNet,
    torchvision's ``vgg19-dcbb9e9d.pth``), loaded strictly into torchvision's VGG19 feature stack
    (``torchvision.models.vgg.make_layers(cfgs["E"])``, the ``features`` of ``vgg19()``; the classifier,
    100M parameters, is never built).
    """

    def __init__(self, *, layer: str = "conv5_4", criterion: str = "l1") -> None:
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        state = weights.load_state_dict("vgg19")  # before building: a missing file fails first
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
    (``sisr.weights.load_state_dict("vgg16" / "alexnet")``), never downloaded; the linear heads ship
    inside the ``lpips`` package.
    """

    def __init__(self, *, net: str = "vgg") -> None:
        super().__init__()
        import lpips

        trunk = {"vgg": "vgg16", "alex": "alexnet"}[net]
        state = weights.load_state_dict(trunk)  # before building: a missing file fails first
        with warnings.catch_warnings():  # lpips calls torchvision with the deprecated `pretrained=` argument
            warnings.simplefilter("ignore", UserWarning)
            self.lpips = lpips.LPIPS(net=net, pnet_rand=True, verbose=False)
        # lpips keeps torchvision's layer numbers inside its slices: net.sliceS.<i> is features[i].
        mapped = {}
        for key in self.lpips.net.state_dict():
            index, param = key.split(".")[1:]
            mapped[key] = state[f"features.{index}.{param}"]
        self.lpips.net.load_state_dict(mapped)
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
