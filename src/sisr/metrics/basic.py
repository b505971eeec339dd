"""Standard full-reference SR metrics: PSNR, SSIM, MS-SSIM, MSE, and the BT.601 luma (Y) channel.

Input contract (all functions): ``sr`` and ``hr`` of the same shape, ``H x W x 3`` (RGB) or ``H x W``
(single channel), on the **0..255 scale**: ``uint8`` as read from PNG (the standard protocol), or a
floating-point array on the same scale (unrounded values, e.g. in tests). Everything is computed in
float64. ``crop`` pixels are removed from each side before scoring (the standard protocol uses
``crop = scale``).

``y_channel=True`` scores the Y channel of an RGB image (:func:`rgb_to_y`, unrounded, as MATLAB's
``rgb2ycbcr`` on doubles); a single-channel image is scored on its own channel (no 16..235 mapping),
as the MATLAB evaluation scripts do for grayscale images such as Set14 ``bridge.png``.
``y_channel=False`` scores RGB: PSNR over all values, SSIM / MS-SSIM as the mean over the channels.

The images may also be torch tensors (uint8, ``H x W x 3`` or ``H x W``): the metric is then computed by
torch on their device in float64 (an evaluation on a GPU, ``sisr.base.device.kernel_device``), the same formulas in
the same form, equal to the NumPy value within 1e-9 relative (tests/test_kernels_torch.py). The NumPy path
(strip by strip, banded products) stays the one used on the CPU, the fastest there.

Sources: SSIM as Wang et al.'s MATLAB ``ssim_index.m`` (11 x 11 Gaussian window, sigma 1.5,
K = (0.01, 0.03), L = 255, 'valid' filtering); MS-SSIM as Wang, Simoncelli & Bovik 2003 and their
``msssim.m``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from sisr.base import banded
from sisr.base.colour import Y_COEFFS as _Y_COEFFS
from sisr.base.colour import rgb_to_y
from sisr.base.device import is_tensor
from sisr.base.errors import SisrError

if TYPE_CHECKING:  # torch is imported by the torch kernels only
    import torch


_SSIM_WINDOW_SIZE = 11
_SSIM_SIGMA = 1.5
_SSIM_C1 = (0.01 * 255) ** 2
_SSIM_C2 = (0.03 * 255) ** 2
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MS_SSIM_MIN_SIZE = (_SSIM_WINDOW_SIZE - 1) * 2 ** (len(MS_SSIM_WEIGHTS) - 1) + 1  # 161


def _crop(sr: np.ndarray, hr: np.ndarray, crop: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes, crop the border (views, dtype kept); returns H x W or H x W x C arrays."""
    if sr.shape != hr.shape:
        raise SisrError(f"{name}: SR {sr.shape} and HR {hr.shape} must have the same shape")
    if not (sr.ndim == 2 or (sr.ndim == 3 and sr.shape[2] == 3)):
        raise SisrError(f"{name}: expected H x W x 3 or H x W images, got shape {sr.shape}")
    if int(crop) != crop or crop < 0:
        raise SisrError(f"{name}: crop must be a non-negative integer, got {crop}")
    crop = int(crop)
    h, w = sr.shape[:2]
    if h <= 2 * crop or w <= 2 * crop:
        raise SisrError(f"{name}: crop {crop} on each side leaves nothing of a {h}x{w} image")
    if crop:
        sr, hr = sr[crop:-crop, crop:-crop], hr[crop:-crop, crop:-crop]
    return sr, hr


