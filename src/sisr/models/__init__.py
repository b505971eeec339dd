"""Model registry: every architecture of the five studies, by name.

``SPECS`` is an explicit dict of :class:`ModelSpec` records (no registration by decorator or file name),
readable without torch: the workflow checks model names and arguments of study files with
:func:`check_model` while it plans the jobs. ``MODELS`` (name -> factory) is built from it on first use.
Named variants are ``functools.partial`` factories that fix hyper-parameters (timm style); every factory takes the
keyword-only arguments ``scale`` and ``in_channels`` plus the keyword arguments documented in its
class docstring. Every SR model maps a float ``N x C x h x w`` tensor in [0, 1] to
``N x C x (scale*h) x (scale*w)`` in [0, 1] (not clamped). ``patch_discriminator`` maps an image to
``(N, 1)`` logits instead and ignores ``scale``.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Mapping

from sisr.base.errors import ConfigError
from sisr.base import suggest
from sisr.models._checks import check_in_channels, check_scale

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    """What the workflow needs to know about a registered model without importing torch.

    target: ``module:Class`` of the architecture (one model per file); fixed: keyword arguments the
    registered name fixes (a ``functools.partial``, timm style); args: the keyword arguments a study may
    set besides ``scale`` and ``in_channels``; scales: the supported factors (``None``: any positive
    integer); in_channels: 1 (Y) and/or 3 (RGB); size: the class's defaults of ``blocks`` and ``channels`` that
    ``fixed`` does not set (what a study that sets neither gets; the workflow's job order ranks runs by them,
    :func:`sisr.config.studies.size_hint`). tests/test_models.py checks every field against the class (its
    signature and its ``SCALES`` / ``IN_CHANNELS``).
    """

    target: str
    description: str
    args: tuple[str, ...] = ()
    fixed: Mapping[str, Any] = field(default_factory=dict)
    scales: tuple[int, ...] | None = None
    in_channels: tuple[int, ...] = (1, 3)
    size: Mapping[str, int] = field(default_factory=dict)


_X234 = (2, 3, 4)
SPECS: dict[str, ModelSpec] = {
    "nearest": ModelSpec("sisr.models.interpolation:Interpolation", "nearest-neighbour upsampling (no parameters)",
                         ("kernel",), {"kernel": "nearest"}),
    "bilinear": ModelSpec("sisr.models.interpolation:Interpolation", "MATLAB bilinear upsampling (no parameters)",
                          ("kernel",), {"kernel": "linear"}),
    "bicubic": ModelSpec("sisr.models.interpolation:Interpolation", "MATLAB bicubic upsampling (no parameters)",
                         ("kernel",), {"kernel": "cubic"}),
    "srcnn": ModelSpec("sisr.models.srcnn:SRCNN", "SRCNN 9-1-5 after MATLAB bicubic (Dong et al. 2014)", ("variant",)),
    "espcn": ModelSpec("sisr.models.espcn:ESPCN", "ESPCN 5-3-3, tanh, sub-pixel (Shi et al. 2016)", ("activation",)),
    "espcn_bn_residual": ModelSpec("sisr.models.espcn_bn_residual:ESPCNBNResidual",
                                   "ESPCN + BatchNorm/ReLU + bicubic skip (espcn study)"),
    "srresnet": ModelSpec("sisr.models.srresnet:SRResNet", "SRResNet, 16 blocks (Ledig et al. 2017; srresnet_edsr study)",
                          ("blocks", "channels"), scales=_X234, size={"blocks": 16, "channels": 64}),
    "edsr_like": ModelSpec("sisr.models.edsr:EDSR", "EDSR 32x256, res_scale 0.1 (Lim et al. 2017; srresnet_edsr study)",
                           ("blocks", "channels", "res_scale", "rgb_mean"),
                           {"blocks": 32, "channels": 256, "res_scale": 0.1}, _X234),
    "edsr_baseline": ModelSpec("sisr.models.edsr:EDSR", "EDSR baseline 16x64 (Lim et al. 2017)",
                               ("blocks", "channels", "res_scale", "rgb_mean"),
                               {"blocks": 16, "channels": 64, "res_scale": 1.0}, _X234),
    "bicubic_refiner": ModelSpec("sisr.models.bicubic_refiner:BicubicRefiner",
                                 "MATLAB bicubic + plain CNN correction (residual_sweep study)", ("blocks", "channels"),
                                 size={"blocks": 16, "channels": 64}),
    "deep_residual": ModelSpec("sisr.models.deep_residual:DeepResidual",
                               "residual CNN + sub-pixel upsampling (residual_sweep study)",
                               ("blocks", "channels", "negative_slope"), scales=_X234,
                               size={"blocks": 16, "channels": 64}),
    "rrdb": ModelSpec("sisr.models.rrdb:RRDBNet", "RRDBNet, 2 RRDBs (Wang et al. 2018; rrdb_gan study)",
                      ("blocks", "channels", "growth", "residual_scale"), scales=_X234,
                      size={"blocks": 2, "channels": 64}),
    "inverted_unet": ModelSpec("sisr.models.inverted_unet:InvertedUNet",
                               "Y-channel up x8 / down x4 net (inverted_unet study)", ("channels",), scales=(2, 4),
                               in_channels=(1,), size={"channels": 64}),
    "patch_discriminator": ModelSpec("sisr.models.patch_discriminator:PatchDiscriminator",
                                     "GAN discriminator, (N, 1) logits (rrdb_gan study)", ("channels", "hidden")),
}

# one line per model for `sisr models`
DESCRIPTIONS: dict[str, str] = {name: spec.description for name, spec in SPECS.items()}

# registered names that are not LR -> HR models
DISCRIMINATORS: frozenset[str] = frozenset({"patch_discriminator"})


def get_spec(name: str, where: str = "model") -> ModelSpec:
    """``SPECS[name]``, or :class:`ConfigError` naming ``where`` and listing the valid names.

    A factory added to ``MODELS`` at run time (tests add tiny models) is described from its class.
    """
    if name in SPECS:
        return SPECS[name]
    added = globals().get("MODELS", {})
    if name in added:
        return _spec_of(added[name])
    raise ConfigError(f"{where}: {suggest.unknown('model', [name], list(SPECS))}")


def _spec_of(factory: Callable[..., nn.Module]) -> ModelSpec:
    cls = factory.func if isinstance(factory, partial) else factory
    args = tuple(p for p in inspect.signature(factory).parameters if p not in ("scale", "in_channels"))
    return ModelSpec(f"{cls.__module__}:{cls.__qualname__}", cls.__doc__ or "", args,
                     factory.keywords if isinstance(factory, partial) else {}, getattr(cls, "SCALES", None),
                     getattr(cls, "IN_CHANNELS", (1, 3)))


def check_model(name: str, *, scale: int | None, in_channels: int = 3, args: Mapping[str, Any] | None = None,
                where: str = "model", keys: tuple[str, str] = ("model", "model_args")) -> None:
    """Check a model name, its keyword arguments (by name), scale and channels without building it (no torch).

    Errors are :class:`ConfigError` naming ``where`` (e.g. ``studies/espcn.yaml: runs.espcn``) and what is
    accepted; ``keys`` are the study-file keys of the name and of the arguments. The argument values are
    checked by the model itself when it is built.
    """
    spec = get_spec(name, f"{where}.{keys[0]}")
    unknown = sorted(set(args or {}) - set(spec.args))
    if unknown:
        raise ConfigError(f"{where}.{keys[1]}: model {name!r} has no argument(s) {', '.join(unknown)}; "
                          f"accepted: {', '.join(spec.args) or 'none'}")
    try:
        if name not in DISCRIMINATORS and scale is not None:  # None: a discriminator's place (any scale)
            check_scale(name, scale, spec.scales)
        check_in_channels(name, in_channels, spec.in_channels)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def model_class(name: str) -> type[nn.Module]:
    """The class behind a registered name (imports torch and the model's file)."""
    if name not in SPECS and name in globals().get("MODELS", {}):
        factory = globals()["MODELS"][name]
        return factory.func if isinstance(factory, partial) else factory
    module, cls = get_spec(name).target.split(":")
    return getattr(importlib.import_module(module), cls)


def get_factory(name: str) -> Callable[..., nn.Module]:
    """The registered factory: the class, with the name's fixed arguments bound (``functools.partial``)."""
    if name in globals().get("MODELS", {}):
        return globals()["MODELS"][name]
    spec = get_spec(name)
    return partial(model_class(name), **spec.fixed) if spec.fixed else model_class(name)


def supported_scales(name: str) -> tuple[int, ...] | None:
    """Scales a registered model accepts (``None``: any positive integer)."""
    return get_spec(name).scales


def supported_in_channels(name: str) -> tuple[int, ...]:
    """Channel counts (1 = Y, 3 = RGB) a registered model accepts."""
    return get_spec(name).in_channels


def __getattr__(name: str) -> Any:
    if name == "MODELS":  # name -> factory; built on first use (imports torch and every model file), then kept
        models = {n: get_factory(n) for n in SPECS}
        globals()["MODELS"] = models
        return models
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def create_model(name: str, *, scale: int | None, in_channels: int = 3, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name``.

    scale: the upscaling factor (ignored by discriminators, which also accept ``None``).
    in_channels: 1 (Y) or 3 (RGB), as the model allows.
    kwargs: the model's other keyword arguments (see its class docstring); an unknown one raises
    :class:`ConfigError` listing the accepted ones, as do an unknown name and an unsupported scale.
    """
    factory = get_factory(name)
    accepted = get_spec(name).args
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
    for name in SPECS:
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
    "SPECS",
    "ModelSpec",
    "check_model",
    "get_spec",
    "count_parameters",
    "create_model",
    "get_factory",
    "model_class",
    "model_table",
    "supported_in_channels",
    "supported_scales",
]
