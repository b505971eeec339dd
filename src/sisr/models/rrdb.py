"""RRDBNet: Wang et al., "ESRGAN: Enhanced Super-Resolution Generative Adversarial Networks",
ECCVW 2018 (the generator; trained with a pixel loss it is "RRDB", the PSNR-oriented model).

The CNN and GAN generator of the ``rrdb_gan`` study (2, 10 or 15 RRDB blocks; docs STUDIES.md).
Layer names follow BasicSR's ``RRDBNet`` (conv_first, body, conv_body, conv_hr, conv_last).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sisr.base.errors import ConfigError
from sisr.models._common import UPSAMPLING_STEPS, check_in_channels, check_positive, check_scale

RESIDUAL_SCALE = 0.2  # ESRGAN's residual scaling, in the dense blocks and around each RRDB (the default)
NEGATIVE_SLOPE = 0.2  # LeakyReLU slope used everywhere


def _init_scaled(convs: list[nn.Conv2d], scale: float) -> None:
    """Kaiming-normal init multiplied by ``scale``, zero bias (ESRGAN / BasicSR ``default_init_weights``)."""
    for conv in convs:
        nn.init.kaiming_normal_(conv.weight)
        with torch.no_grad():
            conv.weight.mul_(scale)
        nn.init.zeros_(conv.bias)


class ResidualDenseBlock(nn.Module):
    """Five 3x3 convs, each fed the concatenation of the block input and all earlier outputs;
    LeakyReLU after the first four; output ``x + residual_scale * conv5(...)``."""

    def __init__(self, channels: int, growth: int, residual_scale: float = RESIDUAL_SCALE) -> None:
        super().__init__()
        self.residual_scale = residual_scale
        self.conv1 = nn.Conv2d(channels, growth, 3, padding=1)
        self.conv2 = nn.Conv2d(channels + growth, growth, 3, padding=1)
        self.conv3 = nn.Conv2d(channels + 2 * growth, growth, 3, padding=1)
        self.conv4 = nn.Conv2d(channels + 3 * growth, growth, 3, padding=1)
        self.conv5 = nn.Conv2d(channels + 4 * growth, channels, 3, padding=1)
        self.lrelu = nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True)
        _init_scaled([self.conv1, self.conv2, self.conv3, self.conv4, self.conv5], 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x + x5 * self.residual_scale


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks, output ``x + residual_scale * rdb3(rdb2(rdb1(x)))``."""

    def __init__(self, channels: int, growth: int, residual_scale: float = RESIDUAL_SCALE) -> None:
        super().__init__()
        self.residual_scale = residual_scale
        self.rdb1 = ResidualDenseBlock(channels, growth, residual_scale)
        self.rdb2 = ResidualDenseBlock(channels, growth, residual_scale)
        self.rdb3 = ResidualDenseBlock(channels, growth, residual_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.rdb3(self.rdb2(self.rdb1(x))) * self.residual_scale


class RRDBNet(nn.Module):
    """conv_first 3x3 C->nf; ``blocks`` RRDBs; conv_body 3x3 + long skip; per upsampling step nearest
    interpolation, conv 3x3, LeakyReLU; conv_hr 3x3, LeakyReLU, conv_last 3x3 nf->C. No BatchNorm.

    Upsampling steps: x4 two nearest x2 steps (ESRGAN); x2 one x2 step; x3 one nearest x3 step.
    (BasicSR's RRDBNet does x2 differently: pixel-unshuffle of the input, then the x4 network; the
    original ESRGAN code supports x4 only.) The dense-block convs are initialised like ESRGAN
    (Kaiming-normal x 0.1, zero bias); the other convs keep PyTorch's default initialisation.

    Keyword-only arguments:
        scale: 2, 3 or 4 (the study uses 4).
        in_channels: 1 or 3 (default 3).
        blocks: number of RRDBs (default 2; the study uses 2, 10, 15; ESRGAN uses 23).
        channels: feature channels nf (default 64).
        growth: growth channels of the dense blocks (default 32).
        residual_scale: scaling of each dense block's and each RRDB's residual (default 0.2, ESRGAN and the
            rrdb_gan authors' code; 1.0 gives the plain sums the rrdb_gan report describes).
    """

    SCALES: tuple[int, ...] | None = (2, 3, 4)
    IN_CHANNELS: tuple[int, ...] = (1, 3)

    def __init__(
        self, *, scale: int, in_channels: int = 3, blocks: int = 2, channels: int = 64, growth: int = 32,
        residual_scale: float = RESIDUAL_SCALE,
    ) -> None:
        super().__init__()
        check_scale("rrdb", scale, self.SCALES)
        check_in_channels("rrdb", in_channels, self.IN_CHANNELS)
        check_positive("rrdb", "blocks", blocks)
        check_positive("rrdb", "channels", channels)
        check_positive("rrdb", "growth", growth)
        self.steps = UPSAMPLING_STEPS[scale]
        self.conv_first = nn.Conv2d(in_channels, channels, 3, padding=1)
        if isinstance(residual_scale, bool) or not isinstance(residual_scale, (int, float)) or residual_scale <= 0:
            raise ConfigError(f"model 'rrdb': residual_scale must be a positive number, got {residual_scale!r}")
        self.body = nn.Sequential(*[RRDB(channels, growth, residual_scale) for _ in range(blocks)])
        self.conv_body = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv_up = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=1) for _ in self.steps)
        self.conv_hr = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv_last = nn.Conv2d(channels, in_channels, 3, padding=1)
        self.lrelu = nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.conv_first(x)
        features = features + self.conv_body(self.body(features))
        for factor, conv in zip(self.steps, self.conv_up):
            features = self.lrelu(conv(F.interpolate(features, scale_factor=factor, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(features)))
