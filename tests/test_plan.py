"""`sisr plan`: GPU-hour estimates from the measured step times (sisr.plan, sisr.training.modes.FASTEST)."""

from __future__ import annotations

import pytest

from sisr.cli import main
from sisr.errors import ConfigError
from sisr.plan import batches_per_epoch, plan
from sisr.training import TrainConfig
from sisr.training.modes import FASTEST


def _cfg(**kw):
    d = {"model": "espcn", "scale": 2, "loss": [{"name": "l1", "weight": 1.0}], "optimizer": {"name": "adam", "lr": 1e-3},
         "epochs": 3, "batch_size": 16, "patch_size": 8}
    d.update(kw)
    return TrainConfig.from_dict(d)


def test_batches_per_epoch_follow_the_epoch_definition():
    assert batches_per_epoch(_cfg(epoch_def={"kind": "patches_per_image", "n": 20}), 800) == 1000
    assert batches_per_epoch(_cfg(epoch_def={"kind": "random_crop"}), 800) == 50
    assert batches_per_epoch(_cfg(epoch_def={"kind": "fixed_pairs"}, batch_size=32), 7000) == 218  # drop_last
    assert batches_per_epoch(_cfg(epoch_def={"kind": "iterations", "n": 7}), 800) == 7


def test_a_run_at_a_measured_shape_gets_the_measured_step_time():
    jobs = {j.run: j for j in plan(["studies/srresnet_edsr.yaml"], "paper")}
    srresnet = jobs["srresnet"]  # b32, LR 24x24, x4: exactly the measured shape; 50 epochs x 800 crops / 32
    (row,) = FASTEST["srresnet"]
    mode, speed = row.modes[0]
    assert srresnet.mode == "bf16+channels_last+cuda_graph" and mode.cuda_graph and mode.amp == "bf16"
    assert srresnet.steps == 50 * 800 // 32
    assert srresnet.step_ms == pytest.approx(1000 * 32 / speed)
    assert srresnet.gpu_hours == pytest.approx(srresnet.steps * 32 / speed / 3600)
    assert jobs["edsr_l1"].mode == "bf16+channels_last+compile"


def test_larger_models_of_a_sweep_get_longer_steps():
    jobs = {j.run: j for j in plan(["studies/residual_sweep.yaml"], "paper")}
    assert jobs["plain_b24_c612"].step_ms > jobs["plain_b16_c256"].step_ms > jobs["plain_b16_c64"].step_ms > 0


def test_cli_prints_jobs_and_totals_and_rejects_bad_input(capsys, tmp_path):
    assert main(["plan", "--tier", "paper", "--studies", "srresnet_edsr"]) == 0
    out = capsys.readouterr().out
    assert "NVIDIA H200" in out and "total srresnet_edsr (paper):" in out and "edsr_mse" in out
    assert main(["plan", "--studies", "nope"]) == 2
    assert "no study file" in capsys.readouterr().err
    bad = tmp_path / "studies"
    bad.mkdir()
    (bad / "x.yaml").write_text((open("studies/srresnet_edsr.yaml").read()
                                 .replace("name: srresnet_edsr", "name: x").replace("div2k/train", "t91/train")))
    assert main(["plan", "--tier", "paper", "--studies-dir", str(bad)]) == 0  # a known training set
    with pytest.raises(ConfigError, match="has no known size"):
        (bad / "x.yaml").write_text((bad / "x.yaml").read_text().replace("t91/train", "flickr2k/train"))
        plan([bad / "x.yaml"], "paper")
