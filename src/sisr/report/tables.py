"""Study tables built: which rows and columns a study's table has, our numbers and the claimed ones beside them.

Reads the frames that :mod:`sisr.report.aggregate` gives (the study's ``summary.csv``: one row per run x dataset x
scale, metric means as columns; the runs' histories, per-image and epoch evaluation CSVs) and each table's spec
from the study file; returns one tidy long frame per table, each claim judged for comparability. Writes nothing:
:mod:`sisr.report.render` turns the frame into CSV, Markdown and LaTeX. A table spec::

    runs:    {run: column label}            # order kept; quoted-only runs listed in `quoted`; `run#tag` shows
                                           # the same run again, beside a second claimed value for it
    metrics: {metric column: row label}
    claimed: {run: {metric: value}}        # what the study reports
    claimed_on: {data, dataset, scale, protocol, section, quoted_from?, note?}   # where each claim comes from
    claimed_on_runs: {run: {...}}          # per-run provenance, merged over claimed_on
    their_protocol: {metric: column}       # our value under the study authors' protocol, shown beside ours
    datasets: [labels]                     # evaluation sets to show (default: all in the summary)

A claim is *comparable* on one evaluation set only: the set it was measured on (``claimed_on.data``, a
``dataset/split`` of the workflow, at the study's scale). Its ``protocol`` says how the document measured it:
``standard`` claims are compared with the table's metric column (standard protocol); ``study`` claims with the
``their_protocol`` column where the table has one, else with the metric column (which then is itself a
study-protocol metric, e.g. ``mse_noshave``); ``unstated`` (the document does not say how it measured) likewise,
and the verdict says that the protocol is not stated. Our numbers are shown on every set; the difference to the
claim and the verdict only where it is comparable.

The tidy CSV has one row per (dataset, run, metric) with columns ``claimed``, ``ours`` (standard protocol),
``ours_their_protocol``, ``diff`` (ours - claimed, comparable rows only), ``comparable``, ``claim_on`` (where the
claim was measured), ``claim_source`` (the document's section, and the paper it quotes) and ``reason``.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Mapping

import pandas as pd

from sisr.config.studies import DatasetRef, Study
from sisr.metrics import registry
from sisr.report.aggregate import (primary_rows, read_epoch_evals, read_histories, read_per_image, run_bases,
                                   run_info, study_rows)


def higher_is_better(column: str) -> bool:
    """A metric's direction from its record (sisr.metrics.registry); other columns: losses and MSEs are lower."""
    return registry.higher_is_better(column, default=not (column.startswith("mse") or "loss" in column))


def _summary_value(summary: pd.DataFrame, dataset: str, run: str, column: str | None) -> float | None:
    """The value of ``run`` on ``dataset``: the mean over the run and its seed replicas."""
    if column is None or column not in summary.columns:
        return None
    values = summary.loc[(summary["dataset"] == dataset) & (run_bases(summary) == run), column].dropna()
    return float(values.mean()) if len(values) else None


def table_runs(summary: pd.DataFrame, spec: Mapping) -> dict[str, str]:
    """run -> label: the spec's ``runs``, or every run in the summary (labelled by name) when it lists none;
    then the summary's other runs whose name matches the glob ``match`` (a tier's own runs, e.g. ``plain_*``)."""
    names = dict.fromkeys(primary_rows(summary)["run"]) if "run" in summary.columns else {}
    if not spec.get("runs"):
        return {run: run for run in names}
    runs = dict(spec["runs"])
    if spec.get("match"):
        runs.update({r: r for r in names if r not in runs and fnmatch.fnmatch(r, spec["match"])})
    return runs


def claim_provenance(spec: Mapping, run: str) -> dict:
    """Where the claim of ``run`` comes from: ``claimed_on`` merged with ``claimed_on_runs.<run>``."""
    return {**(spec.get("claimed_on") or {}), **(spec.get("claimed_on_runs", {}).get(run) or {})}


def claim_label(prov: Mapping) -> str:
    """``DIV2K valid x4``: the dataset the claim was measured on, as the document names it, and its scale."""
    if not prov:
        return "not stated"
    return f"{prov.get('dataset', prov.get('data', '?'))} x{prov.get('scale', '?')}"


def claim_source(prov: Mapping) -> str:
    """``Table 1, quoted from Dong et al. 2015``: the document's section, and the paper it quotes."""
    text = prov.get("section", "")
    if prov.get("quoted_from"):
        text += f", quoted from {prov['quoted_from']}"
    return text


def _data_label(data: str) -> str:
    return DatasetRef.parse(data).label


def _judge(prov: Mapping, dataset: str, ours: float | None, theirs: float | None, has_their: bool,
           scale: int | None) -> tuple[bool, float | None, str]:
    """(comparable, our value to compare, reason when not comparable) of one claim on one evaluation set."""
    if not prov or "data" not in prov:
        return False, None, "no provenance: the study file does not say where this number was measured"
    where = f"claimed on {claim_label(prov)}"
    if _data_label(prov["data"]) != dataset or (scale is not None and prov.get("scale") != scale):
        return False, None, where
    if prov.get("protocol") == "standard":
        return True, ours, ""
    return True, theirs if has_their else ours, ""


