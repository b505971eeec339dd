"""Exceptions with messages that name the file or key and say what was expected."""


class SisrError(ValueError):
    """Base class: the CLI prints these without a traceback and exits with status 2."""


class ImageError(SisrError):
    """An image file is missing, unreadable, truncated or of an unexpected kind."""


class ConfigError(SisrError):
    """A configuration or study file is invalid; the message names the key path."""


class MissingWeightsError(SisrError):
    """Pretrained weights are not in the local cache; the message names the file and the fetch command."""


class DataError(SisrError):
    """A dataset is incomplete or inconsistent (missing LR file, image smaller than the patch, ...)."""


class DivergenceError(SisrError):
    """A training run diverged (loss not finite, or far above its first batch's) under ``divergence.policy: fail``."""


class RunLockedError(SisrError):
    """A run folder is already used by another trainer; the message names the process holding it."""


class DiskFullError(SisrError):
    """No space left on the device while writing a file; the message names the file."""
