"""Study figures with seaborn: loss curves, metric-vs-epoch curves and visual comparison grids.

Every function takes plain inputs (DataFrames, arrays, paths) and writes the figure in each requested format
(PNG at 150 dpi, PDF) atomically. Axes are labelled with units.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from sisr import degradations  # noqa: E402
from sisr.base import paths
from sisr.base.errors import SisrError  # noqa: E402
from sisr.base.io import atomic_write, list_images, read_image  # noqa: E402
from sisr.data.datasets import to_y  # noqa: E402
from sisr.metrics import registry  # noqa: E402
from sisr.config.studies import Study  # noqa: E402
from sisr.report.aggregate import primary_rows, run_info, study_rows  # noqa: E402
from sisr.report.tables import higher_is_better  # noqa: E402

sns.set_theme(context="paper", style="whitegrid")

# Labels of the history columns; a metric's label is in its record (sisr.metrics.registry).
METRIC_LABELS = {
    "val_ssim_y": "validation SSIM (Y)",
    "val_loss": "validation loss",
    "val_psnr_y": "validation PSNR (Y) [dB]",
    "train_loss": "training loss",
}


def metric_label(column: str) -> str:
    """Axis label of a metric or history column."""
    return registry.METRICS[column].label if column in registry.METRICS else METRIC_LABELS.get(column, column)


def save_figure(fig: plt.Figure, paths: Sequence[str | Path]) -> None:
    """Save ``fig`` to every path (format from the suffix), atomically, then close it."""
    for path in paths:
        path = Path(path)
        buf = io.BytesIO()
        fig.savefig(buf, format=path.suffix.lstrip("."), dpi=150, bbox_inches="tight")
        with atomic_write(path) as fh:
            fh.write(buf.getvalue())
    plt.close(fig)


PAGE_WIDTH = 7.0  # inches: the text width of a paper page; multi-panel figures wrap into rows of this width


def panel_grid(n: int, *, ncols: int = 3, row_height: float = 2.6) -> tuple[plt.Figure, list[plt.Axes]]:
    """``n`` panels in rows of at most ``ncols``, ``PAGE_WIDTH`` wide (readable when printed at page width).

    Returns the figure and the ``n`` axes in reading order (the unused cells of the last row are removed).
    """
    n = max(1, n)
    cols = min(ncols, n)
    rows = -(-n // cols)
    fig, grid = plt.subplots(rows, cols, figsize=(PAGE_WIDTH, row_height * rows + 0.5), squeeze=False)
    axes = list(grid.flat)
    for ax in axes[n:]:
        ax.remove()
    return fig, axes[:n]


def count_ticks(ax: plt.Axes, values: Sequence[float], axis: str = "x") -> None:
    """Ticks of a count (blocks, channels, epochs) at whole numbers: at the values themselves when there are few
    (a log2 axis when they double), else integer ticks."""
    values = sorted({float(v) for v in values if pd.notna(v)})
    target = ax.xaxis if axis == "x" else ax.yaxis
    if 1 <= len(values) <= 12 and all(v == int(v) for v in values):
        if len(values) > 1 and values[0] > 0 and values[-1] / values[0] >= 8:
            (ax.set_xscale if axis == "x" else ax.set_yscale)("log", base=2)
        target.set_major_locator(matplotlib.ticker.FixedLocator(values))
        target.set_major_formatter(matplotlib.ticker.FixedFormatter([f"{int(v)}" for v in values]))
        target.set_minor_locator(matplotlib.ticker.NullLocator())
    else:
        target.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))


# Where a point's label may go, tried in order (offset in points, alignment); the far ones get a leader line.
_LABEL_SPOTS = [(4, 2, "left", "bottom"), (4, -2, "left", "top"), (-4, 2, "right", "bottom"),
                (-4, -2, "right", "top"), (0, 6, "center", "bottom"), (0, -6, "center", "top"),
                (10, 10, "left", "bottom"), (10, -10, "left", "top"), (-10, 10, "right", "bottom"),
                (-10, -10, "right", "top"), (0, 16, "center", "bottom"), (0, -16, "center", "top"),
                (18, 20, "left", "bottom"), (18, -20, "left", "top"), (-18, 20, "right", "bottom"),
                (-18, -20, "right", "top"), (0, 28, "center", "bottom"), (0, -28, "center", "top")]


def place_labels(ax: plt.Axes, xs: Sequence[float], ys: Sequence[float], labels: Sequence[str], *,
                 fontsize: float = 6, marker_pt: float = 4) -> list:
    """Label every point without two labels overlapping each other or a point, inside the axes, and nearer to its
    own point than to any other (so no label reads as another point's).

    Tries the spots of ``_LABEL_SPOTS`` around each point (nearest first, a leader line for the far ones) and
    keeps the first free one; a label with no free spot takes the one with the fewest clashes. Call it after
    the axes' limits and the figure's layout are final. Returns the text artists.
    """
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    points = ax.transData.transform(np.column_stack([np.asarray(xs, float), np.asarray(ys, float)]))
    r = marker_pt * fig.dpi / 72
    markers = [Bbox.from_extents(px - r, py - r, px + r, py + r) for px, py in points]
    frame = ax.get_window_extent(renderer)
    placed: list = []
    texts = []
    for i in sorted(range(len(labels)), key=lambda k: -points[k][1]):
        obstacles = placed + [m for k, m in enumerate(markers) if k != i]
        best = None
        for dx, dy, ha, va in _LABEL_SPOTS:
            far = abs(dx) > 10 or abs(dy) > 10
            text = ax.annotate(labels[i], (xs[i], ys[i]), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                               fontsize=fontsize, arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "0.4"} if far
                               else None)
            box = text.get_window_extent(renderer).padded(1)
            clashes = sum(box.overlaps(o) for o in obstacles) + (0 if frame.contains(box.x0, box.y0) and
                                                                  frame.contains(box.x1, box.y1) else 1)
            clashes += _nearer_to_another(box, points, i)
            if best is None or clashes < best[0]:
                if best is not None:
                    best[1].remove()
                best = (clashes, text, box)
            else:
                text.remove()
            if clashes == 0:
                break
        placed.append(best[2])
        texts.append(best[1])
    return texts


def _nearer_to_another(box, points: np.ndarray, own: int) -> int:
    """1 when the nearest point to the label's box is another point than its own (the label would read as that
    point's), else 0. Distances from each point to the nearest edge of the box."""
    dx = np.maximum(np.maximum(box.x0 - points[:, 0], points[:, 0] - box.x1), 0)
    dy = np.maximum(np.maximum(box.y0 - points[:, 1], points[:, 1] - box.y1), 0)
    dist = np.hypot(dx, dy)
    finite = np.isfinite(dist)
    return int(finite[own] and bool((dist[finite] < dist[own] - 0.5).any()))


def loss_curves(histories: Mapping[str, pd.DataFrame], *, title: str, loss_name: str = "loss",
                losses: Mapping[str, str] | None = None) -> plt.Figure:
    """Training and validation loss per epoch, one colour per run, solid = train, dashed = validation.

    ``losses``: run -> the name of its loss (``L1``, ``MSE``, ...): runs with different losses get a panel each
    (an L1 and an MSE value are not on one scale); without it, one panel. The legend sits beside the panels."""
    losses = {run: (losses or {}).get(run, loss_name) for run in histories}
    kinds = list(dict.fromkeys(losses.values())) or [loss_name]
    fig, axes = panel_grid(len(kinds), ncols=2, row_height=3.4)
    for ax, kind in zip(axes, kinds):
        rows = []
        for run, hist in histories.items():
            if losses[run] != kind:
                continue
            for column, split in (("train_loss", "train"), ("val_loss", "validation")):
                if column in hist.columns:
                    part = hist[["epoch", column]].dropna().rename(columns={column: "loss"})
                    rows.append(part.assign(run=run, split=split))
        data = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["epoch", "loss", "run", "split"])
        if not data.empty:
            sns.lineplot(data=data, x="epoch", y="loss", hue="run", style="split", markers=True, dashes=True, ax=ax,
                         hue_order=list(histories), palette=dict(zip(histories, sns.color_palette(n_colors=len(histories)))))
            if (data["loss"] > 0).all() and data["loss"].max() / max(data["loss"].min(), 1e-12) > 20:
                ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_ylabel(f"{kind} (per pixel, images in [0, 1])")
        if len(kinds) > 1:
            ax.set_title(f"runs trained with {kind}", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    legend_below(fig, axes)
    return fig


def loss_terms_curves(histories: Mapping[str, pd.DataFrame], *, title: str) -> plt.Figure:
    """Every logged training-loss term per epoch (``train_<term>``, ``d_loss``), one panel per run.

    For GAN runs the background marks the phases (discriminator warm-up, generator, discriminator).
    """
    runs = [r for r, h in histories.items() if not h.empty]
    fig, axes = panel_grid(len(runs))
    shades = {"d_warmup": "#f2e6d9", "d": "#f2e6d9", "g": "#dce8f5"}
    phased = False
    terms = list(dict.fromkeys(c for r in runs for c in histories[r].columns
                               if (c.startswith("train_") and c != "train_loss") or c == "d_loss"))
    palette = dict(zip(terms, sns.color_palette(n_colors=max(1, len(terms)))))  # one colour per term, every panel
    for ax, run in zip(axes, runs):
        hist = histories[run]
        cols = [c for c in terms if c in hist.columns]
        long = hist.melt(id_vars=["epoch"], value_vars=cols, var_name="term", value_name="loss").dropna()
        if not long.empty:
            sns.lineplot(data=long, x="epoch", y="loss", hue="term", marker="o", markersize=3, ax=ax,
                         palette={t: palette[t] for t in cols})
        if "phase" in hist.columns:
            for _, row in hist.iterrows():
                if row["phase"] in shades:
                    phased = True
                    ax.axvspan(row["epoch"] - 0.5, row["epoch"] + 0.5, color=shades[row["phase"]], lw=0, zorder=0)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss term (unweighted)")
        ax.set_title(run)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    fig.suptitle(title + ("\n(shaded: blue = generator phase, beige = discriminator phase)" if phased else ""))
    fig.tight_layout()
    legend_below(fig, axes)  # one legend for every panel, off the data
    return fig


def metric_curves(histories: Mapping[str, pd.DataFrame], metrics: Sequence[str], *, title: str) -> plt.Figure:
    """Validation metrics per epoch (one panel per metric), one colour per run."""
    metrics = [m for m in metrics if any(m in h.columns for h in histories.values())] or ["val_loss"]
    fig, axes = panel_grid(len(metrics))
    for ax, metric in zip(axes, metrics):
        rows = [h[["epoch", metric]].dropna().assign(run=run) for run, h in histories.items() if metric in h.columns]
        if rows:
            sns.lineplot(data=pd.concat(rows), x="epoch", y=metric, hue="run", marker="o", ax=ax)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_ylabel(metric_label(metric))
    fig.suptitle(title)
    fig.tight_layout()
    legend_below(fig, axes)  # the same runs in every panel: one legend, outside the data
    return fig


def sweep_plot(data: pd.DataFrame, *, x: str, hue: str, metrics: Sequence[str], title: str,
               style: str | None = None) -> plt.Figure:
    """Metric vs a swept hyper-parameter (``x``), one line per value of ``hue``; one panel per metric.

    ``data`` has one row per run with the hyper-parameter columns and the metric columns.
    """
    metrics = [m for m in metrics if m in data.columns]
    fig, axes = panel_grid(len(metrics), ncols=2)
    for ax, metric in zip(axes, metrics):
        part = data.dropna(subset=[x, metric])
        if not part.empty:
            sns.lineplot(data=part, x=x, y=metric, hue=hue if hue in part else None, style=style if style in part else None,
                         marker="o", palette="viridis" if hue in part else None, ax=ax)
            count_ticks(ax, part[x])  # blocks / channels: whole numbers (never 2.25 blocks)
        ax.set_xlabel(x)
        ax.set_ylabel(metric_label(metric))
    fig.suptitle(title)
    fig.tight_layout()
    legend_below(fig, axes)
    return fig


def legend_below(fig: plt.Figure, axes: Sequence[plt.Axes]) -> None:
    """One legend for all panels, below them (outside the data), instead of one legend inside each panel."""
    handles, labels = [], []
    for ax in axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
        legend.remove()
    if handles:
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(8, len(handles)),
                   fontsize=7, frameon=False)


