"""The one training loop for every model of the five studies (BasicSR's idea, nanoGPT's readability).

``train(cfg, train_source=..., valid_source=..., out_dir=...)`` reads top to bottom:

1. Build everything first (loss terms with their pretrained backbones, model, optimizer, scheduler,
   optional discriminator), so a missing weight file or a bad argument fails before the first step.
2. Resume from ``out_dir/checkpoint_last.pt`` if it exists and was made by the same config (else start
   fresh, saying why), or start the generator from ``cfg.init_checkpoint``.
3. For each epoch: the batches of ``train_source.batches(epoch, start_batch)``, one step each
   (:func:`generator_step`, and :func:`discriminator_step` for GAN runs); then validation, history row,
   best checkpoint, scheduler step, ``history.csv`` and ``checkpoint_last.pt``; early stopping.
4. Write ``train_done.json`` (summary) and return a :class:`TrainResult`.

GAN runs (rrdb_gan study) use the same loop: each epoch has a phase, ``d_warmup`` / ``d`` (discriminator
trains, generator frozen in eval mode) or ``g`` (generator trains with the adversarial term, discriminator
frozen); non-GAN runs have phase ``train``. Both networks' losses are logged in every phase.

Outputs in ``out_dir`` (see ``sisr.training.checkpoint`` for checkpoint contents):
- ``checkpoint_last.pt``: after every epoch, every ``checkpoint_every_batches`` batches, and on SIGTERM/SIGINT.
  With ``keep_optimizer_state: false`` the one written when the run ends holds no optimizer, scaler or
  discriminator-optimizer state (a rerun of the finished run still writes its outputs; it cannot be extended).
- ``checkpoint_best.pt``: when ``cfg.best_metric`` improves (a copy of the best weights also rides in the
  last checkpoint, so a resumed run can rewrite a best file that a workflow manager deleted).
- ``checkpoint_epoch<E>.pt``: the weights after epoch E (1-based) for each E of ``cfg.keep_checkpoints`` the run
  reaches (kind "epoch", like the best checkpoint: for evaluation); train_done.json lists them.
- ``history.csv``: one row per epoch: epoch (1-based, = epochs completed), phase, lr, train_loss,
  train_<term> per loss term (unweighted), d_loss and d_lr (GAN), val_loss (loss terms without the
  adversarial one, on the unclamped output), val_psnr_y (mean over validation images, Y channel, border
  ``scale``), val_ssim_y (only when early stopping or the best checkpoint follow it: SSIM is slow on large
  images), seconds (epoch wall time incl. validation), samples_per_s (training only). Empty cells: no
  validation that epoch (``val_every``).
- ``train_done.json``: best epoch and value, epochs run, stop reason (completed | early_stopping |
  max_seconds | diverged), ``diverged`` (epoch and reason, or null), ``kept_checkpoints`` (epoch -> file),
  seconds, device, GPU-hours, provenance and config.
- ``diverged.json``: written when the run diverged under ``divergence.policy: fail`` (see below).
- ``train.lock``: held (flock) while a trainer runs; a second trainer on the same folder fails at once, naming
  the process that holds it.

Divergence (``cfg.divergence``, ``sisr.training.config.Divergence``): after each epoch, the run has diverged
when its mean training loss is not finite or exceeds ``factor`` x its first batch's loss, or when its
validation loss is not finite. The diverged epoch's row goes to history.csv, checkpoint_last.pt keeps the last
finite epoch (mid-epoch saves are skipped once the running loss is not finite). Policy ``fail`` raises
:class:`sisr.base.errors.DivergenceError` (one line: run, epoch, loss) and writes ``diverged.json`` with the config,
so a rerun with the same config raises the same error at once instead of training into it again. Policy
``record`` ends the run with stop reason ``diverged``; ``checkpoint_best.pt`` holds the best finite weights
(the last finite ones when no validation was finite).

Interruption: SIGTERM (sent by SLURM before preemption or at the time limit) or SIGINT lets the current
step finish, saves ``checkpoint_last.pt`` with the batch position, and raises :class:`TrainingInterrupted`,
a ``SystemExit`` with code 128 + signal number (143 for SIGTERM, 130 for SIGINT; the shell's convention),
so the process exits without a traceback and the job is marked failed; a retry (Snakemake ``retries:``)
resumes. A second SIGINT aborts at once. Resuming gives the same result as an uninterrupted run, bitwise on
CPU (the data source is deterministic in (seed, epoch, batch); RNG states and running sums are restored).
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import random
import signal
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol

try:
    import fcntl
except ImportError:  # not POSIX: training runs without the run lock (run_lock)
    fcntl = None

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from sisr.base.device import resolve_device
from sisr.base.errors import ConfigError, DataError, DivergenceError, RunLockedError, SisrError
from sisr.training.inference import to_uint8
from sisr.base.io import atomic_write, write_json
from sisr.training.losses import Loss, build_loss, discriminator_loss
from sisr.base.provenance import provenance
from sisr.metrics import psnr, ssim
from sisr.models import count_parameters, create_model
from sisr.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from sisr.training.config import OptimizerConfig, SchedulerConfig, TrainConfig
from sisr.training.graphs import GraphedStep
from sisr.training.modes import Mode, resolve as resolve_mode

LAST, BEST, HISTORY, DONE = "checkpoint_last.pt", "checkpoint_best.pt", "history.csv", "train_done.json"
DIVERGED, LOCK = "diverged.json", "train.lock"


def kept_checkpoint_name(epoch: int) -> str:
    """File name of the weights kept after 1-based ``epoch`` (``TrainConfig.keep_checkpoints``)."""
    return f"checkpoint_epoch{epoch}.pt"


class TrainSource(Protocol):
    """What the engine needs from training data (implemented in ``sisr.data``)."""

    def batches(self, epoch: int, start_batch: int = 0) -> Iterator[tuple[Tensor, Tensor]]: ...
    def __len__(self) -> int: ...


class TrainingInterrupted(SystemExit):
    """Raised after SIGTERM/SIGINT once checkpoint_last.pt is saved; exit code 128 + signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


