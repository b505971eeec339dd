"""MATLAB-compatible imresize: weights checked against hand-computed kernel values, sizes, dtypes, torch."""

import numpy as np
import pytest
import torch

from sisr.base.errors import SisrError
from sisr.base.imresize import downscale, imresize, imresize_torch, modcrop, upscale

# Keys cubic kernel (a = -0.5) at the distances that occur for x2 up / down, computed by hand:
# k(0.25) = 0.8671875, k(0.75) = 0.2265625, k(1.25) = -0.0703125, k(1.75) = -0.0234375.
UP2_WEIGHTS = np.array([-0.0234375, 0.2265625, 0.8671875, -0.0703125])  # inputs k-2, k-1, k, k+1
# x1/2 with antialiasing: h(x) = 0.5 k(0.5 x) at distances 3.5, 2.5, 1.5, 0.5 (and mirrored).
DOWN2_HALF = np.array([-0.01171875, -0.03515625, 0.11328125, 0.43359375])
DOWN2_WEIGHTS = np.concatenate([DOWN2_HALF, DOWN2_HALF[::-1]])  # inputs 2i-3 .. 2i+4


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def test_cubic_upscale_weights_interior_and_clamped_border(rng):
    row = rng.random(12)
    out = imresize(row[None, :], output_shape=(1, 24))[0]  # height factor 1: identity
    assert out.dtype == np.float64
    for k in range(2, 11):  # output 2k sits at input k - 0.25
        assert out[2 * k] == pytest.approx(float(UP2_WEIGHTS @ row[k - 2:k + 2]), abs=1e-12)
    # Border as MATLAB: inputs -2, -1 are clamped to 0 (replicated end-point), not mirrored.
    expected0 = UP2_WEIGHTS @ row[[0, 0, 0, 1]]
    assert out[0] == pytest.approx(float(expected0), abs=1e-12)


def test_cubic_downscale_is_antialiased(rng):
    col = rng.random(32)
    out = imresize(col[:, None], output_shape=(16, 1))[:, 0]
    for i in range(2, 14):  # output i sits at input 2i + 0.5
        assert out[i] == pytest.approx(float(DOWN2_WEIGHTS @ col[2 * i - 3:2 * i + 5]), abs=1e-12)
    no_aa = imresize(col[:, None], output_shape=(16, 1), antialias=False)[:, 0]
    assert not np.allclose(no_aa, out)  # without antialiasing the kernel is not widened


def test_bilinear_and_nearest_upscale(rng):
    img = rng.integers(0, 256, size=(6, 7, 3), dtype=np.uint8)
    near = upscale(img, 2, method="nearest")
    np.testing.assert_array_equal(near, np.repeat(np.repeat(img, 2, axis=0), 2, axis=1))
    row = rng.random(10)
    lin = imresize(row[None, :], output_shape=(1, 20), kernel="linear")[0]
    for k in range(1, 9):
        assert lin[2 * k] == pytest.approx(0.25 * row[k - 1] + 0.75 * row[k], abs=1e-12)


def test_float_path_is_not_rounded_and_uint8_path_is(rng):
    img = rng.integers(0, 256, size=(20, 18, 3), dtype=np.uint8)
    as_float = imresize(img.astype(np.float64), 0.5)
    as_u8 = imresize(img, 0.5)
    assert as_float.dtype == np.float64 and as_u8.dtype == np.uint8
    assert np.any(as_float != np.round(as_float))
    assert as_float.shape == as_u8.shape == (10, 9, 3)
    assert np.abs(as_u8.astype(np.float64) - as_float).max() <= 1.0


def test_uint8_rounds_between_passes_smaller_factor_first(rng):
    img = rng.integers(0, 256, size=(40, 50), dtype=np.uint8)
    out_shape = (30, 20)  # width factor 0.4 < height factor 0.75: width first
    width_first = imresize(imresize(img, output_shape=(40, 20)), output_shape=out_shape)
    height_first = imresize(imresize(img, output_shape=(30, 50)), output_shape=out_shape)
    result = imresize(img, output_shape=out_shape)
    np.testing.assert_array_equal(result, width_first)
    assert np.any(result != height_first)  # the order matters for uint8, so the check above means something
    # Without rounding between passes the result would differ too:
    single_round = np.floor(np.clip(imresize(img.astype(np.float64), output_shape=out_shape), 0, 255) + 0.5)
    assert np.any(result != single_round)


