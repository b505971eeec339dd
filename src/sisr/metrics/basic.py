"""Standard full-reference SR metrics: PSNR, SSIM, MS-SSIM, MSE, and the BT.601 luma (Y) channel.

Input contract (all functions): ``sr`` and ``hr`` of the same shape, ``H x W x 3`` (RGB) or ``H x W``
(single channel), on the **0..255 scale**: ``uint8`` as read from PNG (the standard protocol), or a
floating-point array on the same scale (unrounded values, e.g. in tests). Everything is computed in
float64. ``crop`` pixels are removed from each side before scoring (the standard protocol uses
``crop = scale``).

``y_channel=True`` scores the Y channel of an RGB image (:func:`rgb_to_y`, unrounded, as MATLAB's
``rgb2ycbcr`` on doubles); a single-channel image is scored on its own channel (no 16..235 mapping),
as the MATLAB evaluation scripts do for grayscale images such as Set14 ``bridge.png``.
``y_channel=False`` scores RGB: PSNR over all values, SSIM / MS-SSIM as the mean over the channels.

Sources: SSIM as Wang et al.'s MATLAB ``ssim_index.m`` (11 x 11 Gaussian window, sigma 1.5,
K = (0.01, 0.03), L = 255, 'valid' filtering); MS-SSIM as Wang, Simoncelli & Bovik 2003 and their
``msssim.m``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import correlate1d

from sisr.errors import SisrError

# BT.601 luma for RGB in [0, 1]: Y = 16 + 65.481 R + 128.553 G + 24.966 B (range 16..235).
_Y_COEFFS = np.array([65.481, 128.553, 24.966]) / 255.0

_SSIM_WINDOW_SIZE = 11
_SSIM_SIGMA = 1.5
_SSIM_C1 = (0.01 * 255) ** 2
_SSIM_C2 = (0.03 * 255) ** 2
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MS_SSIM_MIN_SIZE = (_SSIM_WINDOW_SIZE - 1) * 2 ** (len(MS_SSIM_WEIGHTS) - 1) + 1  # 161


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB image on the 0..255 scale: ``16 + (65.481 R + 128.553 G + 24.966 B) / 255``.

    img: ``H x W x 3`` (uint8, or float on the 0..255 scale) -> ``H x W`` float64 in 16..235, not rounded
    (MATLAB ``rgb2ycbcr`` on ``double(img) / 255``, times 255). A single-channel ``H x W`` image is
    returned as float64 unchanged.
    """
    if img.ndim == 2:
        return img.astype(np.float64)
    if img.ndim != 3 or img.shape[2] != 3:
        raise SisrError(f"rgb_to_y: expected H x W x 3 or H x W, got shape {img.shape}")
    return 16.0 + img.astype(np.float64) @ _Y_COEFFS


