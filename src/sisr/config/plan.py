"""What a tier costs before it runs (``sisr plan``): hours per job, study and tier, downloads, data and checkpoints.

The model (what is measured, what is assumed):

- **Step time** is a function of the step's work F = multiply-adds of one forward pass over one LR patch (counted
  with torch's FlopCounterMode on the meta device: nothing is allocated or computed) x batch. Per model family,
  GAN or not, and precision (float32 or 16-bit), the measured steps are anchors (F_i, t_i); t(F) is
  interpolated linearly in log-log between neighbouring anchors, is flat below the smallest (small steps are
  bound by overhead, not arithmetic) and grows in proportion to F above the largest (compute-bound). Anchor
  times are made non-decreasing in F first, so t(F) is **monotone in F** within a family and precision. The
  anchors: either the table measured on an H200 (``sisr.training.modes.FASTEST``, ``MEASURED_ON``: each shape's
  fastest mode of that precision, which is what the engine picks there) or this machine's own probe
  (``sisr plan --calibrate``, sisr.config.calibrate), cached per device and torch version.
- **Training** = epochs x batches per epoch (training-set sizes: ``TRAIN_IMAGES``) x t(F). fp16 runs use the
  16-bit (bf16) anchors; GAN runs use the GAN generator phase's anchor for every phase (the measured
  discriminator phase is faster: an upper bound there). Loss networks (VGG, LPIPS) are not in the anchors.
- **Validation** = validations x images x (forward + metrics). Forward = t(F of the whole LR image) / 3 (a
  training step is one forward and a backward of about twice its cost: assumed); PSNR-Y + SSIM-Y on the CPU at
  ``VAL_METRIC_S_PER_MP`` (measured: docs/BENCHMARKS.md, one thread, 2040 x 1356). Image counts and sizes:
  ``IMAGES``.
- **Warm-up** per job: ``START_S`` (a fresh process's CUDA start-up, on CUDA) + the mode's warm-up (``WARMUP_S``:
  median of the measured ``warmup_s`` of the H200 table's rows per kind: eager, CUDA graph, torch.compile); a
  calibration uses the warm-up its probe measured (+ ``WARMUP_S["compile"]`` for a compiled mode, probed eager).
- **Evaluation jobs**: every trained run and baseline on each evaluation set (and the leaderboard's sets, as the
  workflow adds them), plus each run's kept checkpoints on the validation set: images x (forward + decoding and
  four metrics at ``EVAL_CPU_S_PER_MP``, measured). Metrics with networks (LPIPS, FID) are not modelled.
- **Disk**: archives from the catalogue (``sisr.data.sources``; sizes not published there are named), extracted
  data assumed the archives' size (measured 2.58 -> 2.57 GB in the DIV2K rehearsal), training and validation
  caches as uint8 pixels (HR + LR), checkpoints as float32 parameters: best 1x, each kept epoch 1x,
  ``checkpoint_last.pt`` the weights, the best weights' copy and the optimizer state (Adam: 2x), only the two
  copies of weights when the run drops its optimizer state at the end (``keep_optimizer_state: false``).
Not modelled: data preparation, data loading stalls, the scheduler's queueing, early stopping (only shortens).
"""

from __future__ import annotations

import bisect
import csv
import functools
import io
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Sequence

import torch
from torch.utils.flop_counter import FlopCounterMode

from sisr.config import catalog
from sisr.data.sources import ARCHIVES
from sisr.base.errors import ConfigError
from sisr.base.io import atomic_write
from sisr.config.studies import DatasetRef, Study, load_study, train_settings
from sisr.models import count_parameters, create_model
from sisr.training.config import TrainConfig
from sisr.training.modes import FASTEST, MEASURED_ON, resolve

