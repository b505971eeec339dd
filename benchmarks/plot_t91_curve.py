"""Plot the T91 check's time-to-quality curve(s) from a t91_curve.csv (benchmarks/t91_gpu.py).

    python benchmarks/plot_t91_curve.py benchmarks/results/h200_2026-11-26/t91_curve.csv docs/t91_time_to_quality.png
"""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

LABELS = {
    "check_graph": "check schedule (b64, 32,640 steps), run 1",
    "check_graph_repeat": "check schedule, run 2",
    "check_graph_repeat2": "check schedule, run 3",
    "b256_lr2e-3_n192_graph_true": "b256, lr 2e-3, 16,320 steps",
}


def main(src: str, dst: str) -> None:
    df = pd.read_csv(src)
    df["run"] = df["variant"].map(lambda v: LABELS.get(v, v))
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    sns.lineplot(data=df, x="train_seconds", y="set5_psnr_y", hue="run", ax=ax, linewidth=1.3)
    ax.axhline(32.5, color="black", linestyle="--", linewidth=0.9)
    ax.text(0.3, 32.52, "32.5 dB", fontsize=8, va="bottom")
    ax.set_ylim(31.0, 32.7)
    ax.set_xlim(0, None)
    ax.set_xlabel("training time on one NVIDIA H200 (s, validation excluded)")
    ax.set_ylabel("Set5 x3 PSNR-Y (dB)")
    ax.set_title("ESPCN (ReLU, Y) on T91, x3: time to quality (sisr engine, CUDA graph, data on GPU)", fontsize=9)
    ax.legend(title=None, fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(dst)


if __name__ == "__main__":
    main(*sys.argv[1:3])
