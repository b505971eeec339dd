"""run_info (run_rows tables, sweep figures) shows what a run was trained with: its train_done.json's config."""

import json
from pathlib import Path

from sisr.config.studies import load_study
from sisr.report.aggregate import run_info

STUDIES = Path(__file__).resolve().parents[1] / "studies"


def test_run_info_reads_the_trained_config_and_falls_back_to_the_resolved_study(tmp_path):
    study = load_study(STUDIES / "residual_sweep.yaml", "demo", train_overrides={"optimizer": {"lr": 0.0123}})
    trained, untrained = list(study.runs)[:2]
    resolved = study.runs[trained]
    done = {"epochs_run": 3, "seconds": 12.34, "stop_reason": "completed",
            "config": {**resolved, "model_args": {**resolved.get("model_args", {}), "blocks": 99},
                       "optimizer": {"name": "adam", "lr": 0.5}}}
    (tmp_path / trained).mkdir()
    (tmp_path / trained / "train_done.json").write_text(json.dumps(done))
    info = run_info(study, tmp_path)
    assert info[trained]["blocks"] == 99 and info[trained]["lr"] == 0.5  # what was trained, not the study file
    assert info[trained]["epochs_run"] == 3 and info[trained]["train_seconds"] == 12.3
    assert info[untrained]["lr"] == 0.0123  # not trained yet: the resolved study, train_overrides included
    assert "epochs_run" not in info[untrained]