@dataclass(frozen=True)
class TrainResult:
    """What ``train`` returns (also in ``train_done.json``). Epochs are 1-based counts."""

    out_dir: Path
    epochs_run: int
    stop_reason: str
    best_epoch: int | None
    best_metric: str
    best_value: float | None
    seconds: float
    device: str
    gpu_hours: float
    history: list[dict[str, Any]]


def _print(message: str) -> None:
    print(message, flush=True)


# ----------------------------------------------------------------------------------------------------
# Building blocks (public: the throughput benchmark and the tests use them)


def resolve_amp(amp: str, device: torch.device, log: Callable[[str], None] = _print) -> torch.dtype | None:
    """Autocast dtype for ``amp`` (off | bf16 | fp16) on ``device``; None = float32.

    Mixed precision is used on CUDA only; on CPU the request is ignored with a log line.
    """
    if amp == "off":
        return None
    if device.type != "cuda":
        log(f"amp={amp} ignored on {device.type}: training in float32")
        return None
    if amp == "bf16" and not torch.cuda.is_bf16_supported():
        log("amp=bf16 not supported by this GPU: using fp16 autocast without a GradScaler is unsafe, "
            "so training in float32")
        return None
    return torch.bfloat16 if amp == "bf16" else torch.float16


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def autocast(device: torch.device, dtype: torch.dtype | None) -> torch.autocast:
    """``torch.autocast`` for ``device``, disabled when ``dtype`` is None.

    While a CUDA graph is captured its cast-weight cache is off (PyTorch's rule for autocast in graphs).
    """
    capturing = device.type == "cuda" and torch.cuda.is_current_stream_capturing()
    return torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None,
                          cache_enabled=False if capturing else None)


def make_optimizer(cfg: OptimizerConfig, params: Iterable[nn.Parameter], **options: Any) -> torch.optim.Optimizer:
    """``torch.optim.Adam`` or ``AdamW`` with the config's lr, betas, weight_decay and eps.

    options: implementation switches passed on (``fused``, ``foreach``, ``capturable``); the same update.
    """
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[cfg.name]
    return cls(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay, eps=cfg.eps, **options)


def optimizer_options(device: torch.device, cuda_graph: bool = False) -> dict[str, bool]:
    """Adam's implementation for ``device``: on CUDA fused (one kernel per step; for a CUDA graph also
    capturable, step counters on the GPU: faster than the multi-tensor capturable one in all 12 float32
    cases measured, docs/BENCHMARKS.md); the CPU keeps torch's default."""
    if device.type != "cuda":
        return {}
    return {"capturable": True, "fused": True} if cuda_graph else {"fused": True}


