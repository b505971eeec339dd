"""Fault injection through the workflow (Snakemake in a subprocess): divergence, kills, downloads.

Part of the fault-injection suite (marker ``fault``; see tests/test_faults.py and README "Reliability").
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers.servers import benchmark_tar, file_server
from helpers.faults import ci_config
from helpers.faults import snakemake_in as snakemake
from helpers.workflow import start_snakemake, write_config

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.fault


LR10 = {"optimizer": {"name": "adam", "lr": 10.0}}


@pytest.mark.slow
def test_ci_tier_at_lr_10_stops_with_one_line_then_records_divergence_as_a_result(tmp_path):
    # default policy: the training job fails with one line naming study, run, epoch and loss
    res = snakemake(tmp_path, ci_config(**LR10), "results/ci/espcn/srcnn/train_done.json")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    lines = [line for line in out.splitlines() if "diverged in epoch" in line]
    assert len(lines) == 1 and "ERROR: espcn.runs.srcnn: diverged in epoch 1 of 2: training loss" in lines[0]
    log = (tmp_path / "logs/ci/train/espcn/srcnn.log").read_text()
    assert "Traceback" not in log and "Traceback" not in out
    # a rerun does not train into it again: it repeats the line at once
    t0 = time.monotonic()
    res = snakemake(tmp_path, ci_config(**LR10), "results/ci/espcn/srcnn/train_done.json")
    assert res.returncode != 0 and "from a previous attempt" in res.stdout + res.stderr
    message = lines[0].split("ERROR: ", 1)[1]
    assert "epoch 1/2" not in (tmp_path / "logs/ci/train/espcn/srcnn.log").read_text().split(message)[-1]
    assert time.monotonic() - t0 < 60
    # record policy: the workflow completes; the runs are marked diverged in the table, REPORT.md and summary
    res = snakemake(tmp_path, ci_config(**LR10, divergence={"policy": "record"}), "results/ci/espcn/tables/table1.md",
                    "results/ci/espcn/REPORT.md")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    summary = pd.read_csv(tmp_path / "results/ci/espcn/summary.csv")
    status = dict(zip(summary["run"], summary["status"].fillna("")))
    assert status["srcnn"] == "diverged" and status["bicubic"] == ""
    table = (tmp_path / "results/ci/espcn/tables/table1.md").read_text()
    assert "SRCNN (ours) (diverged)" in table and "divergence.policy record" in table
    report = (tmp_path / "results/ci/espcn/REPORT.md").read_text()
    assert "- `srcnn` (diverged): epoch 1: training loss" in report


# ---------------------------------------------------------------------------------------------- killing Snakemake


@pytest.fixture(scope="module")
def shared_data(tmp_path_factory):
    """The ci tier's data (scikit-image photographs, caches) made once for the kill cases."""
    root = tmp_path_factory.mktemp("kill_data")
    res = snakemake(root, {**ci_config(), "data_dir": str(root / "data")},
                    *(f"{root}/data/cache/skimage/{split}/x4_rgb/manifest.json" for split in ("train", "valid")))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return root / "data"


def _start_snakemake(tmp_path: Path, cfg: dict, target: str, env: dict | None = None) -> subprocess.Popen:
    config = write_config(tmp_path / "config.yaml", cfg)
    return start_snakemake(target, directory=tmp_path, cores=1, configfiles=[config], log=tmp_path / "snakemake.out",
                           env=env)


