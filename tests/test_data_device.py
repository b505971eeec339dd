"""Device-resident training data (sisr.data.device): the same batches as the host source, built on the device."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sisr.data.cache import CacheWriter
from sisr.data.device import DeviceTrainSource
from sisr.data.loader import open_train_source
from sisr.base.errors import ConfigError


def _random_cache(folder: Path, sizes: list[tuple[int, int]], scale: int, channels: int) -> None:
    """LR and HR drawn independently (not aligned content), so a wrong HR index cannot pass by accident."""
    writer = CacheWriter(folder, scale=scale, mode="rgb" if channels == 3 else "y")
    for i, (h, w) in enumerate(sizes):
        rng = np.random.default_rng(i)
        shape = (h, w, channels) if channels == 3 else (h, w)
        hr_shape = (h * scale, w * scale, channels) if channels == 3 else (h * scale, w * scale)
        writer.add(f"im{i}", rng.integers(0, 256, hr_shape, dtype=np.uint8), rng.integers(0, 256, shape, dtype=np.uint8))
    writer.finish(key="test")


@pytest.mark.parametrize("channels,scale,epoch_def,extra", [
    (3, 3, "patches_per_image", {"patches_per_image": 7}),
    (1, 2, "random_crop", {}),
    (3, 4, "iterations", {"iterations": 5}),
    (1, 3, "patches_per_image", {"patches_per_image": 5, "drop_last": False}),  # a smaller last batch
])
def test_device_batches_equal_the_host_batches(tmp_path, channels, scale, epoch_def, extra):
    _random_cache(tmp_path / "c", [(12, 16), (9, 9), (20, 7), (7, 11)], scale, channels)
    host = open_train_source(tmp_path / "c", scale=scale, patch_size=5, batch_size=4, epoch_def=epoch_def,
                             augment=("hflip", "vflip", "rot90"), seed=5, **extra)
    device = host.on_device("cpu")
    assert isinstance(device, DeviceTrainSource)
    assert len(device) == len(host)
    for epoch in (0, 3):
        got = list(device.batches(epoch))
        want = list(host.batches(epoch))
        assert len(got) == len(want) == len(host)
        for (lr, hr), (lr_want, hr_want) in zip(got, want):
            assert lr.dtype == torch.uint8 and lr.device.type == "cpu"
            assert torch.equal(lr, lr_want) and torch.equal(hr, hr_want)
    start = len(host) - 1
    resumed = list(device.batches(3, start_batch=start))
    assert len(resumed) == 1 and torch.equal(resumed[0][1], list(host.batches(3))[start][1])
    assert host.nbytes() == sum(a.numel() + b.numel() for a, b in [(device.lr, device.hr)])
    with pytest.raises(ConfigError, match="start_batch"):
        next(device.batches(0, start_batch=len(host) + 1))


def test_device_source_of_fixed_pairs(tmp_path):
    _random_cache(tmp_path / "c", [(6, 6)] * 5, 2, 3)
    host = open_train_source(tmp_path / "c", scale=2, patch_size=None, batch_size=2, epoch_def="fixed_pairs",
                             augment=("rot90",), seed=1)
    got, want = list(DeviceTrainSource(host, "cpu").batches(1)), list(host.batches(1))
    assert len(got) == 2 and all(torch.equal(a[1], b[1]) and torch.equal(a[0], b[0]) for a, b in zip(got, want))
