"""Fault injection on the data path: archives placed by hand, damaged caches, full disks and killed cache builds,
unusable folders, slow servers and misspelt splits (part of the fault suite, README "Reliability").

Each case runs what a user runs (the workflow through Snakemake, a job function inside ``job_log``, or the CLI)
and expects success or one line naming the file or key, and nothing left corrupt or behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.studies import edited_study
from helpers.faults import FullDisk, assert_one_line_error, ci_config, run_cli
from helpers.faults import snakemake_in as snakemake
from helpers.servers import benchmark_tar as _benchmark_tar
from helpers.servers import file_server, png_bytes, tar_bytes

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.fault


def error_lines(text: str) -> list[str]:
    """The ``ERROR: ...`` lines of a job's output (a training job's start with its ``study/run``: cut off)."""
    return ["ERROR: " + line.split("ERROR: ", 1)[1] for line in text.splitlines() if "ERROR: " in line]


_png, _tar = png_bytes, tar_bytes


def _benchmark_cfg(md5: str) -> dict:
    """The demo tier evaluated on the benchmark bundle, nothing reachable to download from (mirror: port 9)."""
    return {"tier": "demo", "studies": ["espcn"], "studies_dir": str(ROOT / "studies"), "mirror": "http://127.0.0.1:9/",
            "archives": {"benchmark.tar": {"md5": md5}}, "leaderboard_sets": ["benchmark/Set5"]}


# ---------------------------------------------------------------------------------------------- archives by hand


def test_an_archive_placed_by_hand_is_verified_before_extraction(tmp_path):
    good = _benchmark_tar()
    other = _tar({"benchmark/Set5/HR/baby.png": _png(1)})  # a valid archive, but not the published one
    downloads = tmp_path / "data/downloads"
    downloads.mkdir(parents=True)
    (downloads / "benchmark.tar").write_bytes(other)
    md5 = hashlib.md5(good).hexdigest()
    res = snakemake(tmp_path, _benchmark_cfg(md5), "data/datasets/benchmark/ready.json")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    (line,) = error_lines(out)
    assert line == (f"ERROR: data/downloads/benchmark.tar: md5 mismatch: expected {md5}, got "
                    f"{hashlib.md5(other).hexdigest()} (not the published archive: another version or a damaged "
                    f"copy); delete it (rm data/downloads/benchmark.tar) and rerun to download it, or place the "
                    f"published file there"), line
    assert "Traceback" not in out
    assert not (tmp_path / "data/datasets/benchmark/benchmark").exists()  # nothing extracted, nothing marked
    assert not (tmp_path / "data/datasets/benchmark/ready.json").exists()
    # the published archive placed by hand is accepted
    (downloads / "benchmark.tar").write_bytes(good)
    res = snakemake(tmp_path, _benchmark_cfg(md5), "data/datasets/benchmark/ready.json")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert (tmp_path / "data/datasets/benchmark/benchmark/Set5/HR/baby.png").is_file()


@pytest.mark.parametrize("case", ["empty", "mislaid"])
def test_an_empty_or_mislaid_archive_is_not_marked_ready(tmp_path, case):
    members = {"README.txt": b"nothing here\n"} if case == "empty" else \
        {"Set5/HR/baby.png": _png(1), "Set5/LR_bicubic/X4/babyx4.png": _png(2, 8, 8)}  # no benchmark/ folder
    data = _tar(members)
    downloads = tmp_path / "data/downloads"
    downloads.mkdir(parents=True)
    (downloads / "benchmark.tar").write_bytes(data)
    res = snakemake(tmp_path, _benchmark_cfg(hashlib.md5(data).hexdigest()), "data/datasets/benchmark/ready.json")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    (line,) = error_lines(out)
    assert line == ("ERROR: data/downloads/benchmark.tar: no images under benchmark/ in the archive (the published "
                    "benchmark.tar holds its images under benchmark/); not extracted: delete it (rm "
                    "data/downloads/benchmark.tar) and rerun to download it, or place the published file there"), line
    assert not (tmp_path / "data/datasets/benchmark/ready.json").exists()
    assert not list((tmp_path / "data/datasets/benchmark").glob(".benchmark.tar.complete"))
    assert not (tmp_path / "data/datasets/benchmark/Set5").exists()  # nothing of it merged into the dataset


# ---------------------------------------------------------------------------------------------- caches


def _folder_dataset(root: Path, n: int = 4, size: int = 32) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / f"im{i}.png").write_bytes(_png(i, size, size))
    return root


def _cache_job(tmp_path: Path, root: Path, manifest: Path) -> tuple[int, str]:
    """``build_cache_job`` as the workflow runs it (inside ``job_log``): (exit status, log text)."""
    from sisr.workflow.jobs import build_cache_job, job_log

    log = tmp_path / f"build_cache.{time.monotonic_ns()}.log"
    try:
        with job_log(log):
            build_cache_job(dataset="folder", split="train", scale=2, root=str(root), manifest=str(manifest),
                            on_bad_image="error")
    except SystemExit as exc:
        return int(exc.code), log.read_text()
    return 0, log.read_text()


def test_full_disk_during_build_cache_is_no_space_left_naming_the_file(tmp_path, monkeypatch):
    from sisr.data import cache

    root = _folder_dataset(tmp_path / "images")
    manifest = tmp_path / "cache/x2_rgb/manifest.json"
    real_open = open  # the cache's data files are written through open(): a disk with 5,000 bytes free
    monkeypatch.setattr(cache, "open", lambda path, mode: FullDisk(real_open(path, mode), 5000), raising=False)
    code, log = _cache_job(tmp_path, root, manifest)
    assert code == 2 and "Traceback" not in log and "Errno" not in log, log
    (line,) = error_lines(log)
    assert line == f"ERROR: no space left on device writing {manifest.parent}/hr.u8", line
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())  # no temp folder left


def _cache_files(manifest: Path) -> Path:
    return manifest.parent / "hr.u8"


@pytest.mark.parametrize("damage", ["truncated", "byte_flipped"])
def test_a_damaged_cache_is_one_line_when_a_job_opens_it_and_is_rebuilt(tmp_path, damage):
    from sisr.data.cache import CachedImages
    from sisr.data.loader import open_train_source
    from sisr.base.errors import DataError

    root = _folder_dataset(tmp_path / "images")
    manifest = tmp_path / "cache/x2_rgb/manifest.json"
    assert _cache_job(tmp_path, root, manifest)[0] == 0
    hr = _cache_files(manifest)
    data = bytearray(hr.read_bytes())
    if damage == "truncated":
        hr.write_bytes(data[: len(data) - 100])
    else:
        data[len(data) // 2] ^= 0xFF
        hr.write_bytes(data)
    with pytest.raises(DataError) as err:
        open_train_source(manifest.parent, scale=2, patch_size=8, batch_size=2, epoch_def="random_crop", seed=0)
    what = (f"{len(data) - 100:,} bytes, expected {len(data):,}" if damage == "truncated"
            else "crc32 mismatch: expected ")
    message = str(err.value)
    assert message.startswith(f"{hr}: {what}") and "\n" not in message, message
    assert message.endswith(f"(damaged cache; its manifest.json was removed): rerun the same command to rebuild it "
                            f"(or delete {manifest.parent})"), message
    assert not manifest.exists()  # so that Snakemake (and build_cache) see the cache as missing
    assert _cache_job(tmp_path, root, manifest)[0] == 0  # the rerun rebuilds it
    assert len(CachedImages(manifest.parent)) == 4 and hr.stat().st_size == len(data)


def test_a_truncated_cache_through_the_workflow_is_one_line_and_the_rerun_rebuilds_it(tmp_path):
    cfg = ci_config()
    target = "results/ci/espcn/srcnn/train_done.json"
    train_cache = "data/cache/skimage/train/x4_rgb"
    res = snakemake(tmp_path, cfg, f"{train_cache}/manifest.json", "data/cache/skimage/valid/x4_rgb/manifest.json")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    hr = tmp_path / train_cache / "hr.u8"
    size = hr.stat().st_size
    os.truncate(hr, size // 2)
    res = snakemake(tmp_path, cfg, target)
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "cannot reshape" not in out and "Traceback" not in out
    (line,) = set(error_lines(out))  # the console and the log, once each
    assert line.startswith(f"ERROR: {train_cache}/hr.u8: {size // 2:,} bytes, expected {size:,}"), line
    res = snakemake(tmp_path, cfg, target, "-n")  # the rerun plans the cache's rebuild
    assert res.returncode == 0 and re.search(r"build_cache\s+1", res.stdout), res.stdout[-3000:]
    res = snakemake(tmp_path, cfg, f"{train_cache}/manifest.json")
    assert res.returncode == 0 and hr.stat().st_size == size, res.stdout[-3000:] + res.stderr[-3000:]


def test_a_killed_build_cache_leaves_no_temp_folder_after_the_next_build(tmp_path):
    from sisr.data.cache import CachedImages

    root = _folder_dataset(tmp_path / "images", n=8)
    out = tmp_path / "cache/x2_rgb"
    slow = ("import sys, time; from sisr.data import cache; load = cache.load_pair; "  # 1 s an image: killed midway
            "cache.load_pair = lambda *a, **k: (time.sleep(1), load(*a, **k))[1]; "
            "cache.build_dataset_cache('folder', root=sys.argv[1], split='train', scale=2, out_dir=sys.argv[2])")
    proc = subprocess.Popen([sys.executable, "-c", slow, str(root), str(out)])
    try:
        deadline = time.monotonic() + 120
        while not list(out.parent.glob(".x2_rgb.*/hr.u8")) and time.monotonic() < deadline:
            assert proc.poll() is None, "the build ended before it could be killed"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".x2_rgb.")]  # what the kill left behind
    live = out.parent / f".x2_rgb.{os.uname().nodename.replace('.', '_')}.{os.getppid()}.abc.tmp"
    live.mkdir()  # a build still running (our parent process is alive): kept
    code, log = _cache_job(tmp_path, root, out / "manifest.json")
    assert code == 0, log
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(["x2_rgb", live.name])
    assert len(CachedImages(out)) == 8
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask  # shareable like any other folder


# ---------------------------------------------------------------------------------------------- folders, formats


@pytest.mark.parametrize("fmt", ["webp", "gif"])
def test_webp_or_gif_inputs_are_named_as_unsupported_not_no_images(tmp_path, capsys, fmt):
    from sisr.data.datasets import get_dataset
    from sisr.base.errors import ImageError

    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(folder / f"a.{fmt}")
    expect = f"unsupported image format .{fmt}: {folder / f'a.{fmt}'}; expected PNG/JPEG/BMP/TIFF"
    code, err = run_cli(["downscale", "--scale", "2", folder, tmp_path / "out"], capsys)
    assert_one_line_error(code, err, expect)
    code, err = run_cli(["downscale", "--scale", "2", folder / f"a.{fmt}", tmp_path / "a.png"], capsys)  # one file
    assert_one_line_error(code, err, expect)
    (folder / "b.png").write_bytes(_png(0, 16, 16))  # beside a PNG it is not silently left out either
    with pytest.raises(ImageError, match=re.escape(expect)):
        get_dataset("folder", root=folder, split="train", scale=2)


# ---------------------------------------------------------------------------------------------- config and studies


@pytest.mark.parametrize("key", ["results_dir", "data_dir", "logs_dir", "weights_dir"])
def test_an_output_folder_key_naming_a_file_is_one_config_error(tmp_path, key):
    (tmp_path / "afile").write_text("not a folder\n")
    res = snakemake(tmp_path, {**ci_config(), key: "afile"}, "-n")
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "NotADirectoryError" not in out and "Traceback" not in out, out[-3000:]
    assert f"{key}: afile is a file, expected a folder (or a path that does not exist yet)" in out, out[-3000:]


def test_a_misspelt_split_fails_the_dry_run_naming_study_file_key_and_splits(tmp_path):
    def misspell(spec):
        spec["tiers"]["ci"]["data"]["train"] = "skimage/trian"

    studies = edited_study(tmp_path / "studies", misspell).parent
    res = snakemake(tmp_path, {**ci_config(), "studies_dir": str(studies)}, "-n")
    out = res.stdout + res.stderr
    assert res.returncode != 0, out[-3000:]
    assert (f"{studies}/espcn.yaml: tiers.ci.data.train: unknown split 'trian' of dataset skimage in "
            f"'skimage/trian'; valid splits: train, valid") in out, out[-3000:]


# ---------------------------------------------------------------------------------------------- slow servers


def test_a_trickling_download_server_meets_an_overall_deadline_naming_the_url(tmp_path, monkeypatch):
    from sisr.data.download import DownloadError, download

    data = os.urandom(50_000)
    monkeypatch.setenv("SISR_DOWNLOAD_DEADLINE_S", "2")
    with file_server({"a.bin": data}, trickle_s=0.2) as srv:  # 100 bytes every 0.2 s: 100 s for the file
        t0 = time.monotonic()
        with pytest.raises(DownloadError) as err:
            download(f"{srv.url}/a.bin", tmp_path / "a.bin", sha256=hashlib.sha256(data).hexdigest(), backoff_s=0)
        took = time.monotonic() - t0
    message = str(err.value)
    assert message.startswith(f"{srv.url}/a.bin: download did not finish within 2 s (SISR_DOWNLOAD_DEADLINE_S)"), message
    assert took < 10 and "\n" not in message
    assert (tmp_path / "a.bin.part").stat().st_size > 0 and not (tmp_path / "a.bin").exists()  # the rerun resumes
