"""The record that describes one metric (one column of the evaluation CSVs); see ``sisr.metrics.registry``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Metric:
    """One metric, described once; tables, figures, the weights check, the CLI and the workflow read it.

    name: the column name. fn: per image ``fn(sr_u8, hr_u8, scale) -> float``, or per set
    (``per_set=True``) ``fn(pairs, scale) -> float`` with ``pairs`` from ``sisr.base.pairing.pair_folders``
    (the function reads the images itself). higher_is_better: the direction of "better" (sorting,
    claims). decimals: how tables print it. label: axis label of figures. weights: the pretrained file it
    needs (a key of ``sisr.data.weights.WEIGHTS``), checked before an evaluation starts. protocol: ``standard``
    (docs/REFERENCE.md), or the study whose authors' protocol it reproduces. border: its third argument is
    the border it removes (``scale`` in the standard protocol; ``sisr evaluate --crop-border`` replaces it).
    on_device: ``fn`` also takes the images as uint8 torch tensors and then computes on their device, in
    float64, the same value within 1e-9 relative; an evaluation whose kernels run on a GPU passes it tensors
    there (``sisr.base.device.kernel_device``). min_images: the fewest images a per-set metric can be computed on
    (FID: 2, for a covariance); an evaluation capped to fewer images (a rehearsal's ``eval_images``) keeps this many.
    """

    name: str
    fn: Callable[..., float]
    per_set: bool = False
    higher_is_better: bool = True
    decimals: int = 4
    label: str = ""
    weights: str | None = None
    protocol: str = "standard"
    border: bool = False
    on_device: bool = False
    min_images: int = 1

    def fmt(self, value: float) -> str:
        return f"{value:.{self.decimals}f}"
