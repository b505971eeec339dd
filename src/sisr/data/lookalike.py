"""Look-alike archives: the downloads of ``sisr.data.sources`` under their real names and member layouts, made
offline from the photographs bundled with scikit-image, for dress rehearsals of the quick and paper tiers.

Nothing here is real data: every image is a crop of a bundled photograph, flipped, rotated and rescaled
(PIL bicubic) to the size wanted; the numbers a rehearsal produces mean nothing about super-resolution.
What they keep of the real archives is what code can trip on:

- names and layouts: ``DIV2K_{train,valid}_HR.zip`` (``DIV2K_train_HR/0001.png``, valid ``0801..``),
  ``DIV2K_{train,valid}_LR_bicubic_X{2,3,4}.zip`` (``DIV2K_train_LR_bicubic/X4/0001x4.png``), ``Flickr2K.tar``
  (``Flickr2K/Flickr2K_HR/000001.png``, ``Flickr2K/Flickr2K_LR_bicubic/X{s}/000001x{s}.png``) and
  ``benchmark.tar`` (``benchmark/{Set5,Set14,B100,Urban100}/HR/<name>.png``, ``.../LR_bicubic/X{s}/<name>x{s}.png``),
  zips with their folder entries, tars with folder members;
- LR files beside the HR where the real archives ship them, made with MATLAB-exact bicubic
  (the ``bicubic`` degradation, ``sisr.degradations``: modcrop, then ``imresize(hr, 1/s)``);
- DIV2K / Flickr2K sizes that are multiples of 12 (as the real ones), landscape and portrait, larger than the
  128-pixel tiles of ``residual_sweep``; benchmark images with sizes that are not multiples of 2, 3 or 4, at
  least 165 pixels per side (MS-SSIM after the shave, as the real sets), portrait and landscape;
- Set14 ``bridge`` is a grayscale PNG (mode L), HR and LR, as in the real bundle.

Sizes (``SIZES``): ``small`` (a few images per split; seconds to build) and ``full`` (the real counts: 800 + 100
DIV2K images about 2040 pixels wide, 2650 Flickr2K, 5/14/100/100 benchmark images; for load and GPU timing).

Output is deterministic (images from ``numpy.random.default_rng([seed, ...])``, fixed member times and owners,
PNG compression level 1), so the checksums are stable for a given seed, Pillow and zlib. ``build_lookalike``
returns (and writes to ``lookalike.json``) each archive's size, SHA-256 and MD5, which a rehearsal injects through
the config's ``archives:`` (``rehearsal_config``).

Random-init backbones (``write_random_weights``): files under the real torch hub names (needed so that
torchvision, lpips and pytorch-fid find them), with RANDOM weights, their SHA-256 injected through the config's
``weights_checksums:``. They let a rehearsal run the jobs that need pretrained weights; every LPIPS, FID and
perceptual-loss value made with them is meaningless, and the folder holds ``RANDOM_INIT_WEIGHTS.txt`` saying so.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import skimage.data
import yaml
from PIL import Image

from sisr import degradations
from sisr.data.sources import ARCHIVES, SHIPPED_SCALES
from sisr.base.errors import ConfigError
from sisr.base.hashing import file_digests, sha256_file
from sisr.base.io import atomic_write, write_json
from sisr.data.weights import WEIGHTS

_COLOUR = ("astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png", "motorcycle_left.png",
           "motorcycle_right.png", "retina.jpg", "rocket.jpg")
_GRAY = ("camera.png", "brick.png", "grass.png", "gravel.png", "moon.png")
_TIME = (2017, 1, 1, 0, 0, 0)  # DIV2K's year; any fixed value keeps the archives' bytes stable
_MTIME = 1483228800  # the same instant for tar members

SET5 = ("baby", "bird", "butterfly", "head", "woman")
SET14 = ("baboon", "barbara", "bridge", "coastguard", "comic", "face", "flowers", "foreman", "lenna", "man", "monarch",
         "pepper", "ppt3", "zebra")
GRAY_MEMBERS = {("Set14", "bridge")}  # grayscale in the real bundle


@dataclass(frozen=True)
class Size:
    """How many images of which sizes (height, width) each look-alike archive holds (cycled over the images)."""

    div2k_train: int
    div2k_valid: int
    flickr2k: int
    div2k_shapes: tuple[tuple[int, int], ...]
    sets: dict  # set name -> (count, shapes)


SIZES: dict[str, Size] = {
    "small": Size(
        div2k_train=6, div2k_valid=2, flickr2k=4,
        # >= 256: rrdb_gan's source images are halved, then cut into 32-pixel LR (128-pixel HR) patches at x4
        div2k_shapes=((264, 276), (276, 264), (264, 288), (288, 264)),
        # two images a set (FID, which srresnet_edsr computes on every set, needs two; Set14: the gray bridge
        # first, so that a rehearsal's one-image cap, REHEARSAL_CAPS, still meets it), at the 165-pixel minimum:
        # a rehearsal evaluates every model on every set
        sets={"Set5": (2, ((167, 169), (169, 173))),
              "Set14": (2, ((173, 167), (169, 169))),  # bridge (gray), coastguard
              "B100": (2, ((167, 173), (173, 167))),
              "Urban100": (2, ((169, 173), (173, 169)))}),
    "full": Size(
        div2k_train=800, div2k_valid=100, flickr2k=2650,
        div2k_shapes=((1356, 2040), (1344, 2040), (2040, 1356), (1536, 2040), (1152, 2040), (1404, 2040)),
        sets={"Set5": (5, ((512, 512), (288, 288), (256, 256), (280, 280), (344, 228))),
              "Set14": (14, ((480, 500), (576, 720), (512, 512), (288, 352), (361, 250), (276, 276), (362, 500),
                             (288, 352), (512, 512), (512, 512), (512, 768), (512, 512), (656, 529), (391, 586))),
              "B100": (100, ((321, 481), (481, 321))),
              "Urban100": (100, ((767, 1024), (1024, 681), (765, 1024), (1024, 1021)))}),
}


def _photo_dir() -> Path:
    return Path(skimage.data.__file__).parent


class _Photos:
    """The bundled photographs, decoded once; ``make`` cuts a transformed look-alike image of a given size."""

    def __init__(self) -> None:
        self._cache: dict[str, Image.Image] = {}

    def _source(self, name: str, gray: bool) -> Image.Image:
        if name not in self._cache:
            with Image.open(_photo_dir() / name) as im:
                self._cache[name] = im.convert("L" if gray else "RGB")
        return self._cache[name]

    def make(self, rng: np.random.Generator, shape: tuple[int, int], *, gray: bool = False) -> np.ndarray:
        """A ``shape`` (H, W) crop of a random photograph, randomly flipped / rotated, rescaled to cover it."""
        names = _GRAY if gray else _COLOUR
        src = self._source(names[int(rng.integers(len(names)))], gray)
        if rng.random() < 0.5:
            src = src.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if rng.random() < 0.3:
            src = src.transpose(Image.Transpose.ROTATE_90)
        h, w = shape
        f = max(h / src.height, w / src.width) * float(rng.uniform(1.0, 1.4))
        big = src.resize((max(w, round(src.width * f)), max(h, round(src.height * f))), Image.Resampling.BICUBIC)
        top, left = int(rng.integers(0, big.height - h + 1)), int(rng.integers(0, big.width - w + 1))
        return np.asarray(big.crop((left, top, left + w, top + h)))


def _png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


class _Writer:
    """Members of one zip or tar archive, written in order with fixed times and owners, into ``path.part``."""

    def __init__(self, path: Path) -> None:
        self.path, self.part = path, path.with_name(path.name + ".part")
        self.dirs: set[str] = set()
        self.members = 0
        if path.suffix == ".zip":
            self._zip: zipfile.ZipFile | None = zipfile.ZipFile(self.part, "w", zipfile.ZIP_STORED)
            self._tar: tarfile.TarFile | None = None
        else:
            self._zip, self._tar = None, tarfile.open(self.part, "w", format=tarfile.GNU_FORMAT)

    def _folder(self, name: str) -> None:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            folder = "/".join(parts[:i]) + "/"
            if folder in self.dirs:
                continue
            self.dirs.add(folder)
            self.members += 1
            if self._zip is not None:
                info = zipfile.ZipInfo(folder, _TIME)
                info.external_attr = (0o40755 << 16) | 0x10
                self._zip.writestr(info, b"")
            else:
                info = tarfile.TarInfo(folder.rstrip("/"))
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, _MTIME
                self._tar.addfile(info)

    def add(self, name: str, data: bytes) -> None:
        self._folder(name)
        self.members += 1
        if self._zip is not None:
            info = zipfile.ZipInfo(name, _TIME)
            info.external_attr = 0o100644 << 16
            self._zip.writestr(info, data)
        else:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, _MTIME
            self._tar.addfile(info, io.BytesIO(data))

    def close(self) -> dict[str, Any]:
        (self._zip or self._tar).close()
        os.replace(self.part, self.path)
        sums = file_digests(self.path, ("sha256", "md5"))
        return {"size": self.path.stat().st_size, "sha256": sums["sha256"], "md5": sums["md5"],
                "members": self.members}


def _images(size: Size, seed: int) -> dict[str, list[tuple[str, Any]]]:
    """group -> [(name, (rng seed, shape, gray))]: what every archive holds, drawn lazily (see ``_image``)."""
    groups: dict[str, list[tuple[str, Any]]] = {}
    shapes = size.div2k_shapes
    groups["div2k/train"] = [(f"{i:04d}", ([seed, 0, i], shapes[i % len(shapes)], False))
                             for i in range(1, size.div2k_train + 1)]
    groups["div2k/valid"] = [(f"{i:04d}", ([seed, 0, i], shapes[(i + 1) % len(shapes)], False))
                             for i in range(801, 801 + size.div2k_valid)]
    groups["flickr2k"] = [(f"{i:06d}", ([seed, 1, i], shapes[(i + 2) % len(shapes)], False))
                          for i in range(1, size.flickr2k + 1)]
    for k, (set_name, (count, set_shapes)) in enumerate(size.sets.items()):
        names = {"Set5": SET5, "Set14": SET14}.get(set_name)
        if set_name == "Set14" and count < len(SET14):
            # the gray one first among the few (sorted, as the sets are read: nothing before "bridge" but baboon)
            names = ("bridge", *(n for n in SET14 if n not in ("baboon", "barbara", "bridge")), "baboon", "barbara")
        items = []
        for i in range(count):
            name = names[i] if names else (f"img{i + 1:03d}" if set_name == "Urban100" else f"{100007 + 1013 * i}")
            items.append((name, ([seed, 2 + k, i], set_shapes[i % len(set_shapes)], (set_name, name) in GRAY_MEMBERS)))
        groups[f"benchmark/{set_name}"] = sorted(items)
    return groups


def _hr_lr(photos: _Photos, spec: Any, scales: Iterable[int]) -> tuple[bytes, dict[int, bytes]]:
    rng_seed, shape, gray = spec
    hr = photos.make(np.random.default_rng(rng_seed), shape, gray=gray)
    return _png(hr), {s: _png(degradations.get("bicubic").lr(hr, s)) for s in scales}


def build_lookalike(out_dir: str | os.PathLike, *, size: str = "small", seed: int = 0,
                    archives: Iterable[str] | None = None, log=print) -> dict[str, dict[str, Any]]:
    """Write the look-alike archives into ``out_dir``; returns (and writes ``lookalike.json``) their checksums.

    size: ``small`` or ``full`` (``SIZES``). archives: the catalogue file names to write (default: all ten).
    An archive that exists already is rewritten (the output is deterministic, so it gets the same bytes).
    """
    if size not in SIZES:
        raise ConfigError(f"lookalike size: expected one of {', '.join(SIZES)}, got {size!r}")
    wanted = list(ARCHIVES) if archives is None else list(dict.fromkeys(archives))
    unknown = [a for a in wanted if a not in ARCHIVES]
    if unknown:
        raise ConfigError(f"lookalike archives: {unknown} not in the catalogue; valid: {', '.join(ARCHIVES)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    groups = _images(SIZES[size], seed)
    photos = _Photos()
    result: dict[str, dict[str, Any]] = {}
    div2k = {a for a in wanted if a.startswith("DIV2K_")}
    for split in ("train", "valid"):  # the HR zip and the LR zips of a split from one pass over its images
        names = [a for a in (f"DIV2K_{split}_HR.zip", *[f"DIV2K_{split}_LR_bicubic_X{s}.zip" for s in SHIPPED_SCALES])
                 if a in div2k]
        if not names:
            continue
        writers = {a: _Writer(out / a) for a in names}
        scales = [s for s in SHIPPED_SCALES if f"DIV2K_{split}_LR_bicubic_X{s}.zip" in writers]
        for stem, spec in groups[f"div2k/{split}"]:
            hr, lrs = _hr_lr(photos, spec, scales)
            if f"DIV2K_{split}_HR.zip" in writers:
                writers[f"DIV2K_{split}_HR.zip"].add(f"DIV2K_{split}_HR/{stem}.png", hr)
            for s, data in lrs.items():
                writers[f"DIV2K_{split}_LR_bicubic_X{s}.zip"].add(f"DIV2K_{split}_LR_bicubic/X{s}/{stem}x{s}.png", data)
        for a, w in writers.items():
            result[a] = w.close()
            log(f"{a}: {result[a]['members']} members, {result[a]['size']:,} bytes")
    for a, groups_in, _prefix in (("Flickr2K.tar", ["flickr2k"], "Flickr2K"),
                                 ("benchmark.tar", [g for g in groups if g.startswith("benchmark/")], "benchmark")):
        if a not in wanted:
            continue
        w = _Writer(out / a)
        for group in groups_in:
            for stem, spec in groups[group]:
                hr, lrs = _hr_lr(photos, spec, SHIPPED_SCALES)
                if a == "Flickr2K.tar":
                    w.add(f"Flickr2K/Flickr2K_HR/{stem}.png", hr)
                    for s, data in lrs.items():
                        w.add(f"Flickr2K/Flickr2K_LR_bicubic/X{s}/{stem}x{s}.png", data)
                else:
                    set_dir = f"benchmark/{group.split('/')[1]}"
                    w.add(f"{set_dir}/HR/{stem}.png", hr)
                    for s, data in lrs.items():
                        w.add(f"{set_dir}/LR_bicubic/X{s}/{stem}x{s}.png", data)
        result[a] = w.close()
        log(f"{a}: {result[a]['members']} members, {result[a]['size']:,} bytes")
    index = out / "lookalike.json"
    previous = json.loads(index.read_text()).get("archives", {}) if index.is_file() else {}
    write_json(index, {"size": size, "seed": seed, "archives": {**previous, **result},
                       "note": "LOOK-ALIKE archives made from scikit-image's bundled photographs (sisr lookalike); "
                               "not the real datasets"})
    return result


# ------------------------------------------------------------------------------------------ random-init weights
RANDOM_NOTE = """RANDOM-INIT WEIGHTS. The .pth files in this folder carry the real torch hub file names so that
torchvision, lpips and pytorch-fid load them offline, but their weights are RANDOM (torch.manual_seed(0), the
networks' default initialisation, stored as float16). They exist only for dress rehearsals (sisr lookalike
--weights): every LPIPS, FID and VGG perceptual-loss value computed with them is meaningless.
"""


def random_fid_inception() -> Any:
    """The FID Inception network in the layout of ``pytorch_fid.inception.fid_inception_v3``, left at its random
    initialisation (for rehearsals and tests; its features mean nothing)."""
    from pytorch_fid import inception as pfi  # deferred: torch and torchvision, only for --weights

    net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pfi.FIDInceptionE_1(1280)
    net.Mixed_7c = pfi.FIDInceptionE_2(2048)
    return net


def _random_networks() -> Iterator[tuple[str, Any]]:
    import torch  # deferred: torch, only for --weights (sisr lookalike without it needs none)
    import torchvision  # deferred: torchvision (1.4 s), only for --weights

    torch.manual_seed(0)
    yield "alexnet", torchvision.models.alexnet()
    yield "vgg16", torchvision.models.vgg16()
    yield "vgg19", torchvision.models.vgg19()
    yield "fid_inception", random_fid_inception()


def write_random_weights(out_dir: str | os.PathLike, *, log=print) -> dict[str, dict[str, str]]:
    """Random-init backbones under their real file names in ``out_dir`` (see the module docstring).

    Returns ``{name: {"sha256": ...}}`` for the config's ``weights_checksums:``. Existing files are kept.
    """
    import torch  # deferred: torch, only for --weights (sisr lookalike without it needs none)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "RANDOM_INIT_WEIGHTS.txt").write_text(RANDOM_NOTE)
    sums = {}
    missing = [n for n in WEIGHTS if not (out / WEIGHTS[n].filename).is_file()]
    for name, net in (_random_networks() if missing else ()):
        path = out / WEIGHTS[name].filename
        if not path.is_file():
            state = {k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}
            with atomic_write(path) as fh:
                torch.save(state, fh)
        del net
    for name, spec in WEIGHTS.items():
        sums[name] = {"sha256": sha256_file(out / spec.filename)}
        log(f"{spec.filename}: RANDOM-INIT stand-in for {name}")
    return sums


# ------------------------------------------------------------------------------------------ rehearsal config
REHEARSAL_DIRS = {"data_dir": "data-rehearsal", "results_dir": "results-rehearsal", "weights_dir": "weights-rehearsal"}
# keep_optimizer_state False: the quick tier keeps Adam's moments so a run can be extended; a rehearsal's checkpoints
# are thrown away, and plain_b24_c612's checkpoint_last.pt would hold 3 GB of them (0.76 GB without)
# eval_images 1: a model's evaluation on the first image of each set (two where it computes FID); batches_per_epoch
# 1: one optimizer step per epoch (and per GAN phase). The rehearsal's evaluations were half its CPU time, most of it
# on the second image of every set, and the second batch was about half of its trainings' (docs/BENCHMARKS.md,
# session 8); one image and one step still run every job of the graph.
REHEARSAL_CAPS = {"epochs": 1, "batches_per_epoch": 1, "valid_images": 1, "eval_images": 1, "batch_size": 1,
                  "keep_optimizer_state": False}
# inverted_unet's letterboxed images at size "small": 192 (LR 96) instead of the study's 512 (LR 256). Its U-Net
# upsamples x8 inside (LR 256 -> 2048 x 2048 x 64 features), so on the CPU one 256 LR image is about 12 s of evaluation
# and its trainings held 7 GB; the same jobs on a seventh of the pixels (192: MS-SSIM, one of the study's metrics,
# needs 161 pixels per side after the x2 shave). The study trains on whole images (epoch_def fixed_pairs, patch_size
# = the LR side), so the rehearsal caps patch_size at the smaller LR side.
SMALL_INVERTED_UNET_SIZE = 192
SIZE_CAPS = {"small": {"patch_size": SMALL_INVERTED_UNET_SIZE // 2}, "full": {}}


def derived_params(size: str) -> dict[str, dict[str, Any]]:
    """Derived-dataset parameters that fit the look-alike counts (``full``: none, the builders' defaults)."""
    if size == "full":
        return {}
    s = SIZES[size]
    n_div2k = s.div2k_train + s.div2k_valid
    return {"residual_sweep": {"counts": [8, 1, 1]},  # 12 images: 10 / 1 / 1 (in proportion; each split >= 1)
            "rrdb_gan": {"counts": [n_div2k - 4, 2, 2]},
            "inverted_unet": {"size": SMALL_INVERTED_UNET_SIZE}}  # with SIZE_CAPS' patch_size


def rehearsal_config(out_dir: str | os.PathLike, *, size: str, mirror: str | None = None,
                     weights: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """The config entries of a rehearsal on the archives in ``out_dir``: ``mirror``, ``archives`` (checksums),
    ``weights_checksums``, ``derived``, ``rehearsal`` (the schedule caps) and folders of its own (``REHEARSAL_DIRS``,
    so that look-alike data, random-init weights and meaningless results never mix with real ones);
    written to ``rehearsal.yaml``."""
    out = Path(out_dir).resolve()
    index = json.loads((out / "lookalike.json").read_text())
    archives = {a: {"size": r["size"], "sha256": r["sha256"], "md5": r["md5"]} for a, r in index["archives"].items()}
    cfg: dict[str, Any] = {"mirror": mirror or str(out), "archives": archives, "derived": derived_params(size),
                           "rehearsal": {**REHEARSAL_CAPS, **SIZE_CAPS[size]}, **REHEARSAL_DIRS}
    if weights:
        cfg["weights_checksums"] = weights
    with atomic_write(out / "rehearsal.yaml", "w") as fh:
        fh.write("# Dress rehearsal on LOOK-ALIKE archives (sisr lookalike): capped schedules; weights, if any, are\n"
                 "# RANDOM-INIT stand-ins. Numbers made with this config mean nothing about super-resolution.\n")
        yaml.safe_dump(cfg, fh, sort_keys=False)
    return cfg
