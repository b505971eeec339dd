"""Training data resident on the training device: patches cut and augmented there, no per-batch host work.

``DeviceTrainSource(source, device)`` wraps a :class:`sisr.data.loader.TrainSource`: it copies the source's
decoded cache (``hr.u8`` / ``lr.u8``, every image back to back, channel-first) into two flat uint8 tensors on
``device`` once, and then assembles each batch there with one gather per tensor. The epoch plan (image order,
crop corners, flips, rotations) is the wrapped source's own ``plan(epoch)``, so batch ``k`` of epoch ``e`` is
bit-for-bit the batch the host source yields (tested on CPU); only where it is built changes.

Each output pixel (i, j) of a ``P x P`` patch reads crop pixel (p, q): the quarter turns of ``np.rot90``
(counter-clockwise, ``k`` turns) map (i, j) to (a, b) = (j, P-1-i), (P-1-i, P-1-j), (P-1-j, i) for k = 1, 2, 3;
then the flips, applied before the rotation on the host, give p = P-1-a if vflip else a, q = P-1-b if hflip
else b. The gathered index is ``offset + c*H*W + (y + p)*W + (x + q)`` for image size ``H x W``.

Why: a small model on a GPU trains in well under a millisecond per batch, less than the host needs to cut,
copy and transfer the batch (the T91 check, docs/BENCHMARKS.md). Memory: the whole cache (T91 at x3, Y: 3 MB;
DIV2K train at x4, RGB: about 7 GB).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch import Tensor

from sisr.errors import ConfigError


class DeviceTrainSource:
    """``source``'s batches, built on ``device`` from a copy of its whole cache (see the module docstring)."""

    def __init__(self, source, device: str | torch.device) -> None:
        self.source, self.device = source, torch.device(device)
        cache = source.cache
        self.batch_size, self.scale, self.patch = source.batch_size, source.scale, source.patch
        self.channels = cache.channels
        images = cache.manifest["images"]
        self.hr = torch.from_numpy(np.fromfile(cache.dir / "hr.u8", np.uint8)).to(self.device)
        self.lr = torch.from_numpy(np.fromfile(cache.dir / "lr.u8", np.uint8)).to(self.device)
        # per cache image: element offset and (H, W) of the LR and HR image
        as_long = lambda rows: torch.tensor(rows, dtype=torch.long, device=self.device)  # noqa: E731
        self.lr_offset = as_long([im["lr_offset"] for im in images])
        self.hr_offset = as_long([im["hr_offset"] for im in images])
        self.lr_hw = as_long([im["lr_shape"][1:] for im in images])
        self.hr_hw = as_long([im["hr_shape"][1:] for im in images])
        self._epoch: int | None = None
        self._plan: dict[str, Tensor] = {}

    def __len__(self) -> int:
        return len(self.source)

    def _plan_on_device(self, epoch: int) -> dict[str, Tensor]:
        if self._epoch != epoch:
            plan = self.source.plan(epoch)
            self._plan = {k: torch.from_numpy(np.ascontiguousarray(getattr(plan, k))).to(self.device)
                          for k in ("image", "y", "x", "hflip", "vflip", "rot")}
            self._epoch = epoch
        return self._plan

    def _gather(self, flat: Tensor, offset: Tensor, hw: Tensor, plan: dict[str, Tensor], sl: slice, s: int) -> Tensor:
        """Crops of ``s x`` the LR patch size at ``s x`` the planned corners, augmented; uint8 ``N x C x sP x sP``."""
        ph, pw = self.patch[0] * s, self.patch[1] * s
        k = plan["image"][sl]
        n = k.shape[0]
        height, width = hw[k, 0].view(n, 1, 1, 1), hw[k, 1].view(n, 1, 1, 1)
        i = torch.arange(ph, device=self.device).view(1, 1, ph, 1)
        j = torch.arange(pw, device=self.device).view(1, 1, 1, pw)
        rot = plan["rot"][sl].view(n, 1, 1, 1)
        a = torch.where(rot == 1, j, torch.where(rot == 2, ph - 1 - i, torch.where(rot == 3, pw - 1 - j, i)))
        b = torch.where(rot == 1, ph - 1 - i, torch.where(rot == 2, pw - 1 - j, torch.where(rot == 3, i, j)))
        p = torch.where(plan["vflip"][sl].view(n, 1, 1, 1), ph - 1 - a, a)
        q = torch.where(plan["hflip"][sl].view(n, 1, 1, 1), pw - 1 - b, b)
        c = torch.arange(self.channels, device=self.device).view(1, -1, 1, 1)
        y = (plan["y"][sl] * s).view(n, 1, 1, 1)
        x = (plan["x"][sl] * s).view(n, 1, 1, 1)
        index = offset[k].view(n, 1, 1, 1) + c * (height * width) + (y + p) * width + (x + q)
        return flat[index]

    def batch(self, epoch: int, index: int) -> tuple[Tensor, Tensor]:
        """Batch ``index`` of ``epoch``: uint8 ``(lr, hr)`` on the device, equal to the host source's."""
        plan = self._plan_on_device(epoch)
        lo = index * self.batch_size
        sl = slice(lo, min(lo + self.batch_size, plan["image"].shape[0]))
        return (self._gather(self.lr, self.lr_offset, self.lr_hw, plan, sl, 1),
                self._gather(self.hr, self.hr_offset, self.hr_hw, plan, sl, self.scale))

    def batches(self, epoch: int, start_batch: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        """Yield batches ``start_batch .. len(self) - 1`` of ``epoch`` (as ``TrainSource.batches``)."""
        if not 0 <= start_batch <= len(self):
            raise ConfigError(f"start_batch: expected 0..{len(self)}, got {start_batch}")
        for b in range(start_batch, len(self)):
            yield self.batch(epoch, b)