def _prepare(sr: np.ndarray, hr: np.ndarray, crop: int, y_channel: bool, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes, crop the border, convert to float64 (Y if asked); returns H x W or H x W x C arrays."""
    sr, hr = _crop(sr, hr, crop, name)
    if y_channel:
        return rgb_to_y(sr), rgb_to_y(hr)
    return sr.astype(np.float64), hr.astype(np.float64)


def psnr(sr: np.ndarray, hr: np.ndarray, *, crop: int, y_channel: bool = True) -> float:
    """Peak signal-to-noise ratio in dB, peak 255: ``10 log10(255^2 / MSE)``.

    Returns ``inf`` for identical images (MSE = 0). See the module docstring for the input contract.
    """
    a, b = _crop(sr, hr, crop, "psnr")
    if is_tensor(a):
        return _psnr_torch(a, b, y_channel)
    y = y_channel and a.ndim == 3
    shape = (min(_STRIP, a.shape[0]), *a.shape[1:2 if y else None])
    a_f, b_f = np.empty(shape), np.empty(shape)  # one strip of rows at a time: no image-sized temporaries
    total = 0.0
    for r0 in range(0, a.shape[0], _STRIP):
        n = min(_STRIP, a.shape[0] - r0)
        _float_rows(a, r0, r0 + n, None, y, a_f[:n])
        _float_rows(b, r0, r0 + n, None, y, b_f[:n])
        diff = np.subtract(a_f[:n], b_f[:n], out=a_f[:n]).ravel()
        total += float(np.dot(diff, diff))
    err = total / (a.size // 3 if y else a.size)
    if err == 0.0:
        return float("inf")
    return float(10.0 * np.log10(255.0**2 / err))


def mse(sr: np.ndarray, hr: np.ndarray, *, crop: int = 0) -> float:
    """Mean squared error of the images scaled to [0, 1] (what a training L2 loss sees), over all channels."""
    if is_tensor(sr):
        a, b = (_float_torch(x, False) for x in _crop(sr, hr, crop, "mse"))
        return float(((a / 255.0 - b / 255.0) ** 2).mean())
    a, b = _prepare(sr, hr, crop, False, "mse")
    return float(np.mean((a / 255.0 - b / 255.0) ** 2))


def _gaussian_1d() -> np.ndarray:
    x = np.arange(_SSIM_WINDOW_SIZE, dtype=np.float64) - (_SSIM_WINDOW_SIZE - 1) / 2
    g = np.exp(-(x**2) / (2 * _SSIM_SIGMA**2))
    return g / g.sum()  # the outer product equals MATLAB fspecial('gaussian', 11, 1.5)


_GAUSS = _gaussian_1d()
_BLOCK = 16  # samples per chunk of a row in the pass along the rows (measured: docs/BENCHMARKS.md)
_ROWS_BLOCK = 8  # output rows per banded block of the pass along the columns (8 + 10 multiply-adds per output)


@functools.lru_cache(maxsize=64)
def _window_blocks(length: int) -> tuple[banded.Block, ...]:
    """The 11-tap Gaussian over ``length`` samples, 'valid' part only (``length - 10`` outputs), as blocks."""
    n_out = length - _SSIM_WINDOW_SIZE + 1
    indices = np.arange(n_out)[:, None] + np.arange(_SSIM_WINDOW_SIZE)[None, :]
    return banded.make_blocks(np.broadcast_to(_GAUSS, indices.shape), indices, _ROWS_BLOCK)


_STRIP = 32  # output rows of the SSIM maps per strip (its buffers stay in the CPU caches; measured)


def _float_rows(img: np.ndarray, r0: int, r1: int, channel: int | None, y: bool, out: np.ndarray) -> None:
    """Rows ``r0:r1`` of one channel of ``img`` (``H x W`` or ``H x W x C``, any real dtype) as float64 in ``out``:
    its Y channel if ``y`` (:func:`rgb_to_y`), else channel ``channel`` (None: a single-channel image)."""
    rows = img[r0:r1]
    if y and rows.ndim == 3:
        np.matmul(rows.astype(np.float64), _Y_COEFFS, out=out)
        out += 16.0
    else:
        out[...] = rows if channel is None else rows[:, :, channel]


@functools.lru_cache(maxsize=1)
def _chunk_matrices() -> tuple[np.ndarray, np.ndarray]:
    """The 11-tap Gaussian along rows cut into chunks of ``_BLOCK`` samples: output samples ``o`` of chunk ``j``
    are ``chunk_j @ m0 + chunk_{j+1}[:10] @ m1`` (inputs ``o .. o + 10``); see :func:`_along_rows`."""
    i = np.arange(_BLOCK + _SSIM_WINDOW_SIZE - 1)[:, None]
    k = i - np.arange(_BLOCK)[None, :]
    full = np.where((k >= 0) & (k < _SSIM_WINDOW_SIZE), _GAUSS[np.clip(k, 0, _SSIM_WINDOW_SIZE - 1)], 0.0)
    return np.ascontiguousarray(full[:_BLOCK]), np.ascontiguousarray(full[_BLOCK:])


def _along_rows(x: np.ndarray, out: np.ndarray) -> None:
    """The Gaussian along each row of ``x`` into ``out`` (both ``... x Wp``, C-contiguous, ``Wp`` a multiple
    of ``_BLOCK``): with the rows cut into chunks of ``_BLOCK`` samples, two matrix products over all chunks
    at once. Output sample ``o`` of a row is valid where its inputs ``o .. o + 10`` lie in the row's data;
    the last chunk of a row reads the next row's first samples (its outputs are not used)."""
    m0, m1 = _chunk_matrices()
    xc, oc = x.reshape(-1, _BLOCK), out.reshape(-1, _BLOCK)
    np.matmul(xc, m0, out=oc)
    oc[:-1] += xc[1:, :_SSIM_WINDOW_SIZE - 1] @ m1


def _ssim_means(a: np.ndarray, b: np.ndarray, y: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the SSIM map and of the contrast-structure map of each channel of ``a`` and ``b``.

    ``a``, ``b``: ``H x W`` or ``H x W x C`` on the 0..255 scale, any real dtype; ``y``: score the Y channel
    of an RGB image (one channel). As MATLAB ``ssim_index.m``: local means, variances and covariance from the
    11 x 11 Gaussian window ('valid' region, ``filter2(w, img, 'valid')``); four filtered maps suffice (a, b,
    a^2 + b^2, a b), since the SSIM formula needs only the sum of the two variances. The window is separable.
    The image is worked through in strips of ``_STRIP`` output rows (``_STRIP + 10`` input rows): the strip's
    rows converted to float64, its four maps, their pass along the rows (:func:`_along_rows`; the 10 rows
    shared with the previous strip are kept from it), the pass along the columns (banded blocks of
    ``_ROWS_BLOCK`` rows) and the SSIM formula; all in buffers of a few MB that are reused, so nothing of the
    size of the image is allocated and the data stay in the caches.
    """
    h, w = a.shape[:2]
    channels = [None] if (a.ndim == 2 or y) else list(range(a.shape[2]))
    h_out, w_out = h - _SSIM_WINDOW_SIZE + 1, w - _SSIM_WINDOW_SIZE + 1
    strip = min(_STRIP, h_out)
    pitch = _BLOCK * ((w_out - 1) // _BLOCK + 2)  # row length in the buffers: whole chunks, one past the data
    maps = np.zeros((strip + _SSIM_WINDOW_SIZE - 1, 4, pitch))  # per input row: a, b, a^2 + b^2, a b
    rows = np.empty_like(maps)
    part_buf = np.empty((strip, 4, pitch))  # the strip filtered along the rows and the columns
    mu_ab, mu_sq, cs, den = (np.empty((strip, w_out)) for _ in range(4))  # the SSIM formula's terms
    ssim_sum, cs_sum = np.zeros(len(channels)), np.zeros(len(channels))
    overlap = _SSIM_WINDOW_SIZE - 1  # input rows shared by consecutive strips: filtered along the rows once
    for k, channel in enumerate(channels):
        for r0 in range(0, h_out, strip):
            n_in = min(r0 + strip, h_out) - r0 + overlap
            done = 0 if r0 == 0 else overlap  # the previous strip's last rows, moved to the top of ``rows``
            if done:
                rows[:done] = rows[strip:strip + done]
            m = maps[:n_in - done, :, :w]
            a_t, b_t = m[:, 0], m[:, 1]
            _float_rows(a, r0 + done, r0 + n_in, channel, y, a_t)
            _float_rows(b, r0 + done, r0 + n_in, channel, y, b_t)
            np.multiply(a_t, a_t, out=m[:, 2])
            np.multiply(b_t, b_t, out=m[:, 3])
            m[:, 2] += m[:, 3]
            np.multiply(a_t, b_t, out=m[:, 3])
            _along_rows(maps[:n_in - done], rows[done:n_in])
            filtered = rows[:n_in].reshape(n_in, 4 * pitch)
            nb = n_in - overlap
            part = part_buf[:nb]
            for block in _window_blocks(n_in):
                np.matmul(block.matrix, filtered[block.lo:block.hi],
                          out=part_buf[block.o0:block.o1].reshape(-1, 4 * pitch))
            mu_a, mu_b, sq_sum, prod = (part[:, i, :w_out] for i in range(4))
            ab, sq, c_s, d = mu_ab[:nb], mu_sq[:nb], cs[:nb], den[:nb]
            np.multiply(mu_a, mu_b, out=ab)
            np.multiply(mu_a, mu_a, out=sq)
            np.multiply(mu_b, mu_b, out=d)
            sq += d
            # contrast-structure (2 cov + C2) / (var_a + var_b + C2), with cov = E[ab] - mu_a mu_b and
            # var_a + var_b = E[a^2 + b^2] - mu_a^2 - mu_b^2
            np.subtract(prod, ab, out=c_s)
            c_s *= 2.0
            c_s += _SSIM_C2
            np.subtract(sq_sum, sq, out=d)
            d += _SSIM_C2
            c_s /= d
            # luminance (2 mu_a mu_b + C1) / (mu_a^2 + mu_b^2 + C1), times cs: the SSIM map
            ab *= 2.0
            ab += _SSIM_C1
            sq += _SSIM_C1
            ab /= sq
            ab *= c_s
            ssim_sum[k] += ab.sum()
            cs_sum[k] += c_s.sum()
    n = h_out * w_out
    return ssim_sum / n, cs_sum / n


def _check_window(shape: tuple[int, ...], need: int, name: str) -> None:
    if min(shape[:2]) < need:
        raise SisrError(f"{name}: the image ({shape[0]}x{shape[1]} after cropping) is smaller than the "
                        f"{need}x{need} needed")


def _planes(a: np.ndarray) -> np.ndarray:
    """``H x W`` or ``H x W x C`` -> ``C x H x W`` (a view)."""
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def ssim(sr: np.ndarray, hr: np.ndarray, *, crop: int, y_channel: bool = True) -> float:
    """Structural similarity (Wang et al. 2004), as MATLAB ``ssim_index.m`` with its defaults.

    11 x 11 Gaussian window (sigma 1.5), C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2, mean of the SSIM map
    over the 'valid' region (no padding). RGB (``y_channel=False``): mean over the three channels.
    """
    a, b = _crop(sr, hr, crop, "ssim")
    _check_window(a.shape, _SSIM_WINDOW_SIZE, "ssim")
    if is_tensor(a):
        return float(np.mean(_ssim_means_torch(_planes_torch(a, y_channel), _planes_torch(b, y_channel))[0]))
    return float(np.mean(_ssim_means(a, b, y=y_channel)[0]))


def _halve(img: np.ndarray) -> np.ndarray:
    """2 x 2 average then keep every second pixel, as ``msssim.m`` (imfilter 'symmetric' + 1:2:end).

    ``img``: ``C x H x W``. For even sizes this is 2 x 2 average pooling; an odd last row/column is averaged
    with its mirror (itself), so the result has ``ceil(n / 2)`` rows and columns.
    """
    _, h, w = img.shape
    padded = np.pad(img, ((0, 0), (0, h % 2), (0, w % 2)), mode="symmetric")
    return 0.25 * (padded[:, 0::2, 0::2] + padded[:, 1::2, 0::2] + padded[:, 0::2, 1::2] + padded[:, 1::2, 1::2])


def _ms_ssim_channels(a, b, ssim_means=None, halve=None) -> np.ndarray:
    """MS-SSIM of each channel of ``C x H x W`` float64 images (nan where a scale's mean term is negative).

    ``ssim_means``, ``halve``: the kernels for the images' kind (default: numpy arrays; the torch ones for
    tensors); the combination of the scales is this function's, for both."""
    if ssim_means is None:
        def ssim_means(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return _ssim_means(a.transpose(1, 2, 0), b.transpose(1, 2, 0))

        halve = _halve
    levels = len(MS_SSIM_WEIGHTS)
    value = np.ones(a.shape[0])
    for level, weight in enumerate(MS_SSIM_WEIGHTS):
        ssim_mean, cs_mean = ssim_means(a, b)
        term = cs_mean if level < levels - 1 else ssim_mean
        value = np.where(term < 0, np.nan, value * np.abs(term) ** weight)  # msssim.m: complex; we say nan
        if level < levels - 1:
            a, b = halve(a), halve(b)
    return value


def ms_ssim(sr: np.ndarray, hr: np.ndarray, *, crop: int, y_channel: bool = True) -> float:
    """Multi-scale SSIM (Wang, Simoncelli & Bovik 2003), as their ``msssim.m``.

    5 scales with weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333); contrast-structure at the first four
    scales, luminance * contrast-structure at the last; 2 x 2 average downsampling between scales (see
    :func:`_halve`). The SSIM window and constants are those of :func:`ssim`. The image must be at least
    161 x 161 after cropping (11 x 11 window at the 5th scale); smaller images raise SisrError.
    Returns nan when a scale's mean term is negative (unrelated images), where ``msssim.m`` gives a
    complex number.
    RGB (``y_channel=False``): mean over the three channels.
    """
    if is_tensor(sr):
        a, b = _crop(sr, hr, crop, "ms_ssim")
    else:
        a, b = _prepare(sr, hr, crop, y_channel, "ms_ssim")
    if min(a.shape[:2]) < MS_SSIM_MIN_SIZE:
        raise SisrError(f"ms_ssim: the image is {a.shape[0]}x{a.shape[1]} after cropping {crop} pixels per side; "
                        f"5 scales with an 11x11 window need both sides >= {MS_SSIM_MIN_SIZE}")
    if is_tensor(a):
        return float(np.mean(_ms_ssim_channels(_planes_torch(a, y_channel), _planes_torch(b, y_channel),
                                               _ssim_means_torch, _halve_torch)))
    return float(np.mean(_ms_ssim_channels(_planes(a), _planes(b))))


# ------------------------------------------------------------------------------------------------ torch kernels
# The same formulas on torch tensors, in float64 on the tensors' device (see the module docstring).


def _float_torch(img: torch.Tensor, y: bool) -> torch.Tensor:
    """``img`` as float64 (its Y channel if ``y`` and it is RGB, as :func:`rgb_to_y`)."""
    import torch  # deferred: torch; the workflow's dry run imports this module

    x = img.to(torch.float64)
    if y and x.ndim == 3:
        return torch.matmul(x, torch.from_numpy(_Y_COEFFS).to(x.device)) + 16.0
    return x


def _planes_torch(img: torch.Tensor, y: bool) -> torch.Tensor:
    """``H x W`` or ``H x W x C`` -> ``C x H x W`` float64 (one plane: Y of RGB if ``y``, or the single channel)."""
    x = _float_torch(img, y)
    return x[None] if x.ndim == 2 else x.permute(2, 0, 1)


def _psnr_torch(a: torch.Tensor, b: torch.Tensor, y_channel: bool) -> float:
    import torch  # deferred: torch; the workflow's dry run imports this module

    diff = _float_torch(a, y_channel) - _float_torch(b, y_channel)
    err = float(torch.sum(diff * diff)) / diff.numel()
    if err == 0.0:
        return float("inf")
    return float(10.0 * np.log10(255.0**2 / err))


def _gauss_valid(x: torch.Tensor, dim: int) -> torch.Tensor:
    """The 11-tap Gaussian along ``dim`` of ``x``, 'valid' part only: the sum of 11 shifted, weighted copies."""
    n = x.shape[dim] - _SSIM_WINDOW_SIZE + 1
    out = x.narrow(dim, 0, n) * float(_GAUSS[0])
    for k in range(1, _SSIM_WINDOW_SIZE):
        out.add_(x.narrow(dim, k, n), alpha=float(_GAUSS[k]))
    return out


def _ssim_means_torch(a: torch.Tensor, b: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_ssim_means` of ``C x H x W`` float64 tensors: the four maps (a, b, a^2 + b^2, a b) filtered by the
    separable Gaussian (along the rows, then the columns; 'valid'), then the same formula; one channel at a
    time. (Shifted copies, not ``conv2d``: float64 convolution is 5x slower on the CPU, where the tests run it.)"""
    import torch  # deferred: torch; the workflow's dry run imports this module

    ssim_means, cs_means = np.empty(a.shape[0]), np.empty(a.shape[0])
    for k in range(a.shape[0]):
        x, y = a[k], b[k]
        maps = torch.stack([x, y, x * x + y * y, x * y])  # 4 x H x W
        mu_a, mu_b, sq_sum, prod = _gauss_valid(_gauss_valid(maps, 2), 1)
        ab = mu_a * mu_b
        sq = mu_a * mu_a + mu_b * mu_b
        cs = ((prod - ab) * 2.0 + _SSIM_C2) / (sq_sum - sq + _SSIM_C2)
        ssim_map = (ab * 2.0 + _SSIM_C1) / (sq + _SSIM_C1) * cs
        ssim_means[k] = float(ssim_map.sum()) / ssim_map.numel()
        cs_means[k] = float(cs.sum()) / cs.numel()
    return ssim_means, cs_means


def _halve_torch(img: torch.Tensor) -> torch.Tensor:
    """:func:`_halve` of a ``C x H x W`` tensor (an odd last row / column averaged with itself)."""
    import torch  # deferred: torch; the workflow's dry run imports this module

    if img.shape[1] % 2:
        img = torch.cat([img, img[:, -1:]], dim=1)
    if img.shape[2] % 2:
        img = torch.cat([img, img[:, :, -1:]], dim=2)
    return 0.25 * (img[:, 0::2, 0::2] + img[:, 1::2, 0::2] + img[:, 0::2, 1::2] + img[:, 1::2, 1::2])
