"""The workflow itself: lint, a dry run of the default config, and the `ci` tier end to end in a temp dir."""

import json
import re
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers.workflow import run_snakemake

ROOT = Path(__file__).resolve().parents[1]


def snakemake(*args, cwd=ROOT, timeout=900):
    return run_snakemake(*args, cwd=cwd, timeout=timeout)


def test_lint():
    res = snakemake("--lint", "--cores", "1")
    assert res.returncode == 0, res.stdout + res.stderr


def test_dry_run_default_config_is_fast(tmp_path):
    t0 = time.perf_counter()
    res = snakemake("-n", "--cores", "1", "--directory", str(tmp_path), "--configfile", str(ROOT / "config.yaml"),
                    "--config", f"studies_dir={ROOT / 'studies'}")
    elapsed = time.perf_counter() - t0
    assert res.returncode == 0, res.stdout + res.stderr
    for rule in ("prepare_skimage", "build_cache", "train", "evaluate_espcn", "summarize", "table", "figure",
                 "claims_report"):
        assert rule in res.stdout, f"rule {rule} missing from the dry run"
    assert elapsed < 10, f"dry run took {elapsed:.1f} s"


def test_dry_run_paper_tier_trains_every_row_of_residual_sweep(tmp_path):
    """The paper tier plans one training per row of the report's two tables (31; names repeated = replicas)."""
    res = snakemake("-n", "--cores", "1", "--directory", str(tmp_path), "--configfile", str(ROOT / "config.yaml"),
                    "--config", "tier=paper", "studies=all", f"studies_dir={ROOT / 'studies'}", "leaderboard=False")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    trained = set(re.findall(r"results/paper/residual_sweep/([a-z0-9_]+)/checkpoint_best\.pt", res.stdout))
    claimed = set()
    for name in ("table_deep", "table_refiner"):
        claimed |= set(yaml.safe_load((ROOT / "studies" / "residual_sweep.yaml").read_text())["tables"][name]["claimed"])
    assert len(claimed) == 31 and claimed <= trained, sorted(claimed - trained)


def test_invalid_config_fails_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"tier": "demo", "studies": ["espcn"], "num_worker": 2,
                                   "studies_dir": str(ROOT / "studies")}))
    res = snakemake("-n", "--cores", "1", "--directory", str(tmp_path), "--configfile", str(bad))
    assert res.returncode != 0
    assert "num_worker" in res.stdout + res.stderr


def kept_mean(run_dir, column):
    evals = pd.read_csv(run_dir / "eval_epochs" / "skimage-valid_x4.csv")
    return float(evals.loc[evals["epoch"] == 1, column].mean())


STUDY_RUNS = {
    "espcn": {"bicubic", "espcn", "srcnn", "resnet_small"},
    "srresnet_edsr": {"bicubic", "srresnet", "edsr_l1", "edsr_mse"},
    "residual_sweep": {"bicubic", "refiner_b1_c8", "plain_b1_c8"},
    "rrdb_gan": {"nearest", "bilinear", "cnn_b1", "gan_l1_adv"},
    "inverted_unet": {"bicubic", "unet_mse", "espcn_mse"},
}


