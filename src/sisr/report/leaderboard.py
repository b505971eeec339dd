"""The benchmark leaderboard: every model of every study on the standard benchmarks, with its cost.

Rows come from each study's ``summary.csv`` (standard protocol, the leaderboard's evaluation sets), joined
with the cost of each model: trainable parameters, FLOPs per output megapixel (counted by
``torch.utils.flop_counter`` on a 64x64 LR input), training hours and device (``train_done.json``), and the
measured inference seconds per image on the machine that evaluated it. Published rows (``sisr.report.published``)
are added for the same datasets and scales, marked ``source = published``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import torch
from matplotlib.lines import Line2D
from torch.utils.flop_counter import FlopCounterMode

from sisr.base import paths
from sisr.base.io import atomic_write
from sisr.metrics import registry
from sisr.models import count_parameters, create_model
from sisr.report.aggregate import primary_rows
from sisr.report.figures import panel_grid, place_labels, save_figure
from sisr.report.published import published_table
from sisr.report.render import tex_escape
from sisr.training.checkpoint import load_model


def _flops(model: torch.nn.Module, in_channels: int, lr_size: int, device: str) -> tuple[float, float]:
    """FLOPs of one forward pass on a ``lr_size``^2 input on ``device``, and the output's megapixels."""
    x = torch.rand(1, in_channels, lr_size, lr_size, device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = model(x)
    return counter.get_total_flops(), y.shape[-1] * y.shape[-2] / 1e6


def model_cost(model: torch.nn.Module, *, in_channels: int, lr_size: int = 64) -> dict:
    """Parameters and GFLOPs per output megapixel of ``model`` (one forward pass on a ``lr_size``^2 input).

    The pass runs on a copy on the meta device: shapes only, no arithmetic, so the count costs no time even for a
    188.8 M-parameter model (on the CPU, 20 s of the leaderboard job's 35 in the quick-tier rehearsal); the count is
    the same (tests/test_leaderboard_cost.py). A model whose forward needs real values runs on the CPU instead."""
    model = model.eval()
    try:
        flops, megapixels = _flops(copy.deepcopy(model).to("meta"), in_channels, lr_size, "meta")
    except (NotImplementedError, RuntimeError):  # an op without a meta kernel, or one that reads values
        flops, megapixels = _flops(model, in_channels, lr_size, "cpu")
    return {"params": count_parameters(model), "gflops_per_mp": flops / 1e9 / megapixels}


def _run_cost(study_dir: Path, run: str, model_name: str, scale: int, in_channels: int) -> dict:
    ckpt = Path(paths.checkpoint(study_dir, run))
    info: dict = {}
    if ckpt.is_file():
        model, _cfg = load_model(str(ckpt), "cpu")
        done_path = Path(paths.train_done(study_dir, run))
        if done_path.is_file():
            done = json.loads(done_path.read_text())
            info["train_hours"] = float(done.get("seconds", 0.0)) / 3600
            info["train_gpu_hours"] = float(done.get("gpu_hours", 0.0))
            info["train_device"] = done.get("device", "")
    else:
        model = create_model(model_name, scale=scale, in_channels=in_channels)
    info.update(model_cost(model, in_channels=in_channels))
    return info


def build_leaderboard(summaries: Sequence[str | Path], *, datasets: Sequence[str] | None = None,
                      degradations: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per (study, run, dataset, degradation, scale) plus the published rows for the same datasets and
    scales (bicubic). ``degradations``: those shown (default: bicubic only)."""
    shown = list(degradations or [paths.DEFAULT_DEGRADATION])
    rows = []
    for path in summaries:
        path = Path(path)
        summary = primary_rows(pd.read_csv(path))  # one point per run: its first seed
        if "degradation" not in summary.columns:
            summary["degradation"] = paths.DEFAULT_DEGRADATION
        costs: dict[str, dict] = {}
        for _, r in summary.iterrows():
            if (datasets and r["dataset"] not in datasets) or r["degradation"] not in shown:
                continue
            if r["run"] not in costs:
                in_channels = 1 if r.get("color", "rgb") == "y" else 3
                costs[r["run"]] = _run_cost(path.parent, r["run"], r["model"], int(r["scale"]), in_channels)
            baseline = not Path(paths.checkpoint(path.parent, r["run"])).is_file()
            rows.append({"method": r["run"] if baseline else f"{r['study']}/{r['run']}", "study": r["study"],
                         "run": r["run"],
                         "model": r["model"], "dataset": r["dataset"], "degradation": r["degradation"],
                         "scale": int(r["scale"]),
                         "n_images": int(r["n_images"]), "tier": r.get("tier", ""),
                         "psnr_y": r.get("psnr_y"), "ssim_y": r.get("ssim_y"),
                         "seconds_per_image": r.get("seconds_per_image"), "device": r.get("device", ""),
                         "source": "this workflow", **costs[r["run"]]})
    ours = pd.DataFrame(rows)
    if ours.empty:
        return ours
    # a baseline (bicubic, ...) evaluated by several studies on the same set is one row
    ours = ours.drop_duplicates(subset=["method", "dataset", "degradation", "scale"], keep="first")
    published = published_table().assign(degradation=paths.DEFAULT_DEGRADATION)
    keys = set(zip(ours["dataset"], ours["degradation"], ours["scale"]))
    published = published[[k in keys for k in zip(published["dataset"], published["degradation"], published["scale"])]]
    board = pd.concat([ours, published], ignore_index=True)
    order = {d: i for i, d in enumerate(shown)}
    board = board.assign(_order=board["degradation"].map(order))
    return board.sort_values(["dataset", "_order", "scale", "psnr_y"], ascending=[True, True, True, False]) \
        .drop(columns="_order").reset_index(drop=True)


PSNR_FMT, SSIM_FMT = (f".{registry.METRICS[m].decimals}f" for m in ("psnr_y", "ssim_y"))  # the metrics' own decimals

def _fmt(v, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and pd.isna(v)) else format(v, spec)


def to_markdown(board: pd.DataFrame) -> str:
    out = ["# Benchmark leaderboard (standard protocol: Y, shave = scale; LR by the degradation each section names)",
           "",
           "Rows marked *published* are quoted from the papers (REFERENCE.md), not produced here. Cost columns: "
           "parameters, GFLOPs per output megapixel, training hours (device), inference seconds per image "
           "(measured on the machine that evaluated).", ""]
    for (dataset, degradation, scale), part in board.groupby(["dataset", "degradation", "scale"], sort=False):
        out += [f"## {dataset} x{scale}, {degradation} LR", "",
                "| Method | PSNR-Y | SSIM-Y | Params | GFLOPs/MP | Train h (device) | s/image | Source |",
                "|---|---|---|---|---|---|---|---|"]
        for _, r in part.iterrows():
            train = "-" if pd.isna(r.get("train_hours")) else f"{r['train_hours']:.3f} ({r.get('train_device', '')})"
            params = "-" if pd.isna(r.get("params")) else f"{int(r['params']):,}"
            out.append(f"| {r['method']} | {_fmt(r['psnr_y'], PSNR_FMT)} | {_fmt(r['ssim_y'], SSIM_FMT)} | {params} | "
                       f"{_fmt(r.get('gflops_per_mp'), '.1f')} | {train} | {_fmt(r.get('seconds_per_image'), '.3f')} | "
                       f"{'*published*' if r['source'] == 'published' else r.get('tier', '')} |")
        out.append("")
    return "\n".join(out)


def to_latex(board: pd.DataFrame) -> str:
    lines = [r"\begin{table}[t]", r"\centering",
             r"\caption{Benchmark leaderboard, standard protocol. Published rows are quoted.}",
             r"\begin{tabular}{llrrrr}", r"\toprule",
             r"Dataset & Method & PSNR-Y & SSIM-Y & Params & GFLOPs/MP \\", r"\midrule"]
    for _, r in board.iterrows():
        params = "-" if pd.isna(r.get("params")) else f"{int(r['params']):,}"
        lines.append(f"{tex_escape(str(r['dataset']))} x{r['scale']} {tex_escape(str(r['degradation']))} & "
                     f"{tex_escape(str(r['method']))} & "
                     f"{_fmt(r['psnr_y'], PSNR_FMT)} & {_fmt(r['ssim_y'], SSIM_FMT)} & {params} & "
                     f"{_fmt(r.get('gflops_per_mp'), '.1f')} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def cost_plot(board: pd.DataFrame):
    """PSNR-Y versus GFLOPs per output megapixel (log scale), one panel per dataset and scale (two per row).

    One colour per study, circles for trained runs and grey crosses for the non-learned baselines. Each point
    carries a number, placed beside its own point (nearer to it than to any other, no overlaps); the key below
    the panels names each number's method (study/run), so crowded points stay readable.
    """
    ours = board[(board["source"] != "published") & board["psnr_y"].notna()].copy()
    ours["gflops_per_mp"] = ours["gflops_per_mp"].fillna(1e-3).clip(lower=1e-3)
    if "degradation" not in ours.columns:
        ours["degradation"] = paths.DEFAULT_DEGRADATION
    ours["baseline"] = ~ours["method"].str.contains("/")
    groups = list(ours.groupby(["dataset", "degradation", "scale"], sort=False))
    studies = sorted(ours["study"].dropna().unique())
    colors = dict(zip(studies, plt.get_cmap("tab10").colors))
    methods = list(dict.fromkeys(ours.sort_values(["baseline", "method"])["method"]))
    number = {m: i + 1 for i, m in enumerate(methods)}
    fig, axes = panel_grid(len(groups), ncols=2, row_height=3.0)
    for ax, ((dataset, degradation, scale), part) in zip(axes, groups):
        for baseline, marker in ((False, "o"), (True, "X")):
            sel = part[part["baseline"] == baseline]
            ax.scatter(sel["gflops_per_mp"], sel["psnr_y"], c=["0.35" if baseline else colors[s] for s in sel["study"]],
                       marker=marker, s=28, edgecolors="white", linewidths=0.4, zorder=3)
        ax.set_xscale("log")
        ax.margins(x=0.15, y=0.12)
        ax.set_xlabel("GFLOPs per output megapixel (log scale)")
        ax.set_ylabel("PSNR (Y) [dB]")
        ax.set_title(f"{dataset} x{scale}, {degradation} LR", fontsize=9)
    fig.suptitle("PSNR versus cost (numbers: the key below)")
    fig.tight_layout()
    for ax, (_, part) in zip(axes, groups):
        place_labels(ax, list(part["gflops_per_mp"]), list(part["psnr_y"]),
                     [str(number[m]) for m in part["method"]], fontsize=6.5)
    base = ours.drop_duplicates("method").set_index("method")
    handles = [Line2D([], [], ls="", marker="X" if base.loc[m, "baseline"] else "o",
                      color="0.35" if base.loc[m, "baseline"] else colors[base.loc[m, "study"]],
                      label=f"{number[m]}  {m}") for m in methods]
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(3, len(handles)),
               fontsize=6.5, frameon=False, title="circles: trained (colour = study); crosses: baselines (not "
               "learned)", title_fontsize=7)
    return fig


def write_leaderboard(summaries: Sequence[str | Path], *, datasets: Sequence[str] | None, out_csv: str | Path,
                      out_md: str | Path, out_tex: str | Path, figures: Sequence[str | Path],
                      degradations: Sequence[str] | None = None) -> pd.DataFrame:
    board = build_leaderboard(summaries, datasets=datasets, degradations=degradations)
    with atomic_write(out_csv, "w") as fh:
        board.to_csv(fh, index=False)
    with atomic_write(out_md, "w") as fh:
        fh.write(to_markdown(board))
    with atomic_write(out_tex, "w") as fh:
        fh.write(to_latex(board))
    save_figure(cost_plot(board), figures)
    return board
