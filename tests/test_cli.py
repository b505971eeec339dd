"""The `sisr` command: downscale, upscale, evaluate, models; clear errors (exit 2) naming the file.

The perceptual-metrics test at the end is PLUMBING with RANDOM WEIGHTS (AlexNet, VGG16 and the FID Inception
are randomly initialised and saved to a temporary cache): it shows that the command finds cached weights and
computes every metric offline; its LPIPS/FID values mean nothing.
"""

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from sisr.data import weights
from sisr.cli import main
from sisr.data.lookalike import random_fid_inception
from sisr.base.io import read_image, write_image
from sisr.models import DISCRIMINATORS, SPECS

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "benchmark"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/datasets is not present")


def _tree(tmp_path, n=2, size=(40, 36)):
    rng = np.random.default_rng(0)
    hr = tmp_path / "hr"
    for i in range(n):
        write_image(hr / f"img{i}.png", rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return hr


def test_downscale_upscale_evaluate_round_trip(tmp_path, capsys):
    hr = _tree(tmp_path)
    assert main(["downscale", "--scale", "4", "--suffix", str(hr), str(tmp_path / "lr")]) == 0
    assert sorted(p.name for p in (tmp_path / "lr").iterdir()) == ["img0x4.png", "img1x4.png"]
    assert read_image(tmp_path / "lr" / "img0x4.png").shape == (10, 9, 3)
    assert main(["upscale", "--model", "bicubic", "--scale", "4", str(tmp_path / "lr"), str(tmp_path / "sr")]) == 0
    assert read_image(tmp_path / "sr" / "img0.png").shape == (40, 36, 3)
    csv = tmp_path / "m.csv"
    assert main(["evaluate", "--scale", "4", str(tmp_path / "sr"), str(hr), "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "psnr_y" in out and "mean over 2 images" in out and csv.is_file()


def test_models_lists_every_registered_model(capsys):
    from sisr.models import MODELS

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in MODELS:
        assert name in out
    assert "43,089,923" in out  # edsr_like at x4


@pytest.mark.parametrize("case", ["corrupt", "mismatch", "unknown_metric", "missing_pair"])
def test_errors_exit_2_and_name_the_problem(tmp_path, capsys, case):
    hr = _tree(tmp_path)
    sr = tmp_path / "sr"
    sr.mkdir()
    for p in hr.iterdir():
        write_image(sr / p.name, read_image(p))
    metrics = "psnr_y"
    if case == "corrupt":
        (sr / "img0.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
        expect = "img0.png"
    elif case == "mismatch":
        write_image(sr / "img1.png", np.zeros((20, 20, 3), np.uint8))
        expect = "img1.png (20x20 RGB) does not fit HR"
    elif case == "unknown_metric":
        metrics = "psnr_y,psnr_z"
        expect = "psnr_z"
    else:
        (sr / "img1.png").unlink()
        expect = "img1.png"
    assert main(["evaluate", "--scale", "2", "--metrics", metrics, str(sr), str(hr)]) == 2
    err = capsys.readouterr().err
    assert expect in err and "Traceback" not in err


@needs_shared
def test_perceptual_metrics_fail_clearly_without_weights(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SISR_WEIGHTS", raising=False)
    sr = tmp_path / "sr"
    assert main(["upscale", "--model", "bicubic", "--scale", "4", str(SHARED / "Set5/LR_bicubic/X4"), str(sr)]) == 0
    code = main(["evaluate", "--scale", "4", "--metrics", "psnr_y,lpips_alex,fid", "--weights-dir",
                 str(tmp_path / "empty"), str(sr), str(SHARED / "Set5/HR")])
    err = capsys.readouterr().err
    assert code == 2
    assert "alexnet-owt-7be5be79.pth" in err and "pt_inception-2015-12-05-6726825d.pth" in err
    assert "sisr fetch-weights" in err


@needs_shared
def test_every_metric_on_set5_with_cached_random_weights(tmp_path, capsys, monkeypatch):
    """PLUMBING, RANDOM WEIGHTS: the values of lpips_* and fid are meaningless here."""
    torch.manual_seed(0)
    cache = tmp_path / "weights"
    nets = {"alexnet": torchvision.models.alexnet(), "vgg16": torchvision.models.vgg16(),
            "fid_inception": random_fid_inception()}
    for name, net in nets.items():
        path = weights.checkpoint_path(name, cache=cache)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.half() if name == "vgg16" else v for k, v in net.state_dict().items()}  # halves 553 MB
        torch.save(state, path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        monkeypatch.setitem(weights.WEIGHTS, name, replace(weights.WEIGHTS[name], sha256_prefix=digest[:8],
                                                            sha256=digest))
    del nets
    monkeypatch.setattr(torch.hub, "download_url_to_file",
                        lambda url, *a, **k: pytest.fail(f"tried to download {url}"))
    sr = tmp_path / "sr"
    assert main(["upscale", "--model", "bicubic", "--scale", "4", str(SHARED / "Set5/LR_bicubic/X4"), str(sr)]) == 0
    csv = tmp_path / "all.csv"
    with pytest.warns(UserWarning, match="biased"):
        code = main(["evaluate", "--scale", "4", "--metrics", "psnr_y,ssim_y,ms_ssim,lpips_alex,lpips_vgg,fid",
                     "--weights-dir", str(cache), "--csv", str(csv), str(sr), str(SHARED / "Set5/HR")])
    assert code == 0, capsys.readouterr().err
    import pandas as pd

    df = pd.read_csv(csv)
    assert len(df) == 5 and abs(df["psnr_y"].mean() - 28.42) < 0.02
    for col in ("ms_ssim", "lpips_alex", "lpips_vgg", "fid"):
        assert df[col].notna().all(), col
    assert 0 < df["ms_ssim"].mean() <= 1


def _checkpoint(path, model: str, scale: int, in_channels: int):
    from sisr.models import create_model
    from sisr.training.checkpoint import save_checkpoint
    from sisr.training.config import TrainConfig

    cfg = TrainConfig.from_dict({"model": model, "scale": scale, "in_channels": in_channels, "batch_size": 1,
                                 "patch_size": 8, "epochs": 1, "optimizer": {"name": "adam", "lr": 1e-4},
                                 "loss": [{"name": "l1", "weight": 1.0}]}, where="test")
    net = create_model(model, scale=scale, in_channels=in_channels)
    save_checkpoint(path, {"kind": "best", "model": net.state_dict(), "config": cfg.to_dict(), "epoch": 1})
    return path


@pytest.mark.parametrize("model", [m for m in SPECS if m not in DISCRIMINATORS])
def test_upscale_with_the_wrong_scale_names_both_scales(tmp_path, capsys, model):
    """Every model: the factor comes from the checkpoint's own config, not from an attribute of the network."""
    spec = SPECS[model]
    trained = 4 if spec.scales is None or 4 in spec.scales else spec.scales[-1]
    asked = 2 if trained != 2 else 4
    channels = 3 if 3 in spec.in_channels else 1
    ckpt = _checkpoint(tmp_path / f"{model}.pt", model, trained, channels)
    lr = tmp_path / "lr.png"
    shape = (8, 8, 3) if channels == 3 else (8, 8)
    write_image(lr, np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8))
    code = main(["upscale", "--checkpoint", str(ckpt), "--scale", str(asked), str(lr), str(tmp_path / "sr.png")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"x{trained}" in err and f"x{asked}" in err and str(ckpt) in err
    assert not (tmp_path / "sr.png").exists()
