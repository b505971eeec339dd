"""ESPCN: Shi et al., "Real-Time Single Image and Video Super-Resolution Using an Efficient
Sub-Pixel Convolutional Neural Network", CVPR 2016.

Used by the ``espcn`` study (reference rows) and the ``inverted_unet`` study (baseline, x2, Y channel).
"""

from __future__ import annotations

import torch
from torch import nn

from sisr.base.errors import ConfigError
from sisr.models._common import check_in_channels, check_scale


class ESPCN(nn.Module):
    """ESPCN as in the paper: (f1, n1) = (5, 64), (f2, n2) = (3, 32), f3 = 3, then a sub-pixel layer.

    conv 5x5 C->64, act; conv 3x3 64->32, act; conv 3x3 32->C*r^2 (linear); PixelShuffle(r).
    All convs zero-padded ("same"), so an ``h x w`` input gives an ``r*h x r*w`` output.

    Keyword-only arguments:
        scale: upscaling factor r, any positive integer.
        in_channels: 1 (Y, as in the paper) or 3 (RGB); default 3.
        activation: ``"tanh"`` (default; the paper's choice) or ``"relu"`` (its Table 1 comparison).
    """

    SCALES: tuple[int, ...] | None = None
    IN_CHANNELS: tuple[int, ...] = (1, 3)

    def __init__(self, *, scale: int, in_channels: int = 3, activation: str = "tanh") -> None:
        super().__init__()
        check_scale("espcn", scale, self.SCALES)
        check_in_channels("espcn", in_channels, self.IN_CHANNELS)
        if activation not in ("tanh", "relu"):
            raise ConfigError(f"model 'espcn': activation must be 'tanh' or 'relu', got {activation!r}")
        self.conv1 = nn.Conv2d(in_channels, 64, 5, padding=2)
        self.conv2 = nn.Conv2d(64, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, in_channels * scale**2, 3, padding=1)
        self.act = nn.Tanh() if activation == "tanh" else nn.ReLU(inplace=True)
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.conv1(x))
        x = self.act(self.conv2(x))
        return self.shuffle(self.conv3(x))
