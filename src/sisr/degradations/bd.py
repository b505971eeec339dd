"""``bd``: Gaussian blur then subsampling (BD), as the RDN authors make their BD test data.

Source: ``RDN_TestCode/Prepare_TestData_HR_LR.m`` of github.com/yulunzhang/RDN (Zhang et al., "Residual Dense
Network for Image Super-Resolution", CVPR 2018), function ``imresize_BD``; the same degradation as SRMD's and
IRCNN's BD. What that file does, and what :func:`blur_downscale` does the same way:

1. ``modcrop(hr, s)``;
2. ``fspecial('gaussian', k, 1.6)``: ``k = 7`` at x3 (a special case in the file), else ``ceil(3 * sigma) * 2 + 1``
   (11) for other odd scales and ``ceil(3 * sigma) * 2 + 2`` (12) for even ones. The 2-D kernel is the outer
   product of normalised 1-D taps ``exp(-x^2 / (2 sigma^2))`` at ``x = -(k - 1) / 2 ... (k - 1) / 2`` (fspecial's
   zeroing of values below ``eps * max`` changes nothing at these sizes);
3. ``imfilter(im, kernel, 'replicate')`` on the uint8 image: correlation, anchored at tap ``floor((k + 1) / 2)``
   (1-based; for an even ``k`` the blur is half a pixel off centre, as in the file), computed in float64 and
   rounded (half away from zero) to uint8 once;
4. every ``s``-th pixel: odd ``s``: ``imresize(blur, 1/s, 'nearest')``, which keeps pixel ``(s + 1) / 2`` (1-based)
   of each ``s x s`` block, the centre (at x3 the file's GPU branch, ``blur(s-1:s:end-1, ...)``, keeps the same
   pixel 2); even ``s``: ``blur(s/2:s:end-s/2, ...)``, pixel ``s / 2`` (1-based) of each block.
"""

from __future__ import annotations

import math

import numpy as np

from sisr.degradations.spec import Degradation
from sisr.base.imresize import modcrop

SIGMA = 1.6


def kernel_size(scale: int, sigma: float = SIGMA) -> int:
    """The Gaussian's width the RDN file uses at ``scale`` (7 at x3 with sigma 1.6)."""
    if scale % 2 == 1:
        return 7 if (scale == 3 and sigma == 1.6) else math.ceil(sigma * 3) * 2 + 1
    return math.ceil(sigma * 3) * 2 + 2


def gaussian_taps(size: int, sigma: float) -> np.ndarray:
    """1-D taps whose outer product is MATLAB ``fspecial('gaussian', size, sigma)`` (sum 1)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def _correlate_replicate(x: np.ndarray, taps: np.ndarray, axis: int) -> np.ndarray:
    """MATLAB ``imfilter(x, taps, 'replicate')`` along ``axis`` (float64 in and out; anchor ``(k - 1) // 2``)."""
    k, n = len(taps), x.shape[axis]
    anchor = (k - 1) // 2
    pad = [(0, 0)] * x.ndim
    pad[axis] = (anchor, k - 1 - anchor)
    padded = np.moveaxis(np.pad(x, pad, mode="edge"), axis, 0)
    out = np.zeros((n, *padded.shape[1:]), dtype=np.float64)
    for i, w in enumerate(taps):
        out += w * padded[i: i + n]
    return np.moveaxis(out, 0, axis)


def gaussian_blur(img: np.ndarray, size: int, sigma: float) -> np.ndarray:
    """``imfilter(img, fspecial('gaussian', size, sigma), 'replicate')`` of a uint8 image, uint8 out."""
    taps = gaussian_taps(size, sigma)
    blurred = _correlate_replicate(_correlate_replicate(img.astype(np.float64), taps, 0), taps, 1)
    return np.clip(np.floor(blurred + 0.5), 0, 255).astype(np.uint8)


def sample_offset(scale: int) -> int:
    """0-based index of the pixel each ``scale x scale`` block keeps (see the module docstring, step 4)."""
    return (scale - 1) // 2 if scale % 2 == 1 else scale // 2 - 1


def blur_downscale(hr: np.ndarray, scale: int, rng: np.random.Generator | None = None, *,
                   sigma: float = SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """``(lr, modcrop(hr, s))``: the RDN file's ``imresize_BD`` of the cropped HR; ``rng`` is not used."""
    cropped = modcrop(hr, scale)
    blurred = gaussian_blur(cropped, kernel_size(scale, sigma), sigma)
    o = sample_offset(scale)
    return np.ascontiguousarray(blurred[o::scale, o::scale]), cropped


DEGRADATION = Degradation("bd", "Gaussian blur (sigma 1.6) then subsampling (BD, RDN's)", True, blur_downscale)
