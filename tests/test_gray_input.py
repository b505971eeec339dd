"""An RGB model on a grayscale image (Set14 `bridge`): the model gets its three channels (gray repeated, as the
reference SR codebases do) and its output is scored against the grayscale HR on one channel (the full-range
BT.601 luma of the SR, which gives back the gray value for a gray SR), in the workflow's evaluation job and in
`sisr upscale --checkpoint` + `sisr evaluate`. Found by the dress rehearsal (issue 10): both crashed with
"expected input[1, 1, 128, 128] to have 3 channels"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from sisr.cli import main
from sisr.evaluation import load_pair, sr_for_hr
from sisr.base.imresize import upscale
from sisr.training.inference import colour_output
from sisr.base.io import read_image, write_image
from sisr.config.job_settings import EvalJob, EvalSet
from sisr.workflow.jobs import evaluate_job
from sisr.metrics.basic import rgb_to_y
from sisr.models import create_model
from sisr.training.checkpoint import save_checkpoint
from sisr.training.config import TrainConfig

SET14 = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "benchmark"
needs_shared = pytest.mark.skipif(not (SET14 / "Set14" / "HR" / "bridge.png").is_file(),
                                  reason="../shared/datasets/benchmark not present")


def _rgb_checkpoint(path: Path, *, model: str = "espcn_bn_residual") -> Path:
    """A checkpoint of an RGB model with random weights (seed 0), in the format training writes."""
    cfg = TrainConfig.from_dict({"model": model, "scale": 4, "in_channels": 3, "batch_size": 1, "patch_size": 8,
                                 "epochs": 1, "loss": [{"name": "l1", "weight": 1.0}],
                                 "optimizer": {"name": "adam", "lr": 1.0e-4}})
    torch.manual_seed(0)
    net = create_model(model, scale=4, in_channels=3)
    save_checkpoint(path, {"kind": "best", "model": net.state_dict(), "config": cfg.to_dict(), "epoch": 1})
    return path


def test_sr_for_hr_reduces_rgb_to_full_range_luma():
    gray = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert np.array_equal(sr_for_hr(np.repeat(gray[:, :, None], 3, axis=2), gray), gray)  # gray in, gray out
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    expected = round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)  # 124.2 -> 124; no 16-235 mapping
    assert (sr_for_hr(rgb, gray[:2, :2]) == expected).all()
    assert sr_for_hr(rgb, rgb) is rgb  # RGB HR: untouched


def test_load_pair_scores_rgb_sr_against_gray_hr(tmp_path):
    gray = np.random.default_rng(0).integers(0, 256, (20, 22), dtype=np.uint8)
    write_image(tmp_path / "hr.png", gray)
    write_image(tmp_path / "sr.png", np.repeat(gray[:20, :20, None], 3, axis=2))
    sr, hr = load_pair(tmp_path / "sr.png", tmp_path / "hr.png", scale=4)
    assert sr.shape == hr.shape == (20, 20) and np.array_equal(sr, hr)


@needs_shared
def test_rgb_model_on_all_of_set14_workflow_job_and_cli_agree(tmp_path, capsys):
    ckpt = _rgb_checkpoint(tmp_path / "checkpoint_best.pt")
    metrics = ["psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb", "psnr_rgb_skimage_noshave"]
    # the workflow's evaluation job (rule evaluate_<study> -> workflow_scripts/evaluate.py -> jobs.evaluate_job)
    job = EvalJob(study="s", run="r", scale=4, in_channels=3, metrics=tuple(metrics), tier="ci", device="cpu",
                  sets=(EvalSet(dataset="benchmark", split="Set14", root=str(SET14), label="Set14"),))
    [df] = evaluate_job(job, checkpoint=str(ckpt), out_csvs=[str(tmp_path / "job.csv")],
                        sr_dirs=[str(tmp_path / "sr_job")])
    assert len(df) == 14 and df[metrics].notna().all().all()
    bridge = df.set_index("image").loc["bridge"]
    assert bridge["height"] == bridge["width"] == 512
    assert read_image(tmp_path / "sr_job" / "bridge.png", mode="any").shape == (512, 512, 3)  # what the model made
    # the command line: sisr upscale --checkpoint, then sisr evaluate
    sr_cli = tmp_path / "sr_cli"
    assert main(["upscale", "--checkpoint", str(ckpt), "--scale", "4", "--device", "cpu",
                 str(SET14 / "Set14" / "LR_bicubic" / "X4"), str(sr_cli)]) == 0, capsys.readouterr().err
    assert len(list(sr_cli.glob("*.png"))) == 14
    assert main(["evaluate", "--scale", "4", "--metrics", ",".join(metrics), "--csv", str(tmp_path / "cli.csv"),
                 str(sr_cli), str(SET14 / "Set14" / "HR")]) == 0, capsys.readouterr().err
    cli = pd.read_csv(tmp_path / "cli.csv").set_index("image").sort_index()
    job = df.set_index("image").sort_index()
    assert list(cli.index) == list(job.index)
    np.testing.assert_allclose(cli[metrics].to_numpy(), job[metrics].to_numpy(), rtol=0, atol=1e-9)
    # the bridge row is scored on one channel: PSNR on Y equals PSNR on "RGB" (both the single channel)
    assert cli.loc["bridge", "psnr_y"] == pytest.approx(cli.loc["bridge", "psnr_rgb"])


@needs_shared
def test_y_model_upscale_takes_the_y_of_rgb_input(tmp_path, capsys):
    """The converse: a Y-only checkpoint given RGB LR files gets their Y (rounded), as the workflow does."""
    cfg = TrainConfig.from_dict({"model": "espcn", "scale": 4, "in_channels": 1, "batch_size": 1, "patch_size": 8,
                                 "epochs": 1, "loss": [{"name": "l1", "weight": 1.0}],
                                 "optimizer": {"name": "adam", "lr": 1.0e-4}})
    net = create_model("espcn", scale=4, in_channels=1)
    ckpt = tmp_path / "y.pt"
    save_checkpoint(ckpt, {"kind": "best", "model": net.state_dict(), "config": cfg.to_dict(), "epoch": 1})
    lr_dir = SET14 / "Set14" / "LR_bicubic" / "X4"
    luma = tmp_path / "luma"
    assert main(["upscale", "--checkpoint", str(ckpt), "--scale", "4", "--device", "cpu", "--luma-only",
                 str(lr_dir), str(luma)]) == 0, capsys.readouterr().err
    y = read_image(luma / "baboon.png", mode="any")
    assert y.ndim == 2
    # the default: a colour image (found on a GPU check: `sisr evaluate` of the gray Y output against the RGB HR
    # failed); its Y is the model's Y up to the uint8 rounding of the RGB round trip
    colour = tmp_path / "colour"
    assert main(["upscale", "--checkpoint", str(ckpt), "--scale", "4", "--device", "cpu",
                 str(lr_dir), str(colour)]) == 0, capsys.readouterr().err
    rgb = read_image(colour / "baboon.png", mode="any")
    assert rgb.shape == (*y.shape, 3)
    unclipped = ((rgb > 0) & (rgb < 255)).all(axis=2)  # a pixel out of the RGB gamut is clipped, its Y changes
    assert unclipped.any()  # (random weights: most of this model's output is out of gamut)
    assert np.abs(np.rint(rgb_to_y(rgb)) - y.astype(float))[unclipped].max() <= 1
    assert main(["evaluate", "--scale", "4", "--metrics", "psnr_y,ssim_y", str(colour),
                 str(SET14 / "Set14" / "HR")]) == 0, capsys.readouterr().err


@needs_shared
def test_colour_output_of_the_bicubic_luma_is_the_bicubic_image():
    """colour_output puts the LR's chroma back: given the bicubic upscale's own Y it gives the bicubic RGB image
    (MATLAB-exact, every channel): 99% of the values within one level (rounding), a few near clipped edges more."""
    lr = read_image(SET14 / "Set5" / "LR_bicubic" / "X4" / "birdx4.png")
    bicubic = upscale(lr, 4)
    y = np.clip(np.rint(rgb_to_y(bicubic)), 0, 255).astype(np.uint8)
    out = colour_output(lr, y, 4)
    assert out.shape == bicubic.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(int) - bicubic.astype(int))  # bicubic RGB clips each channel's overshoot, not chroma
    assert diff.max() <= 8 and np.mean(diff <= 1) > 0.99 and np.mean(diff == 0) > 0.6


def test_sr_for_hr_does_not_depend_on_the_memory_layout():
    """Found when the evaluation job scored the model's output in memory (a transposed view) and the CLI the
    same image read back from its PNG: one luma pixel of Set14 bridge differed by one level."""
    from sisr.evaluation import sr_for_hr

    rng = np.random.default_rng(5)
    sr = rng.integers(0, 256, size=(3, 512, 512), dtype=np.uint8).transpose(1, 2, 0)  # as inference returns it
    hr = np.zeros((512, 512), dtype=np.uint8)
    np.testing.assert_array_equal(sr_for_hr(sr, hr), sr_for_hr(np.ascontiguousarray(sr), hr))


@needs_shared
def test_scoring_a_y_model_through_its_colour_output_moves_psnr_by_thousandths():
    """The CLI's colour output scored again on Y (RGB round trip) against scoring the model's Y itself, with the
    bicubic upscale of the LR's Y as the "model", Set5 and Set14 x4 (RGB images): means within 0.005 dB, every
    image within 0.05 dB."""
    from sisr.metrics.basic import psnr

    for name in ("Set5", "Set14"):
        direct, colour = [], []
        for hr_path in sorted((SET14 / name / "HR").glob("*.png")):
            hr = read_image(hr_path, mode="any")
            if hr.ndim == 2:
                continue
            lr = read_image(SET14 / name / "LR_bicubic" / "X4" / f"{hr_path.stem}x4.png")
            y_sr = upscale(np.clip(np.rint(rgb_to_y(lr)), 0, 255).astype(np.uint8), 4)
            hr_y = rgb_to_y(hr[: y_sr.shape[0], : y_sr.shape[1]])
            direct.append(psnr(y_sr.astype(np.float64), hr_y, crop=4))
            colour.append(psnr(rgb_to_y(colour_output(lr, y_sr, 4)), hr_y, crop=4))
        gap = np.abs(np.array(direct) - np.array(colour))
        assert abs(np.mean(direct) - np.mean(colour)) < 0.005 and gap.max() < 0.05, (name, gap)
