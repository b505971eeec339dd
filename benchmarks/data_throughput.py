"""Training-input throughput (patches/s) of ``TrainSource`` for each study's patch setting, from a cache.

Builds synthetic caches in a temporary folder (random uint8 images: the pipeline only copies bytes, so content
does not matter), then times ``TrainSource.batches`` with 0 and 2 workers. Runs in well under a minute.
Printed: steady-state patches/s (from the first batch of an epoch to its last) and the mean time to the first
batch of an epoch (DataLoader worker start-up, paid once per epoch).

    .venv/bin/python benchmarks/data_throughput.py [--seconds 2.0] [--workers 0 2]

Settings (docs/STUDIES.md):
  espcn           LR 40 -> HR 160, x4, batch 16, 20 patches per image, hflip/vflip/rot90
  srresnet_edsr   LR 24 -> HR 96,  x4, batch 32, one random crop per image
  residual_sweep  LR 32 -> HR 128, x4, batch 32, fixed pre-cut tiles, rot90
  inverted_unet   LR 256 -> HR 512, x2, batch 8, fixed letterboxed Y images (1 channel)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sisr.data.cache import CachedImages, CacheWriter
from sisr.data.loader import TrainSource


def synthetic_cache(folder: Path, *, n: int, hr_hw: tuple[int, int], scale: int, channels: int, seed: int = 0) -> Path:
    """A cache of ``n`` random HR images of ``hr_hw`` (multiples of ``scale``) with random LR of the right size."""
    rng = np.random.default_rng(seed)
    writer = CacheWriter(folder, scale=scale, mode="rgb" if channels == 3 else "y")
    h, w = hr_hw
    shape = (h, w, channels) if channels > 1 else (h, w)
    lr_shape = (h // scale, w // scale) + shape[2:]
    for i in range(n):
        writer.add(f"{i:04d}", rng.integers(0, 256, shape, dtype=np.uint8),
                   rng.integers(0, 256, lr_shape, dtype=np.uint8))
    writer.finish(key="synthetic")
    return folder


SETTINGS = {
    # name: (cache kwargs, TrainSource kwargs)
    "espcn": (dict(n=100, hr_hw=(400, 500), scale=4, channels=3),
              dict(patch_size=40, batch_size=16, epoch_def="patches_per_image", patches_per_image=20,
                   augment=("hflip", "vflip", "rot90"))),
    "srresnet_edsr": (dict(n=100, hr_hw=(400, 500), scale=4, channels=3),
                      dict(patch_size=24, batch_size=32, epoch_def="iterations", iterations=1000)),
    "residual_sweep": (dict(n=2000, hr_hw=(128, 128), scale=4, channels=3),
                       dict(patch_size=32, batch_size=32, epoch_def="fixed_pairs", augment=("rot90",))),
    "inverted_unet": (dict(n=200, hr_hw=(512, 512), scale=2, channels=1),
                      dict(patch_size=256, batch_size=8, epoch_def="fixed_pairs")),
}


def measure(source: TrainSource, seconds: float) -> tuple[float, float]:
    """(patches/s, seconds to the first batch of an epoch), over whole epochs or until ``seconds`` pass.

    The rate is the steady state: from the first batch of each epoch to its last (worker start-up excluded,
    reported separately as the second number).
    """
    done, busy, startups, start = 0, 0.0, [], time.perf_counter()
    epoch = 0
    while time.perf_counter() - start < seconds:
        t_epoch = time.perf_counter()
        t_first = None
        for lr, _hr in source.batches(epoch):
            now = time.perf_counter()
            if t_first is None:
                t_first = now
                startups.append(now - t_epoch)
            else:
                done += lr.shape[0]
            if now - start >= seconds:
                break
        busy += time.perf_counter() - (t_first or time.perf_counter())
        epoch += 1
    return done / busy, float(np.mean(startups))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per setting and worker count")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'setting':16} {'LR->HR':>10} {'batch':>5} {'workers':>7} {'patches/s':>10} {'epoch start s':>13}")
    with tempfile.TemporaryDirectory(prefix="sisr-throughput-") as tmp:
        for name, (cache_kw, source_kw) in SETTINGS.items():
            cache = CachedImages(synthetic_cache(Path(tmp) / name, **cache_kw))
            for workers in args.workers:
                source = TrainSource(cache, scale=cache_kw["scale"], seed=0, num_workers=workers, **source_kw)
                rate, startup = measure(source, args.seconds)
                sizes = f"{source.patch[0]}->{source.patch[0] * source.scale}"
                print(f"{name:16} {sizes:>10} {source.batch_size:>5} {workers:>7} {rate:>10.0f} {startup:>13.3f}",
                      flush=True)


if __name__ == "__main__":
    main()