def family_comparison(data: pd.DataFrame, *, metrics: Sequence[str], title: str) -> plt.Figure:
    """Two model families side by side at the same (blocks, channels): one bar panel per metric.

    ``data`` has one row per run with columns ``model``, ``blocks``, ``channels`` and the metrics; only the
    (blocks, channels) that every family in ``data`` has are drawn (replicas of a configuration are averaged).
    """
    metrics = [m for m in metrics if m in data.columns]
    part = data.dropna(subset=["blocks", "channels"]).copy()
    part["config"] = [f"{int(b)} x {int(c)}" for b, c in zip(part["blocks"], part["channels"])]
    families = part.groupby("config")["model"].nunique()
    shared = families[families == part["model"].nunique()].index
    part = part[part["config"].isin(shared)].sort_values(["blocks", "channels"])
    fig, axes = panel_grid(len(metrics), ncols=2)
    for ax, metric in zip(axes, metrics):
        if not part.empty:
            sns.barplot(data=part, x="config", y=metric, hue="model", errorbar=None, ax=ax)
            low, high = part[metric].min(), part[metric].max()
            pad = (high - low) * 0.5 or abs(high) * 0.01 or 1.0
            ax.set_ylim(max(0.0, low - pad) if low >= 0 else low - pad, high + pad)  # show the differences
        ax.set_xlabel("blocks x channels")
        ax.set_ylabel(metric_label(metric))
        ax.tick_params(axis="x", rotation=30)
    fig.suptitle(title)
    fig.tight_layout()
    legend_below(fig, axes)
    return fig


