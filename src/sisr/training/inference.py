"""Running a super-resolution model on whole images, optionally in overlapping tiles.

Tiled inference cuts the LR image into ``tile`` x ``tile`` windows that overlap by ``overlap`` pixels on
each side, runs each window and keeps only its centre part. With ``overlap`` at least the model's receptive
radius (in LR pixels) the result equals whole-image inference up to floating-point rounding. When no tile is
given, ``super_resolve`` estimates the memory a whole-image forward needs and tiles by itself when it exceeds
what it may use (:func:`memory_budget`; ``$SISR_INFERENCE_MEMORY``), on CPU as on GPU.
"""

from __future__ import annotations

import contextlib
import logging
import os
import weakref
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from sisr.base.device import resolve_device, synchronize  # noqa: F401  (re-exported)
from sisr.base.errors import ConfigError, SisrError
from sisr.base.colour import YCBCR_FROM_RGB as _YCBCR_FROM_RGB
from sisr.base.colour import YCBCR_OFFSET as _YCBCR_OFFSET
from sisr.base.imresize import upscale
from sisr.data.datasets import to_y
from sisr.models import SPECS, create_model
from sisr.training.checkpoint import load_model


pick_device = resolve_device  # the one device resolver (sisr.base.device), under its old name here


class HalfPrecision(nn.Module):
    """``model`` in float16 (CUDA): float32 input cast to float16, the output back to float32."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.half()
        self.scale = getattr(model, "scale", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.half()).float()


def to_tensor(img: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 ``H x W`` or ``H x W x C`` -> float32 ``1 x C x H x W`` in [0, 1]."""
    arr = img[:, :, None] if img.ndim == 2 else img
    return torch.from_numpy(np.array(arr, copy=True)).permute(2, 0, 1)[None].to(device).float().div_(255.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """``1 x C x H x W`` float in [0, 1] -> uint8 ``H x W x C`` (``H x W`` for C = 1), clamped and rounded."""
    arr = x[0].detach().float().clamp_(0, 1).mul_(255.0).round_().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return arr[:, :, 0] if arr.shape[2] == 1 else arr


@contextlib.contextmanager
def full_float32():
    """Inference in full float32 on the GPU: TF32 off for convolutions and matrix products (PyTorch allows TF32
    convolutions by default, which moves PSNR in the third decimal and makes tiled and whole-image outputs differ
    more); the settings are restored afterwards. Training keeps TF32 (its speed modes). ``--half`` is float16
    either way."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@torch.no_grad()
def _forward(model: nn.Module, x: torch.Tensor, tile: int | None, overlap: int, scale: int) -> np.ndarray:
    """The uint8 SR image of ``x``: whole, or tile by tile into a uint8 array (the float SR image of a huge LR
    never exists at once; quantising tile by tile equals quantising the whole, as it is elementwise)."""
    if tile is None or (x.shape[2] <= tile and x.shape[3] <= tile):
        return to_uint8(model(x))
    _, _, h, w = x.shape
    out = None
    step = tile - 2 * overlap
    if step <= 0:
        raise ConfigError(f"tile {tile} must exceed twice the tile overlap {overlap} (use a tile of at least "
                          f"{2 * overlap + 1}, or a smaller overlap)")
    for top in range(0, h, step):
        for left in range(0, w, step):
            y0, x0 = max(top - overlap, 0), max(left - overlap, 0)
            y1, x1 = min(top + step + overlap, h), min(left + step + overlap, w)
            sr = model(x[:, :, y0:y1, x0:x1])
            if out is None:
                out = np.empty((h * scale, w * scale, sr.shape[1]), np.uint8)
            ky, kx = (top - y0) * scale, (left - x0) * scale
            hh, ww = (min(top + step, h) - top) * scale, (min(left + step, w) - left) * scale
            part = to_uint8(sr[:, :, ky: ky + hh, kx: kx + ww])
            out[top * scale: top * scale + hh, left * scale: left * scale + ww] = part.reshape(hh, ww, -1)
    return out[:, :, 0] if out.shape[2] == 1 else out


# Memory: inference picks tiles itself when a whole image would not fit the memory it may use (CPU and GPU).
PEAK_FACTOR = 4  # peak of a forward ~ 4 x the largest module output (its input, its output, a skip, workspace)
CPU_MEMORY_CAP = 4 * 2**30  # bytes: the most that inference plans to use on a CPU by default


def memory_budget(device: torch.device) -> int:
    """Bytes that inference may use: ``$SISR_INFERENCE_MEMORY`` (bytes, e.g. 8e9) when set; else on CUDA 80 %
    of the free GPU memory, on CPU half of the available memory (MemAvailable, or the cgroup limit if lower)
    and at most CPU_MEMORY_CAP (tiles of a few megapixels run as fast as whole images on a CPU, and a machine
    shared with other jobs keeps its memory)."""
    if os.environ.get("SISR_INFERENCE_MEMORY"):
        return int(float(os.environ["SISR_INFERENCE_MEMORY"]))
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0] * 0.8)
    available = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
    except OSError:
        pass
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(limit_file) as fh:
                text = fh.read().strip()
            if text.isdigit():
                available = min(available or int(text), int(text))
        except OSError:
            pass
    return min(int((available or 8 * 2**30) * 0.5), CPU_MEMORY_CAP)


@torch.no_grad()
def bytes_per_lr_pixel(model: nn.Module, channels: int, device: torch.device, probe: int = 32) -> float:
    """Estimated peak memory of a whole-image forward per LR pixel: a forward of a ``probe`` x ``probe`` patch
    records every module's output size; PEAK_FACTOR x the largest, plus the input and the output."""
    largest, hooks = [0], []

    def hook(_module, _inputs, output):
        if isinstance(output, torch.Tensor):
            largest[0] = max(largest[0], output.numel() * output.element_size())

    for module in model.modules():
        hooks.append(module.register_forward_hook(hook))
    try:
        x = torch.zeros(1, channels, probe, probe, device=device)
        out = model(x)
    finally:
        for h in hooks:
            h.remove()
    total = PEAK_FACTOR * largest[0] + x.numel() * 4 + out.numel() * 4
    return total / probe**2


# model -> {(channels, device, dtype): bytes per LR pixel}: one probe per model, not one per image (the probe is a forward of
# 32 x 32 LR pixels; on the small benchmark images of a rehearsal it was half again the inference itself)
_PER_PIXEL: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _bytes_per_lr_pixel_once(model: nn.Module, channels: int, device: torch.device) -> float:
    known = _PER_PIXEL.setdefault(model, {})
    first = next(iter(model.parameters()), None)
    key = (channels, str(device), None if first is None else first.dtype)  # a model made half later: probed again
    if key not in known:
        known[key] = bytes_per_lr_pixel(model, channels, device)
    return known[key]


def auto_tile(model: nn.Module, lr_shape: tuple[int, ...], device: torch.device, overlap: int,
              budget: int | None = None) -> int | None:
    """None when the whole image fits ``budget`` (default :func:`memory_budget`), else the LR tile side that fits.
    The memory per LR pixel is probed once per model, channels and device."""
    h, w = lr_shape[:2]
    channels = 1 if len(lr_shape) == 2 else lr_shape[2]
    per_pixel = _bytes_per_lr_pixel_once(model, channels, device)
    budget = memory_budget(device) if budget is None else budget
    if h * w * per_pixel <= budget:
        return None
    tile = int((budget / per_pixel) ** 0.5)
    if tile < 2 * overlap + 16:
        raise SisrError(f"not enough memory for inference: {budget / 2**20:.0f} MiB allowed, a tile of "
                        f"{2 * overlap + 16} LR pixels needs {(2 * overlap + 16) ** 2 * per_pixel / 2**20:.0f} MiB "
                        f"(SISR_INFERENCE_MEMORY sets the allowance)")
    return tile


def model_input(lr: np.ndarray, in_channels: int | None) -> np.ndarray:
    """An LR image in the channels a model was trained on: a grayscale image repeated to 3 channels for an RGB
    model (as the reference SR codebases do for Set14 ``bridge``), the BT.601 Y (rounded to uint8) of an RGB
    image for a Y model; ``in_channels`` None (a channel-agnostic interpolation baseline): unchanged."""
    if in_channels == 3 and lr.ndim == 2:
        return np.repeat(lr[:, :, None], 3, axis=2)
    if in_channels == 1 and lr.ndim == 3:
        return to_y(lr)
    return lr




def colour_output(lr: np.ndarray, sr_y: np.ndarray, scale: int) -> np.ndarray:
    """The RGB image of a Y model's output: its SR luma with the LR's chroma upscaled by MATLAB bicubic, as the
    SRCNN/ESPCN demos show a Y-channel result (MATLAB ``rgb2ycbcr`` / ``ycbcr2rgb``, BT.601, on 0..255 doubles).

    lr: the ``H x W x 3`` uint8 LR; sr_y: the model's ``sH x sW`` uint8 luma. Returns ``sH x sW x 3`` uint8.
    A metric on this image's Y differs from one on ``sr_y`` by the uint8 rounding of the RGB round trip;
    the workflow scores a Y model on ``sr_y`` itself.
    """
    ycbcr = _YCBCR_OFFSET + lr.astype(np.float64) @ _YCBCR_FROM_RGB.T
    chroma = upscale(ycbcr[:, :, 1:], scale)  # float in -> float out: not rounded between the passes
    if chroma.shape[:2] != sr_y.shape:
        raise SisrError(f"colour_output: SR {sr_y.shape} is not {scale}x the LR {lr.shape[:2]}")
    full = np.concatenate([sr_y.astype(np.float64)[:, :, None], chroma], axis=2)
    rgb = (full - _YCBCR_OFFSET) @ np.linalg.inv(_YCBCR_FROM_RGB).T
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


FALLBACK_TILE, FALLBACK_OVERLAP = 256, 32  # LR pixels; the overlap exceeds the receptive radius of our models


@torch.no_grad()
@full_float32()
def super_resolve(model: nn.Module, lr: np.ndarray, *, scale: int, device: torch.device | str = "cpu",
                  tile: int | None = None, overlap: int = 16, memory: int | None = None) -> np.ndarray:
    """Upscale one uint8 LR image with ``model`` (eval mode, float32) and return the uint8 SR image.

    Whole-image inference unless ``tile`` is given, or unless the whole image would not fit the memory
    inference may use (``memory`` bytes; default :func:`memory_budget`), on CPU as on GPU: then it is done in
    overlapping tiles (overlap FALLBACK_OVERLAP), which gives the same result. When the device still runs out
    of memory on a whole image, it is done again in FALLBACK_TILE tiles.
    """
    device = torch.device(device) if isinstance(device, str) else device
    model.eval()
    if tile is None:
        tile = auto_tile(model, lr.shape, device, FALLBACK_OVERLAP, memory)
        if tile is not None:
            overlap = FALLBACK_OVERLAP
            logging.getLogger("sisr").warning("a %sx%s image does not fit the memory allowed for inference: tiled "
                                              "inference (tile %d, overlap %d)", lr.shape[1], lr.shape[0], tile,
                                              overlap)
    x = to_tensor(lr, device)
    try:
        return _forward(model, x, tile, overlap, scale)
    except (torch.OutOfMemoryError, RuntimeError) as exc:
        out_of_memory = isinstance(exc, torch.OutOfMemoryError) or "can't allocate memory" in str(exc) or \
            "not enough memory" in str(exc)
        if not out_of_memory or (tile is not None and tile <= FALLBACK_TILE):
            raise
        if device.type == "cuda":
            torch.cuda.empty_cache()
        logging.getLogger("sisr").warning("out of memory on a %sx%s image: tiled inference (tile %d, overlap %d)",
                                          lr.shape[1], lr.shape[0], FALLBACK_TILE, FALLBACK_OVERLAP)
        return _forward(model, x, FALLBACK_TILE, FALLBACK_OVERLAP, scale)


class LoadedModel(NamedTuple):
    """A model ready for inference: the network (eval mode), its registered name, the channels it was trained on
    (1: Y, 3: RGB; None for a channel-agnostic interpolation baseline) and the factor it upscales by."""

    model: nn.Module
    name: str
    in_channels: int | None
    scale: int


def load_any_model(name_or_checkpoint: str, *, scale: int, in_channels: int, device) -> LoadedModel:
    """A registered non-learned model by name (built for ``scale`` and ``in_channels``), or a trained model
    from its checkpoint: then name, channels and scale are those of the config it carries (not the arguments),
    so that a caller can check them (``sisr upscale --scale``, evaluation jobs)."""
    if name_or_checkpoint in SPECS and not Path(name_or_checkpoint).suffix:
        model = create_model(name_or_checkpoint, scale=scale, in_channels=in_channels).to(device).eval()
        return LoadedModel(model, name_or_checkpoint, None, scale)
    model, cfg = load_model(name_or_checkpoint, device)
    return LoadedModel(model, cfg.model, cfg.in_channels, cfg.scale)


def check_scale(loaded: LoadedModel, scale: int, what: str) -> None:
    """SisrError naming both factors when ``loaded`` does not upscale by ``scale``."""
    if loaded.scale != scale:
        raise SisrError(f"{what}: the model upscales x{loaded.scale} (its checkpoint's config), "
                        f"not x{scale} as asked (--scale {scale})")
