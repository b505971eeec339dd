"""The workflow itself: lint, a dry run of the default config, and the `ci` tier end to end in a temp dir."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def snakemake(*args, cwd=ROOT, timeout=900):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def test_lint():
    res = snakemake("--lint", "--cores", "1")
    assert res.returncode == 0, res.stdout + res.stderr


def test_dry_run_default_config_is_fast(tmp_path):
    t0 = time.perf_counter()
    res = snakemake("-n", "--cores", "1", "--directory", str(tmp_path), "--configfile", str(ROOT / "config.yaml"),
                    "--config", f"studies_dir={ROOT / 'studies'}")
    elapsed = time.perf_counter() - t0
    assert res.returncode == 0, res.stdout + res.stderr
    for rule in ("prepare_skimage", "build_cache", "train", "evaluate", "summarize", "table", "figure",
                 "claims_report"):
        assert rule in res.stdout, f"rule {rule} missing from the dry run"
    assert elapsed < 10, f"dry run took {elapsed:.1f} s"


def test_invalid_config_fails_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"tier": "demo", "studies": ["espcn"], "num_worker": 2,
                                   "studies_dir": str(ROOT / "studies")}))
    res = snakemake("-n", "--cores", "1", "--directory", str(tmp_path), "--configfile", str(bad))
    assert res.returncode != 0
    assert "num_worker" in res.stdout + res.stderr


@pytest.mark.slow
def test_ci_tier_end_to_end(tmp_path):
    cfg = tmp_path / "ci.yaml"
    cfg.write_text(yaml.safe_dump({"tier": "ci", "studies": ["espcn"], "studies_dir": str(ROOT / "studies"),
                                   "figures": ["png"]}))
    res = snakemake("--cores", "2", "--directory", str(tmp_path), "--configfile", str(cfg))
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    study = tmp_path / "results" / "espcn"
    summary = pd.read_csv(study / "summary.csv")
    assert set(summary["run"]) == {"bicubic", "espcn", "srcnn", "resnet_small"}
    for col in ("study", "run", "model", "dataset", "scale", "n_images", "psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb"):
        assert col in summary.columns
    assert (summary["n_images"] == 3).all() and summary["psnr_y"].between(10, 60).all()
    for ext in ("csv", "md", "tex"):
        assert (study / "tables" / f"table1.{ext}").stat().st_size > 100
    for fig in ("fig2_loss", "fig3_examples"):
        assert (study / "figures" / f"{fig}.png").stat().st_size > 5000
    hist = pd.read_csv(study / "espcn" / "history.csv")
    assert len(hist) == 2 and hist["train_loss"].notna().all()
    done = json.loads((study / "espcn" / "train_done.json").read_text())
    assert done
    assert "reproduced" in (study / "REPORT.md").read_text()
    assert "sisr-bench: study 'espcn'" in res.stdout + res.stderr
    board = pd.read_csv(tmp_path / "results" / "leaderboard" / "leaderboard.csv")
    assert {"params", "gflops_per_mp", "psnr_y"} <= set(board.columns)
    assert set(board["run"].dropna()) == {"bicubic", "espcn", "srcnn", "resnet_small"}
    # the self-contained HTML report with every table and figure and their captions
    rep = snakemake("--cores", "1", "--directory", str(tmp_path), "--configfile", str(cfg), "--report",
                    str(tmp_path / "report.html"))
    assert rep.returncode == 0, rep.stdout[-3000:] + rep.stderr[-3000:]
    html = (tmp_path / "report.html").read_text(errors="replace")
    assert "table1" in html and "fig3_examples" in html and "Standard protocol" in html
