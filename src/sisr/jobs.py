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
import threading
import time
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import yaml

from sisr.errors import SisrError
from sisr.io import atomic_write, write_json

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


@contextlib.contextmanager
def job_log(path: str | Path | None, prefix: str = "") -> Iterator[None]:
    """Send stdout, stderr and the ``sisr`` logger to ``path`` (and keep them on the console).

    With ``prefix`` (``study/run``), every line starts with it, so that the lines of parallel jobs can be told
    apart on the console. Interrupted (Ctrl-C / SIGTERM) after saving a checkpoint, the job ends with the
    trainer's one-line message and exit code 128 + signal, without a traceback.
    """
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
    from sisr.data.datasets import prepare_skimage

    manifest = prepare_skimage(root, scales=(2, 3, 4))
    write_json(marker, {"dataset": "skimage", "root": root, "manifest": manifest})


def download_job(*, archive: str, downloads_dir: str, mirror: str | None = None,
                 overrides: Mapping | None = None) -> None:
    """Download one catalogue archive, verified (resumes a partial download)."""
    from sisr.data.download import fetch_archive

    path = fetch_archive(archive, downloads_dir, mirror=mirror, overrides=overrides)
    print(f"ok {path}")


def extract_job(*, archive: str, marker: str) -> None:
    """Extract an archive into its dataset folder; the marker is written by ``extract`` when complete."""
    from sisr.data.download import extract

    made = extract(archive, Path(marker).parent)
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
    from sisr.data.derived import build_derived

    manifest = build_derived(name, data_dir=data_dir, out_dir=Path(out).parent, on_bad=on_bad_image,
                             **dict(params or {}))
    write_json(out, {"dataset": name, "manifest": str(manifest)})


def build_cache_job(*, dataset: str, split: str, scale: int, root: str, manifest: str, on_bad_image: str,
                    channels: str = "rgb") -> None:
    """Decode a dataset split into the uint8 cache that training reads."""
    from sisr.data.cache import build_cache
    from sisr.data.datasets import get_dataset

    pairs = get_dataset(dataset, root=root, split=split, scale=scale)
    build_cache(pairs, Path(manifest).parent, scale=scale, mode=channels, on_bad=on_bad_image)
    if not Path(manifest).is_file():
        raise SisrError(f"build_cache did not write {manifest}")


def use_weights(weights_dir: str | None, checksums: Mapping | None = None) -> None:
    """Point this job at the weights cache and apply the config's ``weights_checksums`` (rehearsals)."""
    from sisr.weights import override_checksums, use_cache

    if weights_dir:
        use_cache(weights_dir)
    override_checksums(dict(checksums or {}))


def fetch_weights_job(*, filename: str, dest: str, mirror: str | None = None,
                      checksums: Mapping | None = None) -> None:
    """Fetch the pretrained file named ``filename`` (a file name of sisr.weights.WEIGHTS) into ``dest``."""
    from sisr.weights import WEIGHTS, fetch

    use_weights(None, checksums)

    names = [name for name, spec in WEIGHTS.items() if spec.filename == filename]
    if not names:
        raise SisrError(f"fetch_weights: {filename} is not a known weights file "
                        f"(known: {', '.join(s.filename for s in WEIGHTS.values())})")
    for path in fetch(names, dest=dest, mirror=mirror):
        print(f"ok {path}")


# ---------------------------------------------------------------------------------------------- training


