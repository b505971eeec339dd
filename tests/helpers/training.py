"""Tiny training stand-ins shared by the training, resume, fault, progress and epoch-evaluation tests:
TinySR (a 2-conv sub-pixel net), TinyDisc, TinyTrainSource (random in-memory patches), tiny_valid, tiny_config,
read_history. ``register_tiny_models`` adds the two models to the registry (for subprocess runs)."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sisr import models

TIMING_COLUMNS = ("seconds", "samples_per_s")


class TinySR(nn.Module):
    """Nearest upsampling + a 2-conv sub-pixel correction; ~700 parameters. A test stand-in."""

    SCALES = None
    IN_CHANNELS = (1, 3)
    created: list["TinySR"] = []

    def __init__(self, *, scale: int, in_channels: int = 3, width: int = 8) -> None:
        super().__init__()
        self.scale = scale
        self.body = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, in_channels * scale**2, 3, padding=1), nn.PixelShuffle(scale))
        TinySR.created.append(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="nearest") + self.body(x)


class TinyDisc(nn.Module):
    """Strided conv + pooled linear head -> (N, 1) logits. A test stand-in for patch_discriminator."""

    SCALES = None
    IN_CHANNELS = (1, 3)
    created: list["TinyDisc"] = []

    def __init__(self, *, scale: int | None = None, in_channels: int = 3) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(in_channels, 4, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 1))
        TinyDisc.created.append(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def register_tiny_models(registry: dict | None = None) -> None:
    """Add tiny_sr and tiny_disc to ``sisr.models.MODELS`` (or to ``registry``); for the subprocess runs."""
    (registry if registry is not None else models.MODELS).update({"tiny_sr": TinySR, "tiny_disc": TinyDisc})


class TinyTrainSource:
    """Random uint8 HR patches, LR = 2x2 box average; deterministic in (seed, epoch), like sisr.data's.

    pause_at=(epoch, batch) and pause_file: before yielding that batch, create ``pause_file`` and wait
    (up to 300 s) until ``<pause_file>.go`` exists: lets a test signal the process at a known point.
    on_epoch(epoch) is called when an epoch's batches are requested.
    """

    def __init__(self, *, images: int = 16, batch_size: int = 4, patch: int = 6, scale: int = 2, channels: int = 3,
                 seed: int = 0, pause_at: tuple[int, int] | None = None, pause_file: Path | None = None,
                 on_epoch=None) -> None:
        self.images, self.batch_size, self.patch, self.scale, self.channels = images, batch_size, patch, scale, channels
        self.seed, self.pause_at, self.pause_file, self.on_epoch = seed, pause_at, pause_file, on_epoch

    def __len__(self) -> int:
        return self.images // self.batch_size

    def batches(self, epoch: int, start_batch: int = 0):
        if self.on_epoch is not None:
            self.on_epoch(epoch)
        rng = np.random.default_rng([self.seed, epoch])
        p, s, n, c = self.patch, self.scale, self.images, self.channels
        hr = rng.integers(0, 256, size=(n, c, p * s, p * s), dtype=np.uint8)
        lr = hr.reshape(n, c, p, s, p, s).mean(axis=(3, 5)).round().astype(np.uint8)
        for b in range(start_batch, len(self)):
            if self.pause_at == (epoch, b):
                self.pause_file.touch()
                go, deadline = Path(f"{self.pause_file}.go"), time.monotonic() + 300
                while not go.exists() and time.monotonic() < deadline:
                    time.sleep(0.01)
            rows = slice(b * self.batch_size, (b + 1) * self.batch_size)
            yield torch.from_numpy(lr[rows]), torch.from_numpy(hr[rows])


def tiny_valid(*, scale: int = 2, channels: int = 3, images: int = 2, size: int = 8):
    """A list of (name, LR 1xCxhxw, HR 1xCxHxW) uint8 tensors (random, fixed seed)."""
    rng = np.random.default_rng(123)
    out = []
    for i in range(images):
        hr = rng.integers(0, 256, size=(1, channels, size * scale, size * scale), dtype=np.uint8)
        lr = hr.reshape(1, channels, size, scale, size, scale).mean(axis=(3, 5)).round().astype(np.uint8)
        out.append((f"img{i}", torch.from_numpy(lr), torch.from_numpy(hr)))
    return out


def tiny_config(**overrides) -> dict:
    """A run entry for tiny_sr, x2, L1, Adam, 3 epochs."""
    cfg = {"model": "tiny_sr", "scale": 2, "loss": [{"name": "l1", "weight": 1.0}],
           "optimizer": {"name": "adam", "lr": 1e-2}, "epochs": 3, "batch_size": 4, "patch_size": 6, "seed": 0}
    cfg.update(overrides)
    return cfg


def read_history(path: Path, *, drop_timing: bool = True) -> list[dict[str, str]]:
    """The rows of a run's history.csv (without the timing columns unless ``drop_timing`` is false)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [{k: v for k, v in row.items() if not (drop_timing and k in TIMING_COLUMNS)} for row in rows]
