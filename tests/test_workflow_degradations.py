"""Degradations through the workflow: evaluation under bd and dn (own paths, own LR, a leaderboard section each),
and a degradation added as one file plus one config line, planned by a dry run."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from helpers.studies import edited_study
from helpers.degradations import NEW_DEGRADATION
from sisr.base.io import read_image, write_image

ROOT = Path(__file__).resolve().parents[1]



def _snakemake(tmp_path, cfg, *args):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "snakemake", *args, "--snakefile", str(ROOT / "Snakefile"), "--cores", "1",
           "--directory", str(tmp_path), "--configfile", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _setup(tmp_path, eval_sets=("benchmark/Set5",)):
    """A study of the bicubic baseline alone (x2, PSNR/SSIM-Y) on a 2-image benchmark-layout Set5 (a local
    dataset), and the config that selects it."""
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        smooth = np.cumsum(np.cumsum(rng.normal(0, 4, (32, 36, 3)), 0), 1)  # an image with detail at every scale
        write_image(tmp_path / "bench" / "Set5" / "HR" / f"{name}.png",
                    np.clip(smooth - smooth.min(), 0, 255).astype(np.uint8))
    study = {"name": "degcheck", "title": "the bicubic baseline", "scale": 2, "metrics": ["psnr_y", "ssim_y"],
             "baselines": ["bicubic"],
             "tiers": {"ci": {"description": "bicubic only",
                              "data": {"train": "benchmark/Set5", "valid": "benchmark/Set5", "eval": list(eval_sets)}}}}
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "degcheck.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    return {"tier": "ci", "studies": ["degcheck"], "studies_dir": str(tmp_path / "studies"), "device": "cpu",
            "datasets": {"benchmark": {"adapter": "benchmark", "root": str(tmp_path / "bench")}},
            "leaderboard_sets": ["benchmark/Set5"], "leaderboard_degradations": ["bicubic", "bd", "dn"]}


def test_evaluation_under_bd_and_dn_through_the_workflow(tmp_path):
    cfg = _setup(tmp_path)
    board = "results/ci/leaderboard/leaderboard.md"
    res = _snakemake(tmp_path, cfg, board)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    run = tmp_path / "results/ci/degcheck/bicubic"
    csvs = {d: run / "eval" / k / "Set5_x2.csv" for d, k in (("bicubic", ""), ("bd", "bd"), ("dn", "dn"))}
    evals = {d: pd.read_csv(p) for d, p in csvs.items()}  # bicubic's path as before: eval/Set5_x2.csv
    assert {d: list(e["degradation"].unique()) for d, e in evals.items()} == {d: [d] for d in evals}
    psnr = {d: e["psnr_y"].mean() for d, e in evals.items()}
    assert psnr["bd"] < psnr["bicubic"] and psnr["dn"] < psnr["bicubic"], psnr  # blur and noise cost PSNR
    sr = {d: read_image(run / "sr" / k / "Set5_x2" / "a.png") for d, k in (("bicubic", ""), ("bd", "bd"))}
    assert np.abs(sr["bd"].astype(int) - sr["bicubic"]).max() > 0  # the same model on a different LR
    summary = pd.read_csv(tmp_path / "results/ci/degcheck/summary.csv")
    assert sorted(zip(summary["dataset"], summary["degradation"])) == [("Set5", "bd"), ("Set5", "bicubic"),
                                                                       ("Set5", "dn")]
    text = (tmp_path / board).read_text()
    for degradation in ("bicubic", "bd", "dn"):
        assert f"## Set5 x2, {degradation} LR" in text, text


def test_a_degradation_added_as_one_file_and_one_config_line_runs_in_the_dry_run(tmp_path):
    cfg = _setup(tmp_path, eval_sets=("benchmark/Set5", "benchmark/Set5@box2"))
    (tmp_path / "box2.py").write_text(textwrap.dedent(NEW_DEGRADATION))  # the file
    res = _snakemake(tmp_path, {**cfg, "degradation_modules": ["box2.py"]}, "-n")  # the one registry line
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "results/ci/degcheck/bicubic/eval/box2/Set5_x2.csv" in res.stdout
    assert "results/ci/degcheck/bicubic/sr/box2/Set5_x2" in res.stdout


@pytest.mark.fault
def test_a_degradation_without_its_registry_line_fails_at_parse_time_in_one_line(tmp_path):
    cfg = _setup(tmp_path, eval_sets=("benchmark/Set5@box2",))
    res = _snakemake(tmp_path, cfg, "-n")
    assert res.returncode != 0
    line = next(x for x in (res.stdout + res.stderr).splitlines() if "unknown degradation" in x)
    assert "degcheck.yaml: tiers.ci.data.eval[0]: unknown degradation 'box2'" in line
    res = _snakemake(tmp_path, {**cfg, "leaderboard_degradations": ["bicubic", "bdd"]}, "-n")
    assert "leaderboard_degradations[1]: unknown degradation 'bdd'; did you mean 'bd'?" in res.stdout + res.stderr


def test_a_study_degradation_reaches_its_caches_and_evaluations_and_the_leaderboard_declares_what_it_reads(tmp_path):
    edited_study(tmp_path / "studies", lambda spec: spec.update(degradation="bd"))
    cfg = {"tier": "ci", "studies": ["espcn"], "studies_dir": str(tmp_path / "studies")}
    res = _snakemake(tmp_path, cfg, "-n")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    for path in ("data/cache/skimage/train/bd/x4_rgb/manifest.json", "data/cache/skimage/valid/bd/x4_rgb/manifest.json",
                 "results/ci/espcn/espcn/eval/bd/skimage-valid_x4.csv", "results/ci/espcn/bicubic/sr/bd/skimage-valid_x4"):
        assert path in res.stdout, path
    assert "data/cache/skimage/train/x4_rgb" not in res.stdout  # nothing trains on bicubic LR
    leaderboard = res.stdout.split("rule leaderboard:", 1)[1].split("\n\n", 1)[0]
    inputs = next(line for line in leaderboard.splitlines() if line.strip().startswith("input:"))
    assert "results/ci/espcn/espcn/checkpoint_best.pt" in inputs and "results/ci/espcn/espcn/train_done.json" in inputs