def exit_with_parent(interval_s: float = 1.0) -> threading.Thread:
    """Send this process SIGTERM when its parent (Snakemake, or a cluster job's shell) dies, even by SIGKILL.

    A trainer then saves its checkpoint and exits (code 143) instead of running on as an orphan beside the
    trainer a rerun would start. A daemon thread compares ``os.getppid()`` with the parent at start.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval_s)
        print(f"the parent process {parent} is gone: stopping (SIGTERM to myself)", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread


def train_job(*, settings: Mapping, train_manifest: str, valid_manifest: str, out_dir: str, device: str = "auto",
              num_workers: int = 0, weights_dir: str | None = None, where: str = "run",
              progress_every_s: float = 60.0, tensorboard: bool = False,
              weights_checksums: Mapping | None = None, max_batches: int | None = None,
              valid_images: int | None = None) -> None:
    """Train one run of a study (resuming from ``out_dir/checkpoint_last.pt`` if present).

    ``tensorboard``: also write the history as TensorBoard scalars to ``out_dir/tensorboard/``.
    max_batches, valid_images: a rehearsal's caps (batches per epoch; validation on the first N images).
    """
    from sisr.data.loader import open_train_source, open_valid_source
    from sisr.training import TrainConfig, train

    use_weights(weights_dir, weights_checksums)
    cfg = TrainConfig.from_dict(dict(settings), where=where)
    kind, n = cfg.epoch_def.kind, cfg.epoch_def.n
    train_source = open_train_source(
        Path(train_manifest).parent, scale=cfg.scale, patch_size=cfg.patch_size, batch_size=cfg.batch_size,
        epoch_def=kind, augment=cfg.augment, seed=cfg.seed, num_workers=num_workers,
        patches_per_image=n if kind == "patches_per_image" else None, iterations=n if kind == "iterations" else None,
        max_batches=max_batches,
    )
    valid_source = open_valid_source(Path(valid_manifest).parent, scale=cfg.scale, max_images=valid_images)
    exit_with_parent()
    board = None
    if tensorboard:
        from sisr.tensorboard import TensorBoardHistory

        board = TensorBoardHistory(Path(out_dir) / "tensorboard")
    try:
        train(cfg, train_source=train_source, valid_source=valid_source, out_dir=out_dir, device=device, name=where,
              progress_every_s=progress_every_s, on_epoch=board)
    finally:
        if board is not None:
            board.close()


# ---------------------------------------------------------------------------------------------- evaluation

from sisr.evaluation import image_line  # noqa: E402,F401  (moved to sisr.evaluation; kept importable here)


def evaluate_job(*, study: str, run: str, model: str, checkpoint: str | None, dataset: str, split: str, root: str,
                 label: str, scale: int, in_channels: int, metrics: Sequence[str], out_csv: str, sr_dir: str, tier: str,
                 device: str = "auto", weights_dir: str | None = None,
                 weights_checksums: Mapping | None = None) -> pd.DataFrame:
    """Evaluate one model (baseline or trained run) on one evaluation set; write the per-image CSV.

    ``device`` is the job's: the workflow passes ``cpu`` to a job without a GPU resource, and then the
    model and the LPIPS/FID networks all run on the CPU (``sisr.device.set_default``).
    """
    from sisr.data.datasets import get_dataset
    from sisr.device import resolve_device, set_default
    from sisr.evaluation import evaluate
    from sisr.inference import check_scale, load_any_model
    from sisr.metrics.registry import check_metric_names, check_weights

    check_metric_names(metrics)
    if weights_dir:
        use_weights(weights_dir, weights_checksums)
        check_weights(list(metrics))
    set_default(device)
    dev = resolve_device(device)
    loaded = load_any_model(checkpoint or model, scale=scale, in_channels=in_channels, device=dev)
    check_scale(loaded, scale, checkpoint or model)
    net, model_name, net_channels = loaded.model, loaded.name, loaded.in_channels
    pairs = get_dataset(dataset, root=root, split=split, scale=scale)
    df = evaluate(pairs, scale=scale, metrics=metrics, model=net, sr_dir=sr_dir, device=dev,
                  in_channels=in_channels if in_channels == 1 else net_channels, label=f"{label} x{scale}")
    set_metrics = df.attrs.get("set_metrics", {})
    df.insert(0, "study", study)
    df.insert(1, "run", run)
    df.insert(2, "model", model_name)
    df.insert(3, "dataset", label)
    df.insert(4, "scale", scale)
    for name, value in set_metrics.items():
        df[name] = value[0] if isinstance(value, tuple) else value  # set-level: the same value on every row
    df["tier"] = tier
    df["device"] = str(dev)
    df["color"] = "y" if in_channels == 1 else "rgb"
    with atomic_write(out_csv, "w") as fh:
        df.to_csv(fh, index=False)
    return df


NON_METRIC_COLUMNS = ("study", "run", "model", "dataset", "scale", "image", "height", "width", "seconds", "tier",
                      "hr_path", "device", "color", "status")


def train_status(run_dir: str | Path) -> str:
    """How a run's training ended (train_done.json's stop_reason: completed, early_stopping, max_seconds,
    diverged); "" for a baseline (no training)."""
    done = Path(run_dir) / "train_done.json"
    return json.loads(done.read_text()).get("stop_reason", "") if done.is_file() else ""


def diverged_runs(study_dir: str | Path, runs: Sequence[str]) -> dict[str, str]:
    """run -> "epoch E: reason" for the runs whose training ended diverged (``divergence.policy: record``)."""
    out = {}
    for run in runs:
        done = Path(study_dir) / run / "train_done.json"
        if done.is_file():
            info = json.loads(done.read_text())
            if info.get("stop_reason") == "diverged":
                detail = info.get("diverged") or {}
                out[run] = f"epoch {detail.get('epoch')}: {detail.get('reason')}"
    return out


def summarize(csvs: Sequence[str | Path], *, labels: Sequence[str] | None = None) -> pd.DataFrame:
    """summary.csv: one row per (run, dataset, scale) with the mean of every metric over the images.

    ``status``: how the run's training ended (:func:`train_status`; "" for baselines), so tables can mark
    diverged runs.

    ``labels`` (same order as ``csvs``) set the ``dataset`` column (the evaluation-set label of the path scheme).
    """
    rows = []
    for i, path in enumerate(csvs):
        df = pd.read_csv(path)
        if df.empty:
            raise SisrError(f"{path}: no evaluated images")
        metrics = [c for c in df.columns if c not in
                   NON_METRIC_COLUMNS]
        row = {
            "study": df["study"].iloc[0],
            "run": df["run"].iloc[0],
            "model": df["model"].iloc[0],
            "dataset": labels[i] if labels else df["dataset"].iloc[0],
            "scale": int(df["scale"].iloc[0]),
            "n_images": len(df),
            "tier": df["tier"].iloc[0] if "tier" in df.columns else "",
            "seconds_per_image": float(df["seconds"].mean()) if "seconds" in df.columns else np.nan,
            "device": df["device"].iloc[0] if "device" in df.columns else "",
            "color": df["color"].iloc[0] if "color" in df.columns else "rgb",
            "status": train_status(Path(path).parents[1]),
        }
        for m in metrics:
            row[m] = float(df[m].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def summarize_job(*, csvs: Sequence[str], out: str) -> pd.DataFrame:
    # the evaluation-set label is the file name: <label>_x<scale>.csv
    labels = [Path(p).stem.rsplit("_x", 1)[0] for p in csvs]
    summary = summarize(csvs, labels=labels)
    with atomic_write(out, "w") as fh:
        summary.to_csv(fh, index=False)
    return summary


# ---------------------------------------------------------------------------------------------- report


def _study_spec(study_file: str) -> dict:
    with open(study_file) as fh:
        return yaml.safe_load(fh)


def _tier_note(spec: Mapping, tier: str) -> str:
    desc = spec.get("tiers", {}).get(tier, {}).get("description", "")
    return f"{tier} - {desc}" if desc else tier


def run_info(study_file: str, tier: str, study_dir: str | Path) -> dict[str, dict]:
    """run -> hyper-parameters and cost: blocks, channels, lr, eta_min, epochs run, train loss, train seconds.

    Read from the resolved study file and each run's history.csv / train_done.json (when present).
    """
    from sisr.studies import load_study

    study = load_study(study_file, tier)
    info: dict[str, dict] = {}
    for run, cfg in study.runs.items():
        args = cfg.get("model_args", {})
        row = {"model": cfg["model"], "blocks": args.get("blocks"), "channels": args.get("channels"),
               "lr": cfg.get("optimizer", {}).get("lr"), "eta_min": cfg.get("scheduler", {}).get("eta_min")}
        run_dir = Path(study_dir) / run
        if (run_dir / "train_done.json").is_file():
            done = json.loads((run_dir / "train_done.json").read_text())
            row["epochs_run"] = done.get("epochs_run")
            if done.get("stop_reason") == "diverged":
                row["status"] = "diverged"
            row["train_seconds"] = round(float(done.get("seconds", float("nan"))), 1)
        if (run_dir / "history.csv").is_file():
            hist = pd.read_csv(run_dir / "history.csv")
            if "train_loss" in hist.columns and len(hist):
                row["train_loss"] = float(hist["train_loss"].iloc[-1])
        info[run] = {k: v for k, v in row.items() if v is not None}
    return info


def _histories(paths: Sequence[str]) -> dict[str, pd.DataFrame]:
    return {Path(p).parent.name: pd.read_csv(p) for p in paths}


def _table_inputs(study_file: str, tier: str, summary: str, histories: Sequence[str]):
    """The resolved study and, per table, the long table (claims beside ours, judged for comparability)."""
    from sisr.studies import load_study
    from sisr.tables import build_long

    study = load_study(study_file, tier)
    summary_df = pd.read_csv(summary)
    hist = _histories(histories)
    info = None
    longs = {}
    for name, spec in study.tables.items():
        frame = summary_df
        if spec.get("layout") == "run_rows" or spec.get("values_from") == "training":
            info = info if info is not None else run_info(study_file, tier, Path(summary).parent)
        if spec.get("values_from") == "training":  # run-level numbers (training loss, time) on the training set
            frame = pd.DataFrame([{"run": r, "dataset": study.train_data.label, **v} for r, v in info.items()]
                                 or [{"run": "", "dataset": study.train_data.label}])
        per_image = _per_image(Path(summary).parent, spec, study) if spec.get("layout") == "image_rows" else None
        longs[name] = build_long(frame, spec, table=name, histories=hist, valid_label=study.valid_data.label,
                                 scale=study.scale, per_image=per_image,
                                 eval_labels=[r.label for r in study.eval_data])
    return study, longs, info


def _per_image(study_dir: Path, spec: Mapping, study) -> dict[tuple[str, str], pd.DataFrame]:
    """(run, evaluation-set label) -> the run's per-image evaluation CSV (written before summary.csv)."""
    out = {}
    for run in dict.fromkeys(r.split("#")[0] for r in spec["runs"]):
        for ref in study.eval_data:
            path = study_dir / run / "eval" / f"{ref.label}_x{study.scale}.csv"
            if path.is_file():
                out[(run, ref.label)] = pd.read_csv(path, dtype={"image": str})
    return out