# Training images (or pre-cut pairs) per training set, as built by sisr.data (DIV2K: 800 train images; the
# derived sets: sisr.data.derived's docstring; T91: the 91 images of Yang et al.; skimage: the demo photographs).
TRAIN_IMAGES: dict[str, int] = {
    "div2k/train": 800, "rrdb_gan/train": 700, "residual_sweep/train": 7000, "inverted_unet/train": 3450,
    "t91/train": 91, "skimage/train": 6,
}
# dataset/split -> (images, HR megapixels per image, where the size comes from)
IMAGES: dict[str, tuple[int, float, str]] = {
    "div2k/train": (800, 2.77, "DIV2K rehearsal cache: 7.06 GB / (800 x 3 x 1.0625)"),
    "div2k/valid": (100, 2.77, "DIV2K rehearsal cache: 0.88 GB / (100 x 3 x 1.0625)"),
    "benchmark/Set5": (5, 0.113, "measured on /work/shared/datasets"),
    "benchmark/Set14": (14, 0.230, "measured on /work/shared/datasets"),
    "benchmark/B100": (100, 0.154, "481 x 321 each (BSD100)"),
    "benchmark/Urban100": (100, 0.79, "assumed: 1024 px long side"),
    "rrdb_gan/train": (700, 0.69, "DIV2K halved"), "rrdb_gan/valid": (100, 0.69, "DIV2K halved"),
    "rrdb_gan/test": (100, 0.69, "DIV2K halved"),
    "residual_sweep/train": (7000, 0.016, "128 x 128 tiles"), "residual_sweep/valid": (1250, 0.016, "tiles"),
    "residual_sweep/test": (500, 0.016, "tiles"),
    "inverted_unet/train": (3450, 0.262, "512 x 512"), "inverted_unet/valid": (100, 0.262, "512 x 512"),
    "t91/train": (91, 0.059, "measured on /work/shared/datasets"),
    "skimage/train": (6, 0.25, "assumed"), "skimage/valid": (3, 0.25, "assumed"),
}
START_S = 3.8  # T91 on the H200: first epoch 4.1 s on a fresh machine against 0.35 s per epoch after
WARMUP_S = {"eager": 0.72, "cuda_graph": 0.32, "compile": 9.39}  # medians of warmup_s, h200_2026-11-26
VAL_METRIC_S_PER_MP = 0.0205  # psnr_y 6.1 ms + ssim_y 50.8 ms on 2040 x 1356, one thread (BENCHMARKS.md)
EVAL_CPU_S_PER_MP = 0.134  # sisr evaluate, 4 metrics: 370 ms CPU per DIV2K pair incl. PNG decoding
# Sizes the catalogue does not have: docs/DATA_SOURCES.md says "about 250 MB" for benchmark.tar; Flickr2K: none.
QUOTED_SIZES = {"benchmark.tar": 250_000_000}


@dataclass(frozen=True)
class Anchor:
    """One measured step: model family, GAN or not, precision class ("off" or "bf16"), work and seconds."""

    model: str
    gan: bool
    amp: str
    macs: float           # multiply-adds of the step's forward (per LR patch x batch)
    seconds: float        # one training step
    label: str
    warmup_s: float | None = None


@dataclass(frozen=True)
class Basis:
    """Where the step times come from: anchors, the device type they were measured on, and a label."""

    label: str
    device: str
    anchors: tuple[Anchor, ...]
    source: str = ""  # the calibration file, when the anchors come from one

    def rows(self, model: str, gan: bool, amp: str) -> tuple[list[Anchor], str]:
        """The anchors for a run, and a note when they are not of its exact kind."""
        for g, a, note in ((gan, amp, ""), (gan, _other(amp), " (other precision)"),
                           (False, amp, " (no GAN anchor)"), (False, _other(amp), " (no GAN anchor)")):
            found = [x for x in self.anchors if (x.model, x.gan, x.amp) == (model, g, a)]
            if found:
                return found, note
        return [], ""

    def step_seconds(self, model: str, gan: bool, amp: str, macs: float) -> tuple[float | None, str]:
        """(seconds of a step of ``macs`` multiply-adds, basis text); None without an anchor of ``model``."""
        rows, note = self.rows(model, gan, amp)
        if not rows:
            return None, f"no measurement of {model}"
        seconds, near = interpolate([(r.macs, r.seconds) for r in rows], macs)
        label = min(rows, key=lambda r: abs(math.log(r.macs / max(macs, 1.0)))).label
        return seconds, f"{near} {label}{note}"


def _other(amp: str) -> str:
    return "off" if amp != "off" else "bf16"


