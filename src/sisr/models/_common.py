"""Small helpers shared by the model files (the argument checks are in ``_checks``, re-exported here)."""

from __future__ import annotations

import torch

from sisr.base.imresize import imresize_torch
from sisr.models._checks import _is_int, check_in_channels, check_positive, check_scale  # noqa: F401

# Upsampling stages of the models that grow the image step by step (sub-pixel or nearest + conv):
# x2 and x4 use x2 stages, x3 one x3 stage (as EDSR and SRGAN implementations do).
UPSAMPLING_STEPS: dict[int, tuple[int, ...]] = {2: (2,), 3: (3,), 4: (2, 2)}


def matlab_resize(x: torch.Tensor, scale: int, kernel: str = "cubic") -> torch.Tensor:
    """:func:`sisr.base.imresize.imresize_torch` (MATLAB weights, differentiable), kept out of
    ``torch.compile`` graphs: its weight matrices are built with numpy, which dynamo cannot trace.
    The two matmuls run eagerly; the rest of the model compiles (one graph break).
    (The compiler's ``disable`` is applied only while compiling: importing dynamo costs seconds of CPU, which
    every evaluation job of a bicubic-based model paid.)"""
    if torch.compiler.is_compiling():
        return _eager_resize()(x, scale, kernel=kernel)
    return imresize_torch(x, scale, kernel=kernel)


_EAGER_RESIZE = None


def _eager_resize():
    global _EAGER_RESIZE
    if _EAGER_RESIZE is None:
        _EAGER_RESIZE = torch.compiler.disable(imresize_torch)
    return _EAGER_RESIZE
