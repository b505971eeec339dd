"""Fault injection on the ``sisr`` command's outputs and on checkpoints: no command writes onto its own inputs or
lets two outputs collide, an output that is a folder is one line, a checkpoint changed on disk is refused.

Part of the fault-injection suite (marker ``fault``; README "Reliability"). The CLI runs in-process (``main()``
returns its exit status; an uncaught exception fails the test with its traceback).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.faults import one_line_error, run_cli
from sisr.config.studies import load_study, train_settings
from sisr.training import TrainConfig, load_checkpoint
from sisr.training.checkpoint import HASH_KEY, rng_state, save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.fault


def png(seed: int, h: int = 24, w: int = 20, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, fmt)
    return buf.getvalue()


def folder(path: Path, **files: bytes) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (path / name.replace("_", ".")).write_bytes(data)
    return path


def snapshot(path: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.iterdir()) if p.is_file()}


COMMANDS = {"downscale": ["downscale", "--scale", "2"], "upscale": ["upscale", "--model", "bicubic", "--scale", "2"]}


# ---------------------------------------------------------------------------------------------- overwriting inputs


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("spelling", ["same", "dot_dot", "symlink"])
def test_the_input_folder_as_output_folder_is_refused_and_leaves_the_originals(tmp_path, capsys, command, spelling):
    src = folder(tmp_path / "photos", a_png=png(0), b_jpg=png(1, fmt="JPEG"))
    before = snapshot(src)
    out = {"same": src, "dot_dot": tmp_path / "photos" / ".." / "photos", "symlink": tmp_path / "link"}[spelling]
    if spelling == "symlink":
        out.symlink_to(src)
    code, err = run_cli([*COMMANDS[command], src, out], capsys)
    one_line_error(code, err, out, "the output folder is the input folder")
    assert snapshot(src) == before


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_file_onto_itself_is_refused(tmp_path, capsys, command):
    src = folder(tmp_path / "in", a_png=png(0)) / "a.png"
    before = src.read_bytes()
    code, err = run_cli([*COMMANDS[command], src, src], capsys)
    one_line_error(code, err, src, "would overwrite the input")
    assert src.read_bytes() == before


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_subfolder_of_the_input_folder_is_a_valid_output(tmp_path, capsys, command):
    """Only the images directly inside the input folder are read: outputs below it overwrite none of them."""
    src = folder(tmp_path / "in", a_png=png(0), b_png=png(1))
    before = snapshot(src)
    code, _ = run_cli([*COMMANDS[command], src, src / "out"], capsys)
    assert code == 0 and sorted(p.name for p in (src / "out").iterdir()) == ["a.png", "b.png"]
    assert snapshot(src) == before


@pytest.mark.parametrize(("command", "names"), [
    ("downscale", ("a.jpg", "a.png")), ("upscale", ("a.jpg", "a.png")),
    ("upscale", ("a.png", "ax2.png")),  # EDSR's LR name a trailing x<scale> is dropped from: both give a.png
])
def test_two_inputs_onto_one_output_are_refused_naming_both(tmp_path, capsys, command, names):
    src = folder(tmp_path / "in", **{n.replace(".", "_"): png(i, fmt="JPEG" if n.endswith("jpg") else "PNG")
                                     for i, n in enumerate(names)})
    out = tmp_path / "out"
    code, err = run_cli([*COMMANDS[command], src, out], capsys)
    one_line_error(code, err, *(src / n for n in names), out / "a.png", "both would be written to")
    assert not out.exists() or not list(out.iterdir())  # refused before anything was written


# ---------------------------------------------------------------------------------------------- output is a folder


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_output_file_that_is_a_folder_is_one_line(tmp_path, capsys, command):
    src = folder(tmp_path / "in", a_png=png(0)) / "a.png"
    out = tmp_path / "out" / "x.png"
    out.mkdir(parents=True)
    code, err = run_cli([*COMMANDS[command], src, out], capsys)
    one_line_error(code, err, out, "is a folder")


def test_an_output_image_of_a_folder_run_that_is_a_folder_is_one_line(tmp_path, capsys):
    src = folder(tmp_path / "in", a_png=png(0))
    (tmp_path / "out" / "a.png").mkdir(parents=True)
    code, err = run_cli([*COMMANDS["downscale"], src, tmp_path / "out"], capsys)
    one_line_error(code, err, tmp_path / "out" / "a.png", "is a folder")


def test_evaluate_csv_onto_a_folder_is_one_line(tmp_path, capsys):
    hr = folder(tmp_path / "hr", a_png=png(0))
    csv = tmp_path / "results"
    csv.mkdir()
    code, err = run_cli(["evaluate", "--scale", "2", "--metrics", "psnr_y", "--csv", csv, hr, hr], capsys)
    one_line_error(code, err, f"--csv {csv}", "is a folder")


# ---------------------------------------------------------------------------------------------- checkpoint hash


def _espcn_checkpoint(path: Path) -> Path:
    from sisr.models import create_model

    settings = train_settings(load_study(ROOT / "studies" / "espcn.yaml", "demo").runs["espcn"])
    cfg = TrainConfig.from_dict(settings)
    torch.manual_seed(0)
    model = create_model(cfg.model, scale=cfg.scale, in_channels=cfg.in_channels, **cfg.model_args)
    save_checkpoint(path, {"kind": "best", "model": model.state_dict(), "config": cfg.to_dict()})
    return path


def _flip_inside_the_largest_tensor(path: Path, count: int = 100) -> None:
    """XOR ``count`` bytes in the middle of the largest tensor's stored bytes (the zip stores them uncompressed)."""
    with zipfile.ZipFile(path) as zf:
        info = max((i for i in zf.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    data = bytearray(path.read_bytes())
    name_len, extra_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little"), \
        int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len + info.file_size // 2 - count // 2
    for i in range(start, start + count):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def test_a_checkpoint_with_100_bytes_flipped_in_a_weight_tensor_is_refused_naming_it(tmp_path, capsys):
    ckpt = _espcn_checkpoint(tmp_path / "checkpoint_best.pt")
    lr = folder(tmp_path / "lr", a_png=png(0)) / "a.png"
    code, _ = run_cli(["upscale", "--checkpoint", ckpt, "--scale", "4", lr, tmp_path / "good.png"], capsys)
    assert code == 0
    _flip_inside_the_largest_tensor(ckpt)
    assert torch.load(ckpt, weights_only=False)["model"]  # torch reads it (it checks no CRC): only the hash tells
    code, err = run_cli(["upscale", "--checkpoint", ckpt, "--scale", "4", lr, tmp_path / "bad.png"], capsys)
    one_line_error(code, err, ckpt, "checkpoint corrupt", "SHA-256", "train the run again")
    assert not (tmp_path / "bad.png").exists()


def test_a_checkpoint_saved_before_the_hash_existed_still_loads(tmp_path, capsys):
    ckpt = _espcn_checkpoint(tmp_path / "checkpoint_best.pt")
    payload = torch.load(ckpt, weights_only=False)
    del payload[HASH_KEY]
    torch.save(payload, ckpt)  # what save_checkpoint wrote before
    lr = folder(tmp_path / "lr", a_png=png(0)) / "a.png"
    code, err = run_cli(["upscale", "--checkpoint", ckpt, "--scale", "4", lr, tmp_path / "sr.png"], capsys)
    assert code == 0 and (tmp_path / "sr.png").is_file(), err


def test_the_hash_covers_every_kind_of_value_a_last_checkpoint_holds(tmp_path):
    """Tensors (also bf16 and 0-d), numpy RNG state, Python RNG state, nested dicts and lists: stable across a
    save and a load, and changed by any changed value."""
    payload = {"kind": "last", "model": {"w": torch.randn(3, 4), "h": torch.randn(2).bfloat16(), "n": torch.tensor(3)},
               "rng": rng_state(), "progress": {"rows": [{"epoch": 1, "loss": 0.5}]}, "optimizer": None}
    path = tmp_path / "last.pt"
    save_checkpoint(path, payload)
    assert load_checkpoint(path)["model"]["n"].item() == 3
    loaded = torch.load(path, weights_only=False)
    loaded["progress"]["rows"][0]["loss"] = 0.25  # a change outside the tensors
    torch.save(loaded, path)
    with pytest.raises(ValueError, match="checkpoint corrupt"):
        load_checkpoint(path)
