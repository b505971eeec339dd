""""Their protocol" metric variants: how a study's authors computed their numbers, beside the standard protocol.

Each study table can then show three things side by side: the claimed number, our reproduction under the
authors' protocol (these columns), and the standard protocol (``psnr_y``, ``ssim_y``, ... in
``sisr.metrics.standard``). The function names are the column names. Every per-image function has the signature
``f(sr_u8, hr_u8, scale) -> float`` of ``sisr.metrics.registry`` (``scale`` is accepted and unused: none
of these protocols removes a border); ``fid_crop96`` is a set-level metric ``f(pairs, scale)``.

rrdb_gan: the authors' public code, williamdevena/Image_Super_Resolution, ``utils/metrics.py`` (commit 5938f00;
``calculate_metrics`` lines 7-35, ``calculate_lpips_distance`` lines 38-86), called by ``src/test.py``
(``testing_generator``) with HR and SR as float32 ``3 x H x W`` tensors in [0, 1]: HR from albumentations
``Normalize(mean=0, std=1)`` (uint8 times ``float32(1 / 255)``), SR the generator's output mapped by
``(x + 1) / 2``. Our SR is the evaluated uint8 PNG (clamped and quantised; their metrics saw the raw float
output): both images go through the same ``x.astype(float32) * float32(1 / 255)`` (:func:`unit_float32`).

- ``psnr_rgb_rrdb_gan``: ``skimage.metrics.peak_signal_noise_ratio(hr, sr)`` on these float32 H x W x 3 arrays,
  no ``data_range``: scikit-image infers 1 (float, HR >= 0) and computes the MSE in float32; no border removed.
- ``ssim_rgb_rrdb_gan``: ``skimage.metrics.structural_similarity(hr, sr, channel_axis=2)``, no ``data_range``.
  scikit-image before 0.20 inferred ``data_range`` from the dtype: ``dtype_range[float32] = (-1, 1)``, so 2 (its
  docs: "double the value of the desired range"); 0.20 and later raise ValueError for float input without
  ``data_range`` (the installed version does: ``tests/test_protocols.py``). Their call uses ``channel_axis``
  (0.19+) and produced numbers, so it ran on 0.19.x (their repository pins no version). Resolution: we pass
  ``data_range=2`` explicitly, what their code got; everything else at the defaults (7 x 7 uniform window, sample
  covariance, float32 filtering, mean over the image and channels).
- ``lpips_alex_standardised``: each image's channels standardised separately, ``(x_c - mean_c) / std_c`` with
  torch's (unbiased) std over that channel's pixels (torchvision ``Normalize(mean, std)`` with per-channel
  ``img.mean([1, 2])``, ``img.std([1, 2])``, lines 58-79), then ``lpips.LPIPS(net="alex")`` (v0.1, its
  defaults: no rescaling to [-1, 1]) on the standardised tensors, HR first (LPIPS is symmetric). Resolution: a
  constant channel (std 0, where torchvision raises) is only centred.

``psnr_rgb_skimage_noshave`` / ``ssim_rgb_skimage_noshave`` (residual_sweep's columns: the document names no
implementation): scikit-image on the uint8 RGB images with ``data_range=255``, no border removed.

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

from sisr.base.errors import SisrError
from sisr.metrics.basic import psnr, ssim
from sisr.metrics.perceptual import fid, lpips_from_tensors, read_set, rgb_tensor
from sisr.metrics.spec import Metric

if TYPE_CHECKING:  # torch and scikit-image are imported when a metric is computed, not when the registry is read
    import torch

CROP_SIZE = 96  # srresnet_edsr: HR training/validation crop size (LR 24 x 24 at x4)


def psnr_rgb_skimage_noshave(sr: np.ndarray, hr: np.ndarray, scale: int | None = None) -> float:
    """PSNR with scikit-image on uint8 RGB (data_range 255), no border removed (module docstring)."""
    from skimage.metrics import peak_signal_noise_ratio  # deferred: loads scipy (0.5 s); the dry run imports this module

    _check_pair(sr, hr, "psnr_rgb_skimage_noshave")
    return float(peak_signal_noise_ratio(hr, sr, data_range=255))


def ssim_rgb_skimage_noshave(sr: np.ndarray, hr: np.ndarray, scale: int | None = None) -> float:
    """SSIM with scikit-image's defaults on uint8 RGB (data_range 255), no border removed."""
    from skimage.metrics import structural_similarity  # deferred: loads scipy (0.5 s); the dry run imports this module

    _check_pair(sr, hr, "ssim_rgb_skimage_noshave")
    return float(structural_similarity(hr, sr, data_range=255, channel_axis=-1 if sr.ndim == 3 else None))


