"""``pil_bicubic``: Pillow ``Image.BICUBIC`` downscaling of ``modcrop(hr, s)``, channel by channel.

The LR of the inverted_unet study's code (docs/STUDIES.md); about 55 dB from MATLAB's (docs/REFERENCE.md).
"""

from __future__ import annotations

import numpy as np

from sisr.degradations.spec import Degradation
from sisr.base.imresize import downscale, modcrop


def pil_bicubic(hr: np.ndarray, scale: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(PIL bicubic of modcrop(hr, s) to 1/s, modcrop(hr, s))``; ``rng`` is not used."""
    return downscale(hr, scale, method="pil"), modcrop(hr, scale)


DEGRADATION = Degradation("pil_bicubic", "Pillow bicubic downscaling", True, pil_bicubic)
