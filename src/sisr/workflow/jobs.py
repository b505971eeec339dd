"""One function per workflow rule. ``workflow_scripts/*.py`` only unpack the ``snakemake`` object and call these,
so every step of the workflow can be tested (and run by hand) without Snakemake.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import pandas as pd

from sisr import degradations
from sisr.base.device import resolve_device, set_default
from sisr.base.errors import SisrError
from sisr.base.io import atomic_write, write_json
from sisr.data.cache import build_cache
from sisr.data.datasets import get_dataset, prepare_skimage
from sisr.data.derived import build_derived
from sisr.data.download import extract, fetch_archive, verify_archive
from sisr.data.sources import archive as catalogue_row
from sisr.data.weights import WEIGHTS, fetch, override_checksums, use_cache
from sisr.evaluation import evaluate
from sisr.metrics.registry import check_metric_names, check_weights, get as metric
from sisr.config.job_settings import EvalJob, EvalSet, LoggingSettings, TrainJob, logging_settings

log = logging.getLogger("sisr")


class _Tee:
    """Writes to several streams, starting every line with ``prefix`` (e.g. ``study/run``) when given."""
    def __init__(self, *streams, prefix: str = ""):
        self.streams = streams
        self.prefix = prefix
        self.console = streams[0]  # the terminal (a progress bar goes there only, not into the log file)
        self._line_start = True

    def write(self, data):
        text = data
        if self.prefix and data:
            lines = data.splitlines(keepends=True)
            text = "".join((f"{self.prefix} " if (self._line_start if i == 0 else True) else "") + line
                           for i, line in enumerate(lines))
            self._line_start = data.endswith("\n")
        for s in self.streams:
            s.write(text)
            s.flush()
        return len(data)

    def flush(self):
        for s in self.streams:
            s.flush()

    def isatty(self) -> bool:
        return False


_WATCHER: threading.Thread | None = None


def exit_with_parent(interval_s: float = 1.0) -> threading.Thread:
    """Send this process SIGTERM when its parent (Snakemake, or a cluster job's shell) dies, even by SIGKILL.

    Every workflow job watches (:func:`job_log` starts it), so none runs on as an orphan beside the job a rerun
    would start: a trainer saves its checkpoint and exits (code 143); any other job ends at once (its outputs are
    written atomically, so nothing half-written stays). A daemon thread compares ``os.getppid()`` with the parent
    at start; one per process (a second call returns the running one).
    """
    global _WATCHER
    if _WATCHER is not None and _WATCHER.is_alive():
        return _WATCHER
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval_s)
        print(f"the parent process {parent} is gone: stopping (SIGTERM to myself); a Snakemake that was killed "
              f"leaves its lock: if the rerun says the directory cannot be locked, run it once with --unlock first",
              file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGTERM)

    _WATCHER = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    _WATCHER.start()
    return _WATCHER


@contextlib.contextmanager
def job_log(path: str | Path | None, prefix: str = "", watch_parent: bool = True) -> Iterator[None]:
    """Send stdout, stderr and the ``sisr`` logger to ``path`` (and keep them on the console).

    With ``prefix`` (``study/run``), every line starts with it, so that the lines of parallel jobs can be told
    apart on the console. Interrupted (Ctrl-C / SIGTERM) after saving a checkpoint, the job ends with the
    trainer's one-line message and exit code 128 + signal, without a traceback. ``watch_parent``: stop when the
    parent process dies (:func:`exit_with_parent`).
    """
    if watch_parent:
        exit_with_parent()
    if not path:
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(out, fh, prefix=prefix), _Tee(err, fh, prefix=prefix)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            yield
        except SisrError as exc:  # bad input or a diverged run: one line in the log and on the console, no traceback
            print(f"ERROR: {' '.join(str(exc).split())}", file=sys.stderr)
            raise SystemExit(2) from None
        except KeyboardInterrupt:  # Ctrl-C outside training (a trainer saves first, then exits 130 itself)
            print("interrupted (Ctrl-C); rerun the same command to continue (training resumes from its last "
                  "checkpoint)", file=sys.stderr)
            raise SystemExit(130) from None
        except Exception as exc:  # the log names the failure, Snakemake shows the log path
            print(f"ERROR: {type(exc).__name__}: {exc}", file=sys.stderr)
            raise
        finally:
            root.removeHandler(handler)
            sys.stdout, sys.stderr = out, err


# ---------------------------------------------------------------------------------------------- data


def prepare_skimage_job(*, root: str, marker: str) -> None:
    """Materialise the scikit-image demo photographs as HR PNGs + MATLAB-bicubic LR (x2, x3, x4)."""
    manifest = prepare_skimage(root, scales=(2, 3, 4))
    write_json(marker, {"dataset": "skimage", "root": root, "manifest": manifest})


def download_job(*, archive: str, downloads_dir: str, mirror: str | None = None,
                 overrides: Mapping | None = None) -> None:
    """Download one catalogue archive, verified (resumes a partial download)."""
    path = fetch_archive(archive, downloads_dir, mirror=mirror, overrides=overrides)
    print(f"ok {path}")


def extract_job(*, archive: str, marker: str, overrides: Mapping | None = None) -> None:
    """Verify an archive against its catalogue row (whoever put it in ``downloads/``), then extract it into its
    dataset folder; the marker is written by ``extract`` when complete. overrides: the config's ``archives``."""

    verify_archive(archive, overrides)
    made = extract(archive, Path(marker).parent, contents=catalogue_row(Path(archive).name, overrides).contents)
    if Path(made) != Path(marker):
        raise SisrError(f"extract wrote {made}, expected {marker}")


def dataset_ready_job(*, dataset: str, markers: Sequence[str], out: str) -> None:
    """Mark a downloaded dataset as complete (lists the archives it was extracted from)."""
    write_json(out, {"dataset": dataset, "archives": [Path(m).name[1:-len(".complete")] for m in markers]})


def local_dataset_job(*, name: str, adapter: str, root: str, out: str) -> None:
    """A dataset in a local folder: check that it exists, then mark it ready."""
    if not Path(root).is_dir():
        raise SisrError(f"datasets.{name}.root: {root} is not a folder")
    write_json(out, {"dataset": name, "adapter": adapter, "root": str(Path(root).resolve())})


def build_derived_job(*, name: str, data_dir: str, out: str, on_bad_image: str = "error",
                      params: Mapping | None = None) -> None:
    """Cut a study's derived dataset (tiles, split, letterbox) deterministically; manifest in its folder.

    params: the builder's keyword arguments from the config's ``derived.<name>`` (default: the studies' values).
    """

    manifest = build_derived(name, data_dir=data_dir, out_dir=Path(out).parent, on_bad=on_bad_image,
                             **dict(params or {}))
    write_json(out, {"dataset": name, "manifest": str(manifest)})


def build_cache_job(*, dataset: str, split: str, scale: int, root: str, manifest: str, on_bad_image: str,
                    channels: str = "rgb", degradation: str = degradations.DEFAULT,
                    degradation_modules: Sequence[str] = ()) -> None:
    """Decode a dataset split into the uint8 cache that training reads (LR images by ``degradation``)."""
    degradations.register_modules(degradation_modules)
    pairs = get_dataset(dataset, root=root, split=split, scale=scale)
    build_cache(pairs, Path(manifest).parent, scale=scale, mode=channels, on_bad=on_bad_image,
                degradation=degradation)
    if not Path(manifest).is_file():
        raise SisrError(f"build_cache did not write {manifest}")


def use_weights(weights_dir: str | None, checksums: Mapping | None = None) -> None:
    """Point this job at the weights cache and apply the config's ``weights_checksums`` (rehearsals)."""
    if weights_dir:
        use_cache(weights_dir)
    override_checksums(dict(checksums or {}))


def fetch_weights_job(*, filename: str, dest: str, mirror: str | None = None,
                      checksums: Mapping | None = None) -> None:
    """Fetch the pretrained file named ``filename`` (a file name of sisr.data.weights.WEIGHTS) into ``dest``."""
    use_weights(None, checksums)

    names = [name for name, spec in WEIGHTS.items() if spec.filename == filename]
    if not names:
        raise SisrError(f"fetch_weights: {filename} is not a known weights file "
                        f"(known: {', '.join(s.filename for s in WEIGHTS.values())})")
    for path in fetch(names, dest=dest, mirror=mirror):
        print(f"ok {path}")


# ---------------------------------------------------------------------------------------------- training


def train_job(job: TrainJob, *, train_manifest: str, valid_manifest: str, out_dir: str,
              logging: LoggingSettings | None = None) -> None:
    """Train one run of a study (resuming from ``out_dir/checkpoint_last.pt`` if present).

    job: the resolved record (``sisr.config.job_settings.TrainJob``). logging: progress lines and TensorBoard
    (default: what the workflow exported, :func:`sisr.config.job_settings.logging_settings`); with ``tensorboard``
    the history also goes as TensorBoard scalars to ``out_dir/tensorboard/``.
    """
    from sisr.data.loader import open_train_source, open_valid_source  # deferred: torch; only the train job needs it
    from sisr.training import TrainConfig, train  # deferred: torch; only the train job needs it

    logging = logging or logging_settings()
    use_weights(job.weights_dir, job.weights_checksums)
    cfg = TrainConfig.from_dict(dict(job.settings), where=job.where)
    kind, n = cfg.epoch_def.kind, cfg.epoch_def.n
    train_source = open_train_source(
        Path(train_manifest).parent, scale=cfg.scale, patch_size=cfg.patch_size, batch_size=cfg.batch_size,
        epoch_def=kind, augment=cfg.augment, seed=cfg.seed, num_workers=job.num_workers,
        patches_per_image=n if kind == "patches_per_image" else None, iterations=n if kind == "iterations" else None,
        max_batches=job.max_batches,
    )
    valid_source = open_valid_source(Path(valid_manifest).parent, scale=cfg.scale, max_images=job.valid_images)
    exit_with_parent()
    board = None
    if logging.tensorboard:
        from sisr.workflow.tensorboard import TensorBoardHistory  # deferred: tensorboard is an optional extra

        board = TensorBoardHistory(Path(out_dir) / "tensorboard")
    try:
        train(cfg, train_source=train_source, valid_source=valid_source, out_dir=out_dir, device=job.device,
              name=job.where, progress_every_s=logging.progress_every_s, on_epoch=board)
    finally:
        if board is not None:
            board.close()


# ---------------------------------------------------------------------------------------------- evaluation


def evaluate_job(job: EvalJob, *, checkpoint: str | None, out_csvs: Sequence[str],
                 sr_dirs: Sequence[str]) -> list[pd.DataFrame]:
    """Evaluate one model (a baseline such as ``bicubic``, or the trained run in ``checkpoint``) on every set of
    ``job.sets``, each set's LR images made by its degradation; write the per-image CSV of set ``i`` to
    ``out_csvs[i]`` (with a ``degradation`` column) and its SR images to ``sr_dirs[i]``.

    The model, torch and the LPIPS/FID networks are loaded once for all sets. ``job.device`` is the job's: the
    workflow passes ``cpu`` to a job without a GPU resource, and then the model and the metric networks all run
    on the CPU (``sisr.base.device.set_default``).
    """
    if not len(out_csvs) == len(sr_dirs) == len(job.sets):
        raise SisrError(f"evaluate {job.study}/{job.run}: {len(job.sets)} evaluation sets but {len(out_csvs)} CSVs "
                        f"and {len(sr_dirs)} SR folders")
    dev, loaded = _load_for_eval(job, checkpoint or job.run)
    return [_evaluate_set(job, ref, loaded, dev, out_csv=csv, sr_dir=sr, warm_up=i == 0)  # one warm-up per job
            for i, (ref, csv, sr) in enumerate(zip(job.sets, out_csvs, sr_dirs))]


def _load_for_eval(job: EvalJob, model: str):
    """Check the job's names (metrics, degradations, weights) before loading anything, then load ``model`` (a
    baseline's name or a checkpoint path) on the job's device."""
    from sisr.training.inference import check_scale, load_any_model  # deferred: torch; the dry run must not import it

    check_metric_names(job.metrics)
    degradations.register_modules(job.degradation_modules)
    for ref in job.sets:
        degradations.get(ref.degradation)  # an unknown name fails before the model loads
    if job.weights_dir:
        use_weights(job.weights_dir, job.weights_checksums)
        check_weights(list(job.metrics))
    set_default(job.device)
    dev = resolve_device(job.device)
    loaded = load_any_model(model, scale=job.scale, in_channels=job.in_channels, device=dev)
    check_scale(loaded, job.scale, model)
    return dev, loaded


def _capped(pairs: list, job: EvalJob, label: str) -> list:
    """The first ``job.max_images`` pairs (a rehearsal's cap), or more where a per-set metric of the job needs them
    (``Metric.min_images``); every pair when the job has no cap."""
    if job.max_images is None or len(pairs) <= job.max_images:
        return pairs
    keep = max([job.max_images, *(metric(m).min_images for m in job.metrics)])
    if keep < len(pairs):
        log.info("%s/%s: the first %d of the %d images of %s (a rehearsal's eval_images cap)", job.study, job.run,
                 keep, len(pairs), label)
    return pairs[:keep]


def _evaluate_set(job: EvalJob, ref: EvalSet, loaded, dev, *, out_csv: str, sr_dir: str,
                  warm_up: bool = True) -> pd.DataFrame:
    """One loaded model on one set: the per-image DataFrame (set-level metrics such as FID on every row), written
    to ``out_csv``. ``warm_up``: run the model once before timing the first image (the job's first set only)."""
    pairs = _capped(get_dataset(ref.dataset, root=ref.root, split=ref.split, scale=job.scale), job, ref.label)
    named = "" if ref.degradation == degradations.DEFAULT else f" {ref.degradation}"
    in_channels = job.in_channels if job.in_channels == 1 else loaded.in_channels
    df = evaluate(pairs, scale=job.scale, metrics=job.metrics, model=loaded.model, sr_dir=sr_dir, device=dev,
                  in_channels=in_channels, label=f"{ref.label} x{job.scale}{named}", degradation=ref.degradation,
                  warm_up=warm_up)
    set_metrics = df.attrs.get("set_metrics", {})
    for i, (column, value) in enumerate([("study", job.study), ("run", job.run), ("model", loaded.name),
                                         ("dataset", ref.label), ("scale", job.scale),
                                         ("degradation", ref.degradation)]):
        df.insert(i, column, value)
    for name, value in set_metrics.items():
        df[name] = value[0] if isinstance(value, tuple) else value  # set-level: the same value on every row
    df["tier"] = job.tier
    df["device"] = str(dev)
    df["color"] = "y" if job.in_channels == 1 else "rgb"
    with atomic_write(out_csv, "w") as fh:
        df.to_csv(fh, index=False)
    return df


def evaluate_epochs_job(job: EvalJob, *, done: str, out_csv: str) -> pd.DataFrame:
    """Evaluate every checkpoint a run kept (train_done.json's ``kept_checkpoints``) on the job's one set (the
    validation set), as :func:`evaluate_job` does; one CSV, a row per (epoch, image) (set metrics such as FID: the
    epoch's value on each of its rows). The SR images are scored and then deleted."""
    if len(job.sets) != 1:
        raise SisrError(f"evaluate_epochs {job.study}/{job.run}: one set (the validation set), not {len(job.sets)}")
    run_dir = Path(done).parent
    kept = json.loads(Path(done).read_text()).get("kept_checkpoints") or {}
    for epoch, name in kept.items():
        if not (run_dir / name).is_file():
            raise SisrError(f"{run_dir / name}: missing, though {done} lists it as the checkpoint kept after epoch "
                            f"{epoch}; retrain the run (delete {run_dir}) to make it again")
    frames = []
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=Path(out_csv).parent, prefix=".tmp_eval_epochs_") as tmp:
        for epoch, name in sorted(kept.items(), key=lambda item: int(item[0])):
            log.info("%s/%s: the checkpoint kept after epoch %s (%s) on %s", job.study, job.run, epoch, name,
                     job.sets[0].label)
            [df] = evaluate_job(job, checkpoint=str(run_dir / name), out_csvs=[f"{tmp}/epoch{epoch}.csv"],
                                sr_dirs=[f"{tmp}/sr_epoch{epoch}"])
            df.insert(6, "epoch", int(epoch))
            frames.append(df)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["study", "run", "model", "dataset", "scale", "degradation", "epoch", "image", *job.metrics])
    with atomic_write(out_csv, "w") as fh:
        out.to_csv(fh, index=False)
    return out


