"""PSNR / SSIM / MS-SSIM / MSE / Y channel: hand-computed cases, scikit-image, an independent MS-SSIM."""

import math

import numpy as np
import pytest
from scipy.signal import convolve2d
from skimage.metrics import structural_similarity

from sisr.base.errors import SisrError
from sisr.metrics import ms_ssim, mse, psnr, rgb_to_y, ssim


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def _noisy_pair(rng: np.random.Generator, shape: tuple[int, ...], noise: float = 20.0):
    """A smooth random image (0..255 float) and a noisy copy: correlated, like SR vs HR."""
    base = rng.random(shape) * 255
    for axis in (0, 1):  # smooth so the images have structure at several scales
        base = (base + np.roll(base, 1, axis) + np.roll(base, 2, axis)) / 3
    other = np.clip(base + rng.normal(0, noise, shape), 0, 255)
    return base, other


@pytest.mark.parametrize(
    ("rgb", "y"),
    [((0, 0, 0), 16.0), ((255, 255, 255), 235.0), ((255, 0, 0), 81.481), ((0, 255, 0), 144.553),
     ((0, 0, 255), 40.966), ((128, 64, 32), 16 + (65.481 * 128 + 128.553 * 64 + 24.966 * 32) / 255)],
)
def test_rgb_to_y_known_colours(rgb, y):
    img = np.array(rgb, dtype=np.uint8).reshape(1, 1, 3)
    out = rgb_to_y(img)
    assert out.shape == (1, 1) and out.dtype == np.float64
    assert out[0, 0] == pytest.approx(y, abs=1e-10)


def test_rgb_to_y_single_channel_is_returned_as_is():
    gray = np.array([[0, 17], [200, 255]], dtype=np.uint8)
    out = rgb_to_y(gray)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, gray)
    with pytest.raises(SisrError, match="H x W x 3"):
        rgb_to_y(np.zeros((2, 2, 4), dtype=np.uint8))


def test_psnr_hand_computed():
    hr = np.full((12, 12), 100, dtype=np.uint8)
    sr = hr + np.uint8(10)  # MSE = 100
    assert psnr(sr, hr, crop=0) == pytest.approx(10 * math.log10(255**2 / 100))
    sr[:2, :] = 0  # damage only the border: cropping 2 pixels removes it
    assert psnr(sr, hr, crop=2) == pytest.approx(10 * math.log10(255**2 / 100))
    assert psnr(sr, hr, crop=0) < 25


def test_psnr_rgb_and_y():
    hr = np.full((8, 8, 3), 50, dtype=np.uint8)
    sr = hr.copy()
    sr[:, :, 1] = 56  # green off by 6: RGB MSE = 36 / 3 = 12; Y off by 6 * 128.553 / 255
    assert psnr(sr, hr, crop=1, y_channel=False) == pytest.approx(10 * math.log10(255**2 / 12))
    dy = 6 * 128.553 / 255
    assert psnr(sr, hr, crop=1) == pytest.approx(10 * math.log10(255**2 / dy**2))


def test_psnr_identical_is_inf(rng):
    img = rng.integers(0, 256, size=(10, 10, 3), dtype=np.uint8)
    assert psnr(img, img.copy(), crop=2) == math.inf


def test_mse_on_unit_range():
    hr = np.zeros((4, 4, 3), dtype=np.uint8)
    sr = np.full((4, 4, 3), 51, dtype=np.uint8)  # 51 / 255 = 0.2
    assert mse(sr, hr) == pytest.approx(0.04)
    sr[0, 0, 0] = 255
    assert mse(sr, hr, crop=1) == pytest.approx(0.04)


def test_ssim_matches_scikit_image(rng):
    a, b = _noisy_pair(rng, (48, 41))
    ours = ssim(a, b, crop=0)
    ref = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                data_range=255)
    # scikit-image averages the SSIM map over the region 5 pixels from the border: the 'valid' part.
    assert ours == pytest.approx(ref, abs=1e-10)
    assert 0.2 < ours < 0.99


@pytest.mark.parametrize("shape", [(11, 11), (12, 27), (86, 43), (160, 130), (23, 300)])
def test_ssim_matches_scikit_image_across_strips_and_chunks(rng, shape):
    """Sizes around the kernel's strips (32 output rows) and row chunks (16 samples), down to one window."""
    a, b = _noisy_pair(rng, shape)
    ref = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                data_range=255)
    assert ssim(a, b, crop=0) == pytest.approx(ref, abs=1e-10)


