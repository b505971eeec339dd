"""What a person watching a run sees: study/run on every line, ETAs, progress within long epochs, evaluation
lines, TensorBoard scalars from the history."""

from __future__ import annotations

import logging
import re
import sys

import pytest

from helpers.training import TinySR, TinyTrainSource, tiny_config, tiny_valid
from sisr import models
from sisr.evaluation import image_line
from sisr.workflow.jobs import job_log
from sisr.training import train
from sisr.training.engine import format_duration


@pytest.fixture(autouse=True)
def tiny_model(monkeypatch):
    monkeypatch.setitem(models.MODELS, "tiny_sr", TinySR)


def test_epoch_lines_carry_an_eta_and_long_epochs_log_progress(tmp_path):
    lines = []
    train(tiny_config(epochs=3), train_source=TinyTrainSource(), valid_source=tiny_valid(), out_dir=tmp_path / "r",
          device="cpu", log=lines.append, progress_every_s=1e-9)  # "long": a progress line after every batch
    epochs = [ln for ln in lines if ln.startswith("epoch ") and "[train]" in ln]
    assert len(epochs) == 3
    assert all(re.search(r" ETA (\d+s|\d+m\d\ds|\d+h\d\dm)$", ln) for ln in epochs[:2]), epochs
    assert "ETA" not in epochs[2]  # the last epoch: nothing left
    progress = [ln for ln in lines if " batch " in ln]
    # 4 batches per epoch: progress after batches 1-3 (the 4th ends the epoch, whose line follows)
    assert [re.match(r"epoch (\d)/3 batch (\d)/4", ln).groups() for ln in progress] == \
        [(str(e), str(b)) for e in (1, 2, 3) for b in (1, 2, 3)]
    assert all(re.search(r"loss [\d.e-]+, [\d.]+ samples/s, epoch ETA \S+, run ETA \S+$", ln) for ln in progress)


def test_format_duration():
    assert [format_duration(s) for s in (0, 12.4, 65, 3600 + 125, float("nan"))] == ["0s", "12s", "1m05s", "1h02m", "?"]


def test_job_log_starts_every_line_with_the_job_name(tmp_path, capsys):
    log_file = tmp_path / "job.log"
    with job_log(log_file, prefix="espcn/srcnn"):
        print("one\ntwo")
        sys.stdout.write("par")
        sys.stdout.write("tial\n")
        logging.getLogger("sisr.test").info("three")
        print("to stderr", file=sys.stderr)
    lines = log_file.read_text().splitlines()
    assert len(lines) == 5 and all(ln.startswith("espcn/srcnn ") for ln in lines), lines
    assert "espcn/srcnn partial" in lines and lines[3].endswith("INFO three")
    assert "espcn/srcnn one\nespcn/srcnn two\n" in capsys.readouterr().out  # the console sees the same


def test_evaluation_logs_one_formatted_line_per_image():
    row = {"image": "baby", "seconds": 0.1234, "psnr_y": 33.91234, "ssim_y": 0.904012, "fid": 12.3456, "hr_path": "x"}
    assert image_line("Set5 x4 baby", row, ["psnr_y", "ssim_y", "fid"]) == \
        "Set5 x4 baby: psnr_y 33.91 dB, ssim_y 0.9040, fid 12.3456, 0.12 s"


def test_tensorboard_scalars_from_the_history(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from sisr.workflow.tensorboard import TensorBoardHistory

    board = TensorBoardHistory(tmp_path / "tb")
    train(tiny_config(epochs=2), train_source=TinyTrainSource(), valid_source=tiny_valid(), out_dir=tmp_path / "r",
          device="cpu", log=lambda _: None, on_epoch=board)
    board.close()
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train_loss", "val_loss", "val_psnr_y", "lr"} <= tags
    history = (tmp_path / "r" / "history.csv").read_text().splitlines()
    val = [e.value for e in events.Scalars("val_psnr_y")]
    assert [e.step for e in events.Scalars("val_psnr_y")] == [1, 2]
    column = history[0].split(",").index("val_psnr_y")
    assert val == pytest.approx([float(r.split(",")[column]) for r in history[1:]], rel=1e-6)
