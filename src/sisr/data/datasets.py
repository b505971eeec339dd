"""Dataset adapters: one interface, ``get_dataset(name, *, root, split, scale, **opts) -> list[Pair]``.

A ``Pair(name, hr, lr)`` names one HR image file and its LR file for ``scale``; ``lr`` is None when the
dataset ships no LR for that scale, and the LR is then made by us with a degradation of ``sisr.degradations``
(default ``bicubic``, MATLAB-compatible: ``imresize(modcrop(hr, s), 1/s, 'bicubic')``), in the cache or as files
(``materialize_lr``). A shipped LR file stands for ``bicubic``: any other degradation makes every LR from the HR.
LR files are always named ``<stem>x<scale>.png``.

Adapters and the folders they read (``root`` is ``data/<dataset>`` of the path scheme):

  div2k           split train|valid   root/DIV2K_{split}_HR/*.png, root/DIV2K_{split}_LR_bicubic/X{s}/
  flickr2k        split train         root/Flickr2K/Flickr2K_HR/*.png (or root/Flickr2K_HR), .../Flickr2K_LR_bicubic/X{s}/
  df2k            split train|valid   train = DIV2K train + Flickr2K train (800 + 2650 = 3450), valid = DIV2K valid;
                                      root holds div2k/ and flickr2k/ (or pass div2k_root=, flickr2k_root=)
  benchmark       split = a set name  root/benchmark/<set>/HR (or root/<set>/HR), <set>/LR_bicubic/X{s}/
                                      (Set5, Set14, B100, Urban100; also set5|set14|b100|urban100 with split "test")
  skimage         split train|valid   the colour photographs bundled with scikit-image: with root=None straight
                                      from the wheel (LR made by us), otherwise the folders ``prepare_skimage``
                                      wrote: root/{split}/HR, root/{split}/LR_bicubic/X{s}
  folder          any split           a user folder of HR images: root/<split> if that folder exists, else root
  residual_sweep, rrdb_gan, inverted_unet   the derived datasets (``sisr.data.derived``):
                                      root/{split}/HR, root/{split}/LR_bicubic/X{s}

Options every adapter takes:
  lr="auto"|"shipped"|"ours"   auto: shipped LR if its folder exists, else ours; shipped: the LR folder must
                               exist; ours: ignore shipped LR (lr=None).
  lr_root=<folder>             where our LR files were written (``materialize_lr``): used when lr would be None.
An LR folder that exists but lacks the file for an HR image gives a Pair whose ``lr`` does not exist; the
cache reports it ("LR file missing for HR ...") under the bad-data policy.

Bad-data policy (config ``on_bad_image``): ``"error"`` (default, safe) stops with a ``DataError`` naming the
file; ``"skip"`` warns naming the file and leaves the item out. Grayscale images are converted to RGB by
repeating the channel and RGBA images lose their alpha, each with a warning naming the file (Set14's
bridge.png is a grayscale PNG that every SR paper evaluates).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import logging
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import skimage.data as skimage_data  # the name skimage is the adapter below

from sisr import degradations
from sisr.base import suggest
from sisr.data.sources import BENCHMARK_SETS
from sisr.base.errors import ConfigError, DataError, SisrError
from sisr.base.io import list_images, read_image, write_image, write_json
from sisr.base.colour import rgb_to_y
from sisr.base.io import HOST, UMASK, pid_alive  # how atomic_write names its temporary files, for building_dir

log = logging.getLogger(__name__)

ON_BAD = ("error", "skip")
LR_MODES = ("auto", "shipped", "ours")


@dataclass(frozen=True)
class Pair:
    """One HR image file and its LR file for the requested scale (None: we make the LR)."""

    name: str
    hr: Path
    lr: Path | None


# ----------------------------------------------------------------------------------------- shared helpers
def check_on_bad(on_bad: str) -> str:
    """Validate the bad-data policy value (config key ``on_bad_image``)."""
    if on_bad not in ON_BAD:
        raise ConfigError(f"on_bad_image: expected one of {', '.join(ON_BAD)}, got {on_bad!r}")
    return on_bad


def bad_item(on_bad: str, problem: str | Exception) -> None:
    """Apply the bad-data policy to one problem (a message or the error that was caught): ``error`` raises
    (the caught error's class if it is a ``SisrError``, else ``DataError``), ``skip`` warns that it is skipped."""
    if on_bad == "error":
        cls = type(problem) if isinstance(problem, SisrError) else DataError
        raise cls(f"{problem} (set on_bad_image: skip to leave such items out)")
    warnings.warn(f"{problem}; skipped (on_bad_image: skip)", stacklevel=3)


def load_image(path: str | os.PathLike, mode: str = "rgb") -> np.ndarray:
    """Decode an image for training/evaluation; corrupt or truncated files raise ``ImageError`` naming it.

    mode="rgb": ``H x W x 3`` uint8; a grayscale file is repeated to 3 channels (with a warning).
    mode="y":   ``H x W`` uint8; an RGB file is converted to BT.601 Y (``rgb_to_y``), rounded; gray kept.
    """
    if mode not in ("rgb", "y"):
        raise ConfigError(f"load_image mode: expected 'rgb' or 'y', got {mode!r}")
    img = read_image(path, mode="any")
    if mode == "y":
        return img if img.ndim == 2 else to_y(img)
    if img.ndim == 2:
        warnings.warn(f"{path}: grayscale image; its channel is repeated to make RGB", stacklevel=2)
        img = np.repeat(img[:, :, None], 3, axis=2)
    return img


def to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 Y of an RGB uint8 image, rounded to uint8 (16..235)."""
    return np.clip(np.rint(rgb_to_y(img)), 0, 255).astype(np.uint8)


def lr_file_name(stem: str, scale: int) -> str:
    """The LR file name convention of DIV2K, Flickr2K and the benchmark bundle: ``<stem>x<scale>.png``."""
    return f"{stem}x{scale}.png"


def sha256_pixels(img: np.ndarray) -> str:
    """SHA-256 of an image's shape and uint8 pixels (independent of the PNG encoder that stored it)."""
    h = hashlib.sha256(repr(tuple(img.shape)).encode())
    h.update(np.ascontiguousarray(img).tobytes())
    return h.hexdigest()


_LEGACY_STALE_S = 24 * 3600  # a temporary folder of the old naming (no PID) untouched this long is dead


def sweep_stale_building_dirs(final: str | os.PathLike) -> list[Path]:
    """Remove the temporary folders of ``building_dir(final)`` whose builder died (killed, crashed); returns them.

    ``.<name>.<host>.<pid>.<random>.tmp`` and ``.<name>.old-<host>.<pid>``: removed when the PID is dead on this
    host (folders of other hosts are left alone). ``.<name>.<random>.tmp`` (the naming before the PID was in it):
    removed when none of its files changed for a day.
    """
    final = Path(final)
    removed = []
    for path in final.parent.glob(f".{final.name}.*"):
        rest = path.name[len(f".{final.name}."):].removeprefix("old-").split(".")
        if len(rest) >= 2 and rest[0] == HOST and rest[1].isdigit():
            stale = not pid_alive(int(rest[1]))
        elif len(rest) == 2 and rest[1] == "tmp" and path.is_dir():
            newest = max((p.stat().st_mtime for p in path.rglob("*")), default=path.stat().st_mtime)
            stale = time.time() - newest > _LEGACY_STALE_S
        else:
            continue
        if stale and path.is_dir():
            log.info("removing %s, left by a build that did not finish", path)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


@contextlib.contextmanager
def building_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``final``; on success it replaces ``final`` (old content removed
    only after the new one is in place); on error it is deleted and ``final`` is left as it was.

    The temporary folder is ``.<name>.<host>.<pid>.<random>.tmp``; those of dead builders are removed first
    (``sweep_stale_building_dirs``). The finished folder gets the umask's permissions (not mkdtemp's 0700).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_building_dirs(final)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.{HOST}.{os.getpid()}.", suffix=".tmp"))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~UMASK)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{HOST}.{os.getpid()}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ----------------------------------------------------------------------------------------------- pairing
