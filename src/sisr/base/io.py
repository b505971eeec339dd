"""Image and file I/O: strict image reading with clear errors, atomic writes.

Limits and rules (README, Reliability):
- Images up to ``MAX_IMAGE_PIXELS`` (1,000 megapixels by default, e.g. the 24000x24000 output of a 6000x6000
  LR at x4; environment variable ``SISR_MAX_IMAGE_PIXELS``) are read; larger ones raise ImageError (Pillow's
  own "decompression bomb" limit, 179 megapixels, is too low for SR outputs).
- Only 8-bit images are read: 16-bit (and 32-bit) images, grayscale or RGB, are refused with one line, since
  the SR protocol scores 8-bit values and a silent conversion would change them.
- ``atomic_write`` names its temporary file ``.<name>.<host>.<pid>.<random>.tmp``; a later write of the same
  file removes the temporary files that dead processes of this host left (a writer killed mid-write). A full
  disk raises DiskFullError ("no space left on device writing PATH").
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import tempfile
import warnings
from pathlib import Path
from typing import IO, Iterator, Mapping

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from sisr.base.errors import DiskFullError, ImageError, SisrError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
# Image formats sisr does not read: a folder holding one is refused naming the file, rather than left out as if it
# were not an image. Not supported on purpose: GIF is 256-colour, WebP/AVIF/HEIC are mostly lossy, so their
# pixels are not the published ones an SR protocol scores.
UNSUPPORTED_IMAGE_SUFFIXES = (".webp", ".gif", ".avif", ".heic", ".heif", ".jxl", ".jp2", ".j2k", ".ppm", ".pgm",
                              ".pbm", ".pnm", ".tga", ".ico", ".exr", ".dng", ".psd", ".svg")
MAX_IMAGE_PIXELS = int(os.environ.get("SISR_MAX_IMAGE_PIXELS", 1_000_000_000))
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS  # Pillow warns above it and refuses above twice it; we refuse above it
_UMASK = os.umask(0)
os.umask(_UMASK)
_HOST = socket.gethostname().replace(".", "_")
UMASK, HOST = _UMASK, _HOST  # for other writers of temporary files and folders (sisr.data.datasets.building_dir)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def sweep_stale_temp_files(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of ``atomic_write(path)`` left by dead processes on this host; returns them."""
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f".{path.name}.{_HOST}.*.tmp"):
        pid = tmp.name[len(f".{path.name}.{_HOST}."):].split(".", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed.append(tmp)
    return removed


def _disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` or an exception it was raised from is ENOSPC/EDQUOT (torch.save wraps it in RuntimeError)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def raise_if_disk_full(exc: BaseException, path: str | os.PathLike) -> None:
    """Raise DiskFullError ("no space left on device writing PATH") from ``exc`` if it is a full disk or quota."""
    if _disk_full(exc):
        raise DiskFullError(f"no space left on device writing {path}") from exc


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` in one step.

    A crash or a full disk leaves either the old file or none, never a truncated one; the temporary files of
    writers killed before they could clean up are removed by the next write (see the module docstring).
    A full disk raises DiskFullError naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale_temp_files(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{_HOST}.{os.getpid()}.", suffix=".tmp")
    except OSError as exc:
        raise_if_disk_full(exc, path)
        raise SisrError(f"cannot write {path}: {exc.strerror or exc}") from exc
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are shared like any other file
    try:
        with _open_fd(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise_if_disk_full(exc, path)
        raise


# Once, for the process: read_image checks the size itself (MAX_IMAGE_PIXELS). Not a catch_warnings() around
# Image.open: that swaps the process-wide warning state and is not thread-safe (images are read in threads).
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

_open_fd = os.fdopen  # how atomic_write opens its temporary file (tests put a full-disk writer here)


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
    if path.suffix.lower() in UNSUPPORTED_IMAGE_SUFFIXES:
        raise ImageError(unsupported_format(path))
    try:
        im = Image.open(path)  # Pillow's DecompressionBombWarning is silenced below: we check the size ourselves
        with im:
            width, height = im.size
            if width * height > MAX_IMAGE_PIXELS:
                raise ImageError(f"{path}: {width}x{height} pixels ({width * height / 1e6:.0f} megapixels) is above "
                                 f"the limit of {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels (raise it with the environment "
                                 f"variable SISR_MAX_IMAGE_PIXELS if this image is meant)")
            if any(";16" in str(tile.args) or ";32" in str(tile.args) for tile in im.tile) or \
                    im.mode.startswith(("I;16", "I", "F")):
                data = im.tile[0].args if im.tile else im.mode
                raise ImageError(f"{path}: a 16- or 32-bit image ({data}); sisr reads 8-bit images only (the SR "
                                 f"protocol scores 8-bit values): convert it to 8 bits first")
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
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{path}: {exc}") from exc
    except MemoryError as exc:
        raise ImageError(f"{path}: not enough memory to decode this image") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: cannot decode image (corrupt or truncated?): {exc}") from exc
    return np.ascontiguousarray(arr)


SCALE_KEY = "sisr:scale"  # PNG text chunk of an SR image: the factor it was made at (sisr upscale, the workflow)


def write_image(path: str | os.PathLike, img: np.ndarray, *, text: Mapping[str, str] | None = None) -> None:
    """Write a ``uint8`` ``H x W`` or ``H x W x 3`` array as PNG (atomically); ``text``: PNG text chunks
    (e.g. ``{SCALE_KEY: "4"}``), ignored for other formats."""
    path = Path(path)
    if img.dtype != np.uint8:
        raise ImageError(f"{path}: write_image expects uint8, got {img.dtype}")
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] in (1, 3))):
        raise ImageError(f"{path}: write_image expects HxW or HxWx3, got shape {img.shape}")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    fmt = "PNG" if path.suffix.lower() == ".png" else Image.registered_extensions().get(path.suffix.lower(), "PNG")
    extra = {}
    if text and fmt == "PNG":
        extra["pnginfo"] = PngImagePlugin.PngInfo()
        for key, value in text.items():
            extra["pnginfo"].add_text(key, str(value))
    with atomic_write(path) as fh:
        Image.fromarray(img).save(fh, format=fmt, **extra)


def image_text(path: str | os.PathLike) -> dict[str, str]:
    """The text chunks in a PNG's header (``write_image(text=...)``); ``{}`` for other or unreadable files."""
    try:
        with Image.open(path) as im:
            return {k: v for k, v in im.info.items() if isinstance(v, str)}
    except (OSError, UnidentifiedImageError):
        return {}


def write_json(path: str | os.PathLike, obj: object) -> None:
    """Write JSON atomically with sorted keys and a fixed layout (same object -> same bytes); paths as strings."""
    with atomic_write(path, "w") as fh:
        json.dump(obj, fh, indent=1, sort_keys=True, default=str)
        fh.write("\n")


def unsupported_format(path: Path, also: str = "") -> str:
    """The error line for an image of a format sisr does not read (``UNSUPPORTED_IMAGE_SUFFIXES``)."""
    return f"unsupported image format {path.suffix.lower()}: {path}; expected PNG/JPEG/BMP/TIFF (convert it to PNG{also})"


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name; error if the folder is missing or holds an image
    of a format sisr does not read (``UNSUPPORTED_IMAGE_SUFFIXES``, named with the first such file)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"{folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.is_file())
    for p in files:
        if p.suffix.lower() in UNSUPPORTED_IMAGE_SUFFIXES:
            raise ImageError(unsupported_format(p, f", or move it out of {folder}"))
    return [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
