# Input functions of the workflow: configuration, study resolution, paths and the jobs' records.
# Everything with logic lives in src/sisr (sisr.config.studies, sisr.workflow.jobs, sisr.config.job_settings); the side effects of parsing
# (sys.path, environment, Ctrl-C handler, onsuccess/onerror messages) are in rules/setup.smk.

import dataclasses
import math
from pathlib import Path

# Nothing imported here imports torch: planning the jobs stays fast (tests/test_workflow_parse.py).
from sisr.config import catalog
from sisr import degradations
from sisr.base import paths
from sisr.base.errors import ConfigError
from sisr.config.job_settings import EvalJob, EvalSet, TrainJob
from sisr.base.paths import Paths
from sisr.config.studies import DatasetRef, load_study, load_workflow_config, rehearsal_run, size_hint, train_settings
from sisr.training.loss_terms import weights_needed as loss_weights_needed
from sisr.metrics.registry import weights_needed as metric_weights_needed
from sisr.data.weights import WEIGHTS as WEIGHT_SPECS

from sisr.data.sources import ARCHIVES


def _config_files():
    """The config files Snakemake read, lowest precedence first: the Snakefile's `configfile:`, then --configfile."""
    given = [str(p) for p in workflow.config_settings.configfiles]
    return [str(p) for p in workflow.configfiles if str(p) not in given] + given


def _load_workflow():
    """CFG and STUDIES: --config values typed as YAML; every error one line naming where the value came from
    (command line, config file, study file), printed without Snakemake's stack frames (SystemExit)."""
    try:
        cfg, origin = load_workflow_config(config, files=_config_files(), command_line=workflow.config_settings.config)
        degradations.register_modules(cfg["degradation_modules"])  # before the study files name them
        for i, name in enumerate(cfg["leaderboard_degradations"]):
            degradations.check_name(name, f"{origin(('leaderboard_degradations',))}: leaderboard_degradations[{i}]")
        studies = {
            name: load_study(
                Path(cfg["studies_dir"]) / f"{name}.yaml",
                cfg["tier"],
                train_overrides=cfg["train_overrides"],
                replicas=cfg["replicas"],
                overrides_from=origin(("train_overrides",)),
            )
            for name in cfg["studies"]
        }
        for study in studies.values():
            catalog.check_datasets(study, cfg["studies_dir"], local=cfg["datasets"])
            catalog.check_splits(study, cfg["studies_dir"], local=cfg["datasets"])
    except ConfigError as exc:
        raise SystemExit(f"sisr-bench: {exc}") from None
    return cfg, studies


CFG, STUDIES = _load_workflow()
# Every path of the scheme (sisr.base.paths): data, caches and weights shared by every tier; results and logs per tier,
# so tiers never overwrite each other. Rules call its methods with "{wildcard}" strings to get their patterns.
P = Paths.from_config(CFG)
DATA = CFG["data_dir"]  # handed to jobs that write under it (build_derived)
WEIGHTS = CFG["weights_dir"]
TIER_LOGS = P.tier_logs

# STUDIES (above) are resolved and checked once (runs with their models and arguments, run references, metrics,
# datasets): a wrong key fails at parse time, naming the study file and the key, before any job runs. Jobs receive
# these resolved specs.
REHEARSAL = CFG["rehearsal"]  # None, or the caps of a dress rehearsal (schedules shortened, same jobs)
if REHEARSAL:
    STUDIES = {
        name: dataclasses.replace(
            study, runs={run: rehearsal_run(cfg, REHEARSAL) for run, cfg in study.runs.items()}, rehearsal=True
        )
        for name, study in STUDIES.items()
    }
LEADERBOARD = catalog.leaderboard_refs(CFG["tier"], CFG["leaderboard_sets"], CFG["leaderboard_degradations"])
if CFG["leaderboard"]:
    for _name, _study in list(STUDIES.items()):
        _extra = tuple(r for r in LEADERBOARD if r not in _study.eval_data)
        STUDIES[_name] = dataclasses.replace(_study, eval_data=_study.eval_data + _extra)


