"""``dn``: MATLAB bicubic downscaling, then Gaussian noise of sigma 30 (DN), as the RDN authors make their DN data.

Source: ``RDN_TestCode/Prepare_TestData_HR_LR.m`` of github.com/yulunzhang/RDN (Zhang et al. 2018), function
``imresize_DN``: ``imresize(modcrop(hr, s), 1/s, 'bicubic')`` (uint8), converted to ``single``, plus
``single(30 * randn(size))`` (independent noise per pixel and channel, on the 0-255 scale), then ``uint8``
(rounded half away from zero, clipped to 0..255). The file seeds MATLAB's legacy generator with 0 for each test
image; that noise cannot be drawn here, so ours comes from NumPy's generator seeded by the seed and the image
name (:func:`sisr.degradations.spec.image_rng`): the same pixels for the same image whatever the order.
"""

from __future__ import annotations

import numpy as np

from sisr.degradations.spec import Degradation
from sisr.base.imresize import downscale, modcrop

SIGMA = 30.0


def add_noise(lr: np.ndarray, rng: np.random.Generator, sigma: float = SIGMA) -> np.ndarray:
    """``uint8(single(lr) + single(sigma * randn))``: float32 sum, rounded half away from zero, clipped."""
    noisy = lr.astype(np.float32) + (sigma * rng.standard_normal(lr.shape)).astype(np.float32)
    return np.clip(np.floor(noisy + np.float32(0.5)), 0, 255).astype(np.uint8)


def bicubic_noise(hr: np.ndarray, scale: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(add_noise(MATLAB bicubic LR), modcrop(hr, s))``."""
    return add_noise(downscale(hr, scale, method="matlab"), rng), modcrop(hr, scale)


DEGRADATION = Degradation("dn", "MATLAB bicubic downscaling then Gaussian noise, sigma 30 (DN, RDN's)", False,
                          bicubic_noise)
