"""Perceptual metrics with the reference packages and offline weights: LPIPS (``lpips``) and FID (``pytorch-fid``).

Input contract: lists of ``uint8`` images, ``H x W x 3`` RGB or ``H x W`` single channel (e.g. the Y
output of a Y-only model). Single-channel images are repeated to 3 channels, since both networks take RGB.

LPIPS (Zhang et al. 2018, ``lpips`` 0.1.4, version 0.1): ``lpips.LPIPS(net="alex"|"vgg")`` on RGB scaled
to [-1, 1] (``x / 127.5 - 1``), one value per image pair (spatial average). Its linear heads ship inside
the wheel; its trunk is torchvision's ImageNet AlexNet / VGG16, loaded through torch hub from the cache of
``sisr.data.weights`` (checked first, so a missing file fails before any network access).

FID (Heusel et al. 2017, ``pytorch-fid`` 0.3.0): 2048-d pool3 features of pytorch-fid's ``InceptionV3``
(the TensorFlow FID weights; inputs in [0, 1], resized to 299 x 299 bilinearly inside the network), then
the Fréchet distance between Gaussians fitted to the two sets (:func:`frechet_distance`). With fewer than
2048 images the estimate is biased (pytorch-fid README): a warning says so, and the image count is returned
so tables can show it.

``device="auto"``: as ``sisr.base.device.resolve_device`` (the job's device; else CUDA when available, else CPU).
Results on CPU are deterministic; on GPU they may differ in the last float32 digits.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

import numpy as np

from sisr.data import weights
from sisr.base.pairing import load_pair
from sisr.base.device import resolve_device
from sisr.base.errors import SisrError
from sisr.metrics.spec import Metric

if TYPE_CHECKING:  # torch is imported when a metric is computed, not when the registry is read
    import torch  # deferred: torch; the workflow's dry run imports this module

FID_MIN_IMAGES = 2048  # below this FID is biased (pytorch-fid README: "at least 2048 images")
FID_DIMS = 2048

_LPIPS_TRUNK = {"alex": "alexnet", "vgg": "vgg16"}


def _prepare_hub(name: str, cache: str | os.PathLike | None) -> None:
    """Verify the file ``name`` and make torch hub read it from our cache (fails before any download)."""
    import torch  # deferred: torch; the workflow's dry run imports this module

    path = weights.require(name, cache=cache)
    weights.use_cache(path.parents[len(weights.HUB_CHECKPOINTS.parts)])
    hub_file = Path(torch.hub.get_dir()) / "checkpoints" / path.name
    if not (hub_file.is_file() and hub_file.samefile(path)):
        raise SisrError(f"torch hub looks in {torch.hub.get_dir()} (torch.hub.set_dir was called?), not in the "
                        f"weights cache {path.parent}: it would download {path.name} instead of using {path}")


def rgb_tensor(img: np.ndarray, what: str = "image") -> torch.Tensor:
    """``uint8`` ``H x W`` / ``H x W x 3`` -> float32 ``3 x H x W`` in [0, 1] (single channel repeated)."""
    import torch  # deferred: torch; the workflow's dry run imports this module

    if img.dtype != np.uint8:
        raise SisrError(f"{what}: expected a uint8 image, got {img.dtype}")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] != 3:
        raise SisrError(f"{what}: expected H x W x 3 or H x W, got shape {img.shape}")
    return torch.tensor(img).permute(2, 0, 1).float() / 255.0  # a copy: read_image's arrays are read-only


def _batches_by_size(tensors: Sequence[torch.Tensor], batch_size: int) -> list[list[int]]:
    """Indices grouped by image size, in chunks of at most ``batch_size`` (so each chunk stacks)."""
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for i, t in enumerate(tensors):
        groups[tuple(t.shape)].append(i)
    return [idx[k:k + batch_size] for idx in groups.values() for k in range(0, len(idx), batch_size)]


@functools.lru_cache(maxsize=4)
def _lpips_model(net: str, device: str, weight_file: str) -> torch.nn.Module:
    """lpips.LPIPS with its pretrained heads and ImageNet trunk (read from the hub cache); kept per process."""
    import lpips  # deferred: lpips loads torch and torchvision (2 s); the dry run imports this module

    with warnings.catch_warnings(), weights.skip_random_init():  # every weight is read from the files
        warnings.simplefilter("ignore", UserWarning)  # lpips calls torchvision's deprecated `pretrained=True`
        model = lpips.LPIPS(net=net, version="0.1", pretrained=True, pnet_rand=False, verbose=False)
    return weights.check_loaded(model, f"lpips ({net}, {weight_file})").eval().to(device)


def lpips_model(net: str = "alex", *, device: str | torch.device = "auto",
                cache: str | os.PathLike | None = None) -> torch.nn.Module:
    """The LPIPS network ``net`` ("alex" or "vgg") on ``device``; MissingWeightsError if its trunk is not cached."""
    if net not in _LPIPS_TRUNK:
        raise SisrError(f"lpips: net must be one of {sorted(_LPIPS_TRUNK)}, got {net!r}")
    _prepare_hub(_LPIPS_TRUNK[net], cache)
    weight_file = str(weights.checkpoint_path(_LPIPS_TRUNK[net], cache=cache).resolve())
    return _lpips_model(net, str(resolve_device(device)), weight_file)


def lpips_from_tensors(sr: Sequence[torch.Tensor], hr: Sequence[torch.Tensor], *, net: str = "alex",
                       device: str | torch.device = "auto", batch_size: int = 8,
                       cache: str | os.PathLike | None = None) -> np.ndarray:
    """LPIPS of pairs of ``3 x H x W`` float tensors already in the network's input range (normally [-1, 1]).

    The building block of :func:`lpips_distance` and of the "their protocol" variant that standardises
    images first. Pairs must have equal shapes; pairs of different sizes are batched separately.
    """
    import torch  # deferred: torch; the workflow's dry run imports this module

    if len(sr) != len(hr):
        raise SisrError(f"lpips: {len(sr)} SR images but {len(hr)} HR images")
    for i, (a, b) in enumerate(zip(sr, hr)):
        if a.shape != b.shape or a.ndim != 3 or a.shape[0] != 3:
            raise SisrError(f"lpips: pair {i}: SR {tuple(a.shape)} and HR {tuple(b.shape)} must both be 3 x H x W")
    model = lpips_model(net, device=device, cache=cache)
    dev = next(model.parameters()).device
    out = np.empty(len(sr), dtype=np.float64)
    with torch.inference_mode():
        for idx in _batches_by_size(sr, batch_size):
            x = torch.stack([sr[i] for i in idx]).to(dev)
            y = torch.stack([hr[i] for i in idx]).to(dev)
            out[idx] = model(x, y).flatten().double().cpu().numpy()
    return out


def lpips_distance(sr_list: Sequence[np.ndarray], hr_list: Sequence[np.ndarray], *, net: str = "alex",
                   device: str | torch.device = "auto", batch_size: int = 8, crop: int = 0,
                   cache: str | os.PathLike | None = None) -> np.ndarray:
    """Per-image LPIPS v0.1 between SR and HR ``uint8`` images (lower is more similar).

    net: "alex" (column ``lpips_alex``) or "vgg" (``lpips_vgg``). crop: pixels removed from each side
    first (0: the whole image, as BasicSR and the LPIPS tables of SR papers). Images are scaled to [-1, 1];
    single-channel images are repeated to RGB. Returns float64 values, one per pair.
    """
    def prepare(img: np.ndarray, what: str) -> torch.Tensor:
        t = rgb_tensor(img, what) * 2.0 - 1.0
        return t[:, crop:t.shape[1] - crop, crop:t.shape[2] - crop] if crop else t

    sr = [prepare(img, f"lpips SR image {i}") for i, img in enumerate(sr_list)]
    hr = [prepare(img, f"lpips HR image {i}") for i, img in enumerate(hr_list)]
    return lpips_from_tensors(sr, hr, net=net, device=device, batch_size=batch_size, cache=cache)


def lpips_alex(sr: np.ndarray, hr: np.ndarray, scale: int | None = None) -> float:
    """LPIPS v0.1 / AlexNet of one pair on the whole image (column ``lpips_alex``; ``scale`` unused)."""
    return float(lpips_distance([sr], [hr], net="alex")[0])


def lpips_vgg(sr: np.ndarray, hr: np.ndarray, scale: int | None = None) -> float:
    """LPIPS v0.1 / VGG16 of one pair on the whole image (column ``lpips_vgg``; ``scale`` unused)."""
    return float(lpips_distance([sr], [hr], net="vgg")[0])


@functools.lru_cache(maxsize=2)
def _inception(device: str, weight_file: str) -> torch.nn.Module:
    from pytorch_fid.inception import InceptionV3  # deferred: torch and torchvision; the dry run imports this module

    with weights.skip_random_init():  # every weight is read from the file
        model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[FID_DIMS]], resize_input=True, normalize_input=True)
    return weights.check_loaded(model, f"fid ({weight_file})").eval().to(device)


def fid_model(*, device: str | torch.device = "auto", cache: str | os.PathLike | None = None) -> torch.nn.Module:
    """pytorch-fid's InceptionV3 (pool3 output) on ``device``; MissingWeightsError if its weights are not cached."""
    _prepare_hub("fid_inception", cache)
    weight_file = str(weights.checkpoint_path("fid_inception", cache=cache).resolve())
    return _inception(str(resolve_device(device)), weight_file)


