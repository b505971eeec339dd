"""Training and validation inputs read from a decoded cache (``sisr.data.cache``).

``TrainSource.batches(epoch, start_batch=0)`` yields ``(lr, hr)`` uint8 tensors ``N x C x P x P`` and
``N x C x sP x sP``. Everything random in an epoch is drawn up front from
``numpy.random.default_rng([seed, epoch])`` (the "epoch plan": image order, crop positions, augmentations),
so batch ``k`` of epoch ``e`` is the same whether the epoch ran from the start or was resumed at ``k``,
and with or without worker processes.

Epoch definitions (``epoch_def``):
  patches_per_image  every image ``patches_per_image`` times (espcn: 20), shuffled; a random crop each time
  random_crop        every image once, shuffled, one random crop (srresnet_edsr)
  fixed_pairs        every pre-made pair once, shuffled, used whole (residual_sweep tiles, inverted_unet
                     letterboxed images); all pairs must have one size, ``patch_size`` None or that LR size
  iterations         ``iterations`` batches; images drawn by concatenated random permutations of the set

Crops: an LR crop of ``patch_size`` at a uniformly random integer position (y, x) in the LR image and the HR
crop at (scale*y, scale*x) of size scale*patch_size: the two stay aligned exactly.

Augmentations (``augment``, any of "hflip", "vflip", "rot90"), drawn per sample, applied identically to LR and
HR, in this order: hflip (mirror left-right) with p=0.5; vflip (mirror top-bottom) with p=0.5; rot90 with p=0.5
a rotation by k*90 degrees counter-clockwise (``np.rot90`` over the H, W axes), k uniform in {1, 2, 3}
(so P(no rotation) = 1/2, P(90) = P(180) = P(270) = 1/6; the espcn study's "random choice of 90/180/270").
The random draws are made whether or not an augmentation is enabled, so enabling one never changes the crops.

max_batches: at most this many batches per epoch (a rehearsal's cap; the epoch plan is drawn as usual and its
first batches are used).

drop_last: when the epoch's sample count is not a multiple of ``batch_size``, ``True`` (default) drops the
incomplete last batch (different samples each epoch, as the order is reshuffled); ``False`` yields it smaller.

Workers: ``num_workers=0`` assembles batches in the calling process (numpy slicing from memory-mapped files;
the fast path). ``num_workers > 0`` assembles the same batches in a torch DataLoader (batch index -> batch,
in order), which only helps when the consumer (a GPU step) runs in parallel.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch

from sisr.data.cache import CachedImages
from sisr.data.datasets import bad_item, check_on_bad
from sisr.data.device import DeviceTrainSource
from sisr.base.errors import ConfigError, DataError

EPOCH_DEFS = ("patches_per_image", "random_crop", "fixed_pairs", "iterations")
AUGMENTATIONS = ("hflip", "vflip", "rot90")


@dataclass(frozen=True)
class EpochPlan:
    """Per-sample draws of one epoch (arrays of equal length): image index, LR crop corner, augmentations."""

    image: np.ndarray
    y: np.ndarray
    x: np.ndarray
    hflip: np.ndarray
    vflip: np.ndarray
    rot: np.ndarray  # quarter turns, 0..3


class TrainSource:
    """Batches of training patches from a cache; see the module docstring for every option."""

    def __init__(self, cache: CachedImages, *, scale: int, patch_size: int | None, batch_size: int, epoch_def: str,
                 augment: Sequence[str] = (), seed: int, patches_per_image: int | None = None,
                 iterations: int | None = None, drop_last: bool = True, num_workers: int = 0,
                 pin_memory: bool = False, on_bad: str = "error", max_batches: int | None = None) -> None:
        if epoch_def not in EPOCH_DEFS:
            raise ConfigError(f"epoch_def: expected one of {', '.join(EPOCH_DEFS)}, got {epoch_def!r}")
        unknown = sorted(set(augment) - set(AUGMENTATIONS))
        if unknown:
            raise ConfigError(f"augment: unknown {unknown}; valid: {', '.join(AUGMENTATIONS)}")
        if cache.scale != scale:
            raise ConfigError(f"{cache.dir}: cache was built for x{cache.scale}, asked for x{scale}")
        if batch_size < 1:
            raise ConfigError(f"batch_size: expected >= 1, got {batch_size}")
        check_on_bad(on_bad)
        self.cache, self.scale, self.batch_size, self.epoch_def = cache, scale, batch_size, epoch_def
        self.augment, self.seed, self.drop_last = frozenset(augment), int(seed), drop_last
        self.num_workers, self.pin_memory = num_workers, pin_memory
        if max_batches is not None and max_batches < 1:
            raise ConfigError(f"max_batches: expected >= 1 or None, got {max_batches}")
        self.max_batches = max_batches
        self.patches_per_image = {"patches_per_image": patches_per_image, "random_crop": 1}.get(epoch_def)
        if epoch_def == "patches_per_image" and (patches_per_image is None or patches_per_image < 1):
            raise ConfigError(f"patches_per_image: expected >= 1 with epoch_def patches_per_image, got {patches_per_image}")
        if epoch_def == "iterations" and (iterations is None or iterations < 1):
            raise ConfigError(f"iterations: expected >= 1 with epoch_def iterations, got {iterations}")
        self.iterations = iterations
        lr_hw = cache.lr_shapes[:, 1:]
        if epoch_def == "fixed_pairs":
            if len(np.unique(lr_hw, axis=0)) != 1:
                raise DataError(f"{cache.dir}: fixed_pairs needs pairs of one size, got LR sizes "
                                f"{sorted({tuple(s) for s in lr_hw.tolist()})[:5]}")
            h, w = lr_hw[0]
            if patch_size is not None and (h, w) != (patch_size, patch_size):
                raise ConfigError(f"patch_size: {patch_size} but the fixed pairs in {cache.dir} are {w}x{h} (LR)")
            self.patch = (int(h), int(w))
            keep = np.arange(len(cache))
        else:
            if patch_size is None or patch_size < 1:
                raise ConfigError(f"patch_size: expected >= 1 with epoch_def {epoch_def}, got {patch_size}")
            self.patch = (patch_size, patch_size)
            small = np.flatnonzero((lr_hw < patch_size).any(axis=1))
            for i in small:
                bad_item(on_bad, f"{cache.manifest['images'][i].get('hr_file', cache.names[i])}: image is smaller "
                                 f"than the patch (LR {lr_hw[i][1]}x{lr_hw[i][0]} < {patch_size}x{patch_size})")
            keep = np.setdiff1d(np.arange(len(cache)), small)
            if not len(keep):
                raise DataError(f"{cache.dir}: no image is at least {patch_size}x{patch_size} (LR)")
        if "rot90" in self.augment and self.patch[0] != self.patch[1]:
            raise ConfigError(f"augment rot90 needs square patches, got {self.patch[1]}x{self.patch[0]} (LR)")
        self.images = keep
        self.samples_per_epoch = {
            "patches_per_image": len(keep) * (self.patches_per_image or 1),
            "random_crop": len(keep),
            "fixed_pairs": len(keep),
            "iterations": (iterations or 0) * batch_size,
        }[epoch_def]

    def __len__(self) -> int:
        n, b = self.samples_per_epoch, self.batch_size
        full = n // b if self.drop_last else math.ceil(n / b)
        return full if self.max_batches is None else min(full, self.max_batches)

    def plan(self, epoch: int) -> EpochPlan:
        """All random draws of ``epoch`` (deterministic in ``seed`` and ``epoch``)."""
        rng = np.random.default_rng([self.seed, int(epoch)])
        n_img, n = len(self.images), self.samples_per_epoch
        if self.epoch_def == "iterations":
            order = np.concatenate([rng.permutation(n_img) for _ in range(math.ceil(n / n_img))])[:n]
        else:
            order = rng.permutation(np.repeat(np.arange(n_img), n // n_img))
        image = self.images[order]
        ph, pw = self.patch
        y = rng.integers(0, self.cache.lr_shapes[image, 1] - ph + 1)
        x = rng.integers(0, self.cache.lr_shapes[image, 2] - pw + 1)
        hflip, vflip = rng.random(n) < 0.5, rng.random(n) < 0.5
        rot = np.where(rng.random(n) < 0.5, rng.integers(1, 4, n), 0)
        return EpochPlan(image, y, x, hflip & ("hflip" in self.augment), vflip & ("vflip" in self.augment),
                         rot * ("rot90" in self.augment))

    def batch(self, plan: EpochPlan, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Assemble batch ``index`` of an epoch plan: crops copied out of the memory maps, augmented."""
        lo = index * self.batch_size
        hi = min(lo + self.batch_size, len(plan.image))
        s, (ph, pw) = self.scale, self.patch
        c = self.cache.channels
        lr_out = np.empty((hi - lo, c, ph, pw), np.uint8)
        hr_out = np.empty((hi - lo, c, ph * s, pw * s), np.uint8)
        for j, i in enumerate(range(lo, hi)):
            k, y, x = int(plan.image[i]), int(plan.y[i]), int(plan.x[i])
            lr = self.cache.lr(k)[:, y: y + ph, x: x + pw]
            hr = self.cache.hr(k)[:, y * s: (y + ph) * s, x * s: (x + pw) * s]
            if plan.hflip[i]:
                lr, hr = lr[:, :, ::-1], hr[:, :, ::-1]
            if plan.vflip[i]:
                lr, hr = lr[:, ::-1], hr[:, ::-1]
            if plan.rot[i]:
                lr, hr = np.rot90(lr, plan.rot[i], axes=(1, 2)), np.rot90(hr, plan.rot[i], axes=(1, 2))
            lr_out[j], hr_out[j] = lr, hr
        return torch.from_numpy(lr_out), torch.from_numpy(hr_out)

    def nbytes(self) -> int:
        """Bytes of the decoded cache (what ``on_device`` copies)."""
        return sum((self.cache.dir / f"{key}.u8").stat().st_size for key in ("hr", "lr"))

    def on_device(self, device: str | torch.device):
        """The same batches, cut on ``device`` from a copy of the whole cache there (sisr.data.device)."""
        return DeviceTrainSource(self, device)

    def batches(self, epoch: int, start_batch: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield batches ``start_batch .. len(self) - 1`` of ``epoch`` as uint8 NCHW tensors (lr, hr)."""
        if not 0 <= start_batch <= len(self):
            raise ConfigError(f"start_batch: expected 0..{len(self)}, got {start_batch}")
        plan = self.plan(epoch)
        if self.num_workers <= 0:
            for b in range(start_batch, len(self)):
                yield self.batch(plan, b)
            return
        loader = torch.utils.data.DataLoader(
            _PlannedBatches(self, plan, start_batch), batch_size=None, shuffle=False, num_workers=self.num_workers,
            worker_init_fn=_worker_init, pin_memory=self.pin_memory, prefetch_factor=4)
        yield from loader


class _PlannedBatches(torch.utils.data.Dataset):
    """Batch ``i`` of a fixed epoch plan, for DataLoader workers (no randomness lives in the workers)."""

    def __init__(self, source: TrainSource, plan: EpochPlan, start: int) -> None:
        self.source, self.plan, self.start = source, plan, start

    def __len__(self) -> int:
        return len(self.source) - self.start

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.source.batch(self.plan, self.start + i)


def _worker_init(worker_id: int) -> None:
    torch.set_num_threads(1)  # workers only copy bytes; one thread each leaves the cores to the trainer


class ValidSource:
    """Validation images from a cache: iterate ``(name, lr 1 x C x h x w, hr 1 x C x H x W)`` uint8 tensors.

    center_crop: None for whole images, or an LR size ``P``: the centred ``P x P`` LR crop at
    ``((h - P) // 2, (w - P) // 2)`` and the HR crop ``scale x`` that (e.g. srresnet_edsr's 96x96 HR crops: 24).
    """

    def __init__(self, cache: CachedImages, *, scale: int, center_crop: int | None = None,
                 max_images: int | None = None) -> None:
        if cache.scale != scale:
            raise ConfigError(f"{cache.dir}: cache was built for x{cache.scale}, asked for x{scale}")
        if center_crop is not None:
            small = [cache.names[i] for i, s in enumerate(cache.lr_shapes) if min(s[1:]) < center_crop]
            if small:
                raise DataError(f"{cache.dir}: images smaller than the centre crop {center_crop} (LR): {small[:5]}")
        self.cache, self.scale, self.center_crop = cache, scale, center_crop
        self.count = len(cache) if max_images is None else min(len(cache), max_images)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[tuple[str, torch.Tensor, torch.Tensor]]:
        s, p = self.scale, self.center_crop
        for i, name in enumerate(self.cache.names[: self.count]):
            lr, hr = self.cache.lr(i), self.cache.hr(i)
            if p is not None:
                y, x = (lr.shape[1] - p) // 2, (lr.shape[2] - p) // 2
                lr, hr = lr[:, y: y + p, x: x + p], hr[:, y * s: (y + p) * s, x * s: (x + p) * s]
            yield name, torch.from_numpy(np.array(lr)[None]), torch.from_numpy(np.array(hr)[None])


def open_train_source(cache_dir: str | os.PathLike, *, scale: int, patch_size: int | None, batch_size: int,
                      epoch_def: str, augment: Sequence[str] = (), seed: int, num_workers: int = 0,
                      patches_per_image: int | None = None, iterations: int | None = None, drop_last: bool = True,
                      pin_memory: bool = False, on_bad: str = "error", max_batches: int | None = None) -> TrainSource:
    """A ``TrainSource`` over the cache in ``cache_dir`` (one call for the training rule; options as TrainSource).

    on_bad: what to do with images smaller than the patch (``error`` default, or ``skip`` with a warning).
    """
    return TrainSource(CachedImages(cache_dir), scale=scale, patch_size=patch_size, batch_size=batch_size,
                       epoch_def=epoch_def, augment=augment, seed=seed, patches_per_image=patches_per_image,
                       iterations=iterations, drop_last=drop_last, num_workers=num_workers, pin_memory=pin_memory,
                       on_bad=on_bad, max_batches=max_batches)


def open_valid_source(cache_dir: str | os.PathLike, *, scale: int, center_crop: int | None = None,
                      max_images: int | None = None) -> ValidSource:
    """A ``ValidSource`` over the cache in ``cache_dir`` (``max_images``: only the first N, a rehearsal's cap)."""
    return ValidSource(CachedImages(cache_dir), scale=scale, center_crop=center_crop, max_images=max_images)
