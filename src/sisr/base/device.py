"""The one place that turns a device setting (``auto``, ``cpu``, ``cuda``, ``cuda:1``) into a torch device,
and that chooses where the evaluation kernels run (:func:`kernel_device`).

``auto`` is the device set for this process with :func:`set_default` (an evaluation job without a GPU
resource sets ``cpu``, so that neither its model nor its LPIPS/FID networks touch a GPU), else CUDA when
available, else the CPU. ``cuda`` without CUDA falls back to the CPU with a warning.
"""

from __future__ import annotations

import sys
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is imported inside the functions that use it: the workflow's dry run loads this module
    import torch

_DEFAULT: str | None = None


def set_default(device: str | None) -> None:
    """What ``auto`` means in this process from now on (None: CUDA when available, else CPU)."""
    global _DEFAULT
    _DEFAULT = None if device in (None, "auto") else str(device)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` (see the module docstring), or the named device; ``cuda`` without CUDA -> CPU with a warning."""
    import torch  # deferred: torch; the workflow's dry run imports this module

    name = str(device)
    if name == "auto" and _DEFAULT is not None:
        name = _DEFAULT
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        warnings.warn(f"device {name!r} requested but CUDA is not available: using the CPU", stacklevel=2)
        return torch.device("cpu")
    return torch.device(name)


def synchronize(device: str | torch.device) -> None:
    """Wait for the GPU's queued work (before reading a clock); nothing on the CPU."""
    import torch  # deferred: torch; the workflow's dry run imports this module

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def kernel_device(device: str | torch.device | None) -> torch.device | None:
    """Where the evaluation kernels (MATLAB imresize, PSNR / SSIM / MS-SSIM / MSE) run in an evaluation on
    ``device`` (the job's device): that device when it is a CUDA device (torch, float64), None for any other or
    for None (NumPy on the CPU, the fastest there). The one place that decides; ``sisr.evaluation.evaluate``
    asks it once. Both give the same pixels and values (tests/test_kernels_torch.py)."""
    if device is None:
        return None
    dev = resolve_device(device)
    return dev if dev.type == "cuda" else None


def is_tensor(x: Any) -> bool:
    """Whether ``x`` is a torch tensor (without importing torch: a process that never imported it has none)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def upload(img: np.ndarray, device: torch.device) -> torch.Tensor:
    """A numpy image as a tensor on ``device`` (same shape and dtype; copied, so a read-only array is fine)."""
    import torch  # deferred: torch; the workflow's dry run imports this module

    return torch.from_numpy(np.array(img, copy=True)).to(device)