def test_uint8_output_is_clipped():
    img = np.zeros((16, 16), dtype=np.uint8)
    img[:, 8:] = 255  # a step edge makes cubic overshoot below 0 and above 255
    floats = imresize(img.astype(np.float64), 3.0)
    assert floats.min() < 0 and floats.max() > 255
    out = imresize(img, 3.0)
    assert out.min() == 0 and out.max() == 255


@pytest.mark.parametrize(
    ("scale", "expected"), [(0.5, (4, 5)), (0.35, (3, 4)), (1.5, (11, 15)), (2.25, (16, 23))]
)
def test_output_size_is_ceil_of_scaled_size(scale, expected):
    img = np.zeros((7, 10, 3), dtype=np.uint8)
    assert imresize(img, scale).shape == (*expected, 3)


def test_output_shape_argument():
    img = np.zeros((7, 10), dtype=np.float32)
    assert imresize(img, output_shape=(5, 3)).shape == (5, 3)


@pytest.mark.parametrize("kernel", ["cubic", "linear", "box", "nearest"])
@pytest.mark.parametrize("scale", [0.25, 1 / 3, 0.7, 2.0, 3.0])
def test_constant_image_stays_constant(kernel, scale):
    img = np.full((24, 18, 3), 137, dtype=np.uint8)
    np.testing.assert_array_equal(imresize(img, scale, kernel=kernel), 137)
    np.testing.assert_allclose(imresize(img.astype(np.float64) / 255, scale, kernel=kernel), 137 / 255, atol=1e-12)


def test_modcrop_and_downscale_shapes(rng):
    img = rng.integers(0, 256, size=(103, 98, 3), dtype=np.uint8)
    assert modcrop(img, 4).shape == (100, 96, 3)
    assert modcrop(img[:, :, 0], 3).shape == (102, 96)
    assert downscale(img, 4).shape == (25, 24, 3)
    assert downscale(img, 3, method="pil").shape == (34, 32, 3)
    assert downscale(img, 3, method="pil").dtype == np.uint8
    pil_float = downscale(img.astype(np.float64), 2, method="pil")
    assert pil_float.dtype == np.float64 and pil_float.shape == (51, 49, 3)


def test_pil_and_matlab_downscale_are_close_but_not_equal(rng):
    base = rng.integers(0, 256, size=(16, 16, 3)).astype(np.float64)
    img = imresize(base, 4.0).clip(0, 255).round().astype(np.uint8)  # a smooth 64x64 image
    matlab, pil = downscale(img, 2), downscale(img, 2, method="pil")
    diff = np.abs(matlab.astype(int) - pil.astype(int))
    assert diff.mean() < 1.0  # same kernel (a = -0.5, antialiased) ...
    assert diff.max() > 0  # ... but Pillow's 8-bit arithmetic is not MATLAB's