def detailed_crop_box(hr: np.ndarray, size: int) -> tuple[int, int]:
    """Top-left corner of the ``size`` x ``size`` window with the most detail (largest gradient energy)."""
    gray = hr.astype(np.float64).mean(axis=2) if hr.ndim == 3 else hr.astype(np.float64)
    h, w = gray.shape
    size = min(size, h, w)
    gy, gx = np.gradient(gray)
    energy = gx**2 + gy**2
    integral = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = (integral[size:, size:] - integral[:-size, size:] - integral[size:, :-size] + integral[:-size, :-size])
    stride = max(1, size // 4)
    sub = sums[::stride, ::stride]
    y, x = np.unravel_index(np.argmax(sub), sub.shape)
    return int(y * stride), int(x * stride)


MAX_COLUMNS = 7  # crops side by side in a comparison grid


def comparison_grid(panels: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]]]], *, title: str) -> plt.Figure:
    """A grid of image crops: one row per image, one column per method.

    ``panels`` is ``[(image_name, [(column_title, uint8 crop), ...]), ...]``; crops of one row share a size. A row
    of more than ``MAX_COLUMNS`` crops wraps onto the next rows (a page holds about seven crops side by side).
    """
    panels = [(name if i == 0 else f"{name} (cont.)", cols[i: i + MAX_COLUMNS])
              for name, cols in panels for i in range(0, max(len(cols), 1), MAX_COLUMNS)]
    n_rows = len(panels)
    n_cols = max(len(cols) for _, cols in panels)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.1 * n_cols, 2.6 * n_rows + 0.6), squeeze=False,
                             layout="constrained")  # room for each row's two-line titles
    for r, (name, cols) in enumerate(panels):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if c >= len(cols):
                ax.axis("off")
                continue
            label, img = cols[c]
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(label, fontsize=8)
            if c == 0:
                ax.set_ylabel(name, fontsize=8)
    fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------------------------- a study's figures


