"""Fault injection: every bad input or fault ends in success or a one-line error naming the file, key or run.

Each case is marked ``fault`` (``pytest -m fault --collect-only -q`` counts them, README "Reliability"). Cases
run in-process where that shows the same thing (the CLI's ``main()`` returns its exit status and prints its
error line; an uncaught exception would fail the test with its traceback), in subprocesses where a kill or a
signal is the fault. After each case: nothing corrupt (files load, or are absent) and nothing orphaned (no
temp files, no process left).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.faults import FullDisk, assert_one_line_error, run_cli
from helpers.trainer import log_of, start, wait_for
from helpers.training import TinySR, TinyTrainSource, read_history, register_tiny_models, tiny_config, tiny_valid
from sisr import models
from sisr.base.errors import ConfigError, DivergenceError
from sisr.training import load_checkpoint, train
from sisr.training.engine import divergence_reason

pytestmark = pytest.mark.fault


def quiet(_message: str) -> None:
    pass


class NanInEval(TinySR):
    """TinySR whose output is NaN in eval mode: validation is NaN from the first epoch, training is fine."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        return out if self.training else out * math.nan


class BlowUpSR(TinySR):
    """TinySR whose output is multiplied by 1e4 from its 9th training step on (epoch 3 of 4-batch epochs)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.steps = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        if self.training:
            self.steps += 1
        return out * 1e4 if self.steps > 8 else out


@pytest.fixture(autouse=True)
def tiny_models(monkeypatch):
    registry: dict = {}
    register_tiny_models(registry)
    for key, cls in registry.items():
        monkeypatch.setitem(models.MODELS, key, cls)
    monkeypatch.setitem(models.MODELS, "nan_eval_sr", NanInEval)
    monkeypatch.setitem(models.MODELS, "blow_up_sr", BlowUpSR)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def _train(out: Path, **overrides):
    return train(tiny_config(**overrides), train_source=TinyTrainSource(), valid_source=tiny_valid(), out_dir=out,
                 device="cpu", log=quiet, name="study.runs.tiny")


# ---------------------------------------------------------------------------------------------- divergence

EXPLODE = {"optimizer": {"name": "adam", "lr": 100.0}}  # the tiny net's loss reaches ~1e5 in epoch 1


@pytest.mark.parametrize("case", ["lr_explodes", "nan_validation"])
def test_divergence_default_policy_fails_with_one_line_and_a_rerun_repeats_it(tmp_path, case):
    overrides = EXPLODE if case == "lr_explodes" else {"model": "nan_eval_sr"}
    with pytest.raises(DivergenceError) as err:
        _train(tmp_path / "run", **overrides)
    message = str(err.value)
    assert "\n" not in message and message.startswith("study.runs.tiny: diverged in epoch 1 of 3: ")
    assert ("training loss" if case == "lr_explodes" else "validation loss nan is not finite") in message
    marker = json.loads((tmp_path / "run" / "diverged.json").read_text())
    assert marker["epoch"] == 1 and marker["message"] == message
    assert not (tmp_path / "run" / "checkpoint_last.pt").exists()  # never saved a diverged state
    assert not (tmp_path / "run" / "train_done.json").exists()
    # a rerun with the same config stops at once with the same line (no silent loop, no training)
    with pytest.raises(DivergenceError, match="from a previous attempt") as again:
        train(tiny_config(**overrides), train_source=_NoBatches(), valid_source=tiny_valid(),
              out_dir=tmp_path / "run", device="cpu", log=quiet, name="study.runs.tiny")
    assert message in str(again.value)
    # a changed config trains again
    result = _train(tmp_path / "run")
    assert result.stop_reason == "completed" and not (tmp_path / "run" / "diverged.json").exists()
    assert no_temp_files(tmp_path)


class _NoBatches(TinyTrainSource):
    def batches(self, epoch, start_batch=0):
        raise AssertionError("the rerun trained instead of reporting the recorded divergence")


@pytest.mark.parametrize("case", ["lr_explodes", "nan_validation", "after_two_good_epochs"])
def test_divergence_record_policy_ends_the_run_marked_diverged_with_a_finite_best(tmp_path, case):
    record = {"divergence": {"policy": "record"}}
    out = tmp_path / "run"
    if case == "after_two_good_epochs":  # epochs 1-2 train, then the output blows up: diverges in epoch 3
        result = _train(out, **record, model="blow_up_sr")
        diverged_at = 3
    else:
        result = _train(out, **record, **(EXPLODE if case == "lr_explodes" else {"model": "nan_eval_sr"}))
        diverged_at = 1
    assert result.stop_reason == "diverged"
    done = json.loads((out / "train_done.json").read_text())
    assert done["stop_reason"] == "diverged" and done["diverged"]["epoch"] == diverged_at
    best = load_checkpoint(out / "checkpoint_best.pt")
    assert all(torch.isfinite(v).all() for v in best["model"].values())
    if case == "after_two_good_epochs":
        assert best["epoch"] in (1, 2) and load_checkpoint(out / "checkpoint_last.pt")["epoch"] == 2
    else:
        assert best["epoch"] == 0  # the initial weights: no epoch ended finite
    assert len(read_history(out / "history.csv")) == diverged_at
    assert not (out / "diverged.json").exists() and no_temp_files(tmp_path)


@pytest.mark.parametrize("loss,first,expect", [(math.nan, 0.2, "not finite"), (math.inf, 0.2, "not finite"),
                                               (25.0, 0.2, "> 100 x"), (19.0, 0.2, None), (5.0, None, None)])
def test_divergence_rule(loss, first, expect):
    reason = divergence_reason(loss, first, 100.0)
    assert (reason is None) if expect is None else (expect in reason)


@pytest.mark.parametrize("value,expect", [({"policy": "ignore"}, "divergence.policy"),
                                          ({"factor": 0.5}, "divergence.factor"),
                                          ({"bound": 3}, "divergence: unknown key(s) ['bound']")])
def test_divergence_config_errors_name_the_key(value, expect):
    from sisr.training import TrainConfig

    with pytest.raises(ConfigError, match=re.escape(expect)):
        TrainConfig.from_dict(tiny_config(divergence=value), where="runs.x")


def test_rerun_of_a_finished_run_says_so_instead_of_resuming_past_its_last_epoch(tmp_path):
    _train(tmp_path / "run")
    (tmp_path / "run" / "train_done.json").unlink()  # as a workflow manager does before a forced rerun
    lines: list[str] = []
    result = train(tiny_config(), train_source=TinyTrainSource(), valid_source=tiny_valid(), out_dir=tmp_path / "run",
                   device="cpu", log=lines.append)
    assert result.epochs_run == 3 and (tmp_path / "run" / "train_done.json").is_file()
    assert any("already ended after 3 of 3 epochs (completed)" in line for line in lines)
    assert not any("resuming from epoch 4" in line for line in lines)


# ---------------------------------------------------------------------------------------------- helpers for the CLI


def _png16(arr: np.ndarray) -> bytes:
    """A 16-bit PNG (gray, RGB or RGBA) written by hand: Pillow cannot write 16-bit colour PNGs."""
    import struct
    import zlib

    h, w, c = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, {1: 0, 3: 2, 4: 6}[c], 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels, with almost no data (a 'decompression bomb' probe)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def _good_png(h: int = 24, w: int = 20, seed: int = 0) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _pillow_bytes(array: np.ndarray, fmt: str, mode: str | None = None) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    im = Image.fromarray(array) if mode is None else Image.fromarray(array).convert(mode)
    im.save(buf, fmt)
    return buf.getvalue()


_RGB16 = (np.arange(24 * 20 * 3).reshape(24, 20, 3) * 37 % 65536).astype(np.uint16)
BAD_IMAGES = {  # name -> (file name, bytes); each must be refused with one line naming the file
    "junk_bytes": ("junk.png", b"this is not an image at all"),
    "empty_file": ("empty.png", b""),
    "truncated_png": ("trunc.png", _good_png()[:300]),
    "png_signature_only": ("sig.png", b"\x89PNG\r\n\x1a\n"),
    "truncated_jpeg": ("trunc.jpg", _pillow_bytes(np.zeros((64, 64, 3), np.uint8) + 90, "JPEG")[:200]),
    "text_named_jpg": ("notes.jpg", b"hello\n" * 100),
    "rgb_16bit": ("rgb16.png", _png16(_RGB16)),
    "gray_16bit": ("gray16.png", _png16(_RGB16[:, :, :1])),
    "rgba_16bit": ("rgba16.png", _png16(np.dstack([_RGB16, _RGB16[:, :, :1]]))),
    "float_tiff": ("float.tif", _pillow_bytes(np.random.default_rng(0).random((8, 8)).astype(np.float32), "TIFF")),
    "int32_tiff": ("int32.tif", _pillow_bytes(np.arange(64, dtype=np.int32).reshape(8, 8), "TIFF")),
    "above_size_limit": ("huge.png", _png_header_only(40_000, 40_000)),
}


@pytest.mark.parametrize("command", ["downscale", "upscale", "evaluate"])
@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_bad_image_is_one_line_exit_2_naming_the_file(tmp_path, capsys, case, command):
    name, data = BAD_IMAGES[case]
    bad = tmp_path / "in" / name
    bad.parent.mkdir()
    bad.write_bytes(data)
    if command == "downscale":
        argv = ["downscale", "--scale", "2", bad, tmp_path / "out"]
    elif command == "upscale":
        argv = ["upscale", "--model", "bicubic", "--scale", "2", bad, tmp_path / "out"]
    else:  # the bad file as an SR image, beside a good HR image of the same name
        hr = tmp_path / "hr" / f"{bad.stem}.png"
        hr.parent.mkdir()
        hr.write_bytes(_good_png(48, 40))
        argv = ["evaluate", "--scale", "2", "--metrics", "psnr_y", bad.parent, hr.parent]
    code, err = run_cli(argv, capsys)
    assert_one_line_error(code, err, name)
    if case in ("rgb_16bit", "gray_16bit", "rgba_16bit"):
        assert "8-bit images only" in err  # RGB and grayscale alike: refused, never cut to their high byte
    if case == "above_size_limit":
        assert "SISR_MAX_IMAGE_PIXELS" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert no_temp_files(tmp_path)


@pytest.mark.parametrize("case", ["cmyk_jpeg", "palette_png", "one_bit_png", "rgba_png"])
def test_unusual_but_valid_images_succeed(tmp_path, capsys, case):
    rgb = np.random.default_rng(1).integers(0, 256, (24, 20, 3), dtype=np.uint8)
    data = {"cmyk_jpeg": lambda: _pillow_bytes(rgb, "JPEG", "CMYK"),
            "palette_png": lambda: _pillow_bytes(rgb, "PNG", "P"),
            "one_bit_png": lambda: _pillow_bytes(rgb, "PNG", "1"),
            "rgba_png": lambda: _pillow_bytes(rgb, "PNG", "RGBA")}[case]()
    src = tmp_path / ("in.jpg" if case == "cmyk_jpeg" else "in.png")
    src.write_bytes(data)
    code, err = run_cli(["upscale", "--model", "bicubic", "--scale", "2", src, tmp_path / "out.png"], capsys)
    assert code == 0, err
    from sisr.base.io import read_image

    assert read_image(tmp_path / "out.png", mode="any").shape[:2] == (48, 40)


def test_image_between_pillows_limit_and_ours_is_read(tmp_path, monkeypatch):
    """Pillow refuses images above 179 megapixels; ours is higher (SR outputs are big). Shown with the limits
    scaled down 10,000 times so that the test stays small: Pillow's check is what we must get past."""
    from PIL import Image

    from sisr.base import io as sio

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow: warn above 1,000, refuse above 2,000 pixels
    monkeypatch.setattr(sio, "MAX_IMAGE_PIXELS", 10_000)
    path = tmp_path / "big.png"
    path.write_bytes(_good_png(60, 50))  # 3,000 pixels: above Pillow's refusal, below ours
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", sio.MAX_IMAGE_PIXELS)  # what sisr.base.io sets at import
    assert sio.read_image(path).shape == (60, 50, 3)


