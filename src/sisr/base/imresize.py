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

:func:`imresize`, :func:`downscale` (``method="matlab"``) and :func:`upscale` also take a torch tensor
(``H x W`` or ``H x W x C``) and then compute on its device in float64 (an evaluation on a GPU:
``sisr.base.device.kernel_device``): the same weights as dense matrices, applied with ``torch.matmul``, and for
uint8 the same rounding as the NumPy path, so that every pixel is equal (tests/test_kernels_torch.py).
The NumPy path stays the one used on the CPU (the fastest there, docs/BENCHMARKS.md).

Kernels, as MATLAB names them: ``"cubic"`` (Keys, a = -0.5, width 4; alias ``"bicubic"``),
``"linear"`` (triangle, width 2; aliases ``"bilinear"``, ``"triangle"``), ``"box"`` (width 1) and
``"nearest"`` (the box kernel, never antialiased, as MATLAB's default for ``'nearest'``).
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Callable


import numpy as np
from PIL import Image

from sisr.base import banded
from sisr.base.device import is_tensor
from sisr.base.errors import SisrError

if TYPE_CHECKING:  # torch is imported by the torch functions only (the workflow's parse step loads this module)
    import torch


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


BLOCK = 8  # output samples per banded block (measured fastest on 2040 x 1356 images: docs/BENCHMARKS.md)


@functools.lru_cache(maxsize=128)
def _blocks(in_length: int, out_length: int, scale: float, kernel: str, antialias: bool, channels: int,
            dtype: type) -> tuple[banded.Block, ...]:
    weights, indices = _contributions(in_length, out_length, scale, kernel, antialias)
    return banded.make_blocks(weights, indices, BLOCK, channels, dtype=dtype)


@functools.lru_cache(maxsize=128)
def _exact_in_float32(in_length: int, out_length: int, scale: float, kernel: str, antialias: bool) -> bool:
    """Whether a pass on integers 0..255 is computed exactly in float32 (then in any order, as in float64).

    True when every weight is a multiple of 2^-15 and 255 times the sum of a row's |weights| is below 2^9:
    every product and partial sum is then a multiple of 2^-15 below 2^9 in magnitude, which float32 (24-bit
    significand) holds exactly. This is the case for the factors 2, 4 (and 1/2, 1/4) of the cubic, linear and
    box kernels, whose weights are dyadic fractions; factor 3 is computed in float64.
    """
    weights, _ = _contributions(in_length, out_length, scale, kernel, antialias)
    scaled = weights * 2.0**15
    return bool(np.all(scaled == np.round(scaled)) and np.all(255.0 * np.abs(weights).sum(axis=1) < 2.0**9))


TIE = 1e-9  # float64 passes: values this close to a half integer are recomputed tap by tap (see _rounding)


def _rounding(x: np.ndarray, weights: np.ndarray, indices: np.ndarray, axis: int, channels: int, exact: bool,
              to_uint8: bool) -> Callable[[np.ndarray, banded.Block], np.ndarray]:
    """The ``then`` of a uint8 pass over ``x`` (``H x (W * C)``): MATLAB's rounding of each block of results.

    MATLAB rounds half away from zero (values >= 0 after the clip) and saturates to 0..255. ``to_uint8``:
    the block is about to be stored in a uint8 array, whose cast truncates, so adding 0.5 and clipping is
    enough; otherwise the block is floored in place and stays float.

    A float64 pass sums its products in another order than MATLAB's tap-by-tap loop; the sums differ by a
    few units in the last place, which changes the rounding only for a value within that distance of a
    half integer. Such values (within ``TIE``) are recomputed tap by tap in MATLAB's order, so that every
    pixel equals the plain algorithm's. Exact passes (float32 for the dyadic factors) need no check.
    """
    def then(values: np.ndarray, block: banded.Block) -> np.ndarray:
        if not exact:
            near = np.abs(values - np.floor(values) - 0.5) < TIE
            if near.any():
                i, j = np.nonzero(near)
                if axis == 0:  # values[i, j] is output row block.o0 + i, column j
                    out_pos = block.o0 + i
                    gather = lambda k: x[indices[out_pos, k], j]  # noqa: E731
                else:  # values[i, j] is row i, value block.o0 + j of the interleaved output
                    out_pos, channel = divmod(block.o0 + j, channels)
                    gather = lambda k: x[i, indices[out_pos, k] * channels + channel]  # noqa: E731
                acc = np.zeros(len(i))
                for k in range(weights.shape[1]):
                    acc += weights[out_pos, k] * gather(k)
                values[i, j] = acc
        values += 0.5
        if not to_uint8:
            np.floor(values, out=values)
        return np.clip(values, 0.0, 255.0, out=values)

    return then


def _pass_dtype(in_length: int, out_length: int, scale: float, kernel: str, antialias: bool, round_u8: bool) -> type:
    exact32 = round_u8 and _exact_in_float32(in_length, out_length, scale, kernel, antialias)
    return np.float32 if exact32 else np.float64


def _resize_height(x: np.ndarray, out_length: int, scale: float, kernel: str, antialias: bool,
                   round_u8: bool) -> np.ndarray:
    """One 1-D pass along the height of ``x``, an ``H x (W * C)`` array (float64, or float32 when exact)."""
    args = (x.shape[0], out_length, scale, kernel, antialias)
    dtype = _pass_dtype(*args, round_u8)
    x = x.astype(dtype, copy=False)
    out = np.empty((out_length, x.shape[1]), dtype)
    then = _rounding(x, *_contributions(*args), 0, 1, dtype == np.float32, False) if round_u8 else None
    return banded.along_rows(_blocks(*args, 1, dtype), x, out, then)


def _resize_width(x: np.ndarray, channels: int, out_length: int, scale: float, kernel: str, antialias: bool,
                  round_u8: bool, last: bool) -> np.ndarray:
    """One 1-D pass along the width of ``x``, an ``H x (W * C)`` array (channels interleaved).

    ``last`` with ``round_u8``: the result is the final uint8 array.
    """
    args = (x.shape[1] // channels, out_length, scale, kernel, antialias)
    dtype = _pass_dtype(*args, round_u8)
    x = x.astype(dtype, copy=False)
    to_uint8 = round_u8 and last
    out = np.empty((x.shape[0], out_length * channels), np.uint8 if to_uint8 else dtype)
    then = _rounding(x, *_contributions(*args), 1, channels, dtype == np.float32, to_uint8) if round_u8 else None
    return banded.along_columns(_blocks(*args, channels, dtype), x, out, then)


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

    A torch tensor ``img`` (uint8 or float) is resized on its device (:func:`_imresize_tensor`): a uint8
    tensor gives the same pixels as the uint8 array, a float tensor a float64 tensor.
    """
    if is_tensor(img):
        return _imresize_tensor(img, scale, output_shape, kernel, antialias)
    if img.ndim not in (2, 3):
        raise SisrError(f"imresize: expected an H x W or H x W x C image, got shape {img.shape}")
    name = _kernel_name(kernel)
    is_u8 = img.dtype == np.uint8
    if not (is_u8 or np.issubdtype(img.dtype, np.floating)):
        raise SisrError(f"imresize: expected uint8 or floating-point input, got {img.dtype}")
    out_shape, scales = _output_shape_and_scales(img.shape[:2], scale, output_shape)
    h, w = img.shape[:2]
    c = 1 if img.ndim == 2 else img.shape[2]
    x = img.reshape(h, w * c) if is_u8 else img.reshape(h, w * c).astype(np.float64)  # channels interleaved
    height_first = scales[0] <= scales[1]  # smaller factor first; height first on ties
    if height_first:
        x = _resize_height(x, out_shape[0], scales[0], name, antialias, is_u8)
        x = _resize_width(x, c, out_shape[1], scales[1], name, antialias, is_u8, last=True)
    else:
        x = _resize_width(x, c, out_shape[1], scales[1], name, antialias, is_u8, last=False)
        x = _resize_height(x, out_shape[0], scales[0], name, antialias, is_u8)
        x = x.astype(np.uint8) if is_u8 else x
    return x.reshape(out_shape if img.ndim == 2 else (*out_shape, c))


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
    if is_tensor(img):
        raise SisrError(f"downscale: method {method!r} takes a numpy array, not a torch tensor")
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
def _weight_matrix_np(in_length: int, out_length: int, scale: float, kernel: str, antialias: bool = True) -> np.ndarray:
    """Dense ``out_length x in_length`` matrix of the MATLAB weights (clamped taps summed, in tap order, as
    the entries of the banded blocks)."""
    weights, indices = _contributions(in_length, out_length, scale, kernel, antialias)
    matrix = np.zeros((out_length, in_length), dtype=np.float64)
    rows = np.repeat(np.arange(out_length), weights.shape[1])
    np.add.at(matrix, (rows, indices.ravel()), weights.ravel())
    return matrix


@functools.lru_cache(maxsize=64)
def _weight_matrix(in_length: int, out_length: int, scale: float, kernel: str, device: torch.device,
                   dtype: torch.dtype, antialias: bool = True) -> torch.Tensor:
    import torch  # deferred: torch; the workflow's dry run imports this module

    matrix = _weight_matrix_np(in_length, out_length, scale, kernel, antialias)
    return torch.from_numpy(matrix).to(device=device, dtype=dtype)


def _imresize_tensor(img: torch.Tensor, scale: float | None, output_shape: tuple[int, int] | None, kernel: str,
                     antialias: bool) -> torch.Tensor:
    """:func:`imresize` of an ``H x W`` or ``H x W x C`` tensor on its device, in float64.

    Each 1-D pass is one ``torch.matmul`` with the dense weight matrix (the weights of the NumPy path). uint8:
    after each pass MATLAB's rounding exactly as the NumPy path does it (:func:`_round_pass`), so every pixel
    equals the NumPy result; float: never rounded (equal up to float64 rounding).
    """
    import torch  # deferred: torch; the workflow's dry run imports this module

    if img.ndim not in (2, 3):
        raise SisrError(f"imresize: expected an H x W or H x W x C image, got shape {tuple(img.shape)}")
    name = _kernel_name(kernel)
    is_u8 = img.dtype == torch.uint8
    if not (is_u8 or img.is_floating_point()):
        raise SisrError(f"imresize: expected uint8 or floating-point input, got {img.dtype}")
    out_shape, scales = _output_shape_and_scales(tuple(img.shape[:2]), scale, output_shape)
    x = (img[:, :, None] if img.ndim == 2 else img).permute(2, 0, 1).to(torch.float64)  # C x H x W
    for axis in ((0, 1) if scales[0] <= scales[1] else (1, 0)):  # smaller factor first; height first on ties
        args = (x.shape[1 + axis], out_shape[axis], scales[axis], name, antialias)
        matrix = _weight_matrix(*args[:4], x.device, torch.float64, antialias)
        values = torch.matmul(matrix, x) if axis == 0 else torch.matmul(x, matrix.T)
        x = _round_pass(values, x, args, axis) if is_u8 else values
    x = x.permute(1, 2, 0)
    x = x[:, :, 0] if img.ndim == 2 else x
    return x.to(torch.uint8).contiguous() if is_u8 else x.contiguous()


def _round_pass(values: torch.Tensor, x: torch.Tensor, args: tuple, axis: int) -> torch.Tensor:
    """MATLAB's uint8 rounding of one pass ``values`` (``C x H x W``, float64) of the integer-valued ``x``, as
    :func:`_rounding` does it: values within ``TIE`` of a half integer recomputed tap by tap in MATLAB's order
    (unless the pass is exact, see :func:`_exact_in_float32`), then ``floor(v + 0.5)`` clipped to 0..255.

    The tap-by-tap sum is the NumPy path's (one product and one sum per tap, each a separate rounding: no fused
    multiply-add), so its result, and the rounding, are the same on any device."""
    import torch  # deferred: torch; the workflow's dry run imports this module

    if not _exact_in_float32(*args):
        near = torch.abs(values - torch.floor(values) - 0.5) < TIE
        c, i, j = torch.nonzero(near, as_tuple=True)
        if len(c):
            weights, indices = (torch.from_numpy(np.array(a)).to(values.device) for a in _contributions(*args))
            out_pos = i if axis == 0 else j
            acc = torch.zeros(len(c), dtype=torch.float64, device=values.device)
            for k in range(weights.shape[1]):
                src = indices[out_pos, k]
                product = weights[out_pos, k] * (x[c, src, j] if axis == 0 else x[c, i, src])
                acc = acc + product
            values[c, i, j] = acc
    return torch.clamp(torch.floor(values + 0.5), 0.0, 255.0)


def imresize_torch(x: torch.Tensor, scale: float, *, kernel: str = "cubic") -> torch.Tensor:
    """MATLAB ``imresize`` (antialiased) on an ``N x C x H x W`` float tensor, differentiable.

    Uses the same weights as :func:`imresize`, as dense matrices ``A_h`` and ``A_w`` (cached per size,
    kernel, device and dtype): ``out = A_h @ x @ A_w^T``. No rounding or clipping (the float path of
    :func:`imresize`). Works for any batch size, on CPU or GPU.
    """
    import torch  # deferred: torch; the workflow's dry run imports this module

    if x.ndim != 4 or not x.is_floating_point():
        raise SisrError(f"imresize_torch: expected a float N x C x H x W tensor, got {x.dtype} {tuple(x.shape)}")
    name = _kernel_name(kernel)
    (out_h, out_w), (scale_h, scale_w) = _output_shape_and_scales(tuple(x.shape[-2:]), scale, None)
    a_h = _weight_matrix(x.shape[-2], out_h, scale_h, name, x.device, x.dtype)
    a_w = _weight_matrix(x.shape[-1], out_w, scale_w, name, x.device, x.dtype)
    return torch.matmul(torch.matmul(a_h, x), a_w.transpose(0, 1))
