"""Decoded-image caches: every HR/LR pair of a dataset split decoded once into flat uint8 files.

On-disk format (one folder per dataset/split/scale, ``data/cache/<dataset>/<split>/x<scale>/``):

  hr.u8          all HR images back to back, each stored channel-first (C x H x W, C-order), uint8, no header
  lr.u8          the LR images, same layout
  manifest.json  {"format": "sisr-cache-2", "key": ..., "scale": s, "mode": "rgb"|"y", "channels": C,
                  "images": [{"name", "hr_file", "lr_file" (null: LR made by us), "hr_offset", "hr_shape": [C,H,W],
                              "lr_offset", "lr_shape": [C,h,w]}, ...],
                  "files": {"hr.u8": {"bytes": n, "crc32": "8 hex digits"}, "lr.u8": {...}},
                  "skipped": [{"name", "reason"}, ...]}

Integrity: ``CachedImages`` (every job that opens a cache) checks each data file's size and CRC-32 against
``files`` first. CRC-32 rather than SHA-256: the check guards against accidental damage (a truncated copy, a
full disk, a flipped byte), not against forgery, and it reads every byte of a cache of up to tens of GB at each
job's start; zlib's CRC-32 ran at 7.2 GB/s on the 2-core development VM against SHA-256's 2.2 GB/s (with
SHA instructions; several times slower without). A mismatch removes ``manifest.json`` (the output Snakemake
knows the cache by, and what ``build_cache`` compares its key with), so the rerun rebuilds the cache, and
raises ``DataError`` naming the file and saying so.

Read them with ``np.memmap(path, np.uint8, "r")`` and slice ``[offset : offset + C*H*W].reshape(C, H, W)``
(``CachedImages`` does this). Channel-first storage makes a crop a strided copy that is already NCHW.

Content of each entry: the HR image cropped at the top-left to exactly ``scale x`` its LR size (the standard
"modcrop"), and the LR image: the shipped LR file, or the ``bicubic`` degradation of the HR
(``sisr.degradations``) when the pair has none; with another ``degradation``, always that degradation of the HR.
mode "y" stores the BT.601 Y channel (rounded to uint8; C = 1).

The folder is built beside its final place and swapped in only when complete, so an error (or a crash) never
damages a cache that was already there; a full disk raises ``DiskFullError`` naming the data file. ``key``
hashes the source paths, sizes and modification times, the scale, mode and bad-data policy: calling
``build_cache`` again with the same inputs reuses the cache (when its data files have the manifest's sizes).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from sisr import degradations
from sisr.data.datasets import Pair, bad_item, building_dir, check_on_bad, get_dataset, load_image
from sisr.base.io import raise_if_disk_full, write_json
from sisr.base.errors import ConfigError, DataError, ImageError

log = logging.getLogger(__name__)

FORMAT = "sisr-cache-2"
DATA_FILES = ("hr.u8", "lr.u8")
_CHUNK = 1 << 22
MODES = ("rgb", "y")


def _chw(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img[None] if img.ndim == 2 else img.transpose(2, 0, 1))


class CacheWriter:
    """Append decoded images to ``hr.u8`` / ``lr.u8`` in ``folder`` and write the manifest at ``finish``.

    Used by ``build_cache`` and by benchmarks/tests that make a cache from arrays directly. final: the folder
    the files will end up in (``build_cache`` writes into a temporary one), named when the disk is full.
    """

    def __init__(self, folder: str | os.PathLike, *, scale: int, mode: str = "rgb",
                 final: str | os.PathLike | None = None) -> None:
        self.folder = Path(folder)
        self.final = Path(final) if final is not None else self.folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.scale, self.mode = int(scale), mode
        self.images: list[dict[str, Any]] = []
        with self._naming_a_full_disk("hr.u8"):
            self._hr: BinaryIO = open(self.folder / "hr.u8", "wb")
        with self._naming_a_full_disk("lr.u8"):
            self._lr: BinaryIO = open(self.folder / "lr.u8", "wb")
        self._offsets = [0, 0]
        self._crc = [0, 0]

    @contextlib.contextmanager
    def _naming_a_full_disk(self, name: str):
        try:
            yield
        except OSError as exc:
            raise_if_disk_full(exc, self.final / name)
            raise

    def add(self, name: str, hr: np.ndarray, lr: np.ndarray, **info: Any) -> None:
        """Append one pair (``H x W x C`` or ``H x W`` uint8; HR exactly ``scale x`` the LR size)."""
        if hr.dtype != np.uint8 or lr.dtype != np.uint8:
            raise DataError(f"cache entry {name}: expected uint8 arrays, got {hr.dtype} / {lr.dtype}")
        if hr.shape[:2] != (lr.shape[0] * self.scale, lr.shape[1] * self.scale) or hr.ndim != lr.ndim:
            raise DataError(f"cache entry {name}: HR {hr.shape} is not {self.scale} x LR {lr.shape}")
        entry = dict(info, name=name)
        for i, (img, fh, key) in enumerate(((hr, self._hr, "hr"), (lr, self._lr, "lr"))):
            data = _chw(img)
            with self._naming_a_full_disk(DATA_FILES[i]):
                fh.write(data.tobytes())
            self._crc[i] = zlib.crc32(data, self._crc[i])
            entry[f"{key}_offset"], entry[f"{key}_shape"] = self._offsets[i], list(data.shape)
            self._offsets[i] += data.size
        self.images.append(entry)

    def finish(self, **extra: Any) -> dict[str, Any]:
        """Close the data files and write ``manifest.json`` (with their sizes and CRC-32); returns the manifest."""
        for name, fh in zip(DATA_FILES, (self._hr, self._lr)):
            with self._naming_a_full_disk(name):
                fh.flush()
                os.fsync(fh.fileno())
                fh.close()
        if not self.images:
            raise DataError(f"{self.folder}: no image could be cached")
        files = {name: {"bytes": self._offsets[i], "crc32": f"{self._crc[i]:08x}"} for i, name in enumerate(DATA_FILES)}
        manifest = dict(extra, format=FORMAT, scale=self.scale, mode=self.mode,
                        channels=self.images[0]["hr_shape"][0], images=self.images, files=files)
        write_json(self.folder / "manifest.json", manifest)
        return manifest

    def abort(self) -> None:
        """Close the data files without writing a manifest (the caller discards the folder)."""
        for fh in (self._hr, self._lr):
            with contextlib.suppress(OSError):  # a full disk again, flushing: the folder is discarded anyway
                fh.close()


def _file_crc32(path: Path) -> str:
    crc = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return f"{crc:08x}"


def _damaged(folder: Path, problem: str, what: str = "damaged cache") -> DataError:
    """Remove the cache's manifest (so that the rerun rebuilds it) and say so, naming the file in ``problem``."""
    with contextlib.suppress(FileNotFoundError):
        (folder / "manifest.json").unlink()
    return DataError(f"{problem} ({what}; its manifest.json was removed): rerun the same command to rebuild "
                     f"it (or delete {folder})")


