"""GPU-hour estimates of every training job of a study and tier, from measured step times (``sisr plan``).

For each run of the tier: the mode the engine will use on CUDA (``sisr.training.modes.resolve``), the measured
patches/s of that mode at the model's nearest measured shape (``modes.FASTEST``, measured on
``modes.MEASURED_ON``), scaled to the run's size by its work (parameters x batch x LR patch pixels: the measured
step time x run work / measured work), times the planned steps (epochs x batches per epoch, from the training
set's size). What the estimate leaves out, so real runs take longer: validation (each job's count is
printed; whole images, PSNR/SSIM computed on the CPU) and checkpoints, loss networks (VGG perceptual, LPIPS)
that the measured L1 step did not run, torch.compile's one-off compilation; GAN runs count the discriminator
phases at the generator phase's speed (measured 1.6x faster: an upper bound there). Early stopping can only
shorten a run. fp16 runs are estimated at the bf16 rate (not measured). A run whose model has no measurement
gets no estimate (its row says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from sisr.errors import ConfigError
from sisr.studies import load_study, train_settings

# Training images (or pre-cut pairs) per training set, as built by sisr.data (DIV2K: 800 train images; the
# derived sets: sisr.data.derived's docstring; T91: the 91 images of Yang et al.; skimage: the demo photographs).
TRAIN_IMAGES: dict[str, int] = {
    "div2k/train": 800, "rrdb_gan/train": 700, "residual_sweep/train": 7000, "inverted_unet/train": 3450,
    "t91/train": 91, "skimage/train": 6,
}


@dataclass(frozen=True)
class JobEstimate:
    """One training job: its planned steps, the mode it will train in, and the estimated GPU time."""

    study: str
    tier: str
    run: str
    model: str
    mode: str
    steps: int
    validations: int
    step_ms: float | None
    gpu_hours: float | None
    basis: str


def batches_per_epoch(cfg, images: int) -> int:
    """Batches in one epoch of ``cfg`` (a TrainConfig) over ``images`` training images (drop_last)."""
    kind, n = cfg.epoch_def.kind, cfg.epoch_def.n
    if kind == "iterations":
        return n
    samples = images * (n if kind == "patches_per_image" else 1)
    return max(samples // cfg.batch_size, 1)


def _mode_text(mode) -> str:
    on = [name for name in ("channels_last", "compile", "cuda_graph") if getattr(mode, name)]
    return "+".join([mode.amp if mode.amp != "off" else "fp32"] + on)


def estimate_step(cfg) -> tuple[str, float | None, str]:
    """(mode, seconds per step or None, basis) of ``cfg`` on the measured card."""
    from sisr.models import count_parameters, create_model
    from sisr.training.modes import nearest, resolve

    with torch.device("meta"):  # parameter count without allocating the weights
        model = create_model(cfg.model, scale=cfg.scale, in_channels=cfg.in_channels, **cfg.model_args)
    work = count_parameters(model) * cfg.batch_size * cfg.patch_size**2
    mode = resolve(cfg, torch.device("cuda"), work=work, log=lambda _m: None)
    row = nearest(cfg.model, work, cfg.gan is not None)
    if row is None:
        return _mode_text(mode), None, f"no measurement of {cfg.model}"
    same = [v for m, v in row.modes if (m.amp, m.channels_last, m.compile, m.cuda_graph) ==
            (mode.amp, mode.channels_last, mode.compile, mode.cuda_graph)]
    amp = "bf16" if mode.amp == "fp16" else mode.amp
    alike = [v for m, v in row.modes if m.amp == amp]
    speed = same[0] if same else (alike[0] if alike else row.modes[0][1])
    basis = f"{row.shape}: {speed:,.0f} patches/s" + ("" if same else " (nearest measured mode)")
    # the measured step time (its batch / patches per second), scaled by the run's work over the measured work
    return _mode_text(mode), (work / row.work) * row.batch / speed, basis


def plan(study_files: Sequence[str | Path], tier: str) -> list[JobEstimate]:
    """Estimates for every run of every study file at ``tier`` (studies without that tier are skipped)."""
    from sisr.training import TrainConfig

    jobs = []
    for path in study_files:
        try:
            study = load_study(path, tier)
        except ConfigError as exc:
            if "has no tier" in str(exc):
                continue
            raise
        train_set = f"{study.train_data.dataset}/{study.train_data.split}"
        if train_set not in TRAIN_IMAGES:
            raise ConfigError(f"{path}: tier {tier}: training set {train_set!r} has no known size for the plan; "
                              f"known: {', '.join(TRAIN_IMAGES)}")
        for run, settings in study.runs.items():
            cfg = TrainConfig.from_dict(train_settings(settings), where=f"{path}: runs.{run}")
            steps = cfg.epochs * batches_per_epoch(cfg, TRAIN_IMAGES[train_set])
            mode, seconds, basis = estimate_step(cfg)
            hours = None if seconds is None else steps * seconds / 3600
            validations = cfg.epochs // cfg.val_every + (cfg.epochs % cfg.val_every != 0)
            jobs.append(JobEstimate(study.name, tier, run, cfg.model, mode, steps, validations,
                                    None if seconds is None else 1000 * seconds, hours, basis))
    return jobs


def epoch_seconds(study_file: str | Path, tier: str, run: str) -> float:
    """Estimated GPU seconds of one epoch of ``run`` (batches per epoch x the step time of :func:`estimate_step`:
    the measured training step, without validation or a loss network); ConfigError where nothing was measured."""
    from sisr.training import TrainConfig

    study = load_study(study_file, tier)
    if run not in study.runs:
        raise ConfigError(f"{study_file}: tier {tier} has no run {run!r}")
    cfg = TrainConfig.from_dict(train_settings(study.runs[run]), where=f"{study_file}: runs.{run}")
    _, seconds, basis = estimate_step(cfg)
    if seconds is None:
        raise ConfigError(f"{study_file}: runs.{run}: {basis}: no step time to plan with")
    return batches_per_epoch(cfg, TRAIN_IMAGES[f"{study.train_data.dataset}/{study.train_data.split}"]) * seconds


def equal_cost_epochs(study_file: str | Path, tier: str, reference: str, run: str) -> int:
    """Epochs of ``run`` that take the GPU time of ``reference``'s epochs on the measured card (modes.MEASURED_ON):
    ``round(reference epochs x its epoch seconds / run's epoch seconds)``, both from :func:`epoch_seconds`."""
    study = load_study(study_file, tier)
    budget = study.runs[reference]["epochs"] * epoch_seconds(study_file, tier, reference)
    return max(1, round(budget / epoch_seconds(study_file, tier, run)))


def format_plan(jobs: Sequence[JobEstimate]) -> str:
    """The per-job table, then the total per study and the grand total (what ``sisr plan`` prints)."""
    from sisr.training.modes import MEASURED_ON

    lines = [f"# estimated training GPU-hours on {MEASURED_ON.split(' (')[0]} (step times measured there). Not "
             "included: the validations (column 'val'; full images, metrics on the CPU), loss networks (VGG, "
             "LPIPS), compilation; see sisr.plan",
             f"{'study':<15} {'tier':<6} {'run':<30} {'model':<18} {'mode':<30} {'steps':>9} {'val':>4} "
             f"{'ms/step':>9} {'GPU-h':>8}  basis"]
    for j in jobs:
        ms = f"{j.step_ms:9.2f}" if j.step_ms is not None else f"{'-':>9}"
        hours = f"{j.gpu_hours:8.3f}" if j.gpu_hours is not None else f"{'-':>8}"
        lines.append(f"{j.study:<15} {j.tier:<6} {j.run:<30} {j.model:<18} {j.mode:<30} {j.steps:>9,} "
                     f"{j.validations:>4} {ms} {hours}  {j.basis}")
    lines.append("")
    for (study, tier) in dict.fromkeys((j.study, j.tier) for j in jobs):
        mine = [j for j in jobs if (j.study, j.tier) == (study, tier)]
        lines.append(f"total {study} ({tier}): {_hours(mine)} GPU-hours, {len(mine)} training jobs")
    lines.append(f"total ({', '.join(dict.fromkeys(j.tier for j in jobs))}): {_hours(jobs)} GPU-hours, "
                 f"{len(jobs)} training jobs")
    return "\n".join(lines)


def _hours(jobs: Sequence[JobEstimate]) -> str:
    known = [j.gpu_hours for j in jobs if j.gpu_hours is not None]
    text = f"{sum(known):.2f}"
    missing = len(jobs) - len(known)
    return text + (f" (+ {missing} jobs without a measurement)" if missing else "")


def study_files(studies_dir: str | Path, names: Sequence[str] | None) -> list[Path]:
    """``studies_dir/<name>.yaml`` for ``names`` (None or ["all"]: every study file there)."""
    folder = Path(studies_dir)
    if not names or list(names) == ["all"]:
        files = sorted(folder.glob("*.yaml"))
        if not files:
            raise ConfigError(f"{folder}: no study files (*.yaml)")
        return files
    return [folder / f"{n}.yaml" for n in names]