def _pairs(hr_files: Iterable[Path], lr_dir: Path | None, scale: int, *, lr: str, lr_root: str | os.PathLike | None,
           what: str) -> list[Pair]:
    """Pair each HR file with ``lr_dir/<stem>x<scale>.png`` according to the ``lr`` option."""
    if lr not in LR_MODES:
        raise ConfigError(f"{what}: option lr: expected one of {', '.join(LR_MODES)}, got {lr!r}")
    if int(scale) != scale or scale < 1:
        raise ConfigError(f"{what}: scale must be a positive integer, got {scale!r}")
    use_shipped = lr_dir is not None and lr_dir.is_dir() and lr != "ours"
    if lr == "shipped" and not use_shipped:
        raise DataError(f"{what}: no shipped LR folder for x{scale} (expected {lr_dir})")
    pairs = []
    for hr in hr_files:
        if use_shipped:
            lr_path: Path | None = lr_dir / lr_file_name(hr.stem, scale)
        elif lr_root is not None:
            lr_path = Path(lr_root) / lr_file_name(hr.stem, scale)
        else:
            lr_path = None
        pairs.append(Pair(hr.stem, hr, lr_path))
    return pairs


def _hr_files(folder: Path, what: str, hint: str = "") -> list[Path]:
    if not folder.is_dir():
        raise DataError(f"{what}: HR folder {folder} not found{hint}")
    files = list_images(folder)
    if not files:
        raise DataError(f"{what}: HR folder {folder} holds no images")
    return files