def _prepare(sr: np.ndarray, hr: np.ndarray, crop: int, y_channel: bool, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes, crop the border, convert to float64 (Y if asked); returns H x W or H x W x C arrays."""
    if sr.shape != hr.shape:
        raise SisrError(f"{name}: SR {sr.shape} and HR {hr.shape} must have the same shape")
    if not (sr.ndim == 2 or (sr.ndim == 3 and sr.shape[2] == 3)):
        raise SisrError(f"{name}: expected H x W x 3 or H x W images, got shape {sr.shape}")
    if int(crop) != crop or crop < 0:
        raise SisrError(f"{name}: crop must be a non-negative integer, got {crop}")
    crop = int(crop)
    h, w = sr.shape[:2]
    if h <= 2 * crop or w <= 2 * crop:
        raise SisrError(f"{name}: crop {crop} on each side leaves nothing of a {h}x{w} image")
    if crop:
        sr, hr = sr[crop:-crop, crop:-crop], hr[crop:-crop, crop:-crop]
    if y_channel:
        return rgb_to_y(sr), rgb_to_y(hr)
    return sr.astype(np.float64), hr.astype(np.float64)


def psnr(sr: np.ndarray, hr: np.ndarray, *, crop: int, y_channel: bool = True) -> float:
    """Peak signal-to-noise ratio in dB, peak 255: ``10 log10(255^2 / MSE)``.

    Returns ``inf`` for identical images (MSE = 0). See the module docstring for the input contract.
    """
    a, b = _prepare(sr, hr, crop, y_channel, "psnr")
    err = float(np.mean((a - b) ** 2))
    if err == 0.0:
        return float("inf")
    return float(10.0 * np.log10(255.0**2 / err))


def mse(sr: np.ndarray, hr: np.ndarray, *, crop: int = 0) -> float:
    """Mean squared error of the images scaled to [0, 1] (what a training L2 loss sees), over all channels."""
    a, b = _prepare(sr, hr, crop, False, "mse")
    return float(np.mean((a / 255.0 - b / 255.0) ** 2))


def _gaussian_1d() -> np.ndarray:
    x = np.arange(_SSIM_WINDOW_SIZE, dtype=np.float64) - (_SSIM_WINDOW_SIZE - 1) / 2
    g = np.exp(-(x**2) / (2 * _SSIM_SIGMA**2))
    return g / g.sum()  # the outer product equals MATLAB fspecial('gaussian', 11, 1.5)


_GAUSS = _gaussian_1d()


def _filter_valid(img: np.ndarray) -> np.ndarray:
    """2-D Gaussian filtering keeping only the 'valid' part (MATLAB ``filter2(w, img, 'valid')``)."""
    out = correlate1d(correlate1d(img, _GAUSS, axis=0, mode="nearest"), _GAUSS, axis=1, mode="nearest")
    r = _SSIM_WINDOW_SIZE // 2  # the border mode never reaches the valid region
    return out[r:-r, r:-r]


def _ssim_maps(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SSIM map and contrast-structure map of two single-channel float64 images ('valid' size)."""
    mu_a, mu_b = _filter_valid(a), _filter_valid(b)
    var_a = _filter_valid(a * a) - mu_a * mu_a
    var_b = _filter_valid(b * b) - mu_b * mu_b
    cov = _filter_valid(a * b) - mu_a * mu_b
    cs_map = (2 * cov + _SSIM_C2) / (var_a + var_b + _SSIM_C2)
    lum_map = (2 * mu_a * mu_b + _SSIM_C1) / (mu_a * mu_a + mu_b * mu_b + _SSIM_C1)
    return lum_map * cs_map, cs_map


def _check_window(shape: tuple[int, ...], need: int, name: str) -> None:
    if min(shape[:2]) < need:
        raise SisrError(f"{name}: the image ({shape[0]}x{shape[1]} after cropping) is smaller than the "
                        f"{need}x{need} needed")


def _channels(a: np.ndarray) -> list[np.ndarray]:
    return [a] if a.ndim == 2 else [a[:, :, c] for c in range(a.shape[2])]


def ssim(sr: np.ndarray, hr: np.ndarray, *, crop: int, y_channel: bool = True) -> float:
    """Structural similarity (Wang et al. 2004), as MATLAB ``ssim_index.m`` with its defaults.

    11 x 11 Gaussian window (sigma 1.5), C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2, mean of the SSIM map
    over the 'valid' region (no padding). RGB (``y_channel=False``): mean over the three channels.
    """
    a, b = _prepare(sr, hr, crop, y_channel, "ssim")
    _check_window(a.shape, _SSIM_WINDOW_SIZE, "ssim")
    return float(np.mean([_ssim_maps(ca, cb)[0].mean() for ca, cb in zip(_channels(a), _channels(b))]))


def _halve(img: np.ndarray) -> np.ndarray:
    """2 x 2 average then keep every second pixel, as ``msssim.m`` (imfilter 'symmetric' + 1:2:end).

    For even sizes this is 2 x 2 average pooling; an odd last row/column is averaged with its mirror
    (itself), so the result has ``ceil(n / 2)`` rows and columns.
    """
    h, w = img.shape
    padded = np.pad(img, ((0, h % 2), (0, w % 2)), mode="symmetric")
    return 0.25 * (padded[0::2, 0::2] + padded[1::2, 0::2] + padded[0::2, 1::2] + padded[1::2, 1::2])


def _ms_ssim_channel(a: np.ndarray, b: np.ndarray) -> float:
    levels = len(MS_SSIM_WEIGHTS)
    value = 1.0
    for level, weight in enumerate(MS_SSIM_WEIGHTS):
        ssim_map, cs_map = _ssim_maps(a, b)
        term = float(cs_map.mean() if level < levels - 1 else ssim_map.mean())
        if term < 0:  # unrelated images: msssim.m would return a complex number
            return math.nan
        value *= term**weight
        a, b = _halve(a), _halve(b)
    return value


def ms_ssim(sr: np.ndarray, hr: np.ndarray, *, crop: int, y_channel: bool = True) -> float:
    """Multi-scale SSIM (Wang, Simoncelli & Bovik 2003), as their ``msssim.m``.

    5 scales with weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333); contrast-structure at the first four
    scales, luminance * contrast-structure at the last; 2 x 2 average downsampling between scales (see
    :func:`_halve`). The SSIM window and constants are those of :func:`ssim`. The image must be at least
    161 x 161 after cropping (11 x 11 window at the 5th scale); smaller images raise SisrError.
    Returns nan when a scale's mean term is negative (unrelated images), where ``msssim.m`` gives a
    complex number.
    RGB (``y_channel=False``): mean over the three channels.
    """
    a, b = _prepare(sr, hr, crop, y_channel, "ms_ssim")
    if min(a.shape[:2]) < MS_SSIM_MIN_SIZE:
        raise SisrError(f"ms_ssim: the image is {a.shape[0]}x{a.shape[1]} after cropping {crop} pixels per side; "
                        f"5 scales with an 11x11 window need both sides >= {MS_SSIM_MIN_SIZE}")
    return float(np.mean([_ms_ssim_channel(ca, cb) for ca, cb in zip(_channels(a), _channels(b))]))
