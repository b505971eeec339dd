"""BT.601 colour, in one place: the studio-range Y every metric and Y-channel model uses, the YCbCr matrix of
MATLAB's ``rgb2ycbcr``, and the full-range luma weights (``0.299 R + 0.587 G + 0.114 B``) for grayscale bridges."""

from __future__ import annotations

import numpy as np

from sisr.base.errors import SisrError

# BT.601 luma for RGB in [0, 1]: Y = 16 + 65.481 R + 128.553 G + 24.966 B (range 16..235); here per 0..255 value.
Y_COEFFS = np.array([65.481, 128.553, 24.966]) / 255.0
# MATLAB rgb2ycbcr on 0..255 values: the Y row above, then Cb and Cr; the offsets are added after the product.
YCBCR_FROM_RGB = np.vstack([Y_COEFFS, np.array([[-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]]) / 255.0])
YCBCR_OFFSET = np.array([16.0, 128.0, 128.0])
# Full-range BT.601 luma (the standard Y without the 16..235 mapping): a gray image, R = G = B, keeps its value.
LUMA_601 = np.array([0.299, 0.587, 0.114])


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB image on the 0..255 scale: ``16 + (65.481 R + 128.553 G + 24.966 B) / 255``.

    img: ``H x W x 3`` (uint8, or float on the 0..255 scale) -> ``H x W`` float64 in 16..235, not rounded
    (MATLAB ``rgb2ycbcr`` on ``double(img) / 255``, times 255). A single-channel ``H x W`` image is
    returned as float64 unchanged.
    """
    if img.ndim == 2:
        return img.astype(np.float64)
    if img.ndim != 3 or img.shape[2] != 3:
        raise SisrError(f"rgb_to_y: expected H x W x 3 or H x W, got shape {img.shape}")
    return 16.0 + img.astype(np.float64) @ Y_COEFFS