def test_downscale_of_an_image_smaller_than_the_scale_names_it(tmp_path, capsys):
    small = tmp_path / "tiny.png"
    small.write_bytes(_good_png(3, 3))
    code, err = run_cli(["downscale", "--scale", "4", small, tmp_path / "out"], capsys)
    assert_one_line_error(code, err, "tiny.png", "smaller than the scale 4")


@pytest.mark.parametrize("metrics", ["", " , ", ","])
def test_evaluate_with_no_metric_named_is_an_error(tmp_path, capsys, metrics):
    (tmp_path / "sr").mkdir()
    (tmp_path / "sr" / "a.png").write_bytes(_good_png(48, 40))
    code, err = run_cli(["evaluate", "--scale", "2", "--metrics", metrics, tmp_path / "sr", tmp_path / "sr"], capsys)
    assert_one_line_error(code, err, "--metrics")


@pytest.mark.parametrize("case", ["missing_input", "empty_folder", "output_under_a_file"])
def test_bad_paths_are_one_line_errors(tmp_path, capsys, case):
    src, out = tmp_path / "in", tmp_path / "out"
    if case == "empty_folder":
        src.mkdir()
    elif case == "output_under_a_file":
        src.mkdir()
        (src / "a.png").write_bytes(_good_png())
        out.write_text("a file where the output folder should be")
    code, err = run_cli(["upscale", "--model", "bicubic", "--scale", "2", src, out], capsys)
    assert_one_line_error(code, err, out if case == "output_under_a_file" else src)


