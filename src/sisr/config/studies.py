"""Workflow configuration and study files: loading, JSON-schema validation and resolution of runs.

A study file (``studies/<name>.yaml``) is data: datasets, scale, runs, metrics, tables, figures and
per-tier settings (schema: ``schemas/study.schema.yaml``). A run's training settings are the deep merge
``train <- runs.<run> <- tiers.<tier>.train <- tiers.<tier>.runs.<run> <- config.train_overrides``.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import jsonschema
import yaml

from sisr.base.errors import ConfigError
from sisr.base import paths, suggest
from sisr.degradations import check_name as check_degradation
from sisr.metrics.registry import METRICS
from sisr.models import SPECS, check_model
from sisr.training.config import TrainConfig

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SCHEMA_DIR = PROJECT_ROOT / "schemas"


class _DuplicateKey(Exception):
    """A mapping repeats a key (raised by :class:`_StrictLoader`, turned into a ConfigError naming the file)."""


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """``yaml.safe_load`` that refuses a key given twice in one mapping (plain YAML keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise _DuplicateKey(f"{key_node.start_mark.line + 1}: duplicate key {key!r} (first at line "
                                    f"{seen[key]}; YAML would keep only the last)")
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def load_yaml_file(path: str | Path) -> Any:
    """A YAML file (study or config) parsed safely; ConfigError in one line ``FILE:LINE[:COLUMN]: problem`` for a
    syntax error or a key repeated in a mapping."""
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_StrictLoader)  # noqa: S506 (a safe loader)
    except _DuplicateKey as exc:
        raise ConfigError(f"{path}:{exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a YAML file: {' '.join(str(exc).split())}") from None


def check_yaml_file(path: str | Path) -> None:
    """:func:`load_yaml_file` for a file that may be absent; its error as a SystemExit (one line, no traceback:
    what Snakemake prints for an error while it reads the Snakefile)."""
    if Path(path).is_file():
        try:
            load_yaml_file(path)
        except ConfigError as exc:
            raise SystemExit(f"sisr-bench: {exc}") from None


@lru_cache(maxsize=None)
def _schema(name: str) -> dict:
    path = SCHEMA_DIR / f"{name}.schema.yaml"
    with open(path) as fh:
        return yaml.safe_load(fh)


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def validate(data: Any, schema_name: str, *, where: str | Callable[[tuple], str]) -> None:
    """Validate ``data`` against ``schemas/<schema_name>.schema.yaml``; raise ConfigError naming the key path.

    All violations are reported, one per line, sorted by key path. ``where``: the file, or a function of the
    key path that says where that value came from (:func:`load_workflow_config`).
    """
    validator = jsonschema.Draft202012Validator(_schema(schema_name))
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = []
        for err in errors:
            msg = err.message
            if err.validator == "additionalProperties":
                msg = f"unknown key(s): {msg.split('(')[-1].rstrip(')')}"
            elif err.validator in ("oneOf", "anyOf") and err.schema.get("description"):
                msg = f"{err.instance!r} is not valid; expected: {err.schema['description']}"
            origin = where(tuple(err.absolute_path)) if callable(where) else where
            lines.append(f"{origin}: {_key_path(err)}: {msg}")
        raise ConfigError("\n".join(lines))


def deep_merge(base: Mapping, override: Mapping | None) -> dict:
    """Recursively merge ``override`` into a copy of ``base`` (lists and scalars are replaced).

    A mapping that names a different ``name`` (another optimizer or scheduler) replaces the old one whole,
    so that ``scheduler: {name: none}`` does not inherit the milestones of a ``multistep`` scheduler.
    """
    out = copy.deepcopy(dict(base))
    for key, value in (override or {}).items():
        renamed = isinstance(value, Mapping) and isinstance(out.get(key), Mapping) and \
            "name" in value and value["name"] != out[key].get("name")
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) and not renamed:
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


