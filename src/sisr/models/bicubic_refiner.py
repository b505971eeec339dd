"""The ``residual_sweep`` study's baseline "Bicubic Refinement Network" (study report 002, see docs
STUDIES.md): bicubic upsampling, then a shallow CNN that predicts a correction.
"""

from __future__ import annotations

import torch
from torch import nn

from sisr.models._common import check_in_channels, check_positive, check_scale, matlab_resize


class BicubicRefiner(nn.Module):
    """``up = bicubic(x)``; ``out = up + cnn(up)``.

    The report does not define the layers; ours: conv3x3 C->F + ReLU, ``blocks`` x (conv3x3 F->F + ReLU),
    conv3x3 F->C (linear), all at HR resolution, without any skip inside the CNN (a plain stack: deep
    variants are expected to be harder to train, as the report's failed b24 runs suggest). Upsampling is
    MATLAB bicubic (:func:`sisr.base.imresize.imresize_torch`, no rounding), the same as the "Bicubic" baseline
    row, so the CNN learns a correction to exactly that baseline.

    Keyword-only arguments:
        scale: upscaling factor, any positive integer (the study uses 4).
        in_channels: 1 or 3 (default 3).
        blocks: number of hidden conv + ReLU layers (default 16; the study sweeps 8, 16, 24).
        channels: feature channels F (default 64; the study sweeps 64, 128, 192, 256).
    """

    SCALES: tuple[int, ...] | None = None
    IN_CHANNELS: tuple[int, ...] = (1, 3)

    def __init__(self, *, scale: int, in_channels: int = 3, blocks: int = 16, channels: int = 64) -> None:
        super().__init__()
        self.scale = check_scale("bicubic_refiner", scale, self.SCALES)
        check_in_channels("bicubic_refiner", in_channels, self.IN_CHANNELS)
        check_positive("bicubic_refiner", "blocks", blocks)
        check_positive("bicubic_refiner", "channels", channels)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, channels, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(blocks):
            layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(channels, in_channels, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        upsampled = matlab_resize(x, self.scale, "cubic")
        return upsampled + self.body(upsampled)
