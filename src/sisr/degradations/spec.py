"""The :class:`Degradation` record: how an LR image is made from an HR image (one per file in this package)."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from sisr.base.device import is_tensor
from sisr.base.errors import SisrError

# (hr, scale, rng) -> (lr, the HR crop the LR corresponds to)
DegradeFn = Callable[[Any, int, np.random.Generator], "tuple[Any, Any]"]

_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")  # the name goes into file and folder names


def image_rng(seed: int, image: str) -> np.random.Generator:
    """The generator of one image: from ``seed`` and the image's name (CRC-32), so that an image's noise does not
    depend on which images came before it."""
    return np.random.default_rng([int(seed), zlib.crc32(image.encode("utf-8"))])


@dataclass(frozen=True)
class Degradation:
    """An LR degradation.

    name: lower-case identifier (``[a-z][a-z0-9_]*``), used in commands, config and paths.
    description: one line for captions and ``--help``.
    deterministic: False when ``function`` draws from its generator (noise); its output then depends on
        ``seed`` and the image name.
    function: ``(hr, scale, rng) -> (lr, hr_crop)``; ``hr`` uint8 ``H x W`` or ``H x W x C``; ``lr`` uint8 of
        ``hr_crop``'s size divided by ``scale``; ``hr_crop`` the part of ``hr`` the LR stands for (usually
        ``modcrop(hr, scale)``).
    on_device: ``function`` also takes a torch tensor and computes on its device (the same pixels).
    """

    name: str
    description: str
    deterministic: bool
    function: DegradeFn
    on_device: bool = False

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise SisrError(f"degradation name {self.name!r}: expected lower-case letters, digits and _ "
                            f"(it names files and folders)")
        if not self.description.strip() or "\n" in self.description:
            raise SisrError(f"degradation {self.name!r}: the description must be one non-empty line")

    def __call__(self, hr: Any, scale: int, *, seed: int = 0, image: str = "") -> tuple[Any, Any]:
        """``(lr, hr_crop)`` of ``hr`` at ``scale``; ``seed`` and ``image`` (the image's name, usually the HR
        file's stem) choose the noise of a non-deterministic degradation."""
        if int(scale) != scale or scale < 1:
            raise SisrError(f"degradation {self.name}: scale must be a positive integer, got {scale}")
        if hr.ndim not in (2, 3):
            raise SisrError(f"degradation {self.name}: expected an H x W or H x W x C image, got shape "
                            f"{tuple(hr.shape)}")
        if is_tensor(hr) and not self.on_device:
            raise SisrError(f"degradation {self.name}: takes a numpy array, not a torch tensor")
        if not is_tensor(hr) and hr.dtype != np.uint8:
            raise SisrError(f"degradation {self.name}: expected a uint8 image, got {hr.dtype}")
        if min(hr.shape[:2]) < scale:
            raise SisrError(f"degradation {self.name}: image {hr.shape[1]}x{hr.shape[0]} is smaller than the "
                            f"scale {scale}")
        return self.function(hr, int(scale), image_rng(seed, image))

    def lr(self, hr: Any, scale: int, *, seed: int = 0, image: str = "") -> Any:
        """The LR image alone (see :meth:`__call__`)."""
        return self(hr, scale, seed=seed, image=image)[0]
