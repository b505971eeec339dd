"""Score a folder of SR images against a folder of HR images with the standard protocol.

Standard protocol (docs/REFERENCE.md): SR and HR as ``uint8``; HR cropped at the top-left to the SR size
(the LR was made from ``modcrop(HR, scale)``); ``scale`` border pixels removed on each side; PSNR/SSIM on
the Y channel (``*_y``) or on RGB (``*_rgb``). A grayscale image (``H x W``) is scored on its single
channel by every metric. A 3-channel SR of a grayscale HR (an RGB model given the gray LR repeated to three
channels, as Set14 ``bridge``) is first reduced to one channel by :func:`sr_for_hr`: its full-range BT.601
luma ``0.299 R + 0.587 G + 0.114 B``, rounded to uint8 (a gray SR, R = G = B, gives back its gray value).

Two registries of metric functions:

- ``METRICS``: per-image metrics ``f(sr_u8, hr_u8, scale) -> float``; one DataFrame column each.
- ``SET_METRICS``: set-level metrics (e.g. FID) ``f(pairs, scale) -> float``, where ``pairs`` is the list
  from :func:`pair_folders`; they read the images themselves (use :func:`load_pair` for the same
  cropping) so a large set need not be held in memory. Their values go to ``df.attrs["set_metrics"]``.

Both registries are explicit: the basic metrics below plus the dictionaries of ``metrics/perceptual.py``
(``lpips_alex``, ``lpips_vgg``; set-level ``fid``, ``fid_n``) and ``metrics/protocols.py`` (the
"their protocol" variants). Further metrics can be added with :func:`register_metric`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from sisr.errors import SisrError
from sisr.io import list_images, read_image
from sisr.metrics import ms_ssim, mse, psnr, ssim
from sisr.metrics.perceptual import PERCEPTUAL_METRICS, PERCEPTUAL_SET_METRICS
from sisr.metrics.protocols import PROTOCOL_METRICS, PROTOCOL_SET_METRICS

PerImageMetric = Callable[[np.ndarray, np.ndarray, int], float]
SetMetric = Callable[[list[tuple[str, Path, Path]], int], float]


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


METRICS: dict[str, PerImageMetric] = {
    "psnr_y": psnr_y,
    "ssim_y": ssim_y,
    "psnr_rgb": psnr_rgb,
    "ssim_rgb": ssim_rgb,
    "ms_ssim": ms_ssim_y,
    "mse": mse_rgb,
    "mse_noshave": mse_noshave,
    **PERCEPTUAL_METRICS,  # lpips_alex, lpips_vgg
    **PROTOCOL_METRICS,  # the "their protocol" variants of the studies
}
SET_METRICS: dict[str, SetMetric] = {**PERCEPTUAL_SET_METRICS, **PROTOCOL_SET_METRICS}  # fid, ...

DEFAULT_METRICS = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb")
# The standard metrics whose third argument is the border removed (``scale`` in the standard protocol).
BORDER_METRICS = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb", "ms_ssim", "mse")


def register_metric(name: str, fn: PerImageMetric | SetMetric, *, set_level: bool = False) -> None:
    """Add a metric: per image (``fn(sr_u8, hr_u8, scale)``) or per set (``fn(pairs, scale)``)."""
    if name in METRICS or name in SET_METRICS:
        raise SisrError(f"register_metric: a metric named {name!r} is already registered")
    (SET_METRICS if set_level else METRICS)[name] = fn


def _strip_scale(stem: str, scale: int) -> str:
    suffix = f"x{scale}"
    return stem[: -len(suffix)] if stem.endswith(suffix) and len(stem) > len(suffix) else stem


def _by_name(folder: Path, scale: int) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for path in list_images(folder):
        name = _strip_scale(path.stem, scale)
        if name in files:
            raise SisrError(f"{folder}: {files[name].name} and {path.name} both match the image name {name!r}")
        files[name] = path
    return files


def pair_folders(sr_dir: str | os.PathLike, hr_dir: str | os.PathLike, *, scale: int) -> list[tuple[str, Path, Path]]:
    """Match SR and HR files by stem, ignoring a trailing ``x{scale}`` (``babyx4.png`` <-> ``baby.png``).

    Returns ``(name, sr_path, hr_path)`` sorted by name. Every file of both folders must have a partner;
    otherwise SisrError names the unmatched files.
    """
    sr_files, hr_files = _by_name(Path(sr_dir), scale), _by_name(Path(hr_dir), scale)
    only_sr = sorted(sr_files[n].name for n in sr_files.keys() - hr_files.keys())
    only_hr = sorted(hr_files[n].name for n in hr_files.keys() - sr_files.keys())
    if only_sr or only_hr:
        raise SisrError(f"pair_folders: unmatched files (x{scale}); in {sr_dir} without HR: {only_sr or 'none'}; "
                        f"in {hr_dir} without SR: {only_hr or 'none'}")
    if not sr_files:
        raise SisrError(f"pair_folders: no images in {sr_dir} and {hr_dir}")
    return [(name, sr_files[name], hr_files[name]) for name in sorted(sr_files)]


LUMA_601 = np.array([0.299, 0.587, 0.114])  # full-range BT.601 luma (the standard Y without 16..235)


def sr_for_hr(sr: np.ndarray, hr: np.ndarray) -> np.ndarray:
    """The SR image in the channels of the HR: a 3-channel SR of a grayscale HR becomes its full-range BT.601
    luma (``0.299 R + 0.587 G + 0.114 B``, rounded to uint8), so that it is scored on the HR's own channel;
    any other SR is returned as it is."""
    if sr.ndim == 3 and sr.shape[2] == 3 and hr.ndim == 2:
        return np.clip(np.rint(sr.astype(np.float64) @ LUMA_601), 0, 255).astype(np.uint8)
    return sr


def load_pair(sr_path: str | os.PathLike, hr_path: str | os.PathLike, *, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Read an SR and an HR image (``mode="any"``) and crop HR at the top-left to the SR size.

    The SR may be smaller than HR by less than ``scale`` pixels per side (HR not divisible by ``scale``);
    a 3-channel SR of a grayscale HR is reduced to one channel (:func:`sr_for_hr`); any other size or channel
    mismatch raises SisrError naming both files and shapes.
    """
    sr, hr = read_image(sr_path, mode="any"), read_image(hr_path, mode="any")
    sr = sr_for_hr(sr, hr)
    h, w = sr.shape[:2]
    fits = 0 <= hr.shape[0] - h < scale and 0 <= hr.shape[1] - w < scale
    if not fits or sr.ndim != hr.ndim:
        raise SisrError(f"size mismatch: SR {sr_path} {sr.shape} vs HR {hr_path} {hr.shape}; expected the HR "
                        f"to be the SR size plus less than {scale} pixels per side, with the same channels")
    return sr, hr[:h, :w]