def interpolate(points: Sequence[tuple[float, float]], x: float) -> tuple[float, str]:
    """t(x) through the anchors ``points`` (x, t): monotone non-decreasing in x (see the module docstring)."""
    xs: list[float] = []
    ts: list[float] = []
    for px, pt in sorted(points):
        if xs and px == xs[-1]:
            ts[-1] = max(ts[-1], pt)
            continue
        xs.append(px)
        ts.append(max(pt, ts[-1]) if ts else pt)
    if x <= xs[0]:
        return ts[0], "at/below" if len(xs) == 1 or x < xs[0] else "at"
    if x >= xs[-1]:
        return ts[-1] * x / xs[-1], "above"
    i = bisect.bisect_right(xs, x)
    w = math.log(x / xs[i - 1]) / math.log(xs[i] / xs[i - 1])
    return math.exp((1 - w) * math.log(ts[i - 1]) + w * math.log(ts[i])), "between"


@functools.lru_cache(maxsize=None)
def macs_per_patch(model: str, scale: int, in_channels: int, args: tuple, patch: int) -> float:
    """Multiply-adds of one forward pass of ``model`` over one LR patch (``patch`` x ``patch``), on meta tensors."""
    with torch.device("meta"):
        net = create_model(model, scale=scale, in_channels=in_channels, **dict(args))
        x = torch.empty(1, in_channels, patch, patch)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            net(x)
    return counter.get_total_flops() / 2


@functools.lru_cache(maxsize=None)
def parameters(model: str, scale: int, in_channels: int, args: tuple) -> int:
    """Parameters of ``model`` (counted on the meta device)."""
    with torch.device("meta"):
        return count_parameters(create_model(model, scale=scale, in_channels=in_channels, **dict(args)))


def _args(d: dict) -> tuple:
    return tuple(sorted((k, v if not isinstance(v, list) else tuple(v)) for k, v in d.items()))


def table_basis() -> Basis:
    """The anchors of the H200 table (``sisr.training.modes.FASTEST``)."""
    anchors = []
    for model, rows in FASTEST.items():
        for row in rows:
            macs = macs_per_patch(model, row.scale, row.in_channels, row.args, row.patch) * row.batch
            for amp in ("off", "bf16"):
                speed = next((v for m, v in row.modes if m.amp == amp), None)
                if speed is not None:
                    anchors.append(Anchor(model, row.gan, amp, macs, row.batch / speed, row.shape))
    return Basis(f"table: {MEASURED_ON.split(' (')[0]} (sisr.training.modes.FASTEST)", "cuda", tuple(anchors))


@dataclass(frozen=True)
class JobEstimate:
    """One training job: schedule, mode, step time, hours and checkpoint bytes."""

    study: str
    tier: str
    run: str
    model: str
    mode: str
    replica_of: str | None
    params: int
    macs_per_step: float
    steps: int
    validations: int
    step_ms: float | None
    train_hours: float | None
    job_hours: float | None
    warmup_s: float
    basis: str
    checkpoint_bytes: int
    optimizer_bytes: int      # the optimizer state in checkpoint_last.pt (0 counted when dropped at the end)
    drops_optimizer: bool

    @property
    def gpu_hours(self) -> float | None:  # the training part (kept for older callers)
        return self.train_hours


@dataclass
class StudyPlan:
    """One study at one tier: its training jobs, its evaluation work and its data."""

    study: Study
    jobs: list[JobEstimate]
    eval_jobs: int = 0
    eval_gpu_hours: float = 0.0
    eval_cpu_hours: float = 0.0
    refs: set = field(default_factory=set)   # (DatasetRef, scale, channels) it trains or validates on
    archives: set = field(default_factory=set)

    @property
    def replicas(self) -> int:
        return sum(1 for j in self.jobs if j.replica_of)


