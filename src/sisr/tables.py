"""Study tables: the claimed numbers beside ours, as tidy CSV, Markdown and LaTeX (booktabs).

Input is the study's ``summary.csv`` (one row per run x dataset x scale, metric means as columns) and a
table spec from the study file::

    runs:    {run: column label}            # order kept; quoted-only runs listed in `quoted`
    metrics: {metric column: row label}
    claimed: {run: {metric: value}}        # what the study reports
    their_protocol: {metric: column}       # our value under the study authors' protocol, shown beside ours
    datasets: [labels]                     # evaluation sets to show (default: all in the summary)

The tidy CSV has one row per (dataset, run, metric) with columns ``claimed``, ``ours`` (standard protocol),
``ours_their_protocol`` and ``diff`` (= ours - claimed; under their protocol when the study has one, since
that is what the claim was measured with).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import pandas as pd

from sisr.io import atomic_write

HIGHER_IS_BETTER = {"lpips_alex": False, "lpips_vgg": False, "fid": False, "mse": False}


def _fmt(value: float | None, metric: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if "psnr" in metric or metric.startswith("fid"):
        return f"{value:.2f}"
    return f"{value:.4f}"


def _summary_value(summary: pd.DataFrame, dataset: str, run: str, column: str | None) -> float | None:
    if column is None or column not in summary.columns:
        return None
    rows = summary[(summary["dataset"] == dataset) & (summary["run"] == run)]
    if rows.empty or pd.isna(rows.iloc[0][column]):
        return None
    return float(rows.iloc[0][column])


def table_runs(summary: pd.DataFrame, spec: Mapping) -> dict[str, str]:
    """run -> label: the spec's ``runs``, or every run in the summary (labelled by name) when it lists none."""
    if spec.get("runs"):
        return dict(spec["runs"])
    return {run: run for run in dict.fromkeys(summary["run"])}


def build_table(summary: pd.DataFrame, spec: Mapping, *, table: str) -> pd.DataFrame:
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
            if run in diverged:
                run_label = f"{run_label} {DIVERGED_MARK}"
            for metric, metric_label in spec["metrics"].items():
                claimed = spec.get("claimed", {}).get(run, {}).get(metric)
                ours = None if run in quoted else _summary_value(summary, dataset, run, metric)
                theirs = None if run in quoted else _summary_value(summary, dataset, run, their.get(metric))
                compare = theirs if theirs is not None else ours
                diff = None if claimed is None or compare is None else compare - claimed
                rows.append(
                    {
                        "table": table,
                        "dataset": dataset,
                        "run": run,
                        "run_label": run_label,
                        "metric": metric,
                        "metric_label": metric_label,
                        "claimed": claimed,
                        "ours": ours,
                        "ours_their_protocol": theirs,
                        "diff": diff,
                        "quoted": run in quoted,
                    }
                )
    return pd.DataFrame(rows)


def build_epoch_table(histories: Mapping[str, pd.DataFrame], spec: Mapping, *, table: str) -> pd.DataFrame:
    """Layout ``epoch_rows``: validation metrics from each run's history.csv at the report's epochs.

    The report counts epochs from 0 (its epoch ``e`` is the state after ``e + 1`` epochs, our history row
    ``epoch == e + 1``). Values are our per-epoch validation (full validation images, standard protocol).
    """
    rows = []
    for run, run_label in spec["runs"].items():
        hist = histories.get(run)
        for epoch in spec["epochs"]:
            for metric, metric_label in spec["metrics"].items():
                claimed = (spec.get("claimed", {}).get(run, {}).get(epoch) or {}).get(metric)
                ours = None
                if hist is not None and metric in hist.columns:
                    match = hist.loc[hist["epoch"] == epoch + 1, metric].dropna()
                    ours = float(match.iloc[0]) if len(match) else None
                rows.append({"table": table, "dataset": "validation", "epoch": epoch, "run": run,
                             "run_label": run_label, "metric": metric, "metric_label": metric_label,
                             "claimed": claimed, "ours": ours, "ours_their_protocol": None,
                             "diff": None if claimed is None or ours is None else ours - claimed, "quoted": False})
    return pd.DataFrame(rows)


def _epoch_grid(long: pd.DataFrame) -> pd.DataFrame:
    block = long.copy()
    block["cell"] = block.apply(_cell, axis=1)
    block["column"] = block["run_label"] + ": " + block["metric_label"]
    grid = block.pivot(index="epoch", columns="column", values="cell")
    grid = grid[list(dict.fromkeys(block["column"]))]
    grid.index.name = "Epoch"
    grid.columns.name = None
    return grid


def _cell(row: pd.Series) -> str:
    metric = row["metric"]
    claimed = row["claimed"] if pd.notna(row["claimed"]) else None
    if row["quoted"]:
        return f"{_fmt(claimed, metric)} (quoted)"
    parts = [_fmt(row["ours"] if pd.notna(row["ours"]) else None, metric)]
    if pd.notna(row["ours_their_protocol"]):
        parts.append(f"[{_fmt(row['ours_their_protocol'], metric)}]")
    if claimed is not None:
        wide = "psnr" in metric or metric.startswith("fid")
        diff = f" ({row['diff']:+.2f})" if pd.notna(row["diff"]) and wide else (
            f" ({row['diff']:+.4f})" if pd.notna(row["diff"]) else "")
        parts.append(f"vs {_fmt(claimed, metric)}{diff}")
    return " ".join(parts)


def _grid(long: pd.DataFrame, dataset: str) -> pd.DataFrame:
    block = long[long["dataset"] == dataset].copy()
    block["cell"] = block.apply(_cell, axis=1)
    grid = block.pivot(index="metric_label", columns="run_label", values="cell")
    grid = grid.loc[list(dict.fromkeys(block["metric_label"])), list(dict.fromkeys(block["run_label"]))]
    grid.index.name = "Metric"
    grid.columns.name = None
    return grid


