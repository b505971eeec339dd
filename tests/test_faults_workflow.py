"""Fault injection through the workflow (Snakemake in a subprocess): divergence, kills, downloads.

Part of the fault-injection suite (marker ``fault``; see tests/test_faults.py and README "Reliability").
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.fault


def snakemake(tmp_path: Path, cfg: dict, *targets: str, timeout: float = 600) -> subprocess.CompletedProcess:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "snakemake", *targets, "--snakefile", str(ROOT / "Snakefile"), "--cores", "2",
           "--directory", str(tmp_path), "--configfile", str(path)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def ci_config(**train_overrides) -> dict:
    return {"tier": "ci", "studies": ["espcn"], "studies_dir": str(ROOT / "studies"), "figures": ["png"],
            "leaderboard": False, "train_overrides": train_overrides}


LR10 = {"optimizer": {"name": "adam", "lr": 10.0}}


def test_ci_tier_at_lr_10_stops_with_one_line_then_records_divergence_as_a_result(tmp_path):
    # default policy: the training job fails with one line naming study, run, epoch and loss
    res = snakemake(tmp_path, ci_config(**LR10), "results/ci/espcn/srcnn/train_done.json")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    lines = [line for line in out.splitlines() if "diverged in epoch" in line]
    assert len(lines) == 1 and lines[0].startswith("ERROR: espcn.runs.srcnn: diverged in epoch 1 of 2: training loss")
    log = (tmp_path / "logs/ci/train/espcn/srcnn.log").read_text()
    assert "Traceback" not in log and "Traceback" not in out
    # a rerun does not train into it again: it repeats the line at once
    t0 = time.monotonic()
    res = snakemake(tmp_path, ci_config(**LR10), "results/ci/espcn/srcnn/train_done.json")
    assert res.returncode != 0 and "from a previous attempt" in res.stdout + res.stderr
    assert "epoch 1/2" not in (tmp_path / "logs/ci/train/espcn/srcnn.log").read_text().split(lines[0][7:])[-1]
    assert time.monotonic() - t0 < 60
    # record policy: the workflow completes; the runs are marked diverged in the table, REPORT.md and summary
    res = snakemake(tmp_path, ci_config(**LR10, divergence={"policy": "record"}), "results/ci/espcn/tables/table1.md",
                    "results/ci/espcn/REPORT.md")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    summary = pd.read_csv(tmp_path / "results/ci/espcn/summary.csv")
    status = dict(zip(summary["run"], summary["status"].fillna("")))
    assert status["srcnn"] == "diverged" and status["bicubic"] == ""
    table = (tmp_path / "results/ci/espcn/tables/table1.md").read_text()
    assert "SRCNN (diverged)" in table and "divergence.policy record" in table
    report = (tmp_path / "results/ci/espcn/REPORT.md").read_text()
    assert "- `srcnn` (diverged): epoch 1: training loss" in report