def tiles(img: np.ndarray, size: int) -> list[np.ndarray]:
    """Non-overlapping ``size x size`` tiles of ``img``, row by row from the top-left; partial tiles dropped."""
    h, w = img.shape[:2]
    if h < size or w < size:
        raise SisrError(f"fid: a {h}x{w} image is smaller than the {size}x{size} crop")
    return [img[y:y + size, x:x + size] for y in range(0, h - size + 1, size) for x in range(0, w - size + 1, size)]


def inception_features(images: Iterable[np.ndarray], *, device: str | torch.device = "auto", batch_size: int = 16,
                       cache: str | os.PathLike | None = None) -> np.ndarray:
    """``N x 2048`` float64 pool3 features of ``uint8`` images (single channel repeated to RGB).

    images: any iterable (a generator reading files keeps one batch in memory); consecutive images of the
    same size are batched together.
    """
    import torch  # deferred: torch; the workflow's dry run imports this module

    model = fid_model(device=device, cache=cache)
    dev = next(model.parameters()).device
    feats: list[np.ndarray] = []
    batch: list[torch.Tensor] = []

    def flush() -> None:
        if batch:
            with torch.inference_mode():
                pool3 = model(torch.stack(batch).to(dev))[0]  # N x 2048 x 1 x 1
            feats.append(pool3.flatten(1).double().cpu().numpy())
            batch.clear()

    for i, img in enumerate(images):
        t = rgb_tensor(img, f"fid image {i}")
        if batch and (t.shape != batch[0].shape or len(batch) == batch_size):
            flush()
        batch.append(t)
    flush()
    return np.concatenate(feats) if feats else np.empty((0, FID_DIMS))


