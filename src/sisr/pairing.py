"""Pairing SR images with their HR images: by file name, HR cropped to the SR size.

Below the metrics: the per-set metrics (FID) read their images with :func:`load_pair`, the evaluation
loop pairs folders with :func:`pair_folders`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sisr.errors import SisrError
from sisr.io import list_images, read_image


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
    any other SR is returned as it is. The same pixels for any memory layout of ``sr`` (a model's output is a
    transposed view; the matrix product's rounding would depend on it)."""
    if sr.ndim == 3 and sr.shape[2] == 3 and hr.ndim == 2:
        return np.clip(np.rint(np.ascontiguousarray(sr, dtype=np.float64) @ LUMA_601), 0, 255).astype(np.uint8)
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