wildcard_constraints:
    study="[a-z0-9_]+",
    run="[a-z0-9_.-]+",
    dataset="[A-Za-z0-9_]+",
    split="[A-Za-z0-9_]+",
    scale="[234]",
    channels="rgb|y",
    evalset="([a-z0-9_]+/)?[A-Za-z0-9_-]+",  # a set's key (sisr.base.paths.set_key): Set5, or bd/Set5 under bd
    degdir="|".join([*(paths.degradation_dir(n) for n in degradations.names() if n != degradations.DEFAULT), ""]),
    weights_file="[A-Za-z0-9_.-]+",
    table="[A-Za-z0-9_]+",
    figure="[A-Za-z0-9_]+",


LOCAL_DATASETS = CFG["datasets"]  # name -> {adapter, root}: local folders, nothing downloaded


def dataset_root(name):
    """Where an adapter reads dataset ``name`` (df2k reads div2k/ and flickr2k/ side by side)."""
    if name in LOCAL_DATASETS:
        return str(Path(LOCAL_DATASETS[name]["root"]).resolve())
    return str(Path(P.dataset_dir(name)).parent) if name == "df2k" else P.dataset_dir(name)


def dataset_adapter(name):
    return LOCAL_DATASETS[name]["adapter"] if name in LOCAL_DATASETS else name


def local_adapter(wildcards):
    return dataset_adapter(wildcards.local)


def local_root(wildcards):
    return dataset_root(wildcards.local)


def dataset_adapter_of(wildcards):
    return dataset_adapter(wildcards.dataset)


def dataset_root_of(wildcards):
    return dataset_root(wildcards.dataset)


def extraction_marker(archive):
    return P.extraction_marker(ARCHIVES[archive].dataset, archive)


NEEDED_ARCHIVES = catalog.needed_archives(STUDIES.values(), local=LOCAL_DATASETS)  # dataset -> archives


def needed_downloads():
    return sorted({P.download(a) for archives in NEEDED_ARCHIVES.values() for a in archives})


def download_summary():
    """What `snakemake download_all` (-n) fetches for the selected tier and studies, or that it needs nothing."""
    from sisr.data.sources import archive

    what = f"tier {CFG['tier']} of {', '.join(STUDIES)}"
    files = needed_downloads()
    if not files:
        sources = sorted({ref.dataset for s in STUDIES.values() for ref in (s.train_data, s.valid_data, *s.eval_data)})
        where = [
            (
                f"{d} (local folder {dataset_root(d)})"
                if d in LOCAL_DATASETS
                else f"{d} (bundled with scikit-image)" if d == "skimage" else d
            )
            for d in sources
        ]
        return f"download_all: {what} needs no downloads; its data: {', '.join(where)}"
    sizes = [archive(Path(f).name, CFG["archives"]).size for f in files]
    unpublished = "" if all(sizes) else " and archives of unpublished size"
    total = f"{sum(s for s in sizes if s) / 1e9:.1f} GB{unpublished}"
    present = [f for f in files if Path(f).is_file()]
    return (
        f"download_all: {what} needs {len(files)} archives ({total}) in {Path(P.download('x')).parent}/, "
        f"{len(present)} already there: {', '.join(Path(f).name for f in files)}"
    )


def dataset_archives(wildcards):
    return sorted(extraction_marker(a) for a in NEEDED_ARCHIVES.get(wildcards.dataset, ()))


def derived_sources(wildcards):
    return sorted(extraction_marker(a) for a in NEEDED_ARCHIVES.get(wildcards.derived, ()))


def dataset_ready_file(wildcards):
    return P.dataset_ready(wildcards.dataset)


def cache_manifest(ref, scale, channels="rgb"):
    return P.cache_manifest(ref.dataset, ref.split, scale, channels, ref.degradation)


def cache_degradation(wildcards):
    """The degradation of a cache job: the one whose folder (sisr.base.paths.degradation_dir) its output is in."""
    return next(n for n in degradations.names() if paths.degradation_dir(n) == wildcards.degdir)


def study_of(wildcards):
    return STUDIES[wildcards.study]


def init_checkpoint_path(study, init):
    """``{run:NAME}`` in a study file means the best checkpoint of run NAME of the same study."""
    if init and init.startswith("{run:") and init.endswith("}"):
        return P.checkpoint(study, init[5:-1])
    return init


def replica_of(wildcards):
    """run -> the run it is a seed replica of (itself for the others): summary.csv's replica_of column."""
    return {run: cfg.get("replica_of", run) for run, cfg in STUDIES[wildcards.study].runs.items()}


