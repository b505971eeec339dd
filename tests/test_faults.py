"""Fault injection: every bad input or fault ends in success or a one-line error naming the file, key or run.

Each case is marked ``fault`` (``pytest -m fault --collect-only -q`` counts them, README "Reliability"). Cases
run in-process where that shows the same thing (the CLI's ``main()`` returns its exit status and prints its
error line; an uncaught exception would fail the test with its traceback), in subprocesses where a kill or a
signal is the fault. After each case: nothing corrupt (files load, or are absent) and nothing orphaned (no
temp files, no process left).
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from test_training import TinySR, TinyTrainSource, read_history, register_tiny_models, tiny_config, tiny_valid  # noqa: E402
from sisr import models  # noqa: E402
from sisr.errors import ConfigError, DivergenceError  # noqa: E402
from sisr.training import load_checkpoint, train  # noqa: E402
from sisr.training.engine import divergence_reason  # noqa: E402

pytestmark = pytest.mark.fault


def quiet(_message: str) -> None:
    pass


class NanInEval(TinySR):
    """TinySR whose output is NaN in eval mode: validation is NaN from the first epoch, training is fine."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        return out if self.training else out * math.nan


class BlowUpSR(TinySR):
    """TinySR whose output is multiplied by 1e4 from its 9th training step on (epoch 3 of 4-batch epochs)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.steps = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        if self.training:
            self.steps += 1
        return out * 1e4 if self.steps > 8 else out


@pytest.fixture(autouse=True)
def tiny_models(monkeypatch):
    register_tiny_models(models.MODELS)
    monkeypatch.setitem(models.MODELS, "nan_eval_sr", NanInEval)
    monkeypatch.setitem(models.MODELS, "blow_up_sr", BlowUpSR)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def _train(out: Path, **overrides):
    return train(tiny_config(**overrides), train_source=TinyTrainSource(), valid_source=tiny_valid(), out_dir=out,
                 device="cpu", log=quiet, name="study.runs.tiny")


# ---------------------------------------------------------------------------------------------- divergence

EXPLODE = {"optimizer": {"name": "adam", "lr": 100.0}}  # the tiny net's loss reaches ~1e5 in epoch 1


@pytest.mark.parametrize("case", ["lr_explodes", "nan_validation"])
def test_divergence_default_policy_fails_with_one_line_and_a_rerun_repeats_it(tmp_path, case):
    overrides = EXPLODE if case == "lr_explodes" else {"model": "nan_eval_sr"}
    with pytest.raises(DivergenceError) as err:
        _train(tmp_path / "run", **overrides)
    message = str(err.value)
    assert "\n" not in message and message.startswith("study.runs.tiny: diverged in epoch 1 of 3: ")
    assert ("training loss" if case == "lr_explodes" else "validation loss nan is not finite") in message
    marker = json.loads((tmp_path / "run" / "diverged.json").read_text())
    assert marker["epoch"] == 1 and marker["message"] == message
    assert not (tmp_path / "run" / "checkpoint_last.pt").exists()  # never saved a diverged state
    assert not (tmp_path / "run" / "train_done.json").exists()
    # a rerun with the same config stops at once with the same line (no silent loop, no training)
    with pytest.raises(DivergenceError, match="from a previous attempt") as again:
        train(tiny_config(**overrides), train_source=_NoBatches(), valid_source=tiny_valid(),
              out_dir=tmp_path / "run", device="cpu", log=quiet, name="study.runs.tiny")
    assert message in str(again.value)
    # a changed config trains again
    result = _train(tmp_path / "run")
    assert result.stop_reason == "completed" and not (tmp_path / "run" / "diverged.json").exists()
    assert no_temp_files(tmp_path)


class _NoBatches(TinyTrainSource):
    def batches(self, epoch, start_batch=0):
        raise AssertionError("the rerun trained instead of reporting the recorded divergence")


@pytest.mark.parametrize("case", ["lr_explodes", "nan_validation", "after_two_good_epochs"])
def test_divergence_record_policy_ends_the_run_marked_diverged_with_a_finite_best(tmp_path, case):
    record = {"divergence": {"policy": "record"}}
    out = tmp_path / "run"
    if case == "after_two_good_epochs":  # epochs 1-2 train, then the output blows up: diverges in epoch 3
        result = _train(out, **record, model="blow_up_sr")
        diverged_at = 3
    else:
        result = _train(out, **record, **(EXPLODE if case == "lr_explodes" else {"model": "nan_eval_sr"}))
        diverged_at = 1
    assert result.stop_reason == "diverged"
    done = json.loads((out / "train_done.json").read_text())
    assert done["stop_reason"] == "diverged" and done["diverged"]["epoch"] == diverged_at
    best = load_checkpoint(out / "checkpoint_best.pt")
    assert all(torch.isfinite(v).all() for v in best["model"].values())
    if case == "after_two_good_epochs":
        assert best["epoch"] in (1, 2) and load_checkpoint(out / "checkpoint_last.pt")["epoch"] == 2
    else:
        assert best["epoch"] == 0  # the initial weights: no epoch ended finite
    assert len(read_history(out / "history.csv")) == diverged_at
    assert not (out / "diverged.json").exists() and no_temp_files(tmp_path)


@pytest.mark.parametrize("loss,first,expect", [(math.nan, 0.2, "not finite"), (math.inf, 0.2, "not finite"),
                                               (25.0, 0.2, "> 100 x"), (19.0, 0.2, None), (5.0, None, None)])
def test_divergence_rule(loss, first, expect):
    reason = divergence_reason(loss, first, 100.0)
    assert (reason is None) if expect is None else (expect in reason)


@pytest.mark.parametrize("value,expect", [({"policy": "ignore"}, "divergence.policy"),
                                          ({"factor": 0.5}, "divergence.factor"),
                                          ({"bound": 3}, "divergence: unknown key(s) ['bound']")])
def test_divergence_config_errors_name_the_key(value, expect):
    from sisr.training import TrainConfig

    with pytest.raises(ConfigError, match=re.escape(expect)):
        TrainConfig.from_dict(tiny_config(divergence=value), where="runs.x")


def test_rerun_of_a_finished_run_says_so_instead_of_resuming_past_its_last_epoch(tmp_path):
    _train(tmp_path / "run")
    (tmp_path / "run" / "train_done.json").unlink()  # as a workflow manager does before a forced rerun
    lines: list[str] = []
    result = train(tiny_config(), train_source=TinyTrainSource(), valid_source=tiny_valid(), out_dir=tmp_path / "run",
                   device="cpu", log=lines.append)
    assert result.epochs_run == 3 and (tmp_path / "run" / "train_done.json").is_file()
    assert any("already ended after 3 of 3 epochs (completed)" in line for line in lines)
    assert not any("resuming from epoch 4" in line for line in lines)
