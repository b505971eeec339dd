"""Training settings as frozen dataclasses, loaded from a study file's run entry with strict checks.

``TrainConfig.from_dict(d, where="runs.espcn")`` raises ConfigError naming the full key path
(``runs.espcn.optimizer.lr: expected a number, got str '1e-4' ...``) for unknown keys, wrong types and
invalid values. Field names match the study-file JSON schema (schemas/) one to one; each field's meaning
and default is on the dataclass below. ``to_dict()`` gives the resolved config (defaults filled in) that
checkpoints store; ``from_dict(cfg.to_dict())`` rebuilds an equal config.

GAN runs: the epoch count follows from the schedule, ``epochs = warmup_epochs + 2 * rounds *
phase_epochs`` (discriminator warm-up, then ``rounds`` x [generator phase, discriminator phase]).
``epochs`` may be left out of a GAN run (it is derived); when given it must equal that sum.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Mapping

from sisr.base.errors import ConfigError
from sisr.training.loss_terms import LossTerm, parse_terms
from sisr.models import check_model

# Columns of history.csv that early stopping and the best checkpoint can follow, and their natural mode.
# "epoch" (max) makes the last epoch the best one: what a GAN run reports (its adversarial loss is not in val_loss)
MONITORED_METRICS: dict[str, str] = {"val_loss": "min", "val_psnr_y": "max", "val_ssim_y": "max", "train_loss": "min",
                                     "epoch": "max"}


@dataclass(frozen=True)
class OptimizerConfig:
    """Adam (Kingma & Ba 2015) or AdamW (Loshchilov & Hutter 2019), as ``torch.optim``.

    name: adam | adamw. lr: learning rate (> 0). betas: (beta1, beta2), default (0.9, 0.999).
    weight_decay: default 0 (Adam: L2 added to the gradient; AdamW: decoupled). eps: default 1e-8.
    """

    name: Literal["adam", "adamw"]
    lr: float
    betas: tuple[float, ...] = (0.9, 0.999)
    weight_decay: float = 0.0
    eps: float = 1e-8

    def _check(self, where: str) -> None:
        if self.lr <= 0:
            raise ConfigError(f"{where}.lr: expected > 0, got {self.lr}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"{where}.betas: expected two numbers in [0, 1), got {list(self.betas)}")
        if self.weight_decay < 0 or self.eps <= 0:
            raise ConfigError(f"{where}: expected weight_decay >= 0 and eps > 0, got {self.weight_decay}, {self.eps}")


@dataclass(frozen=True)
class SchedulerConfig:
    """Learning-rate schedule, stepped once per epoch (after the epoch's validation).

    name: none | step (StepLR: lr x gamma every ``step_size`` epochs) | multistep (MultiStepLR: lr x gamma
    at each epoch in ``milestones``; "halve at epoch 100" = ``{milestones: [100], gamma: 0.5}``) | cosine
    (CosineAnnealingLR from lr to ``eta_min`` over all ``epochs``). gamma default 0.1 (torch's).
    Options that the named schedule does not use are rejected.
    """

    name: Literal["none", "step", "multistep", "cosine"] = "none"
    step_size: int | None = None
    gamma: float | None = None
    milestones: tuple[int, ...] | None = None
    eta_min: float | None = None

    def _check(self, where: str) -> None:
        used = {"none": set(), "step": {"step_size", "gamma"}, "multistep": {"milestones", "gamma"},
                "cosine": {"eta_min"}}[self.name]
        for option in ("step_size", "gamma", "milestones", "eta_min"):
            if option not in used and getattr(self, option) is not None:
                raise ConfigError(f"{where}.{option}: not used by scheduler {self.name!r} (it uses {sorted(used)})")
        if self.name == "step" and (self.step_size is None or self.step_size < 1):
            raise ConfigError(f"{where}.step_size: scheduler 'step' needs an integer >= 1, got {self.step_size}")
        if self.name == "multistep":
            m = self.milestones
            if not m or list(m) != sorted(set(m)) or m[0] < 1:
                raise ConfigError(f"{where}.milestones: expected increasing epochs >= 1, got {m}")
        if self.gamma is not None and not 0 < self.gamma <= 1:
            raise ConfigError(f"{where}.gamma: expected 0 < gamma <= 1, got {self.gamma}")
        if self.eta_min is not None and self.eta_min < 0:
            raise ConfigError(f"{where}.eta_min: expected >= 0, got {self.eta_min}")


@dataclass(frozen=True)
class EpochDef:
    """What one epoch is (the data source implements it; the engine only counts its batches).

    kind: patches_per_image (``n`` random patches from every training image per epoch; espcn: 20) |
    random_crop (one random crop per image; srresnet_edsr) | fixed_pairs (every stored pair once;
    residual_sweep) | iterations (``n`` batches). n: required for patches_per_image and iterations only.
    """

    kind: Literal["patches_per_image", "random_crop", "fixed_pairs", "iterations"] = "random_crop"
    n: int | None = None

    def _check(self, where: str) -> None:
        needs_n = self.kind in ("patches_per_image", "iterations")
        if needs_n and (self.n is None or self.n < 1):
            raise ConfigError(f"{where}.n: epoch kind {self.kind!r} needs an integer n >= 1, got {self.n}")
        if not needs_n and self.n is not None:
            raise ConfigError(f"{where}.n: not used by epoch kind {self.kind!r}, got {self.n}")


def _check_monitor(metric: str, mode: str | None, where: str) -> None:
    if metric not in MONITORED_METRICS:
        raise ConfigError(f"{where}.metric: expected one of {', '.join(MONITORED_METRICS)}, got {metric!r}")
    if mode not in (None, "min", "max"):
        raise ConfigError(f"{where}.mode: expected min or max, got {mode!r}")


@dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``metric`` has not improved by more than ``min_delta`` for ``patience`` validations.

    metric: a key of MONITORED_METRICS. mode: min | max (default: the metric's natural one, loss -> min,
    PSNR/SSIM -> max). patience: >= 1. min_delta: >= 0, default 0.
    """

    metric: str
    patience: int
    mode: Literal["min", "max"] | None = None
    min_delta: float = 0.0

    def _check(self, where: str) -> None:
        _check_monitor(self.metric, self.mode, where)
        if self.patience < 1 or self.min_delta < 0:
            raise ConfigError(f"{where}: expected patience >= 1 and min_delta >= 0, "
                              f"got {self.patience}, {self.min_delta}")

    def __post_init__(self) -> None:
        if self.mode is None and self.metric in MONITORED_METRICS:
            object.__setattr__(self, "mode", MONITORED_METRICS[self.metric])


@dataclass(frozen=True)
class BestMetric:
    """Which validation result makes ``checkpoint_best.pt``: ``metric`` (default val_loss), ``mode`` min|max."""

    metric: str = "val_loss"
    mode: Literal["min", "max"] | None = None

    def _check(self, where: str) -> None:
        _check_monitor(self.metric, self.mode, where)

    def __post_init__(self) -> None:
        if self.mode is None and self.metric in MONITORED_METRICS:
            object.__setattr__(self, "mode", MONITORED_METRICS[self.metric])


@dataclass(frozen=True)
class Divergence:
    """When a run counts as diverged, and what happens then.

    A run diverges when an epoch's mean training loss is not finite or exceeds ``factor`` x the loss of its
    first batch (the untrained or initialised model's loss), or when its validation loss is not finite.
    policy: ``fail`` (default): the job stops with one line naming the run, the epoch and the loss, and writes
    ``diverged.json`` in the run folder, so that a rerun with the same config repeats that line at once instead
    of training again (change the config, or delete the file, to retry). ``record``: divergence is a result
    (residual_sweep's runs that "failed to train"): the run stops with stop reason ``diverged``,
    ``checkpoint_best.pt`` holds its best finite weights (its last finite ones when no validation was finite),
    ``checkpoint_last.pt`` stays at the last finite epoch, and tables and REPORT.md mark the run.
    factor: > 1, default 100.
    """

    policy: Literal["fail", "record"] = "fail"
    factor: float = 100.0

    def _check(self, where: str) -> None:
        if not self.factor > 1:
            raise ConfigError(f"{where}.factor: expected a number > 1, got {self.factor}")


@dataclass(frozen=True)
class GanConfig:
    """The rrdb_gan study's adversarial schedule (study report 003).

    discriminator: registered model name (default patch_discriminator); discriminator_args: its keyword
    arguments. optimizer: the discriminator's (default: same settings as the generator's; constant lr).
    warmup_epochs: discriminator alone, generator frozen. Then ``rounds`` x [``phase_epochs`` generator
    (discriminator frozen), ``phase_epochs`` discriminator (generator frozen)]. The study: 50, 50, 2.
    """

    warmup_epochs: int
    phase_epochs: int
    rounds: int
    discriminator: str = "patch_discriminator"
    discriminator_args: dict = field(default_factory=dict)
    optimizer: OptimizerConfig | None = None

    def _check(self, where: str) -> None:
        if self.warmup_epochs < 0 or self.phase_epochs < 1 or self.rounds < 1:
            raise ConfigError(f"{where}: expected warmup_epochs >= 0, phase_epochs >= 1, rounds >= 1, got "
                              f"{self.warmup_epochs}, {self.phase_epochs}, {self.rounds}")
        check_model(self.discriminator, scale=None, args=self.discriminator_args, where=where,
                    keys=("discriminator", "discriminator_args"))

    @property
    def total_epochs(self) -> int:
        return self.warmup_epochs + 2 * self.rounds * self.phase_epochs

    def phase(self, epoch: int) -> str:
        """Phase of 0-based ``epoch``: ``d_warmup``, then alternating ``g`` and ``d``."""
        if epoch < self.warmup_epochs:
            return "d_warmup"
        return "g" if ((epoch - self.warmup_epochs) // self.phase_epochs) % 2 == 0 else "d"


@dataclass(frozen=True)
class TrainConfig:
    """One training run (a study file's ``runs.<name>`` entry). See the module docstring for GAN epochs.

    model, model_args: registered model name and its keyword arguments (sisr.models.create_model).
    scale: upscaling factor. in_channels: 3 (RGB) or 1 (Y).
    loss: list of ``{name, weight, ...}`` terms (sisr.training.losses). optimizer, scheduler: see their classes.
    epochs: number of epochs. batch_size, patch_size (LR side), epoch_def, augment (hflip | vflip | rot90):
    read by the data source that feeds the engine.
    early_stopping: None or EarlyStopping. best_metric: what makes checkpoint_best.pt.
    grad_clip: None or the max total gradient norm. amp: auto | off | bf16 | fp16 (CUDA only; on CPU training
    runs in float32 and says so). channels_last: NHWC memory layout (faster convs on tensor cores).
    compile: wrap the model in torch.compile. cuda_graph: replay the whole step as a CUDA graph
    (sisr.training.graphs). data_on_device: keep the training cache on the device and cut patches there
    (sisr.data.device). amp ``auto`` and these four left null: the model's fastest measured mode on CUDA,
    all off on the CPU (sisr.training.modes). seed: seeds torch, numpy and random.
    init_checkpoint: start the generator from this checkpoint's weights (a GAN run from its CNN).
    gan: None or GanConfig. val_every: validate every N epochs (and always after the last). val_ssim: also log
    val_ssim_y at every validation (it is logged anyway when early stopping or the best checkpoint follow it).
    checkpoint_every_batches: also save checkpoint_last.pt every N batches within an epoch.
    keep_checkpoints: epochs (1-based, as history.csv's ``epoch``: the state after that many epochs) whose weights
    are kept as ``checkpoint_epoch<E>.pt``, for evaluating them later (per-epoch FID). Epochs beyond ``epochs``
    are never reached (a tier or override that shortens the schedule keeps those it reaches).
    max_seconds: stop cleanly (validate, save, summarise) once training has run this long (demos).
    keep_optimizer_state: False: when the run ends (completed, early stopping, max_seconds), its last
    checkpoint_last.pt keeps the weights but not the optimizer (Adam: 2 x the weights), scaler or discriminator
    optimizer state; a finished run is never resumed, and a rerun of it only writes its outputs again.
    divergence: when a run has diverged and what then (see Divergence; default: fail at a loss 100 x the first).
    """

    model: str
    scale: int
    loss: tuple[LossTerm, ...]
    optimizer: OptimizerConfig
    batch_size: int
    patch_size: int
    epochs: int | None = None
    model_args: dict = field(default_factory=dict)
    in_channels: int = 3
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    epoch_def: EpochDef = field(default_factory=EpochDef)
    augment: tuple[Literal["hflip", "vflip", "rot90"], ...] = ()
    early_stopping: EarlyStopping | None = None
    best_metric: BestMetric = field(default_factory=BestMetric)
    grad_clip: float | None = None
    amp: Literal["auto", "off", "bf16", "fp16"] = "auto"
    channels_last: bool | None = None
    compile: bool | None = None
    cuda_graph: bool | None = None
    data_on_device: bool | None = None
    seed: int = 0
    init_checkpoint: str | None = None
    gan: GanConfig | None = None
    val_every: int = 1
    val_ssim: bool = False
    checkpoint_every_batches: int | None = None
    keep_checkpoints: tuple[int, ...] = ()
    max_seconds: float | None = None
    keep_optimizer_state: bool = True
    divergence: Divergence = field(default_factory=Divergence)

    def _check(self, where: str) -> None:
        if self.gan is not None:
            if self.epochs is None:
                object.__setattr__(self, "epochs", self.gan.total_epochs)
            elif self.epochs != self.gan.total_epochs:
                raise ConfigError(f"{where}.epochs: a GAN run trains warmup_epochs + 2 x rounds x phase_epochs = "
                                  f"{self.gan.total_epochs} epochs, got {self.epochs} (leave epochs out to derive it)")
        elif self.epochs is None:
            raise ConfigError(f"{where}.epochs: required key missing")
        checks = [("scale", self.scale, 1), ("epochs", self.epochs, 1), ("batch_size", self.batch_size, 1),
                  ("patch_size", self.patch_size, 1), ("val_every", self.val_every, 1),
                  ("checkpoint_every_batches", self.checkpoint_every_batches, 1)]
        for key, value, low in checks:
            if value is not None and value < low:
                raise ConfigError(f"{where}.{key}: expected an integer >= {low}, got {value}")
        keep = list(self.keep_checkpoints)
        if keep != sorted(set(keep)) or (keep and keep[0] < 1):
            raise ConfigError(f"{where}.keep_checkpoints: expected increasing epochs >= 1 (1-based: the state after "
                              f"that many epochs), got {keep}")
        if self.in_channels not in (1, 3):
            raise ConfigError(f"{where}.in_channels: expected 1 or 3, got {self.in_channels}")
        check_model(self.model, scale=self.scale, in_channels=self.in_channels, args=self.model_args, where=where)
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ConfigError(f"{where}.grad_clip: expected a positive max norm or null, got {self.grad_clip}")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ConfigError(f"{where}.max_seconds: expected > 0 or null, got {self.max_seconds}")
        if self.cuda_graph:
            clash = [what for what, on in (("a GAN", self.gan is not None), ("amp fp16", self.amp == "fp16"),
                                           ("compile", bool(self.compile))) if on]
            if clash:
                raise ConfigError(f"{where}.cuda_graph: a CUDA graph of the step cannot be used with "
                                  f"{' or '.join(clash)}; set cuda_graph: false or leave it out")
        adversarial = any(t.name == "adversarial" for t in self.loss)
        if adversarial != (self.gan is not None):
            raise ConfigError(f"{where}: an 'adversarial' loss term and a 'gan' section go together "
                              f"(got adversarial term: {adversarial}, gan: {self.gan is not None})")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "run") -> "TrainConfig":
        """Validate ``data`` (a run entry of a study file) and build the config; ``where`` prefixes errors."""
        return _parse_dataclass(cls, data, where)

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain data (lists, dicts, numbers): what checkpoints store."""
        out = dataclasses.asdict(self)
        out["loss"] = [term.to_dict() for term in self.loss]
        return _plain(out)


def _plain(value: Any) -> Any:
    """Tuples -> lists, recursively (JSON/YAML-friendly)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert it (lists -> tuples, int -> float)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(value, inner, where)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: expected one of {', '.join(map(str, args))}, got {value!r}")
        return value
    if origin is tuple:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        if tp == tuple[LossTerm, ...]:
            return parse_terms(value, where)
        return tuple(_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp):
        return _parse_dataclass(tp, value, where)
    if tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__} {value!r}")
        return dict(value)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        hint = " (YAML reads 1e-4 as text: write 1.0e-4)" if isinstance(value, str) else ""
        raise ConfigError(f"{where}: expected a number, got {type(value).__name__} {value!r}{hint}")
    if tp in (int, bool, str):
        if type(value) is not tp:
            raise ConfigError(f"{where}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}")
        return value
    raise TypeError(f"{where}: config field type {tp!r} is not supported by the parser")


def _parse_dataclass(cls: type, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from mapping ``data``: unknown keys, missing required keys and wrong types
    raise ConfigError naming ``where.<key>``; then the class's ``_check(where)`` validates values."""
    if isinstance(data, cls):
        return data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__} {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    unknown = sorted(str(k) for k in data if k not in names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys: {', '.join(names)}")
    kwargs = {}
    for f in fields(cls):
        if f.name in data:
            kwargs[f.name] = _convert(data[f.name], hints[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}.{f.name}: required key missing")
    obj = cls(**kwargs)
    if hasattr(obj, "_check"):
        obj._check(where)
    return obj
