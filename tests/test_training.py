"""The training engine on CPU with a tiny model and random in-memory data (seconds).

The tiny stand-ins (TinySR, TinyDisc, TinyTrainSource, tiny_valid, tiny_config) live in tests/helpers/training.py.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from helpers.training import TinyDisc, TinySR, TinyTrainSource, read_history, tiny_config, tiny_valid
from sisr import models
from sisr.base.errors import ConfigError, MissingWeightsError
from sisr.metrics import psnr
from sisr.training import TrainConfig, load_checkpoint, load_model, train
from sisr.training.config import GanConfig, SchedulerConfig
from sisr.training.engine import (discriminator_step, generator_step, make_optimizer, make_scheduler,
                                  optimizer_step, _Tracker)
from sisr.training.losses import build_loss

def quiet(_message: str) -> None:
    pass


@pytest.fixture(autouse=True)
def tiny_models(monkeypatch):
    for name, cls in (("tiny_sr", TinySR), ("tiny_disc", TinyDisc)):
        monkeypatch.setitem(models.MODELS, name, cls)
    TinySR.created.clear()
    TinyDisc.created.clear()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run(tmp_path: Path, name: str = "run", *, source: TinyTrainSource | None = None, log=quiet, **overrides):
    out = tmp_path / name
    result = train(tiny_config(**overrides), train_source=source or TinyTrainSource(), valid_source=tiny_valid(),
                   out_dir=out, device="cpu", log=log)
    return result, out


# ----------------------------------------------------------------------------------------------------


def test_config_errors_name_the_key_path():
    cases = [
        ({"optimizer": {"name": "adam", "lr": 1e-3, "momentum": 0.9}}, "runs.x.optimizer: unknown key(s) ['momentum']"),
        ({"optimizer": {"name": "sgd", "lr": 1e-3}}, "runs.x.optimizer.name"),
        ({"optimizer": {"name": "adam", "lr": "1e-4"}}, "runs.x.optimizer.lr: expected a number"),
        ({"epochs": 2.5}, "runs.x.epochs: expected int"),
        ({"scheduler": {"name": "step"}}, "runs.x.scheduler.step_size"),
        ({"scheduler": {"name": "cosine", "milestones": [3]}}, "runs.x.scheduler.milestones: not used"),
        ({"epoch_def": {"kind": "patches_per_image"}}, "runs.x.epoch_def.n"),
        ({"early_stopping": {"metric": "val_lpips", "patience": 3}}, "runs.x.early_stopping.metric"),
        ({"augment": ["hflip", "transpose"]}, "runs.x.augment[1]"),
        ({"loss": [{"name": "l1"}, {"name": "perceptual", "layer": "pool5"}]}, "runs.x.loss[1].layer"),
        ({"amp": "fp8"}, "runs.x.amp"),
        ({"gan": {"warmup_epochs": 1, "phase_epochs": 1, "rounds": 1}}, "'adversarial' loss term and a 'gan'"),
        ({"wd": 0}, "runs.x: unknown key(s) ['wd']"),
    ]
    for change, message in cases:
        with pytest.raises(ConfigError) as err:
            TrainConfig.from_dict(tiny_config(**change), where="runs.x")
        assert message in str(err.value), (change, str(err.value))
    missing = tiny_config()
    del missing["optimizer"]
    with pytest.raises(ConfigError, match="runs.x.optimizer: required key missing"):
        TrainConfig.from_dict(missing, where="runs.x")


def test_config_round_trip_and_gan_epochs():
    gan = {"discriminator": "tiny_disc", "warmup_epochs": 2, "phase_epochs": 3, "rounds": 2}
    loss = [{"name": "l1", "weight": 0.01}, {"name": "adversarial", "weight": 0.005}]
    cfg = TrainConfig.from_dict(tiny_config(loss=loss, gan=gan, epochs=None))
    assert cfg.epochs == 2 + 2 * 2 * 3
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert json.loads(json.dumps(cfg.to_dict())) == cfg.to_dict()
    with pytest.raises(ConfigError, match="runs.g.epochs: a GAN run trains"):
        TrainConfig.from_dict(tiny_config(loss=loss, gan=gan, epochs=10), where="runs.g")
    phases = [GanConfig(**{k: v for k, v in gan.items() if k != "discriminator"}).phase(e) for e in range(cfg.epochs)]
    assert phases == ["d_warmup"] * 2 + ["g"] * 3 + ["d"] * 3 + ["g"] * 3 + ["d"] * 3
    psnr_stop = TrainConfig.from_dict(tiny_config(early_stopping={"metric": "val_psnr_y", "patience": 2}))
    assert psnr_stop.early_stopping.mode == "max"


def test_scheduler_lr_traces_follow_their_formulas():
    lr0, epochs = 0.1, 12
    expected = {
        "step": (SchedulerConfig("step", step_size=4, gamma=0.5), lambda e: lr0 * 0.5 ** (e // 4)),
        "multistep": (SchedulerConfig("multistep", milestones=(3, 7), gamma=0.5),
                      lambda e: lr0 * 0.5 ** sum(e >= m for m in (3, 7))),
        "cosine": (SchedulerConfig("cosine", eta_min=1e-3),
                   lambda e: 1e-3 + (lr0 - 1e-3) * (1 + math.cos(math.pi * e / epochs)) / 2),
        "none": (SchedulerConfig("none"), lambda e: lr0),
    }
    for name, (cfg, formula) in expected.items():
        opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr0)
        sched = make_scheduler(cfg, opt, epochs)
        trace = []
        for _ in range(epochs):
            trace.append(opt.param_groups[0]["lr"])
            opt.step()
            if sched is not None:
                sched.step()
        assert trace == pytest.approx([formula(e) for e in range(epochs)], rel=1e-9), name


def test_training_writes_history_checkpoints_and_summary(tmp_path):
    result, out = run(tmp_path, epochs=4, scheduler={"name": "step", "step_size": 2, "gamma": 0.5})
    rows = read_history(out / "history.csv", drop_timing=False)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert [float(r["lr"]) for r in rows] == pytest.approx([1e-2 * 0.5 ** (e // 2) for e in range(4)])
    assert {"phase", "train_loss", "train_l1", "val_loss", "val_psnr_y", "seconds", "samples_per_s"} <= set(rows[0])
    assert all(float(r["train_loss"]) == float(r["train_l1"]) for r in rows)
    done = json.loads((out / "train_done.json").read_text())
    assert done["stop_reason"] == "completed" and done["epochs_run"] == 4 and done["device"] == "cpu"
    val_losses = [float(r["val_loss"]) for r in rows]
    assert done["best_epoch"] == 1 + int(np.argmin(val_losses)) == result.best_epoch
    assert done["provenance"]["version"] and "git_commit" in done["provenance"]
    best = load_checkpoint(out / "checkpoint_best.pt")
    assert best["epoch"] == result.best_epoch and best["config"] == TrainConfig.from_dict(tiny_config(
        epochs=4, scheduler={"name": "step", "step_size": 2, "gamma": 0.5})).to_dict()
    # validation PSNR in the history = PSNR recomputed from the last checkpoint's model
    model, cfg = load_model(out / "checkpoint_last.pt")
    values = []
    for _name, lr_u8, hr_u8 in tiny_valid():
        with torch.no_grad():
            sr = model(lr_u8.float() / 255).clamp(0, 1)
        sr_img = (sr[0] * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        values.append(psnr(sr_img, hr_u8[0].permute(1, 2, 0).numpy(), crop=2))
    assert float(rows[-1]["val_psnr_y"]) == pytest.approx(np.mean(values), rel=1e-12)
    assert cfg.model == "tiny_sr" and not model.training


def test_single_channel_and_val_every(tmp_path):
    source = TinyTrainSource(channels=1)
    out = tmp_path / "y"
    train(tiny_config(in_channels=1, epochs=3, val_every=2), train_source=source,
          valid_source=tiny_valid(channels=1), out_dir=out, device="cpu", log=quiet)
    rows = read_history(out / "history.csv")
    assert [r["val_psnr_y"] != "" for r in rows] == [False, True, True]  # epoch 2, and always the last


def test_early_stopping_stops_after_patience(tmp_path):
    """min_delta is huge, so no epoch after the first counts as an improvement: stop at 1 + patience."""
    result, out = run(tmp_path, epochs=10, early_stopping={"metric": "val_loss", "patience": 2, "min_delta": 1e6})
    assert result.stop_reason == "early_stopping" and result.epochs_run == 3
    assert len(read_history(out / "history.csv")) == 3
    tracker = _Tracker("val_loss", "min", min_delta=0.1)
    improved = [tracker.update(v, e) for e, v in enumerate([5.0, 4.0, 3.95, 3.5, 3.6, 3.41], start=1)]
    assert improved == [True, True, False, True, False, False] and tracker.bad == 2 and tracker.epoch == 4


def test_gradient_clipping_caps_the_norm():
    torch.manual_seed(0)
    model = nn.Linear(8, 8)
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=1.0)  # lr 1: the update equals the (clipped) gradient
    loss = (model(torch.randn(4, 8)) * 100).pow(2).mean()
    norm = optimizer_step(loss, opt, torch.amp.GradScaler("cpu", enabled=False), grad_clip=0.5)
    assert norm > 0.5
    step = torch.cat([(b - p.detach()).flatten() for b, p in zip(before, model.parameters())])
    assert step.norm().item() == pytest.approx(0.5, rel=1e-5)


def _flat(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone() for p in module.parameters()])


def test_gan_steps_move_only_the_active_network():
    torch.manual_seed(0)
    g, d = TinySR(scale=2), TinyDisc()
    g_opt = make_optimizer(TrainConfig.from_dict(tiny_config()).optimizer, g.parameters())
    d_opt = torch.optim.Adam(d.parameters(), lr=1e-2)
    loss = build_loss([{"name": "l1", "weight": 1.0}, {"name": "adversarial", "weight": 0.1}])
    lr, hr = torch.rand(2, 3, 6, 6), torch.rand(2, 3, 12, 12)
    g0, d0 = _flat(g), _flat(d)
    # D phase: generator forward only, discriminator update
    sr, values = generator_step(g, lr, hr, loss_fn=loss, optimizer=None, discriminator=d)
    d_loss = discriminator_step(d, sr, hr, optimizer=d_opt)
    assert torch.equal(_flat(g), g0) and not torch.equal(_flat(d), d0)
    assert set(values) == {"loss", "l1", "adversarial"} and d_loss.item() > 0
    # G phase: discriminator frozen (no gradients), generator update through the adversarial term
    d.requires_grad_(False)
    d_opt.zero_grad(set_to_none=True)
    d1 = _flat(d)
    generator_step(g, lr, hr, loss_fn=loss, optimizer=g_opt, discriminator=d)
    assert torch.equal(_flat(d), d1) and not torch.equal(_flat(g), g0)
    assert all(p.grad is None for p in d.parameters())


def test_gan_schedule_in_the_engine(tmp_path):
    """warm-up (D only), G phase, D phase: snapshots at each epoch start show who moved.

    The generator starts from a CNN run's checkpoint (init_checkpoint), as the rrdb_gan study's GAN does.
    """
    _, cnn_dir = run(tmp_path, "cnn", epochs=1)
    snapshots = []
    def snapshot(epoch: int) -> None:
        snapshots.append((_flat(TinySR.created[-1]), _flat(TinyDisc.created[-1])))

    source = TinyTrainSource(on_epoch=snapshot)
    gan = {"discriminator": "tiny_disc", "warmup_epochs": 1, "phase_epochs": 1, "rounds": 1}
    loss = [{"name": "l1", "weight": 1.0}, {"name": "adversarial", "weight": 0.1}]
    result, out = run(tmp_path, "gan", source=source, loss=loss, gan=gan, epochs=None,
                      init_checkpoint=str(cnn_dir / "checkpoint_best.pt"))
    snapshot(-1)  # after the last epoch
    init = torch.cat([v.flatten() for v in load_checkpoint(cnn_dir / "checkpoint_best.pt")["model"].values()])
    assert torch.equal(snapshots[0][0], init)
    moved = [(not torch.equal(a[0], b[0]), not torch.equal(a[1], b[1])) for a, b in zip(snapshots, snapshots[1:])]
    assert moved == [(False, True), (True, False), (False, True)]  # (G moved, D moved) per epoch
    rows = read_history(out / "history.csv")
    assert [r["phase"] for r in rows] == ["d_warmup", "g", "d"]
    assert all(float(r["d_loss"]) > 0 and float(r["train_adversarial"]) > 0 for r in rows)
    assert result.epochs_run == 3


def test_amp_bf16_on_cpu_falls_back_and_seeding_is_deterministic(tmp_path):
    messages = []
    run(tmp_path, "bf16", amp="bf16", log=messages.append)
    assert any("amp=bf16 ignored on cpu" in m for m in messages)
    run(tmp_path, "off", amp="off")
    run(tmp_path, "seed1", amp="off", seed=1)
    weights = {name: load_checkpoint(tmp_path / name / "checkpoint_last.pt")["model"]
               for name in ("bf16", "off", "seed1")}
    assert all(torch.equal(weights["bf16"][k], weights["off"][k]) for k in weights["off"])
    assert not all(torch.equal(weights["seed1"][k], weights["off"][k]) for k in weights["off"])
    assert read_history(tmp_path / "bf16" / "history.csv") == read_history(tmp_path / "off" / "history.csv")


def test_channels_last_matches_default_layout(tmp_path):
    run(tmp_path, "nchw", epochs=1)
    run(tmp_path, "nhwc", epochs=1, channels_last=True)
    a = load_checkpoint(tmp_path / "nchw" / "checkpoint_last.pt")["model"]
    b = load_checkpoint(tmp_path / "nhwc" / "checkpoint_last.pt")["model"]
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_missing_weights_fail_before_the_first_step(tmp_path, monkeypatch):
    monkeypatch.setenv("SISR_WEIGHTS", str(tmp_path / "empty_cache"))
    calls = []
    source = TinyTrainSource(on_epoch=calls.append)
    with pytest.raises(MissingWeightsError):
        run(tmp_path, source=source, loss=[{"name": "perceptual", "weight": 1.0}])
    assert calls == [] and not (tmp_path / "run" / "checkpoint_last.pt").exists()


def test_changed_config_starts_fresh(tmp_path):
    run(tmp_path, epochs=2)
    messages = []
    result, out = run(tmp_path, epochs=3, log=messages.append)
    assert any("different config (changed: epochs)" in m for m in messages)
    assert result.epochs_run == 3 and len(read_history(out / "history.csv")) == 3
    again = []
    result, _ = run(tmp_path, epochs=3, log=again.append)  # finished run: resumes at the end, trains nothing
    assert any("already ended after 3 of 3 epochs" in m for m in again) and result.epochs_run == 3


def test_max_seconds_stops_cleanly(tmp_path):
    source = TinyTrainSource(on_epoch=lambda e: time.sleep(0.05))
    result, out = run(tmp_path, source=source, epochs=50, max_seconds=0.01)
    assert result.stop_reason == "max_seconds" and result.epochs_run == 1
    assert (out / "checkpoint_best.pt").exists() and read_history(out / "history.csv")[0]["val_loss"] != ""


def test_resume_rewrites_outputs_a_workflow_manager_deleted(tmp_path):
    """Snakemake deletes a failed job's declared outputs (best, history, done); checkpoint_last.pt restores them."""
    _, out = run(tmp_path, epochs=2)
    best = load_checkpoint(out / "checkpoint_best.pt")
    history = read_history(out / "history.csv")
    for name in ("checkpoint_best.pt", "history.csv", "train_done.json"):
        (out / name).unlink()
    run(tmp_path, epochs=2)
    again = load_checkpoint(out / "checkpoint_best.pt")
    assert again["epoch"] == best["epoch"] and all(torch.equal(again["model"][k], best["model"][k]) for k in best["model"])
    assert read_history(out / "history.csv") == history and (out / "train_done.json").exists()


