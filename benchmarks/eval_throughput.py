"""Speed of the evaluation kernels on a DIV2K-sized image (2040 x 1356), each beside OpenCV in the same run.

    pip install -e '.[bench]'                        # OpenCV (opencv-python-headless), for the comparison only
    python benchmarks/eval_throughput.py [--repeat 15] [--threads 1] [--folder 100]

Timed, each the minimum over ``--repeat`` runs (the machine may be shared; the minimum is the least
disturbed run), with numpy/BLAS and OpenCV limited to ``--threads`` threads:

- ``downscale`` x4 (MATLAB-exact bicubic) beside OpenCV ``resize`` INTER_AREA and INTER_CUBIC (not
  MATLAB-exact: no antialiasing or other rounding);
- bicubic ``upscale`` x4 (MATLAB-exact) beside OpenCV ``resize`` INTER_CUBIC;
- ``ssim_y`` beside an SSIM written the way BasicSR's ``calculate_ssim(test_y_channel=True)`` computes it
  (Y in float32, then five ``cv2.filter2D`` calls with the 11 x 11 Gaussian in float64; our own code,
  :func:`opencv_ssim_y`); the two values are printed too;
- ``psnr_y``, ``psnr_rgb``, ``ssim_rgb``, ``ms_ssim``;
- with ``--folder N``: ``sisr evaluate`` (a subprocess, all cores) of N DIV2K-sized SR/HR pairs with
  ``psnr_y,ssim_y,psnr_rgb,ssim_rgb``, wall-clock, beside N OpenCV resizes of the same size.

The test image: scikit-image's "astronaut" photograph resized to 2040 x 1356 with a little noise (the
kernels' speed does not depend on the content); the SR image is its bicubic x4 round trip.
"""

from __future__ import annotations

import argparse
import os
import sys

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--repeat", type=int, default=15)
parser.add_argument("--threads", type=int, default=1, help="numpy/BLAS and OpenCV threads (default 1)")
parser.add_argument("--folder", type=int, default=0, help="also time `sisr evaluate` of this many image pairs")
parser.add_argument("--folder-dir", default=None, help="where to write the pairs (default: a temporary folder)")
ARGS = parser.parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy is imported
    os.environ[var] = str(ARGS.threads)

import platform  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

try:
    import cv2
except ImportError:
    sys.exit("benchmarks/eval_throughput.py needs OpenCV: pip install -e '.[bench]'")

from sisr.base.imresize import downscale, upscale  # noqa: E402
from sisr.metrics import ms_ssim, psnr, ssim  # noqa: E402

cv2.setNumThreads(ARGS.threads)
SIZE = (1356, 2040)  # H x W of a DIV2K image


def test_image(seed: int = 0) -> np.ndarray:
    from PIL import Image
    from skimage import data

    img = Image.fromarray(data.astronaut()).resize(SIZE[::-1], Image.BICUBIC)
    noise = np.random.default_rng(seed).integers(-6, 7, size=(*SIZE, 3))
    return np.clip(np.asarray(img).astype(np.int16) + noise, 0, 255).astype(np.uint8)


def best_ms(fn, repeat: int = ARGS.repeat) -> float:
    fn()  # warm-up: caches of weights, BLAS buffers
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000.0 * min(times)


def opencv_ssim_y(sr: np.ndarray, hr: np.ndarray, crop: int) -> float:
    """SSIM on Y computed as BasicSR does it (our code): RGB -> Y in float32, five 2-D filter2D in float64."""
    def y_channel(img: np.ndarray) -> np.ndarray:
        img = img[crop:-crop, crop:-crop].astype(np.float32) / 255.0
        return (img @ np.array([65.481, 128.553, 24.966], dtype=np.float32) + 16.0).astype(np.float64)

    a, b = y_channel(sr), y_channel(hr)
    g = cv2.getGaussianKernel(11, 1.5)
    window = np.outer(g, g.T)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a = cv2.filter2D(a, -1, window)[5:-5, 5:-5]
    mu_b = cv2.filter2D(b, -1, window)[5:-5, 5:-5]
    var_a = cv2.filter2D(a * a, -1, window)[5:-5, 5:-5] - mu_a**2
    var_b = cv2.filter2D(b * b, -1, window)[5:-5, 5:-5] - mu_b**2
    cov = cv2.filter2D(a * b, -1, window)[5:-5, 5:-5] - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