def run_settings(wildcards):
    settings = train_settings(STUDIES[wildcards.study].runs[wildcards.run])
    if settings.get("init_checkpoint"):
        settings = {**settings, "init_checkpoint": init_checkpoint_path(wildcards.study, settings["init_checkpoint"])}
    return settings


def train_job_record(wildcards):
    """The training job's one record (sisr.config.job_settings.TrainJob), as the plain dict Snakemake compares for reruns."""
    return TrainJob(
        settings=run_settings(wildcards),
        where=f"{wildcards.study}.runs.{wildcards.run}",
        device=CFG["device"],
        num_workers=CFG["num_workers"],
        weights_dir=WEIGHTS,
        weights_checksums=CFG["weights_checksums"],
        max_batches=rehearsal_cap("batches_per_epoch"),
        valid_images=rehearsal_cap("valid_images"),
    ).to_param()


def derived_params(wildcards):
    return CFG["derived"].get(wildcards.derived, {})


def rehearsal_cap(key):
    return REHEARSAL[key] if REHEARSAL else None


def run_resources(wildcards):
    return STUDIES[wildcards.study].runs[wildcards.run].get("resources", {})


# Job order (Snakemake's `priority`, higher first; ties go to the job with more input bytes): data preparation
# first (cheap, and every training waits for it), then the baselines' evaluations (short, no training to wait for,
# and every table of their study waits for them), then trainings, largest first, then the trained runs'
# evaluations, largest first.
DATA_PRIORITY = 100
BASELINE_PRIORITY = 50


def size_priority(run_cfg):
    """log10 of sisr.config.studies.size_hint (about 3.6 for a 1 x 64 model, 8 for 24 x 612 with 1 epoch)."""
    return round(math.log10(size_hint(run_cfg)), 2)


def eval_priority(wildcards):
    """Larger models' evaluations first (size_priority); baselines BASELINE_PRIORITY: left last, they held every
    study's tables and reports to the end of the quick-tier rehearsal (about a minute of one-core work after the
    last evaluation)."""
    run = STUDIES[wildcards.study].runs.get(wildcards.run)
    return size_priority(run) if run else BASELINE_PRIORITY


def train_priority(wildcards):
    """A training before any evaluation of its size or smaller (+1: it still has its evaluation to come), the
    largest first (rules/train.smk)."""
    return 1 + size_priority(STUDIES[wildcards.study].runs[wildcards.run])


def train_gpus(wildcards):
    return run_resources(wildcards).get("gpus", 1)


def train_mem_mb(wildcards):
    return run_resources(wildcards).get("mem_mb", 16000)


def train_runtime(wildcards):
    return run_resources(wildcards).get("runtime", 240)


def train_cpus(wildcards):
    return run_resources(wildcards).get("cpus", 4)


def train_inputs(wildcards):
    study = STUDIES[wildcards.study]
    inputs = {
        "train": cache_manifest(study.train_data, study.scale, study.channels),
        "valid": cache_manifest(study.valid_data, study.scale, study.channels),
    }
    inputs["weights"] = run_weight_files(wildcards)
    init = study.runs[wildcards.run].get("init_checkpoint")
    if init:
        inputs["init"] = init_checkpoint_path(wildcards.study, init)
    return inputs


def eval_inputs(wildcards):
    study = STUDIES[wildcards.study]
    inputs = {"data": sorted({P.dataset_ready(ref.dataset) for ref in study.eval_data})}
    inputs["weights"] = eval_weight_files(wildcards)
    if wildcards.run in study.runs:
        inputs["checkpoint"] = P.checkpoint(wildcards.study, wildcards.run)
    return inputs


def epoch_eval_inputs(wildcards):
    study = STUDIES[wildcards.study]
    return {
        "data": P.dataset_ready(study.valid_data.dataset),
        "weights": sorted(weight_file(name) for name in metric_weights_needed(study.epoch_metrics)),
        "done": P.train_done(wildcards.study, wildcards.run),
    }


def eval_set(ref):
    """What an evaluation job needs to read the dataset ``ref`` (a DatasetRef): sisr.config.job_settings.EvalSet."""
    return EvalSet(
        dataset=dataset_adapter(ref.dataset),
        split=ref.split,
        label=ref.label,
        root=dataset_root(ref.dataset),
        degradation=ref.degradation,
    )