def _trainer_pid(run_dir: Path, snake: subprocess.Popen, timeout: float = 300) -> int:
    """The training process's PID (from its run-folder lock) once it has saved a first epoch."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lock = run_dir / "train.lock"
        if (run_dir / "checkpoint_last.pt").exists() and lock.exists() and lock.read_text().startswith("PID "):
            return int(lock.read_text().split()[1])
        assert snake.poll() is None, (run_dir.parent.parent.parent.parent / "snakemake.out").read_text()[-3000:]
        time.sleep(0.2)
    raise AssertionError(f"no trainer in {run_dir} after {timeout} s")


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie (exited, not yet reaped by its dead parent's reaper) counts as gone
            if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.1)
    return False


def _lock_is_free(run_dir: Path) -> bool:
    import fcntl

    with open(run_dir / "train.lock") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
    return True


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGINT", "SIGTERM"])
def test_killing_snakemake_leaves_no_training_orphan_and_a_whole_checkpoint(tmp_path, shared_data, sig):
    import signal

    from sisr.training import load_checkpoint

    # SIGTERM: Snakemake lets running jobs finish (its documented way); SIGINT: the rerun below finishes the run
    epochs = {"SIGTERM": 20, "SIGINT": 40}.get(sig, 1000)
    cfg = {**ci_config(epochs=epochs), "data_dir": str(shared_data)}
    run_dir = tmp_path / "results/ci/espcn/espcn"
    snake = _start_snakemake(tmp_path, cfg, "results/ci/espcn/espcn/train_done.json")
    try:
        trainer = _trainer_pid(run_dir, snake)
        if sig == "SIGINT":  # Ctrl-C in a terminal: the whole foreground process group gets it
            os.killpg(snake.pid, signal.SIGINT)
        else:  # kill -9 (or the OOM killer) / kill: Snakemake alone
            os.kill(snake.pid, getattr(signal, sig))
        assert snake.wait(timeout=300 if sig == "SIGTERM" else 60) != 0 or sig == "SIGTERM"
        assert _gone(trainer, timeout=60), f"the trainer {trainer} runs on after Snakemake got {sig}"
    finally:
        with __import__("contextlib").suppress(ProcessLookupError):
            os.killpg(snake.pid, signal.SIGKILL)  # never leave anything behind, whatever failed above
    last = load_checkpoint(run_dir / "checkpoint_last.pt")  # whole, loadable
    assert last["epoch"] >= 1 and _lock_is_free(run_dir)
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]
    log = (tmp_path / "logs/ci/train/espcn/espcn.log").read_text()
    assert "Traceback" not in log
    if sig == "SIGKILL":  # the trainer noticed its parent was gone, saved and stopped
        assert "is gone: stopping" in log and "exiting with code 143" in log
        assert "run it once with --unlock first" in log  # the killed Snakemake's lock: the rerun would refuse
    if sig == "SIGINT":  # Ctrl-C: one clean message, no workflow error; the same command resumes
        assert "exiting with code 130" in log
        out = (tmp_path / "snakemake.out").read_text()
        assert "sisr-bench: interrupted by the user" in out and "rerun the same command to resume" in out, out
        assert f"train espcn/espcn: saved its checkpoint ({run_dir.relative_to(tmp_path)}/checkpoint_last.pt)" in out
        for error in ("Error in rule", "WorkflowError", "RuleException", "Traceback", "Exiting because"):
            assert error not in out, out
        res = snakemake(tmp_path, cfg, "results/ci/espcn/espcn/train_done.json")
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        assert "resuming from epoch" in (tmp_path / "logs/ci/train/espcn/espcn.log").read_text()
        assert load_checkpoint(run_dir / "checkpoint_last.pt")["epoch"] == epochs
    if sig == "SIGTERM":
        assert (run_dir / "train_done.json").is_file() and last["epoch"] == epochs


# Loaded by every Python process of the test's Snakemake (PYTHONPATH): in the build_cache job's script only, the
# cache builder writes the job's PID and then sleeps, a long job to kill Snakemake under.
SLOW_CACHE_JOB = """
import os, sys, time
if "build_cache" in os.path.basename(sys.argv[0] if sys.argv else ""):
    import sisr.data.cache

    def build_cache(*args, **kwargs):
        with open(os.environ["SISR_TEST_PID_FILE"], "w") as fh:
            fh.write(str(os.getpid()))
        time.sleep(600)

    sisr.data.cache.build_cache = build_cache
"""


def test_killing_snakemake_leaves_no_orphan_of_a_job_that_is_not_training(tmp_path):
    """Every job watches its parent (sisr.workflow.jobs.job_log), not only trainers: a cache-building job stops when
    Snakemake is killed (SIGKILL), instead of running on beside the job a rerun would start."""
    import signal

    hook, pid_file = tmp_path / "hook", tmp_path / "cache_job.pid"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_CACHE_JOB)
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")])),
           "SISR_TEST_PID_FILE": str(pid_file)}
    snake = _start_snakemake(tmp_path, ci_config(), "data/cache/skimage/valid/x4_rgb/manifest.json", env=env)
    try:
        deadline = time.monotonic() + 300
        while not (pid_file.exists() and pid_file.read_text()):
            assert snake.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "snakemake.out").read_text()[-3000:]
            time.sleep(0.2)
        job = int(pid_file.read_text())
        os.kill(snake.pid, signal.SIGKILL)
        assert _gone(job, timeout=30), f"the build_cache job {job} runs on after Snakemake was killed"
    finally:
        with __import__("contextlib").suppress(ProcessLookupError):
            os.killpg(snake.pid, signal.SIGKILL)  # never leave anything behind, whatever failed above
    log = (tmp_path / "logs/build_cache/skimage_valid_x4_rgb.log").read_text()
    assert "is gone: stopping" in log


# ---------------------------------------------------------------------------------------------- downloads


@pytest.mark.parametrize("honour_range", [True, False], ids=["server_resumes_range", "server_ignores_range"])
def test_download_cut_mid_file_through_the_workflow_ends_verified(tmp_path, honour_range):
    import hashlib

    data = benchmark_tar()
    with file_server({"benchmark.tar": data}, honour_range=honour_range, cut={"benchmark.tar"},
                     cut_divisor=3) as srv:
        cfg = {"tier": "demo", "studies": ["espcn"], "studies_dir": str(ROOT / "studies"),
               "mirror": f"{srv.url}/",
               "archives": {"benchmark.tar": {"md5": hashlib.md5(data).hexdigest()}},
               "leaderboard_sets": ["benchmark/Set5"]}
        res = snakemake(tmp_path, cfg, "data/datasets/benchmark/ready.json")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert (tmp_path / "data/downloads/benchmark.tar").read_bytes() == data
    assert not list((tmp_path / "data/downloads").glob("*.part"))
    ranges = [rng for _, rng in srv.requests]
    assert len(ranges) == 2 and ranges[0] is None
    assert ranges[1] == f"bytes={len(data) // 3}-"  # the second request resumes where the cut left off
    log = (tmp_path / "logs/download/benchmark.tar.log").read_text()
    assert "retrying" in log and "Traceback" not in log