def test_ssim_rgb_is_mean_over_channels(rng):
    a, b = _noisy_pair(rng, (30, 30, 3))
    per_channel = [ssim(a[:, :, c], b[:, :, c], crop=3) for c in range(3)]
    assert ssim(a, b, crop=3, y_channel=False) == pytest.approx(np.mean(per_channel), abs=1e-12)
    assert ssim(a, b, crop=3) == pytest.approx(ssim(rgb_to_y(a), rgb_to_y(b), crop=3), abs=1e-12)


def test_ssim_identical_is_one(rng):
    img = rng.integers(0, 256, size=(20, 20, 3), dtype=np.uint8)
    assert ssim(img, img, crop=4) == pytest.approx(1.0, abs=1e-12)


def _reference_ms_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """Written independently from Wang et al. 2003 / msssim.m: explicit 2-D window and loops."""
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    window = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    weights = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    result = 1.0
    for level in range(5):
        mx = convolve2d(x, window, mode="valid")
        my = convolve2d(y, window, mode="valid")
        sxx = convolve2d(x * x, window, mode="valid") - mx**2
        syy = convolve2d(y * y, window, mode="valid") - my**2
        sxy = convolve2d(x * y, window, mode="valid") - mx * my
        cs = np.mean((2 * sxy + c2) / (sxx + syy + c2))
        if level < 4:
            result *= cs ** weights[level]
            # msssim.m: imfilter(ones(2)/4, 'symmetric') then (1:2:end): odd edges are repeated
            new = []
            for img in (x, y):
                h, w = img.shape
                half = np.zeros(((h + 1) // 2, (w + 1) // 2))
                for i in range(half.shape[0]):
                    for j in range(half.shape[1]):
                        rows = [min(2 * i, h - 1), min(2 * i + 1, h - 1)]
                        cols = [min(2 * j, w - 1), min(2 * j + 1, w - 1)]
                        half[i, j] = img[np.ix_(rows, cols)].mean()
                new.append(half)
            x, y = new
        else:
            lum = np.mean((2 * mx * my + c1) / (mx**2 + my**2 + c1) * (2 * sxy + c2) / (sxx + syy + c2))
            result *= lum ** weights[level]
    return result


def test_ms_ssim_matches_independent_reference(rng):
    a, b = _noisy_pair(rng, (171, 166), noise=25.0)  # odd sizes exercise the edge handling
    ours = ms_ssim(a, b, crop=0)
    assert ours == pytest.approx(_reference_ms_ssim(a, b), abs=1e-10)
    assert 0.3 < ours < 0.999


def test_ms_ssim_identical_is_one(rng):
    img = rng.integers(0, 256, size=(180, 170, 3), dtype=np.uint8)
    assert ms_ssim(img, img, crop=4) == pytest.approx(1.0, abs=1e-12)
    assert ms_ssim(img, img, crop=4, y_channel=False) == pytest.approx(1.0, abs=1e-12)


def test_ms_ssim_of_anticorrelated_images_is_nan(rng):
    a, _ = _noisy_pair(rng, (170, 170))
    assert math.isnan(ms_ssim(a, 255 - a, crop=0))  # negative contrast-structure: undefined


def test_ms_ssim_too_small_raises_naming_the_size():
    img = np.zeros((200, 170), dtype=np.uint8)
    with pytest.raises(SisrError, match=r"190x160 after cropping 5.*>= 161"):
        ms_ssim(img, img, crop=5)
    assert ms_ssim(img, img, crop=4) == pytest.approx(1.0)  # 192 x 162 is enough


@pytest.mark.parametrize("metric", [psnr, ssim, ms_ssim, mse])
def test_shape_mismatch_names_both_shapes(metric):
    a = np.zeros((20, 20, 3), dtype=np.uint8)
    b = np.zeros((20, 21, 3), dtype=np.uint8)
    with pytest.raises(SisrError, match=r"\(20, 20, 3\) and HR \(20, 21, 3\)"):
        metric(a, b, crop=0)


def test_crop_errors():
    img = np.zeros((10, 10), dtype=np.uint8)
    with pytest.raises(SisrError, match="leaves nothing of a 10x10 image"):
        psnr(img, img, crop=5)
    with pytest.raises(SisrError, match="non-negative integer"):
        psnr(img, img, crop=-1)
    with pytest.raises(SisrError, match="smaller than the 11x11"):
        ssim(img, img, crop=0)