def eval_job_record(wildcards, refs=None, metrics=None):
    """The evaluation job's one record (sisr.config.job_settings.EvalJob) as a plain dict: the model
    ``wildcards.run`` on ``refs`` (default: every evaluation set of the study, in the order of the rule's outputs)."""
    study = STUDIES[wildcards.study]
    return EvalJob(
        study=wildcards.study,
        run=wildcards.run,
        scale=study.scale,
        in_channels=study.in_channels,
        metrics=tuple(study.metrics if metrics is None else metrics),
        sets=tuple(eval_set(ref) for ref in (study.eval_data if refs is None else refs)),
        tier=CFG["tier"],
        device=eval_device(wildcards),
        weights_dir=WEIGHTS,
        weights_checksums=CFG["weights_checksums"],
        degradation_modules=tuple(CFG["degradation_modules"]),
        max_images=rehearsal_cap("eval_images"),
    ).to_param()


def epoch_eval_job_record(wildcards):
    """The record of a run's per-epoch evaluation: its kept checkpoints on the validation set, the epoch metrics."""
    study = STUDIES[wildcards.study]
    return eval_job_record(wildcards, refs=[study.valid_data], metrics=study.epoch_metrics)


def epoch_evals(wildcards):
    """run -> its kept checkpoints evaluated (rule evaluate_epochs), read by the epoch_rows tables."""
    study = STUDIES[wildcards.study]
    return {run: P.epoch_eval_csv(wildcards.study, run, study.valid_data.key, study.scale) for run in study.epoch_runs}


def eval_runtime(wildcards):
    """Minutes a cluster may give an evaluation job: 60 per evaluation set."""
    return 60 * len(STUDIES[wildcards.study].eval_data)


def eval_gpus(wildcards):
    return 1 if wildcards.run in STUDIES[wildcards.study].runs and train_gpus(wildcards) else 0


def eval_device(wildcards):
    """A job without a GPU resource runs on the CPU (model and LPIPS/FID networks), whatever the machine has."""
    return CFG["device"] if eval_gpus(wildcards) else "cpu"


def study_eval_csvs(wildcards):
    return [csv for csv, _ref in eval_csvs(wildcards.study)]


def eval_sets(wildcards):
    """The evaluation set (label, degradation) of each of summarize's CSVs, in the same order."""
    return [(ref.label, ref.degradation) for _csv, ref in eval_csvs(wildcards.study)]


def eval_csvs(study_name):
    """(evaluation CSV, its DatasetRef) of every model of the study on every evaluation set."""
    study = STUDIES[study_name]
    return [
        (P.eval_csv(study_name, run, ref.key, study.scale), ref) for run in study.all_models for ref in study.eval_data
    ]


def histories(wildcards):
    return list(history_files(wildcards).values())


def history_files(wildcards):
    """run -> its history.csv (the input ``histories`` of the report rules, handed to their jobs as a mapping)."""
    return {run: P.history(wildcards.study, run) for run in STUDIES[wildcards.study].runs}


def run_files(wildcards):
    """What the leaderboard reads of each trained run of every study: best checkpoint and train_done.json."""
    return [
        f
        for name, study in STUDIES.items()
        for run in study.runs
        for f in (P.checkpoint(name, run), P.train_done(name, run))
    ]


def figure_inputs(wildcards):
    study = STUDIES[wildcards.study]
    inputs = {"summary": P.summary(wildcards.study), "study": study_file(wildcards)}
    kind = study.figures[wildcards.figure]["kind"]
    if kind in ("loss_curves", "loss_terms", "metric_curves", "sweep", "family_comparison"):
        inputs["histories"] = histories(wildcards)
    if kind in ("sweep", "family_comparison"):  # run_info: the config each run was trained with
        inputs["done"] = [P.train_done(wildcards.study, run) for run in study.runs]
    if kind in ("comparison_grid", "triptychs"):  # per-image metrics, SR images, HR paths
        refs = [ref for ref in study.eval_data if ref.degradation == study.degradation]
        inputs["evals"] = [
            P.eval_csv(wildcards.study, r, ref.key, study.scale) for r in study.all_models for ref in refs
        ]
        inputs["sr"] = [P.sr_dir(wildcards.study, r, ref.key, study.scale) for r in study.all_models for ref in refs]
    return inputs