SSIM_FLOAT_DATA_RANGE = 2.0  # scikit-image < 0.20 for float input: dtype_range[float32] = (-1, 1), range 2


def unit_float32(img: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [0, 1] as albumentations ``Normalize(mean=0, std=1)``: times ``float32(1 / 255)``."""
    return img.astype(np.float32) * np.reciprocal(np.float32(255.0))


def psnr_rgb_rrdb_gan(sr: np.ndarray, hr: np.ndarray, scale: int | None = None) -> float:
    """PSNR as the rrdb_gan authors' code: scikit-image on float32 [0, 1] RGB, range inferred (module docstring)."""
    from skimage.metrics import peak_signal_noise_ratio  # deferred: loads scipy (0.5 s); the dry run imports this module

    _check_pair(sr, hr, "psnr_rgb_rrdb_gan")
    return float(peak_signal_noise_ratio(unit_float32(hr), unit_float32(sr)))


def ssim_rgb_rrdb_gan(sr: np.ndarray, hr: np.ndarray, scale: int | None = None) -> float:
    """SSIM as the rrdb_gan authors' code: scikit-image on float32 [0, 1] RGB with data_range 2 (module docstring)."""
    from skimage.metrics import structural_similarity  # deferred: loads scipy (0.5 s); the dry run imports this module

    _check_pair(sr, hr, "ssim_rgb_rrdb_gan")
    return float(structural_similarity(unit_float32(hr), unit_float32(sr), data_range=SSIM_FLOAT_DATA_RANGE,
                                       channel_axis=2 if sr.ndim == 3 else None))


def standardise(img: np.ndarray) -> torch.Tensor:
    """``3 x H x W`` float32: each channel of the image in [0, 1] minus its mean, divided by its std."""
    import torch  # deferred: torch; the workflow's dry run imports this module

    x = rgb_tensor(img, "lpips_alex_standardised")
    mean, std = x.mean([1, 2]), x.std([1, 2])
    std = torch.where(std > 0, std, torch.ones_like(std))  # a constant channel: only centred
    return (x - mean[:, None, None]) / std[:, None, None]


def lpips_alex_standardised(sr: np.ndarray, hr: np.ndarray, scale: int | None = None) -> float:
    """LPIPS-Alex after standardising each channel of each image (rrdb_gan authors' code, module docstring)."""
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
           protocol="residual_sweep"),
    Metric("ssim_rgb_skimage_noshave", ssim_rgb_skimage_noshave, decimals=4, label="SSIM (RGB, no shave)",
           protocol="residual_sweep"),
    Metric("psnr_rgb_rrdb_gan", psnr_rgb_rrdb_gan, decimals=2, label="PSNR (RGB, float32, no shave) [dB]",
           protocol="rrdb_gan"),
    Metric("ssim_rgb_rrdb_gan", ssim_rgb_rrdb_gan, decimals=4, label="SSIM (RGB, float, data_range 2)",
           protocol="rrdb_gan"),
    Metric("lpips_alex_standardised", lpips_alex_standardised, higher_is_better=False, decimals=4,
           label="LPIPS (AlexNet, standardised)", weights="alexnet", protocol="rrdb_gan"),
    Metric("psnr_y_crop96", psnr_y_crop96, decimals=2, label="PSNR (Y, centre 96x96) [dB]", protocol="srresnet_edsr"),
    Metric("ssim_y_crop96", ssim_y_crop96, decimals=4, label="SSIM (Y, centre 96x96)", protocol="srresnet_edsr"),
    Metric("psnr_rgb_crop96", psnr_rgb_crop96, decimals=2, label="PSNR (RGB, centre 96x96) [dB]",
           protocol="srresnet_edsr"),
    Metric("fid_crop96", fid_crop96, per_set=True, higher_is_better=False, decimals=2, label="FID (centre 96x96)",
           weights="fid_inception", protocol="srresnet_edsr", min_images=2),
)