def _sizes_match(folder: Path, manifest: dict[str, Any]) -> bool:
    files = manifest.get("files") or {}
    try:
        return all((folder / name).stat().st_size == files[name]["bytes"] for name in DATA_FILES)
    except (OSError, KeyError, TypeError):
        return False


def verify_cache(folder: str | os.PathLike, manifest: dict[str, Any]) -> None:
    """Check the data files of a cache against its manifest's sizes and CRC-32 (module docstring)."""
    folder = Path(folder)
    for name in DATA_FILES:
        path, want = folder / name, manifest["files"][name]
        if not path.is_file():
            raise _damaged(folder, f"{path}: missing")
        size = path.stat().st_size
        if size != want["bytes"]:
            raise _damaged(folder, f"{path}: {size:,} bytes, expected {want['bytes']:,}")
        got = _file_crc32(path)
        if got != want["crc32"]:
            raise _damaged(folder, f"{path}: crc32 mismatch: expected {want['crc32']}, got {got}")


def _stat(path: Path | None) -> list[Any] | None:
    if path is None:
        return None
    try:
        st = path.stat()
        return [str(path.resolve()), st.st_size, st.st_mtime_ns]
    except OSError:
        return [str(path), None, None]


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON file's content, or {} when it is missing or unreadable (a damaged manifest means: rebuild)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def cache_key(pairs: list[Pair], *, scale: int, mode: str, on_bad: str,
              degradation: str = degradations.DEFAULT) -> str:
    """Hash of what a cache depends on: the source files (path, size, mtime), scale, mode, policy, format, and
    the degradation when it is not the default (so that the keys of existing bicubic caches stay the same)."""
    named = [] if degradation == degradations.DEFAULT else [f"degradation={degradation}"]
    data = [FORMAT, scale, mode, on_bad, *named] + [[p.name, _stat(p.hr), _stat(p.lr)] for p in pairs]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()


