"""Image and file I/O: strict image reading with clear errors, atomic writes."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import IO, Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from sisr.errors import ImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` in one step.

    A crash or a full disk leaves either the old file or none, never a truncated one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are shared like any other file
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_image(path: str | os.PathLike, *, mode: str = "rgb") -> np.ndarray:
    """Read an image file into a ``uint8`` array.

    mode="rgb": returns ``H x W x 3``; RGBA is converted to RGB (alpha dropped, with a warning);
                grayscale raises ImageError (use mode="any" where single-channel images are valid).
    mode="any": returns ``H x W`` for single-channel images and ``H x W x 3`` otherwise.
    Corrupt, truncated and unsupported files raise ImageError naming the file.
    """
    if mode not in ("rgb", "any"):
        raise ValueError(f"read_image: mode must be 'rgb' or 'any', got {mode!r}")
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such image file")
    try:
        with Image.open(path) as im:
            im.load()  # forces decoding: truncated files fail here, not later
            pil_mode = im.mode
            if pil_mode in ("RGBA", "LA", "PA") or (pil_mode == "P" and "transparency" in im.info):
                warnings.warn(f"{path}: image has an alpha channel; it is dropped (RGB kept)", stacklevel=2)
                im = im.convert("RGBA").convert("RGB") if pil_mode != "LA" else im.convert("L")
                pil_mode = im.mode
            if pil_mode in ("1", "L", "I;16", "I", "F"):
                if mode == "rgb":
                    raise ImageError(f"{path}: expected an RGB image, got a single-channel ({pil_mode}) image")
                if pil_mode in ("I;16", "I", "F"):
                    raise ImageError(f"{path}: expected an 8-bit image, got mode {pil_mode}")
                arr = np.asarray(im.convert("L"))
            else:
                arr = np.asarray(im.convert("RGB"))
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: cannot decode image (corrupt or truncated?): {exc}") from exc
    return np.ascontiguousarray(arr)


def write_image(path: str | os.PathLike, img: np.ndarray) -> None:
    """Write a ``uint8`` ``H x W`` or ``H x W x 3`` array as PNG (atomically)."""
    path = Path(path)
    if img.dtype != np.uint8:
        raise ImageError(f"{path}: write_image expects uint8, got {img.dtype}")
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] in (1, 3))):
        raise ImageError(f"{path}: write_image expects HxW or HxWx3, got shape {img.shape}")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    fmt = "PNG" if path.suffix.lower() == ".png" else None
    with atomic_write(path) as fh:
        Image.fromarray(img).save(fh, format=fmt or Image.registered_extensions().get(path.suffix.lower(), "PNG"))


def write_json(path: str | os.PathLike, obj: object) -> None:
    """Write JSON atomically with sorted keys and a fixed layout (same object -> same bytes); paths as strings."""
    with atomic_write(path, "w") as fh:
        json.dump(obj, fh, indent=1, sort_keys=True, default=str)
        fh.write("\n")


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name; error if the folder is missing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"{folder}: no such folder")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
