"""Per-epoch metrics that training does not log (srresnet_edsr's FID per epoch): the engine keeps the checkpoints
of the listed epochs (``keep_checkpoints``), the evaluate_epochs job evaluates them, the epoch_rows tables read them.

The FID test is PLUMBING with a RANDOM-INIT Inception (saved to a temporary cache, as in test_perceptual.py): it
shows that the kept checkpoints are evaluated with the FID network from the cache; its FID values mean nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from helpers.studies import edited_study
from helpers.training import TinyTrainSource, register_tiny_models, tiny_config, tiny_valid
from sisr.data import weights
from sisr.data.lookalike import random_fid_inception
from sisr.base.errors import ConfigError
from sisr.base.io import write_image
from sisr.config.studies import load_study
from sisr.training import load_checkpoint, train
from sisr.training.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def tiny_models(monkeypatch):
    from sisr import models

    monkeypatch.setattr(models, "MODELS", dict(models.MODELS))
    register_tiny_models()


class Killed(Exception):
    """Stands for a kill: raised when the source is asked for the batches of one epoch."""


def _train(out: Path, *, source=None, **overrides):
    logs: list[str] = []
    result = train(tiny_config(**overrides), train_source=source or TinyTrainSource(), valid_source=tiny_valid(),
                   out_dir=out, device="cpu", log=logs.append)
    return result, logs


def _same_weights(a: Path, b: Path) -> bool:
    wa, wb = load_checkpoint(a)["model"], load_checkpoint(b)["model"]
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_engine_keeps_the_listed_epochs_and_a_resumed_run_keeps_the_same(tmp_path):
    ref, _ = _train(tmp_path / "ref", epochs=3, keep_checkpoints=[1, 3, 7])  # 7: beyond the schedule, never reached
    kept = json.loads((tmp_path / "ref" / "train_done.json").read_text())["kept_checkpoints"]
    assert kept == {"1": "checkpoint_epoch1.pt", "3": "checkpoint_epoch3.pt"}
    assert sorted(p.name for p in (tmp_path / "ref").glob("checkpoint_epoch*.pt")) == list(kept.values())
    one = load_checkpoint(tmp_path / "ref" / "checkpoint_epoch1.pt")
    assert one["kind"] == "epoch" and one["epoch"] == 1 and one["history"]["epoch"] == 1
    assert one["config"]["keep_checkpoints"] == [1, 3, 7]
    assert _same_weights(tmp_path / "ref" / "checkpoint_epoch3.pt", tmp_path / "ref" / "checkpoint_last.pt")
    assert not _same_weights(tmp_path / "ref" / "checkpoint_epoch1.pt", tmp_path / "ref" / "checkpoint_last.pt")

    # killed when epoch 3 starts (epochs 1 and 2 saved), then rerun: the same kept files, bitwise (CPU)
    def kill(epoch):
        if epoch == 2:
            raise Killed

    with pytest.raises(Killed):
        _train(tmp_path / "run", source=TinyTrainSource(on_epoch=kill), epochs=3, keep_checkpoints=[1, 3, 7])
    assert [p.name for p in (tmp_path / "run").glob("checkpoint_epoch*.pt")] == ["checkpoint_epoch1.pt"]
    _, logs = _train(tmp_path / "run", epochs=3, keep_checkpoints=[1, 3, 7])
    assert any("resuming from epoch 3" in line for line in logs), logs
    done = json.loads((tmp_path / "run" / "train_done.json").read_text())
    assert done["kept_checkpoints"] == kept
    for name in kept.values():
        assert _same_weights(tmp_path / "run" / name, tmp_path / "ref" / name), name


def test_changing_the_kept_epochs_does_not_restart_but_another_config_drops_old_ones(tmp_path):
    out = tmp_path / "run"
    _train(out, epochs=2, keep_checkpoints=[1])
    _, logs = _train(out, epochs=2, keep_checkpoints=[1, 2])  # which epochs are kept does not change training
    assert any("already ended" in line for line in logs) and not any("different config" in line for line in logs)
    _, logs = _train(out, epochs=2, keep_checkpoints=[2], optimizer={"name": "adam", "lr": 5e-3})
    assert any("different config" in line for line in logs)
    assert [p.name for p in out.glob("checkpoint_epoch*.pt")] == ["checkpoint_epoch2.pt"]  # epoch 1's was stale


def test_keep_checkpoints_must_be_increasing_epochs_from_1():
    for bad in ([3, 1], [0, 2], [2, 2]):
        with pytest.raises(ConfigError, match=r"runs.x.keep_checkpoints: expected increasing epochs >= 1"):
            TrainConfig.from_dict(tiny_config(keep_checkpoints=bad), where="runs.x")


def _study_copy(tmp_path: Path, edit) -> Path:
    return edited_study(tmp_path, edit, "srresnet_edsr")


def test_the_study_keeps_every_epoch_its_per_epoch_fid_needs(tmp_path):
    paper = load_study(ROOT / "studies" / "srresnet_edsr.yaml", "paper")
    assert paper.epoch_metrics == ("fid", "psnr_y_crop96", "ssim_y_crop96", "fid_crop96")
    assert set(paper.epoch_runs) == {"srresnet", "edsr_l1", "edsr_mse"}
    for run in paper.epoch_runs:  # report epochs 0, 10, ..., 49 = the states after 1, 11, ..., 50 epochs
        assert paper.runs[run]["keep_checkpoints"] == [e + 1 for e in paper.tables["table_epochs"]["epochs"]]
    ci = load_study(ROOT / "studies" / "srresnet_edsr.yaml", "ci")  # no Inception weights in CI: the crop PSNR only
    assert ci.epoch_metrics == ("psnr_y_crop96",) and ci.epoch_runs

    def drop_epoch_21(spec):
        spec["train"]["keep_checkpoints"] = [1, 11, 31, 41, 50]

    with pytest.raises(ConfigError, match=r"runs.srresnet.keep_checkpoints: tables.table_epochs measures .*\[21\]"):
        load_study(_study_copy(tmp_path, drop_epoch_21), "paper")
    load_study(_study_copy(tmp_path, drop_epoch_21), "quick")  # 10 epochs: epoch 21 is never reached

    def typo(spec):
        spec["tables"]["table_epochs"]["metrics"]["val_fidd"] = "FID"

    with pytest.raises(ConfigError, match=r"tables.table_epochs: unknown per-epoch column\(s\) \['val_fidd'\]"):
        load_study(_study_copy(tmp_path, typo), "paper")


def test_epoch_table_reads_fid_of_the_kept_checkpoints():
    from sisr.report.audit import claims_report
    from sisr.report.render import to_markdown
    from sisr.report.tables import build_epoch_table

    spec = {"title": "per epoch", "layout": "epoch_rows", "epochs": [0, 2], "runs": {"a": "A"},
            "metrics": {"val_psnr_y": "PSNR", "val_fid": "FID"}, "their_protocol": {"val_fid": "val_fid_crop96"},
            "claimed": {"a": {0: {"val_fid": 300.0}, 2: {"val_psnr_y": 30.0, "val_fid": 250.0}}},
            "claimed_on": {"data": "div2k/valid", "dataset": "DIV2K valid", "scale": 4, "protocol": "unstated",
                           "section": "Sec. 1"}}
    hist = pd.DataFrame({"epoch": [1, 2, 3], "val_psnr_y": [20.0, 25.0, 29.5]})
    # the kept checkpoints of epochs 1 and 3, two images each; FID is a set value, the same on every row
    evals = pd.DataFrame({"epoch": [1, 1, 3, 3], "image": ["x", "y", "x", "y"], "fid": [310.0, 310.0, 260.0, 260.0],
                          "fid_crop96": [305.0, 305.0, 251.0, 251.0]})
    long = build_epoch_table({"a": hist}, spec, table="t", dataset="div2k-valid", scale=4, epoch_evals={"a": evals})
    fid = long[long["metric"] == "val_fid"].set_index("epoch")
    assert fid.loc[0, "ours"] == 310.0 and fid.loc[2, "ours"] == 260.0
    assert fid.loc[2, "ours_their_protocol"] == 251.0 and fid.loc[2, "diff"] == 1.0  # compared on their protocol
    assert long[long["metric"] == "val_psnr_y"].set_index("epoch").loc[2, "ours"] == 29.5  # history as before
    assert "260.00 [251.00] vs 250.00 (+1.00)" in to_markdown(long, spec)
    report = claims_report({"t": long}, {"val_fid": 20, "val_psnr_y": 0.5}, study="s", tier="paper")
    assert "| t | A | FID, epoch 2 | 250.00 | 251.00 | 20 | indicative, +1.00: the document does not state how it " \
        "measured |" in report
    # without the kept checkpoints' evaluation the FID claims are not measured, as before
    bare = build_epoch_table({"a": hist}, spec, table="t", dataset="div2k-valid", scale=4)
    assert bare[bare["metric"] == "val_fid"]["ours"].isna().all()
    assert "FID, epoch 2 | 250.00 | - | 20 | not measured" in claims_report({"t": bare}, {"val_fid": 20}, study="s",
                                                                            tier="paper")


def _random_inception_cache(root: Path, monkeypatch) -> Path:
    torch.manual_seed(0)
    path = weights.checkpoint_path("fid_inception", cache=root)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(random_fid_inception().state_dict(), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setitem(weights.WEIGHTS, "fid_inception", replace(weights.WEIGHTS["fid_inception"],
                                                                  sha256_prefix=digest[:8], sha256=digest))
    monkeypatch.setenv("SISR_WEIGHTS", str(root))
    monkeypatch.setenv("TORCH_HOME", str(root))
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda url, *a, **k: pytest.fail(f"tried to download {url}"))
    return root


def test_evaluate_epochs_job_scores_each_kept_checkpoint_with_fid(tmp_path, monkeypatch):
    """PLUMBING, RANDOM-INIT INCEPTION: FID values mean nothing; the epochs, checkpoints and columns do."""
    from sisr.config.job_settings import EvalJob, EvalSet
    from sisr.workflow.jobs import evaluate_epochs_job

    cache = _random_inception_cache(tmp_path / "weights", monkeypatch)
    _train(tmp_path / "run", epochs=2, keep_checkpoints=[1, 2])
    rng = np.random.default_rng(0)
    for i in range(2):  # FID on the CPU costs ~0.7 s per image here: two images, two epochs, whole images only
        write_image(tmp_path / "hr" / f"img{i}.png", rng.integers(0, 256, (100, 104, 3), dtype=np.uint8))
    out = tmp_path / "run" / "eval_epochs" / "toy_x2.csv"
    with pytest.warns(UserWarning, match="biased"):
        job = EvalJob(study="s", run="run", scale=2, in_channels=3, metrics=("psnr_y_crop96", "fid"), tier="ci",
                      sets=(EvalSet(dataset="folder", split="valid", root=str(tmp_path / "hr"), label="toy"),),
                      device="cpu", weights_dir=str(cache))
        df = evaluate_epochs_job(job, done=str(tmp_path / "run" / "train_done.json"), out_csv=str(out))
    saved = pd.read_csv(out)
    assert list(saved["epoch"]) == [1, 1, 2, 2] and set(saved["image"]) == {"img0", "img1"}
    assert len(df) == 4 and saved["dataset"].eq("toy").all() and saved["run"].eq("run").all()
    assert (saved.groupby("epoch")["fid"].nunique() == 1).all()  # a set value per epoch
    assert saved[["fid", "psnr_y_crop96"]].notna().all().all()
    first, second = (saved[saved["epoch"] == e]["psnr_y_crop96"].to_numpy() for e in (1, 2))
    assert not np.array_equal(first, second)  # two different checkpoints were evaluated
    assert not list((tmp_path / "run" / "eval_epochs").glob(".tmp*"))  # SR images scored, then deleted

    (tmp_path / "run" / "checkpoint_epoch2.pt").unlink()
    with pytest.raises(Exception, match=r"checkpoint_epoch2.pt: missing, though .*train_done.json lists it"):
        evaluate_epochs_job(replace(job, metrics=("psnr_y_crop96",), weights_dir=None),
                            done=str(tmp_path / "run" / "train_done.json"), out_csv=str(out))