def kernels() -> None:
    hr = test_image()
    lr = downscale(hr, 4)
    sr = upscale(lr, 4)
    h, w = SIZE
    rows = []

    def row(name: str, ours: float, ref_name: str, ref: float) -> None:
        rows.append((name, ours, ref_name, ref))
        print(f"{name:22s} {ours:9.1f} ms   {ref_name:34s} {ref:8.1f} ms   ratio {ours / ref:6.2f}", flush=True)

    cv_area = best_ms(lambda: cv2.resize(hr, (w // 4, h // 4), interpolation=cv2.INTER_AREA))
    cv_cubic_down = best_ms(lambda: cv2.resize(hr, (w // 4, h // 4), interpolation=cv2.INTER_CUBIC))
    ours = best_ms(lambda: downscale(hr, 4))
    row("downscale x4", ours, "OpenCV resize INTER_AREA", cv_area)
    row("downscale x4", ours, "OpenCV resize INTER_CUBIC", cv_cubic_down)
    row("downscale x3", best_ms(lambda: downscale(hr, 3)), "OpenCV resize INTER_AREA x3",
        best_ms(lambda: cv2.resize(hr, (w // 3, h // 3), interpolation=cv2.INTER_AREA)))
    cv_up = best_ms(lambda: cv2.resize(lr, (w, h), interpolation=cv2.INTER_CUBIC))
    row("upscale x4 (bicubic)", best_ms(lambda: upscale(lr, 4)), "OpenCV resize INTER_CUBIC", cv_up)
    lr3 = downscale(hr, 3)
    row("upscale x3 (bicubic)", best_ms(lambda: upscale(lr3, 3)), "OpenCV resize INTER_CUBIC x3",
        best_ms(lambda: cv2.resize(lr3, (lr3.shape[1] * 3, lr3.shape[0] * 3), interpolation=cv2.INTER_CUBIC)))
    ref_ssim = best_ms(lambda: opencv_ssim_y(sr, hr, 4))
    row("ssim_y", best_ms(lambda: ssim(sr, hr, crop=4)), "BasicSR-style OpenCV SSIM (Y)", ref_ssim)
    print(f"  values: ours {ssim(sr, hr, crop=4):.10f}, BasicSR-style {opencv_ssim_y(sr, hr, 4):.10f} "
          "(Y rounded to float32 there)")
    row("ssim_rgb", best_ms(lambda: ssim(sr, hr, crop=4, y_channel=False)), "BasicSR-style OpenCV SSIM (Y)",
        ref_ssim)
    row("ms_ssim (Y)", best_ms(lambda: ms_ssim(sr, hr, crop=4)), "BasicSR-style OpenCV SSIM (Y)", ref_ssim)
    row("psnr_y", best_ms(lambda: psnr(sr, hr, crop=4)), "OpenCV resize INTER_CUBIC", cv_up)
    row("psnr_rgb", best_ms(lambda: psnr(sr, hr, crop=4, y_channel=False)), "OpenCV resize INTER_CUBIC", cv_up)


def folder(n: int) -> None:
    from sisr.base.io import write_image

    root = Path(ARGS.folder_dir or tempfile.mkdtemp(prefix="sisr-eval-bench-"))
    sr_dir, hr_dir = root / "sr", root / "hr"
    if len(list(sr_dir.glob("*.png"))) != n or len(list(hr_dir.glob("*.png"))) != n:
        print(f"writing {n} pairs of {SIZE[1]}x{SIZE[0]} PNGs to {root} ...", flush=True)
        sr_dir.mkdir(parents=True, exist_ok=True)
        hr_dir.mkdir(parents=True, exist_ok=True)
        base = test_image()
        for i in range(n):
            hr = np.roll(base, (7 * i, 13 * i), axis=(0, 1))
            write_image(hr_dir / f"{i:04d}.png", hr)
            write_image(sr_dir / f"{i:04d}.png", upscale(downscale(hr, 4), 4))
    cmd = [sys.executable, "-m", "sisr", "evaluate", "--scale", "4", "--metrics", "psnr_y,ssim_y,psnr_rgb,ssim_rgb",
           str(sr_dir), str(hr_dir)]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                              "MKL_NUM_THREADS")}
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if out.returncode:
        sys.exit(out.stderr)
    print(out.stdout.strip().splitlines()[-5:])
    imgs = [cv2.imread(str(p)) for p in sorted(hr_dir.glob("*.png"))[:10]]
    cv_ms = best_ms(lambda: [cv2.resize(im, (SIZE[1] // 4, SIZE[0] // 4), interpolation=cv2.INTER_AREA)
                             for im in imgs], repeat=3) / len(imgs)
    print(f"sisr evaluate of {n} pairs (psnr_y,ssim_y,psnr_rgb,ssim_rgb, {os.cpu_count()} cores): {seconds:.1f} s "
          f"({1000 * seconds / n:.0f} ms per pair; OpenCV INTER_AREA resize of one such image: {cv_ms:.1f} ms)")


if __name__ == "__main__":
    print(f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{ARGS.threads} thread(s), numpy {np.__version__}, OpenCV {cv2.__version__}, {time.strftime('%Y-%m-%d %H:%M')}")
    kernels()
    if ARGS.folder:
        folder(ARGS.folder)
