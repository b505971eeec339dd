"""Non-learned upsampling baselines: nearest neighbour, MATLAB bilinear and MATLAB bicubic.

Registered as ``nearest``, ``bilinear`` and ``bicubic``. They are the "Bicubic" rows of every SR table
(Dong et al. 2014, Table 1) and the "NN"/"Bilinear" rows of the ``rrdb_gan`` study (Table 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sisr.base.errors import ConfigError
from sisr.models._common import check_in_channels, check_scale, matlab_resize

KERNELS = ("nearest", "linear", "cubic")


class Interpolation(nn.Module):
    """Upsample by a fixed interpolation kernel; no parameters.

    ``kernel="cubic"`` is MATLAB ``imresize(lr, s, 'bicubic')`` (Keys cubic, a = -0.5, the standard
    "Bicubic" baseline of SR papers) and ``kernel="linear"`` MATLAB ``'bilinear'`` (triangle kernel), both
    through :func:`sisr.base.imresize.imresize_torch` (no rounding, so the output is float and may leave
    [0, 1] slightly for cubic). ``kernel="nearest"`` is ``F.interpolate(mode="nearest")``, which for
    integer upscaling replicates each pixel ``s x s`` times, the same as MATLAB ``'nearest'``.

    Keyword-only arguments:
        scale: upscaling factor, any positive integer.
        in_channels: 1 (Y) or 3 (RGB), default 3; every channel is resized independently.
        kernel: ``"nearest"``, ``"linear"`` or ``"cubic"`` (default ``"cubic"``).
    """

    SCALES: tuple[int, ...] | None = None
    IN_CHANNELS: tuple[int, ...] = (1, 3)

    def __init__(self, *, scale: int, in_channels: int = 3, kernel: str = "cubic") -> None:
        super().__init__()
        name = {"nearest": "nearest", "linear": "bilinear", "cubic": "bicubic"}.get(kernel)
        if name is None:
            raise ConfigError(f"Interpolation: kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
        self.scale = check_scale(name, scale, self.SCALES)
        self.in_channels = check_in_channels(name, in_channels, self.IN_CHANNELS)
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kernel == "nearest":
            return F.interpolate(x, scale_factor=self.scale, mode="nearest")
        return matlab_resize(x, self.scale, self.kernel)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, kernel={self.kernel!r}"
