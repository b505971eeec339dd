"""Derived datasets on a tiny DF2K-like tree: reproducible (same seed, same bytes), correct crops, bad sources."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sisr.data.datasets import Pair, get_dataset, to_y
from sisr.data.derived import (build_derived, build_inverted_unet, build_residual_sweep, build_rrdb_gan, halve_opencv,
                               letterbox)
from sisr.base.errors import DataError, ImageError
from sisr.base.imresize import downscale
from sisr.base.io import read_image, write_image


def _smooth(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 4 + 1, w // 4 + 1, 3), dtype=np.uint8)
    return np.ascontiguousarray(np.repeat(np.repeat(small, 4, 0), 4, 1)[:h, :w])


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """data/div2k (6 train, 2 valid) and data/flickr2k (4), HR only, of varied sizes."""
    root = tmp_path / "data"
    for i in range(6):
        write_image(root / "div2k" / "DIV2K_train_HR" / f"{i + 1:04d}.png", _smooth(40 + 2 * i, 52, i))
    for i in range(2):
        write_image(root / "div2k" / "DIV2K_valid_HR" / f"{i + 801:04d}.png", _smooth(44, 36, 10 + i))
    for i in range(4):
        write_image(root / "flickr2k" / "Flickr2K" / "Flickr2K_HR" / f"{i + 1:06d}.png", _smooth(48, 40 + i, 20 + i))
    return root


def _hr_pairs(data_dir: Path) -> list[Pair]:
    return [p for s in ("train", "valid") for p in get_dataset("df2k", root=data_dir, split=s, scale=4, lr="ours")]


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_residual_sweep_is_reproducible_and_seed_dependent(data_dir, tmp_path):
    kw = dict(counts=(9, 4, 2), tile=16, scale=4)
    a = build_residual_sweep(_hr_pairs(data_dir), tmp_path / "a", seed=5, **kw)
    build_residual_sweep(list(reversed(_hr_pairs(data_dir))), tmp_path / "b", seed=5, **kw)  # input order irrelevant
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    c = build_residual_sweep(_hr_pairs(data_dir), tmp_path / "c", seed=6, **kw)
    assert c["splits"] != a["splits"]
    assert json.loads((tmp_path / "a" / "manifest.json").read_text()) == a


def test_residual_sweep_tiles_are_crops_of_their_source_with_bicubic_lr(data_dir, tmp_path):
    pairs = {p.name: p for p in _hr_pairs(data_dir)}
    m = build_residual_sweep(list(pairs.values()), tmp_path / "rs", counts=(9, 4, 2), tile=16, scale=4, seed=0)
    assert {s: len(v) for s, v in m["splits"].items()} == {"train": 9, "valid": 4, "test": 2}
    sources = {s: {t["source"] for t in v} for s, v in m["splits"].items()}
    assert not (sources["train"] & sources["valid"]) and not (sources["valid"] & sources["test"])
    assert not (sources["train"] & sources["test"])
    listed = get_dataset("residual_sweep", root=tmp_path / "rs", split="valid", scale=4)
    assert [p.name for p in listed] == [t["name"] for t in m["splits"]["valid"]]
    for tile, pair in zip(m["splits"]["valid"], listed):
        top, left, h, w = tile["box"]
        hr, lr = read_image(pair.hr), read_image(pair.lr)
        np.testing.assert_array_equal(hr, read_image(pairs[tile["source"]].hr)[top: top + h, left: left + w])
        np.testing.assert_array_equal(lr, downscale(hr, 4))
        assert lr.shape == (4, 4, 3)
    assert {s["name"] for s in m["sources"]} == set(pairs) and all(len(s["sha256"]) == 64 for s in m["sources"])


def test_residual_sweep_source_smaller_than_tile_error_or_skip(data_dir, tmp_path):
    write_image(data_dir / "div2k" / "DIV2K_train_HR" / "0007.png", _smooth(12, 40, 0))
    with pytest.raises(DataError, match=r"0007\.png: image 40x12 is smaller than the tile 16x16"):
        build_residual_sweep(_hr_pairs(data_dir), tmp_path / "rs", counts=(9, 4, 2), tile=16, seed=0)
    assert not (tmp_path / "rs").exists()
    with pytest.warns(UserWarning, match="0007.png"):
        m = build_residual_sweep(_hr_pairs(data_dir), tmp_path / "rs", counts=(9, 4, 2), tile=16, seed=0,
                                 on_bad="skip")
    assert [s["name"] for s in m["skipped"]] == ["0007"]
    assert len(m["splits"]["train"]) == 9  # a source skipped at the header check does not cost tiles


def test_halve_opencv_is_the_rounded_2x2_mean():
    img = np.array([[0, 1, 9], [2, 3, 9], [7, 7, 9]], np.uint8)
    assert halve_opencv(img).tolist() == [[2]]  # (0 + 1 + 2 + 3 + 2) >> 2: 1.5 rounds up; odd row/column dropped
    img = np.random.default_rng(0).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    mean = img.astype(float).reshape(3, 2, 4, 2, 3).mean(axis=(1, 3))
    np.testing.assert_array_equal(halve_opencv(img), np.floor(mean + 0.5).astype(np.uint8))


def test_rrdb_gan_split_halving_and_reproducibility(data_dir, tmp_path):
    div2k = [p for p in _hr_pairs(data_dir) if len(p.name) == 4]
    m = build_rrdb_gan(div2k, tmp_path / "a", counts=(4, 2, 2), scale=4, seed=1)
    build_rrdb_gan(div2k, tmp_path / "b", counts=(4, 2, 2), scale=4, seed=1)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    names = [t["name"] for s in ("train", "valid", "test") for t in m["splits"][s]]
    assert sorted(names) == sorted(p.name for p in div2k)
    (pair,) = [p for p in get_dataset("rrdb_gan", root=tmp_path / "a", split="test", scale=4)][:1]
    src = read_image(next(p.hr for p in div2k if p.name == pair.name))
    hr = read_image(pair.hr)
    np.testing.assert_array_equal(hr, halve_opencv(src)[: hr.shape[0], : hr.shape[1]])
    assert hr.shape[0] % 4 == 0 and hr.shape[1] % 4 == 0
    np.testing.assert_array_equal(read_image(pair.lr), downscale(hr, 4))
    with pytest.raises(DataError, match="ask for 9"):
        build_rrdb_gan(div2k, tmp_path / "c", counts=(5, 2, 2))


def test_letterbox_keeps_the_aspect_ratio_centred_on_black():
    img = np.full((20, 40), 200, np.uint8)
    canvas, box = letterbox(img, 32)
    assert canvas.shape == (32, 32) and box == [8, 0, 16, 32]
    assert (canvas[:8] == 0).all() and (canvas[24:] == 0).all() and (canvas[8:24] == 200).all()


def test_inverted_unet_y_letterboxed_and_reproducible(data_dir, tmp_path):
    train = get_dataset("df2k", root=data_dir, split="train", scale=2, lr="ours")
    valid = get_dataset("df2k", root=data_dir, split="valid", scale=2, lr="ours")
    m = build_inverted_unet(train, valid, tmp_path / "a", size=32, scale=2)
    build_inverted_unet(train, valid, tmp_path / "b", size=32, scale=2)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert len(m["splits"]["train"]) == 10 and len(m["splits"]["valid"]) == 2
    pair = get_dataset("inverted_unet", root=tmp_path / "a", split="valid", scale=2)[0]
    hr, lr = read_image(pair.hr, mode="any"), read_image(pair.lr, mode="any")
    assert hr.shape == (32, 32) and lr.shape == (16, 16)
    expected, box = letterbox(to_y(read_image(valid[0].hr)), 32)
    np.testing.assert_array_equal(hr, expected)
    assert m["splits"]["valid"][0]["box"] == box == [0, 3, 32, 26]  # 44x36 source -> 32x26, centred


def test_build_derived_reads_the_path_scheme_and_a_corrupt_source_is_named(data_dir, tmp_path):
    manifest = build_derived("residual_sweep", data_dir=data_dir, seed=0, counts=(3, 2, 1), tile=16)
    assert manifest == data_dir / "residual_sweep" / "manifest.json" and manifest.exists()
    (data_dir / "div2k" / "DIV2K_valid_HR" / "0802.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ImageError, match="0802.png"):
        build_derived("inverted_unet", data_dir=data_dir, size=16)
    assert not (data_dir / "inverted_unet").exists()


def test_inverted_unet_authors_data_path_pil_resize_and_full_range_y(data_dir, tmp_path):
    """The workflow builds the report's data path: PIL's full-range YCbCr Y, PIL bicubic fit and LR."""
    from PIL import Image

    from sisr.data.derived import pil_luma

    rgb = read_image(get_dataset("df2k", root=data_dir, split="valid", scale=2, lr="ours")[0].hr)
    y = pil_luma(rgb)
    assert np.array_equal(y, np.asarray(Image.fromarray(rgb).convert("YCbCr"))[..., 0])
    assert y.dtype == np.uint8 and not np.array_equal(y, to_y(rgb))  # full range, not BT.601 studio range
    manifest = json.loads(build_derived("inverted_unet", data_dir=data_dir, size=32).read_text())
    assert manifest["params"]["resize"] == "pil" and manifest["params"]["luma"] == "pil"
    pair = get_dataset("inverted_unet", root=data_dir / "inverted_unet", split="valid", scale=2)[0]
    hr, lr = read_image(pair.hr, mode="any"), read_image(pair.lr, mode="any")
    expected, _ = letterbox(y, 32, resize="pil")
    np.testing.assert_array_equal(hr, expected)
    np.testing.assert_array_equal(lr, downscale(expected, 2, method="pil"))
    with pytest.raises(Exception, match="luma"):
        build_inverted_unet([], [], tmp_path / "x", luma="yuv")