def study_figure(study: Study, figure: str, *, study_dir: str | Path, summary: str,
                 histories: Mapping[str, str] | None = None) -> plt.Figure:
    """One figure of the (resolved) study; its kind is in the study file (``histories``: run -> history.csv)."""
    spec = study.spec
    where = f"study {study.name}"
    fig_spec = study.figures[figure]
    kind = fig_spec["kind"]
    title = fig_spec.get("title", figure)
    study_dir = Path(study_dir)
    hist = {run: pd.read_csv(p) for run, p in (histories or {}).items()}
    if fig_spec.get("runs"):
        hist = {r: h for r, h in hist.items() if r in fig_spec["runs"]}
    if fig_spec.get("best_by"):  # only the best run by a metric of the summary (e.g. "the best model's progress")
        best = _best_run(summary, fig_spec["best_by"], [r for r in hist], study)
        hist = {best: hist[best]} if best else {}
        title = f"{title}: {best}" if best else title
    if kind in ("loss_curves", "loss_terms", "metric_curves") and not hist:
        raise SisrError(f"{where}: {figure}: no training history to plot (runs {fig_spec.get('runs')})")
    if kind in ("loss_curves", "loss_terms", "metric_curves"):  # what this tier ran, not what the document did
        title = f"{title}\n({epochs_text(hist)} in tier {study.tier})"
    if kind == "loss_curves":
        fig = loss_curves(hist, title=title, losses={r: loss_text(study.runs.get(r, {})) for r in hist})
    elif kind == "metric_curves":
        fig = metric_curves(hist, fig_spec.get("metrics", ["val_psnr_y"]), title=title)
    elif kind == "loss_terms":
        fig = loss_terms_curves(hist, title=title)
    elif kind == "comparison_grid":
        fig = _comparison_grid(study, fig_spec, study_dir, summary, title)
    elif kind == "triptychs":
        fig = _triptychs(study, fig_spec, study_dir, summary, title)
    elif kind == "family_comparison":
        data, dataset = _runs_with_info(study, study_dir, summary, fig_spec)
        fig = family_comparison(data, metrics=fig_spec.get("metrics", ["psnr_y"]),
                                title=f"{title}\n(tier {study.tier}, {dataset}, x{spec['scale']})")
    elif kind == "sweep":
        data, dataset = _runs_with_info(study, study_dir, summary, fig_spec)
        fig = sweep_plot(data, x=fig_spec.get("x", "channels"), hue=fig_spec.get("hue", "blocks"),
                         style="model", metrics=fig_spec.get("metrics", ["psnr_y"]),
                         title=f"{title}\n(tier {study.tier}, {dataset}, x{spec['scale']})")
    else:
        raise SisrError(f"{where}: {figure}.kind: {kind!r} is not implemented yet")
    return fig


