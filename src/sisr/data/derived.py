"""Derived datasets the studies need, built deterministically from their sources and described by a manifest.

Each builder writes ``out_dir/{split}/HR/<name>.png`` and ``out_dir/{split}/LR_bicubic/X{s}/<name>x{s}.png``
(the benchmark layout, read by ``get_dataset(<builder name>, root=out_dir, ...)``) and ``out_dir/manifest.json``:

  {"dataset", "seed", "params", "sources": [{"name", "file", "sha256"}],            the source images (file bytes)
   "splits": {split: [{"name", "source", "box": [top, left, height, width], ...,  what was cut from which source
                       "hr_sha256", "lr_sha256"}]},                               pixel checksums of the outputs
   "skipped": [{"name", "reason"}]}

Output checksums are ``sha256_pixels`` (shape + uint8 pixels), so they do not depend on the PNG encoder; the
manifest is written with sorted keys and holds no absolute path or time, so the same sources, parameters and
seed give the same manifest bytes anywhere. The folder is built beside ``out_dir`` and swapped in when complete.

Builders (defaults are the studies' numbers; see docs/STUDIES.md):
  residual_sweep  128x128 HR tiles / 32x32 LR (x4) cut from DF2K HR at random positions; 7000 / 1250 / 500
                  train / valid / test. Source images are shuffled by the seed and split in proportion to the
                  counts, so no image gives tiles to two splits; tile j of a split comes from the split's image
                  j mod n (tiles of one image may overlap). The study's test set is LR-only; we keep its HR too.
  rrdb_gan        DIV2K HR (900) halved, LR x4 of that; 700 / 100 / 100 train / valid / test by the seed.
                  halve="opencv" (default, the authors' code: OpenCV's default bilinear resize to half size,
                  which for an exact factor 2 is the mean of each 2x2 block, rounded half up; odd last
                  rows/columns are dropped first) or "matlab" (MATLAB bicubic x1/2).
  inverted_unet   DF2K train (3450) / DIV2K valid (100): Y channel, fitted into 512x512 keeping the aspect ratio,
                  centred on a black (0) canvas; LR = bicubic x1/2 of the letterboxed image (256x256). No
                  randomness (seed unused). The builder's defaults are the standard protocol's (BT.601 studio-range
                  Y, MATLAB bicubic); the workflow builds the authors' data path (``AUTHORS_DATA_PATH``: PIL's
                  full-range YCbCr Y, PIL bicubic), which the study's report describes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from sisr import degradations
from sisr.data.datasets import (Pair, bad_item, building_dir, check_on_bad, get_dataset, load_image, lr_file_name,
                                sha256_pixels)
from sisr.base.errors import ConfigError, DataError, ImageError
from sisr.base.hashing import sha256_file
from sisr.base.imresize import downscale, imresize, modcrop
from sisr.base.io import write_image, write_json

DERIVED = ("residual_sweep", "rrdb_gan", "inverted_unet")


def _sources(pairs: Sequence[Pair]) -> list[dict[str, str]]:
    return [{"name": p.name, "file": p.hr.name, "sha256": sha256_file(p.hr)} for p in pairs]


def _sorted_unique(pairs: Sequence[Pair]) -> list[Pair]:
    by_name = {p.name: p for p in pairs}
    if len(by_name) != len(pairs):
        raise DataError("derived dataset: source image names are not unique")
    return [by_name[n] for n in sorted(by_name)]


def _split_sizes(n: int, counts: Sequence[int]) -> list[int]:
    """Divide ``n`` images among splits in proportion to ``counts`` (each split with a count gets >= 1)."""
    total = sum(counts)
    bounds = [round(n * sum(counts[: i + 1]) / total) for i in range(len(counts))]
    sizes = [b - a for a, b in zip([0] + bounds[:-1], bounds)]
    if any(size < 1 for size, c in zip(sizes, counts) if c > 0):
        raise DataError(f"derived dataset: {n} source images cannot be divided among splits of {list(counts)} items")
    return sizes


def _write_pair(root: Path, split: str, name: str, hr: np.ndarray, lr: np.ndarray, scale: int) -> dict[str, str]:
    write_image(root / split / "HR" / f"{name}.png", hr)
    write_image(root / split / "LR_bicubic" / f"X{scale}" / lr_file_name(name, scale), lr)
    return {"hr_sha256": sha256_pixels(hr), "lr_sha256": sha256_pixels(lr)}


def _image_size(path: Path) -> tuple[int, int]:
    """(height, width) from the file header (cheap); unreadable files raise ImageError."""
    try:
        with Image.open(path) as im:
            return im.size[1], im.size[0]
    except OSError as exc:
        raise ImageError(f"{path}: cannot read the image header: {exc}") from exc


def build_residual_sweep(sources: Sequence[Pair], out_dir: str | os.PathLike, *,
                         counts: Sequence[int] = (7000, 1250, 500), tile: int = 128, scale: int = 4, seed: int = 0,
                         on_bad: str = "error") -> dict[str, Any]:
    """HR tiles and their MATLAB-bicubic LR for the residual_sweep study (see the module docstring).

    sources: the HR images to cut from (the study: DF2K train + valid, 3550 images; only ``hr`` is used).
    counts: tiles in train, valid, test. tile: HR tile side (a multiple of ``scale``).
    on_bad: a source that cannot be decoded or is smaller than the tile: ``error`` stops naming it; ``skip``
        warns and leaves out its tiles (the split then has fewer tiles than asked; see ``skipped``).
    """
    check_on_bad(on_bad)
    if tile % scale:
        raise ConfigError(f"residual_sweep tile: {tile} is not a multiple of the scale {scale}")
    pairs = _sorted_unique(sources)
    order = np.random.default_rng(seed).permutation(len(pairs))
    sizes = _split_sizes(len(pairs), counts)
    skipped: list[dict[str, str]] = []
    splits: dict[str, list[dict[str, Any]]] = {}
    with building_dir(out_dir) as tmp:
        start = 0
        for s_idx, (split, count, size) in enumerate(zip(("train", "valid", "test"), counts, sizes)):
            members = [pairs[i] for i in order[start: start + size]]
            start += size
            good = []
            for p in members:  # sizes from headers, so tile positions can be drawn before decoding
                try:
                    h, w = _image_size(p.hr)
                    if h < tile or w < tile:
                        raise DataError(f"{p.hr}: image {w}x{h} is smaller than the tile {tile}x{tile}")
                    good.append((p, h, w))
                except (ImageError, DataError) as exc:
                    bad_item(on_bad, exc)
                    skipped.append({"name": p.name, "reason": str(exc)})
            if count and not good:
                raise DataError(f"residual_sweep/{split}: no usable source image")
            rng = np.random.default_rng([seed, s_idx])
            boxes = []
            for j in range(count):
                p, h, w = good[j % len(good)]
                boxes.append((j, p, int(rng.integers(0, h - tile + 1)), int(rng.integers(0, w - tile + 1))))
            items: dict[int, dict[str, Any]] = {}
            for p, _, _ in good:  # decode each source once, cut all of its tiles
                mine = [b for b in boxes if b[1] is p]
                if not mine:
                    continue
                try:
                    img = load_image(p.hr, "rgb")
                except ImageError as exc:
                    bad_item(on_bad, exc)
                    skipped.append({"name": p.name, "reason": str(exc)})
                    continue
                for j, _, top, left in mine:
                    hr = np.ascontiguousarray(img[top: top + tile, left: left + tile])
                    name = f"{j:05d}"
                    items[j] = {"name": name, "source": p.name, "box": [top, left, tile, tile],
                                **_write_pair(tmp, split, name, hr, degradations.get("bicubic").lr(hr, scale), scale)}
            splits[split] = [items[j] for j in sorted(items)]
        manifest = {"dataset": "residual_sweep", "seed": seed, "sources": _sources(pairs), "splits": splits,
                    "params": {"counts": list(counts), "tile": tile, "scale": scale}, "skipped": skipped}
        write_json(tmp / "manifest.json", manifest)
    return manifest


def halve_opencv(img: np.ndarray) -> np.ndarray:
    """Half-size image as OpenCV ``cv2.resize(img, (w // 2, h // 2))`` (INTER_LINEAR) gives for uint8 input.

    For an exact factor 2 OpenCV uses its INTER_AREA fast path: the mean of each 2x2 block, ``(sum + 2) >> 2``.
    An odd last row/column is dropped first.
    """
    h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
    x = img[:h, :w].astype(np.uint16)
    total = x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2]
    return ((total + 2) >> 2).astype(np.uint8)


def build_rrdb_gan(sources: Sequence[Pair], out_dir: str | os.PathLike, *, counts: Sequence[int] = (700, 100, 100),
                   scale: int = 4, seed: int = 0, halve: str = "opencv", on_bad: str = "error") -> dict[str, Any]:
    """DIV2K HR halved, split train/valid/test by ``seed``, with MATLAB-bicubic LR x ``scale``.

    sources: the 900 DIV2K HR images (train + valid). halve: ``opencv`` or ``matlab`` (module docstring).
    The halved image is cropped at the top-left to a multiple of ``scale`` (box recorded) before the LR is made.
    """
    check_on_bad(on_bad)
    if halve not in ("opencv", "matlab"):
        raise ConfigError(f"rrdb_gan halve: expected 'opencv' or 'matlab', got {halve!r}")
    pairs = _sorted_unique(sources)
    if sum(counts) > len(pairs):
        raise DataError(f"rrdb_gan: {len(pairs)} source images, but counts {list(counts)} ask for {sum(counts)}")
    order = np.random.default_rng(seed).permutation(len(pairs))
    skipped: list[dict[str, str]] = []
    splits: dict[str, list[dict[str, Any]]] = {}
    with building_dir(out_dir) as tmp:
        start = 0
        for split, count in zip(("train", "valid", "test"), counts):
            items = []
            for i in order[start: start + count]:
                p = pairs[i]
                try:
                    img = load_image(p.hr, "rgb")
                    if min(img.shape[:2]) < 2 * scale:
                        raise DataError(f"{p.hr}: image {img.shape[1]}x{img.shape[0]} too small to halve and x{scale}")
                except (ImageError, DataError) as exc:
                    bad_item(on_bad, exc)
                    skipped.append({"name": p.name, "reason": str(exc)})
                    continue
                half = halve_opencv(img) if halve == "opencv" else downscale(img, 2, method="matlab")
                hr = np.ascontiguousarray(modcrop(half, scale))
                items.append({"name": p.name, "source": p.name, "box": [0, 0, 2 * hr.shape[0], 2 * hr.shape[1]],
                              **_write_pair(tmp, split, p.name, hr, degradations.get("bicubic").lr(hr, scale), scale)})
            start += count
            splits[split] = items
        manifest = {"dataset": "rrdb_gan", "seed": seed, "sources": _sources(pairs), "splits": splits,
                    "params": {"counts": list(counts), "scale": scale, "halve": halve}, "skipped": skipped}
        write_json(tmp / "manifest.json", manifest)
    return manifest


# What the workflow's derived datasets use where the builders' defaults differ (the study reports' data paths).
AUTHORS_DATA_PATH = {"inverted_unet": {"resize": "pil", "luma": "pil"}}


def pil_luma(img: np.ndarray) -> np.ndarray:
    """Y of PIL's ``convert("YCbCr")`` (JPEG's full-range 0.299 R + 0.587 G + 0.114 B); a gray image is kept."""
    if img.ndim == 2:
        return img
    return np.asarray(Image.fromarray(img).convert("YCbCr"))[..., 0].copy()


def letterbox(img: np.ndarray, size: int, *, resize: str = "matlab") -> tuple[np.ndarray, list[int]]:
    """Fit a single-channel image into ``size x size`` keeping its aspect ratio, centred on zeros.

    Returns the canvas and the box ``[top, left, height, width]`` where the resized image sits.
    resize: ``matlab`` (MATLAB bicubic, ``imresize(img, [h w])``) or ``pil`` (PIL ``Image.BICUBIC``).
    """
    h, w = img.shape[:2]
    f = size / max(h, w)
    nh, nw = max(1, min(size, round(h * f))), max(1, min(size, round(w * f)))
    if (nh, nw) == (h, w):
        fitted = img
    elif resize == "matlab":
        fitted = imresize(img, output_shape=(nh, nw), kernel="cubic")
    elif resize == "pil":
        fitted = np.asarray(Image.fromarray(img).resize((nw, nh), Image.BICUBIC))
    else:
        raise ConfigError(f"inverted_unet resize: expected 'matlab' or 'pil', got {resize!r}")
    top, left = (size - nh) // 2, (size - nw) // 2
    canvas = np.zeros((size, size) + img.shape[2:], np.uint8)
    canvas[top: top + nh, left: left + nw] = fitted
    return canvas, [top, left, nh, nw]


def build_inverted_unet(train: Sequence[Pair], valid: Sequence[Pair], out_dir: str | os.PathLike, *, size: int = 512,
                        scale: int = 2, resize: str = "matlab", luma: str = "bt601",
                        on_bad: str = "error") -> dict[str, Any]:
    """Letterboxed Y-channel HR (``size``) and LR (``size / scale``) for the inverted_unet study.

    train / valid: the source HR images (the study: DF2K train 3450 / DIV2K valid 100).
    resize: ``matlab`` (default, standard protocol) or ``pil`` (the authors' PIL bicubic), used for the fit
        and for the LR.
    luma: ``bt601`` (default, standard protocol: studio range 16-235) or ``pil`` (PIL's full-range YCbCr, as the
        authors convert).
    """
    check_on_bad(on_bad)
    if luma not in ("bt601", "pil"):
        raise ConfigError(f"inverted_unet luma: expected 'bt601' or 'pil', got {luma!r}")
    if size % scale:
        raise ConfigError(f"inverted_unet size: {size} is not a multiple of the scale {scale}")
    skipped: list[dict[str, str]] = []
    splits: dict[str, list[dict[str, Any]]] = {}
    all_sources: list[Pair] = []
    with building_dir(out_dir) as tmp:
        for split, members in (("train", train), ("valid", valid)):
            pairs = _sorted_unique(members)
            all_sources += pairs
            items = []
            for p in pairs:
                try:
                    y = load_image(p.hr, "y") if luma == "bt601" else pil_luma(load_image(p.hr, "rgb"))
                except ImageError as exc:
                    bad_item(on_bad, exc)
                    skipped.append({"name": p.name, "reason": str(exc)})
                    continue
                hr, box = letterbox(y, size, resize=resize)
                lr = degradations.get("bicubic" if resize == "matlab" else "pil_bicubic").lr(hr, scale)
                items.append({"name": p.name, "source": p.name, "box": box,
                              **_write_pair(tmp, split, p.name, hr, lr, scale)})
            splits[split] = items
        manifest = {"dataset": "inverted_unet", "seed": None, "sources": _sources(all_sources), "splits": splits,
                    "params": {"size": size, "scale": scale, "resize": resize, "channel": "y", "luma": luma},
                    "skipped": skipped}
        write_json(tmp / "manifest.json", manifest)
    return manifest


def build_derived(name: str, *, data_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                  seed: int = 0, on_bad: str = "error", **params: Any) -> Path:
    """Build derived dataset ``name`` from the extracted sources under ``data_dir`` (one call per Snakemake rule).

    Sources: ``data_dir/div2k`` and ``data_dir/flickr2k`` (the path scheme). Output: ``out_dir`` (default
    ``data_dir/<name>``). params: the builder's keyword arguments (counts, tile, halve, size, resize, ...).
    Returns the path of the manifest.
    """
    data_dir = Path(data_dir)
    out = Path(out_dir) if out_dir is not None else data_dir / name
    hr_only = {"scale": 1, "lr": "ours"}  # only the HR files are read

    def df2k(split: str) -> list[Pair]:
        return get_dataset("df2k", root=data_dir, split=split, **hr_only)

    if name == "residual_sweep":
        build_residual_sweep(df2k("train") + df2k("valid"), out, seed=seed, on_bad=on_bad, **params)
    elif name == "rrdb_gan":
        div2k = [p for s in ("train", "valid") for p in get_dataset("div2k", root=data_dir / "div2k", split=s, **hr_only)]
        build_rrdb_gan(div2k, out, seed=seed, on_bad=on_bad, **params)
    elif name == "inverted_unet":
        build_inverted_unet(df2k("train"), df2k("valid"), out, on_bad=on_bad,
                            **{**AUTHORS_DATA_PATH["inverted_unet"], **params})
    else:
        raise ConfigError(f"derived dataset {name!r}: unknown; valid: {', '.join(DERIVED)}")
    return out / "manifest.json"