def frechet_distance(feats1: np.ndarray, feats2: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two ``N x D`` feature sets (means, sample covariances).

    ``|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))``. When a set has at most D samples its
    covariance is singular, and the trace term is computed exactly in the sample space:
    ``tr((S1 S2)^(1/2))`` is the sum of singular values of ``A1 A2^T / sqrt((N1-1)(N2-1))`` (``Ai`` the centred
    features), since ``S1 S2`` and ``(A1 A2^T)(A1 A2^T)^T`` share their non-zero eigenvalues. That avoids
    ``scipy.linalg.sqrtm`` of a singular D x D matrix (about 20 s for D = 2048 on one core, and off by
    ~1e-3 for identical sets). With more samples than dimensions pytorch-fid's
    ``calculate_frechet_distance`` is used as is.
    """
    feats1 = np.asarray(feats1, dtype=np.float64)
    feats2 = np.asarray(feats2, dtype=np.float64)
    if feats1.ndim != 2 or feats2.ndim != 2 or feats1.shape[1] != feats2.shape[1]:
        raise SisrError(f"fid: feature sets must be N x D with the same D, got {feats1.shape} and {feats2.shape}")
    n1, n2 = len(feats1), len(feats2)
    if min(n1, n2) < 2:
        raise SisrError(f"fid: each set needs at least 2 images to estimate a covariance, got {n1} and {n2}")
    mu1, mu2 = feats1.mean(axis=0), feats2.mean(axis=0)
    if min(n1, n2) <= feats1.shape[1]:
        a1, a2 = feats1 - mu1, feats2 - mu2
        tr1 = float(np.sum(a1 * a1)) / (n1 - 1)
        tr2 = float(np.sum(a2 * a2)) / (n2 - 1)
        tr_sqrt = float(np.linalg.svd(a1 @ a2.T, compute_uv=False).sum()) / np.sqrt((n1 - 1) * (n2 - 1))
        return float(np.sum((mu1 - mu2) ** 2) + tr1 + tr2 - 2.0 * tr_sqrt)
    from pytorch_fid.fid_score import calculate_frechet_distance  # deferred: torch and scipy; the dry run imports this module

    sigma1, sigma2 = np.cov(feats1, rowvar=False), np.cov(feats2, rowvar=False)
    return float(calculate_frechet_distance(mu1, sigma1, mu2, sigma2))


def fid(sr_images: Iterable[np.ndarray], hr_images: Iterable[np.ndarray], *, device: str | torch.device = "auto",
        crop: int | None = None, batch_size: int = 16, cache: str | os.PathLike | None = None) -> tuple[float, int]:
    """FID between the SR set and the HR set; returns ``(value, number of SR images)``.

    sr_images, hr_images: ``uint8`` images (lists or generators); the sets need not be paired.
    crop: None compares whole images (each resized to 299 x 299 inside the network); an int cuts every
    image into non-overlapping ``crop x crop`` tiles (partial tiles dropped) and compares the tile sets
    (more samples per image); the count returned is then the number of SR tiles.
    Warns when a set has fewer than 2048 samples (the estimate is then biased upwards); fewer than 2
    raise SisrError.
    """
    if crop is not None:
        sr_images = (t for img in sr_images for t in tiles(img, crop))
        hr_images = (t for img in hr_images for t in tiles(img, crop))
    f_sr = inception_features(sr_images, device=device, batch_size=batch_size, cache=cache)
    f_hr = inception_features(hr_images, device=device, batch_size=batch_size, cache=cache)
    n = min(len(f_sr), len(f_hr))
    if 2 <= n < FID_MIN_IMAGES:
        warnings.warn(f"FID on N = {n} < {FID_MIN_IMAGES} images is biased (pytorch-fid README)", stacklevel=2)
    return frechet_distance(f_sr, f_hr), len(f_sr)


def read_set(pairs: Sequence[tuple[str, os.PathLike, os.PathLike]], scale: int, which: str) -> Iterator[np.ndarray]:
    """The SR (``which="sr"``) or HR images of ``sisr.evaluation.pair_folders`` pairs, read one at a time
    with ``load_pair`` (HR cropped to the SR size, as for the other metrics)."""
    for _, sr_path, hr_path in pairs:
        yield load_pair(sr_path, hr_path, scale=scale)[0 if which == "sr" else 1]


def fid_set(pairs: Sequence[tuple[str, os.PathLike, os.PathLike]], scale: int) -> float:
    """Set-level metric ``fid`` for ``sisr.evaluation``: FID of the SR images against the HR images."""
    return fid(read_set(pairs, scale, "sr"), read_set(pairs, scale, "hr"))[0]


def fid_images(pairs: Sequence[tuple[str, os.PathLike, os.PathLike]], scale: int) -> float:
    """Set-level metric ``fid_n``: the number of images FID was computed on (below 2048 it is biased)."""
    return float(len(pairs))


# The records of sisr.metrics.registry (one per column).
METRICS = (
    Metric("lpips_alex", lpips_alex, higher_is_better=False, decimals=4, label="LPIPS (AlexNet)", weights="alexnet"),
    Metric("lpips_vgg", lpips_vgg, higher_is_better=False, decimals=4, label="LPIPS (VGG)", weights="vgg16"),
    Metric("fid", fid_set, per_set=True, higher_is_better=False, decimals=2, label="FID", weights="fid_inception",
           min_images=2),
    Metric("fid_n", fid_images, per_set=True, decimals=0, label="images in FID"),
)
