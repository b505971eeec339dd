"""Claims bound like-for-like (issue 23, "mis-bound claims"): each binding of a study file checked on the study file.

espcn: the SRCNN column of Table 1 is Dong et al.'s number, quoted; our SRCNN is shown beside it, unclaimed.
srresnet_edsr: the final table is the weights after the 50th epoch (the document's epoch 49), not a checkpoint
selected on validation. inverted_unet: no checkpoint selected on the evaluation set; runs with the U-Net's GPU time.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sisr.report.audit import Gate, judge_claims
from sisr.config.plan import epoch_seconds, equal_cost_epochs
from sisr.config.studies import load_study, train_settings
from sisr.report.tables import build_table

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


def _selected_epoch(run_cfg: dict, history: pd.DataFrame) -> int:
    """The epoch whose weights checkpoint_best.pt holds after training ``run_cfg`` with this validation history."""
    from sisr.training import TrainConfig
    from sisr.training.engine import _Tracker

    cfg = TrainConfig.from_dict(train_settings(run_cfg), where="test")
    tracker = _Tracker(cfg.best_metric.metric, cfg.best_metric.mode)
    for row in history.to_dict("records"):
        tracker.update(float(row[cfg.best_metric.metric]), int(row["epoch"]))
    return tracker.epoch


def _history_peaking_at(epochs: int, peak: int) -> pd.DataFrame:
    """A validation history whose PSNR / SSIM are best and whose loss is lowest after epoch ``peak``."""
    epoch = pd.Series(range(1, epochs + 1))
    distance = (epoch - peak).abs()
    return pd.DataFrame({"epoch": epoch, "val_loss": 0.01 + 1e-4 * distance, "val_psnr_y": 30.0 - 0.01 * distance,
                         "val_ssim_y": 0.9 - 1e-4 * distance})


def test_srresnet_edsr_final_table_evaluates_the_epoch_49_weights():
    """table_final claims the document's epoch-49 row (it counts epochs 0..49): the weights after our 50th epoch.
    The evaluated checkpoint (checkpoint_best.pt) must be those weights, whatever validation did."""
    study = load_study(STUDIES / "srresnet_edsr.yaml", "paper")
    final = study.tables["table_final"]
    doc_last = max(study.tables["table_epochs"]["epochs"])
    runs = {r.split("#")[0] for r in final["claimed"]}
    assert doc_last == 49 and runs == {"srresnet", "edsr_l1", "edsr_mse"}
    for run in runs:
        cfg = study.runs[run]
        assert cfg["epochs"] == doc_last + 1 and doc_last + 1 in cfg["keep_checkpoints"], run
        assert _selected_epoch(cfg, _history_peaking_at(cfg["epochs"], peak=31)) == doc_last + 1, run


def test_srresnet_edsr_best_and_worst_examples_are_indicative_only():
    """The document's 'best' / 'worst' examples are not its highest / lowest image: compared, never a verdict."""
    from sisr.report.audit import paper_hashes
    from sisr.report.tables import build_image_table

    study = load_study(STUDIES / "srresnet_edsr.yaml", "paper")
    spec = study.tables["table_best_worst"]
    assert spec["images"] == ["best", "worst"] and "not its highest" in spec["caption"]
    frame = pd.DataFrame({"image": ["0801", "0868", "0897"], "ssim_y": [0.5, 0.904, 0.593]})
    per_image = {(run, "div2k-valid"): frame for run in spec["runs"]}
    long = build_image_table(per_image, spec, table="table_best_worst", datasets=["div2k-valid"], scale=4)
    assert set(long.loc[long["image"] == "best", "ours"]) == {0.904}  # bound to the set's highest
    runs = list(spec["runs"])
    gate = Gate("paper", hashes=paper_hashes(study, runs), expected=paper_hashes(study, runs))
    judged = judge_claims({"table_best_worst": long}, {"ssim_y": 0.02}, gate, set(runs), study.tables)
    assert len(judged) == 4 and set(judged["kind"]) == {"indicative"}
    assert judged["verdict"].str.contains("not its highest / lowest").all()
    named = study.tables["table_images"]
    assert not {"best", "worst"} & set(named["images"])


UNET = STUDIES / "inverted_unet.yaml"
EQGPU = {"srcnn_lpips_eqgpu": "srcnn_lpips", "espcn_lpips_eqgpu": "espcn_lpips"}


@pytest.mark.parametrize("tier", ["paper", "quick"])
def test_inverted_unet_selects_no_checkpoint_on_its_evaluation_set(tier):
    """The document: validation "has no impact on the training process"; here validation is the claims' set."""
    study = load_study(UNET, tier)
    assert study.valid_data.label in {ref.label for ref in study.eval_data}  # why selecting on it would be wrong
    assert study.tables["table1"]["claimed_on"]["data"] == f"{study.valid_data.dataset}/{study.valid_data.split}"
    for run, cfg in study.runs.items():
        assert cfg.get("early_stopping") is None, run
        assert _selected_epoch(cfg, _history_peaking_at(cfg["epochs"], peak=1)) == cfg["epochs"], run


@pytest.mark.parametrize("tier", ["paper", "quick"])
def test_inverted_unet_eqgpu_runs_get_the_unets_measured_gpu_time(tier):
    """The *_eqgpu epochs are recomputed from the measured step times (modes.FASTEST via sisr.config.plan), not typed in."""
    study = load_study(UNET, tier)
    budget = study.runs["unet_lpips"]["epochs"] * epoch_seconds(UNET, tier, "unet_lpips")
    for run, document_run in EQGPU.items():
        cfg, doc = study.runs[run], study.runs[document_run]
        assert cfg["epochs"] == equal_cost_epochs(UNET, tier, "unet_lpips", run), run
        per_epoch = epoch_seconds(UNET, tier, run)
        assert abs(cfg["epochs"] * per_epoch - budget) <= per_epoch / 2, run
        # the same training as the document's run of that model, but for its length
        same = {k: v for k, v in train_settings(cfg).items() if k not in ("epochs", "val_every")}
        assert same == {k: v for k, v in train_settings(doc).items() if k not in ("epochs", "val_every")}, run
        # the document's epochs give this model much less GPU time than the U-Net (the premise of the runs)
        assert doc["epochs"] * per_epoch < budget / 3, run
    assert set(EQGPU) <= set(study.tables["table1"]["runs"])


@pytest.mark.fault
def test_equal_cost_epochs_names_the_missing_run():
    from sisr.base.errors import ConfigError

    with pytest.raises(ConfigError, match=r"inverted_unet\.yaml: tier paper has no run 'nope'"):
        equal_cost_epochs(UNET, "paper", "unet_lpips", "nope")
