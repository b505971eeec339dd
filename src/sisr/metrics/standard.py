"""The standard-protocol columns (docs/REFERENCE.md): SR and HR as uint8, ``scale`` border pixels removed on
each side, PSNR / SSIM / MS-SSIM on the BT.601 Y channel (``*_y``) or on RGB (``*_rgb``); a single-channel
image is scored on its own channel by every column. The kernels are in :mod:`sisr.metrics.basic` (NumPy, or
torch for tensors: every record here is ``on_device``).
"""

from __future__ import annotations

import numpy as np

from sisr.metrics.basic import ms_ssim, mse, psnr, ssim
from sisr.metrics.spec import Metric


def psnr_y(sr: np.ndarray, hr: np.ndarray, scale: int) -> float:
    """PSNR on Y (single channel as is), border ``scale``."""
    return psnr(sr, hr, crop=scale, y_channel=True)


def ssim_y(sr: np.ndarray, hr: np.ndarray, scale: int) -> float:
    """SSIM on Y (single channel as is), border ``scale``."""
    return ssim(sr, hr, crop=scale, y_channel=True)


def psnr_rgb(sr: np.ndarray, hr: np.ndarray, scale: int) -> float:
    """PSNR over the RGB values (single channel as is), border ``scale``."""
    return psnr(sr, hr, crop=scale, y_channel=False)


def ssim_rgb(sr: np.ndarray, hr: np.ndarray, scale: int) -> float:
    """SSIM averaged over R, G, B (single channel as is), border ``scale``."""
    return ssim(sr, hr, crop=scale, y_channel=False)


def ms_ssim_y(sr: np.ndarray, hr: np.ndarray, scale: int) -> float:
    """MS-SSIM on Y (single channel as is), border ``scale``; needs >= 161 pixels per side after the crop."""
    return ms_ssim(sr, hr, crop=scale, y_channel=True)


def mse_rgb(sr: np.ndarray, hr: np.ndarray, scale: int) -> float:
    """MSE of [0, 1] values over all channels, border ``scale`` (same crop as the other metrics)."""
    return mse(sr, hr, crop=scale)


def mse_noshave(sr: np.ndarray, hr: np.ndarray, scale: int) -> float:
    """MSE of [0, 1] values over all channels and the whole image (no border removed): training-loss units."""
    return mse(sr, hr, crop=0)


# The records of sisr.metrics.registry (one per column).
METRICS = (
    Metric("psnr_y", psnr_y, decimals=2, label="PSNR (Y) [dB]", border=True, on_device=True),
    Metric("ssim_y", ssim_y, decimals=4, label="SSIM (Y)", border=True, on_device=True),
    Metric("psnr_rgb", psnr_rgb, decimals=2, label="PSNR (RGB) [dB]", border=True, on_device=True),
    Metric("ssim_rgb", ssim_rgb, decimals=4, label="SSIM (RGB)", border=True, on_device=True),
    Metric("ms_ssim", ms_ssim_y, decimals=4, label="MS-SSIM", border=True, on_device=True),
    Metric("mse", mse_rgb, higher_is_better=False, decimals=7, label="MSE (images in [0, 1])", border=True, on_device=True),
    Metric("mse_noshave", mse_noshave, higher_is_better=False, decimals=7, label="MSE (images in [0, 1], no shave)",
           on_device=True),
)
