"""What a user reads: the workflow's closing message, 'did you mean' for unknown names, `sisr evaluate`'s
messages for swapped folders, a wrong scale and empty folders, `sisr --help`, `sisr lookalike`'s hint."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from helpers.workflow import run_snakemake, write_config
from sisr.workflow import finish
from sisr.cli import main
from sisr.base.errors import ConfigError
from sisr.base.io import write_image

ROOT = Path(__file__).resolve().parents[1]


def snakemake(tmp_path: Path, cfg: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    config = write_config(tmp_path / "config.yaml", cfg)
    return run_snakemake(*args, directory=tmp_path, configfiles=[config], timeout=timeout)


CI = {"tier": "ci", "studies": ["espcn"], "studies_dir": str(ROOT / "studies"), "figures": ["png"],
      "leaderboard": False}


# ------------------------------------------------------------------------------------------ the closing message


def test_one_checkpoint_target_is_not_announced_as_a_finished_study(tmp_path):
    target = "results/ci/espcn/srcnn/checkpoint_best.pt"
    res = snakemake(tmp_path, CI, target, "--cores", "2")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    closing = out[out.index("sisr-bench:"):]
    assert "is done" not in closing
    assert "summary.csv" not in closing and "REPORT.md" not in closing and "figures" not in closing
    assert "snakemake --report" not in closing
    assert f"  {target}" in closing.splitlines()
    assert not (tmp_path / "results/ci/espcn/summary.csv").exists()


STUDY = ["r/s/summary.csv", "r/s/REPORT.md", "r/s/tables/t.csv", "r/s/tables/t.md", "r/s/figures/f.png"]


def test_finish_lines_call_a_study_done_only_when_all_its_outputs_were_jobs_of_the_run():
    lines = finish.finish_lines({"s": STUDY}, "demo", "r", produced=STUDY + ["r/s/a/checkpoint_best.pt"],
                                requested=[])
    text = "\n".join(lines)
    assert "study 's', tier 'demo' is done." in text
    assert "  summary : r/s/summary.csv" in lines and "  figures : r/s/figures/" in lines
    assert "snakemake --report" in text
    # one table asked for: that table and its summary, no claim of a finished study, no report or figures
    lines = finish.finish_lines({"s": STUDY}, "demo", "r", produced=["r/s/summary.csv", "r/s/tables/t.md"],
                                requested=["r/s/tables/t.md"])
    text = "\n".join(lines)
    assert "is done" not in text and "2 of its 5 outputs" in text
    assert "REPORT.md" not in text and "figures" not in text and "snakemake --report" not in text
    assert "  summary : r/s/summary.csv" in lines and "  tables  : r/s/tables/ (1 file)" in lines
    # nothing of the study made (a data target): only the target
    lines = finish.finish_lines({"s": STUDY}, "demo", "r", produced=["d/cache/m.json"], requested=["d/cache/m.json"])
    assert "s'" not in "\n".join(lines) and "  d/cache/m.json" in lines


# ------------------------------------------------------------------------------------------- did you mean


@pytest.mark.parametrize(("argv", "message"), [
    (["evaluate", "--scale", "4", "--metrics", "psnr_y,ssimy", "sr", "hr"],
     "unknown metric 'ssimy' (did you mean 'ssim_y'?); valid metrics: fid, "),
    (["upscale", "--model", "bicubc", "--scale", "4", "lr", "sr"],
     "unknown name 'bicubc' (did you mean 'bicubic'?); valid names: bicubic, bilinear, nearest"),
])
def test_cli_suggests_the_closest_name(tmp_path, capsys, argv, message):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's refusal of an option value
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_unknown_study_model_and_dataset_suggest_the_closest(tmp_path):
    from sisr.config.catalog import check_datasets
    from sisr.data.datasets import get_dataset
    from sisr.models import get_spec
    from sisr.config.studies import load_study

    with pytest.raises(ConfigError, match=r"unknown study 'espcm' \(did you mean 'espcn'\?\); valid studies: espcn, "):
        load_study(ROOT / "studies" / "espcm.yaml", "demo")
    with pytest.raises(ConfigError, match=r"unknown model 'rrbd' \(did you mean 'rrdb'\?\)"):
        get_spec("rrbd")
    with pytest.raises(ConfigError, match=r"unknown dataset 'div2l' \(did you mean 'div2k'\?\)"):
        get_dataset("div2l", root=tmp_path, split="train", scale=4)
    study = load_study(ROOT / "studies" / "espcn.yaml", "demo")
    study.spec["tiers"]["demo"]["data"]["eval"] = ["skimag/valid"]
    with pytest.raises(ConfigError, match=r"data.eval\[0\]: unknown dataset 'skimag' \(did you mean 'skimage'\?\)"):
        check_datasets(study, ROOT / "studies")


def test_unknown_study_on_the_command_line_suggests_the_closest(tmp_path):
    res = snakemake(tmp_path, {**CI, "studies": ["espcm"]}, "-n")
    assert res.returncode != 0
    assert "unknown study 'espcm' (did you mean 'espcn'?)" in res.stdout + res.stderr


# ------------------------------------------------------------------------------------- sisr evaluate's folders


def _images(folder: Path, shape: tuple, names=("a", "b")) -> Path:
    rng = np.random.default_rng(0)
    for name in names:
        write_image(folder / f"{name}.png", rng.integers(0, 256, shape, dtype=np.uint8))
    return folder


def _evaluate(capsys, sr: Path, hr: Path, scale: int = 4) -> str:
    assert main(["evaluate", "--scale", str(scale), "--metrics", "psnr_y", str(sr), str(hr)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


def test_swapped_folders_say_what_differs_and_suggest_the_order(tmp_path, capsys):
    # a colour SR of a gray HR (as a model writes for Set14's bridge), folders given the wrong way round
    sr = _images(tmp_path / "sr", (32, 32, 3))
    hr = _images(tmp_path / "hr", (32, 32))
    err = _evaluate(capsys, hr, sr)
    assert "(32x32 gray) does not fit HR" in err and "(32x32 RGB): channels differ" in err
    assert "sizes differ" not in err and "swapped they would fit" in err
    # colour images: an HR not a multiple of 4 is larger than its SR; swapped, the sizes differ
    sr = _images(tmp_path / "sr2", (32, 32, 3))
    hr = _images(tmp_path / "hr2", (34, 35, 3))
    err = _evaluate(capsys, hr, sr)
    assert "(35x34 RGB) does not fit HR" in err and "sizes differ" in err and "channels differ" not in err
    assert "swapped they would fit" in err


def test_wrong_scale_is_an_error_naming_a_file_and_the_sizes(tmp_path, capsys):
    hr = _images(tmp_path / "hr", (66, 66, 3))
    # SR made at x4 (HR cropped to 64x64), evaluated with --scale 2
    sr = _images(tmp_path / "sr", (64, 64, 3))
    err = _evaluate(capsys, sr, hr, scale=2)
    assert "sr/a.png (64x64 RGB) does not fit HR" in err and "hr/a.png (66x66 RGB)" in err
    assert "cropped as at x4: was it made at x4?" in err
    # SR files named x4, evaluated with --scale 2
    sr = _images(tmp_path / "sr4", (64, 64, 3), names=("ax4", "bx4"))
    err = _evaluate(capsys, sr, hr, scale=2)
    assert "the SR files are named x4 (ax4.png) but the scale is 2" in err
    # the LR folder given as SR
    lr = _images(tmp_path / "lr", (16, 16, 3))
    assert "is it the LR image?" in _evaluate(capsys, lr, hr, scale=4)


def test_upscale_of_lr_files_named_for_another_scale_is_an_error(tmp_path, capsys):
    lr = _images(tmp_path / "lr", (16, 16, 3), names=("ax4", "bx4"))
    assert main(["upscale", "--model", "bicubic", "--scale", "2", str(lr), str(tmp_path / "sr")]) == 2
    assert "lr/ax4.png: the LR files are named x4 but --scale is 2: give --scale 4" in capsys.readouterr().err
    assert not (tmp_path / "sr").exists()
    assert main(["upscale", "--model", "bicubic", "--scale", "4", str(lr), str(tmp_path / "sr")]) == 0


def test_scale_of_equal_sizes_is_checked_against_the_one_sisr_upscale_wrote(tmp_path, capsys):
    # HR 64x64 (a multiple of 2 and 4): a x4 SR has its size, so only the PNG's note of the scale can tell
    hr = _images(tmp_path / "hr", (64, 64, 3))
    assert main(["downscale", "--scale", "4", str(hr), str(tmp_path / "lr")]) == 0
    assert main(["upscale", "--model", "bicubic", "--scale", "4", str(tmp_path / "lr"), str(tmp_path / "sr")]) == 0
    capsys.readouterr()
    err = _evaluate(capsys, tmp_path / "sr", hr, scale=2)
    assert "sr/a.png: made at x4 (its PNG says so), but the scale is 2; SR 64x64 RGB, HR" in err
    assert "hr/a.png 64x64 RGB: give --scale 4" in err
    assert main(["evaluate", "--scale", "4", "--metrics", "psnr_y", str(tmp_path / "sr"), str(hr)]) == 0


def test_empty_folder_is_a_plain_message(tmp_path, capsys):
    hr = _images(tmp_path / "hr", (32, 32, 3))
    (tmp_path / "sr").mkdir()
    err = _evaluate(capsys, tmp_path / "sr", hr)
    assert f"no images in the SR folder {tmp_path / 'sr'} (looked for .png" in err and "pair_folders" not in err


# ------------------------------------------------------------------------------------------------- sisr --help


def _help(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    return capsys.readouterr().out


def test_help_is_plain_text_with_a_description_for_every_command(capsys):
    from sisr.cli import build_parser

    top = _help([], capsys)
    commands = list(build_parser()._subparsers._group_actions[0].choices)
    assert {"models", "plan", "evaluate", "lookalike"} <= set(commands)
    for text in [top] + [_help([c], capsys) for c in commands]:
        for markup in ("``", ":func:", ":class:", ":mod:", ":meth:"):
            assert markup not in text, (markup, text[:300])
    for command in commands:
        lines = _help([command], capsys).split("\n\n")
        assert len(lines) > 2 and lines[1].strip().endswith("."), (command, lines[:2])  # usage, description


# --------------------------------------------------------------------------------------------- sisr lookalike


def test_lookalike_without_weights_prints_a_command_that_needs_none(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["lookalike", "--size", "small", str(tmp_path / "mirror")]) == 0
    out = capsys.readouterr().out
    commands = [line.strip() for line in out.splitlines() if line.strip().startswith("snakemake")]
    assert len(commands) == 1 and "studies=all" not in commands[0], out
    assert "rerun with --weights" in out
    # the printed command plans no job that needs a pretrained backbone
    args = commands[0].split()[1:] + [f"studies_dir={ROOT / 'studies'}"]
    res = run_snakemake("-n", *[a for a in args if a not in ("--cores", "all")], directory=tmp_path, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "fetch_weights" not in res.stdout and "hub/checkpoints" not in res.stdout
    # with --weights: every study
    assert main(["lookalike", "--size", "small", "--weights", str(tmp_path / "mirror2")]) == 0
    assert "--config tier=paper studies=all" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------ run names


@pytest.mark.parametrize("tier", ["demo", "ci", "quick", "paper"])
def test_rrdb_gan_run_names_say_the_blocks_their_nets_have(tier):
    from sisr.config.studies import load_study

    study = load_study(ROOT / "studies" / "rrdb_gan.yaml", tier)
    named = {run: cfg for run, cfg in study.runs.items() if run.startswith("cnn_b") and "replica_of" not in cfg}
    assert named, study.runs.keys()
    for run, cfg in named.items():
        assert cfg["model_args"]["blocks"] == int(run.removeprefix("cnn_b")), (tier, run, cfg["model_args"])
