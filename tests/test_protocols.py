""""Their protocol" variants: each checked against an independent computation of what its docstring says.

No pretrained network is needed: the LPIPS and FID variants are checked up to the point where they hand
images to ``sisr.metrics.perceptual`` (whose plumbing is tested in test_perceptual.py), by capturing what
they pass on.
"""

import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view

from sisr.base.errors import SisrError
from sisr.base.io import write_image
from sisr.metrics import protocols, psnr
from sisr.metrics.protocols import (center_crop, psnr_rgb_crop96, psnr_rgb_skimage_noshave,
                                    psnr_y_crop96, ssim_rgb_skimage_noshave, ssim_y_crop96)


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    hr = rng.integers(0, 256, size=(101, 110, 3), dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-12, 13, size=hr.shape), 0, 255).astype(np.uint8)
    return sr, hr


def _ssim_uniform7(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM with a 7 x 7 uniform window, sample (N-1) statistics, every full window, mean over channels."""
    values = []
    for c in range(a.shape[2]):
        wa = sliding_window_view(a[:, :, c].astype(np.float64), (7, 7)).reshape(-1, 49)
        wb = sliding_window_view(b[:, :, c].astype(np.float64), (7, 7)).reshape(-1, 49)
        ma, mb = wa.mean(1), wb.mean(1)
        va, vb = wa.var(1, ddof=1), wb.var(1, ddof=1)
        cov = ((wa - ma[:, None]) * (wb - mb[:, None])).sum(1) / 48
        c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
        values.append(np.mean((2 * ma * mb + c1) * (2 * cov + c2) / ((ma**2 + mb**2 + c1) * (va + vb + c2))))
    return float(np.mean(values))


def test_psnr_rgb_skimage_noshave_is_rgb_psnr_without_border(pair):
    sr, hr = pair
    mse = np.mean((sr.astype(np.float64) - hr) ** 2)
    assert psnr_rgb_skimage_noshave(sr, hr, 4) == pytest.approx(10 * np.log10(255**2 / mse), rel=1e-12)
    assert psnr_rgb_skimage_noshave(sr, hr, 4) != pytest.approx(psnr(sr, hr, crop=4, y_channel=False), rel=1e-6)


def test_ssim_rgb_skimage_noshave_is_uniform_7x7_sample_ssim(pair):
    sr, hr = pair
    assert ssim_rgb_skimage_noshave(sr, hr, 4) == pytest.approx(_ssim_uniform7(sr, hr), rel=1e-9)
    assert ssim_rgb_skimage_noshave(hr, hr) == pytest.approx(1.0)
    gray_sr, gray_hr = sr[:, :, 0], hr[:, :, 0]
    assert ssim_rgb_skimage_noshave(gray_sr, gray_hr) == pytest.approx(_ssim_uniform7(sr[:, :, :1], hr[:, :, :1]))


def test_center_crop_position_and_errors():
    img = np.arange(101 * 100).reshape(101, 100)
    crop = center_crop(img, 96)
    assert crop.shape == (96, 96)
    assert crop[0, 0] == img[2, 2] and crop[-1, -1] == img[97, 97]
    with pytest.raises(SisrError, match="95x100 image is smaller than the 96x96 crop"):
        center_crop(img[:95], 96)


def test_crop96_metrics_only_see_the_centre(pair):
    sr, hr = pair
    outside = hr.copy()
    outside[:2] = 255 - outside[:2]  # change only rows outside the centred 96 x 96 crop (rows 2..97)
    assert np.isinf(psnr_y_crop96(outside, hr, 4)) and np.isinf(psnr_rgb_crop96(outside, hr, 4))
    assert ssim_y_crop96(outside, hr, 4) == pytest.approx(1.0)
    assert np.isfinite(psnr(outside, hr, crop=0))
    c_sr, c_hr = center_crop(sr, 96), center_crop(hr, 96)
    assert psnr_y_crop96(sr, hr, 4) == pytest.approx(psnr(c_sr, c_hr, crop=0, y_channel=True))
    assert psnr_rgb_crop96(sr, hr, 4) == pytest.approx(psnr(c_sr, c_hr, crop=0, y_channel=False))


def test_lpips_alex_standardised_passes_standardised_images(pair, monkeypatch):
    """Each channel standardised by its own mean and (unbiased) std, as torchvision's Normalize with the
    per-channel statistics their utils/metrics.py computes."""
    import torchvision

    sr, hr = pair
    seen = {}

    def capture(sr_t, hr_t, *, net):
        seen.update(sr=sr_t[0], hr=hr_t[0], net=net)
        return np.array([0.25])

    monkeypatch.setattr(protocols, "lpips_from_tensors", capture)
    assert protocols.lpips_alex_standardised(sr, hr, 4) == 0.25
    assert seen["net"] == "alex"
    for ours, img in ((seen["sr"], sr), (seen["hr"], hr)):
        x = torch.tensor(protocols.unit_float32(img)).permute(2, 0, 1).float()
        theirs = torchvision.transforms.Normalize(x.mean([1, 2]), x.std([1, 2]))(x)
        torch.testing.assert_close(ours, theirs)
        torch.testing.assert_close(ours.mean([1, 2]), torch.zeros(3), atol=1e-5, rtol=0)
        torch.testing.assert_close(ours.std([1, 2]), torch.ones(3), atol=1e-5, rtol=0)


def test_standardise_constant_and_gray_images():
    flat = protocols.standardise(np.full((8, 9), 77, dtype=np.uint8))
    assert flat.shape == (3, 8, 9) and torch.all(flat == 0)
    img = np.random.default_rng(2).integers(0, 256, size=(8, 9, 3), dtype=np.uint8)
    img[:, :, 1] = 200  # one constant channel: centred only, the others standardised
    x = protocols.standardise(img)
    assert float(x[1].abs().max()) < 1e-6 and float(x[0].std()) == pytest.approx(1.0, rel=1e-5)


def _as_their_code(img: np.ndarray) -> np.ndarray:
    """What their src/test.py hands to utils/metrics.py, as H x W x 3: albumentations Normalize(mean=0, std=1)
    (uint8 as float32 times float32 1/255), a float32 tensor permuted back to H x W x C."""
    return img.astype(np.float32) * np.reciprocal(np.float32(255.0))


def test_rrdb_gan_psnr_is_skimage_called_as_their_code(pair):
    from skimage.metrics import peak_signal_noise_ratio

    sr, hr = pair
    theirs = peak_signal_noise_ratio(_as_their_code(hr), _as_their_code(sr))  # utils/metrics.py line 33
    assert protocols.psnr_rgb_rrdb_gan(sr, hr, 4) == theirs
    assert protocols.psnr_rgb_rrdb_gan(sr, hr) == pytest.approx(psnr_rgb_skimage_noshave(sr, hr), abs=1e-4)


def test_rrdb_gan_ssim_is_skimage_called_as_their_code_with_the_range_it_inferred(pair):
    """Their call, structural_similarity(hr, sr, channel_axis=2) on float32, raises on scikit-image >= 0.20; before
    0.20 it took data_range = dmax - dmin of dtype_range[float32] (-1, 1): 2. Ours equals that call exactly."""
    from skimage.metrics import structural_similarity
    from skimage.util.dtype import dtype_range

    sr, hr = pair
    a, b = _as_their_code(hr), _as_their_code(sr)
    dmin, dmax = dtype_range[a.dtype.type]
    assert dmax - dmin == 2 == protocols.SSIM_FLOAT_DATA_RANGE
    theirs = structural_similarity(a, b, channel_axis=2, data_range=dmax - dmin)
    assert protocols.ssim_rgb_rrdb_gan(sr, hr, 4) == theirs
    try:
        as_called = structural_similarity(a, b, channel_axis=2)  # utils/metrics.py line 32, as written
    except ValueError as exc:  # scikit-image >= 0.20
        assert "data_range" in str(exc)
    else:  # scikit-image 0.19: the range it inferred
        assert as_called == theirs
    # the range matters where local contrast is low (the constants C1, C2 grow 4x with data_range 2)
    rng = np.random.default_rng(3)
    flat_hr = np.full((40, 44, 3), 120, dtype=np.uint8) + rng.integers(0, 4, size=(40, 44, 3), dtype=np.uint8)
    flat_sr = flat_hr + rng.integers(0, 3, size=flat_hr.shape, dtype=np.uint8)
    assert protocols.ssim_rgb_rrdb_gan(flat_sr, flat_hr) - ssim_rgb_skimage_noshave(flat_sr, flat_hr) > 0.005


def test_fid_crop96_compares_centre_crops(tmp_path, monkeypatch):
    from sisr.evaluation import pair_folders

    rng = np.random.default_rng(1)
    for name in ("a", "b"):
        write_image(tmp_path / "hr" / f"{name}.png", rng.integers(0, 256, size=(120, 130, 3), dtype=np.uint8))
        write_image(tmp_path / "sr" / f"{name}x4.png", rng.integers(0, 256, size=(120, 128, 3), dtype=np.uint8))
    seen = {}

    def capture(sr_images, hr_images):
        seen["sr"], seen["hr"] = list(sr_images), list(hr_images)
        return 12.5, len(seen["sr"])

    monkeypatch.setattr(protocols, "fid", capture)
    pairs = pair_folders(tmp_path / "sr", tmp_path / "hr", scale=4)
    assert protocols.fid_crop96(pairs, 4) == 12.5
    assert [img.shape for img in seen["sr"] + seen["hr"]] == [(96, 96, 3)] * 4


def test_registry_functions_take_sr_hr_scale(pair):
    sr, hr = pair
    for metric in protocols.METRICS:
        if not metric.per_set and metric.weights is None:  # LPIPS needs weights: tested above by capture
            assert np.isfinite(metric.fn(sr, hr, 4)), metric.name
    assert {m.protocol for m in protocols.METRICS} == {"rrdb_gan", "srresnet_edsr", "residual_sweep"}
    with pytest.raises(SisrError, match="same shape"):
        psnr_rgb_skimage_noshave(sr[:100], hr)
