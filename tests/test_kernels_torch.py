"""The torch kernels (MATLAB imresize, PSNR / SSIM / MS-SSIM / MSE on tensors, float64) against the NumPy ones.

An evaluation on a GPU runs them there (``sisr.base.device.kernel_device``); CI has no GPU, so they run here on the
CPU device, which is the same code: every uint8 pixel must equal the NumPy path's, every metric within 1e-9
relative, on the shared Set5 / Set14 and on odd sizes. A different summation order (a GPU's) is simulated by
perturbing the matrix products' results by one unit in the last place. benchmarks/gpu_eval_check.py repeats
the comparison on CUDA.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from sisr.base import device as sisr_device
from sisr import evaluation
from sisr.base import imresize as ir
from sisr.data.datasets import Pair
from sisr.degradations import bicubic as bicubic_degradation
from sisr.base.errors import SisrError
from sisr.base.io import read_image, write_image
from sisr.metrics import basic
from sisr.metrics.registry import METRICS

BENCHMARK = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "benchmark"
ON_DEVICE = [m for m, rec in METRICS.items() if rec.on_device]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12)


def t(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(img, copy=True))


def _same_metric(want: float, got: float) -> bool:
    if np.isnan(want) or np.isinf(want):
        return (np.isnan(want) and np.isnan(got)) or want == got
    return abs(got - want) <= 1e-9 * abs(want)


def _benchmark_images():
    if not (BENCHMARK / "Set5" / "HR").is_dir():
        pytest.skip(f"{BENCHMARK} not found (shared test datasets absent)")
    for dataset in ("Set5", "Set14"):
        for hr_path in sorted((BENCHMARK / dataset / "HR").glob("*.png")):
            yield dataset, hr_path


@pytest.mark.reference
def test_benchmark_sets_every_pixel_and_metric_equal():
    """Set5 + Set14, x2 / x3 / x4: downscale of the HR, bicubic / bilinear / nearest upscale of the MATLAB LR,
    and every on_device metric of the bicubic SR against the HR."""
    n_images, n_values = 0, 0
    for dataset, hr_path in _benchmark_images():
        hr = read_image(hr_path, mode="any")
        n_images += 1
        for scale in (2, 3, 4):
            where = f"{dataset}/{hr_path.stem} x{scale}"
            lr = read_image(BENCHMARK / dataset / "LR_bicubic" / f"X{scale}" / f"{hr_path.stem}x{scale}.png",
                            mode="any")
            down = ir.downscale(t(hr), scale)
            assert down.dtype == torch.uint8
            np.testing.assert_array_equal(down.numpy(), ir.downscale(hr, scale), err_msg=f"downscale {where}")
            for method in ("bicubic", "bilinear", "nearest"):
                np.testing.assert_array_equal(ir.upscale(t(lr), scale, method=method).numpy(),
                                              ir.upscale(lr, scale, method=method), err_msg=f"{method} {where}")
            sr, hr_c = ir.upscale(lr, scale), ir.modcrop(hr, scale)
            for m in ON_DEVICE:
                try:
                    want = METRICS[m].fn(sr, hr_c, scale)
                except SisrError as exc:  # ms_ssim of an image below 161 px: the same error
                    with pytest.raises(SisrError, match="ms_ssim"):
                        METRICS[m].fn(t(sr), t(hr_c), scale)
                    assert "161" in str(exc)
                    continue
                got = METRICS[m].fn(t(sr), t(hr_c), scale)
                assert _same_metric(want, got), (m, where, want, got)
                n_values += 1
    assert n_images == 19 and n_values > 19 * 3 * 6


@pytest.mark.parametrize("kernel", ["cubic", "linear", "box", "nearest"])
def test_odd_sizes_every_pixel_equal(kernel, rng):
    img = rng.integers(0, 256, size=(61, 45, 3), dtype=np.uint8)
    img[:20] = 0  # flat and saturated areas, where rounding and clipping matter
    img[20:25] = 255
    for shape in [(27, 20), (37, 23), (13, 150), (123, 91), (61, 45), (244, 180), (60, 11)]:
        np.testing.assert_array_equal(ir.imresize(t(img), output_shape=shape, kernel=kernel).numpy(),
                                      ir.imresize(img, output_shape=shape, kernel=kernel), err_msg=str(shape))
        np.testing.assert_array_equal(ir.imresize(t(img[:, :, 1]), output_shape=shape, kernel=kernel).numpy(),
                                      ir.imresize(img[:, :, 1], output_shape=shape, kernel=kernel))
        floats = img.astype(np.float64) / 7.0
        got = ir.imresize(t(floats), output_shape=shape, kernel=kernel)
        assert got.dtype == torch.float64
        np.testing.assert_allclose(got.numpy(), ir.imresize(floats, output_shape=shape, kernel=kernel),
                                   rtol=0, atol=1e-12)
    for scale in (2, 3, 4):
        np.testing.assert_array_equal(ir.downscale(t(img), scale).numpy(), ir.downscale(img, scale))
        np.testing.assert_array_equal(ir.upscale(t(img), scale).numpy(), ir.upscale(img, scale))


def _one_ulp_off(real_matmul, seed: int):
    """torch.matmul whose results that are not exact (not a multiple of 2^-15) move one unit in the last place,
    up or down at random: a GPU's summation order, which leaves the exact (dyadic) passes exact."""
    gen = torch.Generator().manual_seed(seed)

    def matmul(a, b):
        out = real_matmul(a, b)
        inexact = out * 2.0**15 != torch.round(out * 2.0**15)
        up = torch.rand(out.shape, generator=gen) < 0.5
        moved = torch.nextafter(out, torch.where(up, torch.inf, -torch.inf).to(out.dtype))
        return torch.where(inexact, moved, out)

    return matmul


