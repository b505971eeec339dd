"""Check and time the evaluation kernels on CUDA against the NumPy path (issue #12), in well under a minute.

    python benchmarks/gpu_eval_check.py --out OUT [--images DIR] [--count 2] [--repeat 5] [--device cuda]

(a) Checks, on each image (default: ``--count`` synthetic DIV2K-sized images made with a fixed seed, the first
    2040 x 1356, the next ones of odd sizes; or the first ``--count`` PNGs of ``--images``), at x2, x3 and x4:
    ``downscale`` (MATLAB-exact bicubic, uint8 rounding between the passes) of the HR and bicubic ``upscale``
    of that LR computed by torch on the device equal the NumPy path in every pixel; every metric that the
    evaluation computes on the device (the registry's ``on_device`` records: PSNR, SSIM, MS-SSIM, MSE on Y / RGB)
    of the upscaled image against the HR equals the NumPy value within 1e-9 relative. Then the evaluation loop
    itself (``sisr.evaluation.evaluate`` with the bicubic baseline at x4, on the device, which makes the LR and
    scores there) against ``evaluate_folders`` of the SR files it wrote (NumPy): every value within 1e-9.
(b) Timings on the first image (2040 x 1356 unless ``--images``): each kernel by NumPy on the CPU with one thread,
    and by torch on the device with the data already there and with the transfers (upload, and the result back
    for the resizes); the minimum over ``--repeat`` runs after one warm-up; the device synchronised around each.
(c) ``OUT/gpu_eval_check.csv`` (one row per check and per timing) and ``OUT/summary.txt``; the exit status is 1
    if any check failed.

Without CUDA the CUDA parts are skipped (said so on the first line of the output and in the summary) and the
same checks and timings run with torch CPU tensors, which checks this script on a CPU machine. Needs numpy,
Pillow, torch and the package in ``src/`` next to this folder (no data, no network, nothing installed); the
loop check also needs pandas and threadpoolctl (skipped with a message if absent).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--out", required=True, help="folder for gpu_eval_check.csv and summary.txt")
parser.add_argument("--images", default=None, help="folder of PNG images to use instead of synthetic ones")
parser.add_argument("--count", type=int, default=2, help="images checked (default 2)")
parser.add_argument("--repeat", type=int, default=5, help="timed runs per kernel, the minimum is kept (default 5)")
parser.add_argument("--device", default="cuda", help="torch device of the checks (default cuda)")
parser.add_argument("--seed", type=int, default=12, help="seed of the synthetic images")
ARGS = parser.parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # NumPy on one thread: before numpy
    os.environ[var] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import csv  # noqa: E402
import datetime  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sisr.base.device import upload  # noqa: E402
from sisr.base.imresize import downscale, modcrop, upscale  # noqa: E402
from sisr.base.io import read_image, write_image  # noqa: E402
from sisr.metrics.registry import METRICS  # noqa: E402

ON_DEVICE = [m for m, rec in METRICS.items() if rec.on_device]
TIMED_METRICS = ["psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb", "ms_ssim"]
SCALES = (2, 3, 4)
REL = 1e-9
COLUMNS = ["kind", "what", "image", "scale", "device", "numpy", "torch", "difference", "tolerance", "ok",
           "numpy_cpu_1thread_ms", "torch_ms", "torch_with_transfers_ms", "speedup"]


def log(msg: str) -> None:
    print(msg, flush=True)


def synthetic(seed: int, h: int, w: int) -> np.ndarray:
    """A photo-like uint8 RGB image: smooth coloured waves, hard-edged blocks and a little noise (fixed seed)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.zeros((h, w, 3))
    for _ in range(10):
        fy, fx = rng.uniform(0, 30, 2)
        wave = np.sin(2 * np.pi * (fy * yy + fx * xx) + rng.uniform(0, 2 * np.pi))
        img += wave[:, :, None] * rng.uniform(-1, 1, 3) * rng.uniform(5, 25)
    for _ in range(40):
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        img[y0:y0 + rng.integers(10, h // 4), x0:x0 + rng.integers(10, w // 4)] += rng.uniform(-60, 60, 3)
    img += rng.normal(0, 4, img.shape)
    img = (img - img.min()) / (img.max() - img.min()) * 255
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def load_images() -> list[tuple[str, np.ndarray]]:
    if ARGS.images:
        paths = sorted(Path(ARGS.images).glob("*.png"))[:ARGS.count]
        if not paths:
            sys.exit(f"gpu_eval_check: no PNG images in {ARGS.images}")
        return [(p.stem, read_image(p, mode="any")) for p in paths]
    sizes = [(1356, 2040), (1353, 2037), (1351, 2039)]
    return [(f"synthetic{i}_{sizes[i % 3][1]}x{sizes[i % 3][0]}", synthetic(ARGS.seed + i, *sizes[i % 3]))
            for i in range(ARGS.count)]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_ms(fn, device: torch.device | None = None) -> float:
    """Minimum wall time of ``fn()`` in ms over ARGS.repeat runs after one warm-up (device synchronised)."""
    fn()
    best = float("inf")
    for _ in range(ARGS.repeat):
        if device is not None:
            sync(device)
        t0 = time.perf_counter()
        fn()
        if device is not None:
            sync(device)
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def rel_diff(want: float, got: float) -> float:
    if np.isnan(want) and np.isnan(got) or want == got:
        return 0.0
    return abs(got - want) / abs(want) if want else float("inf")


def check_image(name: str, hr: np.ndarray, dev: torch.device, rows: list[dict]) -> None:
    hr_t = upload(hr, dev)
    for scale in SCALES:
        base = {"kind": "check", "image": name, "scale": scale, "device": str(dev)}
        lr = downscale(hr, scale)
        lr_t = downscale(hr_t, scale)
        sr = upscale(lr, scale)
        sr_t = upscale(lr_t, scale)
        for what, want, got in (("downscale", lr, lr_t), ("upscale_bicubic", sr, sr_t)):
            got = got.cpu().numpy()
            differ = int(np.sum(np.any(got != want, axis=-1))) if got.shape == want.shape else -1
            rows.append({**base, "what": what, "numpy": f"{want.shape}", "torch": f"{got.shape}",
                         "difference": differ, "tolerance": 0, "ok": differ == 0})
        hr_c = modcrop(hr, scale)
        hr_ct = upload(hr_c, dev)
        for m in ON_DEVICE:
            want = float(METRICS[m].fn(sr, hr_c, scale))
            got = float(METRICS[m].fn(sr_t, hr_ct, scale))
            diff = rel_diff(want, got)
            rows.append({**base, "what": m, "numpy": repr(want), "torch": repr(got), "difference": f"{diff:.3g}",
                         "tolerance": REL, "ok": diff <= REL})
        bad = [r["what"] for r in rows[-(2 + len(ON_DEVICE)):] if not r["ok"]]
        log(f"  {name} x{scale}: {'all equal' if not bad else 'DIFFER: ' + ', '.join(bad)}")


def time_kernels(name: str, hr: np.ndarray, dev: torch.device, rows: list[dict]) -> None:
    def add(what: str, scale: int | str, np_fn, dev_fn, transfer_fn) -> None:
        t_np, t_dev, t_tr = best_ms(np_fn), best_ms(dev_fn, dev), best_ms(transfer_fn, dev)
        rows.append({"kind": "time", "what": what, "image": name, "scale": scale, "device": str(dev),
                     "numpy_cpu_1thread_ms": f"{t_np:.2f}", "torch_ms": f"{t_dev:.2f}",
                     "torch_with_transfers_ms": f"{t_tr:.2f}", "speedup": f"{t_np / t_dev:.1f}"})
        log(f"  {what:16s} x{scale}: numpy 1 thread {t_np:9.2f} ms   torch {dev.type} {t_dev:8.2f} ms   "
            f"with transfers {t_tr:8.2f} ms")

    def resize(what: str, fn, img: np.ndarray, scale: int) -> None:
        img_t = upload(img, dev)
        add(what, scale, lambda: fn(img, scale), lambda: fn(img_t, scale), lambda: fn(upload(img, dev), scale).cpu())

    def metric(m: str, sr: np.ndarray, hr_c: np.ndarray) -> None:
        fn, sr_t, hr_ct = METRICS[m].fn, upload(sr, dev), upload(hr_c, dev)
        add(m, 4, lambda: fn(sr, hr_c, 4), lambda: fn(sr_t, hr_ct, 4), lambda: fn(upload(sr, dev), upload(hr_c, dev), 4))

    for scale in SCALES:
        resize("downscale", downscale, hr, scale)
        resize("upscale_bicubic", upscale, downscale(hr, scale), scale)
    for m in TIMED_METRICS:
        metric(m, upscale(downscale(hr, 4), 4), modcrop(hr, 4))


def check_loop(images: list[tuple[str, np.ndarray]], dev: torch.device, rows: list[dict]) -> str:
    """evaluate() of the bicubic baseline on ``dev`` against evaluate_folders() (NumPy) of the SR files it wrote."""
    try:
        from sisr import evaluation
        from sisr.data.datasets import Pair
        from sisr.models import create_model
    except ImportError as exc:
        return f"loop check skipped: {exc} (needs pandas and threadpoolctl)"
    note = ""
    if evaluation.kernel_device(dev) is None:  # a CPU device: stand in for CUDA so that the check runs here
        evaluation.kernel_device = lambda device: torch.device("cpu")
        note = " (CPU device standing in for CUDA: kernel_device patched)"
    metrics = ["psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb", "ms_ssim"]
    with tempfile.TemporaryDirectory(prefix="gpu_eval_check_") as tmp:
        pairs = []
        for name, hr in images:
            write_image(Path(tmp) / "hr" / f"{name}.png", hr)
            pairs.append(Pair(name, Path(tmp) / "hr" / f"{name}.png", None))
        model = create_model("bicubic", scale=4, in_channels=3).to(dev)
        t0 = time.perf_counter()
        on_dev = evaluation.evaluate(pairs, scale=4, metrics=metrics, model=model, sr_dir=Path(tmp) / "sr",
                                     device=dev)
        t_dev = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref = evaluation.evaluate_folders(Path(tmp) / "sr", Path(tmp) / "hr", scale=4, metrics=metrics)
        t_np = time.perf_counter() - t0
    worst, ok = 0.0, True
    for m in metrics:
        for name, want, got in zip(ref["image"], ref[m], on_dev.set_index("image").loc[ref["image"], m]):
            diff = rel_diff(float(want), float(got))
            worst = max(worst, diff)
            ok &= diff <= REL
            rows.append({"kind": "check", "what": f"evaluate:{m}", "image": name, "scale": 4, "device": str(dev),
                         "numpy": repr(float(want)), "torch": repr(float(got)), "difference": f"{diff:.3g}",
                         "tolerance": REL, "ok": diff <= REL})
    return (f"loop check{note}: evaluate() of the bicubic baseline x4 on {dev} ({len(images)} images, "
            f"{t_dev:.2f} s with the inference and PNG writing) vs evaluate_folders() in NumPy ({t_np:.2f} s, "
            f"all cores): {'all equal' if ok else 'DIFFER'}, worst relative difference {worst:.2g}")


def environment(dev: torch.device) -> list[str]:
    lines = [f"date {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
             f"python {platform.python_version()} numpy {np.__version__} torch {torch.__version__} "
             f"cuda {torch.version.cuda}", f"cpus {os.cpu_count()} ({platform.processor() or platform.machine()})"]
    if dev.type == "cuda":
        lines.append(f"gpu {torch.cuda.get_device_name(dev)}")
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=10).stdout.strip()
        lines.append(f"commit {commit or 'unknown (no git)'}")
    except (OSError, subprocess.SubprocessError):
        lines.append("commit unknown (no git)")
    return lines


def main() -> int:
    out = Path(ARGS.out)
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device(ARGS.device)
    skipped = ""
    if dev.type == "cuda" and not torch.cuda.is_available():
        skipped = ("CUDA is not available: the CUDA checks and timings are SKIPPED; the same checks and timings run "
                   "with torch CPU tensors instead (this checks the script, not the GPU)")
        log(skipped)
        dev = torch.device("cpu")
        torch.set_num_threads(1)
    t_start = time.perf_counter()
    env = environment(dev)
    log("\n".join(env))
    images = load_images()
    rows: list[dict] = []
    log(f"(a) checks on {dev}: downscale / bicubic upscale every pixel, {', '.join(ON_DEVICE)} within {REL:g}")
    for name, hr in images:
        check_image(name, hr, dev, rows)
    loop = check_loop(images, dev, rows)
    log(loop)
    log(f"(b) timings on {images[0][0]} ({images[0][1].shape[1]}x{images[0][1].shape[0]}), min of {ARGS.repeat}")
    time_kernels(*images[0], dev, rows)
    with open(out / "gpu_eval_check.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    checks = [r for r in rows if r["kind"] == "check"]
    failed = [r for r in checks if not r["ok"]]
    metric_diffs = [float(r["difference"]) for r in checks if r["tolerance"] == REL]
    pixels_ok = all(r["ok"] for r in checks if r["tolerance"] == 0)
    failed_names = ", ".join("{what} {image} x{scale}".format(**r) for r in failed)
    sizes = ", ".join(f"{n} ({img.shape[1]}x{img.shape[0]})" for n, img in images)
    summary = [f"benchmarks/gpu_eval_check.py on {dev}" + (f": {skipped}" if skipped else ""), *env,
               f"images: {sizes}",
               f"checks: {len(checks) - len(failed)} of {len(checks)} passed" + (f"; FAILED: {failed_names}" if failed else ""),
               f"pixels: downscale and bicubic upscale x2/x3/x4 {'equal in every pixel' if pixels_ok else 'DIFFER'}",
               f"metrics: worst relative difference {max(metric_diffs):.3g} (tolerance {REL:g})", loop,
               f"timings (ms, {images[0][0]}): kernel, NumPy on 1 CPU thread, torch on {dev.type}, "
               "torch with transfers, speedup"]
    summary += [f"  {r['what']} x{r['scale']}: {r['numpy_cpu_1thread_ms']}, {r['torch_ms']}, "
                f"{r['torch_with_transfers_ms']}, {r['speedup']}x" for r in rows if r["kind"] == "time"]
    summary.append(f"total {time.perf_counter() - t_start:.1f} s")
    (out / "summary.txt").write_text("\n".join(summary) + "\n")
    log("\n".join(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
