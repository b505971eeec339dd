"""The ``espcn`` study's "ESPCN" variant: ESPCN (Shi et al., CVPR 2016) with BatchNorm, ReLU and a
bicubic residual path (study report 000, see docs STUDIES.md, study ``espcn``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sisr.models._common import check_in_channels, check_scale


class ESPCNBNResidual(nn.Module):
    """ESPCN with BatchNorm and ReLU, plus a bicubic skip connection.

    conv 5x5 C->64 pad 2, BatchNorm, ReLU; conv 3x3 64->32 pad 1, BatchNorm, ReLU;
    conv 3x3 32->C*r^2 pad 1; PixelShuffle(r); plus ``F.interpolate(x, scale_factor=r, mode='bicubic',
    align_corners=False)`` (PyTorch bicubic, a = -0.75, as the study's code does; not MATLAB bicubic).
    The convs keep their bias (``nn.Conv2d`` defaults, as the study's code) although BatchNorm follows.
    About 37k trainable parameters at x4 RGB (37,392).

    Keyword-only arguments:
        scale: upscaling factor r, any positive integer (the study uses 4).
        in_channels: 1 or 3 (default 3, the study's RGB).
    """

    SCALES: tuple[int, ...] | None = None
    IN_CHANNELS: tuple[int, ...] = (1, 3)

    def __init__(self, *, scale: int, in_channels: int = 3) -> None:
        super().__init__()
        self.scale = check_scale("espcn_bn_residual", scale, self.SCALES)
        check_in_channels("espcn_bn_residual", in_channels, self.IN_CHANNELS)
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 64, 5, padding=2),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.Conv2d(64, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, in_channels * scale**2, 3, padding=1),
            nn.PixelShuffle(scale),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        upsampled = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return self.body(x) + upsampled
