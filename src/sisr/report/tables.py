"""Study tables: the claimed numbers beside ours, as tidy CSV, Markdown and LaTeX (booktabs).

Input is the study's ``summary.csv`` (one row per run x dataset x scale, metric means as columns) and a
table spec from the study file::

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

import json
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from sisr.base import paths
from sisr.base.errors import SisrError
from sisr.base.io import atomic_write
from sisr.metrics import registry
from sisr.config.studies import Study, config_hash


def higher_is_better(column: str) -> bool:
    """A metric's direction from its record (sisr.metrics.registry); other columns: losses and MSEs are lower."""
    return registry.higher_is_better(column, default=not (column.startswith("mse") or "loss" in column))


def _fmt(value: float | None, metric: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if metric in registry.METRICS:  # the metric's own decimals
        return registry.METRICS[metric].fmt(value)
    if "psnr" in metric or "fid" in metric:  # history columns (val_psnr_y, fid per epoch, ...)
        return f"{value:.2f}"
    if "seconds" in metric:
        return f"{value:.0f}"
    if "mse" in metric or "loss" in metric:
        return f"{value:.7f}"
    return f"{value:.4f}"


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


def _summary_value(summary: pd.DataFrame, dataset: str, run: str, column: str | None) -> float | None:
    """The value of ``run`` on ``dataset``: the mean over the run and its seed replicas."""
    if column is None or column not in summary.columns:
        return None
    values = summary.loc[(summary["dataset"] == dataset) & (run_bases(summary) == run), column].dropna()
    return float(values.mean()) if len(values) else None


def table_runs(summary: pd.DataFrame, spec: Mapping) -> dict[str, str]:
    """run -> label: the spec's ``runs``, or every run in the summary (labelled by name) when it lists none;
    then the summary's other runs whose name matches the glob ``match`` (a tier's own runs, e.g. ``plain_*``)."""
    import fnmatch

    names = dict.fromkeys(primary_rows(summary)["run"]) if "run" in summary.columns else {}
    if not spec.get("runs"):
        return {run: run for run in names}
    runs = dict(spec["runs"])
    if spec.get("match"):
        runs.update({r: r for r in names if r not in runs and fnmatch.fnmatch(r, spec["match"])})
    return runs


PROTOCOL_WORDS = {"standard": "standard protocol", "study": "the study's protocol",
                  "unstated": "protocol not stated"}


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
    from sisr.config.studies import DatasetRef

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


def _key_grid(long: pd.DataFrame, key: str, name: str, order: list | None = None) -> pd.DataFrame:
    """Rows = ``key`` (epoch or image, in ``order`` where given), columns = run x metric."""
    block = long.copy()
    block["cell"] = block.apply(_cell, axis=1)
    block["column"] = block["run_label"] + ": " + block["metric_label"]
    grid = block.pivot(index=key, columns="column", values="cell")
    order = [k for k in (order or []) if k in grid.index]
    rows = order + [k for k in dict.fromkeys(block[key]) if k not in order]
    grid = grid.loc[rows, list(dict.fromkeys(block["column"]))]
    grid.index.name = name
    grid.columns.name = None
    return grid.fillna("-")


def _epoch_grid(long: pd.DataFrame) -> pd.DataFrame:
    block = long.copy()
    block["cell"] = block.apply(_cell, axis=1)
    block["column"] = block["run_label"] + ": " + block["metric_label"]
    grid = block.pivot(index="epoch", columns="column", values="cell")
    grid = grid[list(dict.fromkeys(block["column"]))]
    grid.index.name = "Epoch"
    grid.columns.name = None
    return grid.fillna("-")


def _cell(row: pd.Series) -> str:
    metric = row["metric"]
    claimed = row["claimed"] if pd.notna(row["claimed"]) else None
    if row["quoted"]:
        return "-"
    if row.get("quoted_note") is True:
        return f"{_fmt(claimed, metric)} (quoted)"
    parts = [_fmt(row["ours"] if pd.notna(row["ours"]) else None, metric)]
    if pd.notna(row["ours_their_protocol"]):
        parts.append(f"[{_fmt(row['ours_their_protocol'], metric)}]")
    if claimed is not None and row.get("comparable", False):
        wide = "psnr" in metric or "fid" in metric
        diff = f" ({row['diff']:+.2f})" if pd.notna(row["diff"]) and wide else (
            f" ({row['diff']:+.4f})" if pd.notna(row["diff"]) else "")
        parts.append(f"vs {_fmt(claimed, metric)}{diff}")
    return " ".join(parts)


def _claimed_block(long: pd.DataFrame) -> pd.DataFrame:
    """The claims alone (one row per run x metric [x epoch]), shaped like a data block: ours := claimed."""
    keys = ["run", "metric"] + [k for k in ("epoch", "image") if k in long.columns]
    block = long.drop_duplicates(keys).copy()
    block["ours"] = block["claimed"]
    block["ours_their_protocol"] = float("nan")
    block["comparable"] = False
    block["dataset"] = CLAIMED
    block["quoted_note"] = block["quoted"]
    block["quoted"] = False
    return block


CLAIMED = "Claimed (as the document reports them)"


def _grid(long: pd.DataFrame, dataset: str) -> pd.DataFrame:
    block = long[long["dataset"] == dataset].copy()
    block["cell"] = block.apply(_cell, axis=1)
    grid = block.pivot(index="metric_label", columns="run_label", values="cell")
    grid = grid.loc[list(dict.fromkeys(block["metric_label"])), list(dict.fromkeys(block["run_label"]))]
    grid.index.name = "Metric"
    grid.columns.name = None
    return grid.fillna("-")


LEGEND = (
    "Cells: ours (standard protocol) [ours under the study's protocol, where it has one] "
    "vs the claimed value (difference, ours - claimed), the comparison shown only on the set the claim was "
    "measured on. `-`: not measured in this tier. (quoted): a number the study quotes, not produced here."
)
DIVERGED_MARK = "(diverged)"
DIVERGED_LEGEND = ("(diverged): the run's training diverged (divergence.policy record); its values are those of "
                   "its last finite weights.")


def _fmt_info(value) -> str:
    """Hyper-parameters and costs as a person writes them: 16, 0.0001, 1e-06, 13.0 s -> '13'."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e6):
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _run_rows(long: pd.DataFrame, dataset: str, spec: Mapping, run_info: Mapping[str, Mapping]) -> pd.DataFrame:
    """Layout ``run_rows``: one row per run (sorted by ``sort_by``, ours), info columns, then one per metric."""
    block = long[long["dataset"] == dataset].copy()
    block["cell"] = block.apply(_cell, axis=1)
    grid = block.pivot(index="run", columns="metric_label", values="cell")
    grid = grid.loc[list(dict.fromkeys(block["run"])), list(dict.fromkeys(block["metric_label"]))]
    shown = set(spec["metrics"])
    info = pd.DataFrame.from_dict({r: {k: _fmt_info(v) for k, v in run_info.get(r.split("#")[0], {}).items()
                                       if k not in shown} for r in grid.index}, orient="index")
    grid = pd.concat([info, grid], axis=1) if not info.empty else grid
    sort_by = spec.get("sort_by")
    if sort_by:
        key = block[block["metric"] == sort_by].set_index("run")["ours"].reindex(grid.index)
        ascending = not higher_is_better(sort_by)
        grid = grid.loc[key.sort_values(ascending=ascending, na_position="last").index]
    if dataset != CLAIMED:  # a listed run this tier does not have: its claims are in the claims block already
        measured = set(block.loc[block["ours"].notna() | block["ours_their_protocol"].notna(), "run"])
        grid = grid.loc[[r for r in grid.index if r in measured]] if measured else grid
    labels = dict(zip(block["run"], block["run_label"]))
    grid.index = [labels[r] for r in grid.index]
    grid.index.name = "Run"
    return grid.fillna("-")


def _grids(long: pd.DataFrame, spec: Mapping, run_info: Mapping[str, Mapping] | None) -> list[tuple[str, pd.DataFrame]]:
    """(heading, grid) blocks: the claims first (when the table has any), then ours per evaluation set."""
    if long["claimed"].notna().any():
        long = pd.concat([_claimed_block(long[long["claimed"].notna()]), long], ignore_index=True)
    if spec.get("layout") == "run_rows":
        return [(d, _run_rows(long, d, spec, run_info or {})) for d in dict.fromkeys(long["dataset"])]
    if spec.get("layout") == "epoch_rows":
        return [(d if d == CLAIMED else f"{d}, per epoch (report epoch e = after e + 1 epochs)",
                 _epoch_grid(long[long["dataset"] == d])) for d in dict.fromkeys(long["dataset"])]
    if spec.get("layout") == "image_rows":
        order = [str(i) for i in spec.get("images", [])]
        return [(d, _key_grid(long[long["dataset"] == d], "image", "Image", order))
                for d in dict.fromkeys(long["dataset"])]
    return [(d, _grid(long, d)) for d in dict.fromkeys(long["dataset"])]


def provenance_lines(long: pd.DataFrame) -> list[str]:
    """One line per claim source: which runs' claims were measured where, under what protocol."""
    claims = long[long["claimed"].notna()]
    out = []
    groups = claims.groupby(["claim_source", "claim_on", "protocol"], sort=False)["run_label"]
    for (source, on, protocol), labels in groups:
        runs = ", ".join(dict.fromkeys(labels))
        out.append(f"- {runs}: {source or 'source not stated'}; measured on {on}, "
                   f"{PROTOCOL_WORDS.get(protocol, protocol or 'protocol not stated')}.")
    return out


def to_markdown(long: pd.DataFrame, spec: Mapping, *, tier_note: str = "",
                run_info: Mapping[str, Mapping] | None = None) -> str:
    """Markdown: the claims, then one grid per evaluation set, in the study's layout (rows = metrics or runs)."""
    out = [f"### {spec['title']}", ""]
    if spec.get("caption"):
        out += [spec["caption"], ""]
    lines = provenance_lines(long)
    if lines:
        out += ["Where the claimed values come from:", "", *lines, ""]
    for dataset, grid in _grids(long, spec, run_info):
        out += [f"**{dataset}**", "", f"| {grid.index.name} | " + " | ".join(map(str, grid.columns)) + " |",
                "|---|" + "---|" * len(grid.columns)]
        for label, row in grid.iterrows():
            out.append(f"| {label} | " + " | ".join(str(v) for v in row.values) + " |")
        out.append("")
    out.append(LEGEND)
    if long["run_label"].astype(str).str.endswith(DIVERGED_MARK).any() or \
            (run_info and any(info.get("status") == "diverged" for info in run_info.values())):
        out += ["", DIVERGED_LEGEND]
    if tier_note:
        out += ["", f"Tier: {tier_note}"]
    return "\n".join(out) + "\n"


def _tex_escape(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                 ("$", r"\$"), ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\^{}")):
        text = text.replace(a, b)
    return text


def to_latex(long: pd.DataFrame, spec: Mapping, *, run_info: Mapping[str, Mapping] | None = None) -> str:
    """LaTeX (booktabs): one block of rows per evaluation set."""
    grids = _grids(long, spec, run_info)
    columns = list(grids[0][1].columns) if grids else []
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{_tex_escape(spec['title'])}. {_tex_escape(spec.get('caption', ''))}}}",
        r"\begin{tabular}{l" + "l" * len(columns) + "}",
        r"\toprule",
        _tex_escape(str(grids[0][1].index.name if grids else "")) + " & "
        + " & ".join(_tex_escape(str(c)) for c in columns) + r" \\",
    ]
    for dataset, grid in grids:
        lines += [r"\midrule", rf"\multicolumn{{{len(columns) + 1}}}{{l}}{{\textit{{{_tex_escape(dataset)}}}}} \\"]
        for label, row in grid.iterrows():
            lines.append(_tex_escape(str(label)) + " & " + " & ".join(_tex_escape(str(v)) for v in row.values) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(summary_csv: str | Path, spec: Mapping, *, table: str, out_csv: str | Path, out_md: str | Path,
                out_tex: str | Path, tier_note: str = "", run_info: Mapping[str, Mapping] | None = None,
                histories: Mapping[str, pd.DataFrame] | None = None, valid_label: str = "validation",
                scale: int | None = None) -> pd.DataFrame:
    """Make one study table from summary.csv in all three formats (atomic writes).

    ``run_info``: run -> extra columns (hyper-parameters, runtime) shown by the ``run_rows`` layout and added
    to the tidy CSV. ``histories``: run -> history.csv, read by the ``epoch_rows`` layout, whose values are on the
    tier's validation set ``valid_label``. ``scale``: the study's scale (a claim at another scale never compares).
    """
    long = build_long(summary_csv, spec, table=table, histories=histories, valid_label=valid_label, scale=scale)
    return _write_formats(long, spec, run_info=run_info, tier_note=tier_note, out_csv=out_csv, out_md=out_md,
                          out_tex=out_tex)


def _write_formats(long: pd.DataFrame, spec: Mapping, *, run_info: Mapping[str, Mapping] | None, tier_note: str,
                   out_csv: str | Path, out_md: str | Path, out_tex: str | Path) -> pd.DataFrame:
    """Add the ``run_info`` columns (if any) to a long table and write it as CSV, Markdown and LaTeX (atomic)."""
    if run_info:
        info = pd.DataFrame.from_dict(run_info, orient="index")
        long = long.merge(info, left_on="run", right_index=True, how="left", suffixes=("", "_run"))
    with atomic_write(out_csv, "w") as fh:
        long.to_csv(fh, index=False)
    with atomic_write(out_md, "w") as fh:
        fh.write(to_markdown(long, spec, tier_note=tier_note, run_info=run_info))
    with atomic_write(out_tex, "w") as fh:
        fh.write(to_latex(long, spec, run_info=run_info))
    return long


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


# ---------------------------------------------------------------------------------------------- a study's summary


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


# ---------------------------------------------------------------------------------------------- a study's tables


def tier_note(study: Study) -> str:
    desc = study.spec.get("tiers", {}).get(study.tier, {}).get("description", "")
    return f"{study.tier} - {desc}" if desc else study.tier


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
        per_image = _per_image(Path(summary).parent, spec, study) if spec.get("layout") == "image_rows" else None
        evals = read_epoch_evals(study, Path(summary).parent, epoch_evals) if spec.get("layout") == "epoch_rows" \
            else None
        longs[name] = build_long(frame, spec, table=name, histories=hist, valid_label=study.valid_data.label,
                                 scale=study.scale, per_image=per_image,
                                 eval_labels=[r.label for r in study.eval_data], epoch_evals=evals)
        if study.rehearsal:
            longs[name] = mark_rehearsal(longs[name])
    return longs, info


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


def _per_image(study_dir: Path, spec: Mapping, study) -> dict[tuple[str, str], pd.DataFrame]:
    """(run, evaluation-set label) -> the run's per-image evaluation CSV under the study's degradation (inputs of
    the table rule, written before summary.csv)."""
    out = {}
    for run in dict.fromkeys(r.split("#")[0] for r in spec["runs"]):
        for ref in (r for r in study.eval_data if r.degradation == study.degradation):
            path = Path(paths.eval_csv(study_dir, run, ref.key, study.scale))
            if path.is_file():
                out[(run, ref.label)] = pd.read_csv(path, dtype={"image": str})
    return out


def write_study_table(study: Study, table: str, *, summary: str, out_csv: str, out_md: str, out_tex: str,
                      histories: Mapping[str, str] | None = None, epoch_evals: Mapping[str, str] | None = None) -> None:
    """One table of the study as CSV (long), Markdown and LaTeX (``histories``: run -> history.csv)."""
    longs, info = study_longs(study, summary, histories or {}, epoch_evals)
    spec = study.tables[table]
    shown = info if spec.get("layout") == "run_rows" else None
    _write_formats(longs[table], spec, run_info=shown, tier_note=tier_note(study), out_csv=out_csv, out_md=out_md,
                   out_tex=out_tex)
