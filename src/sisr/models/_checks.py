"""Argument checks shared by the model files and the model registry (no torch: the workflow checks study
files with them while it plans the jobs).

Every error names the model and says what it accepts, e.g.
``model 'srresnet': scale 5 is not supported; supported scales: 2, 3, 4``.
"""

from __future__ import annotations

from sisr.base.errors import ConfigError


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
