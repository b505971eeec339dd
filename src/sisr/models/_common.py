"""Argument checks and small helpers shared by the model files.

Every error names the model and says what it accepts, e.g.
``model 'srresnet': scale 5 is not supported; supported scales: 2, 3, 4``.
"""

from __future__ import annotations

import torch

from sisr.errors import ConfigError
from sisr.imresize import imresize_torch

# Upsampling stages of the models that grow the image step by step (sub-pixel or nearest + conv):
# x2 and x4 use x2 stages, x3 one x3 stage (as EDSR and SRGAN implementations do).
UPSAMPLING_STEPS: dict[int, tuple[int, ...]] = {2: (2,), 3: (3,), 4: (2, 2)}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_scale(model: str, scale: object, supported: tuple[int, ...] | None) -> int:
    """Return ``scale`` if ``model`` supports it, else raise :class:`ConfigError`.

    supported: the accepted scales, or ``None`` for "any positive integer".
    """
    if supported is None:
        if _is_int(scale) and scale >= 1:
            return scale
        raise ConfigError(f"model {model!r}: scale must be a positive integer, got {scale!r}")
    if _is_int(scale) and scale in supported:
        return scale
    valid = ", ".join(str(s) for s in supported)
    raise ConfigError(f"model {model!r}: scale {scale!r} is not supported; supported scales: {valid}")


def check_in_channels(model: str, in_channels: object, supported: tuple[int, ...] = (1, 3)) -> int:
    """Return ``in_channels`` if it is one of ``supported``, else raise :class:`ConfigError`."""
    if _is_int(in_channels) and in_channels in supported:
        return in_channels
    valid = " or ".join(str(c) for c in supported)
    raise ConfigError(f"model {model!r}: in_channels must be {valid}, got {in_channels!r}")


def check_positive(model: str, name: str, value: object) -> int:
    """Return ``value`` if it is a positive integer (a block or channel count), else raise."""
    if _is_int(value) and value >= 1:
        return value
    raise ConfigError(f"model {model!r}: {name} must be a positive integer, got {value!r}")


def matlab_resize(x: torch.Tensor, scale: int, kernel: str = "cubic") -> torch.Tensor:
    """:func:`sisr.imresize.imresize_torch` (MATLAB weights, differentiable), kept out of
    ``torch.compile`` graphs: its weight matrices are built with numpy, which dynamo cannot trace.
    The two matmuls run eagerly; the rest of the model compiles (one graph break).
    (The compiler's ``disable`` is applied on first call, so importing the models does not import dynamo.)"""
    return _eager_resize()(x, scale, kernel=kernel)


_EAGER_RESIZE = None


def _eager_resize():
    global _EAGER_RESIZE
    if _EAGER_RESIZE is None:
        _EAGER_RESIZE = torch.compiler.disable(imresize_torch)
    return _EAGER_RESIZE
