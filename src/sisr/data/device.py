"""Training data resident on the training device: patches cut and augmented there, no per-batch host work.

``DeviceTrainSource(source, device)`` wraps a :class:`sisr.data.loader.TrainSource`: it copies the source's
decoded cache (``hr.u8`` / ``lr.u8``, every image back to back, channel-first) into two flat uint8 tensors on
``device`` once, and then assembles each batch there with one gather per tensor. The epoch plan (image order,
crop corners, flips, rotations) is the wrapped source's own ``plan(epoch)``, so batch ``k`` of epoch ``e`` is
bit-for-bit the batch the host source yields (tested on CPU); only where it is built changes.

Each output pixel (i, j) of a ``P x P`` patch reads crop pixel (p, q): the quarter turns of ``np.rot90``
(counter-clockwise, ``k`` turns) map (i, j) to (a, b) = (j, P-1-i), (P-1-i, P-1-j), (P-1-j, i) for k = 1, 2, 3;
then the flips, applied before the rotation on the host, give p = P-1-a if vflip else a, q = P-1-b if hflip
else b. (p, q) are tabulated once per transform (16 ids), so a batch is a few tensor operations and one
gather of ``offset + c*H*W + (y + p)*W + (x + q)`` for image size ``H x W``.

Why: a small model on a GPU trains in well under a millisecond per batch, less than the host needs to cut,
copy and transfer the batch (the T91 check, docs/BENCHMARKS.md). Memory: the whole cache (T91 at x3, Y: 3 MB;
DIV2K train at x4, RGB: about 7 GB).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch import Tensor

from sisr.base.errors import ConfigError


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
        # per transform id t = 4*rot + 2*vflip + hflip: the crop row / column each output pixel reads (LR, HR)
        self._tables = {f: self._transform_tables(f) for f in (1, self.scale)}
        self._epoch: int | None = None
        self._plan: dict[str, Tensor] = {}

    def __len__(self) -> int:
        return len(self.source)

    def _transform_tables(self, s: int) -> tuple[Tensor, Tensor]:
        """(rows, cols), each ``16 x sP x sP``: crop pixel read by output pixel (i, j) under transform id t."""
        ph, pw = self.patch[0] * s, self.patch[1] * s
        t = torch.arange(16, device=self.device).view(16, 1, 1)
        rot, vflip, hflip = t // 4, (t // 2) % 2 == 1, t % 2 == 1
        i = torch.arange(ph, device=self.device).view(1, ph, 1)
        j = torch.arange(pw, device=self.device).view(1, 1, pw)
        a = torch.where(rot == 1, j, torch.where(rot == 2, ph - 1 - i, torch.where(rot == 3, pw - 1 - j, i)))
        b = torch.where(rot == 1, ph - 1 - i, torch.where(rot == 2, pw - 1 - j, torch.where(rot == 3, i, j)))
        return torch.where(vflip, ph - 1 - a, a), torch.where(hflip, pw - 1 - b, b)

    def _plan_on_device(self, epoch: int) -> dict[str, Tensor]:
        """Per sample of ``epoch``: transform id, and per scale f the crop's first element, row stride, plane size."""
        if self._epoch != epoch:
            plan = self.source.plan(epoch)
            on = {k: torch.from_numpy(np.ascontiguousarray(getattr(plan, k))).to(self.device)
                  for k in ("image", "y", "x", "hflip", "vflip", "rot")}
            k = on["image"]
            self._plan = {"t": on["rot"].long() * 4 + on["vflip"].long() * 2 + on["hflip"].long()}
            for f, offset, hw in ((1, self.lr_offset, self.lr_hw), (self.scale, self.hr_offset, self.hr_hw)):
                width = hw[k, 1]
                self._plan[f"base{f}"] = offset[k] + on["y"] * f * width + on["x"] * f
                self._plan[f"width{f}"], self._plan[f"plane{f}"] = width, hw[k, 0] * width
            self._epoch = epoch
        return self._plan

    def _gather(self, flat: Tensor, plan: dict[str, Tensor], sl: slice, f: int) -> Tensor:
        """Crops of ``f x`` the LR patch size at ``f x`` the planned corners, augmented; uint8 ``N x C x fP x fP``."""
        t = plan["t"][sl]
        n = t.shape[0]
        rows, cols = self._tables[f]
        c = torch.arange(self.channels, device=self.device).view(1, -1, 1, 1)
        within = (rows[t] * plan[f"width{f}"][sl].view(n, 1, 1) + cols[t]).unsqueeze(1)
        index = (plan[f"base{f}"][sl].view(n, 1, 1, 1) + c * plan[f"plane{f}"][sl].view(n, 1, 1, 1)) + within
        return flat[index]

    def batch(self, epoch: int, index: int) -> tuple[Tensor, Tensor]:
        """Batch ``index`` of ``epoch``: uint8 ``(lr, hr)`` on the device, equal to the host source's."""
        plan = self._plan_on_device(epoch)
        lo = index * self.batch_size
        sl = slice(lo, min(lo + self.batch_size, plan["t"].shape[0]))
        return self._gather(self.lr, plan, sl, 1), self._gather(self.hr, plan, sl, self.scale)

    def batches(self, epoch: int, start_batch: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        """Yield batches ``start_batch .. len(self) - 1`` of ``epoch`` (as ``TrainSource.batches``)."""
        if not 0 <= start_batch <= len(self):
            raise ConfigError(f"start_batch: expected 0..{len(self)}, got {start_batch}")
        for b in range(start_batch, len(self)):
            yield self.batch(epoch, b)
