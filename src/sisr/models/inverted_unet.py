"""The ``inverted_unet`` study's "Inverted U-Net" (study report 004, see docs STUDIES.md): upsample
far beyond the target size with nearest + conv stages, then come back down with strided convs.
"""

from __future__ import annotations

import torch
from torch import nn

from sisr.models._common import check_in_channels, check_positive, check_scale

# net scale -> number of (nearest x2, conv, ReLU) stages; the two stride-2 convs then divide by 4
UP_STAGES: dict[int, int] = {2: 3, 4: 4}


class InvertedUNet(nn.Module):
    """Single-channel (Y) network: ``n`` x [nearest x2, conv3x3 -> F, ReLU] (F = 64), then
    conv3x3 F->32 stride 2, ReLU; conv3x3 32->16 stride 2, ReLU; conv3x3 16->1, ReLU.

    The report's network is x2: three x2 stages (256 -> 2048, i.e. x8) then two stride-2 convs (/4).
    Here ``scale`` picks the number of x2 stages so that the net factor is ``2**n / 4``: x2 -> n = 3 (the
    report's net), x4 -> n = 4 (an extension: x16 then /4). Other scales cannot be reached with x2
    stages and raise an error. All convs are 3x3 with padding 1 (the report gives no kernel size for the
    strided convs), so inputs of any size work. The final ReLU (as in the report) keeps outputs >= 0.

    Keyword-only arguments:
        scale: 2 (the study) or 4.
        in_channels: must be 1 (the study works on the Y channel; default 1).
        channels: features of the upsampling stages (default 64).
    """

    SCALES: tuple[int, ...] | None = (2, 4)
    IN_CHANNELS: tuple[int, ...] = (1,)

    def __init__(self, *, scale: int, in_channels: int = 1, channels: int = 64) -> None:
        super().__init__()
        check_scale("inverted_unet", scale, self.SCALES)
        check_in_channels("inverted_unet", in_channels, self.IN_CHANNELS)
        check_positive("inverted_unet", "channels", channels)
        layers: list[nn.Module] = []
        previous = in_channels
        for _ in range(UP_STAGES[scale]):
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(previous, channels, 3, padding=1),
                nn.ReLU(inplace=True),
            ]
            previous = channels
        layers += [
            nn.Conv2d(channels, 32, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 16, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(16, in_channels, 3, padding=1),
            nn.ReLU(inplace=True),
        ]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