def test_another_summation_order_gives_the_same_pixels(monkeypatch, rng):
    """Values within a few units of a half integer are recomputed tap by tap, as the NumPy path does; without
    that (TIE = 0) the perturbed products round some pixels the other way, so this test can fail."""
    img = rng.integers(0, 256, size=(60, 44, 3), dtype=np.uint8)
    img[:20] = 0
    img[20:25] = 255
    cases = [(kernel, shape) for kernel in ("cubic", "linear", "box")
             for shape in [(40, 30), (27, 20), (16, 11), (50, 11), (13, 150), (37, 23), (123, 91)]]
    want = {case: ir.imresize(img, output_shape=case[1], kernel=case[0]) for case in cases}
    monkeypatch.setattr(torch, "matmul", _one_ulp_off(torch.matmul, seed=0))
    for case in cases:
        np.testing.assert_array_equal(ir.imresize(t(img), output_shape=case[1], kernel=case[0]).numpy(), want[case],
                                      err_msg=str(case))
    monkeypatch.setattr(ir, "TIE", 0.0)
    differ = [case for case in cases
              if not np.array_equal(ir.imresize(t(img), output_shape=case[1], kernel=case[0]).numpy(), want[case])]
    assert differ, "the perturbation changed no rounding: the test does not reach the tap-by-tap recomputation"


@pytest.mark.parametrize("shape", [(173, 201, 3), (175, 168), (40, 33, 3), (27, 31)])
def test_metrics_on_odd_sizes(shape, rng):
    hr = rng.integers(0, 256, size=shape, dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-20, 21, size=shape), 0, 255).astype(np.uint8)
    for m in ON_DEVICE:
        for a, b in ((sr, hr), (hr, hr), (255 - hr, hr)):  # noisy copy, identical (psnr inf), anticorrelated
            try:
                want = METRICS[m].fn(a, b, 3)
            except SisrError as exc:
                with pytest.raises(SisrError, match=str(exc).split(":")[0]):
                    METRICS[m].fn(t(a), t(b), 3)
                continue
            got = METRICS[m].fn(t(a), t(b), 3)
            assert _same_metric(want, got), (m, shape, want, got)


def test_tensor_errors_are_the_numpy_ones():
    a, b = torch.zeros((20, 20, 3), dtype=torch.uint8), torch.zeros((20, 21, 3), dtype=torch.uint8)
    with pytest.raises(SisrError, match="must have the same shape"):
        basic.ssim(a, b, crop=2)
    with pytest.raises(SisrError, match="smaller than the 11x11"):
        basic.ssim(a[:12, :12], a[:12, :12], crop=1)
    with pytest.raises(SisrError, match="expected uint8 or floating-point input"):
        ir.imresize(torch.zeros((4, 4), dtype=torch.int32), 2.0)
    with pytest.raises(SisrError, match="takes a numpy array"):
        ir.downscale(a, 2, method="pil")


def test_kernel_device_is_cuda_only(monkeypatch):
    assert sisr_device.kernel_device(None) is None
    assert sisr_device.kernel_device("cpu") is None
    assert sisr_device.kernel_device(torch.device("cpu")) is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # device objects only: nothing starts CUDA
    assert sisr_device.kernel_device("cuda") == torch.device("cuda")
    assert sisr_device.kernel_device(torch.device("cuda", 1)) == torch.device("cuda", 1)
    monkeypatch.setattr(sisr_device, "_DEFAULT", "cpu")  # a job without a GPU resource
    assert sisr_device.kernel_device("auto") is None