def _paired_layout(set_dir: Path, scale: int, what: str, hint: str = "", **opts) -> list[Pair]:
    """The benchmark layout: ``set_dir/HR/<name>.png`` and ``set_dir/LR_bicubic/X{s}/<name>x{s}.png``."""
    return _pairs(_hr_files(set_dir / "HR", what, hint), set_dir / "LR_bicubic" / f"X{scale}", scale, what=what, **opts)


# ---------------------------------------------------------------------------------------------- adapters
def div2k(root: Path, split: str, scale: int, *, lr: str = "auto", lr_root: Path | None = None) -> list[Pair]:
    """DIV2K (Agustsson & Timofte, NTIRE 2017): 800 train (0001-0800), 100 valid (0801-0900) images."""
    if split not in ("train", "valid"):
        raise ConfigError(f"div2k: split must be 'train' or 'valid', got {split!r}")
    hint = f" (download and extract DIV2K_{split}_HR.zip into {root})"
    hr = _hr_files(root / f"DIV2K_{split}_HR", f"div2k/{split}", hint)
    return _pairs(hr, root / f"DIV2K_{split}_LR_bicubic" / f"X{scale}", scale, lr=lr, lr_root=lr_root,
                  what=f"div2k/{split}")


def flickr2k(root: Path, split: str, scale: int, *, lr: str = "auto", lr_root: Path | None = None) -> list[Pair]:
    """Flickr2K (Lim et al., EDSR 2017): 2650 training images; one split, ``train``."""
    if split != "train":
        raise ConfigError(f"flickr2k: the only split is 'train', got {split!r}")
    base = root / "Flickr2K" if (root / "Flickr2K").is_dir() else root
    hr = _hr_files(base / "Flickr2K_HR", "flickr2k/train", f" (download and extract Flickr2K.tar into {root})")
    return _pairs(hr, base / "Flickr2K_LR_bicubic" / f"X{scale}", scale, lr=lr, lr_root=lr_root, what="flickr2k/train")


def df2k(root: Path, split: str, scale: int, *, lr: str = "auto", lr_root: Path | None = None,
         div2k_root: Path | None = None, flickr2k_root: Path | None = None) -> list[Pair]:
    """DF2K = DIV2K train + Flickr2K (3450 training images); validation = DIV2K valid (100)."""
    d_root = Path(div2k_root) if div2k_root else root / "div2k"
    pairs = div2k(d_root, split, scale, lr=lr, lr_root=lr_root)
    if split == "train":
        f_root = Path(flickr2k_root) if flickr2k_root else root / "flickr2k"
        pairs += flickr2k(f_root, "train", scale, lr=lr, lr_root=lr_root)
    return pairs


def _benchmark_set_dir(root: Path, name: str) -> Path:
    for base in (root / "benchmark", root):
        if base.is_dir():
            for d in base.iterdir():
                if d.is_dir() and d.name.lower() == name.lower():
                    return d
    raise DataError(f"benchmark: set {name!r} not found under {root}/benchmark or {root} "
                    f"(download and extract benchmark.tar; sets: {', '.join(BENCHMARK_SETS)})")


def benchmark(root: Path, split: str, scale: int, *, lr: str = "auto", lr_root: Path | None = None) -> list[Pair]:
    """The EDSR benchmark bundle; ``split`` is the set name (Set5, Set14, B100, Urban100)."""
    set_dir = _benchmark_set_dir(root, split)
    return _paired_layout(set_dir, scale, f"benchmark/{set_dir.name}", lr=lr, lr_root=lr_root)


