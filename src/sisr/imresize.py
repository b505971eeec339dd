"""MATLAB-compatible image resizing (``imresize``), in numpy and in torch.

Written from the algorithm of MATLAB's ``imresize`` (Image Processing Toolbox), which the SR literature
uses to make its low-resolution (LR) images and its bicubic baselines:

- each output sample ``x`` (1-based) maps to the input coordinate ``u = x / scale + 0.5 * (1 - 1 / scale)``;
- the kernel is evaluated at ``u - j`` for the ``ceil(width) + 2`` input samples ``j`` around ``u``;
  when downscaling with antialiasing the kernel is widened by ``1 / scale`` (``h(x) = scale * k(scale * x)``);
- the weights of each output sample are normalised to sum 1;
- input indices outside the image are clamped to the first / last sample (MATLAB's ``contributions``:
  "Clamp out-of-range indices; has the effect of replicating end-points"). Several Python ports mirror
  the indices instead (``... 2 1 | 1 2 ...``); that changes the outermost LR rows and columns;
- the image is resized one dimension at a time, the dimension with the smaller scale factor first
  (height first when the factors are equal);
- for ``uint8`` images MATLAB rounds (half away from zero) and clips to ``uint8`` after *each* 1-D pass.

With clamped borders and rounding between the passes, :func:`downscale` reproduces every pixel of the
MATLAB-made LR images of Set5 and Set14 at x2, x3 and x4 (tests/test_reference_bicubic.py); with mirrored
borders only 98.6-99.4 % of them (the outermost row and column differ).

Kernels, as MATLAB names them: ``"cubic"`` (Keys, a = -0.5, width 4; alias ``"bicubic"``),
``"linear"`` (triangle, width 2; aliases ``"bilinear"``, ``"triangle"``), ``"box"`` (width 1) and
``"nearest"`` (the box kernel, never antialiased, as MATLAB's default for ``'nearest'``).
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import numpy as np
import torch
from PIL import Image

from sisr.errors import SisrError


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys cubic convolution kernel with a = -0.5 (MATLAB ``cubic``)."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * (
        (ax > 1) & (ax <= 2)
    )


def _triangle(x: np.ndarray) -> np.ndarray:
    """Triangle (linear interpolation) kernel (MATLAB ``triangle``)."""
    return (x + 1.0) * ((x >= -1) & (x < 0)) + (1.0 - x) * ((x >= 0) & (x <= 1))


def _box(x: np.ndarray) -> np.ndarray:
    """Box kernel (MATLAB ``box``): 1 on [-0.5, 0.5)."""
    return ((x >= -0.5) & (x < 0.5)).astype(np.float64)


# name -> (kernel function, kernel width, antialiasing allowed)
_KERNELS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], float, bool]] = {
    "cubic": (_cubic, 4.0, True),
    "linear": (_triangle, 2.0, True),
    "box": (_box, 1.0, True),
    "nearest": (_box, 1.0, False),
}
_ALIASES = {"bicubic": "cubic", "bilinear": "linear", "triangle": "linear"}


def _kernel_name(kernel: str) -> str:
    name = _ALIASES.get(kernel, kernel)
    if name not in _KERNELS:
        valid = sorted([*_KERNELS, *_ALIASES])
        raise SisrError(f"imresize: unknown kernel {kernel!r}; valid kernels: {', '.join(valid)}")
    return name


@functools.lru_cache(maxsize=128)
def _contributions(
    in_length: int, out_length: int, scale: float, kernel: str, antialias: bool
) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB ``contributions``: weights and 0-based input indices, both ``out_length x taps``.

    Cached (the same sizes recur for every image of a dataset); the returned arrays are read-only.
    """
    func, width, can_antialias = _KERNELS[kernel]
    if scale < 1 and antialias and can_antialias:
        def h(x: np.ndarray) -> np.ndarray:
            return scale * func(scale * x)

        width = width / scale
    else:
        h = func
    x = np.arange(1, out_length + 1, dtype=np.float64)  # 1-based output coordinates
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)  # matching 1-based input coordinates
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    indices = left[:, None] + np.arange(taps)[None, :]  # 1-based, may fall outside [1, in_length]
    weights = h(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # Border: MATLAB clamps out-of-range indices ("has the effect of replicating end-points").
    indices = np.clip(indices.astype(np.int64) - 1, 0, in_length - 1)
    keep = np.any(weights != 0, axis=0)  # drop taps that are zero for every output sample
    weights, indices = np.ascontiguousarray(weights[:, keep]), np.ascontiguousarray(indices[:, keep])
    weights.setflags(write=False)
    indices.setflags(write=False)
    return weights, indices


def _resize_along(img: np.ndarray, axis: int, out_length: int, scale: float, kernel: str, antialias: bool,
                  round_u8: bool) -> np.ndarray:
    """One 1-D pass along ``axis`` (0 = height, 1 = width) of a float64 image."""
    weights, indices = _contributions(img.shape[axis], out_length, scale, kernel, antialias)
    moved = np.moveaxis(img, axis, 0)
    out = np.zeros((out_length, *moved.shape[1:]), dtype=np.float64)
    expand = (slice(None),) + (None,) * (moved.ndim - 1)
    for k in range(weights.shape[1]):  # a few taps; each step is a vectorised gather + multiply-add
        out += weights[:, k][expand] * moved[indices[:, k]]
    if round_u8:  # MATLAB: round half away from zero (all values >= 0 after the clip) and saturate
        out = np.floor(np.clip(out, 0.0, 255.0) + 0.5)
    return np.moveaxis(out, 0, axis)


def _output_shape_and_scales(
    in_shape: tuple[int, int], scale: float | None, output_shape: tuple[int, int] | None
) -> tuple[tuple[int, int], tuple[float, float]]:
    if (scale is None) == (output_shape is None):
        raise SisrError("imresize: give exactly one of scale and output_shape")
    if scale is not None:
        if not scale > 0:
            raise SisrError(f"imresize: scale must be > 0, got {scale}")
        # MATLAB: output size = ceil(scale * input size); the scale itself is used for the weights.
        out = (int(math.ceil(scale * in_shape[0])), int(math.ceil(scale * in_shape[1])))
        return out, (float(scale), float(scale))
    if len(output_shape) != 2 or min(output_shape) < 1:
        raise SisrError(f"imresize: output_shape must be (height, width) >= 1, got {output_shape}")
    out = (int(output_shape[0]), int(output_shape[1]))
    return out, (out[0] / in_shape[0], out[1] / in_shape[1])


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop ``img`` (``H x W`` or ``H x W x C``) at the top-left to height and width divisible by ``scale``."""
    if int(scale) != scale or scale < 1:
        raise SisrError(f"modcrop: scale must be a positive integer, got {scale}")
    h, w = img.shape[:2]
    return img[: h - h % int(scale), : w - w % int(scale)]


def imresize(
    img: np.ndarray,
    scale: float | None = None,
    *,
    output_shape: tuple[int, int] | None = None,
    kernel: str = "cubic",
    antialias: bool = True,
) -> np.ndarray:
    """Resize like MATLAB ``imresize(img, scale, kernel)`` or ``imresize(img, [h w], kernel)``.

    img: ``H x W`` or ``H x W x C``; ``uint8`` (result ``uint8``, rounded and clipped after each 1-D
        pass, as MATLAB) or floating point (result float64, never rounded or clipped).
    scale: one factor for both dimensions; the output size is ``ceil(scale * size)`` (as MATLAB, so a
        factor that is not exact in binary floating point may give one pixel more than expected).
    output_shape: ``(height, width)`` instead of ``scale``; the factors are then ``out / in`` per dimension.
    kernel: ``cubic`` (default, a = -0.5), ``linear``, ``box`` or ``nearest`` (see the module docstring).
    antialias: widen the kernel by ``1 / scale`` when downscaling (MATLAB's default); ``nearest`` never does.
    """
    if img.ndim not in (2, 3):
        raise SisrError(f"imresize: expected an H x W or H x W x C image, got shape {img.shape}")
    name = _kernel_name(kernel)
    is_u8 = img.dtype == np.uint8
    if not (is_u8 or np.issubdtype(img.dtype, np.floating)):
        raise SisrError(f"imresize: expected uint8 or floating-point input, got {img.dtype}")
    out_shape, scales = _output_shape_and_scales(img.shape[:2], scale, output_shape)
    out = img.astype(np.float64)
    order = (0, 1) if scales[0] <= scales[1] else (1, 0)  # smaller factor first; height first on ties
    for axis in order:
        out = _resize_along(out, axis, out_shape[axis], scales[axis], name, antialias, round_u8=is_u8)
    return out.astype(np.uint8) if is_u8 else out


def downscale(img: np.ndarray, scale: int, *, method: str = "matlab") -> np.ndarray:
    """Make an LR image: ``modcrop(img, scale)`` then bicubic resize by ``1 / scale``.

    method="matlab": MATLAB ``imresize(modcrop(hr, s), 1/s, 'bicubic')`` (the standard LR of the benchmarks).
    method="pil": Pillow ``Image.BICUBIC`` on each channel (also a = -0.5 with antialiasing, but 8-bit
        intermediate handling differs; docs/REFERENCE.md: about 55 dB from MATLAB). uint8 in -> uint8 out;
        float in -> float64 out (Pillow mode ``F``).
    """
    cropped = modcrop(img, scale)
    if method == "matlab":
        return imresize(cropped, 1.0 / scale, kernel="cubic")
    if method != "pil":
        raise SisrError(f"downscale: unknown method {method!r}; valid methods: matlab, pil")
    size = (cropped.shape[1] // scale, cropped.shape[0] // scale)  # PIL wants (width, height)
    if cropped.dtype == np.uint8:
        def resize(channel: np.ndarray) -> np.ndarray:
            return np.asarray(Image.fromarray(channel, mode="L").resize(size, Image.BICUBIC))
    elif np.issubdtype(cropped.dtype, np.floating):
        def resize(channel: np.ndarray) -> np.ndarray:
            im = Image.fromarray(channel.astype(np.float32), mode="F")
            return np.asarray(im.resize(size, Image.BICUBIC)).astype(np.float64)
    else:
        raise SisrError(f"downscale: expected uint8 or floating-point input, got {cropped.dtype}")
    if cropped.ndim == 2:
        return resize(np.ascontiguousarray(cropped))
    return np.stack([resize(np.ascontiguousarray(cropped[:, :, c])) for c in range(cropped.shape[2])], axis=2)


_UPSCALE_KERNELS = {"bicubic": "cubic", "bilinear": "linear", "nearest": "nearest"}


def upscale(img: np.ndarray, scale: int, *, method: str = "bicubic") -> np.ndarray:
    """Non-learned upscaling baseline: MATLAB ``imresize(img, scale, method)``.

    method: ``bicubic`` (the standard "Bicubic" row of the SR tables), ``bilinear`` or ``nearest``.
    The output is exactly ``scale`` times the input size.
    """
    if method not in _UPSCALE_KERNELS:
        raise SisrError(f"upscale: unknown method {method!r}; valid methods: {', '.join(_UPSCALE_KERNELS)}")
    return imresize(img, float(scale), kernel=_UPSCALE_KERNELS[method])


@functools.lru_cache(maxsize=64)
def _weight_matrix_np(in_length: int, out_length: int, scale: float, kernel: str) -> np.ndarray:
    """Dense ``out_length x in_length`` matrix of the MATLAB weights (mirrored taps summed)."""
    weights, indices = _contributions(in_length, out_length, scale, kernel, True)
    matrix = np.zeros((out_length, in_length), dtype=np.float64)
    rows = np.repeat(np.arange(out_length), weights.shape[1])
    np.add.at(matrix, (rows, indices.ravel()), weights.ravel())
    return matrix


@functools.lru_cache(maxsize=64)
def _weight_matrix(in_length: int, out_length: int, scale: float, kernel: str, device: torch.device,
                   dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(_weight_matrix_np(in_length, out_length, scale, kernel)).to(device=device, dtype=dtype)


def imresize_torch(x: torch.Tensor, scale: float, *, kernel: str = "cubic") -> torch.Tensor:
    """MATLAB ``imresize`` (antialiased) on an ``N x C x H x W`` float tensor, differentiable.

    Uses the same weights as :func:`imresize`, as dense matrices ``A_h`` and ``A_w`` (cached per size,
    kernel, device and dtype): ``out = A_h @ x @ A_w^T``. No rounding or clipping (the float path of
    :func:`imresize`). Works for any batch size, on CPU or GPU.
    """
    if x.ndim != 4 or not x.is_floating_point():
        raise SisrError(f"imresize_torch: expected a float N x C x H x W tensor, got {x.dtype} {tuple(x.shape)}")
    name = _kernel_name(kernel)
    (out_h, out_w), (scale_h, scale_w) = _output_shape_and_scales(tuple(x.shape[-2:]), scale, None)
    a_h = _weight_matrix(x.shape[-2], out_h, scale_h, name, x.device, x.dtype)
    a_w = _weight_matrix(x.shape[-1], out_w, scale_w, name, x.device, x.dtype)
    return torch.matmul(torch.matmul(a_h, x), a_w.transpose(0, 1))