LEGEND = (
    "Cells: ours (standard protocol) [ours under the study's protocol, where it has one] "
    "vs the claimed value (difference, ours - claimed). `-`: not measured in this tier. "
    "(quoted): a number quoted by the study, not produced here."
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
    grid = grid[list(dict.fromkeys(block["metric_label"]))]
    info = pd.DataFrame.from_dict({r: {k: _fmt_info(v) for k, v in run_info.get(r, {}).items()}
                                   for r in grid.index}, orient="index")
    grid = pd.concat([info, grid], axis=1) if not info.empty else grid
    sort_by = spec.get("sort_by")
    if sort_by:
        key = block[block["metric"] == sort_by].set_index("run")["ours"].reindex(grid.index)
        ascending = not HIGHER_IS_BETTER.get(sort_by, not sort_by.startswith("mse"))
        grid = grid.loc[key.sort_values(ascending=ascending, na_position="last").index]
    grid.index.name = "Run"
    return grid.fillna("-")


def _grids(long: pd.DataFrame, spec: Mapping, run_info: Mapping[str, Mapping] | None) -> list[tuple[str, pd.DataFrame]]:
    if spec.get("layout") == "run_rows":
        return [(d, _run_rows(long, d, spec, run_info or {})) for d in dict.fromkeys(long["dataset"])]
    if spec.get("layout") == "epoch_rows":
        return [("validation, per epoch (report epoch e = after e + 1 epochs)", _epoch_grid(long))]
    return [(d, _grid(long, d)) for d in dict.fromkeys(long["dataset"])]


def to_markdown(long: pd.DataFrame, spec: Mapping, *, tier_note: str = "",
                run_info: Mapping[str, Mapping] | None = None) -> str:
    """Markdown: one grid per evaluation set, in the study's layout (rows = metrics or rows = runs)."""
    out = [f"### {spec['title']}", ""]
    if spec.get("caption"):
        out += [spec["caption"], ""]
    if spec.get("claimed_on"):
        out += [f"Claimed values measured on: {spec['claimed_on']}.", ""]
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
                histories: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Make one study table from summary.csv in all three formats (atomic writes).

    ``run_info``: run -> extra columns (hyper-parameters, runtime) shown by the ``run_rows`` layout and added
    to the tidy CSV. ``histories``: run -> history.csv, read by the ``epoch_rows`` layout.
    """
    if spec.get("layout") == "epoch_rows":
        long = build_epoch_table(histories or {}, spec, table=table)
    else:
        long = build_table(pd.read_csv(summary_csv), spec, table=table)
    if run_info:
        info = pd.DataFrame.from_dict(run_info, orient="index")
        long = long.merge(info, left_on="run", right_index=True, how="left")
    with atomic_write(out_csv, "w") as fh:
        long.to_csv(fh, index=False)
    with atomic_write(out_md, "w") as fh:
        fh.write(to_markdown(long, spec, tier_note=tier_note, run_info=run_info))
    with atomic_write(out_tex, "w") as fh:
        fh.write(to_latex(long, spec, run_info=run_info))
    return long


def claims_report(long_tables: Mapping[str, pd.DataFrame], tolerance: Mapping[str, float], *, study: str,
                  tier: str, tier_note: str = "", diverged: Mapping[str, str] | None = None) -> str:
    """REPORT.md: every claimed number, whether ours reproduces it within the study's tolerance.

    ``diverged``: run -> "epoch E: reason" for runs whose training diverged (listed; their rows are marked).
    """
    lines = [f"# Claims audit: study `{study}`, tier `{tier}`", ""]
    if tier_note:
        lines += [tier_note, ""]
    if diverged:
        lines += ["Runs whose training diverged (divergence.policy record; their values are those of their last "
                  "finite weights):", ""]
        lines += [f"- `{run}` {DIVERGED_MARK}: {why}" for run, why in diverged.items()] + [""]
    lines += [
        "A claim reproduces when |ours - claimed| <= the tolerance of its metric stated in the study file "
        "(ours under the study's own protocol when it has one, else the standard protocol).",
        "",
        "| Table | Dataset | Run | Metric | Claimed | Ours | Tolerance | Verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    counts = {"reproduced": 0, "not reproduced": 0, "not measured": 0, "quoted": 0}
    for table, long in long_tables.items():
        for _, row in long.iterrows():
            if pd.isna(row["claimed"]):
                continue
            metric = row["metric"]
            ours = row["ours_their_protocol"] if pd.notna(row["ours_their_protocol"]) else row["ours"]
            tol = tolerance.get(metric)
            if row["quoted"]:
                verdict = "quoted"
            elif pd.isna(ours):
                verdict = "not measured"
            elif tol is None:
                verdict = "not measured"  # no tolerance stated: no verdict
            else:
                verdict = "reproduced" if abs(ours - row["claimed"]) <= tol else "not reproduced"
            counts[verdict] += 1
            where = row["dataset"] if pd.isna(row.get("epoch", float("nan"))) else f"{row['dataset']}, epoch {row['epoch']}"
            lines.append(
                f"| {table} | {where} | {row['run_label']} | {row['metric_label']} | "
                f"{_fmt(row['claimed'], metric)} | {_fmt(None if pd.isna(ours) else ours, metric)} | "
                f"{'-' if tol is None else tol} | {verdict} |"
            )
    lines += ["", "Totals: " + ", ".join(f"{k}: {v}" for k, v in counts.items()), ""]
    return "\n".join(lines)