# ---------------------------------------------------------------------------------------------- full disk


@pytest.fixture
def full_disk(monkeypatch):
    """After this, every atomic_write gets a disk with ``room`` free bytes (default 100)."""
    from sisr.base import io as sio

    def install(room: int = 100) -> None:
        real_open = os.fdopen
        monkeypatch.setattr(sio, "_open_fd", lambda fd, mode: FullDisk(real_open(fd, mode), room))

    return install


@pytest.mark.parametrize("what", ["upscale_png", "evaluate_csv", "checkpoint", "json", "history_csv"])
def test_full_disk_is_no_space_left_writing_path_and_leaves_the_old_file(tmp_path, capsys, full_disk, what):
    from sisr.base.errors import DiskFullError
    from sisr.base.io import write_json
    from sisr.training.checkpoint import save_checkpoint

    img = tmp_path / "a.png"
    img.write_bytes(_good_png())
    target = {"upscale_png": tmp_path / "sr" / "a.png", "evaluate_csv": tmp_path / "m.csv",
              "checkpoint": tmp_path / "c.pt", "json": tmp_path / "d.json", "history_csv": tmp_path / "h.csv"}[what]
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(b"old")
    full_disk(10)
    if what == "upscale_png":
        code, err = run_cli(["upscale", "--model", "bicubic", "--scale", "2", img, target.parent], capsys)
        assert_one_line_error(code, err, f"no space left on device writing {target}")
    elif what == "evaluate_csv":
        code, err = run_cli(["evaluate", "--scale", "2", "--metrics", "psnr_y", "--csv", target, tmp_path,
                             tmp_path], capsys)
        assert_one_line_error(code, err, f"no space left on device writing {target}")
    else:
        with pytest.raises(DiskFullError, match=f"no space left on device writing {re.escape(str(target))}$"):
            if what == "checkpoint":  # torch.save wraps the OSError in a RuntimeError ("unexpected pos")
                save_checkpoint(target, {"model": {"w": torch.zeros(10_000)}})
            elif what == "json":
                write_json(target, {"x": "y" * 1000})
            else:
                from sisr.training.engine import _write_history

                _write_history(target, [{"epoch": i, "train_loss": 0.1} for i in range(100)])
    assert target.read_bytes() == b"old" and no_temp_files(tmp_path)


