"""Study tables rendered: a table's tidy long frame (:mod:`sisr.report.tables`) as CSV, Markdown and LaTeX.

Reads the long frame of one study table and its spec (title, caption, layout: rows = metrics, runs, epochs or
images), with the runs' hyper-parameters (``run_info``) where the layout shows them; formats the numbers (each
metric's own decimals, ours [under the study's protocol] vs the claim (difference)) and writes the three files
of a table atomically (``write_table``, ``write_study_table``: the workflow's table rule). The claims audit
(:mod:`sisr.report.audit`) and the leaderboard use its number and LaTeX formatting.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import pandas as pd

from sisr.base.io import atomic_write
from sisr.config.studies import Study
from sisr.metrics import registry
from sisr.report.tables import DIVERGED_MARK, build_long, higher_is_better, study_longs


PROTOCOL_WORDS = {"standard": "standard protocol", "study": "the study's protocol",
                  "unstated": "protocol not stated"}


def fmt_metric(value: float | None, metric: str) -> str:
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
        return f"{fmt_metric(claimed, metric)} (quoted)"
    parts = [fmt_metric(row["ours"] if pd.notna(row["ours"]) else None, metric)]
    if pd.notna(row["ours_their_protocol"]):
        parts.append(f"[{fmt_metric(row['ours_their_protocol'], metric)}]")
    if claimed is not None and row.get("comparable", False):
        wide = "psnr" in metric or "fid" in metric
        diff = f" ({row['diff']:+.2f})" if pd.notna(row["diff"]) and wide else (
            f" ({row['diff']:+.4f})" if pd.notna(row["diff"]) else "")
        parts.append(f"vs {fmt_metric(claimed, metric)}{diff}")
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


def tex_escape(text: str) -> str:
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
        rf"\caption{{{tex_escape(spec['title'])}. {tex_escape(spec.get('caption', ''))}}}",
        r"\begin{tabular}{l" + "l" * len(columns) + "}",
        r"\toprule",
        tex_escape(str(grids[0][1].index.name if grids else "")) + " & "
        + " & ".join(tex_escape(str(c)) for c in columns) + r" \\",
    ]
    for dataset, grid in grids:
        lines += [r"\midrule", rf"\multicolumn{{{len(columns) + 1}}}{{l}}{{\textit{{{tex_escape(dataset)}}}}} \\"]
        for label, row in grid.iterrows():
            lines.append(tex_escape(str(label)) + " & " + " & ".join(tex_escape(str(v)) for v in row.values) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def tier_note(study: Study) -> str:
    desc = study.spec.get("tiers", {}).get(study.tier, {}).get("description", "")
    return f"{study.tier} - {desc}" if desc else study.tier


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


def write_study_table(study: Study, table: str, *, summary: str, out_csv: str, out_md: str, out_tex: str,
                      histories: Mapping[str, str] | None = None, epoch_evals: Mapping[str, str] | None = None) -> None:
    """One table of the study as CSV (long), Markdown and LaTeX (``histories``: run -> history.csv)."""
    longs, info = study_longs(study, summary, histories or {}, epoch_evals)
    spec = study.tables[table]
    shown = info if spec.get("layout") == "run_rows" else None
    _write_formats(longs[table], spec, run_info=shown, tier_note=tier_note(study), out_csv=out_csv, out_md=out_md,
                   out_tex=out_tex)
