"""Markdown table of a throughput CSV (benchmarks/train_throughput.py): patches/s per case and mode, the
default (auto) mode of sisr.training.modes at that shape, and its ratio to the best of the issue-#15 baseline modes.

    python benchmarks/throughput_table.py benchmarks/results/h200_2026-11-26/throughput.csv
"""

from __future__ import annotations

import sys

import pandas as pd

BASELINE = ["fp32", "bf16", "bf16_cl", "bf16_cl_compile"]
OURS = ["fp32_fused", "bf16_cl_fused", "bf16_cl_compile_fused", "graph_fp32", "graph_bf16", "graph_bf16_cl",
        "graph_fp32_fusedadam"]
# the engine-default equivalents: fused Adam eager, fused capturable Adam under a graph
ENGINE = {(False, False, False, "off"): "fp32_fused", (True, False, False, "bf16"): "bf16_cl_fused",
          (False, False, False, "bf16"): "bf16", (True, True, False, "bf16"): "bf16_cl_compile_fused",
          (False, False, True, "off"): "graph_fp32_fusedadam", (True, False, True, "bf16"): "graph_bf16_cl",
          (False, False, True, "bf16"): "graph_bf16"}


def main(path: str) -> None:
    from sisr.training.modes import FASTEST

    df = pd.read_csv(path)
    ok = df[df.error.isna() & (df.batch == df.groupby("case").batch.transform("min"))]
    table = ok.pivot_table(index=["case", "step"], columns="mode", values="patches_per_s", aggfunc="first")
    first = ok.groupby(["case", "step"]).first()
    cols = [c for c in BASELINE + OURS if c in table]
    print("| case (batch, LR patch) | step | " + " | ".join(cols) + " | default mode | default / best baseline |")
    print("|---" * (len(cols) + 4) + "|")
    for (case, step), row in table.iterrows():
        info = first.loc[(case, step)]
        params, batch, patch = int(info.params), int(info.batch), int(info.lr_patch)
        best_base = max(row[c] for c in BASELINE if c in row and pd.notna(row[c]))
        measured = [m for m in FASTEST.get(info.model, ()) if (m.params, m.batch, m.patch) == (params, batch, patch)
                    and m.gan == (step != "train")]
        default, ratio = "-", "-"
        if measured and step != "gan_d_phase":
            mode, speed = measured[0].modes[0]
            default = ENGINE.get((mode.channels_last, mode.compile, mode.cuda_graph, mode.amp), "?")
            ratio = f"{speed / best_base:.2f}x"
            default = f"{default} ({speed:,.0f})"
        cells = [f"{row[c]:,.0f}" if pd.notna(row.get(c)) else "" for c in cols]
        print(f"| {case} (b{batch}, {patch}) | {step} | " + " | ".join(cells) + f" | {default} | {ratio} |")


if __name__ == "__main__":
    main(sys.argv[1])
