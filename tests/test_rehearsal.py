"""Dress rehearsal (issue 10): a real tier's exact DAG on look-alike archives served from 127.0.0.1, with the
schedules capped. The dry runs compare job counts with the real tiers; the end-to-end test runs the quick tier of
all five studies from download to REPORT.md and the leaderboard."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pandas as pd
import pytest

from helpers.workflow import job_counts, run_snakemake
from sisr.data.lookalike import build_lookalike, rehearsal_config, write_random_weights

ROOT = Path(__file__).resolve().parents[1]


def snakemake(cwd, *args, configfiles=(), timeout=3600):
    return run_snakemake(*args, directory=cwd, configfiles=[ROOT / "config.yaml", *configfiles], cwd=cwd,
                         timeout=timeout)


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def lookalike(tmp_path_factory):
    """Small look-alike archives and random-init weights, served over HTTP from 127.0.0.1."""
    folder = tmp_path_factory.mktemp("mirror")
    build_lookalike(folder, size="small", log=lambda *a: None)
    weights = write_random_weights(folder, log=lambda *a: None)

    def handler(*args, **kwargs):
        return _Files(*args, directory=str(folder), **kwargs)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/"
    rehearsal_config(folder, size="small", mirror=url, weights=weights)
    yield folder / "rehearsal.yaml"
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("tier", ["quick", "paper"])
def test_rehearsal_dry_run_has_the_real_tiers_jobs(tmp_path, tier):
    base = ["-n", "--cores", "1", "--config", f"tier={tier}", "studies=all", f"studies_dir={ROOT / 'studies'}"]
    real = snakemake(tmp_path, *base)
    assert real.returncode == 0, real.stdout[-3000:] + real.stderr[-3000:]
    folder = tmp_path / "mirror"
    build_lookalike(folder, size="small", archives=["benchmark.tar"], log=lambda *a: None)
    cfg = rehearsal_config(folder, size="small", mirror="http://127.0.0.1:9/")
    rehearsal = snakemake(tmp_path, *base, configfiles=[folder / "rehearsal.yaml"])
    assert rehearsal.returncode == 0, rehearsal.stdout[-3000:] + rehearsal.stderr[-3000:]
    counts = job_counts(real.stdout)
    assert counts == job_counts(rehearsal.stdout)
    for rule in ("download", "extract", "build_derived", "build_cache", "train", "evaluate_espcn", "leaderboard"):
        assert counts.get(rule, 0) > 0, rule
    assert cfg["rehearsal"]["batches_per_epoch"] == 1


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_quick_tier_rehearsal_of_every_study_end_to_end(tmp_path, lookalike):
    """From the download (HTTP, 127.0.0.1) to every study's REPORT.md and the leaderboard, on look-alike data."""
    # three jobs at a time on the 2-core machine: the other pytest worker's tests spend much of their time waiting
    # (SLURM's status checks, signals, servers), and the rehearsal's own jobs are single-threaded (OMP_NUM_THREADS=1)
    base = ["--cores", "3", "--config", "tier=quick", "studies=all", f"studies_dir={ROOT / 'studies'}",
            "figures=[png]"]
    real = snakemake(tmp_path, "-n", *base)
    assert real.returncode == 0, real.stdout[-3000:] + real.stderr[-3000:]
    res = snakemake(tmp_path, *base, configfiles=[lookalike])
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-6000:]
    counts = job_counts(log)
    assert counts == job_counts(real.stdout)
    total = sum(v for k, v in counts.items())
    assert f"{total} of {total} steps (100%) done" in log
    results = tmp_path / "results-rehearsal" / "quick"  # rehearsal.yaml gives the rehearsal folders of its own
    for study in ("espcn", "srresnet_edsr", "residual_sweep", "rrdb_gan", "inverted_unet"):
        report = (results / study / "REPORT.md").read_text()
        assert "**0 reproduced, 0 not reproduced** (verdicts: like-for-like only); **0 indicative**" in report, study
        assert "| reproduced |" not in report and "| holds |" not in report, study
        for table in (results / study / "tables").glob("*.csv"):  # no difference to a claim on look-alike data
            long = pd.read_csv(table) if table.stat().st_size > 5 else pd.DataFrame()
            assert long.empty or (not long["comparable"].any() and long["diff"].isna().all()), table
        summary = pd.read_csv(results / study / "summary.csv")
        assert (summary["tier"] == "quick").all() and summary["psnr_y"].notna().all(), study
    # the rehearsal's eval_images cap: each set's first image (Set14's is the gray bridge), two where FID is computed
    for study, run, rows in (("espcn", "espcn", ["bridge"]), ("srresnet_edsr", "edsr_l1", ["bridge", "coastguard"])):
        [csv] = (results / study / run / "eval").glob("Set14_x*.csv")
        assert list(pd.read_csv(csv)["image"]) == rows, csv
    board = pd.read_csv(results / "leaderboard" / "leaderboard.csv")
    assert {"Set5", "Set14", "B100", "Urban100", "div2k-valid"} <= set(board["dataset"])
    set14 = board[(board["dataset"] == "Set14") & board["method"].str.contains("/")]
    assert len(set14) > 0 and set14["psnr_y"].notna().all()  # RGB models on a set with a grayscale member
    gan = pd.read_csv(results / "rrdb_gan" / "gan_dual" / "history.csv")
    assert list(gan["phase"]) == ["d_warmup", "g", "d", "g", "d"]  # the quick tier's phases, one epoch each