@pytest.mark.slow
def test_ci_tier_of_every_study_end_to_end(ci_tier):
    """All five studies (ci tier: tiny nets, seconds of training) through the whole DAG, then the HTML report."""
    tmp_path, cfg, res = ci_tier.dir, ci_tier.config, ci_tier.run  # one run, shared with test_report_browser.py
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    spec_dir = ROOT / "studies"
    for name, runs in STUDY_RUNS.items():
        study = tmp_path / "results" / "ci" / name
        summary = pd.read_csv(study / "summary.csv")
        assert set(summary["run"]) == runs, name
        for col in ("study", "run", "model", "dataset", "scale", "n_images", "psnr_y", "ssim_y"):
            assert col in summary.columns, (name, col)
        assert (summary["n_images"] == 3).all() and summary["psnr_y"].between(5, 60).all(), name
        spec = yaml.safe_load((spec_dir / f"{name}.yaml").read_text())
        for table in spec["tables"]:
            for ext in ("csv", "md", "tex"):
                assert (study / "tables" / f"{table}.{ext}").stat().st_size > 100, (name, table, ext)
        for fig in spec["figures"]:
            assert (study / "figures" / f"{fig}.png").stat().st_size > 5000, (name, fig)
        report = (study / "REPORT.md").read_text()
        assert "## Findings" in report and "## Claims" in report
        # no claim of any study was measured on the photographs: no verdict, and each claim says where it was
        assert "**0 reproduced, 0 not reproduced** (verdicts: like-for-like only); **0 indicative**" in report, name
        assert not re.search(r"\| (not )?reproduced", report), name
        for run in runs - {"bicubic", "nearest", "bilinear"}:
            epochs = 3 if run == "gan_l1_adv" else 2
            hist = pd.read_csv(study / run / "history.csv")
            assert len(hist) == epochs and hist["train_loss"].notna().all(), (name, run)
            assert json.loads((study / run / "train_done.json").read_text())["epochs_run"] == epochs
    # srresnet_edsr keeps the weights after epoch 1 (its report's epoch 0) and evaluates them for the per-epoch
    # columns history.csv lacks: here the 96x96-crop PSNR (FID per epoch needs Inception weights: quick/paper tiers)
    edsr = tmp_path / "results" / "ci" / "srresnet_edsr"
    for run in ("srresnet", "edsr_l1", "edsr_mse"):
        kept = pd.read_csv(edsr / run / "eval_epochs" / "skimage-valid_x4.csv")
        assert set(kept["epoch"]) == {1} and len(kept) == 3 and kept["psnr_y_crop96"].notna().all(), run
        assert [p.name for p in (edsr / run).glob("checkpoint_epoch*.pt")] == ["checkpoint_epoch1.pt"], run
    long = pd.read_csv(edsr / "tables" / "table_epochs.csv")
    cell = long[(long["run"] == "edsr_l1") & (long["metric"] == "val_psnr_y") & (long["epoch"] == 0)].iloc[0]
    assert abs(cell["ours_their_protocol"] - kept_mean(edsr / "edsr_l1", "psnr_y_crop96")) < 1e-9
    gan = pd.read_csv(tmp_path / "results" / "ci" / "rrdb_gan" / "gan_l1_adv" / "history.csv")
    assert list(gan["phase"]) == ["d_warmup", "g", "d"] and gan["d_loss"].notna().all()
    assert "generator initialised from" in (tmp_path / "logs" / "ci" / "train" / "rrdb_gan" / "gan_l1_adv.log").read_text()
    espcn = tmp_path / "results" / "ci" / "espcn"
    table = (espcn / "tables" / "table1.md").read_text()
    assert "30.28 (quoted)" in table and "vs 30.57" not in table  # claimed on DIV2K valid, not on the photographs
    assert "not comparable in this tier: claimed on DIV2K valid (0801-0900) x4" in (espcn / "REPORT.md").read_text()
    assert "sisr-bench: study 'espcn'" in res.stdout + res.stderr
    board = pd.read_csv(tmp_path / "results" / "ci" / "leaderboard" / "leaderboard.csv")
    assert {"params", "gflops_per_mp", "psnr_y", "train_hours"} <= set(board.columns)
    assert {"espcn/espcn", "rrdb_gan/cnn_b1", "bicubic"} <= set(board["method"])
    assert (board["method"] == "bicubic").sum() == 2  # once per (set, scale): x4 and the x2 of inverted_unet
    # the self-contained HTML report with every table and figure and their captions
    rep = ci_tier.report_run  # the fixture ran `snakemake --report report.html` after the workflow
    assert rep.returncode == 0, rep.stdout[-3000:] + rep.stderr[-3000:]
    html = ci_tier.report.read_text(errors="replace")
    assert "table1" in html and "fig3_examples" in html and "Standard protocol" in html
    for page in ("espcn_claims_audit.html", "espcn_table1.html", "leaderboard.html", "overview.html"):
        assert page in html, page  # tables, claims audits and the leaderboard as HTML inside the report

    # Tiers live side by side: a second tier in the same folder writes results/demo/ and logs/demo/, reuses the
    # shared data caches, leaves every file of the ci tier untouched, and leaves the ci tier up to date.
    ci_files = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in (tmp_path / "results" / "ci").rglob("*")
                if p.is_file()}
    demo = tmp_path / "demo.yaml"
    demo.write_text(yaml.safe_dump({"tier": "demo", "studies": ["espcn"], "studies_dir": str(ROOT / "studies"),
                                    "figures": ["png"], "leaderboard": False,
                                    "train_overrides": {"epochs": 1, "epoch_def": {"kind": "iterations", "n": 2}}}))
    res = snakemake("--cores", "2", "--directory", str(tmp_path), "--configfile", str(demo))
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    assert "rule build_cache" not in res.stdout + res.stderr  # the data caches are shared by the tiers
    assert (tmp_path / "results" / "demo" / "espcn" / "tables" / "table1.md").is_file()
    assert (tmp_path / "logs" / "demo" / "train" / "espcn" / "espcn.log").is_file()
    assert len(pd.read_csv(tmp_path / "results" / "demo" / "espcn" / "espcn" / "history.csv")) == 1
    after = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in ci_files}
    assert after == ci_files, [str(p) for p in ci_files if after[p] != ci_files[p]]
    again = snakemake("-n", "--cores", "1", "--directory", str(tmp_path), "--configfile", str(cfg))
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr, again.stdout[-3000:]


