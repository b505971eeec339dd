"""Decoded caches, bad data, and the training/validation sources (determinism, resume, crops, augmentations)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sisr.data.cache import CachedImages, CacheWriter, build_cache, build_dataset_cache
from sisr.data.datasets import Pair, get_dataset, to_y
from sisr.data.loader import open_train_source, open_valid_source
from sisr.base.errors import ConfigError, DataError, ImageError
from sisr.base.imresize import downscale
from sisr.base.io import read_image, write_image


def _rgb(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _tree(root: Path, sizes: list[tuple[int, int]], scale: int = 2, shipped: bool = True) -> list[Pair]:
    """A benchmark-layout set: HR of the given sizes, shipped LR = our bicubic (or none)."""
    for i, (h, w) in enumerate(sizes):
        hr = _rgb(h, w, i)
        write_image(root / "HR" / f"im{i}.png", hr)
        if shipped:
            write_image(root / "LR_bicubic" / f"X{scale}" / f"im{i}x{scale}.png", downscale(hr, scale))
    return get_dataset("benchmark", root=root.parent, split=root.name, scale=scale)


# ------------------------------------------------------------------------------------------------- cache
def test_cache_holds_modcropped_hr_and_lr_channel_first(tmp_path):
    pairs = _tree(tmp_path / "Set", [(13, 10), (8, 12)], scale=2, shipped=False)
    manifest = build_cache(pairs, tmp_path / "cache", scale=2)
    assert [e["name"] for e in manifest["images"]] == ["im0", "im1"]
    cache = CachedImages(tmp_path / "cache")
    hr0 = read_image(pairs[0].hr)[:12, :10]
    np.testing.assert_array_equal(cache.hr(0), hr0.transpose(2, 0, 1))
    np.testing.assert_array_equal(cache.lr(0), downscale(hr0, 2).transpose(2, 0, 1))
    assert cache.hr(1).shape == (3, 8, 12) and cache.lr(1).shape == (3, 4, 6)


def test_cache_with_shipped_lr_and_y_mode(tmp_path):
    pairs = _tree(tmp_path / "Set", [(8, 8)], scale=2)
    build_dataset_cache("benchmark", root=tmp_path, split="Set", scale=2, out_dir=tmp_path / "y", mode="y")
    cache = CachedImages(tmp_path / "y")
    assert cache.channels == 1
    np.testing.assert_array_equal(cache.lr(0)[0], to_y(read_image(pairs[0].lr)))
    np.testing.assert_array_equal(cache.hr(0)[0], to_y(read_image(pairs[0].hr)))


def test_cache_is_reused_when_inputs_are_unchanged_and_rebuilt_when_they_change(tmp_path):
    pairs = _tree(tmp_path / "Set", [(8, 8), (8, 8)], scale=2)
    first = build_cache(pairs, tmp_path / "cache", scale=2)
    mtime = (tmp_path / "cache" / "hr.u8").stat().st_mtime_ns
    assert build_cache(pairs, tmp_path / "cache", scale=2) == first
    assert (tmp_path / "cache" / "hr.u8").stat().st_mtime_ns == mtime
    second = build_cache(pairs[:1], tmp_path / "cache", scale=2)
    assert second["key"] != first["key"] and len(CachedImages(tmp_path / "cache")) == 1


# -------------------------------------------------------------------------------------------- bad data
def _truncated(path: Path) -> None:
    write_image(path, _rgb(32, 32, 9))
    path.write_bytes(path.read_bytes()[:200])


BAD_CASES = {
    "truncated": (lambda p: _truncated(p.hr), ImageError),
    "corrupt": (lambda p: p.hr.write_bytes(b"\x89PNG garbage"), ImageError),
    "lr_missing": (lambda p: p.lr.unlink(), DataError),
    "lr_wrong_size": (lambda p: write_image(p.lr, _rgb(3, 3, 0)), DataError),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_pair_stops_naming_the_file_or_is_skipped_with_a_warning(tmp_path, case):
    pairs = _tree(tmp_path / "Set", [(8, 8), (8, 8), (8, 8)], scale=2)
    damage, error = BAD_CASES[case]
    damage(pairs[1])
    with pytest.raises(error, match="im1"):
        build_cache(pairs, tmp_path / "cache", scale=2)
    assert not (tmp_path / "cache").exists() and not list(tmp_path.glob(".cache.*"))
    with pytest.warns(UserWarning, match="im1.*skipped"):
        manifest = build_cache(pairs, tmp_path / "cache", scale=2, on_bad="skip")
    assert [e["name"] for e in manifest["images"]] == ["im0", "im2"]
    assert [s["name"] for s in manifest["skipped"]] == ["im1"]


def test_lr_missing_message_names_hr_and_expected_lr(tmp_path):
    pairs = _tree(tmp_path / "Set", [(8, 8)], scale=2)
    pairs[0].lr.unlink()
    with pytest.raises(DataError, match=r"im0\.png: LR file missing for this HR image \(expected .*im0x2\.png\)"):
        build_cache(pairs, tmp_path / "cache", scale=2)


def test_a_failed_rebuild_keeps_the_existing_cache(tmp_path):
    pairs = _tree(tmp_path / "Set", [(8, 8), (8, 8)], scale=2)
    build_cache(pairs, tmp_path / "cache", scale=2)
    before = {p.name: p.read_bytes() for p in (tmp_path / "cache").iterdir()}
    pairs[1].hr.write_bytes(b"corrupt")
    with pytest.raises(ImageError, match="im1.png"):
        build_cache(pairs, tmp_path / "cache", scale=2)
    assert {p.name: p.read_bytes() for p in (tmp_path / "cache").iterdir()} == before


def test_grayscale_and_rgba_are_converted_with_a_warning_naming_the_file(tmp_path):
    root = tmp_path / "Set"
    (root / "HR").mkdir(parents=True)
    Image.fromarray(_rgb(8, 8, 0)[:, :, 0]).save(root / "HR" / "gray.png")
    Image.fromarray(np.dstack([_rgb(8, 8, 1), np.full((8, 8), 128, np.uint8)])).save(root / "HR" / "rgba.png")
    pairs = get_dataset("folder", root=root / "HR", split="all", scale=2)
    with pytest.warns(UserWarning) as record:
        build_cache(pairs, tmp_path / "cache", scale=2)
    messages = " ".join(str(w.message) for w in record)
    assert "gray.png: grayscale" in messages and "rgba.png" in messages and "alpha" in messages
    cache = CachedImages(tmp_path / "cache")
    g = cache.hr(0)
    assert g.shape == (3, 8, 8) and (g[0] == g[1]).all() and (g[1] == g[2]).all()


def test_hr_not_a_multiple_of_the_scale_is_cropped_with_a_message_naming_the_file(tmp_path, caplog):
    pairs = _tree(tmp_path / "Set", [(10, 11)], scale=3, shipped=True)
    with caplog.at_level(logging.INFO, logger="sisr.data.cache"):
        build_cache(pairs, tmp_path / "cache", scale=3)
    assert "im0.png: 11x10 is not a multiple of 3; cropped to 9x9" in caplog.text
    assert CachedImages(tmp_path / "cache").hr(0).shape == (3, 9, 9)


def test_hr_smaller_than_the_patch_error_or_skip(tmp_path):
    pairs = _tree(tmp_path / "Set", [(16, 16), (6, 16), (16, 16)], scale=2)
    build_cache(pairs, tmp_path / "cache", scale=2)
    kwargs = dict(scale=2, patch_size=4, batch_size=2, epoch_def="random_crop", seed=0)
    with pytest.raises(DataError, match=r"im1\.png: image is smaller than the patch \(LR 8x3 < 4x4\)"):
        open_train_source(tmp_path / "cache", **kwargs)
    with pytest.warns(UserWarning, match="im1.png.*skipped"):
        source = open_train_source(tmp_path / "cache", on_bad="skip", **kwargs)
    assert list(source.images) == [0, 2]
    with pytest.raises(ConfigError, match="on_bad_image"):
        build_cache(pairs, tmp_path / "cache", scale=2, on_bad="ignore")


# ---------------------------------------------------------------------------------------- train source
def _nearest_cache(folder: Path, sizes: list[tuple[int, int]], scale: int = 2, channels: int = 3) -> CachedImages:
    """A cache whose HR is the LR repeated ``scale x scale`` (nearest upsampling): any aligned crop with the
    same flips/rotations on LR and HR keeps ``hr == repeat(lr)``."""
    writer = CacheWriter(folder, scale=scale, mode="rgb" if channels == 3 else "y")
    for i, (h, w) in enumerate(sizes):
        lr = np.random.default_rng(i).integers(0, 256, (h, w, channels)[: 3 if channels > 1 else 2], dtype=np.uint8)
        writer.add(f"im{i}", np.repeat(np.repeat(lr, scale, 0), scale, 1), lr)
    writer.finish(key="test")
    return CachedImages(folder)


def _upsampled(lr: torch.Tensor, s: int) -> torch.Tensor:
    return lr.repeat_interleave(s, 2).repeat_interleave(s, 3)


def _collect(source, epoch, start=0):
    return [(lr.clone(), hr.clone()) for lr, hr in source.batches(epoch, start)]


AUG = ("hflip", "vflip", "rot90")


def test_batches_are_aligned_uint8_nchw_and_match_the_plan(tmp_path):
    _nearest_cache(tmp_path / "c", [(12, 16), (10, 10), (20, 9)], scale=3)
    source = open_train_source(tmp_path / "c", scale=3, patch_size=5, batch_size=4, epoch_def="patches_per_image",
                               patches_per_image=8, augment=AUG, seed=1)
    assert len(source) == 3 * 8 // 4
    plan = source.plan(0)
    cache = source.cache
    for b, (lr, hr) in enumerate(source.batches(0)):
        assert lr.dtype == torch.uint8 and lr.shape == (4, 3, 5, 5) and hr.shape == (4, 3, 15, 15)
        assert torch.equal(hr, _upsampled(lr, 3))
        for j in range(4):  # independent re-computation of sample j from the plan
            i = b * 4 + j
            k, y, x = plan.image[i], plan.y[i], plan.x[i]
            want = cache.lr(k)[:, y: y + 5, x: x + 5]
            if plan.hflip[i]:
                want = np.flip(want, 2)
            if plan.vflip[i]:
                want = np.flip(want, 1)
            want = np.rot90(want, plan.rot[i], axes=(1, 2))
            np.testing.assert_array_equal(lr[j].numpy(), want)
    assert np.bincount(plan.image, minlength=3).tolist() == [8, 8, 8]


def test_augmentation_frequencies_and_disabled_augmentations():
    from sisr.data.loader import TrainSource

    class _FakeCache:  # only what plan() reads: a 1-image cache of LR 8x8
        scale, channels, dir = 2, 3, "fake"
        lr_shapes = np.array([[3, 8, 8]])
        names = ["a"]

        def __len__(self):
            return 1

    source = TrainSource(_FakeCache(), scale=2, patch_size=4, batch_size=1, epoch_def="iterations",
                         iterations=6000, augment=AUG, seed=0)
    plan = source.plan(0)
    assert abs(plan.hflip.mean() - 0.5) < 0.03 and abs(plan.vflip.mean() - 0.5) < 0.03
    rot = np.bincount(plan.rot, minlength=4) / len(plan.rot)
    np.testing.assert_allclose(rot, [1 / 2, 1 / 6, 1 / 6, 1 / 6], atol=0.03)
    plain = TrainSource(_FakeCache(), scale=2, patch_size=4, batch_size=1, epoch_def="iterations",
                        iterations=6000, augment=("hflip",), seed=0).plan(0)
    assert not plain.vflip.any() and not plain.rot.any()
    np.testing.assert_array_equal(plain.y, plan.y)  # enabling augmentations does not change the crops


def test_deterministic_in_seed_and_epoch_and_resume_gives_the_same_batches(tmp_path):
    _nearest_cache(tmp_path / "c", [(12, 12)] * 5)
    kw = dict(scale=2, patch_size=4, batch_size=3, epoch_def="patches_per_image", patches_per_image=3, augment=AUG)
    a = open_train_source(tmp_path / "c", seed=7, **kw)
    full = _collect(a, 2)
    assert len(full) == len(a) == 5
    again = _collect(open_train_source(tmp_path / "c", seed=7, **kw), 2)
    assert all(torch.equal(x[0], y[0]) and torch.equal(x[1], y[1]) for x, y in zip(full, again))
    resumed = _collect(a, 2, start=3)
    assert len(resumed) == 2 and all(torch.equal(x[1], y[1]) for x, y in zip(full[3:], resumed))
    assert not torch.equal(_collect(a, 3)[0][1], full[0][1])
    assert not torch.equal(_collect(open_train_source(tmp_path / "c", seed=8, **kw), 2)[0][1], full[0][1])
    with pytest.raises(ConfigError, match="start_batch"):
        next(a.batches(0, start_batch=6))


def test_workers_give_the_same_batches_as_the_main_process(tmp_path):
    _nearest_cache(tmp_path / "c", [(12, 12)] * 4)
    kw = dict(scale=2, patch_size=4, batch_size=2, epoch_def="random_crop", augment=AUG, seed=3)
    main = _collect(open_train_source(tmp_path / "c", **kw), 1, start=1)
    workers = _collect(open_train_source(tmp_path / "c", num_workers=2, **kw), 1, start=1)
    assert len(main) == len(workers) == 1 and torch.equal(main[0][1], workers[0][1])


def test_epoch_definitions_and_drop_last(tmp_path):
    _nearest_cache(tmp_path / "c", [(8, 8)] * 5)
    kw = dict(scale=2, batch_size=2, seed=0)
    assert len(open_train_source(tmp_path / "c", patch_size=4, epoch_def="random_crop", **kw)) == 2
    last = open_train_source(tmp_path / "c", patch_size=4, epoch_def="random_crop", drop_last=False, **kw)
    sizes = [lr.shape[0] for lr, _ in last.batches(0)]
    assert sizes == [2, 2, 1]
    it = open_train_source(tmp_path / "c", patch_size=4, epoch_def="iterations", iterations=7, **kw)
    assert len(it) == 7 and sorted(np.bincount(it.plan(0).image).tolist()) == [2, 3, 3, 3, 3]
    fixed = open_train_source(tmp_path / "c", patch_size=None, epoch_def="fixed_pairs", augment=("rot90",), **kw)
    lr, hr = next(fixed.batches(0))
    assert lr.shape == (2, 3, 8, 8) and hr.shape == (2, 3, 16, 16) and torch.equal(hr, _upsampled(lr, 2))
    with pytest.raises(ConfigError, match="fixed pairs .* are 8x8"):
        open_train_source(tmp_path / "c", patch_size=4, epoch_def="fixed_pairs", **kw)
    with pytest.raises(ConfigError, match="valid: hflip, vflip, rot90"):
        open_train_source(tmp_path / "c", patch_size=4, epoch_def="random_crop", augment=("rot45",), **kw)
    with pytest.raises(ConfigError, match="patches_per_image"):
        open_train_source(tmp_path / "c", patch_size=4, epoch_def="patches_per_image", **kw)
    with pytest.raises(ConfigError, match="built for x2, asked for x4"):
        open_train_source(tmp_path / "c", patch_size=4, epoch_def="random_crop", **{**kw, "scale": 4})


def test_fixed_pairs_need_one_size(tmp_path):
    _nearest_cache(tmp_path / "c", [(8, 8), (8, 6)])
    with pytest.raises(DataError, match="fixed_pairs needs pairs of one size"):
        open_train_source(tmp_path / "c", scale=2, patch_size=None, batch_size=1, epoch_def="fixed_pairs", seed=0)


def test_valid_source_full_images_and_centre_crops(tmp_path):
    _nearest_cache(tmp_path / "c", [(10, 12), (8, 8)], channels=1)
    full = list(open_valid_source(tmp_path / "c", scale=2))
    assert [n for n, _, _ in full] == ["im0", "im1"]
    assert full[0][1].shape == (1, 1, 10, 12) and full[0][2].shape == (1, 1, 20, 24)
    crops = list(open_valid_source(tmp_path / "c", scale=2, center_crop=6))
    lr, hr = crops[0][1], crops[0][2]
    assert lr.shape == (1, 1, 6, 6) and torch.equal(lr, full[0][1][:, :, 2:8, 3:9]) and torch.equal(hr, _upsampled(lr, 2))
    with pytest.raises(DataError, match="smaller than the centre crop"):
        open_valid_source(tmp_path / "c", scale=2, center_crop=9)


def test_manifest_documents_offsets_that_read_back_without_the_library(tmp_path):
    pairs = _tree(tmp_path / "Set", [(8, 10), (6, 4)], scale=2)
    build_cache(pairs, tmp_path / "cache", scale=2)
    manifest = json.loads((tmp_path / "cache" / "manifest.json").read_text())
    flat = np.memmap(tmp_path / "cache" / "hr.u8", np.uint8, "r")
    e = manifest["images"][1]
    hr = np.asarray(flat[e["hr_offset"]: e["hr_offset"] + np.prod(e["hr_shape"])]).reshape(e["hr_shape"])
    np.testing.assert_array_equal(hr.transpose(1, 2, 0), read_image(pairs[1].hr))


def test_rehearsal_caps_batches_per_epoch_and_validation_images(tmp_path):
    """max_batches: the first batches of the same epoch plan; max_images: the first validation images."""
    _nearest_cache(tmp_path / "c", [(12, 16), (10, 10), (20, 9)], scale=3)
    kw = dict(scale=3, patch_size=5, batch_size=2, epoch_def="patches_per_image", patches_per_image=8, seed=1)
    full = _collect(open_train_source(tmp_path / "c", **kw), 0)
    capped = _collect(open_train_source(tmp_path / "c", max_batches=2, **kw), 0)
    assert len(full) == 12 and len(capped) == 2
    for (a, b), (c, d) in zip(capped, full):
        assert torch.equal(a, c) and torch.equal(b, d)
    valid = open_valid_source(tmp_path / "c", scale=3, max_images=2)
    assert len(valid) == 2 and [name for name, _, _ in valid] == ["im0", "im1"]
    assert len(open_valid_source(tmp_path / "c", scale=3)) == 3
    with pytest.raises(ConfigError, match="max_batches"):
        open_train_source(tmp_path / "c", max_batches=0, **kw)