# ---------------------------------------------------------------------------------------------- checkpoints


def _checkpoint_variants(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, text the error must contain)."""
    import pickle
    import zipfile

    from sisr.training.checkpoint import save_checkpoint

    good = tmp_path / "good.pt"
    cfg = tiny_config()
    from sisr.training import TrainConfig

    model = TinySR(scale=2)
    save_checkpoint(good, {"kind": "best", "model": model.state_dict(), "config": TrainConfig.from_dict(cfg).to_dict()})
    data = good.read_bytes()
    out: dict[str, tuple[Path, str]] = {}

    def put(name: str, payload: bytes, expect: str = "") -> None:
        path = tmp_path / f"{name}.pt"
        path.write_bytes(payload)
        out[name] = (path, expect)

    rng = np.random.default_rng(7)
    put("random_bytes", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(), "cannot read checkpoint")
    put("random_bytes_zip_magic", b"PK\x03\x04" + rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "cannot read checkpoint")
    put("empty", b"", "cannot read checkpoint")
    put("truncated_half", data[: len(data) // 2], "cannot read checkpoint")
    put("truncated_end", data[:-10], "cannot read checkpoint")
    put("text", b"model: espcn\n", "cannot read checkpoint")
    put("plain_pickle_list", pickle.dumps([1, 2, 3]), "")
    zpath = tmp_path / "zip_not_torch.pt"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("hello.txt", "not a checkpoint")
    out["zip_not_torch"] = (zpath, "cannot read checkpoint")
    for name, payload, expect in [("tensor_not_dict", torch.zeros(3), "expected a sisr checkpoint"),
                                  ("format_99", {"format": 99, "model": {}}, "format 1"),
                                  ("no_config", {"format": 1, "model": model.state_dict()}, "no config"),
                                  ("unknown_config_key", {"format": 1, "model": model.state_dict(),
                                                          "config": {**cfg, "colour": "red"}}, "colour"),
                                  ("unknown_model", {"format": 1, "model": model.state_dict(),
                                                     "config": {**cfg, "model": "no_such_net"}}, "no_such_net"),
                                  ("wrong_weights", {"format": 1, "model": {"body.0.weight": torch.zeros(1)},
                                                     "config": cfg}, "weights do not fit")]:
        path = tmp_path / f"{name}.pt"
        torch.save(payload, path)
        out[name] = (path, expect)
    out["missing"] = (tmp_path / "missing.pt", "no such checkpoint")
    (tmp_path / "folder.pt").mkdir()
    out["folder"] = (tmp_path / "folder.pt", "no such checkpoint")
    return out


CHECKPOINT_CASES = ["random_bytes", "random_bytes_zip_magic", "empty", "truncated_half", "truncated_end", "text",
                    "plain_pickle_list", "zip_not_torch", "tensor_not_dict", "format_99", "no_config",
                    "unknown_config_key", "unknown_model", "wrong_weights", "missing", "folder"]


@pytest.mark.parametrize("case", CHECKPOINT_CASES)
def test_bad_checkpoint_is_one_line_exit_2_naming_the_file(tmp_path, capsys, case):
    ckpt, expect = _checkpoint_variants(tmp_path)[case]
    lr = tmp_path / "lr.png"
    lr.write_bytes(_good_png())
    code, err = run_cli(["upscale", "--checkpoint", ckpt, "--scale", "2", lr, tmp_path / "sr.png"], capsys)
    assert_one_line_error(code, err, ckpt, expect)
    assert not (tmp_path / "sr.png").exists()


def test_a_corrupt_last_checkpoint_stops_training_naming_it(tmp_path):
    from sisr.base.errors import SisrError

    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint_last.pt").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(SisrError, match="checkpoint_last.pt: cannot read checkpoint"):
        _train(out)


# ---------------------------------------------------------------------------------------------- configs

CONFIG_CASES = {  # run-entry override -> text the ConfigError must contain (the key path)
    "lr_as_text": ({"optimizer": {"name": "adam", "lr": "1e-4"}}, "runs.x.optimizer.lr: expected a number"),
    "negative_lr": ({"optimizer": {"name": "adam", "lr": -1.0}}, "runs.x.optimizer.lr: expected > 0"),
    "unknown_key": ({"epochz": 3}, "runs.x: unknown key(s) ['epochz']"),
    "zero_epochs": ({"epochs": 0}, "runs.x.epochs: expected an integer >= 1"),
    "bad_amp": ({"amp": "fp8"}, "runs.x.amp"),
    "scheduler_option": ({"scheduler": {"name": "step", "eta_min": 0.1}}, "runs.x.scheduler.eta_min"),
    "bad_monitor": ({"best_metric": {"metric": "val_lpips"}}, "runs.x.best_metric.metric"),
    "batch_size_text": ({"batch_size": "32"}, "runs.x.batch_size: expected int"),
    "gan_without_adversarial": ({"gan": {"warmup_epochs": 1, "phase_epochs": 1, "rounds": 1}}, "runs.x:"),
    "in_channels_2": ({"in_channels": 2}, "runs.x.in_channels"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_bad_run_config_names_the_key_path(case):
    from sisr.training import TrainConfig

    override, expect = CONFIG_CASES[case]
    with pytest.raises(ConfigError, match=re.escape(expect)):
        TrainConfig.from_dict(tiny_config(**override), where="runs.x")


@pytest.mark.parametrize("case", ["unknown_config_key", "unknown_study", "unknown_tier", "study_bad_divergence"])
def test_bad_workflow_config_or_study_names_the_key(tmp_path, case):
    import yaml

    from sisr.config.studies import load_config, load_study

    studies = Path(__file__).resolve().parents[1] / "studies"
    with pytest.raises(ConfigError) as err:
        if case == "unknown_config_key":
            load_config({"tier": "demo", "studies": ["espcn"], "num_worker": 2})
        elif case == "unknown_study":
            load_study(studies / "no_such_study.yaml", "demo")
        elif case == "unknown_tier":
            load_study(studies / "espcn.yaml", "nightly")
        else:
            spec = yaml.safe_load((studies / "espcn.yaml").read_text())
            spec["train"]["divergence"] = {"policy": "ignore"}
            (tmp_path / "espcn.yaml").write_text(yaml.safe_dump(spec))
            load_study(tmp_path / "espcn.yaml", "demo")
    expect = {"unknown_config_key": "num_worker", "unknown_study": "no_such_study", "unknown_tier": "nightly",
              "study_bad_divergence": "divergence"}[case]
    assert expect in str(err.value)


# ---------------------------------------------------------------------------------------------- orphans and kills


def _dead_pid() -> int:
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_stale_temp_files_of_dead_writers_are_swept_live_ones_kept(tmp_path):
    from sisr.base.io import _HOST
    from sisr.training.checkpoint import save_checkpoint

    target = tmp_path / "checkpoint_last.pt"
    dead = tmp_path / f".{target.name}.{_HOST}.{_dead_pid()}.x1.tmp"
    alive = tmp_path / f".{target.name}.{_HOST}.{os.getppid()}.x2.tmp"  # our parent: alive
    other_host = tmp_path / f".{target.name}.otherhost.{_dead_pid()}.x3.tmp"  # may be alive over there
    for p in (dead, alive, other_host):
        p.write_bytes(b"partial")
    save_checkpoint(target, {"model": {}})
    assert not dead.exists() and alive.exists() and other_host.exists()
    assert load_checkpoint(target)["model"] == {}


WRITER = """
import sys, time, torch
from sisr.training.checkpoint import save_checkpoint
path, i = sys.argv[1], 0
print("ready", flush=True)
while True:
    i += 1
    save_checkpoint(path, {"i": i, "model": {"w": torch.full((1_000_000,), float(i))}})
