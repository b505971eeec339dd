"""What a user reads: the workflow's closing message, 'did you mean' for unknown names, `sisr evaluate`'s
messages for swapped folders, a wrong scale and empty folders, `sisr --help`, `sisr lookalike`'s hint."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from sisr import finish
from sisr.cli import main
from sisr.errors import ConfigError, SisrError
from sisr.io import write_image

ROOT = Path(__file__).resolve().parents[1]


def snakemake(tmp_path: Path, cfg: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "snakemake", *args, "--snakefile", str(ROOT / "Snakefile"), "--directory",
           str(tmp_path), "--configfile", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


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
