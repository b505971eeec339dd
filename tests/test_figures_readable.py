"""Figures a reader can read at a paper's page width, and latency measured after warm-up."""

import time

import numpy as np
import pandas as pd
import torch

from sisr.report import figures
from sisr.report.leaderboard import cost_plot


def _history(epochs=6, gan=True):
    rows = []
    for e in range(1, epochs + 1):
        row = {"epoch": e, "train_loss": 1 / e, "train_l1": 0.5 / e}
        if gan:
            row.update({"train_adversarial": 0.7, "d_loss": 1.3, "phase": "g" if e % 2 else "d"})
        rows.append(row)
    return pd.DataFrame(rows)


def test_many_panels_wrap_into_rows_at_page_width():
    fig = figures.loss_terms_curves({f"gan_{i}": _history() for i in range(6)}, title="six GAN runs")
    width, height = fig.get_size_inches()
    rows = {round(ax.get_position().y0, 3) for ax in fig.axes if ax.get_title()}
    assert width <= figures.PAGE_WIDTH and len(rows) == 2 and width / height < 3  # was 6 panels in a row


def test_sweep_ticks_are_whole_counts():
    data = pd.DataFrame({"blocks": [1, 2, 4, 8, 1, 2, 4, 8], "channels": [8] * 4 + [16] * 4,
                         "model": ["deep_residual"] * 8, "psnr_y": np.linspace(20, 28, 8)})
    fig = figures.sweep_plot(data, x="blocks", hue="channels", metrics=["psnr_y"], title="sweep")
    ax = fig.axes[0]
    assert list(ax.get_xticks()) == [1, 2, 4, 8]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4", "8"]
    assert ax.get_legend() is None and fig.legends  # one legend, below the panels