def make_scheduler(cfg: SchedulerConfig, optimizer: torch.optim.Optimizer,
                   epochs: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The per-epoch LR scheduler (None for ``none``); cosine anneals over ``epochs`` down to ``eta_min``."""
    gamma = 0.1 if cfg.gamma is None else cfg.gamma
    sched = torch.optim.lr_scheduler
    if cfg.name == "step":
        return sched.StepLR(optimizer, step_size=cfg.step_size, gamma=gamma)
    if cfg.name == "multistep":
        return sched.MultiStepLR(optimizer, milestones=list(cfg.milestones), gamma=gamma)
    if cfg.name == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=cfg.eta_min or 0.0)
    return None


def to_float(images_u8: Tensor, device: torch.device, channels_last: bool = False) -> Tensor:
    """uint8 ``N x C x H x W`` -> float32 in [0, 1] on ``device`` (NHWC memory layout if asked)."""
    x = torch.as_tensor(images_u8).to(device, non_blocking=True).float().div_(255.0)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def optimizer_step(loss: Tensor, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                   grad_clip: float | None = None) -> Tensor | None:
    """Backward, optional gradient-norm clipping, optimizer step. Returns the norm before clipping (or None).

    With fp16 the GradScaler scales the loss; gradients are unscaled before clipping (PyTorch AMP recipe).
    """
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    norm = None
    if grad_clip is not None:
        scaler.unscale_(optimizer)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
    scaler.step(optimizer)
    scaler.update()
    return norm


def generator_step(model: nn.Module, lr: Tensor, hr: Tensor, *, loss_fn: Loss,
                   optimizer: torch.optim.Optimizer | None, scaler: torch.amp.GradScaler | None = None,
                   amp_dtype: torch.dtype | None = None, grad_clip: float | None = None,
                   discriminator: nn.Module | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """One generator step: SR = model(lr), loss terms (adversarial from ``discriminator`` if given), update.

    optimizer None: forward and losses only, without gradients (generator frozen in a D phase).
    Returns (SR detached, {"loss": total, term key: unweighted value}) with detached tensors.
    """
    update = optimizer is not None
    with torch.set_grad_enabled(update), autocast(lr.device, amp_dtype):
        sr = model(lr)
        fake_logits = discriminator(sr) if discriminator is not None else None
        total, terms = loss_fn(sr, hr, fake_logits=fake_logits)
    if update:
        optimizer_step(total, optimizer, scaler or _NO_SCALER, grad_clip)
    return sr.detach(), {"loss": total.detach(), **terms}


def discriminator_step(discriminator: nn.Module, sr: Tensor, hr: Tensor, *,
                       optimizer: torch.optim.Optimizer | None, scaler: torch.amp.GradScaler | None = None,
                       amp_dtype: torch.dtype | None = None, grad_clip: float | None = None) -> Tensor:
    """One discriminator step on real ``hr`` vs fake ``sr`` (BCE, ``sisr.training.losses.discriminator_loss``).

    optimizer None: the loss only, without gradients (discriminator frozen in a G phase). Returns it detached.
    """
    update = optimizer is not None
    with torch.set_grad_enabled(update), autocast(hr.device, amp_dtype):
        d_loss = discriminator_loss(discriminator(hr), discriminator(sr.detach()))
    if update:
        optimizer_step(d_loss, optimizer, scaler or _NO_SCALER, grad_clip)
    return d_loss.detach()


_NO_SCALER = torch.amp.GradScaler("cpu", enabled=False)


def _set_trainable(module: nn.Module | None, params: list[nn.Parameter], trainable: bool) -> None:
    """Train mode and gradients on, or eval mode and gradients off (the frozen network of a GAN phase).

    params: the module's parameters that train at all (fixed ones, like EDSR's mean shift, stay fixed).
    """
    if module is not None:
        module.train(trainable)
        for p in params:
            p.requires_grad_(trainable)


def _image(t: Tensor) -> np.ndarray:
    """``1 x C x H x W`` tensor (float in [0, 1], clamped and rounded as inference does; or uint8) -> uint8
    ``H x W (x 3)``."""
    if t.dtype != torch.uint8:
        return to_uint8(t)
    img = t[0].permute(1, 2, 0).cpu().numpy()
    return img[:, :, 0] if img.shape[2] == 1 else img


@torch.no_grad()
def validate(model: nn.Module, valid_source: Iterable[tuple[str, Tensor, Tensor]], loss_fn: Loss, *, scale: int,
             device: torch.device, amp_dtype: torch.dtype | None = None, channels_last: bool = False,
             with_ssim: bool = False) -> dict[str, float]:
    """Run ``model`` on each full validation image; mean val_loss, val_psnr_y (and val_ssim_y).

    SR is computed in eval mode under the training autocast; val_loss is the loss terms (without the
    adversarial one) on the unclamped float output; PSNR/SSIM on the output clamped to [0, 1] and rounded
    to uint8, Y channel (the channel itself for single-channel data), ``scale`` border pixels removed.
    """
    model.eval()
    losses, psnrs, ssims = [], [], []
    for name, lr_u8, hr_u8 in valid_source:
        with autocast(device, amp_dtype):
            sr = model(to_float(lr_u8, device, channels_last))
        sr, hr = sr.float(), to_float(hr_u8, device)
        if sr.shape != hr.shape:
            raise DataError(f"validation image {name}: model output {tuple(sr.shape)} vs HR {tuple(hr.shape)}")
        losses.append(loss_fn(sr, hr)[0].item())
        sr_img, hr_img = _image(sr), _image(torch.as_tensor(hr_u8))
        psnrs.append(psnr(sr_img, hr_img, crop=scale, y_channel=True))
        if with_ssim:
            ssims.append(ssim(sr_img, hr_img, crop=scale, y_channel=True))
    if not losses:
        raise DataError("validation source yielded no images")
    out = {"val_loss": float(np.mean(losses)), "val_psnr_y": float(np.mean(psnrs))}
    if with_ssim:
        out["val_ssim_y"] = float(np.mean(ssims))
    return out


# ----------------------------------------------------------------------------------------------------
# Run state


@dataclass
class _Tracker:
    """Best value of a monitored metric, and how many validations in a row did not improve it."""

    metric: str
    mode: str
    min_delta: float = 0.0
    value: float | None = None
    epoch: int | None = None
    bad: int = 0

    def update(self, value: float, epoch: int) -> bool:
        """Record ``value`` of 1-based ``epoch``; True when it improves on the best by more than min_delta."""
        if self.value is None:
            improved = math.isfinite(value)
        elif self.mode == "min":
            improved = value < self.value - self.min_delta
        else:
            improved = value > self.value + self.min_delta
        if improved:
            self.value, self.epoch, self.bad = value, epoch, 0
        else:
            self.bad += 1
        return improved


@dataclass
class _Progress:
    """Everything about where a run stands; saved in checkpoint_last.pt so a resume continues exactly."""

    best: _Tracker
    early: _Tracker | None
    epoch: int = 0  # next epoch to run, 0-based
    batch: int = 0  # next batch of that epoch
    iteration: int = 0  # batches done over the whole run
    epoch_steps: int = 0  # batches done in this epoch (after a resume: including those before it)
    epoch_samples: int = 0
    epoch_seconds: float = 0.0
    seconds_total: float = 0.0
    sums: dict[str, float] = field(default_factory=dict)  # running sums of this epoch's training losses
    history: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None
    first_loss: float | None = None  # the run's first batch's training loss: the divergence reference
    diverged: dict[str, Any] | None = None  # {"epoch", "reason"} once diverged (policy record)
    kept: list[int] = field(default_factory=list)  # epochs whose weights were kept (checkpoint_epoch<E>.pt)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "_Progress":
        d = dict(d)
        d["best"] = _Tracker(**d["best"])
        d["early"] = None if d["early"] is None else _Tracker(**d["early"])
        return cls(**d)


def _write_history(path: Path, rows: list[dict[str, Any]]) -> None:
    """history.csv, rewritten atomically; columns in first-seen order, empty cells for missing values."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with atomic_write(path, "w") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _json_value(x: Any) -> Any:
    return None if isinstance(x, float) and not math.isfinite(x) else x


def divergence_reason(train_loss: float, first_loss: float | None, factor: float) -> str | None:
    """Why an epoch's mean training loss means divergence (not finite, or > factor x the first batch's), or None."""
    if not math.isfinite(train_loss):
        return f"training loss {train_loss} is not finite"
    if first_loss is not None and first_loss > 0 and train_loss > factor * first_loss:
        return f"training loss {train_loss:.4g} > {factor:g} x the first batch's loss {first_loss:.4g}"
    return None


def _ended(progress: "_Progress", cfg: TrainConfig) -> bool:
    """Whether the run has ended: all epochs done, or stopped (early stopping, max_seconds, divergence)."""
    return progress.epoch >= cfg.epochs or progress.stop_reason is not None


def _same_config(stored: Any, cfg: TrainConfig) -> bool:
    """Whether a checkpoint's stored config resolves to ``cfg`` (defaults added since it was written filled in).

    ``keep_checkpoints`` and ``keep_optimizer_state`` are not compared: what is kept does not change the training
    (a changed list applies to the epochs still to run).
    """
    def comparable(d: Mapping) -> dict:
        return {k: v for k, v in d.items() if k not in ("keep_checkpoints", "keep_optimizer_state")}

    if not isinstance(stored, Mapping):
        return False
    if comparable(stored) == comparable(cfg.to_dict()):
        return True
    try:
        return comparable(TrainConfig.from_dict(stored).to_dict()) == comparable(cfg.to_dict())
    except (SisrError, TypeError):
        return False


