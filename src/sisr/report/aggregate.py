"""A study's results gathered into frames: the reading side of the report, nothing is formatted here.

Reads what the workflow wrote for each run (:mod:`sisr.base.paths`): the per-image evaluation CSVs of each
evaluation set, train_done.json (how training ended, the settings it ran with), history.csv (per-epoch training
and validation) and the evaluated kept checkpoints (the epoch evaluation CSVs). Returns pandas frames and dicts:
``summarize`` makes summary.csv's rows (one per run x evaluation set x scale, the mean of every metric, the run's
status, config hash and the run it is a seed replica of); the other functions select a summary's rows (first seeds,
the study's degradation) or give a run's hyper-parameters and cost. Writes no file (the workflow writes
summary.csv); table building (:mod:`sisr.report.tables`) and rendering (:mod:`sisr.report.render`) build on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from sisr.base import paths
from sisr.base.errors import SisrError
from sisr.config.studies import Study, config_hash


def run_bases(summary: pd.DataFrame) -> pd.Series:
    """The run each summary row belongs to: its ``replica_of`` (a seed replica's run), else its ``run``."""
    runs = summary["run"].astype(str)
    if "replica_of" not in summary.columns:
        return runs
    of = summary["replica_of"].fillna("").astype(str)
    return of.where(of.str.len() > 0, runs)


def primary_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary without its seed replicas' rows (each run once, as its first seed): for figures and the
    leaderboard, which show one point per run; tables and the audit average over the replicas instead."""
    return summary[run_bases(summary) == summary["run"].astype(str)] if len(summary) else summary


NON_METRIC_COLUMNS = ("study", "run", "model", "dataset", "degradation", "scale", "image", "height", "width",
                      "seconds", "tier", "hr_path", "device", "color", "status", "config_hash", "replica_of")


def read_train_done(study_dir: str | Path, run: str) -> dict:
    """A run's train_done.json ({} for a baseline, or a run not trained yet)."""
    done = Path(paths.train_done(study_dir, run))
    return json.loads(done.read_text()) if done.is_file() else {}


def diverged_runs(study_dir: str | Path, runs: Sequence[str]) -> dict[str, str]:
    """run -> "epoch E: reason" for the runs whose training ended diverged (``divergence.policy: record``)."""
    out = {}
    for run in runs:
        info = read_train_done(study_dir, run)
        if info.get("stop_reason") == "diverged":
            detail = info.get("diverged") or {}
            out[run] = f"epoch {detail.get('epoch')}: {detail.get('reason')}"
    return out


def train_config_hash(done: Mapping) -> str:
    """The config hash (:func:`sisr.config.studies.config_hash`) of the settings a finished run was trained with
    (``done``: its train_done.json, :func:`read_train_done`); "" for a baseline or a run without one."""
    return config_hash(done["config"]) if done.get("config") else ""


def summarize(csvs: Sequence[str | Path], *, labels: Sequence[str] | None = None,
              replica_of: Mapping[str, str] | None = None, degradations: Sequence[str] | None = None,
              study_dir: str | Path | None = None) -> pd.DataFrame:
    """summary.csv: one row per (run, dataset, scale) with the mean of every metric over the images.

    ``status``: how the run's training ended (train_done.json's stop_reason: completed, early_stopping,
    max_seconds, diverged; :func:`read_train_done` of its folder in ``study_dir``; "" for
    baselines, and for every run without ``study_dir``), so tables can mark diverged runs.

    ``labels`` and ``degradations`` (same order as ``csvs``) set the ``dataset`` and ``degradation`` columns (else
    the CSV's own columns; ``bicubic`` when it has none).
    ``config_hash``: the hash of the settings the run was trained with (:func:`train_config_hash`), so that a
    summary alone says whether its runs were trained as the paper tier says (sisr.report.audit). ``replica_of``: run ->
    the run it is a seed replica of (the run itself when absent).
    """
    rows = []
    for i, path in enumerate(csvs):
        df = pd.read_csv(path)
        if df.empty:
            raise SisrError(f"{path}: no evaluated images")
        metrics = [c for c in df.columns if c not in
                   NON_METRIC_COLUMNS]
        run = str(df["run"].iloc[0])
        done = read_train_done(study_dir, run) if study_dir else {}  # read once for status and hash
        row = {
            "study": df["study"].iloc[0],
            "run": run,
            "model": df["model"].iloc[0],
            "dataset": labels[i] if labels else df["dataset"].iloc[0],
            "degradation": degradations[i] if degradations else
            (df["degradation"].iloc[0] if "degradation" in df.columns else paths.DEFAULT_DEGRADATION),
            "scale": int(df["scale"].iloc[0]),
            "n_images": len(df),
            "tier": df["tier"].iloc[0] if "tier" in df.columns else "",
            "seconds_per_image": float(df["seconds"].mean()) if "seconds" in df.columns else np.nan,
            "device": df["device"].iloc[0] if "device" in df.columns else "",
            "color": df["color"].iloc[0] if "color" in df.columns else "rgb",
            "status": done.get("stop_reason", ""),
            "config_hash": train_config_hash(done),
        }
        row["replica_of"] = (replica_of or {}).get(row["run"], row["run"])
        for m in metrics:
            row[m] = float(df[m].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def run_info(study: Study, study_dir: str | Path) -> dict[str, dict]:
    """run -> hyper-parameters and cost: blocks, channels, lr, eta_min, epochs run, train loss, train seconds.

    The hyper-parameters are those the run was trained with (the config in its train_done.json), else those of
    the resolved study (``study``, with the workflow's train_overrides: not trained yet); cost from
    train_done.json and history.csv when present.
    """
    info: dict[str, dict] = {}
    for run, resolved in study.runs.items():
        done = read_train_done(study_dir, run)
        cfg = done.get("config") or resolved
        args = cfg.get("model_args", {})
        row = {"model": cfg["model"], "blocks": args.get("blocks"), "channels": args.get("channels"),
               "lr": cfg.get("optimizer", {}).get("lr"), "eta_min": cfg.get("scheduler", {}).get("eta_min")}
        if done:
            row["epochs_run"] = done.get("epochs_run")
            if done.get("stop_reason") == "diverged":
                row["status"] = "diverged"
            row["train_seconds"] = round(float(done.get("seconds", float("nan"))), 1)
        if Path(paths.history(study_dir, run)).is_file():
            hist = pd.read_csv(paths.history(study_dir, run))
            if "train_loss" in hist.columns and len(hist):
                row["train_loss"] = float(hist["train_loss"].iloc[-1])
        info[run] = {k: v for k, v in row.items() if v is not None}
    return info


def read_histories(histories: Mapping[str, str | Path]) -> dict[str, pd.DataFrame]:
    """run -> its history.csv, read (``histories``: run -> path, as the rules give them)."""
    return {run: pd.read_csv(p) for run, p in histories.items()}


def study_rows(summary_df: pd.DataFrame, study: Study) -> pd.DataFrame:
    """The rows of a summary under the study's degradation (its tables, figures and claims are about those; the
    same sets under other degradations, e.g. the leaderboard's, are left out)."""
    if "degradation" not in summary_df.columns:
        return summary_df
    return summary_df[summary_df["degradation"] == study.degradation].reset_index(drop=True)


def epoch_eval_path(study_dir: str | Path, run: str, study: Study) -> Path:
    """The run's kept checkpoints evaluated on the validation set (rule evaluate_epochs; :mod:`sisr.base.paths`)."""
    return Path(paths.epoch_eval_csv(study_dir, run, study.valid_data.key, study.scale))


def read_epoch_evals(study: Study, study_dir: str | Path,
                     csvs: Mapping[str, str] | None = None) -> dict[str, pd.DataFrame]:
    """run -> its evaluated kept checkpoints (``csvs``: run -> CSV, the table rule's inputs; default the path
    scheme's). A run without its CSV is left out."""
    found = {run: Path(p) for run, p in csvs.items()} if csvs is not None else \
        {run: epoch_eval_path(study_dir, run, study) for run in study.epoch_runs}
    return {run: pd.read_csv(p) for run, p in found.items() if p.is_file()}


def read_per_image(study_dir: Path, spec: Mapping, study: Study) -> dict[tuple[str, str], pd.DataFrame]:
    """(run, evaluation-set label) -> the run's per-image evaluation CSV under the study's degradation (inputs of
    the table rule, written before summary.csv)."""
    out = {}
    for run in dict.fromkeys(r.split("#")[0] for r in spec["runs"]):
        for ref in (r for r in study.eval_data if r.degradation == study.degradation):
            path = Path(paths.eval_csv(study_dir, run, ref.key, study.scale))
            if path.is_file():
                out[(run, ref.label)] = pd.read_csv(path, dtype={"image": str})
    return out