def table_job(*, study_file: str, table: str, tier: str, summary: str, out_csv: str, out_md: str,
              out_tex: str, histories: Sequence[str] = ()) -> None:
    from sisr.tables import to_latex, to_markdown

    study, longs, info = _table_inputs(study_file, tier, summary, histories)
    spec = study.tables[table]
    long = longs[table]
    shown = info if spec.get("layout") == "run_rows" else None
    if shown:
        long = long.merge(pd.DataFrame.from_dict(shown, orient="index"), left_on="run", right_index=True,
                          how="left", suffixes=("", "_run"))
    note = _tier_note(study.spec, tier)
    with atomic_write(out_csv, "w") as fh:
        long.to_csv(fh, index=False)
    with atomic_write(out_md, "w") as fh:
        fh.write(to_markdown(long, spec, tier_note=note, run_info=shown))
    with atomic_write(out_tex, "w") as fh:
        fh.write(to_latex(long, spec, run_info=shown))


def claims_report_job(*, study_file: str, tier: str, summary: str, out: str, histories: Sequence[str] = ()) -> None:
    from sisr.tables import claims_report

    study, longs, _ = _table_inputs(study_file, tier, summary, histories)
    runs = list(dict.fromkeys(pd.read_csv(summary)["run"]))
    text = claims_report(longs, study.spec.get("tolerance", {}), study=study.name, tier=tier,
                         tier_note=_tier_note(study.spec, tier), diverged=diverged_runs(Path(summary).parent, runs))
    with atomic_write(out, "w") as fh:
        fh.write(text)


