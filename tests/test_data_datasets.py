"""Dataset adapters on tiny generated trees laid out like the real archives; the scikit-image demo set; our LR files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sisr.data.datasets import (DATASETS, SKIMAGE_PHOTOS, Pair, get_dataset, materialize_lr, prepare_skimage,
                                skimage_split)
from sisr.base.errors import ConfigError, DataError, ImageError
from sisr.base.imresize import downscale
from sisr.base.io import read_image, write_image

SHARED = Path(__file__).parents[1] / ".." / "shared" / "datasets"


def _png(path: Path, h: int, w: int, seed: int = 0) -> None:
    write_image(path, np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def _div2k(root: Path, split: str, names: list[str], scales=(2, 4)) -> None:
    for i, n in enumerate(names):
        _png(root / f"DIV2K_{split}_HR" / f"{n}.png", 16, 24, i)
        for s in scales:
            _png(root / f"DIV2K_{split}_LR_bicubic" / f"X{s}" / f"{n}x{s}.png", 16 // s, 24 // s, i)


def _flickr(root: Path, names: list[str], top: bool = True) -> None:
    base = root / "Flickr2K" if top else root
    for i, n in enumerate(names):
        _png(base / "Flickr2K_HR" / f"{n}.png", 16, 24, i)
        _png(base / "Flickr2K_LR_bicubic" / "X2" / f"{n}x2.png", 8, 12, i)


def _set(set_dir: Path, names: list[str], scales=(2,)) -> None:
    for i, n in enumerate(names):
        _png(set_dir / "HR" / f"{n}.png", 12, 12, i)
        for s in scales:
            _png(set_dir / "LR_bicubic" / f"X{s}" / f"{n}x{s}.png", 12 // s, 12 // s, i)


def test_div2k_pairs_shipped_lr_and_lr_options(tmp_path):
    _div2k(tmp_path, "train", ["0001", "0002", "0003"])
    pairs = get_dataset("div2k", root=tmp_path, split="train", scale=4)
    assert [p.name for p in pairs] == ["0001", "0002", "0003"]
    assert pairs[0] == Pair("0001", tmp_path / "DIV2K_train_HR" / "0001.png",
                            tmp_path / "DIV2K_train_LR_bicubic" / "X4" / "0001x4.png")
    assert all(p.lr is None for p in get_dataset("div2k", root=tmp_path, split="train", scale=4, lr="ours"))
    assert all(p.lr is None for p in get_dataset("div2k", root=tmp_path, split="train", scale=3))  # not shipped
    with pytest.raises(DataError, match="no shipped LR folder for x3"):
        get_dataset("div2k", root=tmp_path, split="train", scale=3, lr="shipped")
    lr_root = tmp_path / "lr"
    assert get_dataset("div2k", root=tmp_path, split="train", scale=3, lr_root=lr_root)[1].lr == lr_root / "0002x3.png"


def test_div2k_missing_lr_file_gives_a_pair_whose_lr_does_not_exist(tmp_path):
    _div2k(tmp_path, "valid", ["0801", "0802"])
    (tmp_path / "DIV2K_valid_LR_bicubic" / "X2" / "0802x2.png").unlink()
    pairs = get_dataset("div2k", root=tmp_path, split="valid", scale=2)
    assert pairs[0].lr.exists() and not pairs[1].lr.exists()  # build_cache reports it (test_data_cache.py)


def test_missing_folders_and_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="DIV2K_train_HR.zip"):
        get_dataset("div2k", root=tmp_path, split="train", scale=4)
    with pytest.raises(ConfigError, match="split must be 'train' or 'valid'"):
        get_dataset("div2k", root=tmp_path, split="test", scale=4)
    with pytest.raises(ConfigError, match="valid datasets: div2k"):
        get_dataset("div8k", root=tmp_path, split="train", scale=4)
    with pytest.raises(ConfigError, match="valid options"):
        get_dataset("div2k", root=tmp_path, split="train", scale=4, colour="y")
    with pytest.raises(ConfigError, match="option lr"):
        _div2k(tmp_path, "train", ["0001"])
        get_dataset("div2k", root=tmp_path, split="train", scale=4, lr="matlab")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no images"):
        get_dataset("folder", root=tmp_path / "empty", split="all", scale=2)


@pytest.mark.parametrize("top", [True, False])
def test_flickr2k_with_and_without_the_archive_top_folder(tmp_path, top):
    _flickr(tmp_path, ["000001", "000002"], top=top)
    pairs = get_dataset("flickr2k", root=tmp_path, split="train", scale=2)
    assert [p.name for p in pairs] == ["000001", "000002"] and all(p.lr.exists() for p in pairs)


def test_df2k_is_div2k_train_plus_flickr2k_and_div2k_valid(tmp_path):
    _div2k(tmp_path / "div2k", "train", ["0001", "0002"])
    _div2k(tmp_path / "div2k", "valid", ["0801"])
    _flickr(tmp_path / "flickr2k", ["000001", "000002", "000003"])
    train = get_dataset("df2k", root=tmp_path, split="train", scale=2)
    assert [p.name for p in train] == ["0001", "0002", "000001", "000002", "000003"]
    assert [p.name for p in get_dataset("df2k", root=tmp_path, split="valid", scale=2)] == ["0801"]
    other = get_dataset("df2k", root=tmp_path / "nowhere", split="valid", scale=2, div2k_root=tmp_path / "div2k")
    assert [p.name for p in other] == ["0801"]


def test_duplicate_names_are_refused(tmp_path):
    _div2k(tmp_path / "div2k", "train", ["0001"])
    _flickr(tmp_path / "flickr2k", ["0001"])
    with pytest.raises(DataError, match="two images named '0001'"):
        get_dataset("df2k", root=tmp_path, split="train", scale=2)


def test_benchmark_sets_under_benchmark_folder_or_directly(tmp_path):
    _set(tmp_path / "a" / "benchmark" / "Set5", ["baby", "bird"])
    _set(tmp_path / "b" / "Urban100", ["img_001"])
    assert [p.name for p in get_dataset("benchmark", root=tmp_path / "a", split="Set5", scale=2)] == ["baby", "bird"]
    assert [p.name for p in get_dataset("set5", root=tmp_path / "a", split="test", scale=2)] == ["baby", "bird"]
    (pair,) = get_dataset("urban100", root=tmp_path / "b", split="test", scale=2)
    assert pair.lr == tmp_path / "b" / "Urban100" / "LR_bicubic" / "X2" / "img_001x2.png"
    with pytest.raises(DataError, match="set 'B100' not found"):
        get_dataset("benchmark", root=tmp_path / "a", split="B100", scale=2)
    with pytest.raises(ConfigError, match="only split is 'test'"):
        get_dataset("set5", root=tmp_path / "a", split="valid", scale=2)


@pytest.mark.reference
def test_shared_benchmark_sets_have_every_lr_file():
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} not present")
    for name, count in (("set5", 5), ("set14", 14)):
        for scale in (2, 3, 4):
            pairs = get_dataset(name, root=SHARED, split="test", scale=scale)
            assert len(pairs) == count and all(p.lr.is_file() for p in pairs)


def test_folder_adapter_uses_split_subfolder_if_present(tmp_path):
    _png(tmp_path / "a.png", 8, 8)
    _png(tmp_path / "valid" / "b.png", 8, 8)
    assert [(p.name, p.lr) for p in get_dataset("folder", root=tmp_path, split="all", scale=2)] == [("a", None)]
    assert [p.name for p in get_dataset("folder", root=tmp_path, split="valid", scale=2)] == ["b"]


def test_skimage_split_is_seeded_six_three_and_keeps_the_stereo_pair_together():
    splits = [skimage_split(seed=s) for s in range(8)]
    assert skimage_split(seed=0) == splits[0]
    assert len({str(s) for s in splits}) > 1  # the seed matters
    every = sorted(Path(f).stem for f in SKIMAGE_PHOTOS)
    for s in splits:
        assert (len(s["train"]), len(s["valid"])) == (6, 3)
        assert sorted(s["train"] + s["valid"]) == every
        assert ("motorcycle_left" in s["valid"]) == ("motorcycle_right" in s["valid"])


def test_skimage_from_the_wheel_needs_no_root():
    pairs = get_dataset("skimage", root=None, split="valid", scale=4)
    assert [p.name for p in pairs] == skimage_split(seed=0)["valid"]
    assert all(p.hr.is_file() and p.lr is None for p in pairs)


def test_prepare_skimage_writes_hr_lr_and_manifest(tmp_path):
    manifest = prepare_skimage(tmp_path / "skimage", scales=(4,))
    assert manifest.exists()
    pairs = get_dataset("skimage", root=tmp_path / "skimage", split="valid", scale=4)
    assert [p.name for p in pairs] == skimage_split(seed=0)["valid"]
    for p in pairs:
        hr, lr = read_image(p.hr), read_image(p.lr)
        assert lr.shape == (hr.shape[0] // 4, hr.shape[1] // 4, 3)
        np.testing.assert_array_equal(lr, downscale(hr, 4))
    assert not (tmp_path / "skimage" / "valid" / "LR_bicubic" / "X2").exists()


def test_materialize_lr_writes_our_lr_once_and_keeps_shipped(tmp_path):
    _png(tmp_path / "hr" / "a.png", 13, 10, 0)
    _png(tmp_path / "hr" / "b.png", 8, 8, 1)
    shipped = Pair("c", tmp_path / "hr" / "a.png", tmp_path / "c_lr.png")
    pairs = get_dataset("folder", root=tmp_path / "hr", split="all", scale=3) + [shipped]
    out = materialize_lr(pairs, tmp_path / "lr", scale=3)
    assert out[0].lr == tmp_path / "lr" / "ax3.png" and out[2] == shipped
    np.testing.assert_array_equal(read_image(out[0].lr), downscale(read_image(out[0].hr), 3))
    mtime = out[0].lr.stat().st_mtime_ns
    assert materialize_lr(pairs, tmp_path / "lr", scale=3) == out and out[0].lr.stat().st_mtime_ns == mtime


def test_materialize_lr_bad_image_error_or_skip(tmp_path):
    _png(tmp_path / "hr" / "a.png", 8, 8, 0)
    (tmp_path / "hr" / "b.png").write_bytes(b"not a png")
    pairs = get_dataset("folder", root=tmp_path / "hr", split="all", scale=2)
    with pytest.raises(ImageError, match="b.png"):
        materialize_lr(pairs, tmp_path / "lr", scale=2)
    with pytest.warns(UserWarning, match="b.png.*skipped"):
        out = materialize_lr(pairs, tmp_path / "lr", scale=2, on_bad="skip")
    assert [p.name for p in out] == ["a"]


def test_every_registered_adapter_has_a_docstring():
    assert all(fn.__doc__ for fn in DATASETS.values())