def test_tiers_write_to_disjoint_paths(tmp_path):
    """Every output and log of one tier lies under results/<tier>/ or logs/<tier>/ (or the shared data/)."""
    outputs = {}
    for tier in ("ci", "demo"):
        res = snakemake("-n", "--cores", "1", "--directory", str(tmp_path), "--configfile", str(ROOT / "config.yaml"),
                        "--config", f"studies_dir={ROOT / 'studies'}", f"tier={tier}", "studies=all")
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        paths = {p.strip() for line in res.stdout.splitlines() if line.startswith(("    output:", "    log:"))
                 for p in line.split(":", 1)[1].split(",")}
        own = {p for p in paths if not p.startswith(("data/", "logs/prepare/", "logs/build_cache/"))}
        assert own and all(p.startswith((f"results/{tier}/", f"logs/{tier}/")) for p in own), sorted(own)[:5]
        outputs[tier] = own
    assert not outputs["ci"] & outputs["demo"]


def test_a_logging_setting_reruns_nothing_and_a_training_setting_reruns_training(tmp_path):
    """progress_every_s and tensorboard reach the job through the environment (rules/setup.smk), not as params:
    changing them plans nothing; the training settings, one record param, still rerun the job when they change."""
    target = "results/ci/espcn/srcnn/train_done.json"
    cfg = tmp_path / "ci.yaml"

    def run(*args, **changes):
        cfg.write_text(yaml.safe_dump({"tier": "ci", "studies": ["espcn"], "studies_dir": str(ROOT / "studies"),
                                       "leaderboard": False, **changes}))
        return snakemake(target, "--cores", "2", "--directory", str(tmp_path), "--configfile", str(cfg), *args)

    res = run(progress_every_s=1e-6)  # a progress line after every batch but the last
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert re.search(r"epoch 1/2 batch 1/\d+ ", (tmp_path / "logs/ci/train/espcn/srcnn.log").read_text())
    again = run("-n", progress_every_s=300, tensorboard=True)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr, again.stdout[-3000:]
    changed = run("-n", progress_every_s=300, train_overrides={"seed": 7})
    assert changed.returncode == 0, changed.stdout[-3000:] + changed.stderr[-3000:]
    assert re.search(r"rule train:.*?reason: Params have changed", changed.stdout + changed.stderr, re.S), \
        changed.stdout[-3000:]