@pytest.mark.parametrize("method", ["bicubic", "bilinear", "nearest"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_upscale_shapes(method, scale, rng):
    img = rng.integers(0, 256, size=(9, 7, 3), dtype=np.uint8)
    out = upscale(img, scale, method=method)
    assert out.shape == (9 * scale, 7 * scale, 3) and out.dtype == np.uint8
    assert upscale(img[:, :, 0], scale, method=method).shape == (9 * scale, 7 * scale)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_matches_numpy_float(dtype, rng):
    img = rng.random((2, 3, 22, 17))  # N x C x H x W in [0, 1]
    x = torch.tensor(img, dtype=dtype, requires_grad=True)
    out = imresize_torch(x, 0.5)
    assert out.shape == (2, 3, 11, 9) and out.dtype == dtype
    for n in range(2):
        expected = imresize(img[n].transpose(1, 2, 0), 0.5).transpose(2, 0, 1)
        np.testing.assert_allclose(out[n].detach().numpy(), expected, atol=1e-5)
    out.sum().backward()  # differentiable
    assert x.grad is not None and x.grad.shape == x.shape
    up = imresize_torch(x.detach(), 3)
    expected_up = imresize(img[1].transpose(1, 2, 0), 3.0).transpose(2, 0, 1)
    np.testing.assert_allclose(up[1].numpy(), expected_up, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_torch_on_gpu_matches_cpu(rng):
    x = torch.tensor(rng.random((1, 3, 40, 36)), dtype=torch.float32)
    np.testing.assert_allclose(imresize_torch(x.cuda(), 0.25).cpu().numpy(), imresize_torch(x, 0.25).numpy(),
                               atol=1e-5)


def test_errors():
    img = np.zeros((8, 8), dtype=np.uint8)
    with pytest.raises(SisrError, match="unknown kernel 'lanczos9'"):
        imresize(img, 0.5, kernel="lanczos9")
    with pytest.raises(SisrError, match="exactly one of scale and output_shape"):
        imresize(img, 0.5, output_shape=(4, 4))
    with pytest.raises(SisrError, match="exactly one"):
        imresize(img)
    with pytest.raises(SisrError, match="uint8 or floating"):
        imresize(img.astype(np.int32), 0.5)
    with pytest.raises(SisrError, match="unknown method"):
        upscale(img, 2, method="lanczos")
    with pytest.raises(SisrError, match="unknown method"):
        downscale(img, 2, method="opencv")
    with pytest.raises(SisrError, match="positive integer"):
        modcrop(img, 1.5)
    with pytest.raises(SisrError, match=r"N x C x H x W"):
        imresize_torch(torch.zeros(3, 8, 8), 0.5)


def _tap_by_tap(img: np.ndarray, out_shape: tuple[int, int], scales: tuple[float, float], kernel: str) -> np.ndarray:
    """The plain algorithm (one gather and multiply-add per tap, float64), as the kernels were before they
    were rewritten as banded matrix products."""
    from sisr.base.imresize import _contributions

    out = img.astype(np.float64)
    for axis in ((0, 1) if scales[0] <= scales[1] else (1, 0)):
        weights, indices = _contributions(out.shape[axis], out_shape[axis], scales[axis], kernel, True)
        moved = np.moveaxis(out, axis, 0)
        acc = np.zeros((out_shape[axis], *moved.shape[1:]))
        for k in range(weights.shape[1]):
            acc += weights[:, k].reshape(-1, *[1] * (moved.ndim - 1)) * moved[indices[:, k]]
        if img.dtype == np.uint8:
            acc = np.floor(np.clip(acc, 0.0, 255.0) + 0.5)
        out = np.moveaxis(acc, 0, axis)
    return out.astype(np.uint8) if img.dtype == np.uint8 else out


@pytest.mark.parametrize("kernel", ["cubic", "linear", "box", "nearest"])
@pytest.mark.parametrize("out_shape", [(60, 44), (40, 30), (27, 20), (20, 15), (16, 11), (240, 176), (180, 132),
                                       (120, 88), (50, 11), (13, 150)])
def test_banded_kernels_equal_tap_by_tap(kernel, out_shape, rng):
    img = rng.integers(0, 256, size=(60, 44, 3), dtype=np.uint8)
    img[:20] = 0  # flat and saturated areas, where rounding and clipping matter
    img[20:25] = 255
    scales = (out_shape[0] / 60, out_shape[1] / 44)
    np.testing.assert_array_equal(imresize(img, output_shape=out_shape, kernel=kernel),
                                  _tap_by_tap(img, out_shape, scales, kernel))
    np.testing.assert_array_equal(imresize(img[:, :, 1], output_shape=out_shape, kernel=kernel),
                                  _tap_by_tap(img[:, :, 1], out_shape, scales, kernel))
    floats = img.astype(np.float64) / 7.0
    np.testing.assert_allclose(imresize(floats, output_shape=out_shape, kernel=kernel),
                               _tap_by_tap(floats, out_shape, scales, kernel), rtol=0, atol=1e-12)


@pytest.mark.parametrize("scale", [2, 4])
def test_dyadic_factors_run_in_float32_exactly(scale):
    from sisr.base.imresize import _exact_in_float32

    assert _exact_in_float32(100, 100 * scale, float(scale), "cubic", True)
    assert _exact_in_float32(100 * scale, 100, 1 / scale, "cubic", True)
    assert not _exact_in_float32(100, 300, 3.0, "cubic", True)  # x3: weights with a factor 1/27, float64