def figure_histories(wildcards):
    return history_files(wildcards) if "histories" in figure_inputs(wildcards) else {}


# The figure format shown in the HTML report (one entry per figure); the other formats are plain outputs.
REPORT_FIGURE_FORMAT = next(f for f in ("png", "svg", "pdf") if f in CFG["figures"])
OTHER_FIGURE_FORMATS = [f for f in CFG["figures"] if f != REPORT_FIGURE_FORMAT]


def study_targets(name):
    study = STUDIES[name]
    fmts = CFG["figures"]
    targets = [P.summary(name), P.claims_report(name), P.claims_html(name)]
    targets += [P.table(name, t, ext) for t in study.tables for ext in ("csv", "md", "tex")]
    targets += [P.table_html(name, t) for t in study.tables]
    targets += [P.figure(name, f, ext) for f in study.figures for ext in fmts]
    return targets


def leaderboard_targets():
    if not CFG["leaderboard"]:
        return []
    return [P.leaderboard(ext) for ext in ("csv", "md", "tex", "html")] + [
        P.leaderboard_figure(ext) for ext in CFG["figures"]
    ]


def overview_inputs(wildcards):
    """The landing page of the HTML report: every study's claims audit and the leaderboard's plot."""
    inputs = {"claims": [P.claims_report(name) for name in STUDIES]}
    if CFG["leaderboard"]:
        inputs["leaderboard"] = P.leaderboard_figure(REPORT_FIGURE_FORMAT)
    return inputs


def all_summaries():
    return [P.summary(name) for name in STUDIES]


def all_targets():
    return [t for name in STUDIES for t in study_targets(name)] + leaderboard_targets() + [P.overview()]


def study_file(wildcards):
    return str(Path(CFG["studies_dir"]) / f"{wildcards.study}.yaml")


def weight_file(name):
    return P.weight_file(WEIGHT_SPECS[name].filename)


def all_weight_files():
    return [weight_file(name) for name in WEIGHT_SPECS]


def run_weight_files(wildcards):
    """Pretrained files a training run needs (its loss terms); fetched by fetch_weights if missing."""
    terms = STUDIES[wildcards.study].runs[wildcards.run]["loss"]
    return sorted(weight_file(name) for name in loss_weights_needed(terms))


def eval_weight_files(wildcards):
    metrics = STUDIES[wildcards.study].metrics
    return sorted(weight_file(name) for name in metric_weights_needed(metrics))


# Path prefixes handed to jobs are derived from their own inputs/outputs (works without a shared filesystem).
def parent_of_output(wildcards, output):
    return str(Path(output[0]).parent)


def grandparent_of_output(wildcards, output):
    return str(Path(output[0]).parent.parent)


def weights_cache_of_output(wildcards, output):
    return str(Path(output[0]).parents[2])  # <weights_dir>/hub/checkpoints/<file>


def study_dir_of(wildcards):
    return P.study_dir(wildcards.study)


def archive_source(wildcards):
    """URL, size and checksums of an archive (shown by `snakemake -n download_all`)."""
    from sisr.data.sources import archive

    row = archive(wildcards.archive, CFG["archives"])
    parts = [row.url, f"{row.size:,} bytes" if row.size else "size unpublished"]
    parts += [f"sha256 {row.sha256}"] if row.sha256 else []
    parts += [f"md5 {row.md5}"] if row.md5 else []
    return ", ".join(parts)


NOTE = catalog.REHEARSAL_NOTE if REHEARSAL else ""  # captions of a rehearsal say so first


def table_caption(wildcards):
    study = STUDIES[wildcards.study]
    return catalog.caption(study, study.tables[wildcards.table], note=NOTE)


def figure_caption(wildcards):
    study = STUDIES[wildcards.study]
    return catalog.caption(study, study.figures[wildcards.figure], note=NOTE)


def claims_caption(wildcards):
    return catalog.claims_caption(STUDIES[wildcards.study], note=NOTE)


def overview_caption(wildcards):
    return catalog.overview_caption(STUDIES.values(), CFG["tier"], note=NOTE)


def leaderboard_caption(wildcards):
    return catalog.leaderboard_caption(STUDIES, CFG["tier"], LEADERBOARD, note=NOTE)
