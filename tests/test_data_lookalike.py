"""Look-alike archives (sisr.data.lookalike): real names and layouts that the adapters read, the traits of the real
archives (grayscale Set14 bridge, sizes not multiples of the scale, portrait and landscape, MATLAB-made LR),
deterministic bytes, and a rehearsal config that validates and caps schedules."""

from __future__ import annotations

import json
import tarfile
import zipfile

import numpy as np
import pytest
import yaml

from sisr.data.datasets import get_dataset
from sisr.data.download import extract
from sisr.data.lookalike import SIZES, build_lookalike, derived_params, rehearsal_config
from sisr.data.sources import ARCHIVES
from sisr.base.imresize import downscale
from sisr.base.io import read_image
from sisr.config.studies import load_config, rehearsal_run


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("lookalike")
    sums = build_lookalike(out, size="small", log=lambda *a: None)
    return out, sums


def test_every_catalogue_archive_is_written_with_checksums(small):
    out, sums = small
    assert set(sums) == set(ARCHIVES)
    index = json.loads((out / "lookalike.json").read_text())
    for name, row in sums.items():
        assert (out / name).stat().st_size == row["size"]
        assert index["archives"][name]["sha256"] == row["sha256"] and len(row["md5"]) == 32


def test_output_is_deterministic(small, tmp_path):
    _, sums = small
    again = build_lookalike(tmp_path, size="small", archives=["benchmark.tar", "DIV2K_valid_HR.zip"],
                            log=lambda *a: None)
    for name, row in again.items():
        assert row["sha256"] == sums[name]["sha256"], name


def test_member_layouts_are_the_real_ones(small):
    out, _ = small
    with zipfile.ZipFile(out / "DIV2K_train_HR.zip") as zf:
        names = zf.namelist()
    assert names[0] == "DIV2K_train_HR/" and "DIV2K_train_HR/0001.png" in names
    with zipfile.ZipFile(out / "DIV2K_valid_LR_bicubic_X4.zip") as zf:
        assert "DIV2K_valid_LR_bicubic/X4/0801x4.png" in zf.namelist()
    with tarfile.open(out / "Flickr2K.tar") as tf:
        names = tf.getnames()
    assert "Flickr2K/Flickr2K_HR/000001.png" in names and "Flickr2K/Flickr2K_LR_bicubic/X3/000001x3.png" in names
    with tarfile.open(out / "benchmark.tar") as tf:
        names = tf.getnames()
    for s in (2, 3, 4):
        assert f"benchmark/Set14/LR_bicubic/X{s}/bridgex{s}.png" in names
    assert {n.split("/")[1] for n in names if n.count("/") >= 1} == {"Set5", "Set14", "B100", "Urban100"}


def test_extracted_archives_read_by_the_adapters_with_the_real_traits(small, tmp_path):
    out, _ = small
    data = tmp_path / "datasets"
    for name, row in ARCHIVES.items():
        extract(out / name, data / row.dataset)
    train = get_dataset("div2k", root=data / "div2k", split="train", scale=4)
    assert len(train) == SIZES["small"].div2k_train and all(p.lr.is_file() for p in train)
    shapes = {read_image(p.hr).shape[:2] for p in train}
    assert any(h > w for h, w in shapes) and any(h < w for h, w in shapes)  # portrait and landscape
    assert all(h % 12 == 0 and w % 12 == 0 and min(h, w) > 128 for h, w in shapes)  # as DIV2K; > a 128 tile
    assert len(get_dataset("df2k", root=data, split="train", scale=4)) == 6 + 4
    set14 = {p.name: p for p in get_dataset("benchmark", root=data / "benchmark", split="Set14", scale=3)}
    bridge_hr, bridge_lr = read_image(set14["bridge"].hr, mode="any"), read_image(set14["bridge"].lr, mode="any")
    assert bridge_hr.ndim == 2 and bridge_lr.ndim == 2  # grayscale, as the real bridge.png
    assert np.array_equal(bridge_lr, downscale(bridge_hr, 3))  # MATLAB-made LR (our exact imresize)
    sizes = [read_image(p.hr, mode="any").shape[:2] for s in ("Set5", "Set14", "B100", "Urban100")
             for p in get_dataset("benchmark", root=data / "benchmark", split=s, scale=4)]
    assert any(h % 4 and w % 4 and h % 3 and w % 3 for h, w in sizes)  # not multiples of the scales
    assert min(min(s) for s in sizes) >= 165  # MS-SSIM needs 161 px after a shave of 2


def test_rehearsal_config_validates_and_caps_schedules(small):
    out, _ = small
    cfg = rehearsal_config(out, size="small", mirror="http://127.0.0.1:1/")
    on_disk = yaml.safe_load((out / "rehearsal.yaml").read_text())
    assert on_disk == cfg and cfg["derived"] == derived_params("small")
    full = load_config({"tier": "quick", "studies": ["espcn"], **cfg})
    assert full["rehearsal"] == {"epochs": 1, "batches_per_epoch": 1, "valid_images": 1, "eval_images": 1,
                                 "batch_size": 1, "patch_size": 96, "keep_optimizer_state": False}
    # inverted_unet trains on whole letterboxed images: the small rehearsal's are 192 (LR 96), the patch follows
    assert cfg["derived"]["inverted_unet"]["size"] // 2 == cfg["rehearsal"]["patch_size"]
    assert rehearsal_run({"epochs": 50, "batch_size": 8, "patch_size": 256}, full["rehearsal"])["patch_size"] == 96
    assert rehearsal_run({"epochs": 50, "batch_size": 8, "patch_size": 24}, full["rehearsal"])["patch_size"] == 24
    run = {"model": "rrdb", "epochs": 25, "batch_size": 16,
           "gan": {"warmup_epochs": 5, "phase_epochs": 5, "rounds": 2}}
    capped = rehearsal_run(run, full["rehearsal"])
    assert capped["gan"] == {"warmup_epochs": 1, "phase_epochs": 1, "rounds": 2} and capped["epochs"] == 5
    assert capped["batch_size"] == 1 and run["epochs"] == 25  # the input is not modified
    assert capped["keep_optimizer_state"] is False and "keep_optimizer_state" not in run
    assert "keep_optimizer_state" not in rehearsal_run(run, {**full["rehearsal"], "keep_optimizer_state": None})
    assert rehearsal_run({"epochs": 50, "batch_size": 16}, full["rehearsal"])["epochs"] == 1
    with pytest.raises(Exception, match="rehearsal"):
        load_config({"tier": "quick", "studies": ["espcn"], "rehearsal": {"epoch": 1}})