def summarize_job(*, csvs: Sequence[str], out: str, sets: Sequence[tuple[str, str]],
                  replica_of: Mapping[str, str] | None = None) -> pd.DataFrame:
    """summary.csv of a study (``sisr.report.aggregate.summarize``; its runs' train_done.json in the summary's folder);
    ``sets``: the (label, degradation) of each CSV, in order (from the workflow, never read back from the file
    names); ``replica_of``: replica run -> its run."""
    from sisr.report.aggregate import summarize  # deferred: jsonschema, yaml (50 ms) only for the report jobs

    if len(sets) != len(csvs):
        raise SisrError(f"summarize: {len(csvs)} CSVs but {len(sets)} evaluation sets")
    summary = summarize(csvs, labels=[label for label, _ in sets], replica_of=replica_of,
                        degradations=[degradation for _, degradation in sets], study_dir=Path(out).parent)
    with atomic_write(out, "w") as fh:
        summary.to_csv(fh, index=False)
    return summary


# ---------------------------------------------------------------------------------------------- report
# The report rules receive the study resolved by the workflow (``sisr.config.studies.Study``), not its file.


def table_job(*, study, table: str, summary: str, out_csv: str, out_md: str, out_tex: str,
              histories: Mapping[str, str] | None = None, epoch_evals: Mapping[str, str] | None = None) -> None:
    """One table of a study; ``histories``, ``epoch_evals``: run -> its history.csv, its epoch evaluation CSV
    (inputs of the rule)."""
    from sisr.report.render import write_study_table  # deferred: jsonschema, yaml (50 ms) only for the report jobs

    write_study_table(study, table, summary=summary, out_csv=out_csv, out_md=out_md, out_tex=out_tex,
                      histories=histories, epoch_evals=epoch_evals)


