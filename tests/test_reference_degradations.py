"""The bicubic baseline on BD and DN LR images against the RDN paper's table (Zhang et al., CVPR 2018, Table 3:
x3, PSNR/SSIM on Y, border = scale). The LR are made by sisr.degradations from the HR of Set5 / Set14
(../shared/datasets/benchmark), upscaled by the ``bicubic`` model (the path of ``sisr upscale --model bicubic``)
and scored with psnr_y / ssim_y. Run with ``pytest -m reference -s`` to see the measured numbers.

The RDN authors' DN noise (MATLAB's legacy randn, seed 0) cannot be drawn here: DN is checked within 0.1 dB.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from sisr import degradations
from sisr.cli import main
from sisr.training.inference import load_any_model, super_resolve
from sisr.base.io import read_image
from sisr.metrics import psnr, ssim

pytestmark = [pytest.mark.reference, pytest.mark.usefixtures("one_torch_thread")]

BENCHMARK = Path(__file__).parents[1] / ".." / "shared" / "datasets" / "benchmark"
SCALE = 3

# (degradation, set, RDN table's Bicubic PSNR_Y, SSIM_Y, PSNR tolerance, SSIM tolerance)
RDN_TABLE = [
    ("bd", "Set5", 28.78, 0.8308, 0.03, 0.003),
    ("bd", "Set14", 26.38, 0.7271, 0.03, 0.003),
    ("dn", "Set5", 24.01, None, 0.1, None),
]


def _hr_dir(dataset: str) -> Path:
    hr_dir = BENCHMARK / dataset / "HR"
    if not hr_dir.is_dir():
        pytest.skip(f"{hr_dir} not found (shared test datasets absent)")
    return hr_dir


@pytest.mark.parametrize(("name", "dataset", "ref_psnr", "ref_ssim", "psnr_tol", "ssim_tol"), RDN_TABLE)
def test_bicubic_baseline_on_degraded_lr_matches_rdn(name, dataset, ref_psnr, ref_ssim, psnr_tol, ssim_tol):
    model = load_any_model("bicubic", scale=SCALE, in_channels=3, device="cpu").model
    psnrs, ssims = [], []
    for hr_path in sorted(_hr_dir(dataset).glob("*.png")):
        lr, hr = degradations.get(name)(read_image(hr_path, mode="any"), SCALE, seed=0, image=hr_path.stem)
        with torch.no_grad():
            sr = super_resolve(model, lr, scale=SCALE, device="cpu")
        psnrs.append(psnr(sr, hr, crop=SCALE))
        ssims.append(ssim(sr, hr, crop=SCALE))
    mean_psnr, mean_ssim = float(np.mean(psnrs)), float(np.mean(ssims))
    print(f"\n{name} {dataset} x{SCALE} bicubic: PSNR_Y {mean_psnr:.4f} (RDN {ref_psnr}), SSIM_Y {mean_ssim:.5f} "
          f"(RDN {ref_ssim})")
    assert abs(mean_psnr - ref_psnr) <= psnr_tol
    if ref_ssim is not None:
        assert abs(mean_ssim - ref_ssim) <= ssim_tol


def test_bd_through_the_commands_matches_rdn(tmp_path, capsys):
    """sisr downscale --degradation bd, sisr upscale --model bicubic, sisr evaluate: Set5, the RDN table's row."""
    hr_dir = _hr_dir("Set5")
    scale = str(SCALE)
    assert main(["downscale", "--degradation", "bd", "--scale", scale, str(hr_dir), str(tmp_path / "lr")]) == 0
    assert main(["upscale", "--model", "bicubic", "--scale", scale, str(tmp_path / "lr"), str(tmp_path / "sr")]) == 0
    capsys.readouterr()
    csv = tmp_path / "eval.csv"
    assert main(["evaluate", "--scale", scale, "--metrics", "psnr_y,ssim_y", "--csv", str(csv), str(tmp_path / "sr"),
                 str(hr_dir)]) == 0
    df = pd.read_csv(csv)
    assert len(df) == 5
    assert abs(df["psnr_y"].mean() - 28.78) <= 0.03 and abs(df["ssim_y"].mean() - 0.8308) <= 0.003