def test_best_metric_epoch_keeps_the_last_epoch():
    from sisr.training.engine import _Tracker

    tracker = _Tracker("epoch", "max")
    assert all(tracker.update(float(e), e) for e in (1, 2, 3))
    assert tracker.epoch == 3


def test_a_finished_run_drops_its_optimizer_state_without_keep_optimizer_state(tmp_path):
    """keep_optimizer_state: false: the last checkpoint of an ended run has the weights but no optimizer state
    (mid-run it has it); a rerun of the finished run rewrites its outputs; the bytes saved are what sisr plan says."""
    from sisr.config.plan import checkpoint_bytes

    mid = tmp_path / "mid.pt"

    def copy_first(history):
        if len(history) == 1:
            mid.write_bytes((tmp_path / "drop" / "checkpoint_last.pt").read_bytes())

    width = {"model_args": {"width": 96}}
    run(tmp_path, "keep", epochs=2, **width)
    train(tiny_config(epochs=2, keep_optimizer_state=False, **width), train_source=TinyTrainSource(),
          valid_source=tiny_valid(), out_dir=tmp_path / "drop", device="cpu", log=quiet, on_epoch=copy_first)
    keep, drop = (load_checkpoint(tmp_path / d / "checkpoint_last.pt") for d in ("keep", "drop"))
    assert keep["optimizer"] is not None and load_checkpoint(mid)["optimizer"] is not None  # resumable mid-run
    assert drop["optimizer"] is None and drop["scaler"] is None and drop["scheduler"] is None
    assert all(torch.equal(keep["model"][k], drop["model"][k]) for k in keep["model"])  # the same training

    cfg = TrainConfig.from_dict(tiny_config(epochs=2, **width))
    params = sum(p.numel() for p in TinySR(scale=2, width=96).parameters())
    _, optimizer_bytes = checkpoint_bytes(cfg, params)
    saved = (tmp_path / "keep" / "checkpoint_last.pt").stat().st_size - \
        (tmp_path / "drop" / "checkpoint_last.pt").stat().st_size
    assert optimizer_bytes == 8 * params and abs(saved - optimizer_bytes) < 0.1 * optimizer_bytes

    for name in ("checkpoint_best.pt", "history.csv", "train_done.json"):
        (tmp_path / "drop" / name).unlink()
    messages = []
    result = train(tiny_config(epochs=2, keep_optimizer_state=False, **width), train_source=TinyTrainSource(),
                   valid_source=tiny_valid(), out_dir=tmp_path / "drop", device="cpu", log=messages.append)
    assert result.epochs_run == 2 and (tmp_path / "drop" / "checkpoint_best.pt").exists()
    assert any("already ended" in m for m in messages)

    # an existing finished run made with the state kept drops it when rerun with keep_optimizer_state: false
    run(tmp_path, "keep", epochs=2, keep_optimizer_state=False, **width)
    assert load_checkpoint(tmp_path / "keep" / "checkpoint_last.pt")["optimizer"] is None
    # extending a weights-only run (more epochs: another config) starts again instead of failing
    result, _ = run(tmp_path, "drop", epochs=3, **width)
    assert result.epochs_run == 3