def figure_job(*, study_file: str, figure: str, tier: str, results_dir: str, summary: str,
               histories: Sequence[str] = (), outputs: Sequence[str]) -> None:
    """Draw one figure of a study (its kind is in the study file)."""
    from sisr import figures

    spec = _study_spec(study_file)
    fig_spec = spec["figures"][figure]
    kind = fig_spec["kind"]
    title = fig_spec.get("title", figure)
    study_dir = Path(results_dir) / spec["name"]
    hist = {Path(p).parent.name: pd.read_csv(p) for p in histories}
    if fig_spec.get("runs"):
        hist = {r: h for r, h in hist.items() if r in fig_spec["runs"]}
    if fig_spec.get("best_by"):  # only the best run by a metric of the summary (e.g. "the best model's progress")
        best = _best_run(summary, fig_spec["best_by"], [r for r in hist])
        hist = {best: hist[best]} if best else {}
        title = f"{title}: {best}" if best else title
    if kind in ("loss_curves", "loss_terms", "metric_curves") and not hist:
        raise SisrError(f"{study_file}: figures.{figure}: no training history to plot (runs {fig_spec.get('runs')})")
    if kind == "loss_curves":
        fig = figures.loss_curves(hist, title=title)
    elif kind == "metric_curves":
        fig = figures.metric_curves(hist, fig_spec.get("metrics", ["val_psnr_y"]), title=title)
    elif kind == "loss_terms":
        fig = figures.loss_terms_curves(hist, title=title)
    elif kind == "comparison_grid":
        fig = _comparison_grid(spec, fig_spec, study_dir, summary, title)
    elif kind == "triptychs":
        fig = _triptychs(spec, fig_spec, study_dir, summary, title)
    elif kind == "family_comparison":
        data, dataset = _runs_with_info(study_file, tier, study_dir, summary, fig_spec)
        fig = figures.family_comparison(data, metrics=fig_spec.get("metrics", ["psnr_y"]),
                                        title=f"{title} ({dataset}, x{spec['scale']})")
    elif kind == "sweep":
        data, dataset = _runs_with_info(study_file, tier, study_dir, summary, fig_spec)
        fig = figures.sweep_plot(data, x=fig_spec.get("x", "channels"), hue=fig_spec.get("hue", "blocks"),
                                 style="model", metrics=fig_spec.get("metrics", ["psnr_y"]),
                                 title=f"{title} ({dataset}, x{spec['scale']})")
    else:
        raise SisrError(f"{study_file}: figures.{figure}.kind: {kind!r} is not implemented yet")
    figures.save_figure(fig, outputs)