def epochs_text(hist: Mapping[str, pd.DataFrame]) -> str:
    """``4 epochs`` (or ``2-4 epochs`` where the runs differ): the epochs the plotted histories ran."""
    ends = sorted({int(h["epoch"].max()) for h in hist.values() if len(h) and "epoch" in h.columns})
    if not ends:
        return "no epochs"
    span = str(ends[0]) if len(ends) == 1 else f"{ends[0]}-{ends[-1]}"
    return f"{span} epoch{'s' if ends[-1] != 1 else ''}"


LOSS_NAMES = {"l1": "L1", "mse": "MSE", "charbonnier": "Charbonnier", "perceptual": "perceptual", "lpips": "LPIPS",
              "adversarial": "adversarial"}


def loss_text(run_cfg: Mapping) -> str:
    """The loss a run trains with, as its axis names it: ``L1``, ``MSE``, ``L1 + perceptual``."""
    terms = [LOSS_NAMES.get(t.get("name"), str(t.get("name"))) for t in run_cfg.get("loss") or []]
    return (" + ".join(terms) or "loss") + " loss"


def _summary_rows(summary: str, study: Study) -> pd.DataFrame:
    """The summary's first-seed rows under the study's degradation (:func:`sisr.report.aggregate.study_rows`)."""
    return primary_rows(study_rows(pd.read_csv(summary), study))


def _best_run(summary: str, metric: str, runs: Sequence[str], study: Study) -> str | None:
    """The run with the best summary value of ``metric`` on the summary's first evaluation set."""
    df = _summary_rows(summary, study)
    df = df[(df["dataset"] == df["dataset"].iloc[0]) & df["run"].isin(runs)].dropna(subset=[metric])
    if df.empty:
        return None
    return str(df.sort_values(metric, ascending=not higher_is_better(metric))["run"].iloc[0])


def _runs_with_info(study: Study, study_dir: Path, summary: str, fig_spec: Mapping):
    """One row per run on the figure's evaluation set: summary metrics with hyper-parameters (run_info)."""
    summary_df = _summary_rows(summary, study)
    dataset = _figure_dataset(fig_spec, summary_df)
    info = pd.DataFrame.from_dict(run_info(study, study_dir), orient="index")
    data = summary_df[summary_df["dataset"] == dataset].merge(info, left_on="run", right_index=True,
                                                              suffixes=("_summary", ""))
    return data, dataset


def _figure_dataset(fig_spec: Mapping, summary_df: pd.DataFrame) -> str:
    """The figure's evaluation set: ``dataset`` where this tier has it, else the tier's first evaluation set."""
    wanted = fig_spec.get("dataset")
    present = list(dict.fromkeys(summary_df["dataset"]))
    return wanted if wanted in present else present[0]