def batches_per_epoch(cfg, images: int) -> int:
    """Batches in one epoch of ``cfg`` (a TrainConfig) over ``images`` training images (drop_last)."""
    kind, n = cfg.epoch_def.kind, cfg.epoch_def.n
    if kind == "iterations":
        return n
    samples = images * (n if kind == "patches_per_image" else 1)
    return max(samples // cfg.batch_size, 1)


def mode_text(mode) -> str:
    """Short text of a training mode: bf16+cl+graph."""
    on = [short for name, short in (("channels_last", "cl"), ("compile", "compile"), ("cuda_graph", "graph"))
          if getattr(mode, name)]
    return "+".join([mode.amp if mode.amp != "off" else "fp32"] + on)


def _images(ref: DatasetRef, where: str) -> tuple[int, float]:
    key = str(ref)
    if key not in IMAGES:
        raise ConfigError(f"{where}: data {key!r} has no known image count and size for the plan; known: "
                          f"{', '.join(IMAGES)}")
    return IMAGES[key][:2]


def forward_seconds(basis: Basis, cfg, amp: str, megapixels: float) -> float:
    """One forward pass of ``cfg``'s model over a whole image of ``megapixels`` (HR), one third of a step."""
    lr_pixels = megapixels * 1e6 / cfg.scale**2
    macs = macs_per_patch(cfg.model, cfg.scale, cfg.in_channels, _args(cfg.model_args), cfg.patch_size)
    seconds, _ = basis.step_seconds(cfg.model, False, amp, macs / cfg.patch_size**2 * lr_pixels)
    return (seconds or 0.0) / 3


def checkpoint_bytes(cfg, params: int) -> tuple[int, int]:
    """(bytes of every checkpoint of a finished run, bytes of its optimizer state in checkpoint_last.pt)."""
    moments = 2 if "adam" in cfg.optimizer.name.lower() else 1
    d_params = 0
    if cfg.gan is not None:
        d_params = parameters(cfg.gan.discriminator, cfg.scale, cfg.in_channels, _args(cfg.gan.discriminator_args))
    kept = sum(1 for e in cfg.keep_checkpoints if e <= cfg.epochs)
    weights = 4 * params * (1 + 2 + kept) + 4 * d_params  # best, last (+ its best copy), kept; discriminator
    optimizer = 4 * moments * (params + d_params)
    return weights, optimizer


def estimate_job(study: Study, run: str, settings: dict, basis: Basis, where: str) -> JobEstimate:
    """The estimate of one training job (see the module docstring for the model)."""
    clean = train_settings(settings)  # without resources and replica_of
    cfg = TrainConfig.from_dict(clean, where=f"{where}: runs.{run}")
    train_set = str(study.train_data)
    if train_set not in TRAIN_IMAGES:
        raise ConfigError(f"{where}: tier {study.tier}: training set {train_set!r} has no known size for the plan; "
                          f"known: {', '.join(TRAIN_IMAGES)}")
    args = _args(cfg.model_args)
    params = parameters(cfg.model, cfg.scale, cfg.in_channels, args)
    macs = macs_per_patch(cfg.model, cfg.scale, cfg.in_channels, args, cfg.patch_size) * cfg.batch_size
    mode = resolve(cfg, torch.device(basis.device), work=params * cfg.batch_size * cfg.patch_size**2,
                   log=lambda _m: None)
    if basis.device != "cuda":  # mixed precision is ignored off CUDA (sisr.training.engine.resolve_amp)
        mode = replace(mode, amp="off")
    amp = "off" if mode.amp == "off" else "bf16"
    step, text = basis.step_seconds(cfg.model, cfg.gan is not None, amp, macs)
    steps = cfg.epochs * batches_per_epoch(cfg, TRAIN_IMAGES[train_set])
    validations = cfg.epochs // cfg.val_every + (cfg.epochs % cfg.val_every != 0)
    n_valid, mp_valid = _images(study.valid_data, where)
    rows, _ = basis.rows(cfg.model, cfg.gan is not None, amp)
    measured = [r.warmup_s for r in rows if r.warmup_s is not None]
    kind = "compile" if mode.compile else "cuda_graph" if mode.cuda_graph else "eager"
    start = START_S if basis.device == "cuda" else 0.0
    if measured:  # the probe's warm-up; it timed a compiled mode eager, so the compilation comes on top
        warmup = start + max(measured) + (WARMUP_S["compile"] if mode.compile else 0.0)
    else:
        warmup = start + WARMUP_S[kind]
    train_h = job_h = None
    if step is not None:
        val_s = validations * n_valid * (forward_seconds(basis, cfg, amp, mp_valid) + mp_valid * VAL_METRIC_S_PER_MP)
        train_h = steps * step / 3600
        job_h = train_h + (val_s + warmup) / 3600
    weights, optimizer = checkpoint_bytes(cfg, params)
    drops = not cfg.keep_optimizer_state
    return JobEstimate(study.name, study.tier, run, cfg.model, mode_text(mode), settings.get("replica_of"), params,
                       macs, steps, validations, None if step is None else 1000 * step, train_h, job_h, warmup, text,
                       weights + (0 if drops else optimizer), optimizer, drops)


def _eval_work(plan: StudyPlan, basis: Basis, leaderboard: bool) -> None:
    """Evaluation jobs of a study: hours on the job's device (trained runs: a GPU) and on the CPU (baselines)."""
    study = plan.study
    sets = list(study.eval_data)
    if leaderboard:
        sets += [r for r in catalog.leaderboard_refs(study.tier) if r not in sets]
    where = f"studies/{study.name}.yaml"
    sizes = [_images(ref, where) for ref in sets]
    cpu = sum(n * mp * EVAL_CPU_S_PER_MP for n, mp in sizes)
    plan.eval_jobs = len(study.baselines) + len(study.runs)  # one job per model, all sets (rule evaluate_<study>)
    plan.eval_cpu_hours = len(study.baselines) * cpu / 3600
    gpu = 0.0
    for run, settings in study.runs.items():
        cfg = TrainConfig.from_dict(train_settings(settings))
        amp = "off" if basis.device == "cpu" else "bf16"
        gpu += cpu + sum(n * forward_seconds(basis, cfg, amp, mp) for n, mp in sizes)
        kept = [e for e in cfg.keep_checkpoints if e <= cfg.epochs] if run in study.epoch_runs else []
        if kept:
            n, mp = _images(study.valid_data, where)
            plan.eval_jobs += 1
            gpu += len(kept) * n * (mp * EVAL_CPU_S_PER_MP + forward_seconds(basis, cfg, amp, mp))
    plan.eval_gpu_hours = gpu / 3600


def _study_archives(study: Study, leaderboard: bool) -> set[str]:
    """The archives the workflow downloads for ``study`` (``sisr.config.catalog.ref_archives``, as the workflow plans)."""
    refs = [study.train_data, study.valid_data, *study.eval_data]
    if leaderboard:
        refs += catalog.leaderboard_refs(study.tier)
    return set().union(*(catalog.ref_archives(ref, study.scale) for ref in refs))


def studies_at(study_files: Sequence[str | Path], tier: str):
    """(path, resolved study) of every study file that has ``tier`` (the others are skipped)."""
    for path in study_files:
        try:
            yield path, load_study(path, tier)
        except ConfigError as exc:
            if "has no tier" not in str(exc):
                raise


def plan_studies(study_files: Sequence[str | Path], tier: str, basis: Basis | None = None, *,
                 leaderboard: bool = True) -> list[StudyPlan]:
    """A StudyPlan for every study file at ``tier`` (studies without that tier are skipped)."""
    basis = basis or table_basis()
    plans = []
    for path, study in studies_at(study_files, tier):
        jobs = [estimate_job(study, run, settings, basis, str(path)) for run, settings in study.runs.items()]
        plan = StudyPlan(study, jobs)
        _eval_work(plan, basis, leaderboard)
        plan.refs = {(study.train_data, study.scale, study.in_channels), (study.valid_data, study.scale, study.in_channels)}
        plan.archives = _study_archives(study, leaderboard)
        plans.append(plan)
    return plans


def plan(study_files: Sequence[str | Path], tier: str, basis: Basis | None = None) -> list[JobEstimate]:
    """The training jobs' estimates of every study file at ``tier``."""
    return [job for p in plan_studies(study_files, tier, basis) for job in p.jobs]


def epoch_seconds(study_file: str | Path, tier: str, run: str) -> float:
    """Estimated GPU seconds of one epoch of ``run``'s training steps (:func:`estimate_job`'s step time on the
    measured card, without validation, warm-up or a loss network); ConfigError where nothing was measured."""
    study = load_study(study_file, tier)
    if run not in study.runs:
        raise ConfigError(f"{study_file}: tier {tier} has no run {run!r}")
    job = estimate_job(study, run, study.runs[run], table_basis(), str(study_file))
    if job.step_ms is None:
        raise ConfigError(f"{study_file}: runs.{run}: {job.basis}: no step time to plan with")
    return job.steps / study.runs[run]["epochs"] * job.step_ms / 1000


def equal_cost_epochs(study_file: str | Path, tier: str, reference: str, run: str) -> int:
    """Epochs of ``run`` that take the GPU time of ``reference``'s epochs on the measured card (modes.MEASURED_ON):
    ``round(reference epochs x its epoch seconds / run's epoch seconds)``, both from :func:`epoch_seconds`."""
    study = load_study(study_file, tier)
    budget = study.runs[reference]["epochs"] * epoch_seconds(study_file, tier, reference)
    return max(1, round(budget / epoch_seconds(study_file, tier, run)))




def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 or n == 0 else f"{n / 1e6:.0f} MB" if n >= 1e7 else f"{n / 1e6:.1f} MB"


def _h(hours: float | None) -> str:
    return "-" if hours is None else f"{hours:.2f}" if hours < 100 else f"{hours:.0f}" if hours < 1e4 \
        else f"{hours / 1e3:.0f}k"


def _sum(values: Sequence[float | None]) -> tuple[float, int]:
    return sum(v for v in values if v is not None), sum(1 for v in values if v is None)


def _fit(text: str, width: int) -> str:
    """``text`` shortened in the middle to ``width`` characters (run names differ at both ends: _rep2, _e75)."""
    return text if len(text) <= width else text[: width // 2 - 1] + "~" + text[-(width - width // 2):]


def job_lines(jobs: Sequence[JobEstimate], wide: bool) -> list[str]:
    """The per-job table (<= 120 characters a line; ``wide``: whole run names, parameters, work per step, basis)."""
    runs = max([24] + [len(j.run) for j in jobs]) if wide else 24
    head = (f"{'study':<14} {'run':<{runs}} {'model':<17} {'mode':<16} {'steps':>8} {'val':>4} {'ms/step':>8} "
            f"{'train h':>7} {'job h':>6} {'ckpt':>7}")
    lines = [head + ("  params      GMAC/step  basis" if wide else "")]
    for j in jobs:
        ms = "-" if j.step_ms is None else f"{j.step_ms:.2f}" if j.step_ms < 1e5 else f"{j.step_ms / 1000:,.0f}s"
        line = (f"{j.study[:14]:<14} {_fit(j.run, runs):<{runs}} {j.model[:17]:<17} {j.mode[:16]:<16} {j.steps:>8,} "
                f"{j.validations:>4} {ms:>8} {_h(j.train_hours):>7} {_h(j.job_hours):>6} {_gb(j.checkpoint_bytes):>7}")
        if wide:
            line += f"  {j.params:>11,} {j.macs_per_step / 1e9:>9.1f}  {j.basis}"
        lines.append(line)
    return lines


def summary_lines(plans: Sequence[StudyPlan], tier: str, studies_arg: str, device: str = "GPU") -> list[str]:
    """Per study and for the tier: hours, jobs, replicas, checkpoints; then downloads, data, caches, command."""
    lines = []
    for p in plans:
        train, missing = _sum([j.train_hours for j in p.jobs])
        whole, _ = _sum([j.job_hours for j in p.jobs])
        lines.append(f"{p.study.name} ({tier}): {_count(len(p.jobs), 'training job')} ({_replicas(p.replicas)}): "
                     f"{_hours(whole)} {device}-h (training alone {_hours(train)})"
                     + (f", {missing} without estimate" if missing else ""))
        lines.append(f"    evaluation: {p.eval_jobs} jobs, {_hours(p.eval_gpu_hours)} {device}-h (trained runs) + "
                     f"{_hours(p.eval_cpu_hours)} CPU-h (baselines)")
        lines.append(f"    {_checkpoint_text(p.jobs)}")
    jobs = [j for p in plans for j in p.jobs]
    train, missing = _sum([j.train_hours for j in jobs])
    whole, _ = _sum([j.job_hours for j in jobs])
    evals = sum(p.eval_gpu_hours for p in plans)
    replicas = _replicas(sum(p.replicas for p in plans))
    jobs_text = _count(len(jobs), "training job")
    lines.append(f"tier {tier}: {_hours(whole + evals)} {device}-h in all: {jobs_text} ({replicas}) "
                 f"{_hours(whole)} (training alone {_hours(train)})"
                 + (f", {missing} without estimate" if missing else ""))
    lines.append(f"    + evaluation jobs {_hours(evals)} {device}-h + {_hours(sum(p.eval_cpu_hours for p in plans))} "
                 "CPU-h (baselines)")
    lines += disk_lines(plans)
    lines.append(f"command: snakemake --cores all --config tier={tier} studies={studies_arg}   (-n: dry run)")
    return lines


def _hours(h: float) -> str:
    return f"{h:.2f}" if h < 100 else f"{h:,.0f}"


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _replicas(n: int) -> str:
    return _count(n, "replica")


def _checkpoint_text(jobs: Sequence[JobEstimate]) -> str:
    ckpt = sum(j.checkpoint_bytes for j in jobs)
    dropped = sum(j.optimizer_bytes for j in jobs if j.drops_optimizer)
    kept = sum(j.optimizer_bytes for j in jobs if not j.drops_optimizer)
    text = f"checkpoints {_gb(ckpt)}"
    if dropped:
        text += f" ({_gb(dropped)} optimizer state dropped at the end)"
    if kept:
        text += f" (incl. {_gb(kept)} optimizer state kept)"
    return text


def disk_lines(plans: Sequence[StudyPlan]) -> list[str]:
    """Downloads, extracted data and caches, checkpoints of the plans together."""
    names = sorted(set().union(*(p.archives for p in plans))) if plans else []
    known = sum(ARCHIVES[a].size or QUOTED_SIZES.get(a, 0) for a in names)
    unknown = [a for a in names if ARCHIVES[a].size is None and a not in QUOTED_SIZES]
    quoted = [a for a in names if ARCHIVES[a].size is None and a in QUOTED_SIZES]
    cache = 0.0
    for ref, scale, channels in set().union(*(p.refs for p in plans)) if plans else ():
        n, mp = IMAGES.get(str(ref), (0, 0.0, ""))[:2]
        cache += n * mp * 1e6 * channels * (1 + 1 / scale**2)
    lines = [f"downloads: {len(names)} archives, {_gb(known)}" + (f" + {', '.join(unknown)} (size not published)"
                                                                  if unknown else "")]
    if quoted:
        lines.append(f"    ({', '.join(quoted)}: the size quoted in docs/DATA_SOURCES.md)")
    lines.append(f"data: extracted about {_gb(known)} (as the archives) + training/validation caches {_gb(cache)}")
    lines.append(_checkpoint_text([j for p in plans for j in p.jobs]).replace("checkpoints", "checkpoints:", 1))
    return lines


def format_plan(plans: Sequence[StudyPlan] | Sequence[JobEstimate], basis: Basis | None = None, *,
                tier: str | None = None, studies_arg: str = "all", wide: bool = False) -> str:
    """What ``sisr plan`` prints for one tier: header, jobs, study and tier totals, disk, the command."""
    basis = basis or table_basis()
    if plans and isinstance(plans[0], JobEstimate):
        raise TypeError("format_plan takes StudyPlans (plan_studies)")
    plans = list(plans)  # type: ignore[arg-type]
    tier = tier or (plans[0].study.tier if plans else "?")
    jobs = [j for p in plans for j in p.jobs]  # type: ignore[union-attr]
    lines = [f"# sisr plan, tier {tier}: hours on one {basis.device.upper()} device; step times from",
             f"#   {basis.label}",
             *([f"#   ({basis.source})"] if basis.source else []),
             "# model (sisr.config.plan): step time monotone in multiply-adds per step, anchored on those measurements;",
             "#   job = warm-up + training + validations; evaluation jobs apart. --wide: the basis of each job."]
    device = "GPU" if basis.device == "cuda" else basis.device.upper()
    lines += job_lines(jobs, wide) + [""] + summary_lines(plans, tier, studies_arg, device)  # type: ignore[arg-type]
    return "\n".join(lines)


CSV_FIELDS = [f for f in JobEstimate.__dataclass_fields__]


def write_csv(path: str | Path, plans: Sequence[StudyPlan]) -> None:
    """Every job's estimate as CSV (``--csv``), written atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for p in plans:
        for j in p.jobs:
            writer.writerow(asdict(j))
    with atomic_write(path, "w") as fh:
        fh.write(buf.getvalue())


def study_files(studies_dir: str | Path, names: Sequence[str] | None) -> list[Path]:
    """``studies_dir/<name>.yaml`` for ``names`` (None or ["all"]: every study file there)."""
    folder = Path(studies_dir)
    if not names or list(names) == ["all"]:
        files = sorted(folder.glob("*.yaml"))
        if not files:
            raise ConfigError(f"{folder}: no study files (*.yaml)")
        return files
    return [folder / f"{n}.yaml" for n in names]


