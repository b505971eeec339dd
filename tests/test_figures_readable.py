"""Figures a reader can read at a paper's page width, and latency measured after warm-up."""

import time

import numpy as np
import pandas as pd
import torch

from sisr import figures
from sisr.leaderboard import cost_plot


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
    from sisr.io import write_image
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
