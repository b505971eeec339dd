"""Model registry: every architecture of the five studies, by name.

``MODELS`` is an explicit dict (no registration by decorator or file name). Named variants are
``functools.partial`` factories that fix hyper-parameters (timm style); every factory takes the
keyword-only arguments ``scale`` and ``in_channels`` plus the keyword arguments documented in its
class docstring. Every SR model maps a float ``N x C x h x w`` tensor in [0, 1] to
``N x C x (scale*h) x (scale*w)`` in [0, 1] (not clamped). ``patch_discriminator`` maps an image to
``(N, 1)`` logits instead and ignores ``scale``.
"""

from __future__ import annotations

import inspect
from functools import partial
from typing import Any, Callable

from torch import nn

from sisr.errors import ConfigError
from sisr.models._common import check_in_channels, check_scale
from sisr.models.bicubic_refiner import BicubicRefiner
from sisr.models.deep_residual import DeepResidual
from sisr.models.edsr import EDSR
from sisr.models.espcn import ESPCN
from sisr.models.espcn_bn_residual import ESPCNBNResidual
from sisr.models.interpolation import Interpolation
from sisr.models.inverted_unet import InvertedUNet
from sisr.models.patch_discriminator import PatchDiscriminator
from sisr.models.rrdb import RRDBNet
from sisr.models.srcnn import SRCNN
from sisr.models.srresnet import SRResNet

MODELS: dict[str, Callable[..., nn.Module]] = {
    "nearest": partial(Interpolation, kernel="nearest"),
    "bilinear": partial(Interpolation, kernel="linear"),
    "bicubic": partial(Interpolation, kernel="cubic"),
    "srcnn": SRCNN,
    "espcn": ESPCN,
    "espcn_bn_residual": ESPCNBNResidual,
    "srresnet": SRResNet,
    "edsr_like": partial(EDSR, blocks=32, channels=256, res_scale=0.1),
    "edsr_baseline": partial(EDSR, blocks=16, channels=64, res_scale=1.0),
    "bicubic_refiner": BicubicRefiner,
    "deep_residual": DeepResidual,
    "rrdb": RRDBNet,
    "inverted_unet": InvertedUNet,
    "patch_discriminator": PatchDiscriminator,
}

# one line per model for `sisr models`
DESCRIPTIONS: dict[str, str] = {
    "nearest": "nearest-neighbour upsampling (no parameters)",
    "bilinear": "MATLAB bilinear upsampling (no parameters)",
    "bicubic": "MATLAB bicubic upsampling (no parameters)",
    "srcnn": "SRCNN 9-1-5 after MATLAB bicubic (Dong et al. 2014)",
    "espcn": "ESPCN 5-3-3, tanh, sub-pixel (Shi et al. 2016)",
    "espcn_bn_residual": "ESPCN + BatchNorm/ReLU + bicubic skip (espcn study)",
    "srresnet": "SRResNet, 16 blocks (Ledig et al. 2017; srresnet_edsr study)",
    "edsr_like": "EDSR 32x256, res_scale 0.1 (Lim et al. 2017; srresnet_edsr study)",
    "edsr_baseline": "EDSR baseline 16x64 (Lim et al. 2017)",
    "bicubic_refiner": "MATLAB bicubic + plain CNN correction (residual_sweep study)",
    "deep_residual": "residual CNN + sub-pixel upsampling (residual_sweep study)",
    "rrdb": "RRDBNet, 2 RRDBs (Wang et al. 2018; rrdb_gan study)",
    "inverted_unet": "Y-channel up x8 / down x4 net (inverted_unet study)",
    "patch_discriminator": "GAN discriminator, (N, 1) logits (rrdb_gan study)",
}

# registered names that are not LR -> HR models
DISCRIMINATORS: frozenset[str] = frozenset({"patch_discriminator"})


def get_factory(name: str) -> Callable[..., nn.Module]:
    """``MODELS[name]``, or :class:`ConfigError` listing the valid names."""
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}") from None


def model_class(name: str) -> type[nn.Module]:
    """The class behind a registered name (unwrapping ``functools.partial``)."""
    factory = get_factory(name)
    return factory.func if isinstance(factory, partial) else factory  # type: ignore[return-value]


def supported_scales(name: str) -> tuple[int, ...] | None:
    """Scales a registered model accepts (``None``: any positive integer)."""
    return model_class(name).SCALES  # type: ignore[return-value]


def supported_in_channels(name: str) -> tuple[int, ...]:
    """Channel counts (1 = Y, 3 = RGB) a registered model accepts."""
    return model_class(name).IN_CHANNELS  # type: ignore[return-value]


def create_model(name: str, *, scale: int | None, in_channels: int = 3, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name``.

    scale: the upscaling factor (ignored by discriminators, which also accept ``None``).
    in_channels: 1 (Y) or 3 (RGB), as the model allows.
    kwargs: the model's other keyword arguments (see its class docstring); an unknown one raises
    :class:`ConfigError` listing the accepted ones, as do an unknown name and an unsupported scale.
    """
    factory = get_factory(name)
    accepted = [
        p.name for p in inspect.signature(factory).parameters.values() if p.name not in ("scale", "in_channels")
    ]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ConfigError(
            f"model {name!r}: unknown argument(s) {', '.join(unknown)}; accepted: {', '.join(accepted) or 'none'}"
        )
    if name not in DISCRIMINATORS:
        check_scale(name, scale, supported_scales(name))
    check_in_channels(name, in_channels, supported_in_channels(name))
    return factory(scale=scale, in_channels=in_channels, **kwargs)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (``requires_grad``); fixed ones such as EDSR's mean shift excluded."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def model_table(scale: int = 4) -> list[tuple[str, int | None, str]]:
    """``(name, trainable parameters, description)`` per registered model, built at ``scale`` with RGB
    input (Y for single-channel models); ``None`` parameters where the model does not support ``scale``."""
    rows: list[tuple[str, int | None, str]] = []
    for name in MODELS:
        scales = supported_scales(name)
        channels = supported_in_channels(name)
        params: int | None = None
        if name in DISCRIMINATORS or scales is None or scale in scales:
            model = create_model(name, scale=scale, in_channels=3 if 3 in channels else channels[0])
            params = count_parameters(model)
        rows.append((name, params, DESCRIPTIONS[name]))
    return rows


__all__ = [
    "DESCRIPTIONS",
    "DISCRIMINATORS",
    "MODELS",
    "count_parameters",
    "create_model",
    "get_factory",
    "model_class",
    "model_table",
    "supported_in_channels",
    "supported_scales",
]
