"""Whole-image and tiled inference agree; uint8 conversion follows the protocol (clamp, round)."""

import numpy as np
import pytest
import torch

from sisr.training.inference import super_resolve, to_tensor, to_uint8
from sisr.models import create_model


@pytest.mark.parametrize("name, overlap, tile", [("espcn", 4, 24), ("deep_residual", 12, 40), ("srcnn", 8, 24)])
def test_tiled_equals_whole(name, overlap, tile):
    torch.manual_seed(0)
    kwargs = {"blocks": 2, "channels": 8} if name == "deep_residual" else {}
    model = create_model(name, scale=2, **kwargs).eval()
    lr = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    whole = super_resolve(model, lr, scale=2)
    tiled = super_resolve(model, lr, scale=2, tile=tile, overlap=overlap)
    assert whole.shape == tiled.shape == (74, 106, 3)
    # identical up to float rounding of different convolution algorithms: at most 1 grey level, rarely
    diff = np.abs(whole.astype(int) - tiled.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01


def test_tiles_without_enough_overlap_differ():
    torch.manual_seed(0)
    model = create_model("deep_residual", scale=2, blocks=4, channels=8).eval()
    lr = np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    whole = super_resolve(model, lr, scale=2)
    tiled = super_resolve(model, lr, scale=2, tile=20, overlap=0)
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() > 1  # the test can fail: seams are visible


def test_uint8_round_trip_and_clamp():
    img = np.arange(256, dtype=np.uint8).reshape(16, 16)
    x = to_tensor(img, torch.device("cpu"))
    assert x.shape == (1, 1, 16, 16) and np.array_equal(to_uint8(x), img)
    y = torch.tensor([[[[-0.2, 1.3, 0.5 / 255, 1.5 / 255]]]])
    assert to_uint8(y).tolist() == [[0, 255, 0, 2]]  # clamp, then round half to even (torch.round)


def test_out_of_memory_falls_back_to_tiles(monkeypatch):
    import sisr.training.inference as inf

    torch.manual_seed(0)
    model = create_model("espcn", scale=2).eval()
    lr = np.random.default_rng(2).integers(0, 256, (30, 30, 3), dtype=np.uint8)
    whole = super_resolve(model, lr, scale=2)
    calls = []
    real = inf._forward

    def flaky(model, x, tile, overlap, scale):
        calls.append(tile)
        if tile is None:
            raise torch.OutOfMemoryError("simulated")
        return real(model, x, tile, overlap, scale)

    monkeypatch.setattr(inf, "_forward", flaky)
    monkeypatch.setattr(inf, "FALLBACK_TILE", 16)
    monkeypatch.setattr(inf, "FALLBACK_OVERLAP", 4)
    tiled = super_resolve(model, lr, scale=2)
    assert calls == [None, 16]
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1


def test_inference_runs_in_full_float32_and_restores_the_settings():
    """TF32 (PyTorch's default for GPU convolutions) is off while a model runs, and as it was afterwards."""
    seen = []

    class Probe(torch.nn.Module):
        def forward(self, x):
            seen.append((torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32))
            return torch.nn.functional.interpolate(x, scale_factor=2)

    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = True
    try:
        lr = np.zeros((20, 20, 3), dtype=np.uint8)
        super_resolve(Probe(), lr, scale=2)
        super_resolve(Probe(), lr, scale=2, tile=12, overlap=2)
        assert seen and all(flags == (False, False) for flags in seen)
        assert torch.backends.cudnn.allow_tf32 is True
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


class _CountingNet(torch.nn.Module):
    """x2 nearest upscaling that records the LR size of every forward."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 1)
        self.inputs = []

    def forward(self, x):
        self.inputs.append(tuple(x.shape[2:]))
        return torch.nn.functional.interpolate(self.conv(x), scale_factor=2, mode="nearest")


def test_the_memory_probe_runs_once_per_model_not_once_per_image():
    """Found by timing a rehearsal: each image paid a 32 x 32 probe forward, half again the inference of a small
    benchmark image."""
    net = _CountingNet().eval()
    lr = np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    for _ in range(3):
        super_resolve(net, lr, scale=2)
    assert net.inputs.count((32, 32)) == 1 and net.inputs.count((20, 24)) == 3, net.inputs
    other = _CountingNet().eval()
    super_resolve(other, lr, scale=2)
    assert other.inputs == [(32, 32), (20, 24)]  # another model is probed for itself


def test_an_evaluation_job_warms_its_model_up_once_not_once_per_set(tmp_path, monkeypatch):
    """The first image of every set was super-resolved twice (a warm-up before its timing): one warm-up per job."""
    from sisr.base.io import write_image
    from sisr.data.datasets import Pair
    from sisr.evaluation import evaluate

    rng = np.random.default_rng(1)
    pairs = []
    for i in range(2):
        write_image(tmp_path / f"hr{i}.png", rng.integers(0, 256, (24, 28, 3), dtype=np.uint8))
        pairs.append(Pair(f"img{i}", tmp_path / f"hr{i}.png", None))
    net = _CountingNet().eval()
    evaluate(pairs, scale=2, metrics=["psnr_y"], model=net, sr_dir=tmp_path / "a", device="cpu")
    assert net.inputs == [(32, 32), (12, 14), (12, 14), (12, 14)]  # probe, warm-up, two images
    net.inputs.clear()
    evaluate(pairs, scale=2, metrics=["psnr_y"], model=net, sr_dir=tmp_path / "b", device="cpu", warm_up=False)
    assert net.inputs == [(12, 14), (12, 14)]
    # the workflow's job: its first set warms up, the others do not
    import sisr.workflow.jobs as jobs
    from sisr.config.job_settings import EvalJob, EvalSet

    seen = []
    sets = tuple(EvalSet(dataset="benchmark", split=s, root=str(tmp_path), label=s) for s in ("Set5", "Set14", "B100"))
    job = EvalJob(study="s", run="r", scale=2, in_channels=3, metrics=("psnr_y",), tier="ci", device="cpu", sets=sets)
    monkeypatch.setattr(jobs, "_load_for_eval", lambda job, model: ("cpu", None))
    monkeypatch.setattr(jobs, "_evaluate_set", lambda job, ref, loaded, dev, **kw: seen.append((ref.label, kw["warm_up"])))
    jobs.evaluate_job(job, checkpoint="ckpt.pt", out_csvs=["a", "b", "c"], sr_dirs=["a", "b", "c"])
    assert seen == [("Set5", True), ("Set14", False), ("B100", False)]