def _one_set(set_name: str) -> Callable[..., list[Pair]]:
    def adapter(root: Path, split: str, scale: int, *, lr: str = "auto", lr_root: Path | None = None) -> list[Pair]:
        if split != "test":
            raise ConfigError(f"{set_name.lower()}: the only split is 'test', got {split!r}")
        return benchmark(root, set_name, scale, lr=lr, lr_root=lr_root)

    adapter.__doc__ = f"Benchmark set {set_name} (the EDSR benchmark bundle); split ``test``."
    return adapter


SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png",
                  "motorcycle_left.png", "motorcycle_right.png", "retina.jpg", "rocket.jpg")
_SKIMAGE_GROUPS = (("motorcycle_left", "motorcycle_right"),)  # a near-duplicate stereo pair: one split


def skimage_split(*, seed: int = 0, n_valid: int = 3) -> dict[str, list[str]]:
    """Split the scikit-image photographs (stems) into train/valid by ``seed``, keeping the stereo pair together.

    Groups (single photos, and the motorcycle pair) are shuffled with ``numpy.random.default_rng(seed)``;
    in that order a group goes to valid if it still fits in ``n_valid`` images, else to train.
    """
    stems = [Path(f).stem for f in SKIMAGE_PHOTOS]
    grouped = {s for g in _SKIMAGE_GROUPS for s in g}
    groups = list(_SKIMAGE_GROUPS) + [(s,) for s in stems if s not in grouped]
    groups.sort()
    order = np.random.default_rng(seed).permutation(len(groups))
    split: dict[str, list[str]] = {"train": [], "valid": []}
    for i in order:
        target = "valid" if len(split["valid"]) + len(groups[i]) <= n_valid else "train"
        split[target].extend(groups[i])
    return {k: sorted(v) for k, v in split.items()}


def _skimage_dir() -> Path:
    return Path(skimage_data.__file__).parent


def skimage(root: Path | None, split: str, scale: int, *, lr: str = "auto", lr_root: Path | None = None,
            seed: int = 0) -> list[Pair]:
    """The colour photographs bundled in the scikit-image wheel (nothing is downloaded), split train/valid.

    root=None: HR straight from the wheel, LR made by us; otherwise the folders ``prepare_skimage`` wrote.
    """
    if split not in ("train", "valid"):
        raise ConfigError(f"skimage: split must be 'train' or 'valid', got {split!r}")
    if root is not None:
        return _paired_layout(root / split, scale, f"skimage/{split}", f" (run prepare_skimage({str(root)!r}))",
                              lr=lr, lr_root=lr_root)
    folder = _skimage_dir()
    by_stem = {Path(f).stem: folder / f for f in SKIMAGE_PHOTOS}
    hr = [by_stem[s] for s in skimage_split(seed=seed)[split]]
    return _pairs(hr, None, scale, lr="ours" if lr == "auto" else lr, lr_root=lr_root, what=f"skimage/{split}")


def folder(root: Path, split: str, scale: int, *, lr: str = "ours", lr_root: Path | None = None) -> list[Pair]:
    """Any folder of HR images (LR made by us): ``root/<split>`` if that folder exists, else ``root``."""
    base = root / split if (root / split).is_dir() else root
    return _pairs(_hr_files(base, f"folder {base}"), None, scale, lr="ours" if lr == "auto" else lr,
                  lr_root=lr_root, what=f"folder {base}")


def _derived(name: str) -> Callable[..., list[Pair]]:
    def adapter(root: Path, split: str, scale: int, *, lr: str = "auto", lr_root: Path | None = None) -> list[Pair]:
        return _paired_layout(root / split, scale, f"{name}/{split}",
                              f" (build it with sisr.data.derived.build_derived({name!r}, ...))", lr=lr, lr_root=lr_root)

    adapter.__doc__ = f"The derived dataset {name} (see sisr.data.derived), layout root/{{split}}/HR, LR_bicubic/X{{s}}."
    return adapter


DATASETS: dict[str, Callable[..., list[Pair]]] = {
    "div2k": div2k,
    "flickr2k": flickr2k,
    "df2k": df2k,
    "benchmark": benchmark,
    **{s.lower(): _one_set(s) for s in BENCHMARK_SETS},
    "skimage": skimage,
    "folder": folder,
    **{d: _derived(d) for d in ("residual_sweep", "rrdb_gan", "inverted_unet")},
}


