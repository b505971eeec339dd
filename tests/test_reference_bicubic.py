"""Reference checks on Set5 / Set14 (../shared/datasets/benchmark) against MATLAB-made LR images and the
published bicubic baseline (docs/REFERENCE.md, RCAN table): standard protocol, Y channel, border = scale.

Run with ``pytest -m reference -s`` to see the measured numbers.
"""

from pathlib import Path

import numpy as np
import pytest

from sisr.evaluation import evaluate_folders
from sisr.base.imresize import downscale, modcrop, upscale
from sisr.base.io import read_image, write_image
from sisr.metrics import psnr, ssim

pytestmark = pytest.mark.reference

BENCHMARK = Path(__file__).parents[1] / ".." / "shared" / "datasets" / "benchmark"

# (set, scale, published bicubic PSNR_Y, SSIM_Y)
PUBLISHED = [("Set5", 4, 28.42, 0.8104), ("Set14", 4, 26.00, 0.7027), ("Set5", 2, 33.66, 0.9299)]
PSNR_TOL, SSIM_TOL = 0.02, 0.002


def _hr_and_lr(dataset: str, scale: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, HR as stored, MATLAB LR) for every image of the set; skips when the data are absent."""
    hr_dir = BENCHMARK / dataset / "HR"
    if not hr_dir.is_dir():
        pytest.skip(f"{hr_dir} not found (shared test datasets absent)")
    out = []
    for hr_path in sorted(hr_dir.glob("*.png")):
        lr_path = BENCHMARK / dataset / "LR_bicubic" / f"X{scale}" / f"{hr_path.stem}x{scale}.png"
        out.append((hr_path.stem, read_image(hr_path, mode="any"), read_image(lr_path, mode="any")))
    assert out, f"no images in {hr_dir}"
    return out


@pytest.mark.parametrize(("dataset", "scale", "ref_psnr", "ref_ssim"), PUBLISHED)
def test_bicubic_baseline_matches_published(dataset, scale, ref_psnr, ref_ssim):
    psnrs, ssims = [], []
    for _, hr, lr in _hr_and_lr(dataset, scale):
        sr = upscale(lr, scale, method="bicubic")
        hr = modcrop(hr, scale)
        psnrs.append(psnr(sr, hr, crop=scale))
        ssims.append(ssim(sr, hr, crop=scale))
    mean_psnr, mean_ssim = float(np.mean(psnrs)), float(np.mean(ssims))
    print(f"\n{dataset} x{scale} bicubic: PSNR_Y {mean_psnr:.4f} (published {ref_psnr}), "
          f"SSIM_Y {mean_ssim:.5f} (published {ref_ssim})")
    assert abs(mean_psnr - ref_psnr) <= PSNR_TOL
    assert abs(mean_ssim - ref_ssim) <= SSIM_TOL


@pytest.mark.parametrize(("dataset", "scale", "ref_psnr", "ref_ssim"), PUBLISHED[:2])  # Set14: gray bridge.png
def test_bicubic_baseline_via_evaluate_folders(tmp_path, dataset, scale, ref_psnr, ref_ssim):
    for name, _, lr in _hr_and_lr(dataset, scale):
        write_image(tmp_path / f"{name}x{scale}.png", upscale(lr, scale))
    df = evaluate_folders(tmp_path, BENCHMARK / dataset / "HR", scale=scale, metrics=["psnr_y", "ssim_y"])
    assert len(df) == len(list((BENCHMARK / dataset / "HR").glob("*.png")))
    assert abs(df["psnr_y"].mean() - ref_psnr) <= PSNR_TOL
    assert abs(df["ssim_y"].mean() - ref_ssim) <= SSIM_TOL


@pytest.mark.parametrize("dataset", ["Set5", "Set14"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_downscale_reproduces_matlab_lr(dataset, scale):
    """Contract: >= 98 % identical values. Measured: all of them (MATLAB clamps indices at the border and
    rounds to uint8 between the passes; mirrored borders give 98.6-99.4 %)."""
    same = total = 0
    max_diff = 0
    for name, hr, lr in _hr_and_lr(dataset, scale):
        ours = downscale(hr, scale)
        assert ours.shape == lr.shape, f"{dataset}/{name} x{scale}: ours {ours.shape} vs MATLAB {lr.shape}"
        same += int(np.count_nonzero(ours == lr))
        total += lr.size
        max_diff = max(max_diff, int(np.abs(ours.astype(int) - lr.astype(int)).max()))
    print(f"\n{dataset} x{scale}: {100 * same / total:.3f}% of LR values identical to MATLAB, max |diff| {max_diff}")
    assert same / total >= 0.98
    assert same == total, f"{total - same} of {total} values differ from MATLAB (max |diff| {max_diff})"
