"""GPU pinning for the local profile (sisr.workflow.cluster): distinct GPUs per job, released when a job dies."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.workflow import run_snakemake
from sisr.workflow.cluster import claim_gpus, gpu_pool, pin_job_gpus
from sisr.base.errors import SisrError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("value, expected", [("2, 3", ["2", "3"]), ("", []), ("GPU-ab12", ["GPU-ab12"])])
def test_pool_follows_cuda_visible_devices(value, expected):
    assert gpu_pool({"CUDA_VISIBLE_DEVICES": value}) == expected


def test_claims_are_distinct_until_the_pool_is_used_up(tmp_path):
    first = claim_gpus(1, pool=["0", "1"], lock_dir=tmp_path)
    second = claim_gpus(1, pool=["0", "1"], lock_dir=tmp_path)
    assert (first, second) == (["0"], ["1"])
    with pytest.raises(SisrError, match=r"no 1 free GPU\(s\) among \['0', '1'\]"):
        claim_gpus(1, pool=["0", "1"], lock_dir=tmp_path, timeout_s=0)


def test_more_gpus_than_the_pool_is_an_error(tmp_path):
    with pytest.raises(SisrError, match=r"asks for 3 GPU\(s\) but only 2 are available"):
        claim_gpus(3, pool=["0", "1"], lock_dir=tmp_path)


def test_a_killed_job_releases_its_gpu(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from sisr.workflow.cluster import claim_gpus; print(claim_gpus(1, pool=['7'], "
                               f"lock_dir={str(tmp_path)!r}), flush=True); import time; time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "['7']"
        with pytest.raises(SisrError):
            claim_gpus(1, pool=["7"], lock_dir=tmp_path, timeout_s=0)
    finally:
        holder.kill()
        holder.wait()
    t0 = time.monotonic()
    assert claim_gpus(1, pool=["7"], lock_dir=tmp_path, timeout_s=5, poll_s=0.1) == ["7"]
    assert time.monotonic() - t0 < 5


def test_pin_sets_cuda_visible_devices(tmp_path):
    env = {"CUDA_VISIBLE_DEVICES": "4,5"}
    assert pin_job_gpus(1, environ=env, lock_dir=tmp_path) == ["4"]
    assert env["CUDA_VISIBLE_DEVICES"] == "4"
    other = {"CUDA_VISIBLE_DEVICES": "4,5"}  # a second job started from the same shell
    assert pin_job_gpus(1, environ=other, lock_dir=tmp_path) == ["5"]


@pytest.mark.parametrize("env, count", [({"SLURM_JOB_ID": "12", "CUDA_VISIBLE_DEVICES": "0"}, 1),
                                        ({"CUDA_VISIBLE_DEVICES": "0,1"}, 0)])
def test_pin_leaves_slurm_jobs_and_cpu_jobs_alone(tmp_path, env, count):
    before = dict(env)
    pin_job_gpus(count, environ=env, lock_dir=tmp_path)
    assert env == before
    assert not list(tmp_path.iterdir())  # no lock taken


def test_local_profile_dry_run(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(f"tier: ci\nstudies: [espcn]\nstudies_dir: {ROOT / 'studies'}\n")
    proc = run_snakemake("-n", directory=tmp_path, profile=ROOT / "profiles" / "local", configfiles=[config],
                         timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "rule train:" in proc.stdout + proc.stderr
