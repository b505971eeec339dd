""""Their protocol" metric variants: how a study's authors computed their numbers, beside the standard protocol.

Each study table can then show three things side by side: the claimed number, our reproduction under the
authors' protocol (these columns), and the standard protocol (``psnr_y``, ``ssim_y``, ... in
``sisr.metrics.standard``). The function names are the column names. Every per-image function has the signature
``f(sr_u8, hr_u8, scale) -> float`` of ``sisr.metrics.registry`` (``scale`` is accepted and unused: none
of these protocols removes a border); ``fid_crop96`` is a set-level metric ``f(pairs, scale)``.

rrdb_gan (docs/STUDIES.md: the authors' public code uses scikit-image on RGB, and LPIPS-Alex after
standardising each image by its own mean and standard deviation):

- ``psnr_rgb_skimage_noshave``: ``skimage.metrics.peak_signal_noise_ratio(hr, sr, data_range=255)`` on the
  uint8 RGB images, no border removed.
- ``ssim_rgb_skimage_noshave``: ``skimage.metrics.structural_similarity(hr, sr, data_range=255,
  channel_axis=-1)`` (``channel_axis=None`` for a single-channel image), every other argument at its
  default: 7 x 7 uniform window, sample covariance, K1 = 0.01, K2 = 0.03, mean over the image and channels.
  (Older scikit-image wrote ``multichannel=True``; same computation.) We pass ``data_range=255`` with
  uint8 input, which is what scikit-image infers from the uint8 dtype.
- ``lpips_alex_standardised``: each image, as float RGB in [0, 1] (single channel repeated), is replaced
  by ``(x - x.mean()) / x.std()`` with the mean and the (unbiased, torch's default) standard deviation
  taken over all its pixels and channels; LPIPS v0.1 with AlexNet is computed on these tensors as they are
  (not rescaled to [-1, 1]). A constant image (std 0) is only centred. This is our reading of the report;
  if their code standardised per channel, ``standardise`` is the one place to change.

srresnet_edsr (docs/STUDIES.md: the claimed 34-36 dB at x4 can only come from another protocol; the
authors evaluated during training on 96 x 96 validation crops):

- ``center_crop(img, 96)`` of SR and HR (the HR crop size of their training, centred: our choice, the
  report does not say where the crop lies), then our standard metric functions on the crop with no border
  removed: ``psnr_y_crop96``, ``ssim_y_crop96`` (Y channel) and ``psnr_rgb_crop96`` (RGB);
  ``fid_crop96``: FID between the sets of SR and HR centre crops (one crop per image).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Sequence

import numpy as np

from sisr.errors import SisrError
from sisr.metrics.basic import psnr, ssim
from sisr.metrics.perceptual import fid, lpips_from_tensors, read_set, rgb_tensor
from sisr.metrics.spec import Metric

if TYPE_CHECKING:  # torch and scikit-image are imported when a metric is computed, not when the registry is read
    import torch

CROP_SIZE = 96  # srresnet_edsr: HR training/validation crop size (LR 24 x 24 at x4)


def psnr_rgb_skimage_noshave(sr: np.ndarray, hr: np.ndarray, scale: int | None = None) -> float:
    """PSNR as the rrdb_gan authors' code: scikit-image on uint8 RGB, no border removed (module docstring)."""
    from skimage.metrics import peak_signal_noise_ratio

    _check_pair(sr, hr, "psnr_rgb_skimage_noshave")
    return float(peak_signal_noise_ratio(hr, sr, data_range=255))


def ssim_rgb_skimage_noshave(sr: np.ndarray, hr: np.ndarray, scale: int | None = None) -> float:
    """SSIM as the rrdb_gan authors' code: scikit-image defaults on uint8 RGB, no border removed."""
    from skimage.metrics import structural_similarity

    _check_pair(sr, hr, "ssim_rgb_skimage_noshave")
    return float(structural_similarity(hr, sr, data_range=255, channel_axis=-1 if sr.ndim == 3 else None))


def standardise(img: np.ndarray) -> torch.Tensor:
    """``3 x H x W`` float32: the image in [0, 1] minus its mean, divided by its std (all pixels and channels)."""
    x = rgb_tensor(img, "lpips_alex_standardised")
    x = x - x.mean()
    std = x.std()
    return x / std if std > 0 else x


