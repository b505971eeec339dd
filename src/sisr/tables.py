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
    if metric.startswith(("psnr", "fid")):
        return f"{value:.2f}"
    return f"{value:.4f}"


def _summary_value(summary: pd.DataFrame, dataset: str, run: str, column: str | None) -> float | None:
    if column is None or column not in summary.columns:
        return None
    rows = summary[(summary["dataset"] == dataset) & (summary["run"] == run)]
    if rows.empty or pd.isna(rows.iloc[0][column]):
        return None
    return float(rows.iloc[0][column])


def build_table(summary: pd.DataFrame, spec: Mapping, *, table: str) -> pd.DataFrame:
    """The tidy long table of one study table (see the module docstring)."""
    datasets = spec.get("datasets") or list(dict.fromkeys(summary["dataset"]))
    quoted = set(spec.get("quoted", []))
    their = spec.get("their_protocol", {})
    rows = []
    for dataset in datasets:
        for run, run_label in spec["runs"].items():
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


def _cell(row: pd.Series) -> str:
    metric = row["metric"]
    claimed = row["claimed"] if pd.notna(row["claimed"]) else None
    if row["quoted"]:
        return f"{_fmt(claimed, metric)} (quoted)"
    parts = [_fmt(row["ours"] if pd.notna(row["ours"]) else None, metric)]
    if pd.notna(row["ours_their_protocol"]):
        parts.append(f"[{_fmt(row['ours_their_protocol'], metric)}]")
    if claimed is not None:
        diff = f" ({row['diff']:+.2f})" if pd.notna(row["diff"]) and metric.startswith(("psnr", "fid")) else (
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


def to_markdown(long: pd.DataFrame, spec: Mapping, *, tier_note: str = "") -> str:
    """Markdown: one grid per evaluation set, rows = metrics, columns = runs, in the study's layout."""
    out = [f"### {spec['title']}", ""]
    if spec.get("caption"):
        out += [spec["caption"], ""]
    if spec.get("claimed_on"):
        out += [f"Claimed values measured on: {spec['claimed_on']}.", ""]
    for dataset in dict.fromkeys(long["dataset"]):
        grid = _grid(long, dataset)
        out += [f"**{dataset}**", "", "| Metric | " + " | ".join(grid.columns) + " |",
                "|---|" + "---|" * len(grid.columns)]
        for label, row in grid.iterrows():
            out.append(f"| {label} | " + " | ".join(str(v) for v in row.values) + " |")
        out.append("")
    out.append(LEGEND)
    if tier_note:
        out += ["", f"Tier: {tier_note}"]
    return "\n".join(out) + "\n"


def _tex_escape(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                 ("$", r"\$"), ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\^{}")):
        text = text.replace(a, b)
    return text


def to_latex(long: pd.DataFrame, spec: Mapping) -> str:
    """LaTeX (booktabs): one block of rows per evaluation set."""
    runs = list(dict.fromkeys(long["run_label"]))
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{_tex_escape(spec['title'])}. {_tex_escape(spec.get('caption', ''))}}}",
        r"\begin{tabular}{l" + "l" * len(runs) + "}",
        r"\toprule",
        "Metric & " + " & ".join(_tex_escape(r) for r in runs) + r" \\",
    ]
    for dataset in dict.fromkeys(long["dataset"]):
        grid = _grid(long, dataset)
        lines += [r"\midrule", rf"\multicolumn{{{len(runs) + 1}}}{{l}}{{\textit{{{_tex_escape(dataset)}}}}} \\"]
        for label, row in grid.iterrows():
            lines.append(_tex_escape(str(label)) + " & " + " & ".join(_tex_escape(str(v)) for v in row.values) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(summary_csv: str | Path, spec: Mapping, *, table: str, out_csv: str | Path, out_md: str | Path,
                out_tex: str | Path, tier_note: str = "") -> pd.DataFrame:
    """Make one study table from summary.csv in all three formats (atomic writes)."""
    summary = pd.read_csv(summary_csv)
    long = build_table(summary, spec, table=table)
    with atomic_write(out_csv, "w") as fh:
        long.to_csv(fh, index=False)
    with atomic_write(out_md, "w") as fh:
        fh.write(to_markdown(long, spec, tier_note=tier_note))
    with atomic_write(out_tex, "w") as fh:
        fh.write(to_latex(long, spec))
    return long


def claims_report(long_tables: Mapping[str, pd.DataFrame], tolerance: Mapping[str, float], *, study: str,
                  tier: str, tier_note: str = "") -> str:
    """REPORT.md: every claimed number, whether ours reproduces it within the study's tolerance."""
    lines = [f"# Claims audit: study `{study}`, tier `{tier}`", ""]
    if tier_note:
        lines += [tier_note, ""]
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
            lines.append(
                f"| {table} | {row['dataset']} | {row['run_label']} | {row['metric_label']} | "
                f"{_fmt(row['claimed'], metric)} | {_fmt(None if pd.isna(ours) else ours, metric)} | "
                f"{'-' if tol is None else tol} | {verdict} |"
            )
    lines += ["", "Totals: " + ", ".join(f"{k}: {v}" for k, v in counts.items()), ""]
    return "\n".join(lines)
