"""What the workflow hands a job: one resolved record, and the logging-only settings beside it.

``TrainJob`` is everything a training job needs besides its files, built once in ``rules/common.smk``
(:func:`train_job_record`) and passed as ONE rule param; ``EvalJob`` the same for an evaluation job (one model on
every evaluation set of its study: the model, the metric networks and torch load once per job, not per set).
A record travels as a plain dict (``to_param``): Snakemake's rerun check compares only params of builtin types
(a dataclass would be skipped as unrepresentable, so a changed setting would never rerun its job).

Logging-only settings (``progress_every_s``, ``tensorboard``) change what a job prints, not what it computes, so
they are no params (a param that changes reruns every job it belongs to): the workflow exports them as
environment variables while it parses (:func:`export_logging_settings`, ``rules/setup.smk``), every job process
inherits them (a cluster job parses the workflow again), and the job reads them (:func:`logging_settings`).

Imports nothing heavy: the workflow imports this module while it plans.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from sisr.base.errors import ConfigError
from sisr.base.paths import DEFAULT_DEGRADATION

PROGRESS_ENV, TENSORBOARD_ENV = "SISR_PROGRESS_EVERY_S", "SISR_TENSORBOARD"
DEFAULT_PROGRESS_EVERY_S = 60.0


@dataclass(frozen=True)
class TrainJob:
    """One training job, resolved: the run's settings (``sisr.config.studies.train_settings``) and how to run it.

    where: how messages name the run (``<study>.runs.<run>``). max_batches, valid_images: a rehearsal's caps
    (batches per epoch; validation on the first N images), None outside a rehearsal.
    """

    settings: Mapping[str, Any]
    where: str = "run"
    device: str = "auto"
    num_workers: int = 0
    weights_dir: str | None = None
    weights_checksums: Mapping[str, Any] = field(default_factory=dict)
    max_batches: int | None = None
    valid_images: int | None = None

    def to_param(self) -> dict[str, Any]:
        """The record as a plain dict: the form a Snakemake param must have to count for reruns."""
        return asdict(self)

    @classmethod
    def from_param(cls, param: Mapping[str, Any]) -> "TrainJob":
        return cls(**dict(param))


@dataclass(frozen=True)
class EvalSet:
    """One evaluation set of a job: how to read it (``sisr.data.datasets.get_dataset``) and its LR degradation."""

    dataset: str  # the dataset adapter
    split: str
    root: str
    label: str  # as tables print it: Set5, DIV2K-valid ...
    degradation: str = DEFAULT_DEGRADATION


@dataclass(frozen=True)
class EvalJob:
    """One evaluation job, resolved: a model (a baseline such as ``bicubic``, or a trained run whose checkpoint
    the job is given) on ``sets``, in order; the rule's outputs (a CSV and an SR folder per set) in the same order.

    in_channels: the study's (1: Y channel). device: ``cpu`` for a job without a GPU resource.
    max_images: a rehearsal's cap (config ``rehearsal: eval_images``): the first N images of each set, raised to
    what a per-set metric needs (``Metric.min_images``: FID 2); None outside a rehearsal: every image.
    """

    study: str
    run: str
    scale: int
    in_channels: int
    metrics: tuple[str, ...]
    sets: tuple[EvalSet, ...]
    tier: str
    device: str = "auto"
    weights_dir: str | None = None
    weights_checksums: Mapping[str, Any] = field(default_factory=dict)
    degradation_modules: tuple[str, ...] = ()
    max_images: int | None = None

    def to_param(self) -> dict[str, Any]:
        """The record as a plain dict (lists, not tuples: what Snakemake stores for its rerun check)."""
        param = asdict(self)
        param["metrics"] = list(self.metrics)
        param["sets"] = [asdict(s) for s in self.sets]
        param["degradation_modules"] = list(self.degradation_modules)
        if self.max_images is None:  # outside a rehearsal: the record Snakemake stored before the cap existed, so
            del param["max_images"]  # finished evaluations are not planned again for "Params have changed"
        return param

    @classmethod
    def from_param(cls, param: Mapping[str, Any]) -> "EvalJob":
        param = dict(param)
        return cls(**{**param, "metrics": tuple(param["metrics"]), "degradation_modules":
                      tuple(param.get("degradation_modules", ())), "sets": tuple(EvalSet(**s) for s in param["sets"])})


@dataclass(frozen=True)
class LoggingSettings:
    """How chatty a job is; nothing here changes a result."""

    progress_every_s: float = DEFAULT_PROGRESS_EVERY_S
    tensorboard: bool = False


def export_logging_settings(cfg: Mapping[str, Any], environ: dict[str, str] | None = None) -> None:
    """Put the workflow config's logging settings into the environment the jobs inherit."""
    environ = os.environ if environ is None else environ
    environ[PROGRESS_ENV] = repr(float(cfg.get("progress_every_s", DEFAULT_PROGRESS_EVERY_S)))
    environ[TENSORBOARD_ENV] = "1" if cfg.get("tensorboard") else "0"


def logging_settings(environ: Mapping[str, str] | None = None) -> LoggingSettings:
    """The logging settings the workflow exported (defaults where it did not: a job run by hand)."""
    environ = os.environ if environ is None else environ
    every = environ.get(PROGRESS_ENV, "")
    try:
        progress_every_s = float(every) if every else DEFAULT_PROGRESS_EVERY_S
    except ValueError:
        raise ConfigError(f"environment variable {PROGRESS_ENV}: {every!r} is not a number of seconds") from None
    return LoggingSettings(progress_every_s=progress_every_s,
                           tensorboard=environ.get(TENSORBOARD_ENV, "0") == "1")