def lpips_alex_standardised(sr: np.ndarray, hr: np.ndarray, scale: int | None = None) -> float:
    """LPIPS-Alex after standardising each image by its own mean and std (rrdb_gan authors' code)."""
    _check_pair(sr, hr, "lpips_alex_standardised")
    return float(lpips_from_tensors([standardise(sr)], [standardise(hr)], net="alex")[0])


def center_crop(img: np.ndarray, size: int) -> np.ndarray:
    """The centred ``size x size`` crop (top-left corner at ``((H - size) // 2, (W - size) // 2)``)."""
    h, w = img.shape[:2]
    if h < size or w < size:
        raise SisrError(f"center_crop: a {h}x{w} image is smaller than the {size}x{size} crop")
    top, left = (h - size) // 2, (w - size) // 2
    return img[top:top + size, left:left + size]


def psnr_y_crop96(sr: np.ndarray, hr: np.ndarray, scale: int | None = None) -> float:
    """PSNR on Y of the centred 96 x 96 crops, no border removed (srresnet_edsr's protocol)."""
    _check_pair(sr, hr, "psnr_y_crop96")
    return psnr(center_crop(sr, CROP_SIZE), center_crop(hr, CROP_SIZE), crop=0, y_channel=True)


def ssim_y_crop96(sr: np.ndarray, hr: np.ndarray, scale: int | None = None) -> float:
    """SSIM on Y of the centred 96 x 96 crops, no border removed (srresnet_edsr's protocol)."""
    _check_pair(sr, hr, "ssim_y_crop96")
    return ssim(center_crop(sr, CROP_SIZE), center_crop(hr, CROP_SIZE), crop=0, y_channel=True)


def psnr_rgb_crop96(sr: np.ndarray, hr: np.ndarray, scale: int | None = None) -> float:
    """PSNR over RGB of the centred 96 x 96 crops, no border removed (srresnet_edsr's protocol)."""
    _check_pair(sr, hr, "psnr_rgb_crop96")
    return psnr(center_crop(sr, CROP_SIZE), center_crop(hr, CROP_SIZE), crop=0, y_channel=False)


def fid_crop96(pairs: Sequence[tuple[str, os.PathLike, os.PathLike]], scale: int) -> float:
    """Set-level: FID between the centred 96 x 96 crops of the SR and of the HR images (srresnet_edsr)."""
    sr = (center_crop(img, CROP_SIZE) for img in read_set(pairs, scale, "sr"))
    hr = (center_crop(img, CROP_SIZE) for img in read_set(pairs, scale, "hr"))
    return fid(sr, hr)[0]


def _check_pair(sr: np.ndarray, hr: np.ndarray, name: str) -> None:
    if sr.shape != hr.shape:
        raise SisrError(f"{name}: SR {sr.shape} and HR {hr.shape} must have the same shape")
    if sr.dtype != np.uint8 or hr.dtype != np.uint8:
        raise SisrError(f"{name}: expected uint8 images, got SR {sr.dtype} and HR {hr.dtype}")


# The records of sisr.metrics.registry (one per column).
METRICS = (
    Metric("psnr_rgb_skimage_noshave", psnr_rgb_skimage_noshave, decimals=2, label="PSNR (RGB, no shave) [dB]",
           protocol="rrdb_gan"),
    Metric("ssim_rgb_skimage_noshave", ssim_rgb_skimage_noshave, decimals=4, label="SSIM (RGB, no shave)",
           protocol="rrdb_gan"),
    Metric("lpips_alex_standardised", lpips_alex_standardised, higher_is_better=False, decimals=4,
           label="LPIPS (AlexNet, standardised)", weights="alexnet", protocol="rrdb_gan"),
    Metric("psnr_y_crop96", psnr_y_crop96, decimals=2, label="PSNR (Y, centre 96x96) [dB]", protocol="srresnet_edsr"),
    Metric("ssim_y_crop96", ssim_y_crop96, decimals=4, label="SSIM (Y, centre 96x96)", protocol="srresnet_edsr"),
    Metric("psnr_rgb_crop96", psnr_rgb_crop96, decimals=2, label="PSNR (RGB, centre 96x96) [dB]",
           protocol="srresnet_edsr"),
    Metric("fid_crop96", fid_crop96, per_set=True, higher_is_better=False, decimals=2, label="FID (centre 96x96)",
           weights="fid_inception", protocol="srresnet_edsr"),
)