def test_evaluate_uses_the_torch_kernels_where_kernel_device_says(monkeypatch, tmp_path, rng):
    """The evaluation loop with its kernels on a torch device (the CPU here, standing for the GPU): LR made on the
    device, the on_device metrics on the device, the others (scikit-image) on the arrays; the same table."""
    from sisr.models import create_model

    for i, shape in enumerate([(48, 41, 3), (37, 52, 3), (44, 44)]):
        img = rng.integers(0, 256, size=shape, dtype=np.uint8)
        write_image(tmp_path / "hr" / f"im{i}.png", img)
    pairs = [Pair(f"im{i}", tmp_path / "hr" / f"im{i}.png", None) for i in range(3)]
    metrics = ["psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb", "mse", "ssim_rgb_skimage_noshave"]
    model = create_model("bicubic", scale=3, in_channels=3)

    def run(kernels):
        monkeypatch.setattr(evaluation, "kernel_device", lambda device: kernels)
        return evaluation.evaluate(pairs, scale=3, metrics=metrics, model=model, sr_dir=tmp_path / f"sr_{kernels}",
                                   device=torch.device("cpu"), workers=2)

    uploads, downscales = [], []
    real_upload, real_downscale = evaluation.upload, ir.downscale
    monkeypatch.setattr(evaluation, "upload", lambda img, dev: uploads.append(dev) or real_upload(img, dev))
    monkeypatch.setattr(bicubic_degradation, "downscale",  # the evaluation makes its LR with the bicubic degradation
                        lambda img, s, **kw: downscales.append(type(img)) or real_downscale(img, s, **kw))
    numpy_df = run(None)
    assert uploads == [] and downscales == [np.ndarray] * 3
    torch_df = run(torch.device("cpu"))
    assert len(uploads) == 3 + 2 * 3 and downscales[3:] == [torch.Tensor] * 3  # 3 LR, then SR and HR per image
    for name in pairs:
        a = read_image(tmp_path / "sr_None" / f"{name.name}.png", mode="any")
        b = read_image(tmp_path / "sr_cpu" / f"{name.name}.png", mode="any")
        np.testing.assert_array_equal(a, b)
    for m in metrics:
        for want, got in zip(numpy_df[m], torch_df[m]):
            assert _same_metric(want, got), (m, want, got)


def test_scoring_on_the_device_stays_out_of_the_timed_inference(monkeypatch, tmp_path, rng):
    """The ``seconds`` column times the model alone: metric kernels on the same device (worker threads) must not
    run while an image's inference is timed (on a GPU the synchronisation would wait for them, and they would
    share the device). Stand-ins that sleep make an overlap likely if nothing prevents it."""
    import threading
    import time
    from dataclasses import replace

    from sisr.training import inference
    from sisr.models import create_model

    for i in range(6):
        write_image(tmp_path / "hr" / f"im{i}.png", rng.integers(0, 256, size=(30, 33, 3), dtype=np.uint8))
    pairs = [Pair(f"im{i}", tmp_path / "hr" / f"im{i}.png", None) for i in range(6)]
    spans: dict[str, list[tuple[float, float]]] = {"infer": [], "score": []}
    lock = threading.Lock()

    def timed(kind, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            time.sleep(0.03)
            out = fn(*args, **kwargs)
            with lock:
                spans[kind].append((t0, time.perf_counter()))
            return out
        return wrapper

    monkeypatch.setattr(inference, "super_resolve", timed("infer", inference.super_resolve))
    rec = METRICS["psnr_y"]
    monkeypatch.setitem(METRICS, "psnr_y", replace(rec, fn=timed("score", rec.fn)))
    monkeypatch.setattr(evaluation, "kernel_device", lambda device: torch.device("cpu"))
    evaluation.evaluate(pairs, scale=3, metrics=["psnr_y"], model=create_model("bicubic", scale=3, in_channels=3),
                        sr_dir=tmp_path / "sr", device=torch.device("cpu"), workers=3)
    assert len(spans["infer"]) == 7 and len(spans["score"]) == 6  # 6 images + the warm-up run
    overlaps = [(i, s) for i in spans["infer"] for s in spans["score"] if s[0] < i[1] and i[0] < s[1]]
    assert not overlaps, f"{len(overlaps)} scoring spans overlap a timed inference"
