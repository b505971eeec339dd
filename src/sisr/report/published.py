"""Published PSNR/SSIM numbers (standard protocol: Y channel, border = scale, MATLAB bicubic LR), quoted.

Source: shared/docs/REFERENCE.md, which cites the RCAN paper's table (Bicubic, SRCNN, VDSR, EDSR, RCAN), the
EDSR paper (A+), the SwinIR and ESRGAN READMEs, and Ledig et al. 2017 (SRResNet). Every value here is a
quotation, never a result of this workflow; the leaderboard marks such rows ``source = published``.
"""

from __future__ import annotations

import pandas as pd

SETS = ("Set5", "Set14", "B100", "Urban100")

# method (training set): {scale: (PSNR/SSIM per set in SETS order; None = not published)}
PUBLISHED: dict[str, dict[int, tuple]] = {
    "Bicubic": {2: ((33.66, .9299), (30.24, .8688), (29.56, .8431), (26.88, .8403)),
                3: ((30.39, .8678), (27.53, .7737), None, None),
                4: ((28.42, .8104), (26.00, .7027), (25.96, .6675), (23.14, .6577))},
    "A+": {2: ((36.54, .9544), (32.28, .9056), (31.21, .8863), (29.20, .8938)),
           4: ((30.28, .8603), (27.32, .7491), (26.82, .7087), (24.32, .7183))},
    "SRCNN": {2: ((36.66, .9542), (32.45, .9067), (31.36, .8879), (29.50, .8946)),
              4: ((30.48, .8628), (27.50, .7513), (26.90, .7101), (24.52, .7221))},
    "ESPCN (ImageNet, tanh)": {3: ((33.13, None), (29.49, None), None, None),
                               4: ((30.90, None), (27.73, None), None, None)},
    "ESPCN (T91, ReLU)": {3: ((32.55, None), None, None, None)},
    "VDSR": {2: ((37.53, .9590), (33.05, .9130), (31.90, .8960), (30.77, .9140)),
             4: ((31.35, .8830), (28.02, .7680), (27.29, .7260), (25.18, .7540))},
    "SRResNet (ImageNet)": {4: ((32.05, .9019), (28.49, .8184), (27.58, .7620), None)},
    "EDSR (DIV2K)": {2: ((38.11, .9602), (33.92, .9195), (32.32, .9013), (32.93, .9351)),
                     4: ((32.46, .8968), (28.80, .7876), (27.71, .7420), (26.64, .8033))},
    "RRDB, ESRGAN-PSNR (DF2K)": {4: ((32.73, .9011), (28.99, .7917), (27.85, .7455), (27.03, .8153))},
    "RCAN (DIV2K)": {2: ((38.27, .9614), (34.12, .9216), (32.41, .9027), (33.34, .9384)),
                     4: ((32.63, .9002), (28.87, .7889), (27.77, .7436), (26.82, .8087))},
    "SwinIR (DF2K)": {2: ((38.42, .9623), (34.46, .9250), (32.53, .9041), (33.81, .9427)),
                      4: ((32.92, .9044), (29.09, .7950), (27.92, .7489), (27.45, .8254))},
}


def published_table() -> pd.DataFrame:
    """Long table: method, dataset, scale, psnr_y, ssim_y, source='published'."""
    rows = []
    for method, by_scale in PUBLISHED.items():
        for scale, values in by_scale.items():
            for dataset, value in zip(SETS, values):
                if value is None:
                    continue
                psnr, ssim = value
                rows.append({"method": method, "dataset": dataset, "scale": scale, "psnr_y": psnr,
                             "ssim_y": ssim, "source": "published"})
    return pd.DataFrame(rows)