def get_dataset(name: str, *, root: str | os.PathLike | None, split: str, scale: int, **opts) -> list[Pair]:
    """List the (HR, LR) pairs of dataset ``name`` / ``split`` at ``scale`` (see the module docstring)."""
    if name not in DATASETS:
        raise ConfigError(suggest.unknown("dataset", [name], list(DATASETS)))
    adapter = DATASETS[name]
    try:
        inspect.signature(adapter).bind(root, split, scale, **opts)
    except TypeError as exc:
        params = [p for p in inspect.signature(adapter).parameters if p not in ("root", "split", "scale")]
        raise ConfigError(f"dataset {name!r}: bad options {sorted(opts)}: {exc}; valid options: {params}") from exc
    if root is None and name != "skimage":
        raise ConfigError(f"dataset {name!r}: root is required")
    pairs = adapter(Path(root) if root is not None else None, split, scale, **opts)
    seen: dict[str, Path] = {}
    for p in pairs:
        if p.name in seen:
            raise DataError(f"dataset {name}/{split}: two images named {p.name!r}: {seen[p.name]} and {p.hr}")
        seen[p.name] = p.hr
    return pairs


# ------------------------------------------------------------------------------------- LR files and demo
def materialize_lr(pairs: list[Pair], lr_dir: str | os.PathLike, *, scale: int, on_bad: str = "error",
                   degradation: str = degradations.DEFAULT) -> list[Pair]:
    """Write our LR (``degradation``, default MATLAB bicubic) for every pair without one to
    ``lr_dir/<stem>x<scale>.png``.

    Pairs that already have an LR file are returned unchanged under ``bicubic`` (another degradation makes the LR
    of every pair); existing files in ``lr_dir`` are kept (they are written atomically, so an existing file is
    complete). Path scheme: ``data/lr/<dataset>/<split>/x<scale>/``. Images whose LR cannot be made (corrupt HR,
    HR smaller than ``scale``) follow ``on_bad``.
    """
    check_on_bad(on_bad)
    degrade = degradations.get(degradation)
    lr_dir = Path(lr_dir)
    out = []
    for p in pairs:
        if p.lr is not None and degradation == degradations.DEFAULT:
            out.append(p)
            continue
        target = lr_dir / lr_file_name(p.name, scale)
        if not target.exists():
            try:
                hr = read_image(p.hr, mode="any")
                if min(hr.shape[:2]) < scale:
                    raise DataError(f"{p.hr}: HR image {hr.shape[1]}x{hr.shape[0]} is smaller than the scale {scale}")
                write_image(target, degrade.lr(hr, scale, image=p.name))
            except (DataError, OSError, ValueError) as exc:
                bad_item(on_bad, exc)
                continue
        out.append(replace(p, lr=target))
    return out


def prepare_skimage(root: str | os.PathLike, scales: Iterable[int] = (2, 3, 4), *, seed: int = 0,
                    n_valid: int = 3) -> Path:
    """Materialise the scikit-image demo set under ``root``; returns ``root/manifest.json`` (written last).

    Layout: ``root/{train,valid}/HR/<stem>.png`` (the photographs as PNG, full size) and
    ``root/{split}/LR_bicubic/X{s}/<stem>x{s}.png`` (MATLAB bicubic of the HR cropped to a multiple of s).
    The split is ``skimage_split(seed=seed, n_valid=n_valid)`` (6 train / 3 valid by default).
    The folder is built beside ``root`` and swapped in when complete.
    """
    root = Path(root)
    scales = sorted({int(s) for s in scales})
    split = skimage_split(seed=seed, n_valid=n_valid)
    folder_ = _skimage_dir()
    files = {}
    with building_dir(root) as tmp:
        for part, stems in split.items():
            for stem in stems:
                (src,) = [folder_ / f for f in SKIMAGE_PHOTOS if Path(f).stem == stem]
                hr = read_image(src, mode="rgb")
                write_image(tmp / part / "HR" / f"{stem}.png", hr)
                files[f"{part}/HR/{stem}.png"] = sha256_pixels(hr)
                for s in scales:
                    lr = degradations.get("bicubic").lr(hr, s)
                    rel = f"{part}/LR_bicubic/X{s}/{lr_file_name(stem, s)}"
                    write_image(tmp / rel, lr)
                    files[rel] = sha256_pixels(lr)
        write_json(tmp / "manifest.json", {"dataset": "skimage", "seed": seed, "n_valid": n_valid, "scales": scales,
                                           "split": split, "pixels_sha256": files})
    return root / "manifest.json"
