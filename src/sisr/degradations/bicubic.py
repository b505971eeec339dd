"""``bicubic``: MATLAB ``imresize(modcrop(hr, s), 1/s, 'bicubic')``, the standard LR of the SR benchmarks (BI).

Pixel-exact against the MATLAB-made LR of Set5 / Set14 (:func:`sisr.base.imresize.downscale`,
tests/test_reference_bicubic.py). A torch tensor is resized on its device, with the same pixels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sisr.degradations.spec import Degradation
from sisr.base.imresize import downscale, modcrop


def bicubic(hr: Any, scale: int, rng: np.random.Generator) -> tuple[Any, Any]:
    """``(imresize(modcrop(hr, s), 1/s, 'bicubic'), modcrop(hr, s))``; ``rng`` is not used."""
    return downscale(hr, scale, method="matlab"), modcrop(hr, scale)


DEGRADATION = Degradation("bicubic", "MATLAB bicubic downscaling (BI)", True, bicubic, on_device=True)