def _boxes_overlap(a, b):
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_cost_plot_labels_do_not_overlap_and_the_legend_is_outside_the_data():
    rng = np.random.default_rng(0)
    n = 14  # crowded: close costs and PSNRs
    board = pd.DataFrame({"method": [f"s/run{i}" for i in range(n)], "study": ["a", "b"] * (n // 2),
                          "run": [f"run_{i}" for i in range(n)], "dataset": "Set5", "scale": 4,
                          "psnr_y": 28 + rng.normal(0, 0.15, n), "gflops_per_mp": 10 ** rng.uniform(0.9, 1.1, n),
                          "source": "this workflow"})
    fig = cost_plot(board)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    labels = [t for t in ax.texts if t.get_text().isdigit()]
    assert len(labels) == n
    boxes = [t.get_window_extent(renderer) for t in labels]
    overlaps = [(labels[i].get_text(), labels[j].get_text()) for i in range(n) for j in range(i + 1, n)
                if _boxes_overlap(boxes[i], boxes[j])]
    assert overlaps == []
    # every label is nearer to its own point than to any other (it cannot be read as another point's)
    points = ax.transData.transform(np.column_stack([board["gflops_per_mp"], board["psnr_y"]]))
    for text, box in zip(labels, boxes):
        own = ax.transData.transform(np.array([text.xy]))[0]
        dist = [np.hypot(max(box.x0 - x, x - box.x1, 0), max(box.y0 - y, y - box.y1, 0)) for x, y in points]
        own_dist = np.hypot(max(box.x0 - own[0], own[0] - box.x1, 0), max(box.y0 - own[1], own[1] - box.y1, 0))
        assert own_dist <= min(dist) + 0.5, text.get_text()
    # the key names every number's method, and each number's point is that method's
    key = {t.get_text().split("  ")[0]: t.get_text().split("  ")[1] for t in fig.legends[0].get_texts()}
    assert sorted(key.values()) == sorted(board["method"])
    for text in labels:
        row = board[board["method"] == key[text.get_text()]].iloc[0]
        assert np.allclose(text.xy, (row["gflops_per_mp"], row["psnr_y"]))
    legend = fig.legends[0].get_window_extent(renderer)
    assert not _boxes_overlap(legend, ax.get_window_extent(renderer)) and ax.get_legend() is None


class _SlowFirstCall(torch.nn.Module):
    """Nearest x2 upsampling whose first call takes 0.5 s (like a lazy initialisation)."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls == 1:
            time.sleep(0.5)
        return torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")


def test_latency_is_measured_after_a_warm_up(tmp_path):
    from sisr.data.datasets import Pair
    from sisr.base.io import write_image
    from sisr.evaluation import evaluate

    rng = np.random.default_rng(0)
    pairs = []
    for i in range(2):
        write_image(tmp_path / f"hr{i}.png", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
        pairs.append(Pair(f"img{i}", tmp_path / f"hr{i}.png", None))
    df = evaluate(pairs, scale=2, metrics=["psnr_y"], model=_SlowFirstCall(), sr_dir=tmp_path / "sr", device="cpu")
    assert df["seconds"].max() < 0.25, df["seconds"].tolist()  # the 0.5 s warm-up is not in the first image's time


def test_a_label_nearer_to_another_point_than_to_its_own_is_a_clash():
    from matplotlib.transforms import Bbox

    points = np.array([[0.0, 0.0], [30.0, 25.0]])
    box = Bbox.from_extents(12, 12, 80, 21)  # a far spot of point 0 (leader line) that ends just below point 1
    assert figures._nearer_to_another(box, points, 0) == 1 and figures._nearer_to_another(box, points, 1) == 0
    near = Bbox.from_extents(4, 2, 70, 11)  # the nearest spot of point 0
    assert figures._nearer_to_another(near, points, 0) == 0


def _legend_off_the_data(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert fig.legends and all(ax.get_legend() is None for ax in fig.axes)
    box = fig.legends[0].get_window_extent(renderer)
    for ax in fig.axes:
        assert not _boxes_overlap(box, ax.get_window_extent(renderer)), ax.get_title()


def test_losses_of_different_kinds_get_their_own_axes_and_legends_sit_off_the_data():
    hist = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [0.3, 0.2, 0.1], "val_loss": [0.35, 0.25, 0.2]})
    fig = figures.loss_curves({"edsr_l1": hist, "srresnet": hist, "edsr_mse": hist * 0.1}, title="loss",
                              losses={"edsr_l1": "L1 loss", "srresnet": "L1 loss", "edsr_mse": "MSE loss"})
    labels = sorted(ax.get_ylabel() for ax in fig.axes)
    assert labels == ["L1 loss (per pixel, images in [0, 1])", "MSE loss (per pixel, images in [0, 1])"]
    mse = next(ax for ax in fig.axes if ax.get_ylabel().startswith("MSE"))
    assert len(mse.get_lines()) >= 2 and all(line.get_ydata().max() < 0.05 for line in mse.get_lines()
                                             if len(line.get_ydata()))  # only the MSE run on the MSE axis
    _legend_off_the_data(fig)
    _legend_off_the_data(figures.loss_terms_curves({"cnn": _history(gan=False), "gan": _history()}, title="terms"))
    bars = pd.DataFrame({"model": ["a", "b"], "blocks": [1, 1], "channels": [8, 8], "psnr_y": [20.0, 22.0]})
    _legend_off_the_data(figures.family_comparison(bars, metrics=["psnr_y"], title="families"))


def test_a_term_keeps_its_colour_in_every_panel():
    fig = figures.loss_terms_curves({"cnn": _history(gan=False), "gan": _history()}, title="terms")
    colours = {}
    for ax in fig.axes:
        for line, label in zip(*ax.get_legend_handles_labels()):
            colours.setdefault(label, set()).add(str(line.get_color()))
    legend = {t.get_text(): str(h.get_color()) for t, h in zip(fig.legends[0].get_texts(), fig.legends[0].legend_handles)}
    assert legend["train_l1"] != legend["train_adversarial"]
    cnn = fig.axes[0].get_lines()[0]
    assert str(cnn.get_color()) == legend["train_l1"]


def test_grid_titles_of_a_row_do_not_touch_the_images_above():
    img = np.zeros((40, 40, 3), np.uint8)
    panels = [(f"image{r}", [(f"run{c}\n30.00 dB", img) for c in range(6)]) for r in range(3)]
    fig = figures.comparison_grid(panels, title="grid\n(tier ci, skimage-valid, x4; PSNR-Y)")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    rows = np.array(fig.axes).reshape(3, 6)
    for r in range(1, 3):
        for c in range(6):
            title = rows[r][c].title.get_window_extent(renderer)
            above = rows[r - 1][c].get_window_extent(renderer)
            assert title.y1 < above.y0, (r, c)  # display y grows upwards


def test_curve_titles_say_the_epochs_this_tier_ran_and_the_loss():
    hist = {"a": pd.DataFrame({"epoch": [1, 2, 3, 4]}), "b": pd.DataFrame({"epoch": [1, 2]})}
    assert figures.epochs_text(hist) == "2-4 epochs" and figures.epochs_text({"a": hist["a"]}) == "4 epochs"
    assert figures.loss_text({"loss": [{"name": "l1", "weight": 1}, {"name": "perceptual", "weight": 1}]}) == \
        "L1 + perceptual loss"


def test_no_figure_title_names_a_dataset_or_an_epoch_count_the_tier_may_not_have():
    """Titles come from the study files and are shown in every tier: the tier's data and epochs are added by the
    code (espcn's Fig. 3 said 'from DIV2K' over scikit-image photographs; inverted_unet's Fig. 4 '30-epoch')."""
    import re
    from pathlib import Path

    import yaml

    for path in sorted((Path(__file__).resolve().parents[1] / "studies").glob("*.yaml")):
        for name, fig in yaml.safe_load(path.read_text()).get("figures", {}).items():
            title = fig.get("title", "")
            assert not re.search(r"\b(from|on) (DIV2K|DF2K|Set5|Set14)\b", title), (path.name, name, title)
            assert not re.search(r"\d+-epoch", title), (path.name, name, title)


def test_a_grid_of_many_methods_wraps_at_seven_columns():
    img = np.zeros((40, 40, 3), np.uint8)
    panels = [("coffee", [(f"run{c}", img) for c in range(11)])]  # rrdb_gan's demo Fig. 6: LR, 9 methods, HR
    fig = figures.comparison_grid(panels, title="grid")
    rows = {round(ax.get_position().y0, 3) for ax in fig.axes if ax.get_title()}
    assert len(rows) == 2 and fig.get_size_inches()[0] <= 2.1 * 7 + 0.01
    assert sorted(ax.get_title() for ax in fig.axes if ax.get_title()) == sorted(f"run{c}" for c in range(11))
