"""The bicubic baseline on BD and DN LR images of Set5 / Set14 (x3), two ways of upsampling, beside the RDN table.

LR made by ``sisr.degradations`` from ``../shared/datasets/benchmark/<set>/HR``; upsampled by
- ``model``: the ``bicubic`` model (what ``sisr upscale --model bicubic`` runs: MATLAB weights in float, one
  quantisation at the end), or
- ``imresize_u8``: MATLAB ``imresize(lr, 3, 'bicubic')`` of the uint8 LR, rounded to uint8 between the passes;
scored with psnr / ssim on Y, border 3 (the standard protocol). A few seconds per set on a CPU.

    PYTHONPATH=src .venv/bin/python benchmarks/degradation_baselines.py [--data ../shared/datasets/benchmark] \
        [--seed 0] [--gray-as-rgb]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from sisr import degradations
from sisr.base.imresize import upscale
from sisr.training.inference import load_any_model, super_resolve
from sisr.base.io import read_image
from sisr.metrics import psnr, ssim

SCALE = 3
RDN_TABLE = {("bd", "Set5"): "28.78 / 0.8308", ("bd", "Set14"): "26.38 / 0.7271", ("dn", "Set5"): "24.01 / -"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"
                                                / "benchmark"))
    parser.add_argument("--seed", type=int, default=0, help="seed of the DN noise (default 0)")
    parser.add_argument("--gray-as-rgb", action="store_true",
                        help="repeat a gray HR (Set14 bridge) to 3 channels first, as RDN's Prepare_TestData_HR_LR.m")
    args = parser.parse_args()
    model = load_any_model("bicubic", scale=SCALE, in_channels=3, device="cpu").model
    print("degradation  set    upsampling   PSNR_Y   SSIM_Y   RDN table (Bicubic)")
    for name in ("bd", "dn"):
        for dataset in ("Set5", "Set14"):
            scores: dict[str, list[tuple[float, float]]] = {"model": [], "imresize_u8": []}
            for path in sorted((Path(args.data) / dataset / "HR").glob("*.png")):
                img = read_image(path, mode="any")
                if args.gray_as_rgb and img.ndim == 2:
                    img = np.repeat(img[:, :, None], 3, axis=2)
                lr, hr = degradations.get(name)(img, SCALE, seed=args.seed, image=path.stem)
                with torch.no_grad():
                    sr = {"model": super_resolve(model, lr, scale=SCALE, device="cpu"),
                          "imresize_u8": upscale(lr, SCALE)}
                for way, img in sr.items():
                    scores[way].append((psnr(img, hr, crop=SCALE), ssim(img, hr, crop=SCALE)))
            for way, values in scores.items():
                p, s = np.mean(values, axis=0)
                print(f"{name:<12} {dataset:<6} {way:<12} {p:7.4f}  {s:.5f}  {RDN_TABLE.get((name, dataset), '-')}")


if __name__ == "__main__":
    main()
