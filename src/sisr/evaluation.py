"""The evaluation loop: the workflow's evaluation jobs and ``sisr evaluate`` both run :func:`evaluate`.

Standard protocol (docs/REFERENCE.md): SR and HR as ``uint8``; HR cropped at the top-left to the SR size
(the LR was made from ``modcrop(HR, scale)``); ``scale`` border pixels removed on each side; PSNR/SSIM on
the Y channel (``*_y``) or on RGB (``*_rgb``). A grayscale image (``H x W``) is scored on its single
channel by every metric. A 3-channel SR of a grayscale HR (an RGB model given the gray LR repeated to three
channels, as Set14 ``bridge``) is first reduced to one channel by :func:`sr_for_hr`: its full-range BT.601
luma ``0.299 R + 0.587 G + 0.114 B``, rounded to uint8 (a gray SR, R = G = B, gives back its gray value).

Where the kernels run is decided once per evaluation by :func:`sisr.base.device.kernel_device`: on a CUDA device (a
workflow job with a GPU resource, ``sisr evaluate --device cuda``), the LR images made here and the metrics whose
record says ``on_device`` are computed by torch on that device (float64; the same pixels and values); otherwise by
NumPy on the CPU.

The metrics are the records of :mod:`sisr.metrics.registry`: per image (one DataFrame column each) or per
set (FID: its value goes to ``df.attrs["set_metrics"]``; it reads the images itself with
:func:`~sisr.base.pairing.load_pair`, so a large set need not be held in memory). Pairing SR with HR files is
:mod:`sisr.base.pairing`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from sisr import degradations
from sisr.base.device import kernel_device, synchronize, upload
from sisr.base.errors import SisrError
from sisr.base.io import SCALE_KEY, read_image, write_image
from sisr.data.datasets import to_y
from sisr.metrics.registry import DEFAULT_METRICS, METRICS as REGISTRY, check_metric_names
from sisr.base.pairing import check_made_at, load_pair, pair_folders, sr_for_hr  # noqa: F401  (sr_for_hr: part of this API)

log = logging.getLogger("sisr")

__all__ = ["DEFAULT_METRICS", "check_metric_names", "default_workers", "evaluate", "evaluate_folders", "image_line",
           "load_pair", "pair_folders", "score", "sr_for_hr"]


# Held by the evaluation kernels on a GPU (worker threads) and by the timed inference (the calling thread), so that
# the ``seconds`` of an image time its model alone: a GPU synchronisation would also wait for the metric kernels.
_DEVICE_LOCK = threading.Lock()


def default_workers() -> int:
    """Images scored at once: the CPU cores this process may use (the kernels release the GIL)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def score(sr: np.ndarray, hr: np.ndarray, *, scale: int, metrics: Sequence[str],
          border: int | None = None, device=None) -> dict[str, float]:
    """The per-image metrics among ``metrics`` of one uint8 SR / HR pair (same size; see the module docstring).

    ``border``: pixels removed at each border by the standard metrics (records with ``border=True``) instead
    of ``scale`` (``sisr evaluate --crop-border``); the their-protocol and perceptual metrics keep their crops.
    ``device``: a torch device (:func:`sisr.base.device.kernel_device`): the metrics whose record says ``on_device``
    are computed there, on the pair uploaded once; None: every metric on the numpy arrays.
    """
    per_image = [m for m in metrics if not REGISTRY[m].per_set]
    on_device = [m for m in per_image if device is not None and REGISTRY[m].on_device]

    def third(m: str) -> int:
        return border if border is not None and REGISTRY[m].border else scale

    values = {}
    if on_device:
        with _DEVICE_LOCK:  # not while an inference is timed; each value read back (float) before it is released
            sr_t, hr_t = upload(sr, device), upload(hr, device)
            values = {m: float(REGISTRY[m].fn(sr_t, hr_t, third(m))) for m in on_device}
    return {m: values[m] if m in values else float(REGISTRY[m].fn(sr, hr, third(m))) for m in per_image}


def _in_threads(metric: str) -> bool:
    """Metrics scored in worker threads: the numpy kernels. Those with networks (LPIPS) run in the calling
    thread (their models are built once per process, under a warnings filter that is not thread-safe)."""
    return REGISTRY[metric].weights is None


def _row(name: str, sr: np.ndarray, hr: np.ndarray, scale: int, metrics: Sequence[str],
         extra: dict[str, Any], border: int | None, device) -> dict[str, Any]:
    return {"image": name, "height": sr.shape[0], "width": sr.shape[1], **extra,
            **score(sr, hr, scale=scale, metrics=[m for m in metrics if _in_threads(m)], border=border,
                    device=device)}