def check_metric_names(metrics: Sequence[str]) -> None:
    """Raise SisrError listing the valid names if any of ``metrics`` is not registered."""
    unknown = [m for m in metrics if m not in METRICS and m not in SET_METRICS]
    if unknown:
        valid = sorted([*METRICS, *SET_METRICS])
        raise SisrError(f"unknown metric(s) {unknown}; valid metrics: {', '.join(valid)}")




def evaluate_folders(
    sr_dir: str | os.PathLike,
    hr_dir: str | os.PathLike,
    *,
    scale: int,
    metrics: Sequence[str] = DEFAULT_METRICS,
    border: int | None = None,
) -> pd.DataFrame:
    """Per-image metrics of the SR folder against the HR folder (see the module docstring for the protocol).

    ``border``: pixels removed at each border by the standard metrics (``BORDER_METRICS``) instead of ``scale``
    (``sisr evaluate --crop-border``); the their-protocol and perceptual metrics keep their own crops.

    Returns a DataFrame with columns ``image, height, width`` (the scored size, before the border crop)
    and one column per per-image metric, one row per image sorted by name. Set-level metrics in
    ``metrics`` are stored in ``df.attrs["set_metrics"]`` (name -> value).
    """
    metrics = list(metrics)
    check_metric_names(metrics)
    pairs = pair_folders(sr_dir, hr_dir, scale=scale)
    per_image = [m for m in metrics if m in METRICS]
    rows = []
    for name, sr_path, hr_path in pairs:
        sr, hr = load_pair(sr_path, hr_path, scale=scale)
        row: dict[str, object] = {"image": name, "height": sr.shape[0], "width": sr.shape[1]}
        for metric in per_image:
            crop = border if border is not None and metric in BORDER_METRICS else scale
            row[metric] = METRICS[metric](sr, hr, crop)
        rows.append(row)
    df = pd.DataFrame(rows, columns=["image", "height", "width", *per_image])
    df.attrs["set_metrics"] = {m: SET_METRICS[m](pairs, scale) for m in metrics if m in SET_METRICS}
    return df
