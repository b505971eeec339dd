"""The `sisr` command's options as a user meets them: help everywhere, tiles, half precision, the evaluation
border, one weights cache with the workflow."""

import argparse

import numpy as np

from sisr.cli import build_parser, main
from sisr.base.io import read_image, write_image


def _images(folder, n=2, size=(40, 36), seed=0):
    rng = np.random.default_rng(seed)
    for i in range(n):
        write_image(folder / f"img{i}.png", rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return folder


def test_every_argument_has_help():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [f"{name} {action.dest}" for name, sub in subparsers.choices.items() for action in sub._actions
               if not isinstance(action, argparse._HelpAction) and not action.help]
    assert missing == []
    assert all(choice.help for choice in subparsers._choices_actions)  # every command in `sisr --help`


def test_impossible_tile_is_one_line_exit_2(tmp_path, capsys):
    lr = _images(tmp_path / "lr", size=(20, 18))
    assert main(["upscale", "--model", "bicubic", "--scale", "2", "--tile", "32", str(lr), str(tmp_path / "sr")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "--tile 32" in err and "--tile-overlap (16)" in err and "--tile 33" in err


def test_tile_overlap_option_gives_the_whole_image_result(tmp_path):
    lr = _images(tmp_path / "lr", size=(30, 26))
    assert main(["upscale", "--model", "bicubic", "--scale", "2", str(lr), str(tmp_path / "whole")]) == 0
    assert main(["upscale", "--model", "bicubic", "--scale", "2", "--tile", "12", "--tile-overlap", "4", str(lr),
                 str(tmp_path / "tiled")]) == 0  # 12 > 2 x 4: allowed; bicubic reaches 2 LR pixels
    for name in ("img0.png", "img1.png"):
        assert np.array_equal(read_image(tmp_path / "whole" / name), read_image(tmp_path / "tiled" / name))


def test_half_is_ignored_on_cpu_with_a_note(tmp_path, capsys):
    lr = _images(tmp_path / "lr", size=(12, 12))
    assert main(["upscale", "--model", "bicubic", "--scale", "2", "--device", "cpu", "--half", str(lr),
                 str(tmp_path / "sr")]) == 0
    assert "--half ignored on cpu" in capsys.readouterr().err
    assert read_image(tmp_path / "sr" / "img0.png").shape == (24, 24, 3)


def test_half_precision_wrapper_runs_the_model_in_float16():
    import torch

    from sisr.training.inference import HalfPrecision

    seen = []
    net = torch.nn.Conv2d(3, 3, 1)
    net.register_forward_hook(lambda m, i, o: seen.append((i[0].dtype, m.weight.dtype)))
    out = HalfPrecision(net)(torch.rand(1, 3, 4, 4))
    assert seen == [(torch.float16, torch.float16)] and out.dtype == torch.float32


def test_crop_border_changes_the_border_of_the_standard_metrics(tmp_path, capsys):
    hr = _images(tmp_path / "hr")
    sr = _images(tmp_path / "sr", seed=1)
    values = {}
    for border in (None, "4", "0"):
        csv = tmp_path / f"m{border}.csv"
        args = ["evaluate", "--scale", "4", "--metrics", "psnr_y,mse_noshave", "--csv", str(csv), str(sr), str(hr)]
        assert main(args + (["--crop-border", border] if border else [])) == 0
        values[border] = np.loadtxt(csv, delimiter=",", skiprows=1, usecols=(3, 4))
    assert "border 0 pixels" in capsys.readouterr().out
    assert np.array_equal(values[None], values["4"])  # the default border is the scale
    assert not np.allclose(values["0"][:, 0], values["4"][:, 0])  # psnr_y follows --crop-border ...
    assert np.array_equal(values["0"][:, 1], values["4"][:, 1])  # ... a their-protocol column keeps its own
    assert main(["evaluate", "--scale", "4", "--shave", "-1", str(sr), str(hr)]) == 2


def test_cli_and_workflow_share_the_weights_cache(tmp_path, capsys, monkeypatch):
    """Without --weights-dir the CLI looks in ./weights, the workflow's default weights_dir (not torch's cache)."""
    monkeypatch.delenv("SISR_WEIGHTS", raising=False)
    monkeypatch.delenv("TORCH_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    hr = _images(tmp_path / "hr")
    assert main(["evaluate", "--scale", "4", "--metrics", "psnr_y,lpips_alex", str(hr), str(hr)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}/weights/hub/checkpoints/alexnet-owt-7be5be79.pth is missing" in err
    assert f"--dest {tmp_path}/weights" in err


def test_evaluate_device_option(tmp_path, capsys, monkeypatch):
    """--device cpu / cuda / auto give the same table here (no CUDA: cuda falls back to the CPU with a warning);
    --device cpu keeps the LPIPS/FID networks on the CPU too (the process default)."""
    import warnings

    from sisr.base import device as sisr_device

    monkeypatch.setattr(sisr_device, "_DEFAULT", None)
    hr = _images(tmp_path / "hr", size=(40, 36))
    sr = _images(tmp_path / "sr", size=(40, 36), seed=1)
    tables = {}
    for dev in ("cpu", "cuda", "auto"):
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            assert main(["evaluate", "--scale", "2", "--device", dev, str(sr), str(hr)]) == 0
        tables[dev] = capsys.readouterr().out
    assert tables["cpu"] == tables["cuda"] == tables["auto"] and "psnr_y" in tables["cpu"]
    main(["evaluate", "--scale", "2", "--device", "cpu", str(sr), str(hr)])
    assert sisr_device._DEFAULT == "cpu"
