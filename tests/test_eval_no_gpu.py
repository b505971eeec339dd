"""An evaluation job without a GPU resource runs entirely on the CPU, even on a machine where CUDA is available.

The job is run as the workflow runs it: ``workflow_scripts/evaluate.py`` with a stand-in ``snakemake`` object
holding what rule ``evaluate`` gives a job whose ``gpu`` resource is 0 (``resources.gpu = 0`` and
``params.device = "cpu"``, from ``eval_gpus`` / ``eval_device`` in rules/common.smk): a non-learned baseline and
a trained model, with the standard metrics and the LPIPS (both) / FID (baseline) networks (random-init stand-ins
of their weights).
torch is told that CUDA is available, and starting CUDA (which creating a CUDA tensor, moving a tensor or a
model to CUDA, synchronising or asking for CUDA memory all do first) raises.
"""

import hashlib
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from sisr.base import device as sisr_device
from sisr.data import weights
from sisr.base.io import write_image
from sisr.config.job_settings import EvalJob, EvalSet

pytestmark = pytest.mark.filterwarnings("ignore:FID on N = :UserWarning")

ROOT = Path(__file__).resolve().parents[1]
METRICS = ["psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb", "lpips_alex"]
SET_METRICS = ["fid"]  # per set; its network on CPU costs ~5 s per image here, so in one of the two jobs only


class CudaTouched(RuntimeError):
    pass


@pytest.fixture
def cuda_available_but_forbidden(monkeypatch):
    """torch.cuda.is_available() is True (one device), and anything that starts CUDA raises CudaTouched."""
    def refuse(*args, **kwargs):
        raise CudaTouched("CUDA touched by an evaluation job without a GPU resource")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "_lazy_init", refuse)  # every CUDA tensor, .to("cuda"), synchronize, ...
    monkeypatch.setattr(sisr_device, "_DEFAULT", None)  # the job sets it; restored afterwards
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    with pytest.raises(CudaTouched):  # the guard works
        torch.zeros(1, device="cuda")


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """Three small HR images (LR made by the job), a trained ESPCN checkpoint, a weights cache with random-init
    AlexNet and FID Inception and their checksums (as a rehearsal's config passes them)."""
    from sisr.data.lookalike import random_fid_inception
    from sisr.models import create_model
    from sisr.training.checkpoint import save_checkpoint
    from sisr.training.config import TrainConfig
    import torchvision

    rng = np.random.default_rng(0)
    for i in range(3):
        write_image(tmp_path / "hr" / f"im{i}.png", rng.integers(0, 256, size=(36 + 3 * i, 45, 3), dtype=np.uint8))
    torch.manual_seed(0)
    cache, checksums = tmp_path / "weights", {}
    for name, net in (("alexnet", torchvision.models.alexnet()), ("fid_inception", random_fid_inception())):
        path = weights.checkpoint_path(name, cache=cache)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(net.state_dict(), path)
        checksums[name] = {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    monkeypatch.setattr(weights, "WEIGHTS", dict(weights.WEIGHTS))  # the job overrides the checksums
    for var in ("SISR_WEIGHTS", "TORCH_HOME"):  # the job sets them
        monkeypatch.setenv(var, str(cache))
    cfg = TrainConfig.from_dict({"model": "espcn", "scale": 3, "in_channels": 3, "batch_size": 1, "patch_size": 8,
                                 "epochs": 1, "optimizer": {"name": "adam", "lr": 1e-4},
                                 "loss": [{"name": "l1", "weight": 1.0}]}, where="test")
    checkpoint = tmp_path / "espcn" / "checkpoint_best.pt"
    checkpoint.parent.mkdir()
    save_checkpoint(checkpoint, {"kind": "best", "model": create_model("espcn", scale=3, in_channels=3).state_dict(),
                                 "config": cfg.to_dict(), "epoch": 1})
    return SimpleNamespace(tmp=tmp_path, cache=cache, checksums=checksums, checkpoint=checkpoint)


def run_evaluate_rule(setup, *, run: str, checkpoint: Path | None, gpu: int, device: str,
                      metrics: list[str]) -> pd.DataFrame:
    """workflow_scripts/evaluate.py as rule evaluate_<study> runs it, for one model on one evaluation set."""
    out = setup.tmp / "results" / run
    job = EvalJob(study="tiny_study", run=run, scale=3, in_channels=3, metrics=tuple(metrics), tier="quick",
                  device=device, weights_dir=str(setup.cache), weights_checksums=setup.checksums,
                  sets=(EvalSet(dataset="folder", split="all", label="tiny", root=str(setup.tmp / "hr")),))
    snakemake = SimpleNamespace(
        log=[str(setup.tmp / "logs" / f"{run}.log")],
        wildcards=SimpleNamespace(study="tiny_study", run=run),
        resources=SimpleNamespace(gpu=gpu),
        input={"checkpoint": str(checkpoint)} if checkpoint else {},
        output=SimpleNamespace(csv=[str(out / "eval" / "tiny_x3.csv")], sr=[str(out / "sr" / "tiny_x3")]),
        params=SimpleNamespace(job=job.to_param()))
    runpy.run_path(str(ROOT / "workflow_scripts" / "evaluate.py"), init_globals={"snakemake": snakemake})
    return pd.read_csv(snakemake.output.csv[0])


@pytest.mark.parametrize("trained", [False, True], ids=["baseline", "trained"])
def test_no_gpu_job_runs_on_the_cpu_where_cuda_is_available(setup, cuda_available_but_forbidden, trained):
    metrics = METRICS if trained else METRICS + SET_METRICS
    df = run_evaluate_rule(setup, run="espcn_run" if trained else "bicubic",
                           checkpoint=setup.checkpoint if trained else None, gpu=0, device="cpu", metrics=metrics)
    assert len(df) == 3 and set(df["device"]) == {"cpu"}
    for metric in metrics:
        assert df[metric].notna().all(), metric
    assert df["model"].iloc[0] == ("espcn" if trained else "bicubic")


def test_the_same_job_given_a_gpu_device_would_touch_cuda(setup, cuda_available_but_forbidden):
    """What the test above rules out: a job whose device is ``auto`` (a GPU job's) goes for the GPU here."""
    with pytest.raises(CudaTouched):
        run_evaluate_rule(setup, run="bicubic", checkpoint=None, gpu=0, device="auto", metrics=METRICS)