DIVERGED_MARK = "(diverged)"


def build_table(summary: pd.DataFrame, spec: Mapping, *, table: str, scale: int | None = None) -> pd.DataFrame:
    """The tidy long table of one study table (see the module docstring)."""
    present = set(summary["dataset"])
    datasets = [d for d in spec.get("datasets") or dict.fromkeys(summary["dataset"]) if d in present] or \
        list(dict.fromkeys(summary["dataset"]))
    quoted = set(spec.get("quoted", []))
    their = spec.get("their_protocol", {})
    diverged = set(summary.loc[summary["status"] == "diverged", "run"]) if "status" in summary.columns else set()
    rows = []
    for dataset in datasets:
        for run, run_label in table_runs(summary, spec).items():
            prov = claim_provenance(spec, run)
            base = run.split("#")[0]  # run#tag: the same run under a second claim (a document giving two values)
            if base in diverged:
                run_label = f"{run_label} {DIVERGED_MARK}"
            for metric, metric_label in spec["metrics"].items():
                claimed = spec.get("claimed", {}).get(run, {}).get(metric)
                ours = None if run in quoted else _summary_value(summary, dataset, base, metric)
                theirs = None if run in quoted else _summary_value(summary, dataset, base, their.get(metric))
                rows.append(_row(table, dataset, run, run_label, metric, metric_label, claimed, ours, theirs,
                                 metric in their, run in quoted, prov, scale))
    return pd.DataFrame(rows)


def _row(table, dataset, run, run_label, metric, metric_label, claimed, ours, theirs, has_their, quoted, prov,
         scale, epoch=None) -> dict:
    comparable, compare, reason = _judge(prov, dataset, ours, theirs, has_their, scale)
    if claimed is None:
        comparable, reason = False, ""
    if quoted:
        comparable, reason = False, "quoted by the study, not produced here"
    diff = None if not comparable or claimed is None or compare is None else compare - claimed
    row = {"table": table, "dataset": dataset}
    if epoch is not None:
        row["epoch"] = epoch
    row.update({
        "run": run, "run_label": run_label, "metric": metric, "metric_label": metric_label,
        "claimed": claimed, "ours": ours, "ours_their_protocol": theirs, "diff": diff, "quoted": quoted,
        "comparable": comparable, "compared": compare if comparable else None,
        "protocol": prov.get("protocol", ""), "claim_on": claim_label(prov) if claimed is not None else "",
        "claim_source": claim_source(prov) if claimed is not None else "", "reason": reason,
    })
    return row


def _epoch_value(hist: pd.DataFrame | None, evals: pd.DataFrame | None, column: str | None,
                 epoch: int) -> float | None:
    """``column`` at 1-based ``epoch``: from history.csv where training logs it, else ``val_<metric>`` from the
    evaluation of the kept checkpoint of that epoch (the mean over its images; a set metric is on every row)."""
    for frame, col in ((hist, column), (evals, column[4:] if column and column.startswith("val_") else None)):
        if frame is not None and col is not None and col in frame.columns and "epoch" in frame.columns:
            values = frame.loc[frame["epoch"] == epoch, col].dropna()
            if len(values):
                return float(values.iloc[0]) if frame is hist else float(values.mean())
    return None


