"""SRCNN: Dong, Loy, He, Tang, "Image Super-Resolution Using Deep Convolutional Networks",
ECCV 2014 / TPAMI 2016.

Used by the ``espcn`` study (SRCNN row, trained by us) and the ``inverted_unet`` study (baseline).
"""

from __future__ import annotations

import torch
from torch import nn

from sisr.base.errors import ConfigError
from sisr.models._common import check_in_channels, check_scale, matlab_resize

# variant name -> kernel sizes of the three layers (Dong et al. 2016, Sec. 4.3)
VARIANTS: dict[str, tuple[int, int, int]] = {"9-1-5": (9, 1, 5), "9-3-5": (9, 3, 5), "9-5-5": (9, 5, 5)}


class SRCNN(nn.Module):
    """Three-layer SRCNN (64 and 32 filters) after MATLAB-bicubic pre-upsampling.

    ``f1 x f1`` conv C->64, ReLU; ``f2 x f2`` conv 64->32, ReLU; ``f3 x f3`` conv 32->C (linear).
    The original network takes an image already upscaled by MATLAB bicubic; here that step is part of
    the model (:func:`sisr.base.imresize.imresize_torch`, kernel ``cubic``, no rounding) so every model
    maps LR -> HR. The original used *valid* convolutions (the output is 12 pixels smaller in each
    dimension for 9-1-5, 16 for 9-5-5); we zero-pad each conv ("same" padding) so the output has the HR size.
    The original initialised weights from N(0, 0.001); we keep PyTorch's default initialisation.

    Keyword-only arguments:
        scale: upscaling factor, any positive integer (the network itself is scale-agnostic).
        in_channels: 1 (Y, as in the paper) or 3 (RGB, also studied in the 2016 paper); default 3.
        variant: kernel sizes ``"9-1-5"`` (default, the base model), ``"9-3-5"`` or ``"9-5-5"``.
    """

    SCALES: tuple[int, ...] | None = None
    IN_CHANNELS: tuple[int, ...] = (1, 3)

    def __init__(self, *, scale: int, in_channels: int = 3, variant: str = "9-1-5") -> None:
        super().__init__()
        self.scale = check_scale("srcnn", scale, self.SCALES)
        check_in_channels("srcnn", in_channels, self.IN_CHANNELS)
        if variant not in VARIANTS:
            raise ConfigError(f"model 'srcnn': variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
        k1, k2, k3 = VARIANTS[variant]
        self.conv1 = nn.Conv2d(in_channels, 64, k1, padding=k1 // 2)
        self.conv2 = nn.Conv2d(64, 32, k2, padding=k2 // 2)
        self.conv3 = nn.Conv2d(32, in_channels, k3, padding=k3 // 2)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = matlab_resize(x, self.scale, "cubic")
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        return self.conv3(x)