def _check_divergence_marker(marker: Path, cfg: TrainConfig, log: Callable[[str], None]) -> None:
    """A divergence recorded by a previous attempt with this config: raise it again at once (no silent loop)."""
    if not marker.exists():
        return
    try:
        record = json.loads(marker.read_text())
    except (OSError, ValueError):
        record = None
    if isinstance(record, dict) and _same_config(record.get("config"), cfg):
        raise DivergenceError(f"{record.get('message')} [{marker}: from a previous attempt]")
    marker.unlink(missing_ok=True)
    log(f"{marker}: recorded for a different config; training again")


class _StopSignals:
    """Turns SIGTERM and SIGINT into a flag (``signum``) that the loop checks after each step.

    Only installed in the main thread (Python's rule); a second SIGINT raises KeyboardInterrupt at once.
    """

    def __enter__(self) -> "_StopSignals":
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


# ----------------------------------------------------------------------------------------------------
# The loop


@contextlib.contextmanager
def run_lock(out_dir: Path) -> Iterator[None]:
    """Hold ``out_dir/train.lock`` (an flock) while training: a second trainer on the same run folder fails at
    once with RunLockedError naming the process that holds it. The lock goes with the process (kill included)."""
    if fcntl is None:  # not POSIX: no lock
        yield
        return
    fd = os.open(out_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "a process"
            raise RunLockedError(f"{out_dir}: another trainer is running in this run folder ({holder} holds "
                                 f"{out_dir / LOCK}); wait for it to end or stop it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"PID {os.getpid()} on {socket.gethostname()}".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def train(cfg: TrainConfig | dict, *, out_dir: str | Path, **kwargs: Any) -> TrainResult:
    """Train one run (see :func:`_train` for the arguments), holding the run folder's lock (:func:`run_lock`)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(out_dir):
        return _train(cfg, out_dir=out_dir, **kwargs)


@dataclass
class _Run:
    """One run's explicit state, shared by the phases of :func:`_train` (setup fills it, the loop moves it on)."""

    cfg: TrainConfig
    out_dir: Path
    label: str  # how messages name the run
    log: Callable[[str], None]
    dev: torch.device
    device_name: str
    mode: Mode
    amp_dtype: torch.dtype | None
    loss_fn: Loss
    model: nn.Module
    net: nn.Module  # the model training steps call (compiled in mode.compile); validation uses ``model``
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    use_scaler: bool
    scaler: torch.amp.GradScaler
    train_source: TrainSource
    valid_source: Iterable[tuple[str, Tensor, Tensor]]
    n_batches: int
    n_params: int
    with_ssim: bool
    progress: _Progress
    disc: nn.Module | None = None  # GAN runs: the discriminator, its optimizer and scaler
    d_optimizer: torch.optim.Optimizer | None = None
    d_scaler: torch.amp.GradScaler | None = None
    g_params: list[nn.Parameter] = field(default_factory=list)  # parameters that train at all
    d_params: list[nn.Parameter] = field(default_factory=list)
    graphed: GraphedStep | None = None
    name: str | None = None
    progress_every_s: float = 60.0
    on_epoch: Callable[[list[dict[str, Any]]], None] | None = None
    best_state: dict[str, Tensor] | None = None  # CPU copy of the best weights (also in checkpoint_last.pt)
    sums: dict[str, Tensor] = field(default_factory=dict)  # running sums of this epoch's step values
    # policy record, before any best checkpoint: the last finite weights (epoch, CPU copy) stand in for it
    finite: tuple[int, dict[str, Tensor]] | None = None
    drop_state: bool = False  # a finished run whose checkpoint_last.pt holds optimizer state it need not keep
    mark: float = 0.0  # monotonic time up to which wall time is counted (:meth:`tick`)
    last_report: float = 0.0  # monotonic time of the last progress line
    console: Any = None  # where the tqdm bar goes
    interactive: bool = False

    @property
    def last_path(self) -> Path:
        return self.out_dir / LAST

    @property
    def best_path(self) -> Path:
        return self.out_dir / BEST

    def tick(self) -> None:
        """Move the wall time since the last call into the epoch and run totals."""
        now = time.monotonic()
        self.progress.epoch_seconds += now - self.mark
        self.progress.seconds_total += now - self.mark
        self.mark = now

    def weights(self) -> dict[str, Tensor]:
        """A CPU copy of the model's weights."""
        return {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}

    def keep_finite(self) -> None:
        """Policy record, no best checkpoint yet: remember the current (finite) weights."""
        if self.cfg.divergence.policy == "record" and self.best_state is None:
            self.finite = (self.progress.epoch, self.weights())

    def save_best(self, epoch: int) -> None:
        p = self.progress
        save_checkpoint(self.best_path, {
            "kind": "best", "model": self.best_state, "config": self.cfg.to_dict(),
            "provenance": provenance({"device": self.device_name}), "epoch": epoch, "iteration": p.iteration,
            "metric": p.best.metric, "value": p.best.value})

    def save_last(self) -> None:
        p, cfg = self.progress, self.cfg
        p.sums = {k: v.item() for k, v in self.sums.items()}
        state = not (_ended(p, cfg) and not cfg.keep_optimizer_state)  # optimizer state for a resume
        disc, d_optimizer, d_scaler = self.disc, self.d_optimizer, self.d_scaler
        save_checkpoint(self.last_path, {
            "kind": "last", "model": self.model.state_dict(), "config": cfg.to_dict(),
            "provenance": provenance({"device": self.device_name}),
            "epoch": p.epoch, "batch": p.batch, "iteration": p.iteration,
            "optimizer": self.optimizer.state_dict() if state else None,
            "scheduler": self.scheduler.state_dict() if self.scheduler and state else None,
            "scaler": self.scaler.state_dict() if state else None,
            "discriminator": disc.state_dict() if disc is not None else None,
            "d_optimizer": d_optimizer.state_dict() if d_optimizer is not None and state else None,
            "d_scaler": d_scaler.state_dict() if d_scaler is not None and state else None,
            "rng": rng_state(), "progress": p.to_dict(), "best_model": self.best_state})

    def save_kept(self, epoch: int, row: dict[str, Any]) -> None:
        save_checkpoint(self.out_dir / kept_checkpoint_name(epoch), {
            "kind": "epoch", "model": self.weights(), "config": self.cfg.to_dict(),
            "provenance": provenance({"device": self.device_name}), "epoch": epoch,
            "iteration": self.progress.iteration, "history": row})
        if epoch not in self.progress.kept:
            self.progress.kept.append(epoch)


def _train(cfg: TrainConfig | dict, *, train_source: TrainSource,
           valid_source: Iterable[tuple[str, Tensor, Tensor]], out_dir: str | Path,
           device: str | torch.device = "auto", log: Callable[[str], None] = _print,
           name: str | None = None, progress_every_s: float = 60.0,
           on_epoch: Callable[[list[dict[str, Any]]], None] | None = None) -> TrainResult:
    """Train ``cfg.model`` on ``train_source``, validating on ``valid_source``; see the module docstring.

    cfg: a TrainConfig (or a dict for ``TrainConfig.from_dict``). train_source: ``batches(epoch,
    start_batch)`` yielding (LR, HR) uint8 ``N x C x h x w`` tensors, ``len()`` batches per epoch,
    deterministic in (seed, epoch). valid_source: re-iterable of (name, LR 1xCxhxw, HR 1xCxHxW) uint8.
    out_dir: the run folder. device: "auto" (CUDA if available), "cpu", "cuda", ... log: message sink.
    name: how errors name the run (the workflow: ``<study>.runs.<run>``; default: out_dir).
    progress_every_s: without a terminal (a log file), a progress line (batch, loss, samples/s, ETA) every this
    many seconds within an epoch; on a terminal a tqdm bar instead. Every epoch line carries the run's ETA.
    on_epoch: called with the history (a list of rows, as in history.csv) after every epoch (TensorBoard).
    Raises TrainingInterrupted (SystemExit 143/130) after saving, on SIGTERM/SIGINT; DivergenceError when the
    run diverges under ``divergence.policy: fail``.

    The phases: :func:`_setup` (1. build everything), :func:`_resume` (2.), :func:`_run_epoch` per epoch (3.),
    :func:`_finish` (4.); their shared state is one :class:`_Run`.
    """
    cfg = cfg if isinstance(cfg, TrainConfig) else TrainConfig.from_dict(cfg)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_divergence_marker(out_dir / DIVERGED, cfg, log)
    run = _setup(cfg, train_source, valid_source, out_dir, device, log, name or str(out_dir))
    run.name, run.progress_every_s, run.on_epoch = name, progress_every_s, on_epoch
    _resume(run)
    if run.best_state is not None and not run.best_path.exists():
        run.save_best(run.progress.best.epoch)  # a workflow manager removed it after an interruption
    if run.drop_state:
        run.save_last()
    run.keep_finite()
    run.mark = time.monotonic()
    run.console = getattr(sys.stderr, "console", sys.stderr)  # the job log's terminal side (sisr.workflow.jobs.job_log)
    run.interactive = run.console.isatty()
    run.last_report = time.monotonic()
    with _StopSignals() as signals:
        while run.progress.epoch < cfg.epochs and run.progress.stop_reason is None:
            _run_epoch(run, signals)
    return _finish(run)


# 1. Setup


def _setup(cfg: TrainConfig, train_source: TrainSource, valid_source: Iterable[tuple[str, Tensor, Tensor]],
           out_dir: Path, device: str | torch.device, log: Callable[[str], None], label: str) -> _Run:
    """Build everything: missing pretrained weights or a bad model argument fail here, not mid-run."""
    dev = resolve_device(device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    seed_everything(cfg.seed)
    loss_fn = build_loss(cfg.loss).to(dev)
    model = create_model(cfg.model, scale=cfg.scale, in_channels=cfg.in_channels, **cfg.model_args)
    work = count_parameters(model) * cfg.batch_size * cfg.patch_size**2  # finds the nearest measured shape
    mode = resolve_mode(cfg, dev, work=work, cache_bytes=getattr(train_source, "nbytes", None), log=log)
    amp_dtype = resolve_amp(mode.amp, dev, log)
    memory_format = torch.channels_last if mode.channels_last else torch.contiguous_format
    model = model.to(dev, memory_format=memory_format)
    optimizer = make_optimizer(cfg.optimizer, model.parameters(), **optimizer_options(dev, mode.cuda_graph))
    use_scaler = mode.amp == "fp16" and amp_dtype is not None
    run = _Run(cfg=cfg, out_dir=out_dir, label=label, log=log, dev=dev,
               device_name=torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu", mode=mode,
               amp_dtype=amp_dtype, loss_fn=loss_fn, model=model, optimizer=optimizer,
               net=torch.compile(model) if mode.compile else model,
               scheduler=make_scheduler(cfg.scheduler, optimizer, cfg.epochs), use_scaler=use_scaler,
               scaler=torch.amp.GradScaler(dev.type, enabled=use_scaler), train_source=train_source,
               valid_source=valid_source, n_batches=0, n_params=count_parameters(model),
               with_ssim=cfg.val_ssim or "val_ssim_y" in (cfg.best_metric.metric,
                                                          getattr(cfg.early_stopping, "metric", None)),
               progress=_new_progress(cfg))
    if cfg.gan is not None:
        run.disc = create_model(cfg.gan.discriminator, scale=cfg.scale, in_channels=cfg.in_channels,
                                **cfg.gan.discriminator_args).to(dev, memory_format=memory_format)
        run.d_optimizer = make_optimizer(cfg.gan.optimizer or cfg.optimizer, run.disc.parameters(),
                                         **optimizer_options(dev))
        run.d_scaler = torch.amp.GradScaler(dev.type, enabled=use_scaler)
        run.d_params = [p for p in run.disc.parameters() if p.requires_grad]
    run.g_params = [p for p in model.parameters() if p.requires_grad]
    if mode.cuda_graph:
        run.graphed = GraphedStep(lambda lr, hr: generator_step(
            run.net, lr, hr, loss_fn=loss_fn, optimizer=optimizer, amp_dtype=amp_dtype, grad_clip=cfg.grad_clip),
            optimizer)
    if mode.data_on_device:
        run.train_source = train_source.on_device(dev)
    run.n_batches = len(run.train_source)
    if run.n_batches < 1:
        raise DataError(f"{out_dir}: the training source has no batches")
    return run


def _new_progress(cfg: TrainConfig) -> _Progress:
    es = cfg.early_stopping
    return _Progress(best=_Tracker(cfg.best_metric.metric, cfg.best_metric.mode),
                     early=None if es is None else _Tracker(es.metric, es.mode, es.min_delta))


# 2. Resume, or start fresh


def _resume(run: _Run) -> None:
    """Continue from checkpoint_last.pt when it was made by this config (else start fresh, saying why)."""
    cfg, log, last_path = run.cfg, run.log, run.last_path
    ckpt = load_checkpoint(last_path, map_location=run.dev) if last_path.exists() else None
    if ckpt is not None and not _same_config(ckpt["config"], cfg):
        changed = sorted(k for k in cfg.to_dict() if ckpt["config"].get(k) != cfg.to_dict()[k])
        log(f"{last_path} was made by a different config (changed: {', '.join(changed)}): starting from scratch")
        ckpt = None
    weights_only = ckpt is not None and ckpt.get("optimizer") is None  # a finished run without optimizer state
    if weights_only and not _ended(_Progress.from_dict(ckpt["progress"]), cfg):
        log(f"{last_path} holds no optimizer state and its run has not ended: starting from scratch")
        ckpt = None
    if ckpt is not None:
        _restore(run, ckpt, weights_only)
    else:
        _start_fresh(run)
    run.sums = {k: torch.tensor(v, dtype=torch.float64, device=run.dev) for k, v in run.progress.sums.items()}
    log(f"training {cfg.model} ({run.n_params:,} parameters) on {run.device_name}, mode "
        f"{_mode_text(run.mode)}, {run.n_batches} batches/epoch, {cfg.epochs} epochs, out {run.out_dir}")


def _restore(run: _Run, ckpt: dict[str, Any], weights_only: bool) -> None:
    """Load the networks, optimizers (unless ``weights_only``), progress and RNG states of a checkpoint."""
    run.model.load_state_dict(ckpt["model"])
    if not weights_only:
        run.optimizer.load_state_dict(ckpt["optimizer"])
        if run.scheduler is not None:
            run.scheduler.load_state_dict(ckpt["scheduler"])
        if run.use_scaler:
            run.scaler.load_state_dict(ckpt["scaler"])
    if run.disc is not None:
        run.disc.load_state_dict(ckpt["discriminator"])
        if not weights_only:
            run.d_optimizer.load_state_dict(ckpt["d_optimizer"])
            if run.use_scaler:
                run.d_scaler.load_state_dict(ckpt["d_scaler"])
    run.progress = progress = _Progress.from_dict(ckpt["progress"])
    run.best_state = ckpt["best_model"]
    set_rng_state(ckpt["rng"])
    if _ended(progress, run.cfg):
        run.log(f"{run.last_path}: the run already ended after {progress.epoch} of {run.cfg.epochs} epochs "
                f"({progress.stop_reason or 'completed'}): writing its outputs again")
        run.drop_state = not weights_only and not run.cfg.keep_optimizer_state
    else:
        run.log(f"resuming from epoch {progress.epoch + 1}, batch {progress.batch} (of {run.cfg.epochs} epochs x "
                f"{run.n_batches} batches)")


def _start_fresh(run: _Run) -> None:
    """Remove a previous run's outputs; start the generator from ``cfg.init_checkpoint`` if set."""
    cfg, out_dir = run.cfg, run.out_dir
    for stale in (run.best_path, out_dir / DONE, out_dir / HISTORY, out_dir / DIVERGED,
                  *out_dir.glob(kept_checkpoint_name("*"))):
        stale.unlink(missing_ok=True)
    if cfg.init_checkpoint is not None:
        try:
            run.model.load_state_dict(load_checkpoint(cfg.init_checkpoint, map_location=run.dev)["model"])
        except RuntimeError as exc:
            raise ConfigError(f"init_checkpoint {cfg.init_checkpoint}: its weights do not fit model "
                              f"{cfg.model!r} {cfg.model_args}: {exc}") from exc
        run.log(f"generator initialised from {cfg.init_checkpoint}")


# 3. One epoch


def _run_epoch(run: _Run, signals: _StopSignals) -> None:
    """Train one epoch (its GAN phase), then validate, keep checkpoints and write the files; or end diverged."""
    epoch = run.progress.epoch
    phase = run.cfg.gan.phase(epoch) if run.cfg.gan is not None else "train"
    train_g = phase in ("train", "g")
    _set_trainable(run.model, run.g_params, train_g)
    _set_trainable(run.disc, run.d_params, not train_g)
    _train_batches(run, epoch, train_g, signals)
    row, reason = _epoch_row(run, epoch, phase)
    if reason is not None:
        _diverged(run, row, reason, epoch)
        return
    _select_checkpoints(run, row, epoch)
    _close_epoch(run, row, epoch, signals)


def _train_batches(run: _Run, epoch: int, train_g: bool, signals: _StopSignals) -> None:
    """The epoch's batches from ``progress.batch`` on, one step each; progress, signals, mid-epoch saves."""
    progress, cfg, n_batches = run.progress, run.cfg, run.n_batches
    bar = _progress_bar(n_batches, progress.batch, f"{run.name + ' ' if run.name else ''}epoch {epoch + 1}/"
                        f"{cfg.epochs}", run.interactive, run.console)
    for lr_u8, hr_u8 in run.train_source.batches(epoch, start_batch=progress.batch):
        values, samples = _step(run, lr_u8, hr_u8, train_g)
        for key, value in values.items():
            run.sums[key] = run.sums[key] + value.double() if key in run.sums else value.double()
        if progress.first_loss is None:
            progress.first_loss = values["loss"].item()
        progress.batch += 1
        progress.iteration += 1
        progress.epoch_steps += 1
        progress.epoch_samples += samples
        _report_batch(run, bar, values, epoch)
        if signals.signum is not None:
            run.tick()
            run.save_last()
            _interrupted(run, signals.signum, f"at epoch {epoch + 1}, batch {progress.batch}")
        every = cfg.checkpoint_every_batches
        if every and progress.batch % every == 0 and progress.batch < n_batches \
                and math.isfinite(run.sums["loss"].item()):  # never save a diverged state
            run.tick()
            run.save_last()
        if cfg.max_seconds is not None:
            run.tick()
            if progress.seconds_total >= cfg.max_seconds:
                progress.stop_reason = "max_seconds"
                break
    if bar is not None:
        bar.close()
    if progress.batch != n_batches and progress.stop_reason is None:
        raise DataError(f"the training source yielded {progress.batch} batches in epoch {epoch + 1}, "
                        f"but its len() is {n_batches}")


def _step(run: _Run, lr_u8: Tensor, hr_u8: Tensor, train_g: bool) -> tuple[dict[str, Tensor], int]:
    """One batch: the generator step (graphed or not), and the discriminator's for GAN runs; (values, samples)."""
    channels_last, cfg = run.mode.channels_last, run.cfg
    lr, hr = to_float(lr_u8, run.dev, channels_last), to_float(hr_u8, run.dev, channels_last)
    if run.graphed is not None:
        sr, values = run.graphed(lr, hr)
    else:
        sr, values = generator_step(run.net, lr, hr, loss_fn=run.loss_fn,
                                    optimizer=run.optimizer if train_g else None, scaler=run.scaler,
                                    amp_dtype=run.amp_dtype, grad_clip=cfg.grad_clip, discriminator=run.disc)
    if run.disc is not None:
        values["d_loss"] = discriminator_step(run.disc, sr, hr, optimizer=None if train_g else run.d_optimizer,
                                              scaler=run.d_scaler, amp_dtype=run.amp_dtype, grad_clip=cfg.grad_clip)
    return values, lr.shape[0]


def _report_batch(run: _Run, bar: Any, values: dict[str, Tensor], epoch: int) -> None:
    """Advance the tqdm bar, or log a progress line every ``progress_every_s`` seconds within an epoch."""
    progress = run.progress
    if bar is not None:
        bar.update(1)
        if progress.batch % 20 == 0:
            bar.set_postfix(loss=f"{values['loss'].item():.4g}")
    elif run.progress_every_s and time.monotonic() - run.last_report >= run.progress_every_s \
            and progress.batch < run.n_batches:
        run.tick()
        run.last_report = time.monotonic()
        run.log(_batch_line(progress, epoch, run.cfg.epochs, run.n_batches, run.sums["loss"].item()))


def _interrupted(run: _Run, signum: int, where: str) -> None:
    """After SIGTERM/SIGINT, once checkpoint_last.pt is saved: say so and raise TrainingInterrupted."""
    run.log(f"interrupted by signal {signum}: saved {run.last_path} {where}; exiting with code {128 + signum}; "
            f"rerun the same command to resume from there")
    raise TrainingInterrupted(signum)


# 3b. End of epoch: validation, divergence, checkpoint selection


def _epoch_row(run: _Run, epoch: int, phase: str) -> tuple[dict[str, Any], str | None]:
    """The epoch's history row (training means, validation when due; appended to the history) and the
    divergence reason (None: finite)."""
    progress, cfg, dev = run.progress, run.cfg, run.dev
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)  # the epoch's queued GPU work belongs to its training time
    run.tick()
    train_seconds = progress.epoch_seconds
    steps = max(progress.epoch_steps, 1)
    means = {key: value.item() / steps for key, value in run.sums.items()}
    row: dict[str, Any] = {"epoch": epoch + 1, "phase": phase, "lr": run.optimizer.param_groups[0]["lr"],
                           "train_loss": means.pop("loss", math.nan)}
    d_loss = means.pop("d_loss", None)
    row.update({f"train_{key}": value for key, value in means.items()})
    if run.disc is not None:
        row.update({"d_loss": d_loss, "d_lr": run.d_optimizer.param_groups[0]["lr"]})
    reason = divergence_reason(row["train_loss"], progress.first_loss, cfg.divergence.factor)
    final = epoch + 1 == cfg.epochs or progress.stop_reason is not None
    if reason is None and ((epoch + 1) % cfg.val_every == 0 or final):
        row.update(validate(run.model, run.valid_source, run.loss_fn, scale=cfg.scale, device=dev,
                            amp_dtype=run.amp_dtype, channels_last=run.mode.channels_last, with_ssim=run.with_ssim))
        if not math.isfinite(row["val_loss"]):
            reason = f"validation loss {row['val_loss']} is not finite"
    run.tick()
    row["seconds"] = progress.epoch_seconds
    row["samples_per_s"] = progress.epoch_samples / train_seconds if train_seconds > 0 else math.nan
    progress.history.append(row)
    return row, reason


def _diverged(run: _Run, row: dict[str, Any], reason: str, epoch: int) -> None:
    """The run diverged in ``epoch``: raise DivergenceError (policy fail, recorded in diverged.json) or end the
    run marked diverged with the best finite weights (policy record). checkpoint_last.pt stays at the last
    finite epoch."""
    progress, cfg, out_dir = run.progress, run.cfg, run.out_dir
    run.log(_epoch_line(row, cfg.epochs))
    _write_history(out_dir / HISTORY, progress.history)
    message = f"{run.label}: diverged in epoch {epoch + 1} of {cfg.epochs}: {reason}"
    if cfg.divergence.policy != "record":
        marker = out_dir / DIVERGED
        message += (f" (divergence.policy fail; recorded in {marker}: a rerun with this config stops here "
                    f"at once; lower optimizer.lr, set divergence.policy: record, or delete that file)")
        write_json(marker, {"message": message, "epoch": epoch + 1, "reason": reason,
                            "train_loss": _json_value(row["train_loss"]), "config": cfg.to_dict()})
        raise DivergenceError(message)
    run.log(message + " (divergence.policy record: the run ends here, marked diverged)")
    progress.stop_reason = "diverged"
    progress.diverged = {"epoch": epoch + 1, "reason": reason}
    progress.epoch = epoch + 1
    if run.best_state is None:
        assert run.finite is not None
        run.best_state = run.finite[1]
        run.save_best(run.finite[0])


def _select_checkpoints(run: _Run, row: dict[str, Any], epoch: int) -> None:
    """Best checkpoint, kept epoch checkpoint, early stopping, for a finite epoch's ``row``."""
    progress, cfg = run.progress, run.cfg
    if row.get(progress.best.metric) is not None and progress.best.update(row[progress.best.metric], epoch + 1):
        run.best_state = run.weights()
        run.save_best(epoch + 1)
    if epoch + 1 in cfg.keep_checkpoints:
        run.save_kept(epoch + 1, row)
    early = progress.early
    if early is not None and row.get(early.metric) is not None:
        early.update(row[early.metric], epoch + 1)
        if early.bad >= cfg.early_stopping.patience and progress.stop_reason is None:
            progress.stop_reason = "early_stopping"


def _close_epoch(run: _Run, row: dict[str, Any], epoch: int, signals: _StopSignals) -> None:
    """Scheduler step, move to the next epoch, history.csv and checkpoint_last.pt, the epoch line; then stop
    if a signal came during validation."""
    progress = run.progress
    if run.scheduler is not None:
        run.scheduler.step()
    progress.epoch, progress.batch = epoch + 1, 0
    progress.epoch_steps = progress.epoch_samples = 0
    progress.epoch_seconds = 0.0
    run.sums = {}
    run.keep_finite()
    _write_history(run.out_dir / HISTORY, progress.history)
    run.save_last()
    if run.on_epoch is not None:
        run.on_epoch(progress.history)
    run.log(_epoch_line(row, run.cfg.epochs, eta=_run_eta(progress, run.cfg.epochs)))
    run.last_report = time.monotonic()
    if signals.signum is not None:
        _interrupted(run, signals.signum, f"after epoch {epoch + 1}")


# 4. Finish


def _finish(run: _Run) -> TrainResult:
    """Write train_done.json (the summary) and return the TrainResult."""
    progress, cfg, out_dir = run.progress, run.cfg, run.out_dir
    if not run.best_path.exists():  # cannot happen (a non-finite validation is divergence); never end without it
        raise SisrError(f"{run.label}: training ended without {run.best_path.name}: no validation gave a finite "
                        f"{progress.best.metric}")
    if not (out_dir / HISTORY).exists():
        _write_history(out_dir / HISTORY, progress.history)
    result = TrainResult(out_dir=out_dir, epochs_run=progress.epoch, stop_reason=progress.stop_reason or "completed",
                         best_epoch=progress.best.epoch, best_metric=progress.best.metric,
                         best_value=progress.best.value, seconds=progress.seconds_total, device=run.device_name,
                         gpu_hours=progress.seconds_total / 3600 if run.dev.type == "cuda" else 0.0,
                         history=progress.history)
    summary = {k: _json_value(v) for k, v in asdict(result).items() if k not in ("out_dir", "history")}
    summary.update({"mode": run.mode.to_dict(), "best_mode": progress.best.mode, "epochs_planned": cfg.epochs,
                    "iterations": progress.iteration, "diverged": progress.diverged,
                    "kept_checkpoints": {str(e): kept_checkpoint_name(e) for e in progress.kept},
                    "provenance": provenance({"device": run.device_name}), "config": cfg.to_dict()})
    with atomic_write(out_dir / DONE, "w") as fh:
        json.dump(summary, fh, indent=2)
    run.log(f"done: {result.stop_reason} after {result.epochs_run} epochs, best {result.best_metric} "
            f"{result.best_value} at epoch {result.best_epoch}, {result.seconds:.1f} s")
    return result


def _mode_text(mode: Mode) -> str:
    on = [name for name in ("channels_last", "compile", "cuda_graph", "data_on_device") if getattr(mode, name)]
    return "+".join([mode.amp if mode.amp != "off" else "fp32"] + on)


def _progress_bar(total: int, initial: int, desc: str, interactive: bool, file: Any = None):
    """A tqdm bar on the terminal for interactive runs; None otherwise (progress lines in the log instead)."""
    if not interactive:
        return None
    return tqdm(total=total, initial=initial, desc=desc, leave=False, dynamic_ncols=True, file=file)


def format_duration(seconds: float) -> str:
    """``1h02m``, ``4m05s``, ``12s``: for ETAs."""
    if not math.isfinite(seconds):
        return "?"
    seconds = max(0, int(round(seconds)))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def _run_eta(progress: "_Progress", epochs: int) -> float:
    """Seconds left for the run at the mean time per epoch so far (early stopping may end it sooner)."""
    done = progress.epoch
    return progress.seconds_total / done * (epochs - done) if done else math.nan


def _batch_line(progress: "_Progress", epoch: int, epochs: int, n_batches: int, loss_sum: float) -> str:
    """A progress line within a long epoch: batch, running loss, speed, the epoch's and the run's ETA."""
    seconds = max(progress.epoch_seconds, 1e-9)
    epoch_left = seconds / max(progress.epoch_steps, 1) * (n_batches - progress.batch)
    done = progress.seconds_total - progress.epoch_seconds  # the epochs before this one (with validation)
    per_epoch = done / epoch if epoch else seconds + epoch_left
    run_left = epoch_left + (epochs - epoch - 1) * per_epoch
    return (f"epoch {epoch + 1}/{epochs} batch {progress.batch}/{n_batches} "
            f"({100 * progress.batch / n_batches:.0f}%) loss {loss_sum / max(progress.epoch_steps, 1):.5g}, "
            f"{progress.epoch_samples / seconds:.1f} samples/s, epoch ETA {format_duration(epoch_left)}, "
            f"run ETA {format_duration(run_left)}")


def _epoch_line(row: dict[str, Any], epochs: int, eta: float = math.nan) -> str:
    parts = [f"epoch {row['epoch']}/{epochs}", f"[{row['phase']}]", f"lr {row['lr']:.3g}"]
    for key in ("train_loss", "d_loss", "val_loss", "val_psnr_y", "val_ssim_y"):
        if row.get(key) is not None:
            parts.append(f"{key} {row[key]:.5g}")
    parts.append(f"{row['seconds']:.1f} s, {row['samples_per_s']:.1f} samples/s")
    if row["epoch"] < epochs:
        parts.append(f"ETA {format_duration(eta)}")
    return " ".join(parts)
