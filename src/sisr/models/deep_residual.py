"""The ``residual_sweep`` study's main model, the "Deep Residual CNN" (study report 002, see docs
STUDIES.md); swept as plain_b{8,16,24}_c{64..896}.
"""

from __future__ import annotations

import torch
from torch import nn

from sisr.models._common import UPSAMPLING_STEPS, check_in_channels, check_positive, check_scale


class _ResidualBlock(nn.Module):
    """conv3x3, LeakyReLU, conv3x3, + skip."""

    def __init__(self, channels: int, negative_slope: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.LeakyReLU(negative_slope, inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class DeepResidual(nn.Module):
    """conv3x3 C->F; ``blocks`` residual blocks (conv3x3, LeakyReLU, conv3x3, + skip); upsampling;
    conv3x3 F->C.

    Upsampling (unspecified in the report; STUDIES.md resolution): conv3x3 F->4F + PixelShuffle(2),
    twice for x4 and once for x2, no activation; x3 uses one conv F->9F + PixelShuffle(3). As in the
    report, there is no long skip around the blocks and no activation after the first conv.

    Keyword-only arguments:
        scale: 2, 3 or 4 (the study uses 4).
        in_channels: 1 or 3 (default 3).
        blocks: number of residual blocks (default 16; the study sweeps 8, 16, 24).
        channels: feature channels F (default 64; the study sweeps 64 to 896).
        negative_slope: LeakyReLU slope (default 0.01, PyTorch's ``nn.LeakyReLU()``; the report gives none).
    """

    SCALES: tuple[int, ...] | None = (2, 3, 4)
    IN_CHANNELS: tuple[int, ...] = (1, 3)

    def __init__(
        self,
        *,
        scale: int,
        in_channels: int = 3,
        blocks: int = 16,
        channels: int = 64,
        negative_slope: float = 0.01,
    ) -> None:
        super().__init__()
        check_scale("deep_residual", scale, self.SCALES)
        check_in_channels("deep_residual", in_channels, self.IN_CHANNELS)
        check_positive("deep_residual", "blocks", blocks)
        check_positive("deep_residual", "channels", channels)
        self.head = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.body = nn.Sequential(*[_ResidualBlock(channels, negative_slope) for _ in range(blocks)])
        upsampling: list[nn.Module] = []
        for factor in UPSAMPLING_STEPS[scale]:
            upsampling += [nn.Conv2d(channels, channels * factor**2, 3, padding=1), nn.PixelShuffle(factor)]
        self.upsample = nn.Sequential(*upsampling)
        self.tail = nn.Conv2d(channels, in_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.upsample(self.body(self.head(x))))
