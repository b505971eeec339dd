"""`sisr plan`: estimates from a step-time model monotone in the work per step (sisr.config.plan), whole jobs, disk,
the command, and `--calibrate` on the CPU (sisr.config.calibrate)."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import math
import time
from pathlib import Path

import pytest

from helpers.workflow import job_counts, run_snakemake
import sisr.config.plan as plan_module
from sisr.cli import main
from sisr.base.errors import ConfigError
from sisr.config.plan import (START_S, WARMUP_S, Anchor, Basis, batches_per_epoch, interpolate, plan, plan_studies,
                       table_basis)
from sisr.config.studies import load_study
from sisr.training import TrainConfig
from sisr.training.modes import FASTEST

STUDIES = sorted(Path("studies").glob("*.yaml"))


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """No calibration of this machine leaks in (or out): the cache is a fresh folder."""
    monkeypatch.setenv("SISR_CACHE", str(tmp_path / "cache"))


def _cfg(**kw):
    d = {"model": "espcn", "scale": 2, "loss": [{"name": "l1", "weight": 1.0}],
         "optimizer": {"name": "adam", "lr": 1e-3}, "epochs": 3, "batch_size": 16, "patch_size": 8}
    d.update(kw)
    return TrainConfig.from_dict(d)


def test_batches_per_epoch_follow_the_epoch_definition():
    assert batches_per_epoch(_cfg(epoch_def={"kind": "patches_per_image", "n": 20}), 800) == 1000
    assert batches_per_epoch(_cfg(epoch_def={"kind": "random_crop"}), 800) == 50
    assert batches_per_epoch(_cfg(epoch_def={"kind": "fixed_pairs"}, batch_size=32), 7000) == 218  # drop_last
    assert batches_per_epoch(_cfg(epoch_def={"kind": "iterations", "n": 7}), 800) == 7


def test_a_run_at_a_measured_shape_gets_the_measured_step_time():
    jobs = {j.run: j for j in plan(["studies/srresnet_edsr.yaml"], "paper")}
    srresnet = jobs["srresnet"]  # b32, LR 24x24, x4: exactly the measured shape; 50 epochs x 800 crops / 32
    (row,) = FASTEST["srresnet"]
    mode, speed = row.modes[0]
    assert srresnet.mode == "bf16+cl+graph" and mode.cuda_graph and mode.amp == "bf16"
    assert srresnet.steps == 50 * 800 // 32
    assert srresnet.step_ms == pytest.approx(1000 * 32 / speed)
    assert srresnet.train_hours == pytest.approx(srresnet.steps * 32 / speed / 3600)
    assert jobs["edsr_l1"].mode == "bf16+cl+compile"


def test_interpolation_is_monotone_even_through_anchors_that_are_not():
    points = [(1e6, 2.0), (1e7, 1.0), (1e8, 9.0), (1e9, 20.0)]  # a larger step measured faster (noise)
    grid = [10 ** (5 + k / 10) for k in range(60)]
    values = [interpolate(points, x)[0] for x in grid]
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert interpolate(points, 1e8)[0] == pytest.approx(9.0) and interpolate(points, 1e5)[0] == 2.0  # flat below
    assert interpolate(points, 2e9)[0] == pytest.approx(40.0)  # in proportion above the largest


def test_step_time_is_monotone_in_the_work_per_step_for_every_family_and_mode():
    """For every tier of every study: within one model family and mode, more multiply-adds per step never get a
    shorter step. The nearest-measured-shape estimate broke this (refiner_b8_c192 15.5 ms below b8_c128 20.9)."""
    basis = table_basis()
    jobs = []
    for path, tier in itertools.product(STUDIES, ("demo", "ci", "quick", "paper")):
        jobs += [j for p in plan_studies([path], tier, basis) for j in p.jobs]
    assert len(jobs) > 100
    checked = 0
    for a, b in itertools.combinations([j for j in jobs if j.step_ms is not None], 2):
        if (a.model, a.mode) == (b.model, b.mode) and a.macs_per_step != b.macs_per_step:
            small, large = sorted((a, b), key=lambda j: j.macs_per_step)
            assert large.step_ms >= small.step_ms, (small, large)
            checked += 1
    assert checked > 500
    sweep = {j.run: j for j in plan(["studies/residual_sweep.yaml"], "paper", basis)}
    assert sweep["refiner_b8_c192"].macs_per_step > sweep["refiner_b8_c128"].macs_per_step
    assert sweep["refiner_b8_c192"].step_ms > sweep["refiner_b8_c128"].step_ms
    assert sweep["plain_b24_c612"].step_ms > sweep["plain_b16_c256"].step_ms > sweep["plain_b16_c64"].step_ms > 0


def test_whole_jobs_add_warm_up_and_validation_and_evaluations_come_apart():
    (p,) = plan_studies(["studies/srresnet_edsr.yaml"], "paper")
    jobs = {j.run: j for j in p.jobs}
    edsr = jobs["edsr_l1"]  # compiled: the compile warm-up; 50 validations of 100 DIV2K images
    assert edsr.warmup_s == pytest.approx(START_S + WARMUP_S["compile"])
    val_s = (edsr.job_hours - edsr.train_hours) * 3600 - edsr.warmup_s
    assert val_s > 50 * 100 * 2.77 * plan_module.VAL_METRIC_S_PER_MP  # metrics alone, the forward passes on top
    assert jobs["srresnet"].warmup_s == pytest.approx(START_S + WARMUP_S["cuda_graph"])
    # evaluation jobs: one per run and baseline (all of the study's sets and the leaderboard's), one per epoch run
    study = p.study
    assert p.eval_jobs == len(study.runs) + len(study.baselines) + len(study.epoch_runs)
    assert p.eval_gpu_hours > 0 and p.eval_cpu_hours > 0


def test_checkpoints_count_weights_copies_and_the_optimizer_state_dropped_in_the_paper_tier():
    (p,) = plan_studies(["studies/srresnet_edsr.yaml"], "paper")
    srresnet = {j.run: j for j in p.jobs}["srresnet"]
    kept = len([e for e in p.study.runs["srresnet"]["keep_checkpoints"] if e <= 50])
    assert srresnet.drops_optimizer and srresnet.optimizer_bytes == 8 * srresnet.params
    assert srresnet.checkpoint_bytes == 4 * srresnet.params * (1 + 2 + kept)  # best, last (+ best copy), kept
    (quick,) = plan_studies(["studies/srresnet_edsr.yaml"], "quick")
    assert not any(j.drops_optimizer for j in quick.jobs)  # only the paper tier drops it by default
    job = quick.jobs[0]
    assert job.checkpoint_bytes > job.optimizer_bytes > 0


def test_replicas_are_planned_and_counted(monkeypatch):
    real = load_study

    def with_replica(path, tier, **kw):
        study = real(path, tier, **{**kw, "replicas": 1})  # the study file's own replicas left out
        extra = {"espcn_seed1": dict(study.runs["espcn"], seed=1, replica_of="espcn")}
        return dataclasses.replace(study, runs={**study.runs, **extra})

    monkeypatch.setattr(plan_module, "load_study", with_replica)
    (p,) = plan_studies(["studies/espcn.yaml"], "paper")
    jobs = {j.run: j for j in p.jobs}
    assert p.replicas == 1 and jobs["espcn_seed1"].replica_of == "espcn" and jobs["espcn"].replica_of is None
    assert jobs["espcn_seed1"].job_hours == pytest.approx(jobs["espcn"].job_hours)
    text = plan_module.format_plan([p], tier="paper")
    assert "3 training jobs (1 replica)" in text


def test_cli_prints_a_plan_of_at_most_120_characters_a_line(capsys, tmp_path):
    assert main(["plan", "--tier", "paper", "--studies", "all"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 120
    for text in ("NVIDIA H200", "tier paper:", "downloads: ", "Flickr2K.tar (size not published)", "caches",
                 "checkpoints: ", "optimizer state dropped", "command: snakemake --cores all --config tier=paper "
                 "studies=all", "rrdb_gan (paper): 24 training jobs (16 replicas)"):
        assert text in out, text
    runs = [line.split()[1] for line in out.splitlines() if line.startswith("residual_sweep ") and "(" not in line]
    assert len(runs) == len(set(runs)) == 37 + 14 and "plain_b24_c~5e5_e75_rep2" in runs  # long names cut, still apart
    table = tmp_path / "plan.csv"
    assert main(["plan", "--tier", "quick", "--studies", "espcn", "srresnet_edsr", "--wide", "--csv", str(table)]) == 0
    out = capsys.readouterr().out
    assert "studies='[espcn,srresnet_edsr]'" in out and "GMAC/step" in out
    rows = list(csv.DictReader(table.open()))
    assert {r["study"] for r in rows} == {"espcn", "srresnet_edsr"} and all(float(r["job_hours"]) > 0 for r in rows)


def test_cli_rejects_bad_input(capsys, tmp_path):
    assert main(["plan", "--studies", "nope"]) == 2
    assert "no study file" in capsys.readouterr().err
    bad = tmp_path / "studies"
    bad.mkdir()
    (bad / "x.yaml").write_text((open("studies/srresnet_edsr.yaml").read()
                                 .replace("name: srresnet_edsr", "name: x").replace("div2k/train", "t91/train")))
    assert main(["plan", "--tier", "paper", "--studies-dir", str(bad)]) == 0  # a known training set
    with pytest.raises(ConfigError, match="has no known size"):
        (bad / "x.yaml").write_text((bad / "x.yaml").read_text().replace("t91/train", "flickr2k/train"))
        plan([bad / "x.yaml"], "paper")


def test_a_calibrated_basis_keeps_the_estimates_monotone():
    anchors = (Anchor("deep_residual", False, "off", 1e9, 0.02, "a"),
               Anchor("deep_residual", False, "off", 4e9, 0.01, "b"))  # the larger measured faster: noise
    basis = Basis("test", "cpu", anchors)
    jobs = [j for j in plan(["studies/residual_sweep.yaml"], "paper", basis) if j.model == "deep_residual"]
    for a, b in itertools.combinations(jobs, 2):
        small, large = sorted((a, b), key=lambda j: j.macs_per_step)
        assert large.step_ms >= small.step_ms
    assert {j.mode for j in jobs} == {"fp32"}  # on the CPU: float32 eager, the study's fp16 is ignored there
    assert {j.step_ms for j in plan(["studies/espcn.yaml"], "paper", basis)} == {None}  # no espcn anchor
    cuda = Basis("test", "cuda", (Anchor("edsr_like", False, "bf16", 1e9, 0.01, "probe", warmup_s=1.5),))
    edsr = {j.run: j for j in plan(["studies/srresnet_edsr.yaml"], "paper", cuda)}["edsr_l1"]
    assert edsr.mode.endswith("+compile") and edsr.warmup_s == pytest.approx(START_S + 1.5 + WARMUP_S["compile"])


def test_calibrate_on_the_cpu_is_cached_and_used_by_later_plans(capsys, tmp_path):
    started = time.monotonic()
    assert main(["plan", "--calibrate", "--device", "cpu", "--seconds", "1", "--tier", "ci", "--studies", "espcn"]) == 0
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out
    (path,) = (tmp_path / "cache" / "calibration").glob("cpu*.json")
    data = json.loads(path.read_text())
    assert data["device_type"] == "cpu" and data["anchors"] and all(a["seconds"] > 0 for a in data["anchors"])
    assert f"saved {path}" in out and "calibration: cpu" in out and "hours on one CPU device" in out
    assert elapsed < 60  # a budget of 1 s: a few small steps, not minutes
    assert main(["plan", "--device", "cpu", "--tier", "ci", "--studies", "espcn"]) == 0  # later: the cached file
    later = capsys.readouterr().out
    assert f"#   ({path})" in later and data["date"] in later
    assert main(["plan", "--device", "cpu", "--table", "--tier", "ci", "--studies", "espcn"]) == 0
    assert "NVIDIA H200" in capsys.readouterr().out
    path.write_text("{broken")
    assert main(["plan", "--device", "cpu", "--tier", "ci", "--studies", "espcn"]) == 2
    assert "not a calibration file" in capsys.readouterr().err
    assert math.isfinite(data["seconds"])


@pytest.mark.parametrize("tier", ["quick", "paper"])
def test_the_plan_counts_the_jobs_the_workflow_runs(tmp_path, tier):
    """Training and evaluation jobs of `sisr plan` = those of the workflow's dry run (all studies, leaderboard on)."""
    res = run_snakemake("-n", "--config", f"tier={tier}", "studies=all", f"studies_dir={Path('studies').resolve()}",
                        directory=tmp_path, cores=1, configfiles=[Path("config.yaml").resolve()])
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    counts = job_counts(res.stdout)
    plans = plan_studies(STUDIES, tier)
    assert sum(len(p.jobs) for p in plans) == counts["train"]
    assert sum(p.eval_jobs for p in plans) == sum(n for rule, n in counts.items() if rule.startswith("evaluate"))
    for p in plans:  # one evaluation job per model of the study, each on all of its sets
        assert counts[f"evaluate_{p.study.name}"] == len(p.study.all_models)
