"""Golden values of the evaluation kernels on the shared Set5 / Set14: recorded once, compared by a test.

``tests/data/golden_eval.json`` was written with the kernels of commit dac59a9 (before they were rewritten
for speed) by::

    PYTHONPATH=src python tests/golden_values.py --write

It holds, per image and scale, the SHA-256 of every LR pixel made by ``downscale`` (MATLAB bicubic), of
the bicubic / bilinear / nearest ``upscale`` of the MATLAB-made LR, and the values of every standard and
"their protocol" metric of the bicubic SR against the HR. tests/test_golden_values.py recomputes them with
the current code: LR and upscaled arrays must be identical byte for byte, metric values equal within 1e-9
(relative). Float-input resizing (no uint8 rounding) is compared by a few statistics within 1e-12.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

BENCHMARK = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "benchmark"
GOLDEN = Path(__file__).resolve().parent / "data" / "golden_eval.json"
SETS = ("Set5", "Set14")
SCALES = (2, 3, 4)
METRICS = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb", "ms_ssim", "mse", "mse_noshave",
           "psnr_y_crop96", "ssim_y_crop96", "psnr_rgb_crop96", "psnr_rgb_skimage_noshave",
           "ssim_rgb_skimage_noshave")


def digest(arr: np.ndarray) -> str:
    """SHA-256 of the dtype, shape and bytes of ``arr``."""
    arr = np.ascontiguousarray(arr)
    h = hashlib.sha256(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(arr.tobytes())
    return h.hexdigest()


def float_stats(arr: np.ndarray) -> list[float]:
    """Shape-independent summary of a float image: sum, sum of squares, first, last and a middle value."""
    flat = arr.ravel()
    return [float(flat.sum()), float((flat * flat).sum()), float(flat[0]), float(flat[-1]), float(flat[len(flat) // 2])]


def images(dataset: str) -> list[Path]:
    return sorted((BENCHMARK / dataset / "HR").glob("*.png"))


def compute(metric_fns: dict | None = None) -> dict:
    """Everything in the golden file, computed with the code on the import path."""
    from sisr.base.imresize import downscale, imresize, modcrop, upscale
    from sisr.base.io import read_image

    if metric_fns is None:
        from sisr.metrics.registry import METRICS as registry  # noqa: N811

        metric_fns = {m: registry[m].fn for m in METRICS}
    out: dict = {}
    for dataset in SETS:
        for hr_path in images(dataset):
            hr = read_image(hr_path, mode="any")
            entry: dict = {}
            for scale in SCALES:
                lr_path = BENCHMARK / dataset / "LR_bicubic" / f"X{scale}" / f"{hr_path.stem}x{scale}.png"
                lr = read_image(lr_path, mode="any")
                sr = upscale(lr, scale, method="bicubic")
                hr_c = modcrop(hr, scale)
                values = {}
                for m, fn in metric_fns.items():
                    try:
                        values[m] = float(fn(sr, hr_c, scale))
                    except Exception as exc:  # e.g. ms_ssim on an image below 161 px: the error is golden too
                        values[m] = f"error: {type(exc).__name__}"
                entry[f"x{scale}"] = {
                    "downscale": digest(downscale(hr, scale)),
                    "upscale_bicubic": digest(sr),
                    "upscale_bilinear": digest(upscale(lr, scale, method="bilinear")),
                    "upscale_nearest": digest(upscale(lr, scale, method="nearest")),
                    "downscale_float": float_stats(imresize(modcrop(hr, scale).astype(np.float64) / 255.0,
                                                            1.0 / scale)),
                    "upscale_float": float_stats(imresize(lr.astype(np.float32) / 255.0, float(scale))),
                    "metrics": values,
                }
            out[f"{dataset}/{hr_path.stem}"] = entry
    return out


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: PYTHONPATH=src python tests/golden_values.py --write")
    if not (BENCHMARK / "Set5" / "HR").is_dir():
        sys.exit(f"{BENCHMARK} not found")
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(compute(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
