"""The ``rrdb_gan`` study's discriminator (study report 003, see docs STUDIES.md): 4 x (conv,
LeakyReLU), average pool, an MLP with two hidden layers, one probability per image.
"""

from __future__ import annotations

import torch
from torch import nn

from sisr.models._common import check_in_channels, check_positive


class PatchDiscriminator(nn.Module):
    """Image -> one real/fake logit per image, shape ``(N, 1)``.

    Features: for each of ``channels`` (default 64, 128, 256, 512) a conv3x3 stride 2 padding 1 and a
    LeakyReLU(0.2), so the map shrinks 16x (a 16x16 input reaches 1x1; any size >= 16 works, smaller ones
    too). Then global average pooling, and an MLP: Linear 512->1024, LeakyReLU(0.2), Linear 1024->256,
    LeakyReLU(0.2), Linear 256->1. The report gives neither the widths nor the strides; these are ours.

    ``forward`` returns *logits*: train with ``BCEWithLogitsLoss`` (numerically stable, equivalent to
    BCE on ``sigmoid(logits)``); :meth:`probability` gives the report's probability output.
    Input: images in [0, 1] (HR or SR), any height and width.

    Keyword-only arguments:
        scale: ignored (accepted so every registered model is built the same way); default None.
        in_channels: 1 or 3 (default 3).
        channels: output channels of the four convs (default (64, 128, 256, 512)).
        hidden: widths of the two hidden MLP layers (default (1024, 256)).
    """

    SCALES: tuple[int, ...] | None = None
    IN_CHANNELS: tuple[int, ...] = (1, 3)

    def __init__(
        self,
        *,
        scale: int | None = None,
        in_channels: int = 3,
        channels: tuple[int, ...] = (64, 128, 256, 512),
        hidden: tuple[int, ...] = (1024, 256),
    ) -> None:
        super().__init__()
        check_in_channels("patch_discriminator", in_channels, self.IN_CHANNELS)
        for width in (*channels, *hidden):
            check_positive("patch_discriminator", "channels/hidden", width)
        features: list[nn.Module] = []
        previous = in_channels
        for width in channels:
            features += [nn.Conv2d(previous, width, 3, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
            previous = width
        self.features = nn.Sequential(*features)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        mlp: list[nn.Module] = []
        for width in hidden:
            mlp += [nn.Linear(previous, width), nn.LeakyReLU(0.2, inplace=True)]
            previous = width
        mlp.append(nn.Linear(previous, 1))
        self.classifier = nn.Sequential(*mlp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return real/fake logits of shape ``(N, 1)``."""
        return self.classifier(self.pool(self.features(x)))

    def probability(self, x: torch.Tensor) -> torch.Tensor:
        """Return the probability that each image is real, ``sigmoid(logits)``, shape ``(N, 1)``."""
        return torch.sigmoid(self.forward(x))
