"""EDSR: Lim et al., "Enhanced Deep Residual Networks for Single Image Super-Resolution",
CVPRW 2017.

Registered as ``edsr_like`` (the ``srresnet_edsr`` study's custom net: 32 blocks x 256 channels,
residual scaling 0.1, i.e. EDSR's large model) and ``edsr_baseline`` (the EDSR paper's baseline:
16 blocks x 64 channels, no residual scaling). Layer names follow the official EDSR code.
"""

from __future__ import annotations

import torch
from torch import nn

from sisr.base.colour import LUMA_601
from sisr.models._common import UPSAMPLING_STEPS, check_in_channels, check_positive, check_scale

# DIV2K training-set mean, RGB in [0, 1] (EDSR code, and the srresnet_edsr study report)
DIV2K_RGB_MEAN: tuple[float, float, float] = (0.4488, 0.4371, 0.4040)
# BT.601 luma weights: the mean of a single-channel (Y) input is taken as the luma of the RGB mean
_LUMA = tuple(float(w) for w in LUMA_601)


class MeanShift(nn.Conv2d):
    """Fixed 1x1 conv that adds ``sign * mean`` per channel (identity weight); not trainable."""

    def __init__(self, mean: tuple[float, ...], sign: float) -> None:
        channels = len(mean)
        super().__init__(channels, channels, kernel_size=1)
        with torch.no_grad():
            self.weight.copy_(torch.eye(channels).view(channels, channels, 1, 1))
            self.bias.copy_(sign * torch.tensor(mean))
        for p in self.parameters():
            p.requires_grad = False


class _ResidualBlock(nn.Module):
    """conv3x3, ReLU, conv3x3 (no BatchNorm), scaled by ``res_scale``, + skip."""

    def __init__(self, channels: int, res_scale: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) * self.res_scale


class EDSR(nn.Module):
    """EDSR: mean shift, conv3x3 C->F, ``blocks`` residual blocks (conv3x3-ReLU-conv3x3, x res_scale,
    + skip), conv3x3 + long skip, sub-pixel upsampling without activation, conv3x3 F->C, mean shift back.

    Upsampling: x2 one (conv F->4F, PixelShuffle(2)); x4 two of them; x3 one (conv F->9F, PixelShuffle(3)).
    The mean shift is a fixed 1x1 conv (sign -1 at the input, +1 at the output) holding the DIV2K RGB
    mean; its weights are not trainable and not counted by ``count_parameters``. The ``srresnet_edsr``
    report says both "ReLU" and "no activation inside the residual blocks"; we follow EDSR (ReLU inside).

    Keyword-only arguments:
        scale: 2, 3 or 4.
        in_channels: 1 or 3 (default 3). With 1 channel the mean is the BT.601 luma of ``rgb_mean``.
        blocks: number of residual blocks (default 16, EDSR baseline; ``edsr_like``: 32).
        channels: feature channels F (default 64, EDSR baseline; ``edsr_like``: 256).
        res_scale: residual scaling (default 1.0, EDSR baseline; ``edsr_like``: 0.1).
        rgb_mean: per-channel mean subtracted at the input (default DIV2K ``(0.4488, 0.4371, 0.4040)``).
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
        res_scale: float = 1.0,
        rgb_mean: tuple[float, float, float] = DIV2K_RGB_MEAN,
    ) -> None:
        super().__init__()
        check_scale("edsr", scale, self.SCALES)
        check_in_channels("edsr", in_channels, self.IN_CHANNELS)
        check_positive("edsr", "blocks", blocks)
        check_positive("edsr", "channels", channels)
        mean = tuple(rgb_mean) if in_channels == 3 else (sum(w * m for w, m in zip(_LUMA, rgb_mean)),)
        self.sub_mean = MeanShift(mean, sign=-1.0)
        self.head = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1))
        self.body = nn.Sequential(
            *[_ResidualBlock(channels, res_scale) for _ in range(blocks)],
            nn.Conv2d(channels, channels, 3, padding=1),
        )
        upsampler: list[nn.Module] = []
        for factor in UPSAMPLING_STEPS[scale]:
            upsampler += [nn.Conv2d(channels, channels * factor**2, 3, padding=1), nn.PixelShuffle(factor)]
        self.tail = nn.Sequential(nn.Sequential(*upsampler), nn.Conv2d(channels, in_channels, 3, padding=1))
        self.add_mean = MeanShift(mean, sign=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.sub_mean(x))
        x = self.body(x) + x
        return self.add_mean(self.tail(x))