def _comparison_grid(study: Study, fig_spec: Mapping, study_dir: Path, summary: str, title: str):
    summary_df = _summary_rows(summary, study)
    scale, tier, degrade = study.scale, study.tier, degradations.get(study.degradation)
    dataset = _figure_dataset(fig_spec, summary_df)
    key = paths.set_key(dataset, study.degradation)
    where = f"tier {tier}, {key}" if tier else key
    if fig_spec.get("dataset") and dataset != fig_spec["dataset"]:
        where += f" (the document's {fig_spec['dataset']} is not evaluated in this tier)"
    runs = fig_spec.get("runs") or list(dict.fromkeys(summary_df[summary_df["dataset"] == dataset]["run"]))
    n_images, crop = fig_spec.get("n_images", 3), fig_spec.get("crop", 96)
    first = Path(paths.sr_dir(study_dir, runs[0], key, scale))
    names = [p.stem for p in list_images(first)][:n_images]
    # HR: recover from the eval CSV's dataset via the first run's evaluation (the SR size is the modcropped HR size)
    hr_dir = _hr_dir_for(paths.eval_csv(study_dir, runs[0], key, scale))
    panels = []
    for name in names:
        hr = read_image(hr_dir[name], mode="any")
        first_sr = read_image(first / f"{name}.png", mode="any")
        if first_sr.ndim == 2 and hr.ndim == 3:  # a Y-channel study: show the Y of the HR
            hr = to_y(hr)
        hr = hr[: first_sr.shape[0], : first_sr.shape[1]]
        y, x = detailed_crop_box(hr, crop)
        crop_hr = hr[y: y + crop, x: x + crop]
        lr = degrade.lr(hr, scale, image=name)  # the LR the evaluation made
        lr_crop = lr[y // scale: (y + crop) // scale, x // scale: (x + crop) // scale]
        cols = [("LR (nearest)", np.repeat(np.repeat(lr_crop, scale, 0), scale, 1))]
        for run in runs:
            sr = read_image(Path(paths.sr_dir(study_dir, run, key, scale)) / f"{name}.png", mode="any")
            per_image = _eval_csv(paths.eval_csv(study_dir, run, key, scale)).set_index("image")
            psnr = per_image.loc[name, "psnr_y"] if "psnr_y" in per_image.columns else float("nan")
            cols.append((f"{run}\n{psnr:.2f} dB", sr[y: y + crop, x: x + crop]))
        cols.append(("HR", crop_hr))
        panels.append((name, cols))
    return comparison_grid(panels, title=f"{title}\n({where}, x{scale}; PSNR-Y of the whole image)")


def _triptychs(study: Study, fig_spec: Mapping, study_dir: Path, summary: str, title: str):
    """LR (nearest) / SR / HR of the best and the worst image by SSIM-Y, for each run."""
    summary_df = _summary_rows(summary, study)
    scale, tier, degrade = study.scale, study.tier, degradations.get(study.degradation)
    dataset = _figure_dataset(fig_spec, summary_df)
    key = paths.set_key(dataset, study.degradation)
    runs = fig_spec.get("runs") or [r for r in dict.fromkeys(summary_df["run"]) if r in study.spec.get("runs", {})]
    metric = (fig_spec.get("metrics") or ["ssim_y"])[0]
    crop = fig_spec.get("crop", 128)
    panels = []
    for run in runs:  # one row per run: the best image's LR / SR / HR, then the worst image's
        per_image = _eval_csv(paths.eval_csv(study_dir, run, key, scale))
        ranked = per_image.sort_values(metric)
        cols = []
        for which, row in (("best", ranked.iloc[-1]), ("worst", ranked.iloc[0])):
            sr = read_image(Path(paths.sr_dir(study_dir, run, key, scale)) / f"{row['image']}.png", mode="any")
            hr = read_image(row["hr_path"], mode="any")
            if sr.ndim == 2 and hr.ndim == 3:
                hr = to_y(hr)
            hr = hr[: sr.shape[0], : sr.shape[1]]
            y, x = detailed_crop_box(hr, crop)
            lr = degrade.lr(hr, scale, image=str(row["image"]))
            lr = lr[y // scale: (y + crop) // scale, x // scale: (x + crop) // scale]
            head = f"{which}: {row['image']}\n{metric} {row[metric]:.4f}"
            cols += [(f"{head}\nLR (nearest)", np.repeat(np.repeat(lr, scale, 0), scale, 1)),
                     (f"{head}\nSR", sr[y: y + crop, x: x + crop]), (f"{head}\nHR", hr[y: y + crop, x: x + crop])]
        panels.append((run, cols))
    return comparison_grid(panels, title=f"{title}\n({f'tier {tier}, ' if tier else ''}{key}, x{scale})")


def _eval_csv(path: str | Path) -> pd.DataFrame:
    """A per-image evaluation CSV with its image names as text (DIV2K's ``0801`` is not the number 801)."""
    return pd.read_csv(path, dtype={"image": str})


def _hr_dir_for(csv: str) -> dict[str, Path]:
    """HR paths of an evaluation set, from the ``hr_path`` column the evaluation writes in ``csv``."""
    df = _eval_csv(csv)
    if "hr_path" not in df.columns:
        raise SisrError(f"{csv}: evaluation CSV lacks the hr_path column")
    return dict(zip(df["image"], map(Path, df["hr_path"])))