def build_epoch_table(histories: Mapping[str, pd.DataFrame], spec: Mapping, *, table: str,
                      dataset: str = "validation", scale: int | None = None,
                      epoch_evals: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Layout ``epoch_rows``: validation metrics of each run at the report's epochs.

    The report counts epochs from 0 (its epoch ``e`` is the state after ``e + 1`` epochs, our history row
    ``epoch == e + 1``). Values are on the tier's validation set ``dataset`` (its label, e.g. ``div2k-valid``):
    history.csv's per-epoch validation (full images, standard protocol) for the columns training logs; for
    ``val_<metric>`` columns (FID, their-protocol crops) the evaluation of the checkpoint the run kept after that
    epoch, ``epoch_evals``: run -> its ``eval_epochs`` CSV (rows per epoch and image). ``their_protocol`` maps a
    column to its their-protocol column, shown in brackets and compared with the claim (protocol unstated/study).
    """
    their = spec.get("their_protocol", {})
    rows = []
    for run, run_label in spec["runs"].items():
        base = run.split("#")[0]
        hist, evals = histories.get(base), (epoch_evals or {}).get(base)
        prov = claim_provenance(spec, run)
        for epoch in spec["epochs"]:
            for metric, metric_label in spec["metrics"].items():
                claimed = (spec.get("claimed", {}).get(run, {}).get(epoch) or {}).get(metric)
                ours = _epoch_value(hist, evals, metric, epoch + 1)
                theirs = _epoch_value(hist, evals, their.get(metric), epoch + 1)
                rows.append(_row(table, dataset, run, run_label, metric, metric_label, claimed, ours, theirs,
                                 metric in their, False, prov, scale, epoch=epoch))
    return pd.DataFrame(rows)


IMAGE_AGGREGATES = {"best": "max", "worst": "min"}  # image_rows: the best / worst image of the set by the metric


def build_image_table(per_image: Mapping[tuple[str, str], pd.DataFrame], spec: Mapping, *, table: str,
                      datasets: list[str], scale: int | None = None) -> pd.DataFrame:
    """Layout ``image_rows``: per-image values (the evaluation CSVs) of the images in ``images``.

    ``per_image``: (run, evaluation-set label) -> the run's per-image CSV on that set. An image named ``best`` or
    ``worst`` is the set's highest / lowest value of the metric (as "the image with the highest SSIM").
    """
    datasets = [d for d in datasets if d in (spec.get("datasets") or datasets)] or datasets
    rows = []
    for dataset in datasets:
        for run, run_label in spec["runs"].items():
            frame = per_image.get((run.split("#")[0], dataset))
            prov = claim_provenance(spec, run)
            for image in spec["images"]:
                for metric, metric_label in spec["metrics"].items():
                    claimed = (spec.get("claimed", {}).get(run, {}).get(image) or {}).get(metric)
                    ours = None
                    if frame is not None and metric in frame.columns:
                        if image in IMAGE_AGGREGATES:
                            ours = float(frame[metric].agg(IMAGE_AGGREGATES[image]))
                        else:
                            match = frame.loc[frame["image"].astype(str) == str(image), metric].dropna()
                            ours = float(match.iloc[0]) if len(match) else None
                    row = _row(table, dataset, run, run_label, metric, metric_label, claimed, ours, None, False,
                               False, prov, scale)
                    row["image"] = str(image)
                    rows.append(row)
    return pd.DataFrame(rows)


def build_long(summary: str | Path | pd.DataFrame, spec: Mapping, *, table: str,
               histories: Mapping[str, pd.DataFrame] | None = None, valid_label: str = "validation",
               scale: int | None = None, per_image: Mapping[tuple[str, str], pd.DataFrame] | None = None,
               eval_labels: list[str] | None = None,
               epoch_evals: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """The tidy long table of one study table, whatever its layout (``per_image``, ``eval_labels``: image_rows;
    ``epoch_evals``: epoch_rows)."""
    if spec.get("layout") == "epoch_rows":
        return build_epoch_table(histories or {}, spec, table=table, dataset=valid_label, scale=scale,
                                 epoch_evals=epoch_evals)
    if spec.get("layout") == "image_rows":
        return build_image_table(per_image or {}, spec, table=table, datasets=list(eval_labels or []), scale=scale)
    frame = summary if isinstance(summary, pd.DataFrame) else pd.read_csv(summary)
    return build_table(frame, spec, table=table, scale=scale)


REHEARSAL_REASON = "a dress rehearsal on look-alike data"


def mark_rehearsal(long: pd.DataFrame) -> pd.DataFrame:
    """A dress rehearsal's rows: no claim is comparable (no difference, no verdict), whatever the sets are called."""
    long = long.copy()
    if len(long) and "claimed" in long.columns:
        claimed = long["claimed"].notna() & ~long["quoted"].astype(bool)
        long.loc[claimed, "comparable"] = False
        long.loc[claimed, ["diff", "compared"]] = float("nan")
        long.loc[claimed, "reason"] = REHEARSAL_REASON
    return long


def study_longs(study: Study, summary: str, histories: Mapping[str, str | Path],
                epoch_evals: Mapping[str, str] | None = None):
    """Per table of the (resolved) study, the long table (claims beside ours, judged for comparability); and
    the run_info used (or None). ``epoch_evals``: run -> its epoch evaluation CSV (default: the path scheme's)."""
    summary_df = study_rows(pd.read_csv(summary), study)
    hist = read_histories(histories)
    info = None
    longs = {}
    for name, spec in study.tables.items():
        frame = summary_df
        if spec.get("layout") == "run_rows" or spec.get("values_from") == "training":
            info = info if info is not None else run_info(study, Path(summary).parent)
        if spec.get("values_from") == "training":  # run-level numbers (training loss, time) on the training set
            frame = pd.DataFrame([{"run": r, "dataset": study.train_data.label, **v} for r, v in info.items()]
                                 or [{"run": "", "dataset": study.train_data.label}])
        per_image = read_per_image(Path(summary).parent, spec, study) if spec.get("layout") == "image_rows" else None
        evals = read_epoch_evals(study, Path(summary).parent, epoch_evals) if spec.get("layout") == "epoch_rows" \
            else None
        longs[name] = build_long(frame, spec, table=name, histories=hist, valid_label=study.valid_data.label,
                                 scale=study.scale, per_image=per_image,
                                 eval_labels=[r.label for r in study.eval_data], epoch_evals=evals)
        if study.rehearsal:
            longs[name] = mark_rehearsal(longs[name])
    return longs, info
