"""Running a super-resolution model on whole images, optionally in overlapping tiles.

Tiled inference cuts the LR image into ``tile`` x ``tile`` windows that overlap by ``overlap`` pixels on
each side, runs each window and keeps only its centre part. With ``overlap`` at least the model's receptive
radius (in LR pixels) the result equals whole-image inference up to floating-point rounding.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def pick_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA when available, else CPU. ``cuda`` without a GPU falls back to CPU with a warning."""
    if device == "auto" or (device == "cuda" and not torch.cuda.is_available()):
        if device == "cuda":
            import warnings

            warnings.warn("device 'cuda' requested but CUDA is not available: using the CPU", stacklevel=2)
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def to_tensor(img: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 ``H x W`` or ``H x W x C`` -> float32 ``1 x C x H x W`` in [0, 1]."""
    arr = img[:, :, None] if img.ndim == 2 else img
    return torch.from_numpy(np.array(arr, copy=True)).permute(2, 0, 1)[None].to(device).float().div_(255.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """``1 x C x H x W`` float in [0, 1] -> uint8 ``H x W x C`` (``H x W`` for C = 1), clamped and rounded."""
    arr = x[0].detach().float().clamp_(0, 1).mul_(255.0).round_().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return arr[:, :, 0] if arr.shape[2] == 1 else arr


@torch.no_grad()
def _forward(model: nn.Module, x: torch.Tensor, tile: int | None, overlap: int, scale: int) -> torch.Tensor:
    if tile is None or (x.shape[2] <= tile and x.shape[3] <= tile):
        return model(x)
    _, _, h, w = x.shape
    out = None
    step = tile - 2 * overlap
    if step <= 0:
        raise ValueError(f"tile {tile} must exceed twice the overlap {overlap}")
    for top in range(0, h, step):
        for left in range(0, w, step):
            y0, x0 = max(top - overlap, 0), max(left - overlap, 0)
            y1, x1 = min(top + step + overlap, h), min(left + step + overlap, w)
            sr = model(x[:, :, y0:y1, x0:x1])
            if out is None:
                out = x.new_zeros(x.shape[0], sr.shape[1], h * scale, w * scale)
            ky, kx = (top - y0) * scale, (left - x0) * scale
            hh, ww = (min(top + step, h) - top) * scale, (min(left + step, w) - left) * scale
            out[:, :, top * scale: top * scale + hh, left * scale: left * scale + ww] = sr[:, :, ky: ky + hh, kx: kx + ww]
    return out


def model_input(lr: np.ndarray, in_channels: int | None) -> np.ndarray:
    """An LR image in the channels a model was trained on: a grayscale image repeated to 3 channels for an RGB
    model (as the reference SR codebases do for Set14 ``bridge``), the BT.601 Y (rounded to uint8) of an RGB
    image for a Y model; ``in_channels`` None (a channel-agnostic interpolation baseline): unchanged."""
    if in_channels == 3 and lr.ndim == 2:
        return np.repeat(lr[:, :, None], 3, axis=2)
    if in_channels == 1 and lr.ndim == 3:
        from sisr.data.datasets import to_y

        return to_y(lr)
    return lr


FALLBACK_TILE, FALLBACK_OVERLAP = 256, 32  # LR pixels; the overlap exceeds the receptive radius of our models


@torch.no_grad()
def super_resolve(model: nn.Module, lr: np.ndarray, *, scale: int, device: torch.device | str = "cpu",
                  tile: int | None = None, overlap: int = 16) -> np.ndarray:
    """Upscale one uint8 LR image with ``model`` (eval mode, float32) and return the uint8 SR image.

    Whole-image inference unless ``tile`` is given; when the GPU runs out of memory on a whole image, the
    image is done again in overlapping tiles (FALLBACK_TILE / FALLBACK_OVERLAP), which gives the same result.
    """
    device = torch.device(device) if isinstance(device, str) else device
    model.eval()
    x = to_tensor(lr, device)
    try:
        return to_uint8(_forward(model, x, tile, overlap, scale))
    except torch.OutOfMemoryError:
        if tile is not None and tile <= FALLBACK_TILE:
            raise
        torch.cuda.empty_cache()
        import logging

        logging.getLogger("sisr").warning("out of GPU memory on a %sx%s image: tiled inference (tile %d, overlap %d)",
                                          lr.shape[1], lr.shape[0], FALLBACK_TILE, FALLBACK_OVERLAP)
        return to_uint8(_forward(model, x, FALLBACK_TILE, FALLBACK_OVERLAP, scale))