def _best_run(summary: str, metric: str, runs: Sequence[str]) -> str | None:
    """The run with the best summary value of ``metric`` on the summary's first evaluation set."""
    from sisr.tables import HIGHER_IS_BETTER

    df = pd.read_csv(summary)
    df = df[(df["dataset"] == df["dataset"].iloc[0]) & df["run"].isin(runs)].dropna(subset=[metric])
    if df.empty:
        return None
    higher = HIGHER_IS_BETTER.get(metric, not metric.startswith("mse"))
    return str(df.sort_values(metric, ascending=not higher)["run"].iloc[0])


def _runs_with_info(study_file: str, tier: str, study_dir: Path, summary: str, fig_spec: Mapping):
    """One row per run on the figure's evaluation set: summary metrics with hyper-parameters (run_info)."""
    summary_df = pd.read_csv(summary)
    dataset = _figure_dataset(fig_spec, summary_df)
    info = pd.DataFrame.from_dict(run_info(study_file, tier, study_dir), orient="index")
    data = summary_df[summary_df["dataset"] == dataset].merge(info, left_on="run", right_index=True,
                                                              suffixes=("_summary", ""))
    return data, dataset


def _figure_dataset(fig_spec: Mapping, summary_df: pd.DataFrame) -> str:
    """The figure's evaluation set: ``dataset`` where this tier has it, else the tier's first evaluation set."""
    wanted = fig_spec.get("dataset")
    present = list(dict.fromkeys(summary_df["dataset"]))
    return wanted if wanted in present else present[0]