def image_line(name: str, row: Mapping, metrics: Sequence[str]) -> str:
    """One readable log line per evaluated image: ``Set5 x4 baby: psnr_y 33.91 dB, ssim_y 0.9040, 0.12 s``."""
    parts = []
    for metric in metrics:
        value = row.get(metric)
        if isinstance(value, (int, float)):
            parts.append(f"{metric} {value:.2f} dB" if metric.startswith("psnr") else f"{metric} {value:.4f}")
    if "seconds" in row:
        parts.append(f"{row['seconds']:.2f} s")
    return f"{name}: " + ", ".join(parts)


def _finish(row: dict[str, Any], sr: np.ndarray, hr: np.ndarray, scale: int, metrics: Sequence[str],
            label: str, border: int | None) -> dict:
    row.update(score(sr, hr, scale=scale, metrics=[m for m in metrics if not _in_threads(m)], border=border,
                     device=None))
    log.info("%s", image_line(f"{label} {row['image']}" if label else row["image"], row, metrics))
    return row


def evaluate(pairs: Sequence, *, scale: int, metrics: Sequence[str] = DEFAULT_METRICS, model=None,
             sr_dir: str | os.PathLike | None = None, device=None, tile: int | None = None,
             in_channels: int | None = None, workers: int | None = None, label: str = "",
             border: int | None = None, degradation: str = degradations.DEFAULT,
             warm_up: bool = True) -> pd.DataFrame:
    """Score every pair (standard protocol); with a model, make the SR images first. One row per image.

    Without ``model``: ``pairs`` are ``(name, sr_path, hr_path)`` (:func:`~sisr.base.pairing.pair_folders`); rows
    hold ``image, height, width`` (the scored size, before the border crop) and the per-image metrics.

    With ``model`` (a trained network or a non-learned baseline, on ``device``): ``pairs`` have ``name``,
    ``hr`` and ``lr`` (None, or ``degradation`` not the default ``bicubic``: made from the HR by ``degradation``,
    :mod:`sisr.degradations`, modcrop first); each LR is
    super-resolved (``sisr.training.inference``; ``in_channels``: 1 gives the model the Y channel of RGB images and
    scores it against the Y of the HR; 3 repeats a grayscale LR; None passes the LR as it is), written to
    ``sr_dir/<name>.png`` and scored against the HR; rows also hold ``seconds`` (inference, measured after one
    warm-up run on the first image; ``warm_up=False``: none, for a model already run in this process, as the
    workflow's evaluation job does for every set after its first) and ``hr_path``.

    Set-level metrics are computed at the end over ``(name, sr_path, hr_path)`` and stored in
    ``df.attrs["set_metrics"]``. ``workers`` images are scored at once (default :func:`default_workers`;
    with a model, scoring runs beside the next image's inference; at most two images per worker wait in memory).
    Each image is logged on one line (:func:`image_line`, prefixed by ``label``). ``border``: see :func:`score`.
    The kernels (LR made from the HR, the ``on_device`` metrics) run on :func:`sisr.base.device.kernel_device` of
    ``device``: with a CUDA device there, else NumPy on the CPU.
    """
    metrics = list(metrics)
    check_metric_names(metrics)
    degrade = degradations.get(degradation)
    per_image = [m for m in metrics if not REGISTRY[m].per_set]
    if model is not None and sr_dir is None:
        raise SisrError("evaluate: a model needs an sr_dir to write its SR images to")
    kernels = kernel_device(device)
    n_workers = workers or default_workers()
    scored: list[tuple[str, Path, Path]] = []
    rows: list[dict[str, Any]] = []
    pending: deque = deque()  # futures of (row, (sr, hr)), in image order; at most 2 per worker

    def folder_row(name: str, sr_path: Path, hr_path: Path):
        sr, hr = load_pair(sr_path, hr_path, scale=scale)
        return _row(name, sr, hr, scale, per_image, {}, border, kernels), (sr, hr)

    def model_row(name: str, sr: np.ndarray, hr: np.ndarray, extra: dict[str, Any]):
        return _row(name, sr, hr, scale, per_image, extra, border, kernels), (sr, hr)

    def drain(keep: int) -> None:
        while len(pending) > keep:  # the metrics with networks (LPIPS) in this thread, in order
            row, (sr, hr) = pending.popleft().result()
            rows.append(_finish(row, sr, hr, scale, per_image, label, border))

    # The kernels are many small BLAS products: one BLAS thread per worker. BLAS's own threads would spin-wait
    # between them, and on a busy machine that costs 5x the CPU time (measured: docs/BENCHMARKS.md).
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(max_workers=n_workers) as pool:
        for pair in pairs:
            if model is None:
                name, sr_path, hr_path = pair
                pending.append(pool.submit(folder_row, name, Path(sr_path), Path(hr_path)))
                scored.append((name, Path(sr_path), Path(hr_path)))
            else:
                sr, hr, seconds, sr_path = _super_resolve(pair, model, scale=scale, sr_dir=Path(sr_dir),
                                                          device=device, tile=tile, in_channels=in_channels,
                                                          warm_up=warm_up and not scored, kernels=kernels,
                                                          degrade=degrade)
                pending.append(pool.submit(model_row, pair.name, sr, hr, {"seconds": seconds, "hr_path": str(pair.hr)}))
                scored.append((pair.name, sr_path, Path(pair.hr)))
            drain(2 * n_workers)
        drain(0)
    columns = ["image", "height", "width", *(["seconds", "hr_path"] if model is not None else []), *per_image]
    df = pd.DataFrame(rows, columns=columns)
    df.attrs["set_metrics"] = {m: REGISTRY[m].fn(scored, scale) for m in metrics if REGISTRY[m].per_set}
    return df