def claims_report_job(*, study, summary: str, out: str, histories: Mapping[str, str] | None = None,
                      study_file: str | None = None, epoch_evals: Mapping[str, str] | None = None) -> None:
    """REPORT.md: the study's findings and claims judged (sisr.report.audit); ``study_file`` gives the paper tier's
    config hashes (the gate of a verdict); ``epoch_evals``: run -> its epoch evaluation CSV."""
    from sisr.report.audit import study_report  # deferred: 0.16 s of imports only the claims job needs

    text = study_report(study, summary=summary, histories=histories, study_file=study_file, epoch_evals=epoch_evals)
    with atomic_write(out, "w") as fh:
        fh.write(text)


def figure_job(*, study, figure: str, study_dir: str, summary: str, histories: Mapping[str, str] | None = None,
               outputs: Sequence[str]) -> None:
    """Draw one figure of a study (its kind is in the study file) from the files of ``study_dir``; ``histories``:
    run -> history.csv."""
    from sisr.report import figures  # deferred: matplotlib and seaborn (0.5 s); only the figure job draws

    fig = figures.study_figure(study, figure, study_dir=study_dir, summary=summary,
                               histories=histories)
    figures.save_figure(fig, outputs)


def leaderboard_job(*, summaries: Sequence[str], datasets: Sequence[str], out_csv: str, out_md: str, out_tex: str,
                    figures: Sequence[str], degradations: Sequence[str] | None = None) -> None:
    """Every model of every study on the leaderboard sets (under each of ``degradations``), with published rows
    and costs."""
    from sisr.report.leaderboard import write_leaderboard  # deferred: torch and matplotlib; only the leaderboard job

    write_leaderboard(summaries, datasets=datasets, out_csv=out_csv, out_md=out_md, out_tex=out_tex, figures=figures,
                      degradations=degradations)