CONFIG_DEFAULTS = {
    "studies_dir": "studies",
    "data_dir": "data",
    "results_dir": "results",
    "logs_dir": "logs",
    "weights_dir": "weights",
    "device": "auto",
    "on_bad_image": "error",
    "mirror": None,
    "num_workers": 0,
    "train_overrides": {},
    "archives": {},
    "datasets": {},
    "leaderboard": True,
    "leaderboard_sets": None,
    "leaderboard_degradations": ["bicubic"],
    "degradation_modules": [],
    "figures": ["png", "pdf"],
    "progress_every_s": 60,
    "tensorboard": False,
    "rehearsal": None,
    "replicas": None,
    "derived": {},
    "weights_checksums": {},
}

REHEARSAL_DEFAULTS = {"epochs": 1, "batches_per_epoch": 2, "valid_images": 2, "eval_images": None, "batch_size": None,
                      "patch_size": None, "keep_optimizer_state": None}


OUTPUT_DIR_KEYS = ("data_dir", "results_dir", "logs_dir", "weights_dir")


def check_output_dirs(cfg: Mapping) -> None:
    """ConfigError naming the key when a folder the workflow writes into is a file, or lies under one."""
    for key in OUTPUT_DIR_KEYS:
        path = Path(str(cfg[key]))
        for at in (path, *path.parents):
            if at.exists():
                if not at.is_dir():
                    under = "" if at == path else f" ({at} is a file)"
                    what = "is a file" if at == path else "lies under a file"
                    raise ConfigError(f"{key}: {path} {what}{under}, expected a folder (or a path that does not "
                                      f"exist yet)")
                break


def load_config(config: Mapping, *, where: str | Callable[[tuple], str] = "config") -> dict:
    """Validate the workflow config (already parsed) and fill in defaults (``studies=espcn``: one study, a list).

    ``where``: what errors name as the origin of a value (see :func:`load_workflow_config`)."""
    config = dict(config)
    if isinstance(config.get("studies"), str) and config["studies"] != "all":
        config["studies"] = [config["studies"]]
    validate(config, "config", where=where)
    cfg = deep_merge(CONFIG_DEFAULTS, config)
    if cfg["rehearsal"] is not None:
        cfg["rehearsal"] = {**REHEARSAL_DEFAULTS, **cfg["rehearsal"]}
    if cfg["studies"] == "all":
        cfg["studies"] = sorted(p.stem for p in Path(cfg["studies_dir"]).glob("*.yaml"))
    check_output_dirs(cfg)
    return cfg


COMMAND_LINE = "command line (--config)"


