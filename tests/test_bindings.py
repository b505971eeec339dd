"""Claims bound like-for-like (issue 23, "mis-bound claims"): each binding of a study file checked on the study file.

espcn: the SRCNN column of Table 1 is Dong et al.'s number, quoted; our SRCNN is shown beside it, unclaimed.
srresnet_edsr: the final table is the weights after the 50th epoch (the document's epoch 49), not a checkpoint
selected on validation. inverted_unet: no checkpoint selected on the evaluation set; runs with the U-Net's GPU time.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from sisr.audit import Gate, judge_claims
from sisr.studies import load_study
from sisr.tables import build_table

STUDIES = Path(__file__).resolve().parents[1] / "studies"


def test_espcn_srcnn_claim_is_quoted_and_our_srcnn_is_shown_unclaimed():
    study = load_study(STUDIES / "espcn.yaml", "paper")
    spec = study.tables["table1"]
    summary = pd.DataFrame([{"run": r, "dataset": d, "scale": 4, "psnr_y": 30.0, "ssim_y": 0.86, "lpips_alex": 0.2}
                            for r in ("bicubic", "srcnn", "espcn") for d in ("Set5", "div2k-valid")])
    long = build_table(summary, spec, table="table1", scale=4)
    claimed = long[long["claimed"].notna()]
    dong = claimed[claimed["claim_source"].str.contains("Dong et al.")]
    assert {"bicubic", "aplus"} < set(dong["run"]) and len(set(dong["run"])) == 3
    srcnn_claims = dong[~dong["run"].isin(["bicubic", "aplus"])]
    assert srcnn_claims["quoted"].all() and set(srcnn_claims["run"]) != {"srcnn"}
    ours = long[(long["run"] == "srcnn") & (long["dataset"] == "Set5") & (long["metric"] == "psnr_y")].iloc[0]
    assert ours["ours"] == 30.0 and pd.isna(ours["claimed"]) and "ours" in ours["run_label"].lower()
    kinds = judge_claims({"table1": long}, {"psnr_y": 0.3}, Gate("paper"), set(study.runs), study.tables)
    assert set(kinds.loc[kinds["run"].isin(srcnn_claims["run"]), "kind"]) == {"quoted"}
    assert "srcnn" not in set(kinds["run"])  # no claim is judged against our SRCNN
