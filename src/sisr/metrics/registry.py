"""Every metric the evaluation can compute, one :class:`~sisr.metrics.spec.Metric` record each.

The records are written next to their functions (``standard.py``, ``perceptual.py``, ``protocols.py``:
adding a metric touches its file and its test) and collected here, in this order. Reading the registry
imports neither torch nor scikit-image (the workflow checks metric names and needed weights while it
plans the jobs); computing a perceptual metric does.

Imports run one way: ``spec`` <- metric files <- ``registry`` <- evaluation, tables, figures, CLI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from sisr.base.errors import SisrError
from sisr.base import suggest
from sisr.data import weights
from sisr.metrics import perceptual, protocols, standard
from sisr.metrics.spec import Metric

METRICS: dict[str, Metric] = {m.name: m for module in (standard, perceptual, protocols) for m in module.METRICS}
DEFAULT_METRICS = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb")


def get(name: str) -> Metric:
    """The record of ``name``; SisrError listing the valid names if there is none."""
    check_metric_names([name])
    return METRICS[name]


def check_metric_names(names: Sequence[str], where: str = "") -> None:
    """Raise SisrError (prefixed by ``where``) suggesting close names if any of ``names`` is unknown."""
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        prefix = f"{where}: " if where else ""
        raise SisrError(f"{prefix}{suggest.unknown('metric', unknown, sorted(METRICS))}")


def higher_is_better(name: str, default: bool = True) -> bool:
    """Direction of ``name``; ``default`` for columns that are not metrics (e.g. ``val_loss``: pass False)."""
    return METRICS[name].higher_is_better if name in METRICS else default


def label(name: str) -> str:
    """Axis label of a metric column (the name itself for other columns)."""
    return METRICS[name].label if name in METRICS else name


def weights_needed(names: Sequence[str]) -> list[str]:
    """The pretrained files (keys of ``sisr.data.weights.WEIGHTS``) that computing ``names`` needs, each once."""
    return list(dict.fromkeys(METRICS[m].weights for m in names if m in METRICS and METRICS[m].weights))


def check_weights(names: Sequence[str], *, cache: str | os.PathLike | None = None) -> dict[str, Path]:
    """Fail now if a metric in ``names`` lacks its pretrained file; point torch at the cache.

    Call at the start of an evaluation job, before computing anything. Metrics that need no weights are
    ignored. Returns ``{weights name: verified path}``; raises MissingWeightsError listing every missing
    file with the command that fetches it.
    """
    needed = weights_needed(names)
    paths = weights.require_all(needed, cache=cache)
    if needed:
        weights.use_cache(cache)
    return dict(zip(needed, paths))