"""


@pytest.mark.parametrize("seed", range(6))
def test_sigkill_at_a_random_point_of_a_checkpoint_write_leaves_a_whole_file_and_no_orphan(tmp_path, seed):
    import random
    import signal
    import subprocess

    from sisr.training.checkpoint import save_checkpoint

    target = tmp_path / "checkpoint_last.pt"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 60
    while not target.exists() and time.monotonic() < deadline:  # at least one complete write first
        time.sleep(0.005)
    rng = random.Random(seed)
    if seed % 2:  # inside a write for sure: once its temporary file exists, a random moment later
        while time.monotonic() < deadline:
            while not list(tmp_path.glob(".checkpoint_last.pt.*.tmp")) and time.monotonic() < deadline:
                time.sleep(0.001)
            time.sleep(rng.uniform(0.0, 0.01))
            proc.send_signal(signal.SIGSTOP)  # frozen: if its temporary file is still there, it is mid-write
            if list(tmp_path.glob(".checkpoint_last.pt.*.tmp")):
                break
            proc.send_signal(signal.SIGCONT)  # that write ended meanwhile (a loaded machine): try the next one
    else:  # anywhere inside the next writes
        time.sleep(rng.uniform(0.0, 0.3))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    orphans = list(tmp_path.glob(".checkpoint_last.pt.*.tmp"))
    assert orphans or seed % 2 == 0  # the killed writer left its temporary file behind ...
    saved = load_checkpoint(target)  # ... and a whole checkpoint: the last completed write
    assert torch.equal(saved["model"]["w"], torch.full((1_000_000,), float(saved["i"])))
    save_checkpoint(target, {"i": 0, "model": {}})  # the next write sweeps what the killed writer left
    assert no_temp_files(tmp_path) and load_checkpoint(target)["i"] == 0


@pytest.mark.parametrize("fail_after", [0, 1, 4096, 200_000])
def test_a_write_failing_at_any_byte_keeps_the_old_checkpoint(tmp_path, monkeypatch, fail_after):
    import errno

    from sisr.base import io as sio
    from sisr.training.checkpoint import save_checkpoint

    target = tmp_path / "c.pt"
    save_checkpoint(target, {"i": 1, "model": {"w": torch.ones(100_000)}})
    real_open = os.fdopen

    class Broken(FullDisk):
        def write(self, data):
            if len(data) > self.room:
                raise OSError(errno.EIO, "Input/output error")
            return super().write(data)

    monkeypatch.setattr(sio, "_open_fd", lambda fd, mode: Broken(real_open(fd, mode), fail_after))
    with pytest.raises((OSError, RuntimeError)):
        save_checkpoint(target, {"i": 2, "model": {"w": torch.zeros(100_000)}})
    monkeypatch.undo()
    assert load_checkpoint(target)["i"] == 1 and no_temp_files(tmp_path)


def test_a_second_trainer_on_a_locked_run_folder_fails_at_once_naming_the_pid(tmp_path):
    import signal

    from sisr.base.errors import RunLockedError

    out = tmp_path / "run"
    proc = start(out, pause_at=(0, 1))  # another trainer, paused inside its first epoch
    try:
        wait_for(out / "paused", proc)
        t0 = time.monotonic()
        with pytest.raises(RunLockedError, match=f"PID {proc.pid} on .* holds {re.escape(str(out))}/train.lock"):
            _train(out)
        assert time.monotonic() - t0 < 5
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    result = _train(out)  # the lock went with the killed process
    assert result.stop_reason == "completed" and no_temp_files(tmp_path)


def test_sigint_to_the_trainer_saves_exits_130_without_traceback_and_resumes(tmp_path):
    import signal

    out = tmp_path / "run"
    proc = start(out, pause_at=(1, 2))
    wait_for(out / "paused", proc)
    proc.send_signal(signal.SIGINT)
    (out / "paused.go").touch()
    assert proc.wait(timeout=60) == 130, log_of(out)
    assert "Traceback" not in log_of(out) and "exiting with code 130" in log_of(out)
    assert load_checkpoint(out / "checkpoint_last.pt")["batch"] == 3
    (out / "paused").unlink()
    proc = start(out)
    assert proc.wait(timeout=120) == 0, log_of(out)
    assert "resuming from epoch 2, batch 3" in log_of(out) and (out / "train_done.json").is_file()


# ---------------------------------------------------------------------------------------------- archives, downloads


def _archive(kind: str, tmp_path: Path) -> Path:
    import io
    import tarfile
    import zipfile

    payload = np.random.default_rng(3).integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    if kind.startswith("tar"):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz" if kind == "tar_gz_truncated" else "w") as tar:
            info = tarfile.TarInfo("set/a.bin")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        data, name = buf.getvalue(), "a.tar.gz" if kind == "tar_gz_truncated" else "a.tar"
    else:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("set/a.bin", payload)
        data, name = buf.getvalue(), "a.zip"
    path = tmp_path / name
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize("kind", ["tar_truncated", "tar_gz_truncated", "zip_truncated"])
def test_truncated_archive_is_one_line_naming_it_and_extracts_nothing(tmp_path, kind):
    from sisr.data.download import extract
    from sisr.base.errors import DataError

    archive = _archive(kind, tmp_path)
    dest = tmp_path / "data"
    with pytest.raises(DataError) as err:
        extract(archive, dest)
    assert str(archive) in str(err.value) and "\n" not in str(err.value)
    assert not dest.exists() or not [p for p in dest.rglob("*")]  # no marker, no partial tree, no temp folder


def test_full_disk_during_a_download_is_no_space_left_naming_the_part_file(tmp_path, monkeypatch):
    import errno

    from sisr.data import download as dl
    from sisr.base.errors import DataError

    def full(url, part, size, deadline):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(dl, "_fetch_into", full)
    with pytest.raises(DataError, match=f"no space left on device writing {re.escape(str(tmp_path))}/a.bin.part"):
        dl.download("http://127.0.0.1:9/a.bin", tmp_path / "a.bin", sha256="0" * 64, retries=3, backoff_s=0)


# ---------------------------------------------------------------------------------------------- large images


def _espcn_and_lr(size: int = 90):
    from sisr.models import create_model

    torch.manual_seed(0)
    model = create_model("espcn", scale=2).eval()
    return model, np.random.default_rng(5).integers(0, 256, (size, size + 7, 3), dtype=np.uint8)


def test_inference_tiles_by_itself_when_the_whole_image_exceeds_the_memory_it_may_use(monkeypatch):
    """The CPU path of `sisr upscale` without --tile on an image too large for memory, with a small budget."""
    import sisr.training.inference as inf

    model, lr = _espcn_and_lr()
    whole = inf.super_resolve(model, lr, scale=2, memory=10**12)
    per_pixel = inf.bytes_per_lr_pixel(model, 3, torch.device("cpu"))
    budget = int(per_pixel * 80**2)  # room for an 80 x 80 LR tile, not for the 90 x 97 image
    tiles = []
    real = inf._forward
    monkeypatch.setattr(inf, "_forward", lambda m, x, tile, overlap, scale: tiles.append((tile, overlap)) or
                        real(m, x, tile, overlap, scale))
    tiled = inf.super_resolve(model, lr, scale=2, memory=budget)
    assert tiles == [(80, inf.FALLBACK_OVERLAP)]
    diff = np.abs(whole.astype(int) - tiled.astype(int))  # equal up to float rounding (see tests/test_inference.py)
    assert tiled.shape == whole.shape and diff.max() <= 1 and (diff > 0).mean() < 0.01


def test_cpu_allocator_failure_on_a_whole_image_falls_back_to_tiles(monkeypatch):
    import sisr.training.inference as inf

    model, lr = _espcn_and_lr(40)
    whole = inf.super_resolve(model, lr, scale=2, memory=10**12)
    real = inf._forward

    def no_memory_for_whole_images(m, x, tile, overlap, scale):
        if tile is None:
            raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")
        return real(m, x, tile, overlap, scale)

    monkeypatch.setattr(inf, "_forward", no_memory_for_whole_images)
    monkeypatch.setattr(inf, "FALLBACK_TILE", 24)
    monkeypatch.setattr(inf, "FALLBACK_OVERLAP", 6)
    tiled = inf.super_resolve(model, lr, scale=2, memory=10**12)
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1


def test_not_enough_memory_even_for_a_tile_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    lr = tmp_path / "lr.png"
    lr.write_bytes(_good_png(64, 64))
    monkeypatch.setenv("SISR_INFERENCE_MEMORY", "1000")
    code, err = run_cli(["upscale", "--model", "bicubic", "--scale", "2", lr, tmp_path / "sr.png"], capsys)
    assert_one_line_error(code, err, "not enough memory for inference", "SISR_INFERENCE_MEMORY")