def load_pair(pair: Pair, *, scale: int, mode: str = "rgb",
              degradation: str = degradations.DEFAULT) -> tuple[np.ndarray, np.ndarray]:
    """Decode one pair into (HR, LR) uint8 arrays with HR exactly ``scale x`` LR; bad data raise naming the file.

    The LR: the pair's LR file under the default degradation (``bicubic``), when it has one; else ``degradation``
    of the HR (:mod:`sisr.degradations`; the image's noise, if any, chosen by its name).

    Raises ``ImageError`` (missing, corrupt or truncated file) or ``DataError`` (LR file missing for the HR,
    LR size not ``floor(HR / scale)``, HR smaller than ``scale``). An HR whose size is not a multiple of
    ``scale`` is cropped at the top-left (the standard protocol; logged at INFO level naming the file).
    """
    degrade = degradations.get(degradation)
    hr = load_image(pair.hr, mode)
    h, w = hr.shape[:2]
    if pair.lr is not None and degradation == degradations.DEFAULT:
        if not pair.lr.exists():
            raise DataError(f"{pair.hr}: LR file missing for this HR image (expected {pair.lr})")
        lr = load_image(pair.lr, mode)
        if lr.shape[:2] != (h // scale, w // scale):
            raise DataError(f"{pair.lr}: LR is {lr.shape[1]}x{lr.shape[0]}, expected {w // scale}x{h // scale} "
                            f"(HR {pair.hr} is {w}x{h}, scale {scale})")
    else:
        if min(h, w) < scale:
            raise DataError(f"{pair.hr}: HR image {w}x{h} is smaller than the scale {scale}")
        lr = None
    if h % scale or w % scale:
        log.info("%s: %dx%d is not a multiple of %d; cropped to %dx%d (top-left)", pair.hr, w, h, scale,
                 w - w % scale, h - h % scale)
        hr = hr[: h - h % scale, : w - w % scale]
    if lr is None:
        lr = degrade.lr(hr, scale, image=pair.name)
    return np.ascontiguousarray(hr), np.ascontiguousarray(lr)


def build_cache(pairs: list[Pair], out_dir: str | os.PathLike, *, scale: int, mode: str = "rgb",
                on_bad: str = "error", degradation: str = degradations.DEFAULT) -> dict[str, Any]:
    """Decode ``pairs`` into a cache folder ``out_dir`` (format in the module docstring); returns its manifest.

    mode: ``rgb`` (C = 3) or ``y`` (BT.601 Y, C = 1).
    on_bad: ``error`` (default) stops at the first bad pair naming the file, leaving any existing cache intact;
        ``skip`` warns and leaves the pair out (listed under ``skipped`` in the manifest).
    degradation: how LR images are made from the HR (:func:`load_pair`); default ``bicubic``.
    """
    if mode not in MODES:
        raise ConfigError(f"build_cache mode: expected one of {', '.join(MODES)}, got {mode!r}")
    check_on_bad(on_bad)
    if not pairs:
        raise DataError(f"{out_dir}: build_cache got no pairs")
    out_dir = Path(out_dir)
    degradations.get(degradation)  # an unknown name fails before any work
    key = cache_key(pairs, scale=scale, mode=mode, on_bad=on_bad, degradation=degradation)
    manifest = _read_json(out_dir / "manifest.json")
    if manifest.get("key") == key and manifest.get("format") == FORMAT and _sizes_match(out_dir, manifest):
        log.info("%s: cache is up to date", out_dir)
        return manifest
    skipped = []
    with building_dir(out_dir) as tmp:
        writer = CacheWriter(tmp, scale=scale, mode=mode, final=out_dir)
        try:
            for pair in pairs:
                try:
                    hr, lr = load_pair(pair, scale=scale, mode=mode, degradation=degradation)
                except (ImageError, DataError) as exc:
                    bad_item(on_bad, exc)
                    skipped.append({"name": pair.name, "reason": str(exc)})
                    continue
                shipped = pair.lr if degradation == degradations.DEFAULT else None
                writer.add(pair.name, hr, lr, hr_file=str(pair.hr), lr_file=str(shipped) if shipped else None)
        except BaseException:
            writer.abort()
            raise
        manifest = writer.finish(key=key, skipped=skipped)
    log.info("%s: cached %d images (%d skipped)", out_dir, len(manifest["images"]), len(skipped))
    return manifest


def build_dataset_cache(name: str, *, root: str | os.PathLike | None, split: str, scale: int,
                        out_dir: str | os.PathLike, mode: str = "rgb", on_bad: str = "error",
                        degradation: str = degradations.DEFAULT, **opts: Any) -> dict[str, Any]:
    """``build_cache(get_dataset(name, root=root, split=split, scale=scale, **opts), out_dir, ...)``: one call for
    the cache rule (path scheme: ``data/cache/<dataset>/<split>/x<scale>/``)."""
    pairs = get_dataset(name, root=root, split=split, scale=scale, **opts)
    return build_cache(pairs, out_dir, scale=scale, mode=mode, on_bad=on_bad, degradation=degradation)


class CachedImages:
    """Read access to a cache folder: ``hr(i)`` / ``lr(i)`` are ``C x H x W`` uint8 views of memory maps.

    Opening checks the data files' sizes and CRC-32 (``verify=False`` skips the CRC-32). The memory maps are
    opened lazily, so the object can be sent to DataLoader worker processes.
    """

    def __init__(self, cache_dir: str | os.PathLike, *, verify: bool = True) -> None:
        self.dir = Path(cache_dir)
        path = self.dir / "manifest.json"
        if not path.exists():
            raise DataError(f"{self.dir}: not a cache (no manifest.json); build it with build_cache")
        try:
            self.manifest = json.loads(path.read_text())
        except ValueError:
            raise _damaged(self.dir, f"{path}: not valid JSON") from None
        if self.manifest.get("format") != FORMAT:
            raise _damaged(self.dir, f"{path}: cache format {self.manifest.get('format')!r}, expected {FORMAT!r}",
                           "a cache of an older version")
        if verify:
            verify_cache(self.dir, self.manifest)
        elif not _sizes_match(self.dir, self.manifest):
            raise _damaged(self.dir, f"{self.dir}: data files of another size than its manifest says")
        self.scale: int = self.manifest["scale"]
        self.channels: int = self.manifest["channels"]
        self.names: list[str] = [e["name"] for e in self.manifest["images"]]
        self.hr_shapes = np.array([e["hr_shape"] for e in self.manifest["images"]], dtype=np.int64)
        self.lr_shapes = np.array([e["lr_shape"] for e in self.manifest["images"]], dtype=np.int64)
        self._views: tuple[list[np.ndarray], list[np.ndarray]] | None = None

    def __len__(self) -> int:
        return len(self.names)

    def _open(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        if self._views is None:
            views = []
            for key in ("hr", "lr"):
                flat = np.memmap(self.dir / f"{key}.u8", dtype=np.uint8, mode="r").view(np.ndarray)
                views.append([flat[e[f"{key}_offset"]: e[f"{key}_offset"] + int(np.prod(e[f"{key}_shape"]))]
                              .reshape(e[f"{key}_shape"]) for e in self.manifest["images"]])
            self._views = (views[0], views[1])
        return self._views

    def hr(self, i: int) -> np.ndarray:
        return self._open()[0][i]

    def lr(self, i: int) -> np.ndarray:
        return self._open()[1][i]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_views"] = None  # memory maps are reopened in the receiving process
        return state