def _comparison_grid(spec: Mapping, fig_spec: Mapping, study_dir: Path, summary: str, title: str):
    from sisr import figures
    from sisr.imresize import downscale
    from sisr.io import list_images, read_image

    summary_df = pd.read_csv(summary)
    scale = int(spec["scale"])
    dataset = _figure_dataset(fig_spec, summary_df)
    if fig_spec.get("dataset") and dataset != fig_spec["dataset"]:
        title = f"{title}\n({fig_spec['dataset']} is not evaluated in this tier: {dataset} instead)"
    runs = fig_spec.get("runs") or list(dict.fromkeys(summary_df[summary_df["dataset"] == dataset]["run"]))
    n_images, crop = fig_spec.get("n_images", 3), fig_spec.get("crop", 96)
    first = study_dir / runs[0] / "sr" / f"{dataset}_x{scale}"
    names = [p.stem for p in list_images(first)][:n_images]
    # HR: recover from the eval CSV's dataset via the first run's evaluation (the SR size is the modcropped HR size)
    hr_dir = _hr_dir_for(study_dir, runs, dataset, scale)
    panels = []
    for name in names:
        hr = read_image(hr_dir[name], mode="any")
        first_sr = read_image(first / f"{name}.png", mode="any")
        if first_sr.ndim == 2 and hr.ndim == 3:  # a Y-channel study: show the Y of the HR
            from sisr.data.datasets import to_y

            hr = to_y(hr)
        hr = hr[: first_sr.shape[0], : first_sr.shape[1]]
        y, x = figures.detailed_crop_box(hr, crop)
        crop_hr = hr[y: y + crop, x: x + crop]
        lr = downscale(hr, scale)
        lr_crop = lr[y // scale: (y + crop) // scale, x // scale: (x + crop) // scale]
        cols = [("LR (nearest)", np.repeat(np.repeat(lr_crop, scale, 0), scale, 1))]
        for run in runs:
            sr = read_image(study_dir / run / "sr" / f"{dataset}_x{scale}" / f"{name}.png", mode="any")
            per_image = pd.read_csv(study_dir / run / "eval" / f"{dataset}_x{scale}.csv").set_index("image")
            psnr = per_image.loc[name, "psnr_y"] if "psnr_y" in per_image.columns else float("nan")
            cols.append((f"{run}\n{psnr:.2f} dB", sr[y: y + crop, x: x + crop]))
        cols.append(("HR", crop_hr))
        panels.append((name, cols))
    return figures.comparison_grid(panels, title=f"{title}\n(PSNR-Y of the whole image, x{scale})")


def _triptychs(spec: Mapping, fig_spec: Mapping, study_dir: Path, summary: str, title: str):
    """LR (nearest) / SR / HR of the best and the worst image by SSIM-Y, for each run."""
    from sisr import figures
    from sisr.imresize import downscale
    from sisr.io import read_image

    summary_df = pd.read_csv(summary)
    scale = int(spec["scale"])
    dataset = _figure_dataset(fig_spec, summary_df)
    runs = fig_spec.get("runs") or [r for r in dict.fromkeys(summary_df["run"]) if r in spec.get("runs", {})]
    metric = (fig_spec.get("metrics") or ["ssim_y"])[0]
    crop = fig_spec.get("crop", 128)
    panels = []
    for run in runs:
        per_image = pd.read_csv(study_dir / run / "eval" / f"{dataset}_x{scale}.csv")
        ranked = per_image.sort_values(metric)
        for which, row in (("best", ranked.iloc[-1]), ("worst", ranked.iloc[0])):
            sr = read_image(study_dir / run / "sr" / f"{dataset}_x{scale}" / f"{row['image']}.png", mode="any")
            hr = read_image(row["hr_path"], mode="any")
            if sr.ndim == 2 and hr.ndim == 3:
                from sisr.data.datasets import to_y

                hr = to_y(hr)
            hr = hr[: sr.shape[0], : sr.shape[1]]
            y, x = figures.detailed_crop_box(hr, crop)
            lr = downscale(hr, scale)[y // scale: (y + crop) // scale, x // scale: (x + crop) // scale]
            panels.append((f"{run}: {which}\n{row['image']} ({metric} {row[metric]:.4f})",
                           [("LR (nearest)", np.repeat(np.repeat(lr, scale, 0), scale, 1)),
                            ("SR", sr[y: y + crop, x: x + crop]), ("HR", hr[y: y + crop, x: x + crop])]))
    return figures.comparison_grid(panels, title=f"{title} ({dataset}, x{scale})")


def _hr_dir_for(study_dir: Path, runs: Sequence[str], dataset: str, scale: int) -> dict[str, Path]:
    """HR paths of an evaluation set, from the ``hr_path`` column the evaluation writes."""
    df = pd.read_csv(study_dir / runs[0] / "eval" / f"{dataset}_x{scale}.csv")
    if "hr_path" not in df.columns:
        raise SisrError(f"{study_dir / runs[0] / 'eval'}: evaluation CSV lacks the hr_path column")
    return dict(zip(df["image"], map(Path, df["hr_path"])))


def leaderboard_job(*, summaries: Sequence[str], datasets: Sequence[str], out_csv: str, out_md: str, out_tex: str,
                    figures: Sequence[str]) -> None:
    """Every model of every study on the leaderboard sets, with published rows and costs."""
    from sisr.leaderboard import write_leaderboard

    write_leaderboard(summaries, datasets=datasets, out_csv=out_csv, out_md=out_md, out_tex=out_tex, figures=figures)
