"""SRResNet: Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a Generative
Adversarial Network", CVPR 2017 (the generator, trained with a pixel loss).

The baseline of the ``srresnet_edsr`` study (docs STUDIES.md).
"""

from __future__ import annotations

import torch
from torch import nn

from sisr.models._common import UPSAMPLING_STEPS, check_in_channels, check_positive, check_scale


class _ResidualBlock(nn.Module):
    """conv3x3, BN, PReLU, conv3x3, BN, + skip."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
            nn.PReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNet(nn.Module):
    """SRResNet working in [-1, 1] inside: the model maps its [0, 1] input to [-1, 1] and its tanh
    output back to [0, 1], so callers see the [0, 1] contract.

    conv 9x9 C->64 + PReLU; ``blocks`` residual blocks (conv3x3, BN, PReLU, conv3x3, BN, + skip);
    conv3x3 + BN added to the head features (long skip); sub-pixel blocks (conv 64->64*f^2,
    PixelShuffle(f), PReLU) with f = 2, 2 for x4, one f = 2 for x2, one f = 3 for x3; conv 9x9 64->C; tanh.
    PReLU has one shared slope per layer (``nn.PReLU()`` default); convs keep their bias.
    About 1.5M trainable parameters at x4 RGB (1,549,462).

    Keyword-only arguments:
        scale: 2, 3 or 4 (the study uses 4).
        in_channels: 1 or 3 (default 3).
        blocks: number of residual blocks (default 16, the paper's B).
        channels: feature channels (default 64).
    """

    SCALES: tuple[int, ...] | None = (2, 3, 4)
    IN_CHANNELS: tuple[int, ...] = (1, 3)

    def __init__(self, *, scale: int, in_channels: int = 3, blocks: int = 16, channels: int = 64) -> None:
        super().__init__()
        check_scale("srresnet", scale, self.SCALES)
        check_in_channels("srresnet", in_channels, self.IN_CHANNELS)
        check_positive("srresnet", "blocks", blocks)
        check_positive("srresnet", "channels", channels)
        self.head = nn.Sequential(nn.Conv2d(in_channels, channels, 9, padding=4), nn.PReLU())
        self.body = nn.Sequential(*[_ResidualBlock(channels) for _ in range(blocks)])
        self.body_end = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels))
        upsampling: list[nn.Module] = []
        for factor in UPSAMPLING_STEPS[scale]:
            upsampling += [
                nn.Conv2d(channels, channels * factor**2, 3, padding=1),
                nn.PixelShuffle(factor),
                nn.PReLU(),
            ]
        self.upsample = nn.Sequential(*upsampling)
        self.tail = nn.Conv2d(channels, in_channels, 9, padding=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.head(x * 2.0 - 1.0)
        x = self.body_end(self.body(features)) + features
        x = torch.tanh(self.tail(self.upsample(x)))
        return (x + 1.0) / 2.0