def _super_resolve(pair, model, *, scale: int, sr_dir: Path, device, tile: int | None,
                   in_channels: int | None, degrade: degradations.Degradation, warm_up: bool = False,
                   kernels=None) -> tuple[np.ndarray, np.ndarray, float, Path]:
    """SR of one dataset pair, written as PNG; returns ``(sr, hr cropped to it, seconds, sr_path)``.

    ``seconds``: the inference time; ``warm_up`` runs the model once before it is timed (first image).
    ``kernels``: the device that makes a missing LR (:func:`sisr.base.device.kernel_device`; None: NumPy), when
    ``degrade`` computes on a device. A pair's LR file is read under the default degradation only."""
    from sisr.training.inference import model_input, super_resolve  # deferred: torch; sisr evaluate on SR folders needs no model

    hr = read_image(pair.hr, mode="any")
    if pair.lr and degrade.name == degradations.DEFAULT:
        lr = read_image(pair.lr, mode="any")
    elif kernels is not None and degrade.on_device:
        lr = degrade.lr(upload(hr, kernels), scale, image=pair.name).cpu().numpy()
    else:
        lr = degrade.lr(hr, scale, image=pair.name)
    lr = model_input(lr, in_channels)
    with _DEVICE_LOCK if kernels is not None else contextlib.nullcontext():  # no metric kernels on the device now
        if warm_up:  # lazy initialisation, caches, CUDA context, kernel choice: not in the timing
            super_resolve(model, lr, scale=scale, device=device, tile=tile)
            synchronize(device)
        t0 = time.perf_counter()
        sr = super_resolve(model, lr, scale=scale, device=device, tile=tile)
        synchronize(device)
        seconds = time.perf_counter() - t0
    sr_dir.mkdir(parents=True, exist_ok=True)
    sr_path = sr_dir / f"{pair.name}.png"
    write_image(sr_path, sr, text={SCALE_KEY: str(scale)})
    if in_channels == 1 and hr.ndim == 3:
        hr = to_y(hr)
    sr = sr_for_hr(sr, hr)
    if not (0 <= hr.shape[0] - sr.shape[0] < scale and 0 <= hr.shape[1] - sr.shape[1] < scale) or sr.ndim != hr.ndim:
        raise SisrError(f"size mismatch: SR {sr_path} {sr.shape} vs HR {pair.hr} {hr.shape}; expected the HR "
                        f"to be the SR size plus less than {scale} pixels per side, with the same channels")
    return sr, hr[: sr.shape[0], : sr.shape[1]], seconds, sr_path


def evaluate_folders(sr_dir: str | os.PathLike, hr_dir: str | os.PathLike, *, scale: int,
                     metrics: Sequence[str] = DEFAULT_METRICS, border: int | None = None,
                     workers: int | None = None, device=None) -> pd.DataFrame:
    """:func:`evaluate` of the SR folder against the HR folder (files paired by :func:`pair_folders`);
    ``device``: as :func:`evaluate` (None: the kernels in NumPy on the CPU)."""
    check_metric_names(list(metrics))
    pairs = pair_folders(sr_dir, hr_dir, scale=scale)
    check_made_at(pairs, scale)
    return evaluate(pairs, scale=scale, metrics=metrics, workers=workers, border=border, device=device)