def yaml_typed(value: Any) -> Any:
    """A ``--config`` value typed as a config file would type it: Snakemake parses nested values (``{epochs: 1}``)
    and words (``true``) as strings; each such string is read again as a YAML scalar (``'1'`` -> 1, ``'true'`` ->
    True, ``'0.001'`` -> 0.001; text stays text)."""
    if isinstance(value, Mapping):
        return {k: yaml_typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [yaml_typed(v) for v in value]
    if isinstance(value, str):
        try:
            typed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return value if isinstance(typed, (dict, list)) else typed
    return value


def _update(base: dict, override: Mapping) -> dict:
    """Snakemake's merge of config layers: mappings recursively, everything else replaced (in place)."""
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _update(base[key], value)
        else:
            base[key] = copy.deepcopy(value) if isinstance(value, Mapping) else value
    return base


def _has_path(data: Any, path: tuple) -> bool:
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            return False
        data = data[key]
    return True


def load_workflow_config(config: Mapping, *, files: Sequence[str | Path] = (),
                         command_line: Mapping | None = None) -> tuple[dict, Callable[[tuple], str]]:
    """The workflow config as Snakemake merged it (``files`` in order of precedence, then ``--config``), checked
    and with defaults, and a function ``origin(key_path)`` naming where a value came from (the command line, a
    config file, the defaults) for error messages.

    Each config file is read again with :func:`load_yaml_file` (a repeated key or a YAML mistake: one line naming
    the file and line); the ``--config`` values are typed as YAML (:func:`yaml_typed`).
    """
    layers = [(f"config file {path}", load_yaml_file(path) or {}) for path in files if Path(path).is_file()]
    cli = yaml_typed(dict(command_line or {}))
    layers.append((COMMAND_LINE, cli))

    def origin(path: tuple) -> str:
        for n in range(len(path), 0, -1):  # the layer that holds the longest part of the path, the last one first
            for name, data in reversed(layers):
                if _has_path(data, path[:n]):
                    return name
        return "config"

    return load_config(_update(copy.deepcopy(dict(config)), cli), where=origin), origin


@dataclass(frozen=True)
class DatasetRef:
    """``dataset/split[@degradation]`` from a study file, e.g. ``div2k/valid`` or ``benchmark/Set5@bd``: the LR
    images made by that degradation (:mod:`sisr.degradations`; default the study's, else ``bicubic``)."""

    dataset: str
    split: str
    degradation: str = paths.DEFAULT_DEGRADATION

    @classmethod
    def parse(cls, text: str, degradation: str = paths.DEFAULT_DEGRADATION) -> "DatasetRef":
        text, _, named = text.partition("@")
        dataset, _, split = text.rpartition("/")
        return cls(dataset, split, named or degradation)

    @property
    def label(self) -> str:
        """File-name-safe label used in result paths: ``Set5`` for benchmark sets, else ``div2k-valid``."""
        if self.dataset == "benchmark":
            return self.split
        return f"{self.dataset.replace(':', '-').replace('/', '-')}-{self.split}"

    @property
    def key(self) -> str:
        """How the set appears in result and cache paths (:func:`sisr.base.paths.set_key`): ``Set5``, ``bd/Set5``."""
        return paths.set_key(self.label, self.degradation)

    def __str__(self) -> str:
        named = "" if self.degradation == paths.DEFAULT_DEGRADATION else f"@{self.degradation}"
        return f"{self.dataset}/{self.split}{named}"


@dataclass(frozen=True)
class Study:
    """A study resolved for one tier."""

    name: str
    tier: str
    spec: dict                                   # the whole validated study file
    runs: dict[str, dict]                        # run -> resolved training settings
    baselines: tuple[str, ...]
    train_data: DatasetRef
    valid_data: DatasetRef
    eval_data: tuple[DatasetRef, ...]
    metrics: tuple[str, ...]
    scale: int
    channels: str
    tables: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    rehearsal: bool = False                      # a dress rehearsal on look-alike data: no claim is comparable
    train_overrides: dict = field(default_factory=dict)  # the workflow's train_overrides, merged into every run

    @property
    def degradation(self) -> str:
        """How the study's LR images are made (its ``degradation``; an evaluation set may name its own)."""
        return self.spec.get("degradation", paths.DEFAULT_DEGRADATION)

    @property
    def in_channels(self) -> int:
        """Image channels the study's models see: 1 for a Y-channel study, else 3 (RGB)."""
        return 1 if self.channels == "y" else 3

    @property
    def tier_description(self) -> str:
        return self.spec["tiers"][self.tier].get("description", self.tier)

    @property
    def all_models(self) -> tuple[str, ...]:
        """Baselines first, then learned runs: every column of the results."""
        return tuple(self.baselines) + tuple(self.runs)

    @property
    def epoch_metrics(self) -> tuple[str, ...]:
        """The metrics to evaluate on the kept checkpoints (:func:`epoch_metrics`)."""
        return epoch_metrics(self.tables, self.metrics)

    @property
    def epoch_runs(self) -> tuple[str, ...]:
        """The runs whose kept checkpoints are evaluated: those that keep any, when there is anything to measure."""
        if not self.epoch_metrics:
            return ()
        return tuple(run for run, cfg in self.runs.items() if cfg.get("keep_checkpoints"))


# history.csv's validation columns (sisr.training.engine.validate): per epoch without a kept checkpoint
LOGGED_PER_EPOCH = ("val_loss", "val_psnr_y", "val_ssim_y")


def epoch_columns(spec: Mapping) -> list[str]:
    """The columns an ``epoch_rows`` table shows: its metrics and their their-protocol columns."""
    return list(spec.get("metrics", {})) + list(spec.get("their_protocol", {}).values())


def epoch_metrics(tables: Mapping, metrics: tuple[str, ...]) -> tuple[str, ...]:
    """Registry metrics that the ``epoch_rows`` tables show per epoch (a column ``val_<metric>``) and history.csv
    does not log, among the tier's ``metrics``: the workflow computes them on each run's kept checkpoints
    (``keep_checkpoints``) on the validation set (rule evaluate_epochs)."""
    out = []
    for spec in tables.values():
        if spec.get("layout") == "epoch_rows":
            out += [c[4:] for c in epoch_columns(spec) if c not in LOGGED_PER_EPOCH and c[4:] in metrics]
    return tuple(dict.fromkeys(out))


def _substitute(template: Any, values: Mapping[str, Any]) -> Any:
    """Replace every string that is exactly ``"{axis}"`` by that axis' value (keeping its type)."""
    if isinstance(template, str) and template.startswith("{") and template.endswith("}") and template[1:-1] in values:
        return values[template[1:-1]]
    if isinstance(template, Mapping):
        return {k: _substitute(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_substitute(v, values) for v in template]
    return template


def expand_sweeps(spec: Mapping, *, where: str) -> dict[str, dict]:
    """Runs generated from ``sweeps``: the product of each sweep's axes, named by its ``name`` template.

    ``{name: "plain_b{blocks}_c{channels}", axes: {blocks: [8, 16], channels: [64]}, run: {model_args:
    {blocks: "{blocks}", channels: "{channels}"}}}`` gives plain_b8_c64 and plain_b16_c64.
    """
    runs: dict[str, dict] = {}
    for i, sweep in enumerate(spec.get("sweeps", [])):
        axes = sweep["axes"]
        for combo in itertools.product(*axes.values()):
            values = dict(zip(axes, combo))
            try:
                name = sweep["name"].format(**{k: _name_part(v) for k, v in values.items()})
            except KeyError as exc:
                raise ConfigError(f"{where}: sweeps.{i}.name: unknown axis {exc} in {sweep['name']!r}") from None
            if name in runs or name in spec.get("runs", {}):
                raise ConfigError(f"{where}: sweeps.{i}: the run name {name!r} is generated twice")
            runs[name] = _substitute(sweep["run"], values)
    return runs


def _name_part(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def check_study_file(path: str | Path) -> Path:
    """``path`` when it is a study file; else ConfigError naming it, with the closest study names of its folder."""
    path = Path(path)
    if not path.is_file():
        available = sorted(p.stem for p in path.parent.glob("*.yaml")) if path.parent.is_dir() else []
        raise ConfigError(f"studies: no study file {path}: {suggest.unknown('study', [path.stem], available, 'studies')}")
    return path


def _study_runs(spec: Mapping, tier_spec: Mapping, *, where: str, tier: str) -> dict[str, dict]:
    """The study's runs and its expanded sweeps, as the tier's ``sweep_subset`` and ``run_subset`` select them."""
    sweeps = {"sweeps": tier_spec.get("sweeps", spec.get("sweeps", [])), "runs": spec.get("runs", {})}
    study_runs = {**spec.get("runs", {}), **expand_sweeps(sweeps, where=where)}
    if tier_spec.get("sweep_subset"):
        keep = set(tier_spec["sweep_subset"])
        study_runs = {r: c for r, c in study_runs.items() if r in spec.get("runs", {}) or r in keep}
    if "run_subset" in tier_spec:
        keep = set(tier_spec["run_subset"])
        unknown = sorted(keep - set(study_runs) - set(tier_spec.get("runs", {})))
        if unknown:
            raise ConfigError(f"{where}: tiers.{tier}.run_subset: no such run(s) {unknown}")
        study_runs = {r: c for r, c in study_runs.items() if r in keep}
    return study_runs


def load_study(path: str | Path, tier: str, *, train_overrides: Mapping | None = None,
               replicas: int | None = None, overrides_from: str = "config") -> Study:
    """Load, validate and resolve a study file for ``tier``.

    ``replicas``: seed replicas per replicated run (the workflow config key), overriding the tier's
    ``replicas.n``; None: the study file decides. An error that only ``train_overrides`` cause names them and
    ``overrides_from`` (where they came from: the command line or a config file) instead of the study file."""
    path = check_study_file(path)
    spec = load_yaml_file(path)
    where = str(path)
    validate(spec, "study", where=where)
    if spec["name"] != path.stem:
        raise ConfigError(f"{where}: name: must equal the file name {path.stem!r}, got {spec['name']!r}")
    if tier not in spec["tiers"]:
        raise ConfigError(f"{where}: tiers: the study has no tier {tier!r} (it has: {', '.join(spec['tiers'])})")
    tier_spec = spec["tiers"][tier]
    study_runs = _study_runs(spec, tier_spec, where=where, tier=tier)
    runs: dict[str, dict] = {}
    study_only: dict[str, dict] = {}  # the same without train_overrides: who is to blame for an error
    names = list(study_runs) + [r for r in tier_spec.get("runs", {}) if r not in study_runs]
    for run in names:
        tier_run = tier_spec.get("runs", {}).get(run, {})
        if run in tier_spec.get("runs", {}) and tier_run is None:
            continue  # left out of this tier
        cfg = deep_merge(spec.get("train", {}), study_runs.get(run, {}))
        cfg = deep_merge(cfg, tier_spec.get("train", {}))
        cfg = deep_merge(cfg, tier_run)
        fixed = {"scale": spec["scale"], "in_channels": 1 if spec.get("channels", "rgb") == "y" else 3}
        study_only[run] = {**cfg, **fixed}
        cfg = deep_merge(cfg, train_overrides or {})
        if "model" not in cfg:
            raise ConfigError(f"{where}: runs.{run}.model: every run needs a model")
        runs[run] = {**cfg, **fixed}
    runs = add_replicas(runs, tier_spec.get("replicas"), spec.get("findings", []), n=replicas, where=where, tier=tier)
    clash = set(runs) & set(spec.get("baselines", []))
    if clash:
        raise ConfigError(f"{where}: runs: names {sorted(clash)} clash with baselines")
    metrics_key = f"tiers.{tier}.metrics" if "metrics" in tier_spec else "metrics"
    metrics = tuple(tier_spec.get("metrics", spec.get("metrics", ["psnr_y", "ssim_y"])))
    try:
        _check_resolved(where, tier, runs, spec.get("baselines", []), metrics, metrics_key, spec)
    except ConfigError as exc:
        if not train_overrides:
            raise
        _check_resolved(where, tier, study_only, spec.get("baselines", []), metrics, metrics_key, spec)
        message = re.sub(rf"^{re.escape(where)}: runs\.[^.:\s]+", f"{overrides_from}: train_overrides", str(exc))
        message = message.removesuffix(f" (tier {tier})")
        raise ConfigError(f"{message} (applied to the runs of {where}, tier {tier})") from None
    _check_epoch_tables(where, tier, runs, spec.get("tables", {}), metrics)
    data = tier_spec["data"]
    degradation = spec.get("degradation", paths.DEFAULT_DEGRADATION)
    refs = {"train": DatasetRef.parse(data["train"], degradation), "valid": DatasetRef.parse(data["valid"], degradation)}
    refs.update({f"eval[{i}]": DatasetRef.parse(d, degradation) for i, d in enumerate(data["eval"])})
    check_degradation(degradation, f"{where}: degradation")
    for key, ref in refs.items():
        check_degradation(ref.degradation, f"{where}: tiers.{tier}.data.{key}")
    return Study(
        name=spec["name"],
        tier=tier,
        spec=spec,
        runs=runs,
        baselines=tuple(spec.get("baselines", [])),
        train_data=refs["train"],
        valid_data=refs["valid"],
        eval_data=tuple(ref for key, ref in refs.items() if key.startswith("eval")),
        metrics=metrics,
        scale=spec["scale"],
        channels=spec.get("channels", "rgb"),
        tables=spec.get("tables", {}),
        figures=spec.get("figures", {}),
        train_overrides=dict(train_overrides or {}),
    )


def _check_resolved(where: str, tier: str, runs: Mapping[str, dict], baselines: list[str], metrics: tuple[str, ...],
                    metrics_key: str, spec: Mapping) -> None:
    """What the schema cannot check, now rather than when a job runs: every run's training settings (model
    name and arguments, loss, optimizer, ...; ``sisr.training.config``), ``{run:NAME}`` references, the
    baselines and the metric names. Errors name the file and the key. Imports no torch."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ConfigError(f"{where}: {metrics_key}: {suggest.unknown('metric', unknown, sorted(METRICS))}")
    in_channels = 1 if spec.get("channels", "rgb") == "y" else 3
    for i, name in enumerate(baselines):
        check_model(name, scale=spec["scale"], in_channels=in_channels, where=f"{where}: baselines[{i}]")
    for run, cfg in runs.items():
        try:
            TrainConfig.from_dict(train_settings(cfg), where=f"{where}: runs.{run}")
        except ConfigError as exc:
            raise ConfigError(f"{exc} (tier {tier})") from None
        init = cfg.get("init_checkpoint")
        if isinstance(init, str) and init.startswith("{run:") and init.endswith("}"):
            ref = init[5:-1]
            if ref not in runs or ref == run:
                raise ConfigError(f"{where}: runs.{run}.init_checkpoint: {init} names no other run of the study "
                                  f"in tier {tier} (runs: {', '.join(runs)})")


def _check_epoch_tables(where: str, tier: str, runs: Mapping[str, dict], tables: Mapping,
                        metrics: tuple[str, ...]) -> None:
    """An ``epoch_rows`` column is logged by training (``LOGGED_PER_EPOCH``) or ``val_<metric>`` of a registry
    metric (measured on kept checkpoints); a column measured in this tier needs every run of the table to keep
    the checkpoint of each of the table's epochs that it reaches (report epoch e = the state after e + 1 epochs)."""
    for name, spec in tables.items():
        if spec.get("layout") != "epoch_rows":
            continue
        bad = [c for c in epoch_columns(spec) if c not in LOGGED_PER_EPOCH and c[4:] not in METRICS]
        if bad:
            raise ConfigError(f"{where}: tables.{name}: unknown per-epoch column(s) {bad}; expected "
                              f"{', '.join(LOGGED_PER_EPOCH)} (logged by training) or val_<metric> (measured on the "
                              f"kept checkpoints) with a metric of: {', '.join(sorted(METRICS))}")
        if not epoch_metrics({name: spec}, metrics):
            continue
        for run in dict.fromkeys(r.split("#")[0] for r in spec.get("runs", {})):
            cfg = runs.get(run)
            if cfg is None:
                continue
            keep = set(cfg.get("keep_checkpoints") or ())
            missing = [e + 1 for e in spec.get("epochs", []) if e + 1 <= (cfg.get("epochs") or 0) and e + 1 not in keep]
            if missing:
                raise ConfigError(f"{where}: runs.{run}.keep_checkpoints: tables.{name} measures "
                                  f"{', '.join(epoch_metrics({name: spec}, metrics))} per epoch on kept checkpoints, "
                                  f"so the run must keep epochs {missing} (1-based: report epoch e is the state after "
                                  f"e + 1 epochs), tier {tier}")


REPLICA_OF = "replica_of"  # a replica's settings name the run it replicates
WORKFLOW_ONLY = ("resources", REPLICA_OF)


def train_settings(run_cfg: Mapping) -> dict:
    """The training settings without the workflow-only keys (``resources``, ``replica_of``)."""
    return {k: v for k, v in run_cfg.items() if k not in WORKFLOW_ONLY}


def size_hint(run_cfg: Mapping) -> float:
    """A torch-free key that orders runs by cost, largest first: ``blocks x channels^2`` of the run's model
    (its ``model_args``, else what the registered name fixes, else the class's defaults: ``ModelSpec.size``; 1 and
    64 for a model with neither) x its epochs.

    Only the workflow's job order uses it (the rules' ``priority``: a free core takes the largest training first,
    so no long chain is left for the end); ``sisr plan`` estimates times from counted multiply-adds instead."""
    spec = SPECS.get(run_cfg.get("model", ""))
    args = {**(spec.size if spec else {}), **(spec.fixed if spec else {}), **(run_cfg.get("model_args") or {})}
    blocks = args.get("blocks", 1)
    channels = args.get("channels", 64)
    blocks = blocks if isinstance(blocks, (int, float)) else 1  # a template placeholder ("{blocks}") counts as 1
    channels = channels if isinstance(channels, (int, float)) else 64
    return float(blocks) * float(channels) ** 2 * float(run_cfg.get("epochs", 1) or 1)


REPLICA_SUFFIX = "_seed"


def replica_name(run: str, k: int) -> str:
    """``espcn_seed1``: the k-th seed replica of ``run`` (k >= 1; the run itself is replica 0)."""
    return f"{run}{REPLICA_SUFFIX}{k}"


def finding_runs(findings: list[Mapping]) -> list[str]:
    """Every run that some finding compares, in order of first mention."""
    return list(dict.fromkeys(r for f in findings for r in f["runs"]))


def add_replicas(runs: dict[str, dict], spec: Mapping | None, findings: list[Mapping], *, n: int | None,
                 where: str, tier: str) -> dict[str, dict]:
    """``runs`` plus seed replicas: for each replicated run, ``<run>_seed1 .. _seed<n-1>``, the same settings with
    ``seed + k`` and ``replica_of: <run>``, right after the run; a replica keeps no per-epoch checkpoints (the
    per-epoch tables show the run itself). ``spec``: the tier's ``replicas`` ({n, runs});
    ``n`` (the workflow config) overrides its n; runs "findings": the trained runs the findings compare."""
    if not spec:
        return runs
    count = spec["n"] if n is None else n
    names = [r for r in finding_runs(findings) if r in runs] if spec["runs"] == "findings" else list(spec["runs"])
    unknown = [r for r in names if r not in runs]
    if unknown:
        raise ConfigError(f"{where}: tiers.{tier}.replicas.runs: no such run(s) {unknown} in tier {tier} "
                          f"(runs: {', '.join(runs)})")
    out: dict[str, dict] = {}
    for run, cfg in runs.items():
        out[run] = cfg
        for k in range(1, count if run in names else 1):
            name = replica_name(run, k)
            if name in runs:
                raise ConfigError(f"{where}: runs.{name}: the name is taken by the replica {k} of run {run!r}")
            replica = {**copy.deepcopy(cfg), "seed": int(cfg.get("seed", 0)) + k, REPLICA_OF: run}
            replica.pop("keep_checkpoints", None)  # per-epoch tables show the run itself: no epoch checkpoints
            out[name] = replica
    return out


HASH_EXCLUDED = ("init_checkpoint", "keep_checkpoints", "keep_optimizer_state")  # where, not how, a run trains


def config_hash(settings: Mapping) -> str:
    """A run's training identity: SHA-256 (16 hex digits) of its resolved training settings as
    :class:`sisr.training.config.TrainConfig` normalises them (so two spellings of one setting agree), without
    the keys that do not change what is trained (``HASH_EXCLUDED``). The same for a study file's resolved run and
    for the ``config`` a finished run wrote into its train_done.json: the claims gate (sisr.report.audit) compares them."""
    plain = TrainConfig.from_dict(train_settings(settings)).to_dict()
    plain = {k: v for k, v in plain.items() if k not in HASH_EXCLUDED}
    text = json.dumps(plain, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def rehearsal_run(run_cfg: Mapping, caps: Mapping | None) -> dict:
    """A run's settings with the schedule capped for a dress rehearsal (config ``rehearsal:``).

    caps: ``epochs`` (epochs of a run, and of each GAN phase: warm-up and generator/discriminator phases,
    the number of rounds kept), ``batch_size`` and ``patch_size`` (LR pixels; None: kept), ``keep_optimizer_state``
    (None: the tier's; False: a rehearsal's throwaway checkpoints end with weights only). The batches per epoch and
    the validation images are capped in the training job (``batches_per_epoch``, ``valid_images``), not in the run's
    settings.
    caps None: the settings unchanged.
    """
    if not caps:
        return dict(run_cfg)
    out = copy.deepcopy(dict(run_cfg))
    epochs = caps.get("epochs", 1)
    if out.get("gan"):
        gan = out["gan"]
        gan["warmup_epochs"] = min(gan.get("warmup_epochs", 0), epochs)
        gan["phase_epochs"] = min(gan["phase_epochs"], epochs)
        out["epochs"] = gan["warmup_epochs"] + 2 * gan["rounds"] * gan["phase_epochs"]
    else:
        out["epochs"] = min(out.get("epochs", epochs), epochs)
    for key in ("batch_size", "patch_size"):
        if caps.get(key) and out.get(key):
            out[key] = min(out[key], caps[key])
    if caps.get("keep_optimizer_state") is not None:
        out["keep_optimizer_state"] = caps["keep_optimizer_state"]
    return out
