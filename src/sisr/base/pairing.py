"""Pairing SR images with their HR images: by file name, HR cropped to the SR size.

Below the metrics: the per-set metrics (FID) read their images with :func:`load_pair`, the evaluation
loop pairs folders with :func:`pair_folders`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sisr.base.colour import LUMA_601
from sisr.base.errors import SisrError
from sisr.base.io import IMAGE_SUFFIXES, SCALE_KEY, image_text, list_images, read_image


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


def _other_scale(names: list[str], others: set[str], scale: int) -> int | None:
    """The scale k != ``scale`` whose ``x{k}`` suffix, stripped from every one of ``names``, matches ``others``."""
    for k in (2, 3, 4):
        if k != scale and names and all(n.endswith(f"x{k}") and _strip_scale(n, k) in others for n in names):
            return k
    return None


def pair_folders(sr_dir: str | os.PathLike, hr_dir: str | os.PathLike, *, scale: int) -> list[tuple[str, Path, Path]]:
    """Match SR and HR files by stem, ignoring a trailing ``x{scale}`` (``babyx4.png`` <-> ``baby.png``).

    Returns ``(name, sr_path, hr_path)`` sorted by name. Every file of both folders must have a partner;
    otherwise SisrError names the unmatched files (and the scale their names carry, if another).
    """
    sr_files, hr_files = _by_name(Path(sr_dir), scale), _by_name(Path(hr_dir), scale)
    empty = [f"the SR folder {sr_dir}"] * (not sr_files) + [f"the HR folder {hr_dir}"] * (not hr_files)
    if empty:
        raise SisrError(f"no images in {' nor in '.join(empty)} (looked for {', '.join(IMAGE_SUFFIXES)} files)")
    only_sr = sorted(sr_files.keys() - hr_files.keys())
    only_hr = sorted(hr_files[n].name for n in hr_files.keys() - sr_files.keys())
    if only_sr or only_hr:
        other = _other_scale(only_sr, set(hr_files), scale)
        if other:
            raise SisrError(f"{sr_dir}: the SR files are named x{other} ({sr_files[only_sr[0]].name}) but the scale "
                            f"is {scale}: give --scale {other} if they were made at x{other}")
        listed = sorted(sr_files[n].name for n in only_sr)
        raise SisrError(f"SR and HR files do not pair up by name (a trailing x{scale} ignored): in {sr_dir} without "
                        f"HR: {listed or 'none'}; in {hr_dir} without SR: {only_hr or 'none'}")
    return [(name, sr_files[name], hr_files[name]) for name in sorted(sr_files)]


def check_made_at(pairs: list[tuple[str, Path, Path]], scale: int) -> None:
    """SisrError when an SR image says (its PNG's ``sisr:scale``, written by ``sisr upscale`` and the workflow)
    that it was made at another scale than ``scale``: its size cannot tell when the HR is a multiple of both."""
    for _, sr_path, hr_path in pairs:
        made = image_text(sr_path).get(SCALE_KEY)
        if made is not None and made != str(scale):
            sr, hr = (read_image(p, mode="any") for p in (sr_path, hr_path))
            raise SisrError(f"{sr_path}: made at x{made} (its PNG says so), but the scale is {scale}; SR "
                            f"{_describe(sr)}, HR {hr_path} {_describe(hr)}: give --scale {made}")




def sr_for_hr(sr: np.ndarray, hr: np.ndarray) -> np.ndarray:
    """The SR image in the channels of the HR: a 3-channel SR of a grayscale HR becomes its full-range BT.601
    luma (``0.299 R + 0.587 G + 0.114 B``, rounded to uint8), so that it is scored on the HR's own channel;
    any other SR is returned as it is. The same pixels for any memory layout of ``sr`` (a model's output is a
    transposed view; the matrix product's rounding would depend on it)."""
    if sr.ndim == 3 and sr.shape[2] == 3 and hr.ndim == 2:
        return np.clip(np.rint(np.ascontiguousarray(sr, dtype=np.float64) @ LUMA_601), 0, 255).astype(np.uint8)
    return sr


def _fits(sr: np.ndarray, hr: np.ndarray, scale: int) -> bool:
    """HR is the SR size plus less than ``scale`` pixels per side, with the same channels (SR already reduced
    to the HR's channels by :func:`sr_for_hr`)."""
    h, w = sr.shape[:2]
    return 0 <= hr.shape[0] - h < scale and 0 <= hr.shape[1] - w < scale and sr.ndim == hr.ndim


def _describe(img: np.ndarray) -> str:
    return f"{img.shape[1]}x{img.shape[0]} {'gray' if img.ndim == 2 else 'RGB'}"


def mismatch(sr_path, sr: np.ndarray, hr_path, hr: np.ndarray, scale: int) -> str:
    """One line saying what differs between an SR and an HR image that do not fit (channels, sizes), and what
    would fit: the folders swapped, another scale, or an LR image given as SR."""
    (h, w), (hh, hw) = sr.shape[:2], hr.shape[:2]
    differs = []
    if sr_for_hr(sr, hr).ndim != hr.ndim:
        differs.append("channels differ" + (" (a colour HR needs a colour SR)" if hr.ndim == 3 else ""))
    if not (0 <= hh - h < scale and 0 <= hw - w < scale):
        differs.append(f"sizes differ (the HR must be the SR size plus less than {scale} pixels per side)")
    line = f"SR {sr_path} ({_describe(sr)}) does not fit HR {hr_path} ({_describe(hr)}): {'; '.join(differs)}"
    if _fits(sr_for_hr(hr, sr), sr, scale):
        return line + "; swapped they would fit: were the folders given in the wrong order? (SR first, then HR)"
    others = [k for k in (2, 3, 4) if k != scale and hh - hh % k == h and hw - hw % k == w]
    if others and sr.ndim == hr.ndim:
        made = " or ".join(f"x{k}" for k in others)
        return line + f"; the SR size is the HR's cropped as at {made}: was it made at {made}?"
    if sr.ndim == hr.ndim and (h, w) == (hh // scale, hw // scale):
        return line + f"; the SR is the HR's size / {scale}: is it the LR image?"
    return line


def load_pair(sr_path: str | os.PathLike, hr_path: str | os.PathLike, *, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Read an SR and an HR image (``mode="any"``) and crop HR at the top-left to the SR size.

    The SR may be smaller than HR by less than ``scale`` pixels per side (HR not divisible by ``scale``);
    a 3-channel SR of a grayscale HR is reduced to one channel (:func:`sr_for_hr`); any other size or channel
    mismatch raises SisrError naming both files, what differs and what would fit (:func:`mismatch`).
    """
    sr, hr = read_image(sr_path, mode="any"), read_image(hr_path, mode="any")
    reduced = sr_for_hr(sr, hr)
    if not _fits(reduced, hr, scale):
        raise SisrError(mismatch(sr_path, sr, hr_path, hr, scale))
    h, w = reduced.shape[:2]
    return reduced, hr[:h, :w]
